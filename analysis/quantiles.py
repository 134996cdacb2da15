"""Percentiles over several minutes from Ostrich's per-minute summaries (pure numpy).

Percentiles are not additive. Ostrich reports each minute's p50..p99.99, min and max as the
midpoint of one of 202 fixed histogram buckets, so each reported value pins down its bucket: for
a minute with n requests whose p95 is in bucket j, at least ceil(0.95 n) requests are in buckets
<= j and fewer than 0.95 n in buckets < j. Summing these per-minute constraints bounds the
window's cumulative histogram from below and above, which brackets the bucket Ostrich would have
reported had it kept one histogram for the whole window. The point figure is the count-weighted
mixture of per-minute CDFs, each interpolated between its known quantiles (probit against bucket
index, exact for log-normal latencies) and clipped to those bounds; it always lies inside the
bracket. When every minute agrees (steady state) the bracket is a single bucket and the figure is
exact to Ostrich's +-5% bucket precision. The mean of per-minute percentiles is never used.

The input is one row per minute (and instance) with `lat_count` and the reported quantile
columns of `QUANTILE_COLUMNS` (NaN where that minute did not report one).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import NamedTuple

import numpy as np
import pandas as pd

from analysis import ostrich

# The reported columns and the quantile each one is.
QUANTILE_COLUMNS = (("min", 0.0), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p90", 0.9),
                    ("p95", 0.95), ("p99", 0.99), ("p999", 0.999), ("p9999", 0.9999), ("max", 1.0))
HEADLINE = (0.5, 0.95, 0.99)


class Cdfs(NamedTuple):
    """Per row and bucket j: its count, and the hard lower/upper bounds and the estimate of the
    count in buckets <= j. Rows add up: `sums` over any set of rows is that set's mixture."""

    n: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    estimate: np.ndarray

    def sums(self, starts: np.ndarray) -> list["Cdfs"]:
        """One summed Cdfs per group of consecutive rows starting at each of `starts`."""
        summed = [np.add.reduceat(a, starts, axis=0) for a in self]
        return [Cdfs(*(a[g] for a in summed)) for g in range(len(starts))]

    def total(self) -> "Cdfs":
        return Cdfs(self.n.sum(), self.lower.sum(0), self.upper.sum(0), self.estimate.sum(0))


def merge_quantiles(entries: pd.DataFrame, qs=HEADLINE) -> dict[float, tuple[int, int, int]]:
    """{q: (figure, low, high)} over all entries' latencies, as explained in the module docstring."""
    rows = entries[entries["lat_count"] > 0]
    if rows.empty:
        return {q: (np.nan, np.nan, np.nan) for q in qs}
    return quantiles_of(cdfs(rows).total(), qs)


def cdfs(rows: pd.DataFrame) -> Cdfs:
    """The bounds and the estimate of each row's CDF over Ostrich's buckets."""
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
    return Cdfs(n, lower, upper, estimate)


def quantiles_of(summed: Cdfs, qs=HEADLINE) -> dict[float, tuple[int, int, int]]:
    """{q: (figure, low, high)}: the first bucket the summed estimate, upper bound (optimistic) and
    lower bound (pessimistic) CDF reach q * total, as Ostrich bucket midpoints."""
    out = {}
    for q in qs:
        target = q * float(summed.n)
        lo = _first_reaching(summed.upper, target)
        hi = _first_reaching(summed.lower, target)
        est = min(max(_first_reaching(summed.estimate, target - 1e-9), lo), hi)
        out[q] = (ostrich.midpoint(est), ostrich.midpoint(lo), ostrich.midpoint(hi))
    return out


def _first_reaching(cdf: np.ndarray, target: float) -> int:
    idx = int(np.searchsorted(cdf, target, side="left"))
    return min(idx, len(cdf) - 1)


_PROBIT = NormalDist()


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Phi(z), elementwise, from the standard library's erf (a Python loop: numpy has no erf)."""
    z = np.asarray(z, dtype=float)
    erf = np.fromiter(map(math.erf, (z / math.sqrt(2.0)).ravel().tolist()), dtype=float, count=z.size)
    return 0.5 * (1.0 + erf.reshape(z.shape))


def _interpolated_cdf(knots, n: np.ndarray, nb: int) -> np.ndarray:
    """Per entry, an estimated count of requests in buckets <= j, for every bucket j.

    Between its known quantiles each entry's CDF is interpolated linearly in probit space against
    the bucket index (bucket j = [j, j+1) on a log-like scale): exact for log-normal latencies,
    a smooth guess otherwise; the caller clips it to the hard bounds.
    """
    js = np.stack([j for j, _ in knots], axis=1).astype(float)   # (m, k), -1 unknown
    qs = np.array([q for _, q in knots])
    ends = np.arange(nb) + 1.0
    z_at_ends = np.empty((len(n), nb))
    first, last = np.empty(len(n)), np.empty(len(n))
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
        z_at_ends[i] = np.interp(ends, x, z)
        first[i], last[i] = x[0], x[-1]
    cdf = normal_cdf(z_at_ends)
    cdf[ends[None, :] > last[:, None]] = 1.0
    cdf[ends[None, :] < first[:, None]] = 0.0
    return cdf * n[:, None]
