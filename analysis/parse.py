"""A run directory's stored samples parsed into one row per (instance, JVM epoch, minute).

Each row holds that minute's counter deltas (`requests`, `success`, `failures`, `sent`,
`status:<code>`, `failure:<exception>`), its latency count and sum, the quantiles Ostrich
reported (`analysis.quantiles.QUANTILE_COLUMNS`) and the send queue's depth. A minute missing
from the polls is rebuilt from /graph_data where iago still held it (`source` "graph": counters
exact, p25..p99.99 only, no min/max, no sum). Kubernetes pod listings and API probes are kept
apart, unparsed, for `analysis.api_restarts` and `analysis.prober`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import samples, shapes, storage
from analysis.api_restarts import ENDPOINT as API_PODS
from analysis.quantiles import QUANTILE_COLUMNS
from analysis.samples import graph_minute, minute_key, stats_body

LATENCY = "client/request_latency_ms"
GRAPH_COLUMNS = ("p25", "p50", "p75", "p90", "p95", "p99", "p999", "p9999")
STATS_FIELDS = {"minimum": "min", "p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99",
                "p999": "p999", "p9999": "p9999", "maximum": "max"}
COUNTERS = {"client/requests": "requests", "client/success": "success",
            "client/failures": "failures", "requests_sent": "sent"}


@dataclass
class Run:
    """A run directory parsed: one row per (instance, epoch, minute), and the live snapshots."""

    entries: pd.DataFrame
    snapshots: pd.DataFrame
    meta: dict
    failed_attempts: int
    attempts: int
    notes: list = field(default_factory=list)
    api_pods: list = field(default_factory=list)  # seldon-server pod listings (analysis.api_restarts)
    probes: list = field(default_factory=list)  # API probe answers (analysis.prober)

    @property
    def instances(self) -> list[str]:
        return sorted(self.entries["instance"].unique())


def load(run_dir) -> Run:
    """Parse samples.jsonl; RunDataError if nothing in it is iago/Ostrich stats."""
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = storage.read_samples(run_dir)
    for w in caught:
        notes.append(str(w.message))
        warnings.warn(w.message, stacklevel=2)
    meta = storage.read_run(run_dir)
    period, snaps, graph, api_pods, probes = [], [], [], [], []
    failed = 0
    for rec in records:
        _check(run_dir, rec)
        endpoint = rec.get("endpoint")
        if endpoint == API_PODS:  # Kubernetes, not iago: counted in neither samples nor failed polls
            api_pods.append(rec)
            continue
        if endpoint == "probe":  # seldon-server itself, not iago: kept apart like the pod listings
            probes.append(rec)
            continue
        if endpoint == "graph":
            if rec.get("status") == 200:
                graph.append(rec)
            continue
        body = stats_body(rec)
        if body is None:
            failed += endpoint in ("minute", "cumulative")
            continue
        if endpoint == "minute":
            period.append(_period_row(rec, body))
        elif endpoint == "cumulative":
            gauges = body.get("gauges") or {}
            snaps.append({"instance": rec.get("instance"), "t": float(rec.get("t", 0.0)),
                          "epoch": gauges.get("jvm_start_time"),
                          "queue_depth": gauges.get("queue_depth"),
                          "requests": (body.get("counters") or {}).get("client/requests")})
    period = [r for r in period if r is not None]
    attempts = len(records) - len(api_pods) - len(probes)
    if not period and not snaps:
        raise storage.RunDataError(f"{run_dir}: no iago stats in {attempts} samples (not from an iago "
                                   "admin server, or every poll failed)")
    entries = pd.DataFrame(period)
    filled = _graph_rows(graph, entries)
    if filled:
        entries = pd.concat([entries, pd.DataFrame(filled)], ignore_index=True)
        notes.append(f"{len(filled)} minute(s) were missing from the polls and came from /graph_data "
                     "(counters exact; percentiles p25..p99.99 of that minute; no min/max)")
    if entries.empty:
        raise storage.RunDataError(f"{run_dir}: iago answered but no latched minute was pulled yet")
    entries = _finish(entries)
    return Run(entries, pd.DataFrame(snaps, columns=["instance", "t", "epoch", "queue_depth", "requests"]),
               meta, failed, attempts, notes, api_pods, probes)


def _check(run_dir, rec: dict) -> None:
    """One stored record of the wrong shape stops the report with a line naming it."""
    try:
        shapes.record(rec)
        endpoint = rec.get("endpoint")
        if endpoint in ("minute", "cumulative"):
            stats_body(rec, strict=True)
        elif endpoint == "graph" and rec.get("status") == 200 and isinstance(rec.get("body"), str):
            try:
                parsed = json.loads(rec["body"])
            except ValueError:
                return  # an unreadable /graph_data answer is a failed backfill, like a 500
            shapes.graph(parsed)
        elif endpoint == "probe":
            from analysis.prober import OUTCOMES

            if rec.get("outcome") not in OUTCOMES or not isinstance(rec.get("t"), (int, float)):
                raise shapes.ShapeError(f"a probe record needs a time `t` and an outcome of {', '.join(OUTCOMES)}, "
                                        f"got t={rec.get('t')!r}, outcome={rec.get('outcome')!r}")
    except shapes.ShapeError as exc:
        where = f"line {rec[storage.LINE]}" if storage.LINE in rec else "a record"
        raise storage.RunDataError(f"{Path(run_dir) / storage.SAMPLES}: {where}: {exc}") from None


def _period_row(rec: dict, body: dict) -> dict | None:
    counters = body.get("counters") or {}
    epoch, minute = ((rec.get("epoch"), rec["minute"]) if rec.get("minute") is not None
                     else minute_key(body, rec.get("t", 0.0)))
    # Before its first hh:mm:01 Ostrich answers the latch taken when the admin service was built
    # (LatchedStatsListener's constructor, startClean=false): totals since JVM start, JVM GC
    # counters included, so never empty. It is recognised by its instant (not at hh:mm:01), or,
    # when that cannot be read, by its key: the minute before it, which ended before the JVM started.
    if not counters or samples.is_startup_latch(body) or (epoch is not None and minute + 60 <= epoch / 1000.0):
        return None
    row = {"instance": rec.get("instance"), "epoch": epoch, "minute": int(minute), "source": "poll"}
    row.update(_counter_columns(counters))
    lat = (body.get("metrics") or {}).get(LATENCY) or {}
    row["lat_count"] = lat.get("count", 0)
    row["lat_sum"] = lat.get("sum", 0)
    for src, dst in STATS_FIELDS.items():
        row[dst] = lat.get(src, np.nan)
    gauges = body.get("gauges") or {}
    row["queue_depth"] = gauges.get("queue_depth", np.nan)
    return row


def _counter_columns(counters: dict) -> dict:
    row = {dst: int(counters.get(src, 0)) for src, dst in COUNTERS.items()}
    for k, v in counters.items():
        if k.isdigit():
            row[f"status:{k}"] = int(v)
        elif k.startswith("client/failures/") and "/" not in k[len("client/failures/"):]:
            row[f"failure:{k[len('client/failures/'):]}"] = int(v)
    return row


def _graph_rows(graph: list[dict], entries: pd.DataFrame) -> list[dict]:
    """Minutes missing from the polls, rebuilt from /graph_data rings (last answer per key wins)."""
    have = set()
    if not entries.empty:
        have = set(zip(entries["instance"], entries["epoch"], entries["minute"]))
    series: dict[tuple, dict] = {}
    for rec in graph:
        epoch, key = rec.get("epoch"), rec.get("key")
        try:
            rows = next(iter(json.loads(rec["body"]).values()))
        except (ValueError, StopIteration, AttributeError, TypeError):
            continue
        first = (int(epoch) // 60000) * 60 if epoch is not None else None
        for row in rows:
            m = graph_minute(row[0])
            k = (rec.get("instance"), epoch, m)
            if first is None or m < first or k in have:
                continue
            series.setdefault(k, {})[key] = row[1:]
    out = []
    for (instance, epoch, m), values in sorted(series.items(), key=lambda kv: kv[0][2]):
        counters = {name[len("counter:"):]: v[0] for name, v in values.items() if name.startswith("counter:")}
        if "counter:client/requests" not in values:
            continue
        row = {"instance": instance, "epoch": epoch, "minute": m, "source": "graph"}
        row.update(_counter_columns(counters))
        row["lat_count"] = row["requests"]
        row["lat_sum"] = np.nan
        pcts = values.get(f"metric:{LATENCY}")
        for i, col in enumerate(GRAPH_COLUMNS):
            row[col] = pcts[i] if pcts and row["lat_count"] else np.nan
        row["queue_depth"] = values.get("gauge:queue_depth", [np.nan])[0]
        out.append(row)
    return out


def _finish(entries: pd.DataFrame) -> pd.DataFrame:
    for col, _ in QUANTILE_COLUMNS:
        if col not in entries:
            entries[col] = np.nan
    count_cols = [c for c in entries.columns if c in COUNTERS.values() or c.startswith(("status:", "failure:"))]
    entries[count_cols] = entries[count_cols].fillna(0).astype("int64")
    entries["lat_count"] = entries["lat_count"].fillna(0).astype("int64")
    # Several pullers into one directory: keep one answer per minute (identical by construction).
    entries = entries.drop_duplicates(subset=["instance", "epoch", "minute"], keep="first")
    return entries.sort_values(["minute", "instance"], kind="stable").reset_index(drop=True)


# --- the columns of counts -----------------------------------------------------------------------

def status_columns(df: pd.DataFrame) -> list[str]:
    return sorted(c for c in df.columns if c.startswith("status:"))


def failure_columns(df: pd.DataFrame) -> list[str]:
    return sorted(c for c in df.columns if c.startswith("failure:"))


def non_2xx(df: pd.DataFrame) -> pd.Series:
    cols = [c for c in status_columns(df) if not c.split(":", 1)[1].startswith("2")]
    return df[cols].sum(axis=1) if cols else pd.Series(0, index=df.index)
