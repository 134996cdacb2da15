"""Sweep files: a base stack and the steps to measure on it, each a set of stack-config overrides.

    stack: bench                 # Pulumi.<stack>.yaml, the base of every step
    description: ...             # optional, shown at the top of sweep.md
    set: {loadtestMinutes: 30}   # optional: overrides of every step
    vary:                        # compact form: one step per value (several keys: zipped, equal lengths)
      apiReplicas: [2, 3, 4]
    # or explicit steps, each a mapping of overrides with an optional `name`:
    steps:
      - name: seed
      - {name: api4, apiReplicas: 4, seldonNodeCount: 5}

Keys are the stack's config keys, with or without the `seldon-bench:` prefix (`aws:region` too).
`load` refuses a file of the wrong shape; `problems` judges every step with the settings model
(infra/settings.py) and the capacity model (workloads/capacity.py), as `pulumi up` would, and
names the step and the key of each problem. Neither creates anything.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from infra.offline import runner as offline
from infra.settings import SettingsError
from workloads.capacity import capacity_problems

TOP_KEYS = ("stack", "description", "set", "vary", "steps")
STEP_NAME = "name"


class SweepError(Exception):
    """A sweep file that cannot run; `problems` names each step and key at fault."""

    def __init__(self, path: Path, problems: list[str]):
        self.path, self.problems = Path(path), problems
        super().__init__(f"{path}: " + "; ".join(problems))


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class Step:
    index: int  # from 1
    name: str
    own: dict  # the overrides the step itself sets
    overrides: dict  # `set` and the step's own, as passed to the stack config

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={_value_text(v)}" for k, v in self.own.items()) or "the base stack"

    @property
    def dirname(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9._=-]+", "-", self.name).strip("-")[:60] or "step"
        return f"{self.index:02d}-{slug}"


@dataclass(frozen=True)
class Sweep:
    path: Path
    name: str
    stack: str
    description: str
    steps: tuple[Step, ...]
    axis: Optional[str] = None  # the first key of `vary`

    @property
    def varied(self) -> Optional[str]:
        """The key the sweep's plot puts on its x-axis: the first of `vary`, else the one key
        whose value differs between the steps, else None (the steps are shown by name)."""
        if self.axis:
            return self.axis
        keys = [k for k in dict.fromkeys(k for s in self.steps for k in s.own)
                if len({_value_text(s.overrides.get(k)) for s in self.steps}) > 1]
        return keys[0] if len(keys) == 1 else None

    def x(self, step: Step):
        """The step's value of the varied key (a number when it is one), else its name."""
        key = self.varied
        if key is None:
            return step.name
        value = step.overrides.get(key)
        try:
            return float(value)
        except (TypeError, ValueError):
            return _value_text(value)

    @property
    def fingerprint(self) -> str:
        """Changes with anything that changes what the steps run (not with comments)."""
        text = json.dumps([self.stack, [[s.name, s.overrides] for s in self.steps]], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _bad_value(where: str, key: str, value: Any) -> Optional[str]:
    if value is None:
        return f"{where}: {key} has no value (a step cannot unset a key of the base stack)"
    if isinstance(value, (str, int, float, bool, dict, list)):
        return None
    return f"{where}: {key} is a {type(value).__name__}, not a config value"


def _overrides(where: str, data: Any, problems: list[str], reserved: tuple[str, ...] = ()) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(f"{where} must be a mapping of config keys to values, got {_value_text(data)[:60]}")
        return {}
    out = {}
    for key, value in data.items():
        if key in reserved:
            continue
        if not isinstance(key, str) or not key:
            problems.append(f"{where}: a key must be a config key, got {key!r}")
            continue
        bad = _bad_value(where, key, value)
        if bad:
            problems.append(bad)
        else:
            out[key] = value
    return out


def load(path: Path) -> Sweep:
    """Read a sweep file; SweepError on YAML errors and on a file of the wrong shape."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SweepError(path, [f"cannot be read: {exc.strerror or exc}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SweepError(path, [f"is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}"]) from None
    if not isinstance(doc, dict):
        raise SweepError(path, ["must be a mapping with `stack` and `vary` or `steps` (see campaign/sweeps/)"])
    problems = []
    for key in doc:
        if key not in TOP_KEYS:
            near = difflib.get_close_matches(str(key), TOP_KEYS, n=1)
            problems.append(f"{key} is not a key of a sweep file" + (f" (did you mean {near[0]}?)" if near else "")
                            + f"; its keys are {', '.join(TOP_KEYS)}")
    stack = doc.get("stack")
    if not isinstance(stack, str) or not stack:
        problems.append("stack must name the base stack (bench for Pulumi.bench.yaml)")
    elif not offline.stack_path(stack).is_file():
        problems.append(f"stack {stack}: there is no stack file {offline.stack_path(stack)}")
    common = _overrides("set", doc.get("set"), problems)
    steps = _steps(doc, common, problems)
    if problems:
        raise SweepError(path, problems)
    axis = next(iter(doc["vary"])) if isinstance(doc.get("vary"), dict) else None
    return Sweep(path, path.stem, stack, str(doc.get("description") or ""), tuple(steps), axis)


def _steps(doc: dict, common: dict, problems: list[str]) -> list[Step]:
    vary, listed = doc.get("vary"), doc.get("steps")
    if (vary is None) == (listed is None):
        problems.append("give either `vary` (key: [values]) or `steps` (a list of overrides), "
                        + ("not both" if vary is not None else "none is given"))
        return []
    steps: list[Step] = []
    if vary is not None:
        if not isinstance(vary, dict) or not vary:
            problems.append("vary must map config keys to lists of values, e.g. apiReplicas: [2, 3, 4]")
            return []
        lengths = {}
        for key, values in vary.items():
            if not isinstance(values, list) or not values:
                problems.append(f"vary: {key} must be a non-empty list of values, e.g. {key}: [2, 3, 4]")
            else:
                lengths[key] = len(values)
        if len(set(lengths.values())) > 1:
            problems.append("vary: the lists must have the same length (their values are taken together): "
                            + ", ".join(f"{k} has {n}" for k, n in lengths.items()))
        if problems:
            return []
        for i in range(next(iter(lengths.values()))):
            own = _overrides(f"step {i + 1}", {k: v[i] for k, v in vary.items()}, problems)
            name = ", ".join(f"{k}={_value_text(v)}" for k, v in own.items())
            steps.append(Step(i + 1, name, own, {**common, **own}))
    else:
        if not isinstance(listed, list) or not listed:
            problems.append("steps must be a non-empty list of mappings of overrides")
            return []
        for i, item in enumerate(listed):
            own = _overrides(f"step {i + 1}", item, problems, reserved=(STEP_NAME,))
            name = item.get(STEP_NAME) if isinstance(item, dict) else None
            unnamed = Step(i + 1, "", own, {**common, **own})
            steps.append(Step(i + 1, unnamed.label if name is None else str(name), own, unnamed.overrides))
    seen: dict[str, int] = {}
    for s in steps:
        key = json.dumps(s.overrides, sort_keys=True)
        if key in seen:
            problems.append(f"step {s.index} ({s.name}) measures the same config as step {seen[key]}")
        seen.setdefault(key, s.index)
    names = [s.dirname for s in steps]
    for s in steps:
        if names.count(s.dirname) > 1 and names.index(s.dirname) != s.index - 1:
            problems.append(f"step {s.index}: its name {s.name!r} is another step's")
    return steps


def problems(sweep: Sweep) -> list[str]:
    """Every reason a step could not be stood up, by step and key, from the settings and the
    capacity models (the checks `pulumi up` makes before declaring anything). Empty: all fit."""
    try:
        offline.stack_settings(sweep.stack)
        base: list[str] = []
    except FileNotFoundError:
        return [f"stack {sweep.stack}: there is no stack file {offline.stack_path(sweep.stack)}"]
    except SettingsError as exc:
        base = exc.problems
    by_problem: dict[str, list[Step]] = {}
    for step in sweep.steps:
        try:
            settings = offline.stack_settings(sweep.stack, step.overrides)
        except SettingsError as exc:
            step_problems = [p for p in exc.problems if p not in base]
        else:
            step_problems = capacity_problems(settings)
        for p in step_problems:
            by_problem.setdefault(p, []).append(step)
    found = [f"stack {sweep.stack}: {p}" for p in base]
    for p, steps in by_problem.items():  # a problem of several steps (a misspelt key of `set`) once
        where = (f"step {steps[0].index} ({steps[0].name})" if len(steps) == 1
                 else "steps " + ", ".join(str(s.index) for s in steps))
        found.append(f"{where}: {p}")
    return found
