"""seldon-server's restarts: pod listings through the real `kubernetes` client against a fake API
server on 127.0.0.1, stored by `pull`, and placed against the window by `report`."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import kubernetes.client  # noqa: F401 - imported before any simulated-clock pull: its import takes ~1 s
import pytest

from analysis import api_restarts
from analysis.__main__ import main
from analysis.storage import SampleLog
from fake_iago import FakeIago, Profile
from fake_kube import FakeKube, closed_port, exec_user, rfc3339, write_kubeconfig
from test_analysis_cli import a_run, run_cli
from test_analysis_e2e import FAST, SPEED, _end_after, assert_matches_truth, pull, report
from test_analysis_statistics import T0

# a_run's window: traffic from T0, 240 s ramp after the partial first minute, last minute partial
W_START, W_END = T0 + 300, T0 + 420
START, END = T0 - 30, T0 + 500          # when the pull listed the pods
PODS = ("seldon-server-6c9f7-2kqzm", "seldon-server-6c9f7-x8wtd")


@pytest.fixture
def kube():
    with FakeKube(token="bench-token") as k:
        for name in PODS:
            k.add_pod(name, started=T0 - 3600)
        k.add_pod("mysql-0", started=T0 - 3600, labels={"app.kubernetes.io/name": "mysql"})
        k.add_pod("seldon-server-elsewhere", started=T0 - 3600, namespace="other")
        yield k


def kubeconfig_for(tmp_path: Path, kube: FakeKube) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", kube.url, user={"token": kube.token})


def listing(run: Path, config: Path, at: float, phase: str) -> dict:
    """What `pull` stores at its start or end: a real listing, stamped `at`."""
    rec = api_restarts.PodWatch(api_restarts.from_file(str(config)), clock=lambda: at).snapshot(phase)
    with SampleLog(run) as log:
        log.append(rec)
    return rec


def reported(run: Path) -> tuple[dict, str, str]:
    rc, printed, err = run_cli("report", str(run), "--no-plots")
    assert rc == 0, err
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["window_start"], summary["window_end"]) == (rfc3339(W_START), rfc3339(W_END))
    return summary, (run / "report.md").read_text().split("## How")[0], printed


def test_no_restarts_is_zero_and_not_flagged(tmp_path, kube):
    run, config = a_run(tmp_path / "run"), kubeconfig_for(tmp_path, kube)
    first = listing(run, config, START, "start")
    listing(run, config, END, "end")
    assert [p["name"] for p in first["pods"]] == list(PODS), "only the API pods of the namespace are listed"
    s, head, printed = reported(run)
    assert s["api_restarts"] == 0 and s["api_restarts_in_window"] == 0 and s["api_restarted_in_window"] is False
    assert s["api_restarts_maybe_in_window"] == 0 and s["api_restart_events"] == []
    assert "seldon-server restarts (namespace seldon): 0 in total, none inside the window" in head
    assert all(f"`{p}` 0" in head for p in PODS)
    assert "RESTARTED" not in head and "seldon-server restarts" in printed


def test_oom_kill_inside_the_window_is_flagged(tmp_path, kube):
    run, config = a_run(tmp_path / "run"), kubeconfig_for(tmp_path, kube)
    listing(run, config, START, "start")
    kube.restart(PODS[1], at=W_START + 30, reason="OOMKilled", exit_code=137)
    listing(run, config, END, "end")
    s, head, printed = reported(run)
    assert s["api_restarts"] == 1 and s["api_restarts_in_window"] == 1 and s["api_restarted_in_window"] is True
    (event,) = s["api_restart_events"]
    assert event == {"pod": PODS[1], "container": "seldon-server", "kind": "restart", "reason": "OOMKilled",
                     "exit_code": 137, "at": rfc3339(W_START + 30), "in_window": True}
    assert s["restarts_in_window"] == [], "iago did not restart: the two kinds of restart stay apart"
    assert "**seldon-server RESTARTED inside the window" in head
    assert f"OOMKilled at {rfc3339(W_START + 30)[11:19]}" in head
    assert head.index("RESTARTED") < 300, "the flag is at the top"
    assert (f"`{PODS[1]}` 1 (last: seldon-server OOMKilled, exit 137, at {rfc3339(W_START + 30)}, "
            "inside the window)") in head
    assert "seldon-server RESTARTED inside the window" in printed


@pytest.mark.parametrize("when", [T0 - 600, T0 + 100], ids=["before the pull", "during the ramp"])
def test_restart_before_the_window_is_reported_but_not_flagged(tmp_path, kube, when):
    run, config = a_run(tmp_path / "run"), kubeconfig_for(tmp_path, kube)
    if when < START:
        kube.restart(PODS[0], at=when)
    listing(run, config, START, "start")
    if when > START:
        kube.restart(PODS[0], at=when)
    listing(run, config, END, "end")
    s, head, _ = reported(run)
    assert s["api_restarts"] == 1, "a restart before the window still counts for the run"
    assert s["api_restarts_in_window"] == 0 and s["api_restarted_in_window"] is False
    assert s["api_restart_events"][0]["in_window"] is False
    assert "1 in total, none inside the window" in head and "OOMKilled" in head
    assert "RESTARTED" not in head


def test_an_undated_restart_that_may_be_in_the_window_is_not_called_clean(tmp_path, kube):
    run, config = a_run(tmp_path / "run"), kubeconfig_for(tmp_path, kube)
    listing(run, config, START, "start")
    kube.restart(PODS[0], at=W_START + 10)   # only the later restart is dated by lastState
    kube.restart(PODS[0], at=W_END + 20)
    listing(run, config, END, "end")
    s, head, _ = reported(run)
    assert s["api_restarts"] == 2 and s["api_restarts_maybe_in_window"] == 1
    assert s["api_restarted_in_window"] is None and s["api_restarts_in_window"] is None
    assert "**seldon-server may have RESTARTED inside the window" in head


def test_a_container_down_at_the_end_and_a_replaced_pod_count(tmp_path, kube):
    run, config = a_run(tmp_path / "run"), kubeconfig_for(tmp_path, kube)
    listing(run, config, START, "start")
    kube.remove(PODS[0])                     # evicted; its replacement started mid-window
    kube.add_pod("seldon-server-6c9f7-q7r2n", started=W_START + 40)
    kube.down(PODS[1], at=W_END + 30, container="td-agent", reason="Error")
    listing(run, config, END, "end")
    s, head, _ = reported(run)
    kinds = sorted((e["kind"], e["in_window"]) for e in s["api_restart_events"])
    assert kinds == [("pod started", True), ("restart", False)]
    assert s["api_restarts"] == 1 and s["api_restarts_in_window"] == 1 and s["api_restarted_in_window"] is True
    assert "`seldon-server-6c9f7-q7r2n` started inside the window" in head
    assert f"`{PODS[0]}` 0 (gone by the last listing)" in head
    assert f"`{PODS[1]}` 1 (last: td-agent Error, exit 1" in head, "a container still down counts as a restart"


def test_without_a_listing_after_the_window_the_window_is_unknown_not_zero(tmp_path, kube):
    run, config = a_run(tmp_path / "run"), kubeconfig_for(tmp_path, kube)
    listing(run, config, START, "start")
    dead = write_kubeconfig(tmp_path / "dead", closed_port())
    rec = listing(run, dead, END, "end")
    assert rec["status"] is None and "Connection refused" in rec["error"]
    s, head, _ = reported(run)
    assert s["api_restarts"] == 0, "0 as of the listing at the start"
    assert s["api_restarts_in_window"] is None and s["api_restarted_in_window"] is None
    assert "inside the window: unknown" in head and "Connection refused" in s["api_restarts_note"]


def test_no_listing_at_all_says_unknown(tmp_path):
    run = a_run(tmp_path / "plain")
    s, head, printed = reported(run)
    assert s["api_restarts"] is None and s["api_restarted_in_window"] is None
    assert "seldon-server restarts: **unknown** (not recorded: the pull had neither --stack nor --kubeconfig)" in head
    assert "seldon-server restarts: unknown" in printed


def test_repulls_count_each_restart_once(tmp_path, kube):
    run, config = a_run(tmp_path / "run"), kubeconfig_for(tmp_path, kube)
    listing(run, config, START, "start")
    kube.restart(PODS[0], at=W_START + 30)
    listing(run, config, W_START + 40, "end")      # the first pull was stopped...
    listing(run, config, W_START + 50, "start")    # ...and another pulls into the same directory
    listing(run, config, END, "end")
    s, _, _ = reported(run)
    assert s["api_restarts"] == 1 and s["api_restarts_in_window"] == 1 and len(s["api_restart_events"]) == 1
    stats = [r for r in map(json.loads, (run / "samples.jsonl").read_text().splitlines())
             if r["endpoint"] != api_restarts.ENDPOINT]
    assert len(stats) == 8, "the iago samples are untouched"
    assert "8 stored samples" in (run / "report.md").read_text(), "pod listings are not iago samples"


def test_failing_credential_plugin_is_one_line_without_traceback(tmp_path, kube):
    user = exec_user(tmp_path / "aws", 'echo "Unable to locate credentials. You can configure credentials by '
                                       'running \\"aws configure\\"." >&2; exit 255')
    config = write_kubeconfig(tmp_path / "kubeconfig", kube.url, user=user)
    rec = api_restarts.PodWatch(api_restarts.from_file(str(config))).snapshot("start")
    assert rec["status"] is None and rec["error"].startswith("the kubeconfig's credential plugin failed")
    assert "exec: process returned 255" in rec["error"] and "Unable to locate credentials" in rec["error"]
    assert not kube.requests, "no request is sent without a token"
    good = exec_user(tmp_path / "aws-ok", "echo '{\"apiVersion\": \"client.authentication.k8s.io/v1beta1\", "
                                          "\"kind\": \"ExecCredential\", \"status\": {\"token\": \"bench-token\"}}'")
    ok = write_kubeconfig(tmp_path / "ok", kube.url, user=good)
    assert api_restarts.PodWatch(api_restarts.from_file(str(ok))).snapshot("start")["status"] == 200


@pytest.mark.parametrize("problem", ["missing file", "HTTP 401", "wrong namespace"])
def test_other_failures_are_recorded_as_unknown(tmp_path, kube, problem):
    path = str(tmp_path / "nope")
    namespace = "seldon"
    if problem == "HTTP 401":
        path = str(write_kubeconfig(tmp_path / "anon", kube.url))
    elif problem == "wrong namespace":
        path, namespace = str(kubeconfig_for(tmp_path, kube)), "bench-other"
    rec = api_restarts.PodWatch(api_restarts.from_file(path), namespace).snapshot("end")
    if problem == "wrong namespace":  # an empty list is an answer: no API pod there
        assert rec["status"] == 200 and rec["pods"] == []
        return
    assert rec["status"] in (None, 401) and "\n" not in rec["error"]
    assert {"missing file": "no such file", "HTTP 401": "HTTP 401 Unauthorized"}[problem] in rec["error"]


# --- end to end: the CLI pulls the fake iago and the fake API -----------------------------------

def test_pull_with_kubeconfig_end_to_end(tmp_path, kube):
    """A 10-minute run; seldon-server is OOM-killed 7.5 minutes in, inside the steady state."""
    with FakeIago(Profile(rate=100), speed=SPEED) as fake:
        for name in PODS:
            kube.add_pod(name, started=fake.clock() - 3600)

        def script(fakes):
            fakes[0].sleep(450)
            kube.restart(PODS[0], at=fakes[0].clock())
            _end_after(150)(fakes)

        run = tmp_path / "run"
        log = pull(run, [fake], script, "--kubeconfig", str(kubeconfig_for(tmp_path, kube)),
                   "--namespace", "seldon", "--rate", "100", "--gone-after", "60")
        summary, printed = report(run)
    assert_matches_truth(run, [fake], summary)
    assert "seldon-server pods (seldon): 2 pod(s), 0 restart(s) so far" in log
    assert "1 restart(s) since" in log and f"{PODS[0]}/seldon-server OOMKilled" in log
    recs = [r for r in map(json.loads, (run / "samples.jsonl").read_text().splitlines())
            if r["endpoint"] == api_restarts.ENDPOINT]
    assert [r["phase"] for r in recs] == ["start", "end"] and all(r["status"] == 200 for r in recs)
    assert summary["api_restarted_in_window"] is True and summary["api_restarts_in_window"] == 1
    assert "seldon-server RESTARTED inside the window" in (run / "report.md").read_text().split("## How")[0]
    assert "seldon-server RESTARTED" in printed


def test_unreachable_api_leaves_the_iago_pull_whole(tmp_path):
    config = write_kubeconfig(tmp_path / "kubeconfig", closed_port())
    with FakeIago(Profile(rate=50), speed=SPEED) as fake:
        run = tmp_path / "run"
        log = pull(run, [fake], _end_after(480), "--kubeconfig", str(config), "--gone-after", "60")
        summary, _ = report(run)
    assert_matches_truth(run, [fake], summary)
    unknown = [line for line in log.splitlines() if "restarts unknown" in line]
    assert len(unknown) == 1, f"one line, not one per listing: {unknown}"
    assert "cannot reach the Kubernetes API (http://127.0.0.1:" in unknown[0] and "Connection refused" in unknown[0]
    assert "Traceback" not in log and "ERROR" not in log
    assert summary["api_restarts"] is None and summary["api_restarted_in_window"] is None
    assert "seldon-server restarts (namespace seldon): **unknown** (cannot reach" in (run / "report.md").read_text()


@pytest.mark.parametrize("twice", [False, True], ids=["Ctrl-C", "Ctrl-C during the last listing"])
def test_ctrl_c_still_lists_the_pods_or_says_why_not(tmp_path, kube, monkeypatch, twice):
    real = api_restarts.PodWatch.snapshot

    def snapshot(self, phase):
        if twice and phase == "end":
            raise KeyboardInterrupt
        return real(self, phase)

    monkeypatch.setattr(api_restarts.PodWatch, "snapshot", snapshot)
    with FakeIago(Profile(rate=20), speed=SPEED) as fake:
        sleep = fake.ctrl_c_at_sleep(8)
        run, err = tmp_path / "run", io.StringIO()
        rc = main(["pull", "--url", fake.url, "--out", str(run), "--kubeconfig", str(kubeconfig_for(tmp_path, kube)),
                   *FAST], clock=fake.clock, sleep=sleep, stderr=err)
    assert rc == 0 and "interrupted" in err.getvalue()
    recs = [r for r in map(json.loads, (run / "samples.jsonl").read_text().splitlines())
            if r["endpoint"] == api_restarts.ENDPOINT]
    assert [r["phase"] for r in recs] == ["start", "end"]
    if twice:
        assert recs[1]["status"] is None and "interrupted (Ctrl-C) before the pods were listed" in recs[1]["error"]
    else:
        assert recs[1]["status"] == 200


def test_stack_kubeconfig_secret_is_used_and_never_stored(tmp_path, monkeypatch, kube):
    kube.add_pod("seldon-server-7d4b8-m2c5v", started=T0, namespace="bench-ns")
    with FakeIago(Profile(rate=20), speed=SPEED) as fake:
        bindir = tmp_path / "bin"
        bindir.mkdir()
        outputs = {"iagoAdminUrls": [fake.url], "requestRate": 20, "kubeconfig": "[secret]", "namespace": "bench-ns"}
        (tmp_path / "outputs.json").write_text(json.dumps(outputs))
        secret = json.dumps(json.dumps(json.loads(kubeconfig_for(tmp_path, kube).read_text())))
        (tmp_path / "kubeconfig.json").write_text(secret)
        exe = bindir / "pulumi"
        exe.write_text("#!/bin/sh\n"
                       f'test "$*" = "stack output --json --stack bench" && exec cat {tmp_path}/outputs.json\n'
                       'test "$*" = "stack output kubeconfig --show-secrets --json --stack bench" && '
                       f"exec cat {tmp_path}/kubeconfig.json\n"
                       "exit 3\n")
        exe.chmod(0o755)
        (tmp_path / "kubeconfig").unlink()
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
        run = tmp_path / "run"
        err = io.StringIO()
        rc = main(["pull", "--stack", "bench", "--out", str(run), "--minutes", "3", *FAST],
                  clock=fake.clock, sleep=fake.sleep, stderr=err)
    assert rc == 0, err.getvalue()
    recs = [r for r in map(json.loads, (run / "samples.jsonl").read_text().splitlines())
            if r["endpoint"] == api_restarts.ENDPOINT]
    assert [r["status"] for r in recs] == [200, 200], err.getvalue()
    assert recs[0]["namespace"] == "bench-ns" and [p["name"] for p in recs[0]["pods"]] == ["seldon-server-7d4b8-m2c5v"]
    assert recs[0]["source"] == "stack bench output kubeconfig"
    for f in run.iterdir():
        assert kube.token not in f.read_text(), f"{f.name} holds the kubeconfig's credentials"


def test_existing_cluster_stack_uses_its_context_of_the_default_kubeconfig(tmp_path, monkeypatch, kube):
    from kubernetes.config import kube_config

    from fake_kube import kubeconfig

    cfg = kubeconfig(closed_port(), name="laptop")
    bench = kubeconfig(kube.url, user={"token": kube.token}, name="kind-bench")
    for key in ("clusters", "contexts", "users"):
        cfg[key] += bench[key]
    (tmp_path / "config").write_text(json.dumps(cfg))
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "config"))
    source = api_restarts.from_stack("bench", {"clusterMode": "existing", "kubeContext": "kind-bench"})
    rec = api_restarts.PodWatch(source).snapshot("start")
    assert rec["status"] == 200 and len(rec["pods"]) == 2, rec.get("error")
    assert api_restarts.from_stack("bench", {"iagoAdminUrls": ["http://x"]}) is None


def test_stack_without_kubeconfig_still_pulls_iago(tmp_path, monkeypatch):
    with FakeIago(Profile(rate=20), speed=SPEED) as fake:
        exe = tmp_path / "pulumi"
        exe.write_text(f"#!/bin/sh\necho '{json.dumps({'iagoAdminUrls': [fake.url]})}'\n")
        exe.chmod(0o755)
        monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
        err = io.StringIO()
        rc = main(["pull", "--stack", "bench", "--out", str(tmp_path / "run"), "--minutes", "3", *FAST],
                  clock=fake.clock, sleep=fake.sleep, stderr=err)
    assert rc == 0
    assert "restarts unknown at the start: stack bench has neither a kubeconfig nor a kubeContext output" in err.getvalue()


def test_selector_and_namespace_are_the_programs(bench):
    from test_workloads_seldon import one

    api = one(bench, "Deployment", "seldon-server")
    labels = api.inputs["spec"]["template"]["metadata"]["labels"]
    key, value = api_restarts.SELECTOR.split("=")
    assert labels[key] == value and api.inputs["spec"]["selector"]["matchLabels"] == {key: value}
    assert api.metadata["namespace"] == bench.outputs["namespace"] == api_restarts.NAMESPACE
    assert "kubeconfig" in bench.secret_outputs, "a secret: pull must ask for it with --show-secrets"
