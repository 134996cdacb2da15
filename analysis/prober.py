"""API errors iago cannot see: seldon-server answers them with HTTP 200.

Seldon's `/js/*` endpoints turn an `APIException` into a 200 JSONP body holding an ErrorBean
(`{"error_id":..,"error_msg":..,"http_response":..}`, JsClientController.handleException), and
Finagle counts any HTTP answer as a success, so a run where every recommendation fails fast (a
bad key, MySQL or memcached down) reports no errors and excellent latency.

While `pull` runs, it asks the API itself, at a low fixed rate, for the recommendations of the
seed's known query (user 625 who just saw item 50, as the model verification does) and records
each answer's outcome as a `probe` sample in `samples.jsonl`:

- `ok`: a JSONP answer with a non-empty recommendation list;
- `api_error`: an ErrorBean (the error id and message are kept);
- `empty`: a JSONP answer without items, or without a list;
- `malformed`: anything that is not the JSONP answer (an HTML error page, truncated text);
- `http_error`: a status other than 200 (iago counts those too);
- `unreachable`: no answer at all (refused, timeout): counted apart, since the probe runs from
  the machine that pulls, through the API's LoadBalancer, and that path is not the benchmark's.

The probe goes through `seldonApiUrl` (a LoadBalancer open to `allowedCidrs`, which holds the
address that pulls) instead of a prober in the cluster: it needs no extra component, no extra
load balancer, and it runs exactly while the metrics are pulled. At one request every 5 s it adds
0.2% to the seed's 100 requests/s.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable, Optional

import requests

# The seed's known query (its ml10m guide), also what the model verification asks.
PROBE_USER = 625
PROBE_ITEM = 50
PROBE_LIMIT = 10
DEFAULT_INTERVAL_S = 5.0
OUTCOMES = ("ok", "api_error", "empty", "malformed", "http_error", "unreachable")
# Outcomes that are the API failing a request it received.
API_FAILURES = ("api_error", "empty", "malformed", "http_error")
_JSONP = re.compile(r"\s*j\((.*)\)\s*;?\s*", re.S)


def probe_url(api_url: str, key: str, user: int = PROBE_USER, item: int = PROBE_ITEM) -> str:
    params = {"consumer_key": key, "user": user, "item": item, "limit": PROBE_LIMIT, "jsonpCallback": "j"}
    return f"{api_url.rstrip('/')}/js/recommendations?{urllib.parse.urlencode(params)}"


def classify(status: Optional[int], text: Optional[str]) -> tuple[str, str]:
    """(outcome, detail) of one answer; `status` None means no answer at all."""
    if status is None:
        return "unreachable", (text or "")[:200]
    if status != 200:
        return "http_error", f"HTTP {status}: {(text or '')[:160]}"
    match = _JSONP.fullmatch(text or "")
    if not match:
        return "malformed", f"not a JSONP answer: {(text or '')[:160]!r}"
    try:
        answer = json.loads(match.group(1))
    except ValueError:
        return "malformed", f"JSONP with invalid JSON: {match.group(1)[:160]!r}"
    if not isinstance(answer, dict):
        return "malformed", f"JSONP answer is not an object: {match.group(1)[:160]!r}"
    if "error_id" in answer or "error_msg" in answer:
        return "api_error", f"error {answer.get('error_id')}: {str(answer.get('error_msg'))[:160]}"
    items = answer.get("list")
    if not isinstance(items, list) or not items:
        return "empty", f"no recommendations: {match.group(1)[:160]}"
    return "ok", ""


@dataclass
class Prober:
    """Asks the API one probe query whenever `due()`; `probe()` returns the sample record."""

    api_url: str
    key: str
    session: requests.Session
    interval: float = DEFAULT_INTERVAL_S
    timeout: float = 5.0
    clock: Callable[[], float] = time.time
    _next: float = 0.0

    def due(self) -> bool:
        return self.clock() >= self._next

    @property
    def next_due(self) -> float:
        return self._next

    def probe(self) -> dict:
        now = self.clock()
        self._next = now + self.interval
        url = probe_url(self.api_url, self.key)
        started = time.monotonic()
        try:
            response = self.session.get(url, timeout=self.timeout)
            status, text = response.status_code, response.text
        except requests.RequestException as exc:
            status, text = None, f"{type(exc).__name__}: {exc}"
        outcome, detail = classify(status, text)
        record = {"endpoint": "probe", "url": url, "t": now, "status": status, "outcome": outcome,
                  "ms": round((time.monotonic() - started) * 1000.0, 1)}
        if detail:
            record["detail"] = detail
        return record


@dataclass(frozen=True)
class ProbeSummary:
    """Outcome counts over a window; the rate is over the probes the API answered."""

    counts: dict

    @property
    def answered(self) -> int:
        return sum(n for outcome, n in self.counts.items() if outcome != "unreachable")

    @property
    def failures(self) -> int:
        return sum(self.counts.get(o, 0) for o in API_FAILURES)

    @property
    def rate(self) -> Optional[float]:
        return self.failures / self.answered if self.answered else None


def summarise(records: list[dict], start: Optional[float] = None, end: Optional[float] = None) -> ProbeSummary:
    """Count the probe records whose time lies in [start, end)."""
    counts = {o: 0 for o in OUTCOMES}
    for rec in records:
        if rec.get("endpoint") != "probe":
            continue
        t = rec.get("t")
        if not isinstance(t, (int, float)):
            continue
        if (start is not None and t < start) or (end is not None and t >= end):
            continue
        outcome = rec.get("outcome")
        if outcome in counts:
            counts[outcome] += 1
    return ProbeSummary(counts)


# Above this share of failed probes in the window, the run measured failures, not recommendations.
MAX_VALID_ERROR_RATE = 0.01


def window_fields(records: list[dict], start: float, end: float) -> dict:
    """The summary.json fields of the probes in the report window [start, end)."""
    s = summarise(records, start, end)
    rate = s.rate
    return {
        "api_probes": s.answered,
        "api_probes_unreachable": s.counts["unreachable"],
        "api_errors": s.failures,
        "api_error_rate": rate,
        "api_error_counts": {o: n for o, n in s.counts.items() if n and o != "ok"},
        # None: not probed (or never answered), so the API's own errors are unknown.
        "api_errors_valid": None if rate is None else rate <= MAX_VALID_ERROR_RATE,
    }


def flag(summary: dict) -> str | None:
    """The report's top line about API errors, or None when there is nothing to say."""
    rate = summary.get("api_error_rate")
    if rate is None:
        unreachable = summary.get("api_probes_unreachable") or 0
        why = (f"all {unreachable} probe(s) got no answer" if unreachable
               else "the API was not probed during the window (pull without --api-url / seldonApiUrl)")
        return (f"API errors unknown: {why}; seldon-server answers its errors with HTTP 200, which iago "
                "counts as successes.")
    if summary.get("api_errors_valid") is False:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(summary["api_error_counts"].items()) if k != "unreachable")
        return (f"**NOT A VALID BENCHMARK: {summary['api_errors']} of {summary['api_probes']} API probes in the "
                f"window failed ({rate:.1%}: {kinds}). seldon-server answers these with HTTP 200, so iago "
                f"counted them as fast successes: the latency figures measure failures.**")
    if summary.get("api_errors"):
        return (f"API probes: {summary['api_errors']} of {summary['api_probes']} failed ({rate:.2%}), under the "
                f"{MAX_VALID_ERROR_RATE:.0%} the report tolerates.")
    return None
