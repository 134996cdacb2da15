"""Shared fixtures: the real program evaluated under Pulumi mocks, once per distinct config."""

from __future__ import annotations

import json

import pytest

from infra.offline import BenchMocks, Program, run_program
from infra.settings import SettingsError

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


def refused(overrides: dict | None = None, **kwargs) -> tuple[str, list[str]]:
    """Run the program expecting a SettingsError: (its message, the resources registered before it)."""
    registered: list[str] = []

    class Recording(BenchMocks):
        def new_resource(self, args):
            registered.append(args.name)
            return super().new_resource(args)

    with pytest.raises(SettingsError) as info:
        run_program(overrides, mocks_factory=Recording, **kwargs)
    return str(info.value), registered


def aws_unreachable(monkeypatch) -> None:
    """Credentials that look valid and an AWS endpoint where nothing listens: any call fails fast."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                       "AWS_MAX_ATTEMPTS": "1", "AWS_CONFIG_FILE": "/nonexistent",
                       "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
