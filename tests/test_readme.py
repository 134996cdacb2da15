"""The README is the user's interface to the config and the tests: keep it true."""

import pathlib
import re

from infra.settings import settings_table

ROOT = pathlib.Path(__file__).resolve().parent.parent


def readme() -> str:
    return (ROOT / "README.md").read_text()


def test_config_table_lists_every_key_with_its_default():
    table = re.search(r"<!-- config-table:start -->\n(.*)\n<!-- config-table:end -->", readme(), re.S)
    assert table, "README has no config table between the config-table markers"
    assert table.group(1) == settings_table(), (
        "README config table is stale: regenerate it with `python -m infra.offline.config_table`")


def test_ci_runs_exactly_the_readme_test_command():
    blocks = re.findall(r"```bash\n(.*?)\n```", readme(), re.S)
    test_commands = [b for b in blocks if "pytest" in b]
    assert len(test_commands) == 1, "README must show exactly one test command"
    ci_lines = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
    assert test_commands[0].strip() in ci_lines, ".ci/run does not run the README's test command"


def test_readme_stand_up_command_uses_the_bench_stack_and_local_backend():
    text = readme()
    assert "pulumi login --local" in text and "bench" in text and "pulumi up" in text


def test_readme_states_every_difference_from_the_2016_run():
    from analysis.fidelity import DIFFERENCES

    text = readme()
    for line in DIFFERENCES:
        assert f"- {line}\n" in text, f"README does not state this difference from the seed run: {line}"
