"""Whole-program tools: the real program evaluated offline, with no AWS account and no Pulumi CLI.

- `runner`: evaluates `__main__.py` under Pulumi mocks and records what it declares; the one way
  the tests and the tools below run the program (its names are handed on here);
- `plan`: `python -m infra.offline.plan`, what `pulumi up` would create and what it costs;
- `prices`: the dated list prices the plan reads (`prices.json`), and
  `python -m infra.offline.prices refresh`, which fetches them again from the AWS Pricing API;
- `config_table`: `python -m infra.offline.config_table`, the README's table of settings.

A test that reads stack files from elsewhere points `infra.offline.runner.ROOT` there.
"""

from infra.offline.runner import (
    ROOT, TEST_CIDR, TEST_DOCKER_HUB, BenchMocks, Declared, NotDeclared, Program, effective_config,
    engine_config, error_line, is_secret, read_stack, run_program, stack_path, stack_settings, stand_ins,
)

__all__ = [
    "ROOT", "TEST_CIDR", "TEST_DOCKER_HUB", "BenchMocks", "Declared", "NotDeclared", "Program",
    "effective_config", "engine_config", "error_line", "is_secret", "read_stack", "run_program", "stack_path",
    "stack_settings", "stand_ins",
]
