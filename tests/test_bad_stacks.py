"""A corpus of bad stack files, each refused cleanly by the program and by every offline command.

Each file in tests/bad_stacks/ is `Pulumi.<name>.yaml` with a header of `# expect: <text>` lines
(every one must appear in the refusal, case-insensitive) and optionally `# only: program plan`
for a mistake that only running the program can see (a zone the region lacks). The program is
run under mocks (`run_program`), the commands in-process through their `main`, and a few also
as processes, the way a user runs them: exit code 2, exactly one `error:` line, no traceback.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pulumi
import pytest

from infra import stackfile
from infra.checks import preflight
from infra.offline import plan as planner
from infra.offline import runner as offline
from infra.settings import SettingsError
from workloads import capacity
from conftest import aws_unreachable

CORPUS = pathlib.Path(__file__).resolve().parent / "bad_stacks"
REPO = pathlib.Path(__file__).resolve().parent.parent
COMMANDS = {"plan": planner.main, "preflight": preflight.main, "capacity": capacity.main}


def _header(path: pathlib.Path) -> tuple[list[str], set[str]]:
    expects, only = [], {"program", *COMMANDS}
    for line in path.read_bytes().split(b"\n"):
        if not line.startswith(b"# "):
            break
        text = line[2:].decode()
        if text.startswith("expect: "):
            expects.append(text[len("expect: "):])
        elif text.startswith("only: "):
            only = set(text[len("only: "):].split())
    return expects, only


CASES = {p.name[len("Pulumi."):-len(".yaml")]: _header(p) for p in sorted(CORPUS.glob("Pulumi.*.yaml"))}


def test_every_case_says_what_it_must_produce():
    assert len(CASES) >= 60, f"the corpus shrank to {len(CASES)} files"
    for name, (expects, _) in CASES.items():
        assert expects, f"tests/bad_stacks/Pulumi.{name}.yaml has no `# expect:` line"


@pytest.fixture
def corpus(monkeypatch):
    """Offline readers (and the program under mocks) read stack files from tests/bad_stacks."""
    monkeypatch.setattr(offline, "ROOT", CORPUS)
    # Never ask a real AWS if a case were ever accepted by mistake: it must fail fast instead.
    aws_unreachable(monkeypatch)


def _assert_mentions(text: str, expects: list[str], name: str) -> None:
    missing = [e for e in expects if e.lower() not in text.lower()]
    assert not missing, f"Pulumi.{name}.yaml: the refusal lacks {missing}:\n{text}"


@pytest.mark.parametrize("name", sorted(n for n, (_, only) in CASES.items() if "program" in only))
def test_the_program_refuses_it_before_any_resource(corpus, name):
    registered = []

    class Recording(offline.BenchMocks):
        def new_resource(self, args):
            registered.append(args.name)
            return super().new_resource(args)

    with pytest.raises(pulumi.RunError) as info:  # the Pulumi CLI prints a RunError without a traceback
        offline.run_program(stack=name, mocks_factory=Recording)
    _assert_mentions(str(info.value), CASES[name][0], name)
    if isinstance(info.value, SettingsError):
        assert registered == [], f"resources registered before the refusal: {registered}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_offline_command_exits_2_with_one_error_line(corpus, capsys, command, name):
    expects, only = CASES[name]
    if command not in only:
        pytest.skip(f"only {sorted(only)} can see this mistake")
    code = COMMANDS[command](["--stack", name])
    out, err = capsys.readouterr()
    assert code == 2, f"{command} --stack {name} exited {code}:\n{out}{err}"
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, f"{command}: expected one `error:` line, got {len(errors)}:\n{err}"
    assert "Traceback" not in err
    _assert_mentions(err, expects, name)


def _run(command: str, *args: str) -> subprocess.CompletedProcess:
    """`python -m <command> args` as a process, reading stack files from the corpus."""
    module = {"plan": "infra.offline.plan", "preflight": "infra.checks.preflight", "capacity": "workloads.capacity"}[command]
    code = (f"import pathlib, runpy, sys; from infra.offline import runner; runner.ROOT = pathlib.Path({str(CORPUS)!r}); "
            f"sys.argv = [{module!r}, *sys.argv[1:]]; runpy.run_module({module!r}, run_name='__main__')")
    env = {"PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_MAX_ATTEMPTS": "1"}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("command,name", [
    ("plan", "tabs"), ("plan", "binary"), ("plan", "zone-missing"), ("plan", "huge-number"),
    ("preflight", "top-list"), ("preflight", "cidr-halves"), ("capacity", "config-scalar"), ("capacity", "ns-seldon"),
])
def test_as_a_process_no_traceback_reaches_the_user(command, name):
    p = _run(command, "--stack", name)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and "Exception ignored" not in p.stderr, p.stderr
    errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, p.stderr


def test_a_stack_file_of_megabytes_is_refused_unread(tmp_path, monkeypatch, capsys):
    (tmp_path / "Pulumi.big.yaml").write_text("config:\n  aws:region: eu-west-1\n# " + "x" * (2 * 2**20) + "\n")
    monkeypatch.setattr(offline, "ROOT", tmp_path)
    assert planner.main(["--stack", "big"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Pulumi.big.yaml is 2,097,") and "bytes" in err, err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_missing_stack_file_is_one_error_line(corpus, capsys, command):
    assert COMMANDS[command](["--stack", "no-such-stack"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "Pulumi.no-such-stack.yaml" in err, err


def test_every_shipped_stack_file_reads_without_a_problem():
    for path in sorted(REPO.glob("Pulumi.*.yaml")):
        doc = stackfile.read(path)
        assert doc.problems == [], f"{path.name}: {doc.problems}"
