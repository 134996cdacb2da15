"""What a campaign checks before it creates anything, and how it asks to go on."""

from __future__ import annotations

from typing import Optional, TextIO

from infra.offline import runner as offline
from infra.settings import SettingsError
from workloads.capacity import capacity_problems

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class BadInput(Exception):
    """Refused before anything is created: one `error:` block, exit 2."""

    def __init__(self, headline: str, problems: Optional[list[str]] = None):
        self.headline, self.problems = headline, problems or []
        super().__init__(self.block())

    def block(self) -> str:
        return "\n".join([f"error: {self.headline}"] + [f"  - {p}" for p in self.problems])


def stack_problems(stack: str, overrides: Optional[dict] = None) -> list[str]:
    """Why `pulumi up` of `stack` (+ `overrides`) would be refused or could not work: its settings,
    its capacity, and what it lacks that offline tools stand in for (the address allowed to reach
    the load balancers, the Docker Hub account of the image cache)."""
    try:
        settings = offline.stack_settings(stack, overrides)
    except FileNotFoundError:
        return [f"there is no stack file {offline.stack_path(stack)} (is the stack name {stack!r} right?)"]
    except SettingsError as exc:
        return list(exc.problems)
    found = capacity_problems(settings)
    found += [f"{used.split(';')[0]} in {offline.stack_path(stack).name}, which `pulumi up` needs "
              "(README, \"The two commands\")" for used in offline.stand_ins(stack, overrides)]
    return found


def confirm(question: str, stdin: TextIO, stdout: TextIO) -> bool:
    stdout.write(f"{question} [y/N] ")
    stdout.flush()
    try:
        answer = stdin.readline()
    except KeyboardInterrupt:  # Ctrl-C at the question is a no
        answer = ""
    if not answer:
        stdout.write("\n")
    return answer.strip().lower() in ("y", "yes")
