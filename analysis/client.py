"""HTTP transport to one iago admin server (Ostrich, port 9994).

Ostrich's admin server has a single dispatcher thread, so every call has a short timeout and only
idempotent GETs are retried (never `?namespace=`, which is a destructive read). A failure is
returned as a record, not raised: failed attempts are data (they mark gaps and the end of a run).
"""

from __future__ import annotations

import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

STATS = "/stats.json"
MINUTE = "/stats.json?period=60"
GRAPH_KEYS = "/graph_data"
LATENCY_KEY = "metric:client/request_latency_ms"


class IagoClient:
    """GETs against one admin base URL, each returned as a sample record."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, retries: int = 2,
                 backoff: float = 0.5, clock=time.time):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.clock = clock
        self.session = requests.Session()
        retry = Retry(total=retries, connect=retries, read=retries, status=retries,
                      backoff_factor=backoff, status_forcelist=(502, 503, 504),
                      allowed_methods=frozenset({"GET"}), raise_on_status=False,
                      respect_retry_after_header=False)
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=1)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def get(self, path: str, endpoint: str) -> dict:
        """One GET -> {"t", "t_recv", "url", "instance", "endpoint", "status", "body"} or "error"."""
        url = self.base_url + path
        t = self.clock()
        rec = {"t": round(t, 3), "url": url, "instance": self.base_url, "endpoint": endpoint}
        try:
            resp = self.session.get(url, timeout=self.timeout)
        except requests.RequestException as exc:
            rec.update(status=None, error=_short_error(exc), body=None)
        else:
            rec.update(status=resp.status_code, content_type=resp.headers.get("Content-Type"),
                       body=resp.text)
        rec["t_recv"] = round(self.clock(), 3)
        return rec

    def close(self) -> None:
        self.session.close()


def _short_error(exc: Exception) -> str:
    """'ConnectionError: refused' rather than a page of urllib3 wrapping."""
    text = str(exc)
    for marker in ("Connection refused", "Read timed out", "timed out", "Connection reset",
                   "Remote end closed", "Max retries exceeded"):
        if marker in text:
            return f"{type(exc).__name__}: {marker}"
    return f"{type(exc).__name__}: {text[:200]}"
