"""A corpus of bad run directories (tests/bad_runs/<case>/, each with the message it must give):
`report` and `compare` refuse each with one `error:` line naming the file, exit 2, no traceback,
and leave every stored file as it was. Plus property tests of the readers with hypothesis."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from test_analysis_cli import a_run, run_cli

CORPUS = Path(__file__).resolve().parent / "bad_runs"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def _stored(d: Path) -> dict:
    return {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["report", "compare"])
def test_bad_run_directory_gives_one_clear_line(tmp_path, case, command):
    run = tmp_path / case
    shutil.copytree(CORPUS / case, run)
    expect = (run / "expect").read_text().strip()
    before = _stored(run)
    args = [str(run), "--no-plots"] + (["--out", str(tmp_path / "cmp")] if command == "compare" else [])
    rc, out, err = run_cli(command, *args)
    assert rc == 2, f"{case}: {command} exited {rc}: {out[-300:]} {err[-300:]}"
    lines = [l for l in err.splitlines() if not l.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{case}: {err!r}"
    assert expect in lines[0], f"{case}: expected {expect!r} in {lines[0]!r}"
    assert _stored(run) == before, f"{case}: {command} modified the run directory"


def test_corpus_covers_each_kind_of_bad_input():
    assert len(CASES) >= 20, CASES


# ------------------------------------------------------------------ properties of the readers


def _good(tmp_path_factory) -> tuple[list[bytes], dict]:
    d = tmp_path_factory.mktemp("good")
    a_run(d)
    rc, _, err = run_cli("report", str(d), "--no-plots")
    assert rc == 0, err
    lines = [l for l in (d / "samples.jsonl").read_bytes().split(b"\n") if l.strip()]
    return lines, json.loads((d / "summary.json").read_text())


FIGURES = ("requests", "throughput_rps", "error_rate", "p50_ms", "p95_ms", "p99_ms", "max_ms", "minutes")


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return _good(tmp_path_factory)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), duplicates=st.integers(0, 8), torn=st.booleans())
def test_reordered_duplicated_and_torn_samples_give_the_clean_figures(tmp_path_factory, good, seed, duplicates, torn):
    """Minutes are keyed by (epoch, minute): order and repeats do not matter, and a torn last line
    (a crash mid-write) of a repeated record loses nothing."""
    lines, clean = good
    rng = random.Random(seed)
    shuffled = lines + [rng.choice(lines) for _ in range(duplicates)]
    rng.shuffle(shuffled)
    data = b"\n".join(shuffled) + b"\n"
    if torn:
        extra = rng.choice(lines)
        data += extra[: rng.randrange(1, len(extra))]
    d = tmp_path_factory.mktemp("mixed")
    (d / "samples.jsonl").write_bytes(data)
    rc, _, err = run_cli("report", str(d), "--no-plots")
    assert rc == 0, err
    got = json.loads((d / "summary.json").read_text())
    assert {k: got[k] for k in FIGURES} == {k: clean[k] for k in FIGURES}


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                     lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
                     max_leaves=6)
FIELDS = ("t", "endpoint", "status", "body", "instance", "epoch", "minute")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS + ("counters", "gauges", "metrics", "run.json", "rate")), value=_JSON,
       line=st.integers(0, 7))
# Found by this test: a counter named "\r" split the error line in two.
@example(field="counters", value={"\r": None}, line=1)
@example(field="metrics", value={"a\nb": {"p95\n": "x"}}, line=1)
def test_any_wrong_value_gives_a_report_or_one_clear_line(tmp_path_factory, good, field, value, line):
    lines, _ = good
    records = [json.loads(l) for l in lines]
    d = tmp_path_factory.mktemp("wrong")
    rec = records[line]
    if field in ("counters", "gauges", "metrics"):
        body = json.loads(rec["body"])
        body[field] = value
        rec["body"] = json.dumps(body)
    elif field == "run.json":
        (d / "run.json").write_text(json.dumps(value))
    elif field == "rate":
        (d / "run.json").write_text(json.dumps({"rate": value}))
    else:
        rec[field] = value
    (d / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    rc, out, err = run_cli("report", str(d), "--no-plots")
    lines_err = [l for l in err.splitlines() if not l.startswith("warning: ")]
    assert rc == 0 or (rc == 2 and len(lines_err) == 1 and lines_err[0].startswith("error: ")), (field, value, err)
