"""A report's figures as tidy rows, in the shape of PerfKitBenchmarker's samples.

Each row is `{"metric", "value", "unit", "labels", "timestamp"}`: one figure of one window, with
the labels that tell rows apart (`run`, `stack`, `instance` — an iago admin URL, or `all` for
the whole generator — and `window`, the ISO interval `start/end`) and the window's end as its
timestamp (epoch seconds). summary.json keeps its keys for people and the code that reads them
and holds the same figures as `samples`: rows of several runs concatenate, and pandas groups or
pivots them (`analysis.compare`). A figure that is unknown (null in summary.json) has no row.
Flags are 1 (true) or 0 (false), unit `flag`.
"""

from __future__ import annotations

from typing import Any, Iterator

import pandas as pd

from analysis import shapes

ALL = "all"
FIELDS = ("metric", "value", "unit", "labels", "timestamp")

# metric, summary.json key, unit: the window's figures over every iago instance.
WINDOW = (
    ("requests", "requests", "requests"),
    ("successes", "successes", "requests"),
    ("failures", "failures", "requests"),
    ("non_2xx", "non_2xx", "requests"),
    ("errors", "errors", "requests"),
    ("error_rate", "error_rate", "ratio"),
    ("throughput", "throughput_rps", "req/s"),
    ("offered_rate", "offered_rps", "req/s"),
    ("asked_rate", "asked_rate_rps", "req/s"),
    ("rate_ratio", "rate_ratio", "ratio"),
    ("latency_mean", "mean_ms", "ms"),
    ("latency_p50", "p50_ms", "ms"),
    ("latency_p95", "p95_ms", "ms"),
    ("latency_p99", "p99_ms", "ms"),
    ("latency_max", "max_ms", "ms"),
    ("minutes", "minutes", "minutes"),
    ("missing_minutes", "missing_minutes", "minutes"),
    ("minutes_from_graph", "minutes_from_graph", "minutes"),
    ("epochs", "epochs", "epochs"),
    ("min_queue_depth", "min_queue_depth", "requests"),
    ("queue_empty_samples", "queue_empty_samples", "samples"),
    ("api_probes", "api_probes", "probes"),
    ("api_errors", "api_errors", "probes"),
    ("api_error_rate", "api_error_rate", "ratio"),
    ("api_restarts_in_window", "api_restarts_in_window", "restarts"),
    ("rate_shortfall", "rate_shortfall", "flag"),
    ("queue_starved", "queue_starved", "flag"),
    ("max_is_lower_bound", "max_is_lower_bound", "flag"),
    ("api_errors_valid", "api_errors_valid", "flag"),
    ("api_restarted_in_window", "api_restarted_in_window", "flag"),
)
# The bracket of each window percentile: `<key>_bounds` = [low, high].
BOUNDS = (("latency_p50", "p50_ms"), ("latency_p95", "p95_ms"), ("latency_p99", "p99_ms"))
# Each instance's own figures, when several iago instances ran (`per_instance`).
PER_INSTANCE = tuple(row for row in WINDOW if row[0] in (
    "requests", "throughput", "latency_p50", "latency_p95", "latency_p99", "latency_max", "minutes"))


def sample(metric: str, value: float, unit: str, labels: dict, timestamp: float) -> dict:
    return {"metric": metric, "value": float(value), "unit": unit, "labels": dict(labels), "timestamp": timestamp}


def samples_of(summary: dict) -> list[dict]:
    """The rows of a summary's figures, from its keys: what `report` stores as `samples`, and
    what `compare` derives for a summary.json written before samples existed."""
    start, end = summary.get("window_start"), summary.get("window_end")
    base = {"run": summary.get("run"), "stack": summary.get("stack"), "instance": ALL,
            "window": f"{start}/{end}" if start and end else None}
    stamp = shapes.instant(end, "`window_end`") if end else None
    rows = list(_figures(summary, WINDOW, base, stamp))
    iago_restarts = summary.get("restarts_in_window")
    if isinstance(iago_restarts, list):
        rows.append(sample("iago_restarts_in_window", len(iago_restarts), "restarts", base, stamp))
    for metric, key in BOUNDS:
        bounds = summary.get(key + "_bounds")
        if isinstance(bounds, list) and len(bounds) == 2:
            for side, value in zip(("low", "high"), bounds):
                if _known(value):
                    rows.append(sample(f"{metric}_{side}", value, "ms", base, stamp))
    for instance, figures in sorted((summary.get("per_instance") or {}).items()):
        rows += _figures(figures, PER_INSTANCE, {**base, "instance": instance}, stamp)
    return rows


def _figures(source: dict, table, labels: dict, stamp) -> Iterator[dict]:
    for metric, key, unit in table:
        value = source.get(key)
        if _known(value):
            yield sample(metric, value, unit, labels, stamp)


def _known(value: Any) -> bool:
    return isinstance(value, (int, float)) and value == value  # bool is an int: flags count


def frame(rows: list[dict]) -> pd.DataFrame:
    """Rows as one DataFrame: metric, value, unit, timestamp and a column per label."""
    flat = [{**{k: r[k] for k in FIELDS if k != "labels"}, **(r.get("labels") or {})} for r in rows]
    return pd.DataFrame(flat, columns=None if flat else ["metric", "value", "unit", "timestamp", "run", "instance"])
