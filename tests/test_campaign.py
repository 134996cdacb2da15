"""`python -m campaign run`, offline: the fake stack (tests/fake_stack.py) stands in for Pulumi's
Automation API, its fake iago plays the load test on a fast simulated clock, and the campaign's
own pull, report and teardown run for real."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from infra.offline import runner as offline
from infra.offline import plan as infra_plan
from campaign.__main__ import main
from campaign.cycle import Env, PullOptions
from campaign.preview import preview
from fake_stack import FAKE_SECRET, FakeStack

# The offline program reads the stack file of ROOT; a campaign also needs what `pulumi up` does
# (an allowed address and the image cache's Docker Hub account), which the repository's
# Pulumi.bench.yaml leaves to the user. A 10-minute load test keeps the simulated runs short.
CAMPAIGN_CONFIG = """\
  seldon-bench:loadtestMinutes: "10"
  seldon-bench:allowedCidrs:
    - 198.51.100.7/32
  seldon-bench:dockerHubUsername: benchuser
  seldon-bench:dockerHubToken:
    secure: v1:c2VjcmV0LWJ5LXB1bHVtaQ==
"""
FAST_PULL = PullOptions(timeout=0.25, retry_backoff=0.0, gone_after=60.0)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project directory whose Pulumi.bench.yaml is ready for `pulumi up`."""
    root = tmp_path / "project"
    root.mkdir()
    text = (offline.ROOT / "Pulumi.bench.yaml").read_text().replace(
        '  seldon-bench:loadtestMinutes: "30"\n', "")
    (root / "Pulumi.bench.yaml").write_text(text + CAMPAIGN_CONFIG)
    monkeypatch.setattr(offline, "ROOT", root)
    return root


class Campaign:
    """One `python -m campaign` invocation against a fake stack."""

    def __init__(self, project: Path, fake: FakeStack, answer: str = ""):
        self.fake = fake
        self.stdout, self.stderr = io.StringIO(), io.StringIO()
        self.env = Env(project_dir=project, stack_factory=self._factory, stdin=io.StringIO(answer),
                       stdout=self.stdout, stderr=self.stderr, clock=fake.clock, sleep=fake.sleep, pull=FAST_PULL)

    def _factory(self, name: str) -> FakeStack:
        assert name == self.fake.name, f"the campaign asked for stack {name}, not {self.fake.name}"
        return self.fake

    def __call__(self, *argv: str) -> int:
        return main(list(argv), env=self.env)

    @property
    def said(self) -> str:
        return self.stderr.getvalue()


def phases(run: Path) -> dict[str, dict]:
    return {p["phase"]: p for p in json.loads((run / "campaign.json").read_text())["phases"]}


def record(run: Path) -> dict:
    return json.loads((run / "campaign.json").read_text())


def test_a_run_goes_from_nothing_to_a_report_and_back_to_nothing(project, tmp_path):
    fake = FakeStack("bench", project)
    campaign, run = Campaign(project, fake), tmp_path / "runs" / "bench-1"
    assert campaign("run", "--stack", "bench", "--yes", "--out", str(run)) == 0, campaign.said
    assert [c for c, _ in fake.calls] == ["up", "destroy"], "one `pulumi up`, then one `pulumi destroy`"
    summary = json.loads((run / "summary.json").read_text())
    truth = fake.iagos[0].truth(*[int(__import__("pandas").Timestamp(summary[k]).timestamp())
                                  for k in ("window_start", "window_end")])
    assert summary["requests"] == truth["count"] > 0, "the report counts what the fake iago served in its window"
    assert (run / "report.md").is_file() and (run / "latency_p95.png").is_file()
    got = phases(run)
    assert list(got) == ["stand-up", "run", "teardown"]
    assert all(p["outcome"] == "ok" and p["seconds"] >= 0 and p["end"] >= p["start"] for p in got.values()), got
    assert got["run"]["seconds"] >= 10 * 60, "the run phase lasts the 10-minute load test (simulated clock)"
    rec = record(run)
    pv = preview("bench")
    expected = infra_plan.estimate(pv.plan, infra_plan.Run(loadtest_minutes=10)).per_run
    assert rec["estimate"]["campaign_usd"] == pytest.approx(expected, abs=0.01) and expected > 0
    assert rec["outcome"] == "ok" and rec["left"]["stack_up"] is False and rec["left"]["hourly_usd"] == 0
    out = campaign.stdout.getvalue()
    assert "seldon-bench plan: stack bench" in out and f"${expected:.2f} for the whole campaign" in out, (
        "the plan and the campaign's cost are shown before anything is created")
    assert out.index("seldon-bench plan") < out.index("Updating (bench):") < out.index("Destroying (bench):"), (
        "`pulumi up` and `destroy` output is streamed, after the plan")
    assert "destroyed; nothing of it is left, $0.00/hour" in campaign.said
    stored = "".join(p.read_text() for p in run.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".md"))
    assert FAKE_SECRET not in stored, "a secret stack output was written into the run directory"
    assert json.loads((run / "run.json").read_text())["config"]["grafanaAdminPassword"] == "[secret]"


def test_without_yes_nothing_is_created_unless_the_user_agrees(project, tmp_path):
    fake = FakeStack("bench", project)
    campaign, run = Campaign(project, fake, answer="n\n"), tmp_path / "runs" / "no"
    assert campaign("run", "--stack", "bench", "--out", str(run)) == 1
    assert fake.calls == [] and not run.exists(), "a declined campaign touches neither the stack nor the disk"
    assert "Go on? [y/N]" in campaign.stdout.getvalue() and "nothing was created" in campaign.stdout.getvalue()


def test_keep_leaves_the_stack_and_says_what_it_costs(project, tmp_path):
    fake = FakeStack("bench", project)
    campaign, run = Campaign(project, fake, answer="y\n"), tmp_path / "runs" / "kept"
    assert campaign("run", "--stack", "bench", "--keep", "--out", str(run)) == 0, campaign.said
    assert fake.count("destroy") == 0, "--keep: no destroy"
    hourly = preview("bench").hourly
    left = record(run)["left"]
    assert left["stack_up"] is True and left["hourly_usd"] == pytest.approx(hourly, abs=0.001) and hourly > 0.5
    assert f"about ${hourly:.2f}/hour" in campaign.said and "pulumi destroy --stack bench" in campaign.said
    assert "teardown" not in phases(run)


def test_a_failed_up_is_destroyed_and_said_plainly(project, tmp_path):
    fake = FakeStack("bench", project, fail_up=(1,))
    campaign, run = Campaign(project, fake), tmp_path / "runs" / "failed"
    assert campaign("run", "--stack", "bench", "--yes", "--out", str(run)) == 1
    assert [c for c, _ in fake.calls] == ["up", "destroy"], "a failed up is destroyed: it may have created a lot"
    assert "pulumi up of stack bench failed: error: update failed: 1 resource failed" in campaign.said, campaign.said
    assert "Traceback" not in campaign.said
    got = phases(run)
    assert got["stand-up"]["outcome"].startswith("failed: ") and got["teardown"]["outcome"] == "ok"
    assert "run" not in got and record(run)["outcome"].startswith("failed")


def test_ctrl_c_during_the_pull_destroys_and_keeps_the_partial_data(project, tmp_path):
    fake = FakeStack("bench", project, interrupt_after=(1, 7 * 60))
    campaign, run = Campaign(project, fake), tmp_path / "runs" / "interrupted"
    assert campaign("run", "--stack", "bench", "--yes", "--out", str(run)) == 130
    assert [c for c, _ in fake.calls] == ["up", "destroy"], "Ctrl-C tears the stack down"
    minutes = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    minutes = [m for m in minutes if m.get("endpoint") == "minute"]
    assert 4 <= len(minutes) < 10, f"the minutes pulled before Ctrl-C are kept ({len(minutes)} of a 10-minute run)"
    got = phases(run)
    assert got["run"]["outcome"] == "interrupted" and got["teardown"]["outcome"] == "ok"
    assert record(run)["outcome"] == "interrupted (Ctrl-C)"
    assert f"python -m analysis report {run}" in campaign.said, "says how to report on the partial data"


def test_ctrl_c_during_up_destroys_what_it_created(project, tmp_path):
    fake = FakeStack("bench", project, interrupt_up=(1,))
    campaign, run = Campaign(project, fake), tmp_path / "runs" / "up-interrupted"
    assert campaign("run", "--stack", "bench", "--yes", "--out", str(run)) == 130
    assert [c for c, _ in fake.calls] == ["up", "destroy"]
    got = phases(run)
    assert got["stand-up"]["outcome"] == "interrupted" and got["teardown"]["outcome"] == "ok" and "run" not in got
    assert "destroyed; nothing of it is left" in campaign.said


def test_a_failed_destroy_says_what_is_left_and_its_cost(project, tmp_path):
    fake = FakeStack("bench", project, fail_up=(1,), fail_destroy=True)
    campaign, run = Campaign(project, fake), tmp_path / "runs" / "stuck"
    assert campaign("run", "--stack", "bench", "--yes", "--out", str(run)) == 1
    hourly = preview("bench").hourly
    assert (f"left: the destroy of stack bench did not finish (error: deleting security group: "
            f"DependencyViolation); whatever it had not deleted is still there and billed, up to about "
            f"${hourly:.2f}/hour") in campaign.said, campaign.said
    assert record(run)["left"]["stack_up"] is True


def test_a_stack_pulumi_up_would_refuse_is_refused_before_anything(tmp_path):
    fake = FakeStack("bench", offline.ROOT)
    campaign, run = Campaign(offline.ROOT, fake), tmp_path / "runs" / "x"
    assert campaign("run", "--stack", "bench", "--yes", "--out", str(run)) == 2
    lines = campaign.said.splitlines()
    assert lines[0] == "error: stack bench cannot run a campaign (nothing was created):"
    assert any("seldon-bench:allowedCidrs is not set in Pulumi.bench.yaml" in line for line in lines), lines
    assert fake.calls == [] and not run.exists()
    assert campaign("run", "--stack", "nosuch", "--yes", "--out", str(run)) == 2
    assert "there is no stack file" in campaign.said and "Pulumi.nosuch.yaml" in campaign.said


def test_the_campaign_commands_in_the_readme_and_the_guide_parse():
    import re
    import shlex

    from campaign.__main__ import parser

    found = []
    for doc in ("README.md", "docs/benchmark-guide.md"):
        text = (offline.ROOT / doc).read_text()
        for block in re.findall(r"```(?:bash|text)\n(.*?)```", text, re.S):
            for line in block.splitlines():
                line = line.split("  #")[0].strip()
                if line.startswith("python -m campaign "):
                    found.append((doc, re.sub(r"\[([^\]]*)\]", r"\1", line)))  # [--keep] as --keep
    assert len({d for d, _ in found}) == 2, "both the README and the guide show the campaign commands"
    for doc, line in found:
        argv = [a for a in shlex.split(line)[3:] if a != "..."]
        try:
            args = parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"{doc}: `{line}` is not accepted by campaign/__main__.py")
        if args.command == "sweep":
            assert (offline.ROOT / args.file).is_file(), f"{doc}: {args.file} is not a shipped sweep file"


def test_the_automation_stack_calls_the_installed_sdk_as_its_signatures_say(monkeypatch, tmp_path):
    """No Pulumi CLI here: the real seam is checked against pulumi.automation's own signatures."""
    import inspect

    from pulumi import automation as auto

    from campaign.stack import AutomationStack

    calls = []

    class Recorder:
        def __getattr__(self, method):
            def call(*args, **kwargs):
                inspect.signature(getattr(auto.Stack, method)).bind(self, *args, **kwargs)
                calls.append((method, kwargs))
                if method == "destroy":
                    return None
                outputs = {"iagoAdminUrls": auto.OutputValue(["http://h:9994"], False),
                           "kubeconfig": auto.OutputValue("{}", True)}
                return outputs if method == "outputs" else type("Up", (), {"outputs": outputs})()
            return call

    def select(**kwargs):
        inspect.signature(auto.create_or_select_stack).bind(**kwargs)
        calls.append(("select", kwargs))
        return Recorder()

    monkeypatch.setattr(auto, "create_or_select_stack", select)
    stack = AutomationStack("bench", tmp_path)
    assert calls == [], "nothing, not even an empty stack, before the first call"
    lines = []
    got = stack.up(lines.append, config_file=tmp_path / "Pulumi.bench.yaml", replace=["urn:x"])
    from campaign.stack import Secret

    assert got == {"iagoAdminUrls": ["http://h:9994"], "kubeconfig": Secret("{}")}, (
        "outputs as plain values, each secret one wrapped so that nothing stores it by accident")
    assert stack.outputs() == got
    stack.destroy(lines.append)
    assert calls[0] == ("select", {"stack_name": "bench", "work_dir": str(tmp_path)})
    up = calls[1][1]
    assert up["config_file"] == str(tmp_path / "Pulumi.bench.yaml") and up["replace"] == ["urn:x"]
    assert up["on_output"] == lines.append and calls[3][0] == "destroy" and calls[3][1]["config_file"] is None
    assert [c for c, _ in calls].count("select") == 1, "the stack is selected once"


def test_the_real_stack_hands_secret_outputs_over_wrapped():
    from pulumi.automation import OutputValue

    from campaign.stack import Secret, _unwrapped, masked, revealed

    got = _unwrapped({"kubeconfig": OutputValue("apiVersion: v1", True), "requestRate": OutputValue(100, False)})
    assert got == {"kubeconfig": Secret("apiVersion: v1"), "requestRate": 100}
    assert masked(got) == {"kubeconfig": "[secret]", "requestRate": 100}, "as `pulumi stack output --json` prints them"
    assert revealed(got["kubeconfig"]) == "apiVersion: v1" and "apiVersion" not in repr(got)


def test_without_the_pulumi_cli_the_campaign_stops_before_anything(monkeypatch, capsys):
    from campaign.__main__ import main

    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["run", "--stack", "bench", "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the campaign drives the Pulumi CLI, and `pulumi` is not on PATH"), err
    assert "Traceback" not in err and "nothing was created" in err
