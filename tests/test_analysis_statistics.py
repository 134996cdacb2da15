"""Statistics on hand-made samples, values worked out by hand; Ostrich bucket arithmetic."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis import ostrich, parse, quantiles, windows
from analysis.storage import SampleLog

EPOCH = 1_780_000_000_000
T0 = 1_780_000_020  # a minute start (1780000020 % 60 == 0)
URL = "http://iago:9994"


def lat(**fields) -> dict:
    return fields


def minute_rec(minute: int, counters: dict, latency: dict | None, *, instance: str = URL,
               epoch: int = EPOCH, queue_depth: int = 500) -> dict:
    """A stored /stats.json?period=60 answer for `minute`, latched at minute+61 s."""
    body = {"counters": counters,
            "gauges": {"jvm_start_time": epoch, "jvm_uptime": (minute + 61) * 1000 - epoch,
                       "queue_depth": queue_depth},
            "labels": {}, "metrics": {"client/request_latency_ms": latency} if latency is not None else {}}
    text = json.dumps(body, separators=(",", ":"), sort_keys=True).replace("/", "\\/")
    return {"t": minute + 70.0, "url": instance + "/stats.json?period=60", "instance": instance,
            "endpoint": "minute", "status": 200, "body": text + "\n", "epoch": epoch, "minute": minute}


def write(run, records: list[dict]) -> None:
    with SampleLog(run) as log:
        for r in records:
            log.append(r)


def ones(value: int, n: int) -> dict:
    """A minute where all n requests took `value` ms (every percentile is that bucket)."""
    m = ostrich.midpoint(ostrich.bucket_index(value))
    return lat(count=n, sum=value * n, minimum=m, maximum=m, p50=m, p90=m, p95=m, p99=m, p999=m, p9999=m)


# --- Ostrich arithmetic ---------------------------------------------------------------------------

def test_bucket_boundaries_match_ostrich_9_2_1():
    b = ostrich.BOUNDARIES
    assert len(b) == 201 and b[:12] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13]
    assert b[31:35] == [91, 100, 111, 122]
    assert ostrich.midpoint(ostrich.bucket_index(100)) == 105, "100..110 ms report as 105"
    assert ostrich.midpoint(ostrich.bucket_index(99)) == 95, "91..99 ms report as 95"
    assert ostrich.midpoint(ostrich.bucket_index(30000)) == 31568, "a 30 s timeout reports as 31568"
    assert ostrich.bucket_index(0) == 0 and ostrich.midpoint(0) == 0


def test_percentile_walks_buckets_to_the_first_reaching_q_times_count():
    hist = np.zeros(ostrich.NUM_BUCKETS, dtype=np.int64)
    for v, k in ((50, 90), (100, 9), (1000, 1)):
        hist[ostrich.bucket_index(v)] += k
    assert ostrich.percentile(hist, 0.5) == 52     # 50 ms -> bucket [50, 55) -> midpoint 52
    assert ostrich.percentile(hist, 0.9) == 52     # 90 of 100 reached exactly in the 50 ms bucket
    assert ostrich.percentile(hist, 0.95) == 105
    assert ostrich.percentile(hist, 0.999) == ostrich.midpoint(ostrich.bucket_index(1000))
    d = ostrich.distribution(hist, 90 * 50 + 9 * 100 + 1000)
    assert d["average"] == (4500 + 900 + 1000) // 100 and d["minimum"] == 52 and d["count"] == 100
    assert ostrich.distribution(np.zeros_like(hist), 0) == {"count": 0}


# --- merging minutes ---------------------------------------------------------------------------------

def test_window_p95_is_not_the_mean_of_minute_p95s(tmp_path):
    # 900 requests at 95 ms then 100 at 1000 ms: the 950th request is in the 1000 ms bucket.
    # The mean of the minutes' p95 would be (95 + 1040) / 2 = 567 ms: wrong.
    write(tmp_path, [minute_rec(T0, {"client/requests": 900}, ones(95, 900)),
                     minute_rec(T0 + 60, {"client/requests": 100}, ones(1000, 100))])
    run = parse.load(tmp_path)
    merged = quantiles.merge_quantiles(run.entries)
    slow = ostrich.midpoint(ostrich.bucket_index(1000))
    assert merged[0.95] == (slow, slow, slow), "the bound is tight: exactly the 1000 ms bucket"
    assert merged[0.5] == (95, 95, 95)
    assert merged[0.99][0] == slow


def test_single_minute_percentiles_come_back_exactly(tmp_path):
    latency = lat(count=6003, sum=519841, minimum=29, maximum=386, p50=77, p90=95, p95=105,
                  p99=142, p999=258, p9999=386)
    write(tmp_path, [minute_rec(T0, {"client/requests": 6003}, latency)])
    merged = quantiles.merge_quantiles(parse.load(tmp_path).entries)
    assert merged == {0.5: (77, 77, 77), 0.95: (105, 105, 105), 0.99: (142, 142, 142)}


def test_bracket_is_honest_when_minutes_disagree(tmp_path):
    # Minute A (300 req): min = p50 = 52, p90..max = 105. Minute B (100 req): all at 1040.
    # Window p50 = the 200th of 400 requests, i.e. A's 200th: A has >= 150 at <= 52's bucket and
    # < 270 below 105's bucket, so it can be anywhere from the 52 bucket to the 105 bucket.
    a = lat(count=300, sum=21000, minimum=52, maximum=105, p50=52, p90=105, p95=105, p99=105, p999=105, p9999=105)
    write(tmp_path, [minute_rec(T0, {"client/requests": 300}, a),
                     minute_rec(T0 + 60, {"client/requests": 100}, ones(1000, 100))])
    fig, lo, hi = quantiles.merge_quantiles(parse.load(tmp_path).entries)[0.5]
    assert (lo, hi) == (52, 105), "p50 lies between A's p50 bucket and A's p90 bucket"
    assert lo <= fig <= hi


def test_bracket_always_contains_the_exact_window_percentile():
    """Random minutes summarised as Ostrich would: the window's exact percentile is inside [lo, hi]."""
    rng = np.random.default_rng(7)
    for trial in range(60):
        rows, total = [], np.zeros(ostrich.NUM_BUCKETS, dtype=np.int64)
        for _ in range(int(rng.integers(1, 6))):
            n = int(rng.integers(1, 400))
            values = rng.lognormal(np.log(rng.uniform(20, 400)), rng.uniform(0.1, 1.2), n).astype(int)
            hist = np.bincount(ostrich.bucket_indexes(values), minlength=ostrich.NUM_BUCKETS)
            total += hist
            d = ostrich.distribution(hist, int(values.sum()))
            rows.append({"lat_count": n, "min": d["minimum"], "max": d["maximum"], "p25": np.nan, "p75": np.nan,
                         **{k: d[k] for k in ("p50", "p90", "p95", "p99", "p999", "p9999")}})
        merged = quantiles.merge_quantiles(pd.DataFrame(rows))
        for q, (fig, lo, hi) in merged.items():
            exact = ostrich.percentile(total, q)
            assert lo <= exact <= hi, f"trial {trial} q={q}: exact {exact} outside [{lo}, {hi}]"
            assert lo <= fig <= hi


# --- tables, window, rate check -------------------------------------------------------------------

def steady_run(tmp_path, minutes: int = 9, asked: float | None = None, depth: int = 500):
    """Minute 0 partial (60 req), then 6000/min with 10 HTTP 500 and 5 timeouts, last minute partial."""
    recs = [minute_rec(T0, {"client/requests": 60, "client/success": 60, "200": 60, "requests_sent": 60},
                       ones(80, 60))]
    for i in range(1, minutes - 1):
        counters = {"client/requests": 6000, "client/success": 5995, "200": 5985, "500": 10,
                    "client/failures": 5, "requests_sent": 6000,
                    "client/failures/com.twitter.finagle.IndividualRequestTimeoutException": 5}
        recs.append(minute_rec(T0 + 60 * i, counters, ones(80, 6000), queue_depth=depth))
    recs.append(minute_rec(T0 + 60 * (minutes - 1), {"client/requests": 3000, "client/success": 3000,
                                                      "200": 3000, "requests_sent": 3000}, ones(80, 3000)))
    write(tmp_path, recs)
    if asked:
        (tmp_path / "run.json").write_text(json.dumps({"rate": asked}))
    return parse.load(tmp_path)


def test_default_window_skips_partial_first_minute_ramp_and_partial_last_minute(tmp_path):
    run = steady_run(tmp_path)
    table = windows.per_minute(run.entries)
    start, end, notes = windows.default_window(table)
    assert start == T0 + 300, "first minute (partial) + 240 s ramp rounded to minutes"
    assert end == T0 + 8 * 60, "the last minute with traffic is excluded"
    assert "240 s" in notes[0]


def test_window_counts_and_error_rate_by_hand(tmp_path):
    run = steady_run(tmp_path, asked=100)
    s = windows.window_summary(run, T0 + 300, T0 + 480, asked_rate=100)
    # minutes 5, 6, 7: 3 x 6000 requests
    assert s["minutes"] == 3 and s["requests"] == 18000
    assert s["throughput_rps"] == pytest.approx(100.0)
    # errors: 3 x (5 failures + 10 HTTP 500) = 45 of 3 x (5995 + 5) = 18000 attempts
    assert s["errors"] == 45 and s["error_rate"] == pytest.approx(45 / 18000)
    assert s["status_counts"] == {"200": 17955, "500": 30}
    assert s["mean_ms"] == pytest.approx(80.0)
    assert s["p95_ms"] == ostrich.midpoint(ostrich.bucket_index(80)) == 77
    assert not s["rate_shortfall"] and not s["queue_starved"]


def test_rates_are_over_the_minutes_pulled_not_over_a_gap(tmp_path):
    """A minute iago served but nobody pulled (puller down > 1 h, so no /graph_data backfill)
    is unknown, not zero traffic: the rate over the window must not drop, nor flag a shortfall."""
    steady_run(tmp_path, asked=100)
    lines = (tmp_path / "samples.jsonl").read_text().splitlines()
    kept = [line for line in lines if json.loads(line)["minute"] != T0 + 360]
    (tmp_path / "samples.jsonl").write_text("\n".join(kept) + "\n")
    run = parse.load(tmp_path)
    s = windows.window_summary(run, T0 + 300, T0 + 480, asked_rate=100)
    assert s["minutes"] == 2 and s["requests"] == 12000
    assert s["throughput_rps"] == pytest.approx(100.0), "12000 requests in the 2 minutes pulled = 100 req/s"
    assert s["offered_rps"] == pytest.approx(100.0)
    assert not s["rate_shortfall"], "a gap in the pulled data is not a generator shortfall"
    assert s["missing_minutes"] == 1, "the minute without data is counted and reported"


def test_shortfall_and_starvation_flags(tmp_path):
    run = steady_run(tmp_path, depth=0)
    s = windows.window_summary(run, T0 + 300, T0 + 480, asked_rate=200)
    assert s["rate_shortfall"] and s["rate_ratio"] == pytest.approx(0.5)
    assert s["queue_starved"], "queue_depth 0 while short of the asked rate = generator starved"
    ok = windows.window_summary(run, T0 + 300, T0 + 480, asked_rate=104)
    assert not ok["rate_shortfall"], "100 of 104 req/s is within 5%"


def test_two_instances_add_counts_exactly(tmp_path):
    b = "http://iago-2:9994"
    recs = []
    for i in range(3):
        recs.append(minute_rec(T0 + 60 * i, {"client/requests": 1000, "client/success": 1000, "200": 1000}, ones(50, 1000)))
        recs.append(minute_rec(T0 + 60 * i, {"client/requests": 3000, "client/success": 3000, "200": 3000},
                               ones(200, 3000), instance=b, epoch=EPOCH + 5))
    write(tmp_path, recs)
    run = parse.load(tmp_path)
    table = windows.per_minute(run.entries)
    assert list(table["requests"]) == [4000, 4000, 4000]
    # each minute mixes 1000 at 50 ms with 3000 at 200 ms: p50 and p95 are in the 200 ms bucket
    assert list(table["p50"]) == [192, 192, 192] and list(table["p95"]) == [192, 192, 192]
    s = windows.window_summary(run, T0, T0 + 180)
    assert s["requests"] == 12000 and s["throughput_rps"] == pytest.approx(12000 / 180)
    # 50 ms is in [50, 55) -> 52; 200 ms is in [183, 202) -> 192
    assert s["per_instance"][URL]["p95_ms"] == 52 and s["per_instance"][b]["p95_ms"] == 192
    # 3/4 of the requests are at 200 ms, so p50 of the combination is exactly in that bucket
    assert s["p50_ms"] == 192 and s["p50_ms_bounds"] == [192, 192]


def test_duplicate_minutes_from_two_pullers_count_once(tmp_path):
    rec = minute_rec(T0, {"client/requests": 100}, ones(80, 100))
    write(tmp_path, [rec, rec])
    run = parse.load(tmp_path)
    assert int(windows.per_minute(run.entries)["requests"].sum()) == 100


def test_graph_backfill_fills_a_missing_minute(tmp_path):
    recs = [minute_rec(T0, {"client/requests": 100}, ones(80, 100)),
            minute_rec(T0 + 120, {"client/requests": 100}, ones(80, 100))]
    ts = [T0 + 61 + 60 * i for i in range(-57, 3)]  # collection stamps; row i covers the minute before
    counts = {T0 - 60 * k: 0.0 for k in range(60)}
    counts.update({T0: 100.0, T0 + 60: 250.0, T0 + 120: 100.0})
    rows_c = [[t, counts.get(t - 61, 0.0)] for t in ts]
    rows_m = [[t] + ([52, 77, 95, 105, 128, 142, 173, 173] if t - 61 == T0 + 60 else [0] * 8) for t in ts]
    for key, rows in (("counter:client/requests", rows_c), ("metric:client/request_latency_ms", rows_m)):
        body = json.dumps({key: rows}).replace("/", "\\/")
        recs.append({"t": T0 + 190.0, "instance": URL, "endpoint": "graph", "status": 200, "key": key,
                     "epoch": EPOCH, "body": body, "url": URL + "/graph_data/" + key})
    write(tmp_path, recs)
    run = parse.load(tmp_path)
    table = windows.per_minute(run.entries)
    # The JVM started at T0 - 20 s: its graph slot for that minute is a real (empty) minute.
    assert list(table.index) == [T0 - 60, T0, T0 + 60, T0 + 120], "the missed minute is back, none doubled"
    assert list(table["requests"]) == [0, 100, 250, 100]
    assert table.loc[T0 + 60, "p95"] == 128 and table.loc[T0 + 60, "source"] == "graph"
    assert any("graph_data" in n for n in run.notes)


def test_parse_time_forms():
    assert windows.parse_time("+5", T0) == T0 + 300
    assert windows.parse_time("2026-05-28T20:32:00Z", T0) == int(pd.Timestamp("2026-05-28T20:32Z").timestamp())
    day = int(pd.Timestamp(T0, unit="s", tz="UTC").normalize().timestamp())
    assert windows.parse_time("10:05", T0) == day + 10 * 3600 + 300


def test_normal_cdf_is_the_standard_librarys():
    from statistics import NormalDist

    z = np.linspace(-8.0, 8.0, 161)
    assert np.array_equal(quantiles.normal_cdf(z), [0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in z])
    assert np.allclose(quantiles.normal_cdf(z), [NormalDist().cdf(v) for v in z], rtol=0, atol=1e-15)


def test_analysis_modules_use_each_others_public_names_only():
    """A `_name` is a module's own: another module reaching for it couples the two in secret."""
    import ast
    from pathlib import Path

    package = Path(quantiles.__file__).parent
    modules = {p.stem for p in package.glob("*.py")}
    wrong = []
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text())
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("analysis"):
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        wrong.append(f"{path.name}: from {node.module} import {a.name}")
                    if a.name in modules:
                        aliases[a.asname or a.name] = a.name
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("analysis."):
                        aliases[a.asname or a.name] = a.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                wrong.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not wrong, wrong
