"""From raw samples to tables and window figures (pure functions over records and DataFrames).

Exactness, stated once here and in every report:

* Counts, rates and error rates are exact: they are sums of Ostrich's per-minute counter deltas
  (`/stats.json?period=60`), which add up across minutes and across iago instances. A minute
  iago latched but nobody pulled (a gap inside one JVM epoch that /graph_data could not fill) is
  unknown, not idle: rates leave it out and `missing_minutes` counts it.
* The mean latency is exact: sum/count of the same minutes.
* Percentiles are not additive. Ostrich reports each minute's p50..p99.99, min and max as the
  midpoint of one of 202 fixed histogram buckets, so each reported value pins down its bucket:
  for a minute with n requests whose p95 is in bucket j, at least ceil(0.95 n) requests are in
  buckets <= j and fewer than 0.95 n in buckets < j. Summing these per-minute constraints bounds
  the window's cumulative histogram from below and above, which brackets the bucket Ostrich would
  have reported had it kept one histogram for the whole window (`*_bounds`). The point figure is
  the count-weighted mixture of per-minute CDFs, each interpolated between its known quantiles
  (probit against bucket index, exact for log-normal latencies) and clipped to those bounds; it
  always lies inside the bracket. When every
  minute agrees (steady state) the bracket is a single bucket and the figure is exact to Ostrich's
  +-5% bucket precision. The mean of per-minute percentiles is never used.
* max is exact (the largest per-minute max, to bucket precision), except that a minute backfilled
  from /graph_data has no max, only p99.99: the window max is then a lower bound (`max_is_lower_bound`).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from analysis import ostrich, samples, shapes, storage
from analysis.api_restarts import ENDPOINT as API_PODS
from analysis.samples import graph_minute, minute_key, stats_body

LATENCY = "client/request_latency_ms"
QUANTILE_COLUMNS = (("min", 0.0), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p90", 0.9),
                    ("p95", 0.95), ("p99", 0.99), ("p999", 0.999), ("p9999", 0.9999), ("max", 1.0))
GRAPH_COLUMNS = ("p25", "p50", "p75", "p90", "p95", "p99", "p999", "p9999")
STATS_FIELDS = {"minimum": "min", "p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99",
                "p999": "p999", "p9999": "p9999", "maximum": "max"}
COUNTERS = {"client/requests": "requests", "client/success": "success",
            "client/failures": "failures", "requests_sent": "sent"}
RAMP_S = 240
SEED = {"p95_ms": 100.0, "throughput_rps": 100.0,
        "text": "p95 ~100 ms at 100 req/s on 4x m3.large (Seldon benchmark, June 2016); p99 with spikes"}
METHOD = ("Counts, throughput and error rate are exact sums of iago's per-minute counter deltas; the mean "
          "is exact (sum/count). Percentiles over the window are not averaged: each minute's reported "
          "percentiles identify Ostrich histogram buckets, which bound the window's histogram; the figure "
          "shown is the count-weighted mixture of the per-minute distributions (interpolated between their "
          "known quantiles as log-normal), always inside the bracket "
          "[low, high] of what one Ostrich histogram over the window would report (+-5% bucket precision).")


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


# --- counts --------------------------------------------------------------------------------------

def status_columns(df: pd.DataFrame) -> list[str]:
    return sorted(c for c in df.columns if c.startswith("status:"))


def failure_columns(df: pd.DataFrame) -> list[str]:
    return sorted(c for c in df.columns if c.startswith("failure:"))


def non_2xx(df: pd.DataFrame) -> pd.Series:
    cols = [c for c in status_columns(df) if not c.split(":", 1)[1].startswith("2")]
    return df[cols].sum(axis=1) if cols else pd.Series(0, index=df.index)


# --- percentiles over several minutes ------------------------------------------------------------

def merge_quantiles(entries: pd.DataFrame, qs=(0.5, 0.95, 0.99)) -> dict[float, tuple[int, int, int]]:
    """{q: (figure, low, high)} over all entries' latencies, as explained in the module docstring."""
    rows = entries[entries["lat_count"] > 0]
    if rows.empty:
        return {q: (np.nan, np.nan, np.nan) for q in qs}
    n, lower, upper, estimate = _cdf_matrices(rows)
    return _quantiles(n.sum(), upper.sum(0), lower.sum(0), estimate.sum(0), qs)


def _cdf_matrices(rows: pd.DataFrame):
    """Per entry and bucket j: hard lower/upper bounds and the estimate of the count in buckets <= j."""
    n = rows["lat_count"].to_numpy(dtype=float)
    m, nb = len(n), ostrich.NUM_BUCKETS
    grid = np.arange(nb)[None, :]
    lower = np.zeros((m, nb))
    upper = np.repeat(n[:, None], nb, axis=1)
    knots = []
    for col, q in QUANTILE_COLUMNS:
        j = ostrich.buckets_of_reported(rows[col].to_numpy(dtype=float))
        known = (j >= 0)[:, None]
        at_or_above = known & (grid >= j[:, None])
        below = known & (grid < j[:, None])
        if q == 0.0:
            upper = np.where(below, 0.0, upper)
        elif q == 1.0:
            lower = np.where(at_or_above, n[:, None], lower)
        else:
            need = np.ceil(q * n)[:, None]
            lower = np.where(at_or_above, np.maximum(lower, need), lower)
            upper = np.where(below, np.minimum(upper, need - 1), upper)
        knots.append((j, q))
    estimate = _interpolated_cdf(knots, n, nb)
    estimate = np.minimum(np.maximum(estimate, lower), upper)
    return n, lower, upper, estimate


def _quantiles(total: float, lo_cdf, hi_cdf, est_cdf, qs) -> dict:
    """The first bucket each summed CDF reaches q*total: optimistic, pessimistic, estimated."""
    out = {}
    for q in qs:
        target = q * total
        lo = _first_reaching(lo_cdf, target)
        hi = _first_reaching(hi_cdf, target)
        est = min(max(_first_reaching(est_cdf, target - 1e-9), lo), hi)
        out[q] = (ostrich.midpoint(est), ostrich.midpoint(lo), ostrich.midpoint(hi))
    return out


def _first_reaching(cdf: np.ndarray, target: float) -> int:
    idx = int(np.searchsorted(cdf, target, side="left"))
    return min(idx, len(cdf) - 1)


def _interpolated_cdf(knots, n: np.ndarray, nb: int) -> np.ndarray:
    """Per entry, an estimated count of requests in buckets <= j, for every bucket j.

    Between its known quantiles each entry's CDF is interpolated linearly in probit space against
    the bucket index (bucket j = [j, j+1) on a log-like scale): exact for log-normal latencies,
    a smooth guess otherwise; the caller clips it to the hard bounds.
    """
    js = np.stack([j for j, _ in knots], axis=1).astype(float)   # (m, k), -1 unknown
    qs = np.array([q for _, q in knots])
    ends = np.arange(nb) + 1.0
    out = np.empty((len(n), nb))
    for i in range(len(n)):
        known = js[i] >= 0
        x = js[i][known] + 0.5
        # min and max are single requests: the 0.5/n-th and (1 - 0.5/n)-th quantiles
        y = np.clip(qs[known], 0.5 / n[i], 1.0 - 0.5 / n[i])
        z = np.array([_PROBIT.inv_cdf(v) for v in y])
        if qs[known][0] > 0.0:
            x, z = np.r_[x[0] - 2.0, x], np.r_[_PROBIT.inv_cdf(0.5 / n[i]), z]
        if qs[known][-1] < 1.0:
            x, z = np.r_[x, x[-1] + 2.0], np.r_[z, _PROBIT.inv_cdf(1.0 - 0.5 / n[i])]
        x = np.maximum.accumulate(x)
        z = np.maximum.accumulate(z)
        cdf = _normal_cdf(np.interp(ends, x, z))
        cdf[ends > x[-1]] = 1.0
        cdf[ends < x[0]] = 0.0
        out[i] = cdf * n[i]
    return out


_PROBIT = NormalDist()


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Phi(z) via Abramowitz-Stegun 7.1.26 erf (abs error < 1.5e-7), vectorised without scipy."""
    x = np.abs(z) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-x * x)
    return 0.5 * (1.0 + np.sign(z) * erf)


# --- tables --------------------------------------------------------------------------------------

def per_minute(entries: pd.DataFrame) -> pd.DataFrame:
    """One row per minute, all instances and epochs added; percentiles exact for a single entry."""
    count_cols = (list(COUNTERS.values()) + status_columns(entries) + failure_columns(entries)
                  + ["lat_count", "lat_sum"])
    grouped = entries.groupby("minute", sort=True)
    table = grouped[count_cols].sum(min_count=1)
    table["lat_sum"] = grouped["lat_sum"].sum(min_count=1)
    table["entries"] = grouped.size()
    table["queue_depth"] = grouped["queue_depth"].min()
    table["source"] = grouped["source"].agg(lambda s: "graph" if (s == "graph").all() else "poll")
    single = table["entries"] == 1
    first = grouped[[c for c, _ in QUANTILE_COLUMNS]].first()
    for col in ("p50", "p95", "p99", "max"):
        table[col] = first[col].where(single)
    table["max"] = grouped["max"].max()
    # Minutes shared by several instances/epochs: the same merge, one matrix pass for all of them.
    shared = entries[entries["minute"].isin(table.index[~single]) & (entries["lat_count"] > 0)]
    if not shared.empty:
        n, lower, upper, estimate = _cdf_matrices(shared)
        minutes = shared["minute"].to_numpy()
        starts = np.flatnonzero(np.r_[True, minutes[1:] != minutes[:-1]])
        sums = [np.add.reduceat(a, starts, axis=0) for a in (n, upper, lower, estimate)]
        figures = {"p50": [], "p95": [], "p99": []}
        for g in range(len(starts)):
            merged = _quantiles(sums[0][g], sums[1][g], sums[2][g], sums[3][g], (0.5, 0.95, 0.99))
            for q, col in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
                figures[col].append(merged[q][0])
        for col, values in figures.items():
            table.loc[minutes[starts], col] = values
    table["errors"] = table["failures"] + non_2xx(table)
    table["throughput_rps"] = table["requests"] / 60.0
    table["sent_rps"] = table["sent"] / 60.0
    return table


def default_window(table: pd.DataFrame, ramp_s: int = RAMP_S) -> tuple[int, int, list[str]]:
    """[start, end) minute starts of the steady state, and the sentences that explain it."""
    traffic = table.index[table["requests"] > 0]
    if len(traffic) == 0:
        raise storage.RunDataError("no requests were completed in any pulled minute: nothing to report")
    first, last = int(traffic.min()), int(traffic.max())
    start = first + 60 + int(math.ceil(ramp_s / 60.0)) * 60
    end = last
    notes = [f"The first minute with traffic ({_hhmm(first)}) is partial and the next {ramp_s} s are iago's "
             f"ramp-up (SlowStartPoissonProcess), so the steady state starts at {_hhmm(start)}.",
             f"The last minute with traffic ({_hhmm(last)}) is partial (the run ended or the pull stopped "
             "during it) and is excluded."]
    if start >= end:
        notes.append("The run is too short for a steady state after the ramp: the window falls back to "
                     "every minute with traffic; treat the figures with care.")
        start, end = first, last + 60
    return start, end, notes


def window_summary(run: Run, start: int, end: int, asked_rate: float | None = None) -> dict:
    """The headline figures over [start, end) (minute starts, epoch s)."""
    e = run.entries
    win = e[(e["minute"] >= start) & (e["minute"] < end)]
    minutes = int(win["minute"].nunique())
    # A minute missing inside one JVM epoch's pulled span was latched by iago but never pulled
    # (nor backfilled from /graph_data): its traffic is unknown, not zero, so each instance's rate
    # is taken over the window minus its unknown minutes. Time outside an epoch (a restart's
    # downtime) stays in: iago sent nothing then, or lost the count itself.
    missing = _unknown_minutes(e, start, end)
    per_inst = win.groupby("instance")[["requests", "sent"]].sum()
    known_s = (end - start) - 60.0 * missing.reindex(per_inst.index, fill_value=0)
    rates = per_inst.div(known_s, axis=0).sum() if minutes else None
    requests = int(win["requests"].sum())
    failures = int(win["failures"].sum())
    bad_status = int(non_2xx(win).sum()) if not win.empty else 0
    attempts = int(win["success"].sum()) + failures
    merged = merge_quantiles(win)
    has_sum = win.loc[win["lat_count"] > 0, "lat_sum"].notna().all()
    lat_count = int(win["lat_count"].sum())
    polled_max = win.loc[win["source"] == "poll", "max"]
    out = {
        "window_start": _iso(start), "window_end": _iso(end), "minutes": minutes,
        "requests": requests, "successes": int(win["success"].sum()), "failures": failures,
        "non_2xx": bad_status, "errors": failures + bad_status,
        "error_rate": (failures + bad_status) / attempts if attempts else None,
        "throughput_rps": float(rates["requests"]) if minutes else None,
        "offered_rps": float(rates["sent"]) if minutes else None,
        "missing_minutes": int(missing.sum()),
        "mean_ms": (float(win["lat_sum"].sum()) / lat_count) if lat_count and has_sum else None,
        # /graph_data minutes have no max, only p99.99: then the window max is a lower bound
        "max_ms": _num(pd.concat([polled_max, win.loc[win["source"] == "graph", "p9999"]]).max()),
        "max_is_lower_bound": bool((win["source"] == "graph").any()),
        "status_counts": {c.split(":", 1)[1]: int(win[c].sum()) for c in status_columns(win) if win[c].sum()},
        "failure_counts": {c.split(":", 1)[1]: int(win[c].sum()) for c in failure_columns(win) if win[c].sum()},
        "minutes_from_graph": int((win["source"] == "graph").sum()),
        "epochs": int(e["epoch"].nunique()),
        "percentile_method": METHOD,
    }
    for q, key in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
        fig, lo, hi = merged[q]
        out[key] = _num(fig)
        out[key + "_bounds"] = [_num(lo), _num(hi)]
    out.update(rate_check(run, win, start, end, out["throughput_rps"], asked_rate))
    if len(run.instances) > 1:
        out["per_instance"] = {}
        for inst in run.instances:
            sub = win[win["instance"] == inst]
            mq = merge_quantiles(sub)
            known = (end - start) - 60 * int(missing.get(inst, 0))
            out["per_instance"][inst] = {
                "requests": int(sub["requests"].sum()),
                "throughput_rps": int(sub["requests"].sum()) / known if known > 0 and not sub.empty else None,
                "p50_ms": _num(mq[0.5][0]), "p95_ms": _num(mq[0.95][0]), "p99_ms": _num(mq[0.99][0]),
                "max_ms": _num(sub["max"].max()), "minutes": int(sub["minute"].nunique())}
    return out


def _unknown_minutes(entries: pd.DataFrame, start: int, end: int) -> pd.Series:
    """Per instance: minutes in [start, end) inside an epoch's first..last pulled minute without data."""
    spans = entries.groupby(["instance", "epoch"], dropna=False)["minute"].agg(["min", "max", "nunique"])
    lo = spans["min"].clip(lower=start)
    hi = spans["max"].clip(upper=end - 60)
    expected = ((hi - lo) // 60 + 1).clip(lower=0)
    win = entries[(entries["minute"] >= start) & (entries["minute"] < end)]
    present = win.groupby(["instance", "epoch"], dropna=False)["minute"].nunique()
    present = present.reindex(spans.index, fill_value=0)
    return (expected - present).clip(lower=0).groupby(level="instance").sum()


def rate_check(run: Run, win: pd.DataFrame, start: int, end: int, achieved, asked) -> dict:
    """Did the generator deliver the asked rate, and was its send queue ever empty?"""
    snaps = run.snapshots
    in_win = snaps[(snaps["t"] >= start) & (snaps["t"] < end)] if not snaps.empty else snaps
    depths = pd.concat([pd.to_numeric(in_win["queue_depth"], errors="coerce"),
                        pd.to_numeric(win["queue_depth"], errors="coerce")]).dropna()
    min_depth = _num(depths.min()) if not depths.empty else None
    starved_samples = int((depths == 0).sum())
    short = bool(asked and achieved is not None and achieved < 0.95 * asked)
    return {"asked_rate_rps": asked, "rate_shortfall": short,
            "rate_ratio": (achieved / asked) if asked and achieved is not None else None,
            "min_queue_depth": min_depth, "queue_empty_samples": starved_samples,
            "queue_starved": bool(short and starved_samples > 0)}


def _num(x):
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    if math.isnan(f):
        return None
    return int(f) if f.is_integer() else f


def _iso(t: int) -> str:
    return pd.Timestamp(t, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _hhmm(t: int) -> str:
    return pd.Timestamp(t, unit="s", tz="UTC").strftime("%H:%M")


def parse_time(text: str, first_minute: int) -> int:
    """--from/--to: an ISO time (UTC), HH:MM on the run's first day, or +N minutes from the first minute."""
    text = text.strip()
    if text.startswith("+") and text[1:].isdigit():
        return first_minute + 60 * int(text[1:])
    try:
        if len(text) <= 5 and ":" in text:
            day = pd.Timestamp(first_minute, unit="s", tz="UTC").normalize()
            hh, mm = text.split(":")
            ts = day + pd.Timedelta(hours=int(hh), minutes=int(mm))
        else:
            ts = pd.Timestamp(text)
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    except (ValueError, TypeError):
        raise storage.RunDataError(f"cannot read time {text!r}: use 2026-06-13T10:05, 10:05 or +5 (minutes)") from None
    return int(ts.timestamp()) // 60 * 60
