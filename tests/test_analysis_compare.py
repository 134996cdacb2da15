"""summary.json's samples (PerfKitBenchmarker's shape) and `compare` as a pivot of them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from analysis import compare, results
from test_analysis_cli import a_run, run_cli
from test_analysis_statistics import EPOCH, T0, URL, minute_rec, ones, write

README = Path(__file__).resolve().parent.parent / "README.md"


def reported(path: Path, **meta) -> dict:
    a_run(path)
    if meta:
        (path / "run.json").write_text(json.dumps(meta))
    rc, _, err = run_cli("report", str(path), "--no-plots")
    assert rc == 0, err
    return json.loads((path / "summary.json").read_text())


def test_summary_holds_its_figures_as_tidy_samples(tmp_path):
    s = reported(tmp_path / "bench-1", stack="bench", rate=10)
    rows = s["samples"]
    assert rows and all(set(r) == {"metric", "value", "unit", "labels", "timestamp"} for r in rows), rows[:2]
    by_metric = {r["metric"]: r for r in rows}
    assert by_metric["throughput"]["value"] == s["throughput_rps"] == 10.0
    assert by_metric["throughput"]["unit"] == "req/s"
    assert by_metric["latency_p95"]["value"] == s["p95_ms"] and by_metric["latency_p95"]["unit"] == "ms"
    assert [by_metric["latency_p95_low"]["value"], by_metric["latency_p95_high"]["value"]] == s["p95_ms_bounds"]
    assert by_metric["requests"]["value"] == s["requests"] and by_metric["minutes"]["value"] == s["minutes"]
    assert by_metric["rate_shortfall"] == {**by_metric["rate_shortfall"], "value": 0.0, "unit": "flag"}
    assert by_metric["asked_rate"]["value"] == 10.0
    assert by_metric["requests"]["labels"] == {"run": "bench-1", "stack": "bench", "instance": "all",
                                               "window": f"{s['window_start']}/{s['window_end']}"}
    end = pd.Timestamp(s["window_end"]).timestamp()
    assert {r["timestamp"] for r in rows} == {end}, "every figure is stamped with the window's end"
    assert "latency_mean" not in by_metric or s["mean_ms"] is not None
    unknown = [k for k in ("api_error_rate", "api_restarts_in_window") if s[k] is None]
    assert unknown and not {"api_error_rate", "api_restarts_in_window"} & {m for m in by_metric if m in unknown}, (
        "an unknown figure (null in summary.json) has no row, never a 0")


def test_each_instance_has_its_own_rows_beside_the_whole(tmp_path):
    b = "http://iago-2:9994"
    recs = []
    for i in range(8):
        n = 600 if i else 20
        for url, ms, epoch in ((URL, 50, EPOCH), (b, 200, EPOCH + 5)):
            recs.append(minute_rec(T0 + 60 * i, {"client/requests": n, "client/success": n, "200": n}, ones(ms, n),
                                   instance=url, epoch=epoch))
    write(tmp_path, recs)
    rc, _, err = run_cli("report", str(tmp_path), "--no-plots")
    assert rc == 0, err
    s = json.loads((tmp_path / "summary.json").read_text())
    rows = results.frame(s["samples"])
    p95 = rows[rows["metric"] == "latency_p95"].set_index("instance")["value"]
    assert p95.to_dict() == {"all": s["p95_ms"], URL: s["per_instance"][URL]["p95_ms"],
                             b: s["per_instance"][b]["p95_ms"]}
    assert p95[URL] == 52 and p95[b] == 192


def test_compare_is_the_pivot_of_the_runs_samples(tmp_path):
    one = reported(tmp_path / "bench", stack="bench", rate=10)
    two = reported(tmp_path / "bench-api4", stack="bench-api4", rate=20)
    runs = compare.summaries([tmp_path / "bench", tmp_path / "bench-api4"])
    rows = compare.frame(runs)
    assert len(rows) == len(one["samples"]) + len(two["samples"]), "several runs' samples concatenate"
    assert set(rows["run"]) == {str(tmp_path / "bench"), str(tmp_path / "bench-api4")}
    wide = compare.table(runs)
    assert list(wide.index) == [str(tmp_path / "bench"), str(tmp_path / "bench-api4")], "runs in the order given"
    assert wide.loc[str(tmp_path / "bench"), "latency_p95"] == one["p95_ms"]
    assert wide.loc[str(tmp_path / "bench-api4"), "asked_rate"] == 20.0
    assert compare.checks(wide.loc[str(tmp_path / "bench-api4")]) == ["SHORTFALL"], "10 of 20 req/s asked"


def test_a_summary_without_samples_compares_the_same(tmp_path):
    """summary.json files written before samples existed: their rows come from their keys."""
    reported(tmp_path / "new", stack="bench", rate=10)
    old = tmp_path / "old"
    a_run(old)
    (old / "run.json").write_text(json.dumps({"stack": "bench", "rate": 10}))
    s = json.loads((tmp_path / "new" / "summary.json").read_text())
    del s["samples"]
    s["run"] = "old"
    (old / "summary.json").write_text(json.dumps(s))
    rc, printed, err = run_cli("compare", str(tmp_path / "new"), str(old), "--no-plots", "--out", str(tmp_path))
    assert rc == 0, err
    new_row, old_row = [line.split("|")[2:] for line in printed.splitlines()[2:]]
    assert new_row == old_row, printed
    assert "samples" not in json.loads((old / "summary.json").read_text()), (
        "compare derives the rows; it does not rewrite the stored summary")


@pytest.mark.parametrize("samples,expected", [
    ("many", "`samples` must be a list of rows, got a string"),
    ([{"metric": "throughput", "value": "fast", "unit": "req/s", "labels": {}}], "`samples` row 1 `value` must be a finite number"),
    ([{"metric": "throughput", "value": 1, "unit": "req/s", "labels": []}], "`samples` row 1 `labels` must be a JSON object"),
    ([{"metric": "throughput", "value": 1, "unit": "req/s", "labels": {"run": 3}}], "`samples` row 1 label run must be a string"),
    ([{"metric": None, "value": 1, "unit": "req/s", "labels": {}}], "`samples` row 1 `metric` must be a string"),
])
def test_bad_samples_in_a_summary_give_one_clear_line(tmp_path, samples, expected):
    s = reported(tmp_path / "run")
    s["samples"] = samples
    (tmp_path / "run" / "summary.json").write_text(json.dumps(s))
    rc, _, err = run_cli("compare", str(tmp_path / "run"), "--no-plots", "--out", str(tmp_path))
    assert rc == 2 and err.count("\n") == 1 and err.startswith(f"error: {tmp_path / 'run' / 'summary.json'}: "), err
    assert expected in err, err


def test_a_bad_window_time_in_a_summary_gives_one_clear_line(tmp_path):
    s = reported(tmp_path / "run")
    del s["samples"]
    s["window_end"] = "yesterday"
    (tmp_path / "run" / "summary.json").write_text(json.dumps(s))
    rc, _, err = run_cli("compare", str(tmp_path / "run"), "--no-plots", "--out", str(tmp_path))
    assert rc == 2 and "`window_end` must be an ISO time" in err and err.count("\n") == 1, err


def test_compare_prints_the_table_the_readme_shows(tmp_path):
    reported(tmp_path / "bench", stack="bench", rate=10)
    rc, printed, err = run_cli("compare", str(tmp_path / "bench"), "--no-plots", "--out", str(tmp_path))
    assert rc == 0, err
    readme = README.read_text()
    shown = re.search(r"```text\n(\| run \| label \|.*?)```", readme, re.S)
    assert shown, "README shows an example of compare's table"
    header, rule, *example = shown.group(1).splitlines()
    assert printed.splitlines()[:2] == [header, rule], printed
    for line in example:
        assert len(line.split("|")) == len(header.split("|")), line
    assert (tmp_path / "compare.md").read_text().startswith("# Runs compared\n\n" + header)


_JSON = hst.recursive(hst.none() | hst.booleans() | hst.integers() | hst.floats() | hst.text(max_size=8)
                      | hst.sampled_from(["2026-06-13T10:05:00Z", "2026-06-13", "0001-01-01T00:00:00+23:59", "nan"]),
                      lambda children: hst.lists(children, max_size=3)
                      | hst.dictionaries(hst.text(max_size=6), children, max_size=3), max_leaves=6)
SUMMARY_KEYS = ("samples", "per_instance", "window_start", "window_end", "p95_ms", "p95_ms_bounds", "label", "stack",
                "restarts_in_window", "rate_shortfall", "throughput_rps")


@pytest.fixture(scope="module")
def a_summary(tmp_path_factory):
    return reported(tmp_path_factory.mktemp("summary") / "run", stack="bench", rate=10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=hst.sampled_from(SUMMARY_KEYS), value=_JSON, row=hst.booleans())
def test_any_wrong_value_in_a_summary_compares_or_gives_one_clear_line(tmp_path_factory, a_summary, key, value, row):
    s = json.loads(json.dumps(a_summary))
    if row and key not in ("samples", "per_instance"):
        field = results.FIELDS[SUMMARY_KEYS.index(key) % len(results.FIELDS)]
        s["samples"][0][field] = value  # a stored row gone wrong
    else:
        s[key] = value
    d = tmp_path_factory.mktemp("cmp")
    (d / "summary.json").write_text(json.dumps(s))
    rc, _, err = run_cli("compare", str(d), "--no-plots", "--out", str(d / "out"))
    assert rc == 0 or (rc == 2 and err.count("\n") == 1 and err.startswith("error: ")), (key, value, err)
