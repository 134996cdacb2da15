"""The API prober: answers Seldon gives with HTTP 200 but that are failures, told apart."""

from __future__ import annotations

import json

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


# ------------------------------------------------------------------ end to end: pull, then report

from fake_iago import FakeIago, Profile  # noqa: E402
from test_analysis_e2e import SPEED, _end_after, pull, report  # noqa: E402


def _probed_run(tmp_path, mode: str, switch_to: str | None = None):
    run = tmp_path / "run"
    with FakeSeldonApi(mode) as api, FakeIago(Profile(rate=50), speed=SPEED) as fake:
        def script(fakes):
            if switch_to:
                fakes[0].sleep(300)
                api.mode = switch_to
            _end_after(600 if not switch_to else 300)(fakes)
        log = pull(run, [fake], script, "--rate", "50", "--gone-after", "60",
                   "--api-url", api.url, "--api-key", "BENCHKEY", "--probe-interval", "5")
        asked = list(api.requests)
    summary, printed = report(run, "--no-plots")
    return run, summary, printed, log, asked


def test_a_run_whose_api_answers_errors_with_200_is_not_a_valid_benchmark(tmp_path):
    run, summary, printed, log, asked = _probed_run(tmp_path, "error")
    assert summary["errors"] == 0, "iago itself sees no errors: that is the point"
    # the steady-state window (6 of the 10 minutes, ramp left out) at one probe per 5 s: at most
    # 6 x 12, and at least one a minute however loaded the machine running the test is
    assert 6 <= summary["api_probes"] <= 6 * 12 + 1 and summary["api_errors"] == summary["api_probes"], summary
    assert summary["api_error_rate"] == 1.0 and summary["api_errors_valid"] is False
    assert summary["api_error_counts"] == {"api_error": summary["api_probes"]}
    top = (run / "report.md").read_text().splitlines()[1]
    assert top.startswith("> **NOT A VALID BENCHMARK") and "HTTP 200" in top, top
    assert "NOT A VALID BENCHMARK" in printed
    assert "API probe: api_error (error 7: Invalid consumer key)" in log
    assert all(a["consumer_key"] == "BENCHKEY" and a["user"] == "625" for a in asked)


def test_a_healthy_api_is_probed_lightly_and_raises_no_flag(tmp_path):
    run, summary, printed, log, asked = _probed_run(tmp_path, "ok")
    assert summary["api_error_rate"] == 0.0 and summary["api_errors_valid"] is True
    assert summary["api_error_counts"] == {}
    assert "API error" not in "\n".join(l for l in (run / "report.md").read_text().splitlines() if l.startswith(">"))
    # ~10.5 simulated minutes at one probe per 5 s, only while iago is there: never more than
    # that, and (however loaded the machine running the test, which slows a probe against the
    # 300x clock) at least one probe in every minute of the run.
    assert len(asked) <= 140, len(asked)
    probes = [json.loads(l) for l in (run / "samples.jsonl").read_text().splitlines()]
    times = sorted(r["t"] for r in probes if r.get("endpoint") == "probe")
    iago = sorted(r["t"] for r in probes if r.get("endpoint") != "probe" and r.get("status") == 200)
    assert len(times) == len(asked), "every probe is stored"
    assert times[0] - iago[0] <= 60 and iago[-1] - times[-1] <= 60, "probes start and stop with iago"
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 4.5, f"probes closer than the 5 s interval: {min(gaps):.1f} s"
    assert max(gaps) <= 60, f"a minute of the run without a probe: {max(gaps):.1f} s"
    assert "API errors 0/" in log


def test_api_errors_in_part_of_the_run_are_counted_in_the_window_only(tmp_path):
    run, summary, printed, log, asked = _probed_run(tmp_path, "ok", switch_to="empty")
    assert 0 < summary["api_errors"] < summary["api_probes"], summary
    assert summary["api_error_counts"].keys() == {"empty"}
    everything = prober.summarise([r for r in map(__import__("json").loads,
                                                  (run / "samples.jsonl").read_text().splitlines())])
    assert everything.answered >= summary["api_probes"], "the window holds at most every probe"


def test_without_a_probe_the_report_says_api_errors_are_unknown(tmp_path):
    run = tmp_path / "run"
    with FakeIago(Profile(rate=50), speed=SPEED) as fake:
        log = pull(run, [fake], _end_after(240), "--rate", "50", "--gone-after", "60")
    summary, _ = report(run, "--no-plots")
    assert summary["api_error_rate"] is None and summary["api_errors_valid"] is None
    assert "no API probe" in log
    assert "API errors unknown" in (run / "report.md").read_text()


def test_compare_marks_a_run_that_measured_api_errors(tmp_path):
    from analysis import compare

    good = {"run": "a", "label": "a", "api_errors_valid": True, "api_restarted_in_window": False}
    bad = {"run": "b", "label": "b", "api_errors_valid": False, "api_restarted_in_window": True,
           "restarts_in_window": ["2026-01-01T00:00:00+00:00"]}
    wide = compare.table([good, bad])
    assert compare.checks(wide.loc["a"]) == []
    assert compare.checks(wide.loc["b"]) == ["API-ERRORS", "API-RESTART", "IAGO-RESTART"]
    table = compare.table_md([good, bad])
    assert "| ok |" in table and "API-ERRORS API-RESTART IAGO-RESTART" in table
