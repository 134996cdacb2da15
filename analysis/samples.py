"""Reading the stored raw responses: which ones are Ostrich stats, and which minute they cover."""

from __future__ import annotations

import json
import math

from analysis import shapes


def stats_body(rec: dict, strict: bool = False) -> dict | None:
    """The parsed /stats.json body of a successful sample, or None (error, 5xx, not Ostrich).

    An Ostrich-shaped body whose values have the wrong types (counters as words, a list for the
    gauges) is not stats either; with `strict` it raises `shapes.ShapeError` saying what is wrong,
    so a report names the bad line instead of failing deep inside the statistics.
    """
    if rec.get("status") != 200 or not isinstance(rec.get("body"), str):
        return None
    try:
        body = json.loads(rec["body"])  # json accepts Ostrich's `\/` and Java's `1.2E7`
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("counters"), dict) and isinstance(body.get("metrics"), dict):
        try:
            shapes.ostrich(body)
        except shapes.ShapeError:
            if strict:
                raise
            return None
        return body
    return None


def minute_key(body: dict, t: float) -> tuple[int | None, int]:
    """(epoch, minute start in epoch s) of a `/stats.json?period=60` answer.

    The latch happens at hh:mm:01 and covers the minute before it. Its gauges were sampled at the
    latch, so jvm_start_time + jvm_uptime is the latch instant on iago's own clock, which makes the
    key independent of the poller's clock; without them fall back to the request time (a request
    made after hh:mm:02 sees the latch of hh:mm:01).
    """
    gauges = body.get("gauges") or {}
    start, up = gauges.get("jvm_start_time"), gauges.get("jvm_uptime")
    epoch = int(start) if isinstance(start, (int, float)) else None
    if epoch is not None and isinstance(up, (int, float)):
        latch = (start + up) / 1000.0
        return epoch, int(math.floor(latch / 60.0)) * 60 - 60
    return epoch, (int(math.floor((t - 2.0) / 60.0)) - 1) * 60


# Ostrich's periodic latches run at hh:mm:01 (PeriodicBackgroundProcess.nextRun: the next
# minute boundary, then 1 s); a few seconds of scheduling delay still count as periodic.
PERIODIC_LATCH_SECONDS = (0.0, 5.0)
# The latch taken when the admin service is built, seconds after JVM start (iago compiles its
# Scala config first): a latch this early in the JVM's life at another second is that one.
STARTUP_LATCH_MAX_UPTIME_S = 120.0


def latch_instant(body: dict) -> float | None:
    """Epoch seconds of the latch behind a `/stats.json?period=60` answer, on iago's own clock."""
    gauges = body.get("gauges") or {}
    start, up = gauges.get("jvm_start_time"), gauges.get("jvm_uptime")
    if isinstance(start, (int, float)) and isinstance(up, (int, float)):
        return (start + up) / 1000.0
    return None


def is_startup_latch(body: dict) -> bool:
    """True for the latch LatchedStatsListener takes in its constructor: totals since JVM start,
    not a minute. It can land in the minute after the JVM started, so the minute key alone cannot
    tell it apart; its instant can: periodic latches happen at hh:mm:01, it happens whenever the
    admin service comes up."""
    latch = latch_instant(body)
    if latch is None:
        return False
    uptime = float((body.get("gauges") or {}).get("jvm_uptime", 0)) / 1000.0
    low, high = PERIODIC_LATCH_SECONDS
    return uptime < STARTUP_LATCH_MAX_UPTIME_S and not (low <= latch % 60.0 < high)


def epoch_of(body: dict) -> int | None:
    start = (body.get("gauges") or {}).get("jvm_start_time")
    return int(start) if isinstance(start, (int, float)) else None


def graph_minute(ts: float) -> int:
    """A /graph_data row stamped at the collection (hh:mm:01 +- 1 s) covers the minute before."""
    return int(round((ts - 1.0) / 60.0)) * 60 - 60
