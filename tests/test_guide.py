"""docs/benchmark-guide.md stays true: its commands parse with the real CLIs, its variants exist."""

from __future__ import annotations

import re
import shlex

import pytest

from analysis.__main__ import parser as analysis_parser
from infra.offline import ROOT
from infra.settings import Settings

GUIDE = (ROOT / "docs" / "benchmark-guide.md").read_text()


def commands(prefix: str) -> list[list[str]]:
    """Every `python -m <prefix> ...` command line in the guide's code blocks, as argv after the module."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", GUIDE, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith(f"python -m {prefix} ") or line == f"python -m {prefix}":
                argv = shlex.split(line.split("|")[0])[3:]
                found.append(argv)
    return found


def test_guide_shows_pull_report_and_compare():
    used = {argv[0] for argv in commands("analysis")}
    assert {"pull", "report", "compare"} <= used, f"the guide must show analysis pull, report and compare; shows {used}"


@pytest.mark.parametrize("argv", commands("analysis"), ids=" ".join)
def test_analysis_commands_in_the_guide_parse(argv):
    try:
        analysis_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"`python -m analysis {' '.join(argv)}` in the guide is not accepted by analysis/__main__.py")


@pytest.mark.parametrize("module", ["infra.offline.plan", "infra.offline.prices", "infra.checks.preflight", "infra.checks.images"])
def test_infra_commands_in_the_guide_parse(module):
    import importlib

    argvs = commands(module)
    assert argvs, f"the guide never shows python -m {module}"
    for argv in argvs:
        try:
            importlib.import_module(module).parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"`python -m {module} {' '.join(argv)}` in the guide is not accepted by {module}")


def test_every_variant_stack_is_in_the_guide():
    for path in sorted(ROOT.glob("Pulumi.bench-*.yaml")):
        stack = path.name[len("Pulumi."):-len(".yaml")]
        assert f"`{stack}`" in GUIDE, f"variant {stack} is not in the guide's variant table"


def test_settings_the_guide_names_exist():
    aliases = {f.alias for f in Settings.model_fields.values()}
    named = set(re.findall(r"seldon-bench:([a-zA-Z][a-zA-Z0-9]*)", GUIDE))
    assert named, "the guide names no settings"
    assert named <= aliases, f"the guide names settings that do not exist: {sorted(named - aliases)}"


def test_variant_costs_in_the_guide_are_what_the_planner_says(program):
    """The guide's per-run figures are `python -m infra.offline.plan --stack <variant>` with its defaults."""
    from infra.offline import stack_settings
    from infra.offline.plan import Run, estimate, plan_of

    rows = dict(re.findall(r"^\| `(bench-[a-z0-9-]+)` \|.*\| \$([0-9.]+) \|$", GUIDE, re.M))
    rows["bench"] = re.search(r"bench itself: \$([0-9.]+) per run", GUIDE).group(1)
    assert len(rows) == 1 + len(list(ROOT.glob("Pulumi.bench-*.yaml"))), f"the guide prices {sorted(rows)}"
    for stack, shown in rows.items():
        settings = stack_settings(stack, {})
        est = estimate(plan_of(program(stack=stack), settings, stack), Run(loadtest_minutes=settings.loadtest_minutes))
        assert f"{est.per_run:.2f}" == shown, f"the guide says ${shown} per run for {stack}, the planner ${est.per_run:.2f}"
