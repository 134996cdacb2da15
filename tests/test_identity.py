"""What each stack file declares, by (type, name): renaming or retyping a resource replaces it
on a live stack, so any change to these lists must be meant.

The pinned lists are tests/identity/<stack>.txt, one `type name` line per resource: the URN
without its parent chain, so they stay the same when a resource moves under a component (which
needs an alias; they are the fixed point that shows nothing else moved). After a deliberate
change, rewrite them with `python3 tests/test_identity.py` and review the diff in the commit.

tests/identity/<stack>.urns holds the full URNs, parent chain included, as a live stack has
them: a resource that moves under a component must answer to its old URN through an alias.
Rewrite them (`python3 tests/test_identity.py --urns`) only when a resource is deliberately
added or removed, never to accept a move.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if __name__ == "__main__":  # run as a script to rewrite the pins: pytest.ini's pythonpath is not there
    sys.path.insert(0, str(HERE.parent))

from infra.offline import ROOT  # noqa: E402

PINNED = HERE / "identity"
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml") if p.name != "Pulumi.yaml")


def identity(prog) -> list[str]:
    return sorted(f"{r.typ} {r.name}" for r in prog.resources if r.typ != "pulumi:pulumi:Stack")


def urns(prog) -> list[str]:
    return sorted(engine_urns(prog).values())


def engine_urns(prog) -> dict[str, str]:
    """Each resource's URN as the Pulumi engine builds it (not the mocks' own)."""
    return {r.urn: prog.engine_urn(r) for r in prog.resources if r.typ != "pulumi:pulumi:Stack"}


def _prefix(urn: str) -> str:
    return "::".join(urn.split("::")[:2])


def _under(parent_engine_urn: str, prefix: str, typ: str, name: str) -> str:
    chain = typ if not parent_engine_urn else f"{parent_engine_urn.split('::')[2]}${typ}"
    return f"{prefix}::{chain}::{name}"


def known_as(prog) -> dict[str, set[str]]:
    """Every engine URN each resource answers to on a live stack: its own, its aliases, and
    those it inherits from its parent's aliases (the engine's rule: a child keeps its name and
    type under each former URN of its parent)."""
    by_urn = {r.urn: r for r in prog.resources}
    engine = engine_urns(prog)
    memo: dict[str, set[str]] = {}

    def former(mock_urn: str) -> set[str]:
        """The engine URNs of a parent given by its mock URN: none for the stack itself."""
        r = by_urn.get(mock_urn)
        return {""} if r is None or r.typ == "pulumi:pulumi:Stack" else names(mock_urn)

    def names(urn: str) -> set[str]:
        if urn in memo:
            return memo[urn]
        r, prefix = by_urn[urn], _prefix(urn)
        parents = former(r.parent)
        found = {engine[urn]} | {_under(p, prefix, r.typ, r.name) for p in parents}
        for alias in r.aliases:
            if isinstance(alias, str):
                found.add(alias)
                continue
            typ, name = alias.get("type", r.typ), alias.get("name", r.name)
            alias_parents = ({""} if alias.get("noParent") else
                             former(alias["parentUrn"]) if "parentUrn" in alias else parents)
            found |= {_under(p, prefix, typ, name) for p in alias_parents}
        memo[urn] = found
        return found

    return {urn: names(urn) for urn in engine}


@pytest.mark.parametrize("stack", STACKS)
def test_declared_resources_keep_their_identity(program, stack):
    pinned = (PINNED / f"{stack}.txt").read_text().splitlines()
    got = identity(program(stack=stack))
    added, gone = sorted(set(got) - set(pinned)), sorted(set(pinned) - set(got))
    assert got == pinned, (
        f"{stack}: resources changed identity (a live stack would create the added and delete the gone; "
        f"if that is meant, rewrite tests/identity with `python3 tests/test_identity.py`):\n"
        f"  added: {added}\n  gone: {gone}")


@pytest.mark.parametrize("stack", STACKS)
def test_a_live_stack_keeps_every_resource_through_aliases(program, stack):
    """tests/identity/<stack>.urns holds the full URNs (parent chain included) a live stack
    has: every one must still be answered by some resource, its own URN or an alias, else
    `pulumi up` would delete that resource and create a new one."""
    live = (PINNED / f"{stack}.urns").read_text().splitlines()
    answers = known_as(program(stack=stack))
    claimed = {old: urn for urn, olds in answers.items() for old in olds}
    lost = [old for old in live if old not in claimed]
    assert not lost, (f"{stack}: these live resources would be replaced (a new parent without an alias "
                      f"naming the old one):\n  " + "\n  ".join(lost))


def test_every_stack_file_is_pinned():
    assert sorted(p.stem for p in PINNED.glob("*.txt")) == STACKS
    assert sorted(p.stem for p in PINNED.glob("*.urns")) == STACKS


if __name__ == "__main__":
    from infra.offline import run_program

    for stack in STACKS:
        prog = run_program(stack=stack)
        (PINNED / f"{stack}.txt").write_text("\n".join(identity(prog)) + "\n")
        print(f"wrote {PINNED / f'{stack}.txt'}")
        if "--urns" in sys.argv:
            (PINNED / f"{stack}.urns").write_text("\n".join(urns(prog)) + "\n")
            print(f"wrote {PINNED / f'{stack}.urns'}")
