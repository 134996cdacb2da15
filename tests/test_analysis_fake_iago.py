"""The fake iago admin server answers like Ostrich 9.2.1 (reference iago-metrics.md §2, §6)."""

from __future__ import annotations

import json

import requests

from fake_iago import FakeIago, Profile, _java_double, encode


def test_encoding_is_scala_json():
    assert encode({"b": 1, "a/x": [1.0, 0.25, 12345678.0]}) == '{"a\\/x":[1.0,0.25,1.2345678E7],"b":1}'
    assert _java_double(5.0) == "5.0" and json.loads(_java_double(1.2345678e7)) == 1.2345678e7


def test_routes_status_codes_and_bodies():
    with FakeIago(Profile(rate=50), speed=200) as fake:
        get = lambda path: requests.get(fake.url + path, timeout=2)  # noqa: E731
        # before the first collection: graph keys empty, any graph key 500
        assert get("/graph_data").text == '{"keys":[]}\n'
        assert get("/graph_data").headers["Content-Type"] == "text/html"
        r = get("/graph_data/metric:client/request_latency_ms")
        assert r.status_code == 500 and "NoSuchElementException" in r.text
        # before the first hh:mm:01, period=60 answers the latch taken at startup: 200, not empty
        # (startClean=false: every counter's total since JVM start, the client's metric at count 0)
        startup = get("/stats.json?period=60")
        assert startup.status_code == 200 and startup.json()["counters"]["jvm_gc_cycles"] > 0
        assert startup.json()["metrics"]["client/request_latency_ms"] == {"count": 0}
        first = get("/stats.json")
        assert first.text.endswith("\n") and set(first.json()) == {"counters", "gauges", "labels", "metrics"}
        assert get("/stats.json?period=30").status_code == 400
        assert get("/stats.json?period=x").status_code == 500
        nope = get("/nope.json")
        assert nope.status_code == 404 and nope.text == "no such command\n"
        assert get("/ping.json").json() == {"response": "pong"}
        assert get("/health").text == "OK\n"
        assert get("/stats.json?callback=cb").text.startswith("cb({")
        fake.sleep_until((fake.clock() // 60 + 2) * 60 + 5)
        body = get("/stats.json?period=60").text
        assert "client\\/request_latency_ms" in body, "slashes are escaped on the wire"
        again = get("/stats.json?period=60").text
        assert body == again, "every request between two latches gets the same minute"
        rows = get("/graph_data/metric:client/request_latency_ms?p=1,4,5").json()["metric:client/request_latency_ms"]
        assert len(rows) == 60 and all(len(r) == 4 for r in rows), "60 slots of [ts, p50, p95, p99]"
        assert get("/graph_data/metric:client/request_latency_ms?p=").status_code == 500
        # namespace reads are destructive: the first returns everything since start, an immediate
        # second one only what completed in between (at most a simulated second's worth)
        first_ns = get("/stats.json?namespace=t").json()["counters"]["client/requests"]
        second_ns = get("/stats.json?namespace=t").json()["counters"]["client/requests"]
        assert first_ns > 500 and second_ns <= 0.05 * first_ns
        assert "client/requests:" in get("/stats.txt").text
        fake.end_run(graceful=False)
        try:
            requests.get(fake.url + "/ping.json", timeout=1)
            refused = False
        except requests.ConnectionError:
            refused = True
        assert refused, "after the run ends the admin port refuses connections"
