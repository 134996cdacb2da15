"""`python -m analysis pull|report|compare`: see `--help` on each command."""

from __future__ import annotations

import argparse
import logging
import math
import sys
import urllib.parse
import time
import warnings
from pathlib import Path

from analysis.storage import RunDataError

EXIT_BAD_INPUT = 2


def _finite(text: str, low: float, inclusive: bool) -> float:
    """A finite number above `low` (or at it when `inclusive`): `inf` or `nan` would only fail later."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < low or (value == low and not inclusive):
        raise argparse.ArgumentTypeError(f"must be a finite number {'>=' if inclusive else '>'} {low:g}, got {text}")
    return value


def positive(text: str) -> float:
    return _finite(text, 0.0, inclusive=False)


def not_negative(text: str) -> float:
    return _finite(text, 0.0, inclusive=True)


def http_url(text: str) -> str:
    """An http(s) URL with a host: anything else would only fail later, poll after poll."""
    parsed = urllib.parse.urlparse(text)
    try:
        parsed.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise argparse.ArgumentTypeError(f"has a port that is not a number: {text!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise argparse.ArgumentTypeError(f"must be an http(s) URL with a host, e.g. http://HOST:9994, got {text!r}")
    return text


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m analysis", description=(
        "Pull iago's load-test metrics live from its admin server, then report on and compare runs."))
    sub = p.add_subparsers(dest="command", required=True)

    pull = sub.add_parser("pull", help="poll iago while the load test runs; store every answer raw",
                          description="Poll iago's admin server(s) and append every answer to RUN/samples.jsonl. "
                          "Stops when iago has been gone for --gone-after seconds after having been seen, after "
                          "--minutes, or on Ctrl-C (exit 0). Pulling again into the same directory appends "
                          "and never stores a minute twice.")
    src = pull.add_mutually_exclusive_group(required=True)
    src.add_argument("--url", action="append", metavar="URL", type=http_url,
                     help="iago admin base URL, e.g. http://HOST:9994 (repeat for several iago instances)")
    src.add_argument("--stack", metavar="STACK",
                     help="read iagoAdminUrls/iagoAdminUrl (and requestRate) from `pulumi stack output`")
    pull.add_argument("--out", required=True, type=Path, metavar="RUN_DIR", help="run directory, e.g. runs/bench-1")
    pull.add_argument("--interval", type=positive, default=20.0, metavar="SECONDS",
                      help="seconds between polls of each instance (default 20: ~6 requests a minute)")
    pull.add_argument("--minutes", type=positive, metavar="N", help="stop after N minutes")
    pull.add_argument("--rate", type=positive, metavar="REQ_PER_S",
                      help="the rate asked of iago in total, recorded in run.json for the report's rate check")
    pull.add_argument("--gone-after", type=positive, default=180.0, metavar="SECONDS",
                      help="stop when iago has been unreachable this long after having been seen (default 180)")
    pull.add_argument("--timeout", type=positive, default=5.0, metavar="SECONDS",
                      help="connect/read timeout per request (default 5)")
    pull.add_argument("--retry-backoff", type=not_negative, default=0.5, metavar="SECONDS",
                      help="urllib3 Retry backoff factor for immediate retries (default 0.5)")
    pull.add_argument("--kubeconfig", metavar="PATH",
                      help="list the seldon-server pods' restarts at the start and end of the pull with this "
                      "kubeconfig (--stack uses the stack's `kubeconfig` output without it)")
    pull.add_argument("--patience", type=positive, default=600.0, metavar="SECONDS",
                      help="give up (exit 1) when no URL has answered as iago for this long from the start "
                      "(default 600); once iago was seen, outages are followed as long as --gone-after allows")
    pull.add_argument("--api-url", metavar="URL", type=http_url,
                      help="seldon-server's API (e.g. http://HOST), probed every --probe-interval seconds for "
                      "errors it answers with HTTP 200 (--stack reads seldonApiUrl)")
    pull.add_argument("--api-key", metavar="KEY",
                      help="the JS consumer key of the probe (--stack reads seldonApiKey)")
    pull.add_argument("--probe-interval", type=positive, default=5.0, metavar="SECONDS",
                      help="seconds between API probes (default 5: 0.2%% of the seed's 100 req/s)")
    pull.add_argument("--namespace", metavar="NS",
                      help="namespace of the seldon-server pods (default: the stack's `namespace` output, "
                      "else seldon)")

    rep = sub.add_parser("report", help="build report.md, summary.json and plots from a run directory",
                         description="Build RUN/report.md, RUN/summary.json and PNG plots from the stored samples.")
    rep.add_argument("run", type=Path, metavar="RUN_DIR")
    rep.add_argument("--from", dest="start", metavar="TIME",
                     help="window start: ISO time (UTC), HH:MM, or +N minutes from the first minute")
    rep.add_argument("--to", dest="end", metavar="TIME", help="window end (excluded), same forms as --from")
    rep.add_argument("--rate", type=positive, metavar="REQ_PER_S", help="asked rate (overrides run.json)")
    rep.add_argument("--no-plots", action="store_true", help="skip the PNG plots")

    cmp_ = sub.add_parser("compare", help="table and plot of several runs' summaries side by side",
                          description="Compare runs: writes OUT/compare.md and OUT/compare.png, prints the table.")
    cmp_.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    cmp_.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="where to write (default .)")
    cmp_.add_argument("--no-plots", action="store_true", help="skip the PNG plot")
    return p


def main(argv: list[str] | None = None, *, clock=time.time, sleep=time.sleep, stdout=None, stderr=None) -> int:
    """Entry point; `clock`/`sleep` let tests drive the puller on a simulated clock."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda msg, *a, **k: stderr.write(f"warning: {msg}\n")
            return _run(args, clock, sleep, stdout, stderr)
    except RunDataError as exc:
        stderr.write(f"error: {exc}\n")
        return EXIT_BAD_INPUT
    except OSError as exc:  # e.g. an unwritable --out: say so in one line
        stderr.write(f"error: {exc}\n")
        return EXIT_BAD_INPUT


def _run(args, clock, sleep, stdout, stderr) -> int:
    if args.command == "pull":
        from analysis.pull import make_puller
        from analysis.stack import StackError, stack_outputs
        # The puller reports outages itself, once; urllib3 would log every retry to stderr.
        logging.getLogger("urllib3").setLevel(logging.ERROR)
        try:
            outputs = stack_outputs(args.stack) if args.stack else None
            puller = make_puller(
                args.out, urls=args.url, stack=args.stack, outputs=outputs, rate=args.rate,
                kubeconfig=args.kubeconfig, namespace=args.namespace, api_url=args.api_url, api_key=args.api_key,
                probe_interval=args.probe_interval, interval=args.interval, minutes=args.minutes,
                gone_after=args.gone_after, timeout=args.timeout, retry_backoff=args.retry_backoff,
                patience=args.patience, clock=clock, sleep=sleep, stderr=stderr)
        except StackError as exc:
            stderr.write(f"error: {exc}\n")
            return EXIT_BAD_INPUT
        puller.run()
        return 1 if puller.gave_up else 0
    if args.command == "report":
        from analysis import report
        summary = report.build(args.run, start=args.start, end=args.end, rate=args.rate, plots=not args.no_plots)
        report.print_summary(summary, stdout)
        stdout.write(f"wrote {args.run / 'report.md'} and {args.run / 'summary.json'}\n")
        return 0
    from analysis import compare
    stdout.write(compare.compare(args.runs, args.out, plots=not args.no_plots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
