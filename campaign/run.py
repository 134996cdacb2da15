"""`python -m campaign run --stack bench`: the benchmark from nothing to a report and back.

Check the stack config, show the plan and its cost and ask; then stand up, pull iago's metrics
while the load test runs, write the report, and destroy (unless --keep), also after Ctrl-C, a
failed `up` or a failed pull. The run directory is an `analysis` run directory (samples.jsonl,
run.json, report.md, summary.json, plots) with campaign.json beside them.
"""

from __future__ import annotations

from pathlib import Path

from infra.offline import plan as infra_plan
from campaign import checks
from campaign.checks import EXIT_FAILED, BadInput
from campaign.cycle import Env, Outcome
from campaign.journal import Journal
from campaign.preview import preview


def estimate_fields(est: infra_plan.Estimate) -> dict:
    run = est.run
    return {"hourly_usd": round(est.hourly, 3), "campaign_usd": round(est.per_run, 2),
            "minutes": {"stand-up": run.standup_minutes, "run": run.loadtest_minutes,
                        "teardown": run.teardown_minutes},
            "source": "infra/offline/plan.py (offline plan, infra/offline/prices.py list prices; stand-up and teardown "
                      "minutes are its unmeasured defaults)"}


def run(env: Env, stack_name: str, out: Path, *, keep: bool = False, yes: bool = False) -> int:
    problems = checks.stack_problems(stack_name)
    if problems:
        raise BadInput(f"stack {stack_name} cannot run a campaign (nothing was created):", problems)
    if (out / "samples.jsonl").exists() or (out / "campaign.json").exists():
        raise BadInput(f"{out} already holds a run: choose another --out")
    pv = preview(stack_name)
    est = pv.estimate(infra_plan.Run(loadtest_minutes=pv.settings.loadtest_minutes))
    env.stdout.write(infra_plan.render(pv.plan, est) + "\n\n")
    then = "keep it standing (--keep)" if keep else "destroy it"
    env.stdout.write(f"campaign: stand up stack {stack_name}, run its {pv.settings.loadtest_minutes}-minute load "
                     f"test, pull and report into {out}, then {then}: about ${est.hourly:.2f}/hour while it "
                     f"stands, ${est.per_run:.2f} for the whole campaign.\n")
    if not yes and not checks.confirm("Go on?", env.stdin, env.stdout):
        env.stdout.write("campaign: not confirmed; nothing was created.\n")
        return EXIT_FAILED
    journal = Journal.start(out, env.clock, command="run", stack=stack_name, estimate=estimate_fields(est))
    stack = env.stack_factory(stack_name)
    cycle = env.cycle(stack, journal)
    outcome = Outcome()
    try:
        with cycle.attempt(outcome):
            outputs = cycle.up("stand-up")
            cycle.measure(outputs, out)
    finally:
        cycle.teardown(keep, pv.hourly)
        journal.set(outcome=outcome.text)
    cycle.say(f"{outcome.text.split(':')[0] if outcome.code else 'done'}; the record of every phase is "
              f"{out / 'campaign.json'}")
    return outcome.code
