"""The command line on bad input: clear one-line errors, exit code 2, no traceback; torn files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.__main__ import main
from analysis.storage import SampleLog, read_samples
from test_analysis_statistics import T0, minute_rec, ones, write

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(list(argv), stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


def a_run(path: Path, minutes: int = 8) -> Path:
    recs = [minute_rec(T0 + 60 * i, {"client/requests": 600 if i else 20, "client/success": 600 if i else 20,
                                     "200": 600 if i else 20}, ones(90, 600 if i else 20)) for i in range(minutes)]
    write(path, recs)
    return path


@pytest.mark.parametrize("argv", [["--help"], ["pull", "--help"], ["report", "--help"], ["compare", "--help"]])
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "usage: python -m analysis" in capsys.readouterr().out


def test_missing_directory(tmp_path):
    rc, _, err = run_cli("report", str(tmp_path / "nope"))
    assert rc == 2 and "no such run directory" in err


def test_truncated_last_line_is_skipped_with_a_warning_and_nothing_earlier_lost(tmp_path):
    a_run(tmp_path)
    full = (tmp_path / "samples.jsonl").read_bytes()
    rc, _, _ = run_cli("report", str(tmp_path), "--no-plots")
    assert rc == 0
    before = json.loads((tmp_path / "summary.json").read_text())
    extra = json.dumps(minute_rec(T0 + 60 * 8, {"client/requests": 600}, ones(90, 600)))
    (tmp_path / "samples.jsonl").write_bytes(full + extra[: len(extra) // 2].encode())
    rc, _, err = run_cli("report", str(tmp_path), "--no-plots")
    assert rc == 0 and "last line is truncated or corrupt, skipped" in err
    after = json.loads((tmp_path / "summary.json").read_text())
    assert after["requests"] == before["requests"], "the earlier samples all still count"


def test_reopening_a_torn_file_keeps_the_next_record_whole(tmp_path):
    a_run(tmp_path, minutes=2)
    with open(tmp_path / "samples.jsonl", "ab") as f:
        f.write(b'{"t": 1, "url": "http://x", "bo')  # a crash mid-write
    with SampleLog(tmp_path) as log:
        log.append({"t": 2, "endpoint": "cumulative", "status": None, "error": "refused", "body": None})
    with pytest.warns(UserWarning, match="line 3 is truncated"):
        recs = read_samples(tmp_path)
    assert len(recs) == 3 and recs[-1]["t"] == 2


def test_window_override_and_bad_times(tmp_path):
    a_run(tmp_path)
    rc, out, _ = run_cli("report", str(tmp_path), "--from", "+1", "--to", "+3", "--no-plots")
    assert rc == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["minutes"] == 2 and s["requests"] == 1200
    assert "Window set on the command line" in (tmp_path / "report.md").read_text()
    rc, _, err = run_cli("report", str(tmp_path), "--from", "yesterday")
    assert rc == 2 and "cannot read time 'yesterday'" in err
    rc, _, err = run_cli("report", str(tmp_path), "--from", "+3", "--to", "+1")
    assert rc == 2 and "must be after --from" in err


def test_rate_option_overrides_run_json_and_flags_shortfall(tmp_path):
    a_run(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"rate": 10}))
    rc, out, _ = run_cli("report", str(tmp_path), "--no-plots")
    assert rc == 0 and "SHORTFALL" not in out, "600/min = 10 req/s as asked"
    rc, out, _ = run_cli("report", str(tmp_path), "--no-plots", "--rate", "50")
    assert rc == 0 and "RATE SHORTFALL" in out
    assert (tmp_path / "report.md").read_text().index("RATE SHORTFALL") < 200, "flag is at the top"


def test_python_dash_m_exit_code_and_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "analysis", "report", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ pull on bad input

@pytest.mark.parametrize("args,expected", [
    (["--url", "localhost:9994"], "must be an http(s) URL with a host"),
    (["--url", "http://"], "must be an http(s) URL with a host"),
    (["--url", "http://host:port"], "port that is not a number"),
    (["--url", "http://h:9994", "--timeout", "inf"], "must be a finite number > 0"),
    (["--url", "http://h:9994", "--interval", "nan"], "must be a finite number > 0"),
    (["--url", "http://h:9994", "--retry-backoff", "-1"], "must be a finite number >= 0"),
    (["--url", "http://h:9994", "--patience", "0"], "must be a finite number > 0"),
])
def test_pull_refuses_bad_urls_and_numbers_up_front(tmp_path, args, expected, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["pull", *args, "--out", str(tmp_path / "run")])
    assert exc.value.code == 2 and expected in capsys.readouterr().err
    assert not (tmp_path / "run").exists(), "nothing may be created for a refused command"


def test_stack_urls_without_an_address_yet_are_a_clear_error():
    from analysis.stack import StackError, urls_from_outputs

    with pytest.raises(StackError, match="no address yet"):
        urls_from_outputs({"iagoAdminUrls": [""], "iagoAdminUrl": ""}, "bench")
    assert urls_from_outputs({"iagoAdminUrls": ["http://a:9994"]}, "bench") == ["http://a:9994"]


class _NotIago:
    """A web server on 127.0.0.1 that is not iago: it answers every GET with `answer`."""

    def __init__(self, status: int, body: str, content_type: str):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        import threading

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _Clock:
    def __init__(self):
        self.now = 1_780_000_000.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += max(s, 0.0)


@pytest.mark.parametrize("status,body,ctype,got", [
    (200, "<html><body>It works!</body></html>", "text/html", "HTTP 200 that is not JSON (text/html"),
    (404, "not found", "text/plain", "HTTP 404"),
    (500, "oops", "text/plain", "HTTP 500"),
    (200, '{"status": "ok"}', "application/json", "HTTP 200 JSON that is not Ostrich stats"),
])
def test_pull_gives_up_on_a_url_that_never_answered_as_iago(tmp_path, status, body, ctype, got):
    server = _NotIago(status, body, ctype)
    clock = _Clock()
    try:
        out, err = io.StringIO(), io.StringIO()
        rc = main(["pull", "--url", server.url, "--out", str(tmp_path / "run"), "--patience", "120",
                   "--timeout", "2", "--retry-backoff", "0"], clock=clock, sleep=clock.sleep, stdout=out, stderr=err)
    finally:
        server.close()
    assert rc == 1, err.getvalue()
    last = err.getvalue().strip().splitlines()[-1]
    assert "no URL answered as iago" in last and server.url in last and got in last, last
    assert clock.now - 1_780_000_000.0 < 400, "patience is bounded"


def test_pull_gives_up_on_a_refused_url(tmp_path):
    clock = _Clock()
    err = io.StringIO()
    rc = main(["pull", "--url", "http://127.0.0.1:9", "--out", str(tmp_path / "run"), "--patience", "60",
               "--timeout", "1", "--retry-backoff", "0"], clock=clock, sleep=clock.sleep, stderr=err)
    assert rc == 1 and "http://127.0.0.1:9 got ConnectionError" in err.getvalue(), err.getvalue()


def test_pull_does_not_touch_a_run_directory_whose_run_json_is_bad(tmp_path):
    a_run(tmp_path)
    (tmp_path / "run.json").write_text("[1, 2]")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    rc, _, err = run_cli("pull", "--url", "http://127.0.0.1:9", "--out", str(tmp_path))
    assert rc == 2 and "run.json must be a JSON object, got a list" in err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_window_from_before_the_data_raises_no_false_shortfall(tmp_path):
    """The hour before iago started is no load anyone applied: the window is cut to iago's full
    minutes instead of dividing the run's requests by it."""
    import datetime as dt

    a_run(tmp_path)
    early = dt.datetime.fromtimestamp(T0 - 3600, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M")
    rc, out, err = run_cli("report", str(tmp_path), "--no-plots", "--from", early, "--rate", "10")
    assert rc == 0, err
    assert "SHORTFALL" not in out, out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["throughput_rps"] == 10.0 and summary["minutes"] == 6, "the partial first and last minutes are out"
    assert "cut to iago's full minutes" in (tmp_path / "report.md").read_text()
    late = dt.datetime.fromtimestamp(T0 + 7200, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M")
    rc, _, err = run_cli("report", str(tmp_path), "--no-plots", "--from", early, "--to", late)
    assert rc == 0, err
