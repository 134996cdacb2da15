"""`python -m campaign sweep`, offline against the fake stack: three steps into their own run
directories and one comparison; the iago Job replaced where the run id would not change; a step
that brings new nodes says so first; an interrupted sweep resumes without re-running a step."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from campaign import sweepfile
from campaign.preview import NEW_NODES_MINUTES, STEP_OVERHEAD_MINUTES
from infra.offline.plan import STANDUP_MINUTES
from fake_stack import FakeStack
from test_campaign import Campaign, project, record  # noqa: F401  (the fixture)

HERE = Path(__file__).resolve().parent
DEMO = Path(os.environ["CAMPAIGN_DEMO_DIR"]) if os.environ.get("CAMPAIGN_DEMO_DIR") else None
IAGO_URN = "urn:pulumi:bench::seldon-bench::seldon-bench:workloads:LoadTest$kubernetes:batch/v1:Job::iago"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_request_rate_sweep_measures_each_step_and_answers_the_target(project, tmp_path):
    sweep = write(tmp_path / "rates.yaml", "stack: bench\nvary:\n  requestRate: [50, 100, 150]\n")
    fake = FakeStack("bench", project)
    campaign, out = Campaign(project, fake), tmp_path / "runs" / "rates"
    assert campaign("sweep", str(sweep), "--yes", "--out", str(out), "--target-p95", "150") == 0, campaign.said
    ups = fake.ups()
    assert [u["config"]["requestRate"] for u in ups] == ["50", "100", "150"], "each step's config goes to its up"
    assert [c for c, _ in fake.calls if c != "outputs"] == ["up", "up", "up", "destroy"], (
        "one stack for the whole sweep, destroyed once at the end")
    assert [u["replace"] for u in ups] == [[], [], []], "a new requestRate is a new run id: no --replace needed"
    dirs = [out / f"0{i}-requestRate={r}" for i, r in ((1, 50), (2, 100), (3, 150))]
    summaries = [json.loads((d / "summary.json").read_text()) for d in dirs]
    for d, s, rate in zip(dirs, summaries, (50, 100, 150)):
        assert (d / "report.md").is_file() and (d / "Pulumi.bench.yaml").is_file(), f"{d} has its report and config"
        assert s["asked_rate_rps"] == rate and s["throughput_rps"] == pytest.approx(rate, rel=0.1)
    assert all(u["config_file"] == d / "Pulumi.bench.yaml" for u, d in zip(ups, dirs))
    p95 = [s["p95_ms"] for s in summaries]
    assert p95 == sorted(p95) and p95[0] < 150 < p95[2], f"the fake's latency grows with the rate: {p95}"
    best = max(r for r, p in zip((50, 100, 150), p95) if p <= 150)
    text = (out / "sweep.md").read_text()
    assert f"Highest rate that keeps p95 at or under 150 ms: {best:g} req/s" in text
    compare = (out / "compare.md").read_text()
    assert all(str(d) in compare for d in dirs), "compare.md has one row per step"
    for png in ("sweep.png", "compare.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rec = record(out)
    assert [s["status"] for s in rec["steps"]] == ["done"] * 3 and rec["outcome"] == "ok"
    assert [p["phase"] for p in rec["phases"]] == ["step 1 stand-up", "step 1 run", "step 2 update", "step 2 run",
                                                   "step 3 update", "step 3 run", "teardown"]
    assert rec["estimate"]["campaign_usd"] > 0
    if DEMO:  # CAMPAIGN_DEMO_DIR=DIR keeps this sweep's comparison and plots for a note
        DEMO.mkdir(parents=True, exist_ok=True)
        for name in ("compare.md", "compare.png", "sweep.md", "sweep.png"):
            shutil.copy(out / name, DEMO / name)

    # Had iago restarted inside step 2's window, the sweep marks it and never answers with it.
    path = dirs[1] / "summary.json"
    doubted = {k: v for k, v in summaries[1].items() if k != "samples"}  # rows derived from the keys
    path.write_text(json.dumps({**doubted, "restarts_in_window": [doubted["window_start"]]}))
    assert campaign("sweep", str(sweep), "--yes", "--resume", "--out", str(out), "--target-p95", "150") == 0
    text = (out / "sweep.md").read_text()
    assert "| requestRate=100 | 100 |" in text and "IAGO-RESTART |" in text, text
    assert "Highest rate that keeps p95 at or under 150 ms: 50 req/s" in text, text


def test_a_workloads_only_step_reuses_the_cluster_and_replaces_the_load_test(project, tmp_path, bench):
    sweep = write(tmp_path / "replicas.yaml", "stack: bench\nvary:\n  apiReplicas: [2, 3]\n")
    fake = FakeStack("bench", project)
    campaign, out = Campaign(project, fake), tmp_path / "runs" / "replicas"
    assert campaign("sweep", str(sweep), "--yes", "--out", str(out)) == 0, campaign.said
    ups = fake.ups()
    from test_identity import known_as, urns

    assert IAGO_URN in urns(bench), "the URN is the iago Job's own, computed apart from the campaign's code"
    live = set((HERE / "identity" / "bench.urns").read_text().split())
    assert len(live & next(v for k, v in known_as(bench).items() if IAGO_URN in v)) == 1, (
        "and the Job a live stack already has answers to it (through LoadTest's alias)")
    assert [u["replace"] for u in ups] == [[], [IAGO_URN]], (
        "apiReplicas leaves the run id as it was: step 2 must replace the iago Job by its engine URN")
    assert "step 2/2 (apiReplicas=3): workloads only: the cluster is reused" in campaign.said
    table = (out / "sweep.md").read_text()
    assert "| step | apiReplicas |" in table and "| apiReplicas=3 | 3 |" in table, table


def test_a_step_that_brings_new_nodes_says_so_and_how_long_before_it_starts(project, tmp_path):
    sweep = write(tmp_path / "nodes.yaml", "stack: bench\nvary:\n  seldonNodeCount: [3, 4]\n")
    fake = FakeStack("bench", project)
    campaign = Campaign(project, fake, answer="n\n")
    assert campaign("sweep", str(sweep), "--out", str(tmp_path / "runs" / "nodes")) == 1
    shown = campaign.stdout.getvalue()
    assert f"step 1 (seldonNodeCount=3): ~{STANDUP_MINUTES + 10 + STEP_OVERHEAD_MINUTES} min" in shown
    assert "stands up stack bench" in shown
    assert (f"step 2 (seldonNodeCount=4): ~{10 + STEP_OVERHEAD_MINUTES + NEW_NODES_MINUTES} min" in shown and
            "changes node groups or instances: aws:eks/nodeGroup:NodeGroup seldon (scalingConfig); new nodes add "
            f"about {NEW_NODES_MINUTES} min" in shown), shown
    assert fake.calls == [], "declined: nothing asked of the stack"


def test_an_interrupted_sweep_resumes_after_its_last_finished_step(project, tmp_path):
    sweep = write(tmp_path / "replicas.yaml", "stack: bench\nvary:\n  apiReplicas: [2, 3, 4]\n"
                  "set:\n  seldonNodeCount: 4\n")
    out = tmp_path / "runs" / "replicas"
    first = FakeStack("bench", project, interrupt_after=(2, 6 * 60))
    campaign = Campaign(project, first)
    assert campaign("sweep", str(sweep), "--yes", "--out", str(out)) == 130
    assert [c for c, _ in first.calls if c != "outputs"] == ["up", "up", "destroy"], "Ctrl-C in step 2: destroyed"
    assert [s["status"] for s in record(out)["steps"]] == ["done", "interrupted", "pending"]
    assert f"--out {out} --resume` continues at step 2" in campaign.said
    step1 = out / "01-apiReplicas=2"
    report1 = (step1 / "report.md").stat().st_mtime_ns, (step1 / "samples.jsonl").read_bytes()
    partial = (out / "02-apiReplicas=3" / "samples.jsonl").read_bytes()

    again = Campaign(project, FakeStack("bench", project))
    assert again("sweep", str(sweep), "--yes", "--out", str(out)) == 2, "without --resume a started sweep is refused"
    assert "`--resume` continues it" in again.said and again.fake.calls == []

    second = FakeStack("bench", project)
    resumed = Campaign(project, second)
    assert resumed("sweep", str(sweep), "--yes", "--resume", "--out", str(out)) == 0, resumed.said
    assert [u["config"]["apiReplicas"] for u in second.ups()] == ["3", "4"], "step 1 is not run again"
    assert second.ups()[0]["replace"] == [], "the stack was destroyed: step 2 stands it up again"
    assert ((step1 / "report.md").stat().st_mtime_ns, (step1 / "samples.jsonl").read_bytes()) == report1
    assert (out / "02-apiReplicas=3.attempt-1" / "samples.jsonl").read_bytes() == partial, (
        "the interrupted attempt's data is kept aside")
    rec = record(out)
    assert [s["status"] for s in rec["steps"]] == ["done"] * 3 and len(rec["resumed"]) == 1
    assert sum(1 for p in rec["phases"] if p["phase"] == "step 1 run") == 1
    assert "01-apiReplicas=2" in (out / "compare.md").read_text()


BAD = {
    "unknown-key": ("stack: bench\nvary:\n  apiReplica: [2, 3]\n",
                    ["steps 1, 2: seldon-bench:apiReplica is not a setting of seldon-bench "
                     "(did you mean seldon-bench:apiReplicas?)"]),
    "refused-value": ("stack: bench\nsteps:\n  - name: seed\n  - name: none\n    apiReplicas: 0\n",
                      ["step 2 (none): seldon-bench:apiReplicas must be >= 1, got 0"]),
    "does-not-fit": ("stack: bench\nvary:\n  apiReplicas: [2, 4]\n",
                     ["step 2 (apiReplicas=4): seldon-bench:seldonNodeCount=3 x m3.large", "Fix: raise seldonNodeCount"]),
    "yaml-error": ("stack: bench\nvary:\n  apiReplicas: [2, 3\n", ["is not valid YAML at line 4"]),
    "empty-steps": ("stack: bench\nsteps: []\n", ["steps must be a non-empty list"]),
    "empty-vary": ("stack: bench\nvary:\n  apiReplicas: []\n", ["vary: apiReplicas must be a non-empty list"]),
    "no-base-stack": ("stack: nosuch\nvary:\n  apiReplicas: [2]\n", ["stack nosuch: there is no stack file",
                                                                      "Pulumi.nosuch.yaml"]),
    "unknown-top-key": ("stack: bench\nvray:\n  apiReplicas: [2]\n", ["vray is not a key of a sweep file "
                                                                     "(did you mean vary?)"]),
    "unequal-lists": ("stack: bench\nvary:\n  apiReplicas: [2, 3]\n  apiMemory: [3Gi]\n",
                      ["vary: the lists must have the same length", "apiReplicas has 2, apiMemory has 1"]),
    "null-value": ("stack: bench\nsteps:\n  - apiReplicas:\n", ["step 1: apiReplicas has no value"]),
    "same-step-twice": ("stack: bench\nvary:\n  apiReplicas: [2, 2]\n",
                        ["step 2 (apiReplicas=2) measures the same config as step 1"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_sweep_file_is_refused_before_anything_is_created(project, tmp_path, case):
    text, expected = BAD[case]
    sweep = write(tmp_path / f"{case}.yaml", text)
    fake = FakeStack("bench", project)
    campaign, out = Campaign(project, fake), tmp_path / "runs" / case
    assert campaign("sweep", str(sweep), "--yes", "--out", str(out)) == 2
    said = campaign.said
    assert said.startswith(f"error: {sweep} cannot run (nothing was created):\n"), said
    assert said.count("error:") == 1 and "Traceback" not in said, said
    for part in expected:
        assert part in said, f"{case}: the refusal does not say {part!r}:\n{said}"
    assert fake.calls == [] and not out.exists(), "nothing was asked of the stack, nothing written"


def test_a_bad_sweep_names_every_bad_step(project, tmp_path):
    sweep = write(tmp_path / "two.yaml", "stack: bench\nvary:\n  apiReplicas: [0, 2, 12]\n")
    campaign = Campaign(project, FakeStack("bench", project))
    assert campaign("sweep", str(sweep), "--yes") == 2
    assert "step 1 (apiReplicas=0): seldon-bench:apiReplicas must be >= 1" in campaign.said
    assert "step 3 (apiReplicas=12): seldon-bench:seldonNodeCount=3" in campaign.said
    assert "step 2" not in campaign.said


SHIPPED = sorted((HERE.parent / "campaign" / "sweeps").glob("*.yaml"))


def test_the_seed_optimisation_list_has_a_sweep_each():
    names = {p.stem for p in SHIPPED}
    assert {"api-replicas", "api-heap", "mysql-tuning", "memcache-size", "request-rate"} <= names, names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_sweep_fits_the_settings_and_capacity_models(path):
    from infra.offline import stack_settings
    from workloads.capacity import fit, fit_table
    from test_capacity import SHIPPED_MAX_USE

    sweep = sweepfile.load(path)
    xs = [sweep.x(step) for step in sweep.steps]
    assert len(sweep.steps) >= 2 and len(set(xs)) == len(xs), f"{path.name} compares at least two distinct steps: {xs}"
    assert sweepfile.problems(sweep) == [], f"{path.name} does not fit"
    for step in sweep.steps:
        settings = stack_settings(sweep.stack, step.overrides)
        for f in fit(settings):
            use = f.requested_mib / f.allocatable_mib
            assert use <= SHIPPED_MAX_USE, (f"{path.name} step {step.index} ({step.name}) requests {use:.0%} of the "
                                            f"{f.nodes.role.name} nodes' memory:\n{fit_table(settings)}")


def test_resume_continues_only_its_own_sweep(project, tmp_path):
    sweep = write(tmp_path / "replicas.yaml", "stack: bench\nvary:\n  apiReplicas: [2, 3]\n")
    out = tmp_path / "runs" / "replicas"
    campaign = Campaign(project, FakeStack("bench", project))
    assert campaign("sweep", str(sweep), "--yes", "--resume", "--out", str(out)) == 2
    assert f"error: --resume: {out} holds no sweep to resume" in campaign.said
    out.mkdir(parents=True)
    (out / "campaign.json").write_text(json.dumps({"command": "sweep", "fingerprint": "another", "phases": [],
                                                   "steps": []}))
    assert campaign("sweep", str(sweep), "--yes", "--resume", "--out", str(out)) == 2
    assert f"error: {out} holds another campaign than {sweep}" in campaign.said
    assert campaign.fake.calls == []


def test_the_curve_names_the_highest_value_under_the_target_and_plots_names_too(tmp_path):
    from campaign import curve

    pts = [curve.Point("a", 50.0, 40, 60, 50, 50), curve.Point("b", 100.0, 120, 150, 99, 100),
           curve.Point("c", 150.0, 90, 130, 148, 150), curve.Point("d", 200.0, 80, 100, 150, 200, ("SHORTFALL",))]
    assert curve.highest_under(pts, 100).step == "c", "the highest value under the target; a doubted run does not count"
    assert curve.highest_under(pts, 30) is None
    said = curve.answer(pts, "requestRate", 100)[0]
    assert said.startswith("Highest rate that keeps p95 at or under 100 ms: 150 req/s (achieved 148.0 req/s")
    assert "Lower values went over it (100: 120 ms): not monotone." in said
    assert curve.answer(pts, "requestRate", None) == [] and curve.answer(pts, None, 100) == []
    named = [curve.Point("seed", "seed", 100, 150, 100, 100), curve.Point("tuned", "tuned", 80, 120, 100, 100)]
    curve.plot(named, None, tmp_path / "named.png", 90)
    curve.plot(pts, "requestRate", tmp_path / "rate.png", 100)
    assert all((tmp_path / f).read_bytes()[:4] == b"\x89PNG" for f in ("named.png", "rate.png"))


def test_a_sweep_is_costed_as_run_costs_a_run(tmp_path):
    """A one-step sweep stands as long as that run would: the same estimate, started hours of the
    NAT gateway and ELBs billed whole, as `run` bills them."""
    from campaign import sweep as sweep_mod
    from campaign.preview import preview
    from infra.offline import plan as infra_plan

    sw = sweepfile.load(write(tmp_path / "one.yaml", "stack: bench\nsteps:\n  - name: seed\n"))
    pv = preview("bench")
    plans = sweep_mod.schedule(sw.steps, {sw.steps[0].index: pv}, None)
    minutes = pv.settings.loadtest_minutes + STEP_OVERHEAD_MINUTES
    expected = infra_plan.estimate(pv.plan, infra_plan.Run(loadtest_minutes=minutes)).per_run
    assert any(line.partial_hours_billed_as_full for line in infra_plan.estimate(pv.plan, infra_plan.Run()).lines)
    assert sweep_mod.estimate_fields(plans)["campaign_usd"] == pytest.approx(expected, abs=0.01)
