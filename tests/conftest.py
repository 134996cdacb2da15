"""Shared fixtures: the real program evaluated under Pulumi mocks, once per distinct config."""

from __future__ import annotations

import json
import sys
import pathlib

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from infra.offline import Program, run_program  # noqa: E402

_cache: dict[str, Program] = {}


def evaluate(overrides: dict | None = None, stack: str = "bench", **kwargs) -> Program:
    """The program's declared resources for `stack` + `overrides`, evaluated once per session."""
    key = json.dumps([stack, overrides or {}, kwargs], sort_keys=True, default=str)
    if key not in _cache:
        _cache[key] = run_program(overrides, stack=stack, **kwargs)
    return _cache[key]


@pytest.fixture(scope="session")
def bench() -> Program:
    """The seed benchmark exactly as `Pulumi.bench.yaml` declares it."""
    return evaluate()


@pytest.fixture(scope="session")
def program():
    """Evaluate the program with config overrides: `program({"apiReplicas": "4"})`."""
    return evaluate
