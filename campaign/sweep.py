"""`python -m campaign sweep FILE.yaml`: a series of measurements on one stack, then one comparison.

Every step is judged (settings, capacity) and evaluated offline before anything is created; the
plan, the cost and what each step changes are shown and confirmed. Then, step by step: the
step's config file (the base stack file plus its overrides) goes to `pulumi up --config-file`,
so the stack file itself is never rewritten; a step whose AWS resources differ from the standing
cluster's says so (new nodes: how long they add) before it starts; a step that leaves the load
test's run id as it was replaces the iago Job (`--replace`), so every step measures a new run.
Each step gets its own run directory and report; after the last one the stack is destroyed
(unless --keep) and the steps are compared: compare.md/compare.png (`analysis compare`),
sweep.md and sweep.png (p95/p99 against the varied value).

The sweep directory's campaign.json records every phase and every step's status; `--resume`
continues after the last finished step, never running a finished one again. Teardown rules are
those of `run`: Ctrl-C, a failed `up` or a failed pull destroy the stack unless --keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from analysis import compare
from infra.offline import runner as offline
from infra.offline import plan as infra_plan
from infra.settings import PROJECT
from campaign import checks, curve, sweepfile
from campaign.checks import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, BadInput
from campaign.cycle import Env, Outcome
from campaign.journal import Journal, iso
from campaign.preview import NEW_NODES_MINUTES, STEP_OVERHEAD_MINUTES, AwsChange, StepPreview, aws_change, preview

DONE = "done"


def load_checked(path: Path) -> sweepfile.Sweep:
    """The sweep, or BadInput naming every step and key that cannot run."""
    try:
        sweep = sweepfile.load(path)
    except sweepfile.SweepError as exc:
        raise BadInput(f"{path} cannot run (nothing was created):", exc.problems) from None
    problems = sweepfile.problems(sweep)
    if not problems:  # what only a real `pulumi up` needs: the base stack's address and image source
        problems = [f"stack {sweep.stack}: {p}" for p in checks.stack_problems(sweep.stack, sweep.steps[0].overrides)]
    if problems:
        raise BadInput(f"{path} cannot run (nothing was created):", problems)
    return sweep


@dataclass(frozen=True)
class StepPlan:
    step: sweepfile.Step
    preview: StepPreview
    change: Optional[AwsChange]  # None: the stack is not standing, the step stands it up
    minutes: float

    @property
    def cost(self) -> float:
        return self.preview.hourly * self.minutes / 60

    def describe(self) -> str:
        if self.change is None:
            return f"stands up stack {self.preview.stack} (~{infra_plan.STANDUP_MINUTES} min, infra/offline/plan.py)"
        if self.change.new_nodes:
            return (f"changes node groups or instances: {self.change.describe()}; new nodes add about "
                    f"{NEW_NODES_MINUTES} min (campaign/preview.py NEW_NODES_MINUTES, unmeasured)")
        if self.change.any:
            return f"changes AWS resources: {self.change.describe()}; the nodes stay"
        return "workloads only: the cluster is reused, only the changed objects and the load test are replaced"


def step_plan(step: sweepfile.Step, pv: StepPreview, before: Optional[StepPreview]) -> StepPlan:
    """What running `step` costs in time on a stack that stands with `before` (None: not at all)."""
    change = aws_change(before.program, pv.program) if before is not None else None
    minutes = pv.settings.loadtest_minutes + STEP_OVERHEAD_MINUTES
    minutes += infra_plan.STANDUP_MINUTES if change is None else change.added_minutes
    return StepPlan(step, pv, change, minutes)


def schedule(steps: list[sweepfile.Step], previews: dict[int, StepPreview],
             standing: Optional[StepPreview]) -> list[StepPlan]:
    plans, before = [], standing
    for step in steps:
        plans.append(step_plan(step, previews[step.index], before))
        before = previews[step.index]
    return plans


def estimate_fields(plans: list[StepPlan]) -> dict:
    last = plans[-1].preview
    teardown = last.hourly * infra_plan.TEARDOWN_MINUTES / 60
    nat = infra_plan.NAT_GB * last.nat_gb_price if any(p.change is None for p in plans) else 0.0
    # The stack stands through every step: what AWS bills by started hour (NAT gateway, ELBs) is
    # rounded up once over the whole sweep, exactly as `run`'s estimate rounds one run.
    whole = infra_plan.estimate(last.plan, infra_plan.Run(
        standup_minutes=0, loadtest_minutes=sum(p.minutes for p in plans), nat_gb=0))
    started_hours = sum(whole.line_run_cost(line) - line.hourly * whole.run.hours for line in whole.lines)
    total = sum(p.cost for p in plans) + teardown + nat + started_hours
    return {"hourly_usd": round(max(p.preview.hourly for p in plans), 3), "campaign_usd": round(total, 2),
            "minutes": {"steps": {p.step.dirname: round(p.minutes, 1) for p in plans},
                        "teardown": infra_plan.TEARDOWN_MINUTES},
            "source": "infra/offline/plan.py prices and stand-up/teardown minutes; campaign/preview.py step overheads "
                      "(unmeasured); each step at the hourly cost of its own plan"}


def step_config_file(sweep: sweepfile.Sweep, step: sweepfile.Step, directory: Path) -> Path:
    """The base stack file with the step's overrides, as `pulumi up --config-file` takes it (its
    encryption salt and secrets are the stack's own); it also records what the step ran."""
    doc = yaml.safe_load(offline.stack_path(sweep.stack).read_text()) or {}
    config = doc.setdefault("config", {})
    for key, value in step.overrides.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, bool):
            value = "true" if value else "false"
        config[full] = value if isinstance(value, (dict, list)) else str(value)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"Pulumi.{sweep.stack}.yaml"
    path.write_text(f"# {sweep.path} step {step.index} ({step.name}): {offline.stack_path(sweep.stack).name} "
                    "with the step's overrides\n" + yaml.safe_dump(doc, sort_keys=False))
    return path


def open_journal(env: Env, sweep: sweepfile.Sweep, out: Path, resume: bool) -> Optional[Journal]:
    """The sweep's existing journal when resuming (None for a new sweep); BadInput when `out` holds
    another sweep, or a sweep to resume without --resume."""
    try:
        journal = Journal.read(out, env.clock)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if journal is None:
        if resume:
            raise BadInput(f"--resume: {out} holds no sweep to resume (no campaign.json)")
        return None
    if journal.data.get("command") != "sweep" or journal.data.get("fingerprint") != sweep.fingerprint:
        raise BadInput(f"{out} holds another campaign than {sweep.path} (its steps or stack differ): "
                       "choose another --out")
    if not resume:
        done = sum(1 for s in journal.data.get("steps", []) if s.get("status") == DONE)
        raise BadInput(f"{out} holds this sweep already ({done} of {len(sweep.steps)} steps done): "
                       "`--resume` continues it, or choose another --out")
    return journal


def sweep(env: Env, path: Path, *, out: Optional[Path] = None, resume: bool = False,
          target_p95: Optional[float] = None, keep: bool = False, yes: bool = False) -> int:
    sw = load_checked(path)
    out = Path(out) if out else Path("runs") / sw.name
    journal = open_journal(env, sw, out, resume)
    status = {s["index"]: s.get("status") for s in (journal.data["steps"] if journal else [])}
    pending = [s for s in sw.steps if status.get(s.index) != DONE]
    previews = {s.index: preview(sw.stack, s.overrides) for s in sw.steps}
    if not pending:
        env.stdout.write(f"campaign: every step of {sw.path} is done in {out}; comparing them again.\n")
        return _finish(env, sw, out, target_p95)
    # Until the stack is asked (after the confirmation), a resumed sweep is taken to stand as its
    # journal left it, and a new one not to stand at all.
    left_up = bool(journal and (journal.data.get("left") or {}).get("stack_up"))
    last_done = max((i for i, st in status.items() if st == DONE), default=None)
    standing = previews[last_done] if left_up and last_done else (preview(sw.stack) if left_up else None)
    plans = schedule(pending, previews, standing)
    est = estimate_fields(plans)
    first = plans[0].preview
    env.stdout.write(first.render(infra_plan.Run(loadtest_minutes=first.settings.loadtest_minutes)) + "\n\n")
    env.stdout.write(f"campaign: sweep {sw.path} on stack {sw.stack}, {len(pending)} of {len(sw.steps)} steps "
                     f"into {out}:\n")
    for p in plans:
        env.stdout.write(f"  step {p.step.index} ({p.step.name}): ~{p.minutes:.0f} min, ${p.cost:.2f}: {p.describe()}\n")
    then = "keep the stack standing (--keep)" if keep else "destroy the stack"
    env.stdout.write(f"then compare the steps and {then}: up to ${est['hourly_usd']:.2f}/hour while it stands, "
                     f"about ${est['campaign_usd']:.2f} for the whole sweep.\n")
    if not yes and not checks.confirm("Go on?", env.stdin, env.stdout):
        env.stdout.write("campaign: not confirmed; nothing was created.\n")
        return EXIT_FAILED
    if journal is None:
        journal = Journal.start(out, env.clock, command="sweep", file=str(sw.path), fingerprint=sw.fingerprint,
                                stack=sw.stack, estimate=est,
                                steps=[{"index": s.index, "name": s.name, "dir": s.dirname, "overrides": s.overrides,
                                        "status": "pending"} for s in sw.steps])
    else:
        journal.set(outcome="running", resumed=journal.data.get("resumed", []) + [iso(env.clock())])
    return _run_steps(env, sw, out, journal, pending, previews, target_p95, keep)


def _run_steps(env: Env, sw: sweepfile.Sweep, out: Path, journal: Journal, pending: list[sweepfile.Step],
               previews: dict[int, StepPreview], target_p95: Optional[float], keep: bool) -> int:
    stack = env.stack_factory(sw.stack)
    cycle = env.cycle(stack, journal)
    outcome, current, config_file = Outcome(), None, None
    try:
        with cycle.attempt(outcome):
            standing = bool(stack.outputs())
            done = [s.index for s in sw.steps if s.index < pending[0].index]
            before = (previews[done[-1]] if done else preview(sw.stack)) if standing else None
            for step in pending:
                current = step
                pv = previews[step.index]
                cycle.say(f"step {step.index}/{len(sw.steps)} ({step.name}): {step_plan(step, pv, before).describe()}")
                run_dir = _fresh_dir(out / step.dirname)
                config_file = step_config_file(sw, step, run_dir)
                replace = [pv.iago_job_urn] if before is not None and before.loadtest_run == pv.loadtest_run else []
                _step_status(journal, step, "running")
                outputs = cycle.up(f"step {step.index} {'update' if before else 'stand-up'}",
                                   config_file=config_file, replace=replace)
                before = pv
                summary = cycle.measure(outputs, run_dir, phase=f"step {step.index} run")
                _step_status(journal, step, DONE, p95_ms=summary.get("p95_ms"), p99_ms=summary.get("p99_ms"))
            current = None
    finally:
        if current is not None:
            _step_status(journal, current, "interrupted" if outcome.code == EXIT_INTERRUPTED else "failed")
        cycle.teardown(keep, previews[(current or pending[-1]).index].hourly, config_file=config_file)
        journal.set(outcome=outcome.text)
    if outcome.code != EXIT_OK:
        cycle.say(f"`python -m campaign sweep {sw.path} --out {out} --resume` continues at step "
                  f"{current.index if current else pending[0].index}; finished steps are not run again")
        return outcome.code
    return _finish(env, sw, out, target_p95)


def _fresh_dir(directory: Path) -> Path:
    """A step directory holding nothing of an earlier, unfinished attempt (moved aside, kept)."""
    if directory.exists() and any(directory.iterdir()):
        n = 1
        while directory.with_name(f"{directory.name}.attempt-{n}").exists():
            n += 1
        directory.rename(directory.with_name(f"{directory.name}.attempt-{n}"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _step_status(journal: Journal, step: sweepfile.Step, status: str, **fields) -> None:
    for entry in journal.data["steps"]:
        if entry["index"] == step.index:
            entry.update(status=status, **fields)
    journal.save()


def _finish(env: Env, sw: sweepfile.Sweep, out: Path, target_p95: Optional[float]) -> int:
    """compare.md/png over every step, then sweep.md/png: the curve and the answer."""
    dirs = [out / s.dirname for s in sw.steps]
    table = compare.compare(dirs, out)
    # The checks come from compare's own table row of each run (IAGO-RESTART is a table column,
    # not a summary.json key), the figures from the summaries compare read and validated.
    runs = compare.summaries(dirs)
    wide = compare.table(runs)
    points = [curve.point(s.name, sw.x(s), run, tuple(compare.checks(wide.loc[run["run"]])))
              for s, run in zip(sw.steps, runs)]
    curve.plot(points, sw.varied, out / "sweep.png", target_p95)
    answer = curve.answer(points, sw.varied, target_p95)
    text = [f"# Sweep {sw.name}: stack {sw.stack}", ""]
    if sw.description:
        text += [sw.description.strip(), ""]
    text += [f"Steps from {sw.path}; each step's report is in its directory.", "",
             curve.table_md(points, sw.varied), *answer, "", "![sweep](sweep.png)", "",
             "All runs side by side: [compare.md](compare.md)."]
    (out / "sweep.md").write_text("\n".join(text) + "\n")
    env.stdout.write(table + "\n" + "".join(a + "\n" for a in answer))
    env.stdout.write(f"campaign: {out / 'sweep.md'}, {out / 'sweep.png'} and {out / 'compare.md'} written\n")
    return EXIT_OK
