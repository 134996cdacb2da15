"""The API prober: answers Seldon gives with HTTP 200 but that are failures, told apart."""

from __future__ import annotations

import pytest
import requests

from analysis import prober
from fake_seldon_api import ERROR, FakeSeldonApi


@pytest.mark.parametrize("status,text,outcome", [
    (200, 'j({"size":2,"requested":10,"list":[{"id":"318"},{"id":"296"}]})', "ok"),
    (200, 'j({"error_id":7,"error_msg":"Invalid consumer key","http_response":401})', "api_error"),
    (200, 'j({"size":0,"requested":10,"list":[]})', "empty"),
    (200, 'j({"size":0,"requested":10})', "empty"),
    (200, "<html>502 Bad Gateway</html>", "malformed"),
    (200, "j({not json})", "malformed"),
    (200, 'j([1, 2])', "malformed"),
    (500, "Internal Server Error", "http_error"),
    (None, "ConnectionError: refused", "unreachable"),
])
def test_classify_tells_every_answer_apart(status, text, outcome):
    got, detail = prober.classify(status, text)
    assert got == outcome, (status, text, got, detail)
    assert (detail == "") == (outcome == "ok")


def test_an_error_bean_keeps_its_id_and_message():
    _, detail = prober.classify(200, 'j({"error_id":7,"error_msg":"Invalid consumer key","http_response":401})')
    assert detail == "error 7: Invalid consumer key"


def test_probe_asks_the_seeds_known_query_and_records_the_outcome():
    with FakeSeldonApi("error") as api:
        p = prober.Prober(api.url, "BENCHKEY", requests.Session(), clock=lambda: 1000.0)
        assert p.due()
        record = p.probe()
        assert not p.due(), "the next probe is one interval later"
    (asked,) = api.requests
    assert asked == {"path": "/js/recommendations", "consumer_key": "BENCHKEY", "user": "625", "item": "50",
                     "limit": "10", "jsonpCallback": "j"}
    assert record["endpoint"] == "probe" and record["t"] == 1000.0 and record["status"] == 200
    assert record["outcome"] == "api_error" and str(ERROR["error_id"]) in record["detail"]


def test_an_unreachable_api_is_no_api_error():
    p = prober.Prober("http://127.0.0.1:9", "K", requests.Session(), timeout=0.5)
    record = p.probe()
    assert record["outcome"] == "unreachable" and record["status"] is None
    summary = prober.summarise([record])
    assert summary.answered == 0 and summary.rate is None, "no answer is unknown, not 0% and not 100%"


def test_summary_rate_is_over_answered_probes_in_the_window():
    records = [{"endpoint": "probe", "t": float(t), "outcome": o} for t, o in
               [(0, "ok"), (10, "api_error"), (20, "ok"), (30, "unreachable"), (40, "empty"), (50, "ok"), (60, "api_error")]]
    records.append({"endpoint": "minute", "t": 15.0, "status": 200})
    s = prober.summarise(records, start=10, end=60)
    assert s.counts["api_error"] == 1 and s.counts["empty"] == 1 and s.counts["unreachable"] == 1
    assert s.answered == 4 and s.failures == 2 and s.rate == 0.5
