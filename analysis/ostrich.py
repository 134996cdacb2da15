"""Ostrich 9.2.1 histogram arithmetic (com.twitter.ostrich.stats.Histogram), shared by the
analysis and the fake server so both bucket latencies exactly as iago does.

Ostrich keeps latencies in 202 fixed buckets (201 exclusive upper boundaries, ~10.5% apart) and
reports every percentile, min and max as the integer midpoint of a bucket, so every reported value
identifies its bucket exactly; that is what lets `analysis.quantiles` bound multi-minute percentiles.
"""

from __future__ import annotations

import bisect

import numpy as np

INT_MAX = 2**31 - 1


def _boundaries(error: float = 0.05) -> list[int]:
    """Histogram.makeBucketsFor(0.05): 1, then n*(1.05/0.95) truncated +1, until Int.MaxValue."""
    factor = (1.0 + error) / (1.0 - error)
    out, n = [1], 1.0
    while True:
        n *= factor
        if int(n) >= INT_MAX:
            return out
        if int(n) + 1 != out[-1]:
            out.append(int(n) + 1)


BOUNDARIES: list[int] = _boundaries()
NUM_BUCKETS = len(BOUNDARIES) + 1  # bucket 0 holds values < 1, the last one is "infinity"
_BOUNDS = np.asarray(BOUNDARIES, dtype=np.int64)


def bucket_index(value: int) -> int:
    """Bucket of an integer latency (a value equal to a boundary goes to the next bucket)."""
    return bisect.bisect_right(BOUNDARIES, value)


def bucket_indexes(values: np.ndarray) -> np.ndarray:
    return np.searchsorted(_BOUNDS, values, side="right")


def midpoint(index: int) -> int:
    """The value Ostrich reports for anything that fell in bucket `index`."""
    if index <= 0:
        return 0
    if index >= len(BOUNDARIES):
        return INT_MAX
    return (BOUNDARIES[index - 1] + BOUNDARIES[index] - 1) // 2


MIDPOINTS = np.asarray([midpoint(i) for i in range(NUM_BUCKETS)], dtype=np.int64)
_MID_TO_BUCKET = {int(m): i for i, m in enumerate(MIDPOINTS)}


def bucket_of_reported(value: float) -> int:
    """Bucket whose midpoint Ostrich reported as `value` (values off the grid: the bucket holding it)."""
    v = int(value)
    return _MID_TO_BUCKET.get(v, bucket_index(v))


def buckets_of_reported(values: np.ndarray) -> np.ndarray:
    """Vectorised bucket_of_reported; NaN stays NaN (as -1)."""
    vals = np.asarray(values, dtype=float)
    out = np.full(vals.shape, -1, dtype=np.int64)
    ok = ~np.isnan(vals)
    ints = vals[ok].astype(np.int64)
    idx = np.searchsorted(MIDPOINTS, ints, side="left")
    idx = np.clip(idx, 0, NUM_BUCKETS - 1)
    exact = MIDPOINTS[idx] == ints
    # Midpoints are strictly increasing, so an exact hit names the bucket; anything else is
    # bucketed as a raw latency.
    out[ok] = np.where(exact, idx, bucket_indexes(ints))
    return out


def percentile(hist: np.ndarray, q: float) -> int:
    """Histogram.getPercentile: midpoint of the first bucket where the running count >= q*count."""
    count = int(hist.sum())
    if q == 0.0:
        return minimum(hist)
    if count == 0:
        return 0
    cum = np.cumsum(hist)
    j = int(np.searchsorted(cum, q * count, side="left"))
    return midpoint(j)


def minimum(hist: np.ndarray) -> int:
    nz = np.flatnonzero(hist)
    return 0 if nz.size == 0 else midpoint(int(nz[0]))


def maximum(hist: np.ndarray) -> int:
    nz = np.flatnonzero(hist)
    return 0 if nz.size == 0 else midpoint(int(nz[-1]))


STATS_QUANTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999, "p9999": 0.9999}
GRAPH_QUANTILES = (0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999)


def distribution(hist: np.ndarray, total: int) -> dict:
    """Distribution.toMap as /stats.json prints it: `{"count":0}` when empty."""
    count = int(hist.sum())
    if count == 0:
        return {"count": 0}
    out = {"average": total // count, "count": count, "maximum": maximum(hist),
           "minimum": minimum(hist), "sum": int(total)}
    out.update({k: percentile(hist, q) for k, q in STATS_QUANTILES.items()})
    return out
