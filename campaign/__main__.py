"""`python -m campaign run|sweep`: see `--help` on each command, and campaign/__init__.py."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Optional

from campaign.checks import EXIT_BAD_INPUT, EXIT_INTERRUPTED, BadInput
from campaign.cycle import Env

class _Parser(argparse.ArgumentParser):
    """Bad arguments end like every other refusal here: one `error:` line, exit 2."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see `{self.prog} --help`)\n")


def _milliseconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of milliseconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of milliseconds > 0, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m campaign", description=(
        "The benchmark's whole cycle in one command: plan and cost, `pulumi up`, pull and report, "
        "`pulumi destroy` (also after Ctrl-C or a failure, unless --keep)."))
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="stand up a stack, measure it, report, tear it down",
                         description="Stand up STACK, pull iago's metrics while the load test runs, write the "
                         "report, destroy the stack. OUT/campaign.json records every phase and the estimated cost.")
    run.add_argument("--stack", default="bench", help="the stack whose Pulumi.<stack>.yaml to run (default bench)")
    run.add_argument("--out", type=Path, metavar="RUN_DIR", help="run directory (default runs/STACK-YYYYmmdd-HHMM)")
    sweep = sub.add_parser("sweep", help="measure a series of config overrides on one stack, then compare",
                           description="Run each step of a sweep file (campaign/sweeps/*.yaml) on its base stack, "
                           "each into its own run directory, then compare them (compare.md, sweep.md, plots).")
    sweep.add_argument("file", type=Path, metavar="FILE.yaml")
    sweep.add_argument("--out", type=Path, metavar="DIR", help="sweep directory (default runs/<file's name>)")
    sweep.add_argument("--resume", action="store_true", help="continue an interrupted sweep after its last finished step")
    sweep.add_argument("--target-p95", type=_milliseconds, metavar="MS",
                       help="say which steps keep p95 at or under MS (for requestRate: the highest such rate)")
    for cmd in (run, sweep):
        cmd.add_argument("--keep", action="store_true", help="leave the stack standing at the end (it is billed)")
        cmd.add_argument("--yes", action="store_true", help="do not ask before creating anything")
    return p


def default_env() -> Env:
    """The real stacks: Pulumi's Automation API, which drives the Pulumi CLI."""
    import shutil

    from infra.offline import runner as offline
    from campaign.stack import AutomationStack

    if shutil.which("pulumi") is None:
        raise BadInput("the campaign drives the Pulumi CLI, and `pulumi` is not on PATH",
                       ["install it (https://www.pulumi.com/docs/install/), log in (`pulumi login --local` "
                        "as in the README's \"The two commands\") and run the campaign again; nothing was created"])
    project = offline.ROOT
    return Env(project_dir=project, stack_factory=lambda name: AutomationStack(name, project))


def main(argv: Optional[list[str]] = None, env: Optional[Env] = None) -> int:
    args = parser().parse_args(argv)
    try:
        env = env or default_env()
        if args.command == "run":
            from campaign.run import run

            out = args.out or Path("runs") / f"{args.stack}-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M}"
            return run(env, args.stack, out, keep=args.keep, yes=args.yes)
        from campaign.sweep import sweep

        return sweep(env, args.file, out=args.out, resume=args.resume, target_p95=args.target_p95,
                     keep=args.keep, yes=args.yes)
    except BadInput as exc:
        (env.stderr if env else sys.stderr).write(exc.block() + "\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # outside the phases: before anything was created, or after the teardown
        (env.stderr if env else sys.stderr).write("campaign: interrupted (Ctrl-C)\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
