"""What each stack file declares, by (type, name): renaming or retyping a resource replaces it
on a live stack, so any change to these lists must be meant.

The pinned lists are tests/identity/<stack>.txt, one `type name` line per resource: the URN
without its parent chain, so they stay the same when a resource moves under a component (which
needs an alias; they are the fixed point that shows nothing else moved). After a deliberate
change, rewrite them with `python3 tests/test_identity.py` and review the diff in the commit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from infra.offline import ROOT  # noqa: E402

PINNED = HERE / "identity"
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml") if p.name != "Pulumi.yaml")


def identity(prog) -> list[str]:
    return sorted(f"{r.typ} {r.name}" for r in prog.resources if r.typ != "pulumi:pulumi:Stack")


@pytest.mark.parametrize("stack", STACKS)
def test_declared_resources_keep_their_identity(program, stack):
    pinned = (PINNED / f"{stack}.txt").read_text().splitlines()
    got = identity(program(stack=stack))
    added, gone = sorted(set(got) - set(pinned)), sorted(set(pinned) - set(got))
    assert got == pinned, (
        f"{stack}: resources changed identity (a live stack would create the added and delete the gone; "
        f"if that is meant, rewrite tests/identity with `python3 tests/test_identity.py`):\n"
        f"  added: {added}\n  gone: {gone}")


def test_every_stack_file_is_pinned():
    assert sorted(p.stem for p in PINNED.glob("*.txt")) == STACKS


if __name__ == "__main__":
    from infra.offline import run_program

    for stack in STACKS:
        (PINNED / f"{stack}.txt").write_text("\n".join(identity(run_program(stack=stack))) + "\n")
        print(f"wrote {PINNED / f'{stack}.txt'}")
