"""Per-minute tables and the figures of a window, from a parsed run (pure pandas).

Exactness, stated once here and in every report:

* Counts, rates and error rates are exact: they are sums of Ostrich's per-minute counter deltas
  (`/stats.json?period=60`), which add up across minutes and across iago instances. A minute
  iago latched but nobody pulled (a gap inside one JVM epoch that /graph_data could not fill) is
  unknown, not idle: rates leave it out and `missing_minutes` counts it.
* The mean latency is exact: sum/count of the same minutes.
* Percentiles are not additive: each window percentile is bracketed by what the minutes'
  reported Ostrich buckets allow (`*_bounds`), and the figure is their count-weighted mixture,
  always inside the bracket (`analysis.quantiles` explains how). The mean of per-minute
  percentiles is never used.
* max is exact (the largest per-minute max, to bucket precision), except that a minute backfilled
  from /graph_data has no max, only p99.99: the window max is then a lower bound (`max_is_lower_bound`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis import storage
from analysis.parse import COUNTERS, Run, failure_columns, non_2xx, status_columns
from analysis.quantiles import QUANTILE_COLUMNS, cdfs, merge_quantiles, quantiles_of

RAMP_S = 240
SEED = {"p95_ms": 100.0, "throughput_rps": 100.0,
        "text": "p95 ~100 ms at 100 req/s on 4x m3.large (Seldon benchmark, June 2016); p99 with spikes"}
METHOD = ("Counts, throughput and error rate are exact sums of iago's per-minute counter deltas; the mean "
          "is exact (sum/count). Percentiles over the window are not averaged: each minute's reported "
          "percentiles identify Ostrich histogram buckets, which bound the window's histogram; the figure "
          "shown is the count-weighted mixture of the per-minute distributions (interpolated between their "
          "known quantiles as log-normal), always inside the bracket "
          "[low, high] of what one Ostrich histogram over the window would report (+-5% bucket precision).")


# --- tables --------------------------------------------------------------------------------------

def per_minute(entries: pd.DataFrame) -> pd.DataFrame:
    """One row per minute, all instances and epochs added; percentiles exact for a single entry."""
    count_cols = (list(COUNTERS.values()) + status_columns(entries) + failure_columns(entries)
                  + ["lat_count", "lat_sum"])
    grouped = entries.groupby("minute", sort=True)
    table = grouped[count_cols].sum(min_count=1)
    table["entries"] = grouped.size()
    table["queue_depth"] = grouped["queue_depth"].min()
    table["source"] = grouped["source"].agg(lambda s: "graph" if (s == "graph").all() else "poll")
    single = table["entries"] == 1
    first = grouped[[c for c, _ in QUANTILE_COLUMNS]].first()
    for col in ("p50", "p95", "p99"):
        table[col] = first[col].where(single)
    table["max"] = grouped["max"].max()
    # Minutes shared by several instances/epochs: the same merge, one matrix pass for all of them.
    shared = entries[entries["minute"].isin(table.index[~single]) & (entries["lat_count"] > 0)]
    if not shared.empty:
        minutes = shared["minute"].to_numpy()
        starts = np.flatnonzero(np.r_[True, minutes[1:] != minutes[:-1]])
        figures = {"p50": [], "p95": [], "p99": []}
        for summed in cdfs(shared).sums(starts):
            merged = quantiles_of(summed)
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
    notes = [f"The first minute with traffic ({hhmm(first)}) is partial and the next {ramp_s} s are iago's "
             f"ramp-up (SlowStartPoissonProcess), so the steady state starts at {hhmm(start)}.",
             f"The last minute with traffic ({hhmm(last)}) is partial (the run ended or the pull stopped "
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
        "window_start": iso(start), "window_end": iso(end), "minutes": minutes,
        "requests": requests, "successes": int(win["success"].sum()), "failures": failures,
        "non_2xx": bad_status, "errors": failures + bad_status,
        "error_rate": (failures + bad_status) / attempts if attempts else None,
        "throughput_rps": float(rates["requests"]) if minutes else None,
        "offered_rps": float(rates["sent"]) if minutes else None,
        "missing_minutes": int(missing.sum()),
        "mean_ms": (float(win["lat_sum"].sum()) / lat_count) if lat_count and has_sum else None,
        # /graph_data minutes have no max, only p99.99: then the window max is a lower bound
        "max_ms": num(pd.concat([polled_max, win.loc[win["source"] == "graph", "p9999"]]).max()),
        "max_is_lower_bound": bool((win["source"] == "graph").any()),
        "status_counts": {c.split(":", 1)[1]: int(win[c].sum()) for c in status_columns(win) if win[c].sum()},
        "failure_counts": {c.split(":", 1)[1]: int(win[c].sum()) for c in failure_columns(win) if win[c].sum()},
        "minutes_from_graph": int((win["source"] == "graph").sum()),
        "epochs": int(e["epoch"].nunique()),
        "percentile_method": METHOD,
    }
    for q, key in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
        fig, lo, hi = merged[q]
        out[key] = num(fig)
        out[key + "_bounds"] = [num(lo), num(hi)]
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
                "p50_ms": num(mq[0.5][0]), "p95_ms": num(mq[0.95][0]), "p99_ms": num(mq[0.99][0]),
                "max_ms": num(sub["max"].max()), "minutes": int(sub["minute"].nunique())}
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
    min_depth = num(depths.min()) if not depths.empty else None
    starved_samples = int((depths == 0).sum())
    short = bool(asked and achieved is not None and achieved < 0.95 * asked)
    return {"asked_rate_rps": asked, "rate_shortfall": short,
            "rate_ratio": (achieved / asked) if asked and achieved is not None else None,
            "min_queue_depth": min_depth, "queue_empty_samples": starved_samples,
            "queue_starved": bool(short and starved_samples > 0)}


def num(x):
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    if math.isnan(f):
        return None
    return int(f) if f.is_integer() else f


def iso(t: int) -> str:
    return pd.Timestamp(t, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def hhmm(t: int) -> str:
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
