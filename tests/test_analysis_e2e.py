"""End to end: the real CLI pulls from the fake iago over HTTP, then reports; numbers must match
what the fake served (its ground truth keeps every latched minute's full histogram)."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import ostrich, parse, windows
from analysis.__main__ import main
from fake_iago import REFUSED_EXC, TIMEOUT_EXC, FakeIago, Profile, lognormal

SPEED = 300.0  # one simulated minute = 0.2 s
FAST = ["--timeout", "0.25", "--retry-backoff", "0"]


def pull(out: Path, fakes: list[FakeIago], script, *args: str) -> str:
    """Run `python -m analysis pull` against the fakes while `script(fakes)` plays the load test."""
    thread = threading.Thread(target=script, args=(fakes,), daemon=True)
    thread.start()
    err = io.StringIO()
    urls = [a for f in fakes for a in ("--url", f.url)]
    rc = main(["pull", *urls, "--out", str(out), *FAST, *args], clock=fakes[0].clock, sleep=fakes[0].sleep,
              stderr=err)
    thread.join(timeout=30)
    assert rc == 0, f"pull exited {rc}: {err.getvalue()[-2000:]}"
    return err.getvalue()


def report(run: Path, *args: str) -> tuple[dict, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(["report", str(run), *args], stdout=out, stderr=err)
    assert rc == 0, f"report exited {rc}: {err.getvalue()}"
    return json.loads((run / "summary.json").read_text()), out.getvalue()


def window(summary: dict) -> tuple[int, int]:
    return (int(pd.Timestamp(summary["window_start"]).timestamp()),
            int(pd.Timestamp(summary["window_end"]).timestamp()))


def stored_minute_keys(run: Path) -> list[tuple]:
    recs = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines() if line.strip()]
    return [(r["instance"], r["epoch"], r["minute"]) for r in recs if r["endpoint"] == "minute" and "minute" in r]


def assert_matches_truth(run: Path, fakes: list[FakeIago], summary: dict) -> None:
    """Every latched minute's counts equal the report's, and the window figures equal one histogram's."""
    table = windows.per_minute(parse.load(run).entries)
    truth_by_minute = Counter()
    for f in fakes:
        for m in f.minutes:
            truth_by_minute[m["minute"]] += m["counters"].get("client/requests", 0)
    for minute, requests in truth_by_minute.items():
        got = int(table["requests"].get(minute, -1))
        assert got == requests, f"minute {minute}: report has {got} requests, iago served {requests} (lost or duplicated)"
    start, end = window(summary)
    hist = np.zeros(ostrich.NUM_BUCKETS, dtype=np.int64)
    requests = 0
    for f in fakes:
        t = f.truth(start, end)
        requests += t["count"]
        hist += sum((m["hist"] for m in f.minutes if start <= m["minute"] < end), np.zeros_like(hist))
    assert summary["requests"] == requests, f"window requests {summary['requests']} != served {requests}"
    assert summary["throughput_rps"] == pytest.approx(requests / (end - start))
    for q, key in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
        exact = ostrich.percentile(hist, q)
        lo, hi = summary[key + "_bounds"]
        assert lo <= exact <= hi, f"{key}: window histogram says {exact}, outside the stated bracket [{lo}, {hi}]"
        assert abs(ostrich.bucket_of_reported(summary[key]) - ostrich.bucket_of_reported(exact)) <= 1, (
            f"{key}: report {summary[key]} is more than one Ostrich bucket from the window's {exact}")
    if summary["max_is_lower_bound"]:
        assert summary["max_ms"] <= ostrich.maximum(hist), "a max from /graph_data minutes (p99.99) is a lower bound"
    else:
        assert summary["max_ms"] == ostrich.maximum(hist), "max over the window is the largest per-minute max"


def _end_after(sim_seconds: float, graceful: bool = True):
    def script(fakes):
        fakes[0].sleep(sim_seconds)
        for f in fakes:
            f.end_run(graceful=graceful)
    return script


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A 10-minute run at 100 req/s with 1% HTTP 500, 0.2% timeouts and 0.1% refused connections."""
    run = tmp_path_factory.mktemp("clean") / "run"
    profile = Profile(rate=100, status_mix={200: 0.99, 500: 0.01}, timeout_frac=0.002, refused_frac=0.001)
    with FakeIago(profile, speed=SPEED) as fake:
        log = pull(run, [fake], _end_after(600), "--rate", "100", "--gone-after", "60")
    summary, printed = report(run)
    return run, fake, summary, printed, log


def test_clean_run_report_matches_what_iago_served(clean):
    run, fake, summary, _, _ = clean
    assert_matches_truth(run, [fake], summary)
    assert summary["p95_ms_bounds"][0] == summary["p95_ms_bounds"][1], (
        "steady state: every minute's p95 in one bucket, so the window p95 is exact")


def test_startup_latch_is_not_reported_as_a_minute(clean):
    run, fake, *_ = clean
    table = windows.per_minute(parse.load(run).entries)
    jvm_start = fake.minutes[0]["epoch"] / 1000.0
    assert table.index.min() + 60 > jvm_start, (
        f"per-minute table starts at {table.index.min()}, a minute that ended before iago's JVM started "
        f"({jvm_start}): the latch Ostrich takes at startup was reported as a minute")


def test_clean_run_window_excludes_ramp_and_partial_minutes(clean):
    run, fake, summary, _, _ = clean
    first_traffic = min(m["minute"] for m in fake.minutes if m["counters"].get("client/requests"))
    last_traffic = max(m["minute"] for m in fake.minutes if m["counters"].get("client/requests"))
    start, end = window(summary)
    assert start == first_traffic + 300, "steady state starts after the partial first minute and the 240 s ramp"
    assert end == last_traffic, "the last (partial) minute with traffic is excluded"
    assert summary["minutes"] == (end - start) // 60


def test_clean_run_errors_count_failures_and_non_2xx(clean):
    run, fake, summary, _, _ = clean
    t = fake.truth(*window(summary))["counters"]
    errors = t["client/failures"] + t["500"]
    assert summary["errors"] == errors
    assert summary["error_rate"] == pytest.approx(errors / (t["client/success"] + t["client/failures"]))
    assert summary["failure_counts"] == {TIMEOUT_EXC: t[f"client/failures/{TIMEOUT_EXC}"],
                                         REFUSED_EXC: t[f"client/failures/{REFUSED_EXC}"]}
    assert t[f"client/failures/{REFUSED_EXC}"] > 0 and t[f"client/failures/{TIMEOUT_EXC}"] > 0
    # refused connections never reach client/requests: throughput counts completions only
    assert summary["requests"] == t["client/requests"] == t["client/success"] + t[f"client/failures/{TIMEOUT_EXC}"]
    assert summary["status_counts"] == {"200": t["200"], "500": t["500"]}
    # timeouts are recorded at 30 s by Finagle -> bucket midpoint 31568
    assert summary["max_ms"] == 31568


def test_clean_run_outputs_and_summary_keys(clean):
    run, _, summary, printed, log = clean
    for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "throughput_rps", "error_rate", "minutes",
                "window_start", "window_end"):
        assert summary.get(key) is not None, f"summary.json lacks {key}"
    text = (run / "report.md").read_text()
    assert "How the figures are computed" in text and "seed (2016)" in text and "~100" in text
    assert "| minute (UTC) |" in text, "report.md has the per-minute table"
    for png in ("latency_p95.png", "latency_p99.png", "throughput.png", "errors.png"):
        assert (run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
    assert "p95" in printed and "throughput" in printed, "report prints the summary"
    assert "RATE SHORTFALL" not in text, "100 req/s asked and delivered: no shortfall flag"
    assert "run ended" in log, "the puller stops by itself once iago is gone"
    assert re.search(r"\rpull: \d+ minutes \| p95 \d+ ms \| iago errors last minute \d+ \| failed polls \d+", log), (
        "progress is one line rewritten in place: minutes pulled, current p95, errors")
    meta = json.loads((run / "run.json").read_text())
    assert meta["rate"] == 100 and meta["pulls"][0]["reason"].startswith("iago gone")


def test_puller_adds_negligible_load_and_stores_each_minute_once(clean):
    run, fake, _, _, _ = clean
    keys = stored_minute_keys(run)
    assert len(keys) == len(set(keys)), "a latched minute was stored twice"
    sim_minutes = (fake.clock() - fake.state.start) / 60
    per_minute = sum(fake.requests_served.values()) / sim_minutes
    assert per_minute <= 8, f"puller made {per_minute:.1f} admin requests a minute; must stay a few"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    """500s before the first latch, a 5xx burst, slow answers past the timeout, a pause, a restart."""
    run = tmp_path_factory.mktemp("faulty") / "run"

    def script(fakes):
        f = fakes[0]
        f.sleep(200)
        f.fail_next(6)
        f.sleep(100)
        f.slow_next(2, 0.3)  # one dispatcher thread: the two slow answers also hold up the retries
        f.sleep(100)
        f.pause(150)
        f.sleep(300)
        # Restart well after a latch: a minute latched seconds before a restart is lost by iago
        # itself (its graph resets too); only the stats log on the pod would still have it.
        f.sleep_until((f.clock() // 60 + 1) * 60 + 45)
        f.restart(downtime_s=30)
        f.sleep(420)
        f.sleep_until((f.clock() // 60 + 1) * 60 + 30)
        f.end_run(graceful=False)

    with FakeIago(Profile(rate=80), speed=SPEED, stats_500_until_first_latch=True) as fake:
        log = pull(run, [fake], script, "--rate", "80", "--gone-after", "400")
    summary, _ = report(run)
    return run, fake, summary, log


def test_faults_lose_and_duplicate_nothing(faulty):
    run, fake, summary, log = faulty
    assert_matches_truth(run, [fake], summary)
    keys = stored_minute_keys(run)
    assert len(keys) == len(set(keys)), "a minute was stored twice through the faults"
    assert summary["epochs"] == 2, "the restart is seen as a new JVM epoch"
    assert summary["restarts_in_window"], "the restart inside the steady-state window is flagged"
    assert "RESTARTED" in (run / "report.md").read_text().split("## How")[0]


def test_faults_are_reported_on_stderr_and_backfilled(faulty):
    run, fake, summary, log = faulty
    assert "retrying" in log and "back after" in log, "the puller says when it backs off and recovers"
    assert "restarted" in log, "the puller notices the restart (jvm_start_time changed)"
    assert "backfilled" in log, "minutes missed during the pause come from /graph_data"
    run_data = parse.load(run)
    assert (run_data.entries["source"] == "graph").any()
    assert run_data.failed_attempts > 0


@pytest.fixture(scope="module")
def two_short(tmp_path_factory):
    """Two iago instances, each at 35 req/s of the 100 asked, with an empty send queue."""
    run = tmp_path_factory.mktemp("two") / "run"
    starved = dict(rate=35, queue_depth=lambda second: 0)
    with FakeIago(Profile(latency=lognormal(60, 0.3), **starved), speed=SPEED) as a, \
            FakeIago(Profile(latency=lognormal(150, 0.3), **starved), same_clock_as=a, seed=2) as b:
        pull(run, [a, b], _end_after(600), "--rate", "100", "--gone-after", "60")
    summary, _ = report(run)
    return run, [a, b], summary


def test_several_instances_add_counts_exactly_and_bracket_percentiles(two_short):
    run, fakes, summary = two_short
    assert_matches_truth(run, fakes, summary)
    start, end = window(summary)
    for fake in fakes:
        inst = summary["per_instance"][fake.url]
        truth = fake.truth(start, end)
        assert inst["requests"] == truth["count"]
        assert inst["p95_ms"] == truth["p95"], f"{fake.url}: its own p95 over the window is exact in steady state"
    text = (run / "report.md").read_text()
    assert "## Per instance" in text and "cannot be merged exactly" in text


def test_shortfall_and_starved_queue_are_flagged_at_the_top(two_short):
    run, _, summary = two_short
    assert summary["rate_shortfall"] and summary["queue_starved"]
    head = (run / "report.md").read_text().split("## How")[0]
    assert "RATE SHORTFALL" in head and "STARVED SEND QUEUE" in head


def test_compare_lists_runs_side_by_side(clean, two_short, tmp_path):
    out = io.StringIO()
    rc = main(["compare", str(clean[0]), str(two_short[0]), "--out", str(tmp_path)], stdout=out)
    assert rc == 0
    text = (tmp_path / "compare.md").read_text()
    assert str(clean[0]) in text and str(two_short[0]) in text
    assert "SHORTFALL" in text, "the short run is marked in the comparison"
    assert (tmp_path / "compare.png").read_bytes()[:4] == b"\x89PNG"
    p95 = f"| {clean[2]['p95_ms']} |"
    assert p95 in out.getvalue(), "the printed table shows each run's p95"


def test_repull_into_same_directory_appends_without_duplicates(tmp_path):
    run = tmp_path / "run"
    with FakeIago(Profile(rate=50), speed=SPEED) as fake:
        pull(run, [fake], lambda fakes: None, "--minutes", "5")
        pull(run, [fake], _end_after(240), "--gone-after", "60")
    keys = stored_minute_keys(run)
    assert len(keys) == len(set(keys)), "the second pull stored a minute the first already had"
    summary, _ = report(run, "--from", "+0", "--to", "+9")
    table = windows.per_minute(parse.load(run).entries)
    for m in fake.minutes:
        assert table["requests"].get(m["minute"]) == m["counters"].get("client/requests", 0)
    assert len(json.loads((run / "run.json").read_text())["pulls"]) == 2


def test_stack_option_reads_urls_and_rate_from_pulumi(tmp_path, monkeypatch):
    with FakeIago(Profile(rate=20), speed=SPEED) as fake:
        bindir = tmp_path / "bin"
        bindir.mkdir()
        exe = bindir / "pulumi"
        outputs = {"iagoAdminUrls": [fake.url], "requestRate": 20, "instanceType": "m5.large"}
        exe.write_text("#!/bin/sh\n"
                       'test "$1 $2 $3 $4 $5" = "stack output --json --stack bench" || exit 3\n'
                       f"echo '{json.dumps(outputs)}'\n")
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
        run = tmp_path / "run"
        rc = main(["pull", "--stack", "bench", "--out", str(run), "--minutes", "3", *FAST],
                  clock=fake.clock, sleep=fake.sleep, stderr=io.StringIO())
    assert rc == 0
    meta = json.loads((run / "run.json").read_text())
    assert meta["instances"] == [fake.url] and meta["rate"] == 20 and meta["stack"] == "bench"
    assert meta["config"]["instanceType"] == "m5.large"
    assert stored_minute_keys(run), "minutes were pulled from the URL the stack named"


def test_stack_without_iago_output_is_a_clear_error(tmp_path, monkeypatch):
    exe = tmp_path / "pulumi"
    exe.write_text("#!/bin/sh\necho '{\"seldonUrl\": \"http://x\"}'\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    err = io.StringIO()
    rc = main(["pull", "--stack", "bench", "--out", str(tmp_path / "r")], stderr=err)
    assert rc == 2 and "no iagoAdminUrls/iagoAdminUrl output" in err.getvalue()


def test_ctrl_c_flushes_and_exits_zero(tmp_path):
    with FakeIago(Profile(rate=20), speed=SPEED) as fake:
        sleep = fake.ctrl_c_at_sleep(12)
        run = tmp_path / "run"
        err = io.StringIO()
        rc = main(["pull", "--url", fake.url, "--out", str(run), *FAST], clock=fake.clock, sleep=sleep, stderr=err)
    assert rc == 0, "Ctrl-C is a normal way to stop pulling"
    assert "interrupted" in err.getvalue()
    meta = json.loads((run / "run.json").read_text())
    assert meta["pulls"][-1]["reason"].startswith("interrupted")
    lines = (run / "samples.jsonl").read_text().splitlines()
    assert len(lines) >= 10 and all(json.loads(line)["body"] is not None for line in lines)


def test_puller_started_late_backfills_the_last_hour(tmp_path):
    run = tmp_path / "run"
    with FakeIago(Profile(rate=40), speed=SPEED) as fake:
        fake.sleep(7 * 60)  # the load test has been running for 7 minutes before anyone pulls
        log = pull(run, [fake], _end_after(240), "--gone-after", "60")
    assert "backfilled" in log
    table = windows.per_minute(parse.load(run).entries)
    for m in fake.minutes:
        assert table["requests"].get(m["minute"]) == m["counters"].get("client/requests", 0), (
            f"minute {m['minute']} latched before the pull started is missing or wrong")
    early = table[table.index < fake.minutes[5]["minute"]]
    assert (early["source"] == "graph").all() and early["p95"].notna().any(), (
        "minutes before the pull come from /graph_data with their percentiles")


def test_startup_latch_in_the_minute_after_jvm_start_is_not_a_minute(tmp_path):
    """iago builds its admin service (and Ostrich's startup latch) after compiling its config:
    a JVM started at hh:mm:55 latches at hh:mm+1:05, so the latch's key is a minute that ended
    after the JVM started. It is still not a minute: it is told apart by its instant."""
    start = 1_780_000_020 + 55  # hh:mm:55
    run = tmp_path / "run"
    with FakeIago(Profile(rate=40), speed=SPEED, start=start, admin_delay=10, traffic_delay=15) as fake:
        startup = fake.state.latched
        log = pull(run, [fake], _end_after(200), "--gone-after", "60")
    assert startup["gauges"]["jvm_uptime"] == 10_000 and (start + 10) % 60 == 5
    entries = parse.load(run).entries
    table = windows.per_minute(entries)
    first = fake.minutes[0]["minute"]
    assert table.index.min() == first == 1_780_000_080, (
        f"per-minute table starts at {table.index.min()}, the startup latch's key 1780000020 "
        f"(iago's first real minute is {first}): {log[-500:]}")
    assert sorted(table.index) == [m["minute"] for m in fake.minutes if m["minute"] in set(table.index)]


@pytest.mark.parametrize("latch_second,uptime_s,startup", [
    (1.2, 3600.0, False),   # a periodic latch, hh:mm:01
    (1.4, 6.0, False),      # the first periodic latch, seconds after JVM start
    (8.0, 3600.0, False),   # a periodic latch delayed by a busy JVM, long after start: kept
    (5.0, 10.0, True),      # the startup latch in the minute after JVM start (hh:mm:05)
    (42.0, 0.5, True),      # the startup latch in the JVM's first minute
])
def test_startup_latch_is_told_apart_by_its_instant(latch_second, uptime_s, startup):
    from analysis import samples

    latch = 1_780_000_080 + latch_second
    body = {"gauges": {"jvm_start_time": int((latch - uptime_s) * 1000), "jvm_uptime": int(uptime_s * 1000)}}
    assert samples.latch_instant(body) == pytest.approx(latch, abs=0.002)
    assert samples.is_startup_latch(body) is startup
