"""The seam between a campaign and Pulumi: a stack that can be brought up, read and destroyed.

`AutomationStack` is the real one, Pulumi's Automation API over the Pulumi CLI program in the
project directory (`pulumi.automation`, part of the `pulumi` package). The tests use a fake
with the same three methods (tests/fake_stack.py).
"""

from __future__ import annotations

from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, Sequence

OnOutput = Callable[[str], None]


@dataclass(frozen=True)
class Secret:
    """A stack output Pulumi keeps secret (the kubeconfig, the Grafana password): the stack hands
    it over wrapped, so that nothing stores it by accident (`masked`)."""

    value: Any

    def __repr__(self) -> str:
        return "Secret([secret])"


def masked(outputs: dict) -> dict:
    """The outputs as `pulumi stack output --json` prints them: each secret as "[secret]"."""
    return {k: "[secret]" if isinstance(v, Secret) else v for k, v in outputs.items()}


def revealed(value: Any) -> Any:
    return value.value if isinstance(value, Secret) else value


class CampaignStack(Protocol):
    """What a campaign needs of a stack."""

    name: str

    def up(self, on_output: OnOutput, *, config_file: Optional[Path] = None,
           replace: Sequence[str] = ()) -> dict:
        """`pulumi up` (with the config of `config_file` when given, and `--replace` of the URNs in
        `replace`); returns the stack outputs, each secret one wrapped in `Secret`. Raises on a
        failed update."""

    def outputs(self) -> dict:
        """The current stack outputs ({} for a stack with nothing deployed)."""

    def destroy(self, on_output: OnOutput, *, config_file: Optional[Path] = None) -> None:
        """`pulumi destroy`; raises when it did not finish."""


class AutomationStack:
    """A stack of the project in `project_dir`, selected (or created) on first use only, so that
    nothing, not even an empty stack, exists before the user has confirmed."""

    def __init__(self, name: str, project_dir: Path):
        self.name = name
        self.project_dir = Path(project_dir)
        self._stack = None

    def _get(self):
        if self._stack is None:
            from pulumi import automation as auto

            self._stack = auto.create_or_select_stack(stack_name=self.name, work_dir=str(self.project_dir))
        return self._stack

    def up(self, on_output: OnOutput, *, config_file: Optional[Path] = None, replace: Sequence[str] = ()) -> dict:
        result = self._get().up(on_output=on_output, on_error=on_output, replace=list(replace) or None,
                                config_file=str(config_file) if config_file else None)
        return _unwrapped(result.outputs)

    def outputs(self) -> dict:
        return _unwrapped(self._get().outputs())

    def destroy(self, on_output: OnOutput, *, config_file: Optional[Path] = None) -> None:
        self._get().destroy(on_output=on_output, on_error=on_output,
                            config_file=str(config_file) if config_file else None)


def _unwrapped(outputs) -> dict:
    """Automation API outputs (`OutputValue`: value, secret) as plain values, secrets wrapped."""
    return {key: Secret(out.value) if out.secret else out.value for key, out in outputs.items()}
