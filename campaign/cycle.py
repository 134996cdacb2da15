"""The phases every campaign goes through on its stack: stand up (or update), measure, tear down.

Each phase is journaled (journal.py) with its start, end and outcome. A failure is said in one
line and raised as `PhaseFailed`; Ctrl-C as KeyboardInterrupt; the caller then tears down, and
`teardown` says plainly what is left and what it costs per hour.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, TextIO

import yaml

from analysis import api_restarts, report
from analysis.pull import make_puller
from analysis.stack import StackError
from analysis.storage import RunDataError
from campaign.checks import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from campaign.journal import Journal
from campaign.stack import CampaignStack, masked, revealed


class PhaseFailed(Exception):
    """A phase that did not finish (a failed `up`, a pull that gave up, no report)."""


@dataclass(frozen=True)
class PullOptions:
    """How the puller polls iago (`python -m analysis pull`'s options, with its defaults)."""

    interval: float = 20.0
    gone_after: float = 180.0
    patience: float = 600.0
    timeout: float = 5.0
    retry_backoff: float = 0.5
    probe_interval: float = 5.0


def one_line(exc: BaseException, limit: int = 400) -> str:
    """An exception as one line: the Automation API's errors carry the CLI's whole output, of
    which the `error:` lines say what went wrong."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line[line.lower().index("error:"):] for line in lines if "error:" in line.lower()]
    text = " / ".join(dict.fromkeys(errors[-3:] or lines[-3:] or [type(exc).__name__]))
    return text if len(text) <= limit else text[:limit] + "…"


def kubeconfig_source(stack: str, outputs: dict) -> Optional[api_restarts.Source]:
    """The stack's kubeconfig from the outputs the campaign holds (the puller would otherwise ask
    the Pulumi CLI for it again); None when they have none."""
    value = revealed(outputs.get("kubeconfig"))
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            value = None
    if not isinstance(value, dict):
        return None
    return api_restarts.Source(f"stack {stack} output kubeconfig", lambda: (value, None, None))


@dataclass
class Outcome:
    """How a campaign's phases ended: "ok", "interrupted (Ctrl-C)" or "failed: why", and the exit code."""

    text: str = "ok"
    code: int = EXIT_OK


@dataclass
class Cycle:
    stack: CampaignStack
    journal: Journal
    project_dir: Path
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    pull: PullOptions = PullOptions()

    def say(self, message: str) -> None:
        self.stderr.write(f"campaign: {message}\n")
        self.stderr.flush()

    def _stream(self, line: str) -> None:
        self.stdout.write(line + "\n")
        self.stdout.flush()

    @contextlib.contextmanager
    def attempt(self, outcome: Outcome) -> Iterator[Outcome]:
        """Phases run inside: Ctrl-C or a failed phase ends them, said in one line and kept in
        `outcome`; the caller tears down after it (in a `finally`, for anything else too)."""
        try:
            yield outcome
        except KeyboardInterrupt:
            outcome.text, outcome.code = "interrupted (Ctrl-C)", EXIT_INTERRUPTED
        except PhaseFailed as exc:
            outcome.text, outcome.code = f"failed: {exc}", EXIT_FAILED
        if outcome.code != EXIT_OK:
            self.say(outcome.text)

    def up(self, phase: str, *, config_file: Optional[Path] = None, replace: Sequence[str] = ()) -> dict:
        """`pulumi up`, its output streamed; the stack outputs."""
        entry = self.journal.begin(phase, **({"replace": list(replace)} if replace else {}))
        try:
            outputs = self.stack.up(self._stream, config_file=config_file, replace=replace)
        except KeyboardInterrupt:
            self.journal.end(entry, "interrupted")
            raise
        except Exception as exc:  # the Automation API raises CommandError and its kin
            self.journal.end(entry, f"failed: {one_line(exc)}")
            raise PhaseFailed(f"pulumi up of stack {self.stack.name} failed: {one_line(exc)}") from None
        self.journal.end(entry, "ok")
        return outputs

    def measure(self, outputs: dict, run_dir: Path, phase: str = "run") -> dict:
        """Pull iago's metrics into `run_dir` while the load test runs, then write its report."""
        entry = self.journal.begin(phase, dir=str(run_dir))
        pull = self.pull
        try:
            # The puller records the outputs in run.json: secrets never reach it.
            puller = make_puller(run_dir, stack=self.stack.name, outputs=masked(outputs),
                                 pods_source=kubeconfig_source(self.stack.name, outputs),
                                 interval=pull.interval, gone_after=pull.gone_after, patience=pull.patience,
                                 timeout=pull.timeout, retry_backoff=pull.retry_backoff,
                                 probe_interval=pull.probe_interval, clock=self.clock, sleep=self.sleep,
                                 stderr=self.stderr)
            reason = puller.run()
        except KeyboardInterrupt:
            self.journal.end(entry, "interrupted")
            raise
        except (StackError, RunDataError, OSError) as exc:
            self.journal.end(entry, f"failed: {exc}")
            raise PhaseFailed(f"the pull into {run_dir} failed: {exc}") from None
        if reason.startswith("interrupted"):  # the puller stops on Ctrl-C by itself, keeping what it has
            self.journal.end(entry, "interrupted", pull=reason)
            self.say(f"the samples pulled so far are kept in {run_dir}; `python -m analysis report {run_dir}` "
                     "reports on them")
            raise KeyboardInterrupt
        if puller.gave_up:
            self.journal.end(entry, "failed", pull=reason)
            raise PhaseFailed(f"the pull gave up: {reason}")
        try:
            summary = report.build(run_dir)
        except RunDataError as exc:
            self.journal.end(entry, f"failed: {exc}", pull=reason)
            raise PhaseFailed(f"no report from {run_dir}: {exc}") from None
        self.journal.end(entry, "ok", pull=reason, p95_ms=summary.get("p95_ms"), minutes=summary.get("minutes"))
        self.say(f"report: {run_dir / 'report.md'} (p95 {summary.get('p95_ms')} ms, p99 {summary.get('p99_ms')} ms, "
                 f"{summary.get('throughput_rps', 0):.1f} req/s over {summary.get('minutes')} minutes)")
        return summary

    def teardown(self, keep: bool, hourly: float, *, config_file: Optional[Path] = None) -> bool:
        """Destroy the stack unless `keep`; say what is left and its cost. True when nothing is."""
        name = self.stack.name
        destroy = f"`pulumi destroy --stack {name}` in {self.project_dir}"
        if keep:
            message = (f"left: stack {name} stands (--keep), about ${hourly:.2f}/hour until {destroy} removes it")
            self.journal.set(left={"stack_up": True, "hourly_usd": round(hourly, 3), "message": message})
            self.say(message)
            return False
        entry = self.journal.begin("teardown")
        try:
            self.stack.destroy(self._stream, config_file=config_file)
        except (Exception, KeyboardInterrupt) as exc:
            why = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else one_line(exc)
            self.journal.end(entry, f"failed: {why}")
            message = (f"left: the destroy of stack {name} did not finish ({why}); whatever it had not deleted "
                       f"is still there and billed, up to about ${hourly:.2f}/hour: run {destroy} until it succeeds")
            self.journal.set(left={"stack_up": True, "hourly_usd": round(hourly, 3), "message": message})
            self.say(message)
            return False
        self.journal.end(entry, "ok")
        message = f"teardown: stack {name} destroyed; nothing of it is left, $0.00/hour"
        self.journal.set(left={"stack_up": False, "hourly_usd": 0.0, "message": message})
        self.say(message)
        return True


@dataclass
class Env:
    """Where a command runs: the project, how it gets its stack, its streams and its clock."""

    project_dir: Path
    stack_factory: Callable[[str], CampaignStack]
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    pull: PullOptions = PullOptions()

    def cycle(self, stack: CampaignStack, journal: Journal) -> Cycle:
        return Cycle(stack, journal, self.project_dir, self.stdout, self.stderr, self.clock, self.sleep, self.pull)
