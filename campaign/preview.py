"""Each step of a campaign evaluated offline, before anything is created: the real program under
Pulumi mocks (infra/offline/runner.py), its plan and cost (infra/offline/plan.py), and what it changes on AWS
compared with the step before it.

Whether a step changes the infrastructure is read from the programs, not from a list of keys:
the AWS resources (`aws:*`) of both evaluations are compared input by input. A changed, added or
removed node group, launch template or EC2 instance means new nodes.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Optional

import pulumi

from campaign.checks import BadInput
from infra.offline import runner as offline
from infra.offline import plan as infra_plan
from infra.offline import BenchMocks, Program
from infra.settings import Settings

# The resources whose change brings new machines (EKS nodes or GlusterFS servers).
NODE_TYPES = (infra_plan.NODE_GROUP, infra_plan.LAUNCH_TEMPLATE, infra_plan.INSTANCE)
# What new nodes add to a step, unmeasured: the nodes (~5 min) and the pods that move onto them
# with their image pulls (~15 min), the corresponding parts of the stand-up breakdown behind
# infra/offline/plan.py's STANDUP_MINUTES.
NEW_NODES_MINUTES = 20
# What a step on a standing cluster adds to its load test, unmeasured: `pulumi up` of the changed
# objects and of a new iago Job (its image is on the node already), and the puller's wait for
# iago's end (`analysis pull --gone-after`, 3 min).
STEP_OVERHEAD_MINUTES = 8
IAGO_JOB = ("kubernetes:batch/v1:Job", "iago")


@dataclass(frozen=True)
class StepPreview:
    """One configuration of the stack as `pulumi up` would declare it."""

    stack: str
    overrides: dict
    settings: Settings
    program: Program
    plan: infra_plan.Plan
    hourly: float  # $ per hour while it stands
    nat_gb_price: float

    @property
    def loadtest_run(self) -> str:
        """The load test's run id: the iago Job is replaced by itself only when it changes."""
        return str(self.program.outputs.get("loadtestRun", ""))

    @property
    def iago_job_urn(self) -> str:
        return self.program.engine_urn(self.program.one(*IAGO_JOB))

    def estimate(self, run: infra_plan.Run) -> infra_plan.Estimate:
        return infra_plan.estimate(self.plan, run)

    def render(self, run: infra_plan.Run) -> str:
        return infra_plan.render(self.plan, self.estimate(run))


def preview(stack: str, overrides: Optional[dict] = None) -> StepPreview:
    """Evaluate `stack` + `overrides` offline; the caller has validated the settings first.
    What the program still refuses once it runs (a zone the region lacks) is BadInput."""
    key = json.dumps(overrides or {}, sort_keys=True)
    try:
        return _preview(stack, key, offline.stack_path(stack).read_text())
    except pulumi.RunError as exc:
        raise BadInput(f"stack {stack}{' with ' + key if overrides else ''} cannot be stood up "
                       f"(nothing was created): {exc}") from None


@functools.lru_cache(maxsize=64)
def _preview(stack: str, overrides_json: str, _stack_file_text: str) -> StepPreview:
    overrides = json.loads(overrides_json)
    settings = offline.stack_settings(stack, overrides)
    program = offline.run_program(overrides, stack=stack, mocks_factory=lambda: BenchMocks(region=settings.region))
    plan = infra_plan.plan_of(program, settings, stack)
    est = infra_plan.estimate(plan, infra_plan.Run())
    return StepPreview(stack, overrides, settings, program, plan, est.hourly, est.nat_gb_price)


@dataclass(frozen=True)
class AwsChange:
    """How the AWS resources of one configuration differ from another's."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (resource, its changed inputs)

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    @property
    def new_nodes(self) -> bool:
        touched = list(self.added) + list(self.removed) + [r for r, _ in self.changed]
        return any(r.split(" ")[0] in NODE_TYPES for r in touched)

    @property
    def added_minutes(self) -> float:
        return NEW_NODES_MINUTES if self.new_nodes else 0.0

    def describe(self) -> str:
        parts = [f"{r} ({', '.join(keys)})" for r, keys in self.changed]
        parts += [f"{r} (new)" for r in self.added] + [f"{r} (deleted)" for r in self.removed]
        return "; ".join(parts) or "nothing on AWS"


def aws_change(before: Program, after: Program) -> AwsChange:
    """The AWS resources (type name) added, removed, or with changed inputs from `before` to `after`."""
    def aws(p: Program) -> dict:
        return {f"{r.typ} {r.name}": r.inputs for r in p.resources if r.typ.startswith("aws:")}

    a, b = aws(before), aws(after)
    changed = tuple((r, tuple(sorted(k for k in set(a[r]) | set(b[r]) if a[r].get(k) != b[r].get(k))))
                    for r in sorted(a) if r in b and a[r] != b[r])
    return AwsChange(tuple(sorted(set(b) - set(a))), tuple(sorted(set(a) - set(b))), changed)
