"""report.md, summary.json and PNG plots for one run directory, from its stored samples alone."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import api_restarts, fidelity, parse, prober, results, windows
from analysis.storage import RunDataError

PLOTS = ("latency_p95.png", "latency_p99.png", "throughput.png", "errors.png")


def build(run_dir, *, start: str | None = None, end: str | None = None, rate: float | None = None,
          plots: bool = True, ramp_s: int = windows.RAMP_S) -> dict:
    """Compute everything, write the three outputs into run_dir, return the summary."""
    run_dir = Path(run_dir)
    run = parse.load(run_dir)
    table = windows.per_minute(run.entries)
    w_start, w_end, notes = windows.default_window(table, ramp_s)
    first = int(table.index.min())
    if start or end:
        w_start = windows.parse_time(start, first) if start else w_start
        w_end = windows.parse_time(end, first) if end else w_end
        notes = [f"Window set on the command line: {windows.hhmm(w_start)} to {windows.hhmm(w_end)} (end excluded)."]
        if w_end <= w_start:
            raise RunDataError(f"--to ({windows.hhmm(w_end)}) must be after --from ({windows.hhmm(w_start)})")
        # Time before iago's first full minute or after its last one is not load anyone applied: a
        # window reaching into it would divide the run's requests by time they did not cover (a
        # false rate shortfall). The first and last minutes with traffic are partial.
        traffic = table.index[table["requests"] > 0]
        lo, hi = (int(traffic.min()) + 60, int(traffic.max())) if len(traffic) else (first, first)
        if w_start < lo or w_end > hi:
            w_start, w_end = max(w_start, lo), min(w_end, hi)
            if w_end <= w_start:
                raise RunDataError(f"the window {start or '...'} to {end or '...'} holds no full minute of load "
                                   f"(iago's full minutes run from {windows.hhmm(lo)} to {windows.hhmm(hi)})")
            notes.append(f"The window was cut to iago's full minutes of load: {windows.hhmm(w_start)} to "
                         f"{windows.hhmm(w_end)} (end excluded).")
    asked = rate if rate is not None else run.meta.get("rate")
    asked = float(asked) if asked is not None else None
    summary = windows.window_summary(run, w_start, w_end, asked)
    if summary["minutes"] == 0:
        raise RunDataError(f"no pulled minute in the window {windows.hhmm(w_start)}-{windows.hhmm(w_end)}")
    starts = run.entries.groupby(["instance", "epoch"])["minute"].min().sort_values()
    first_epochs = run.entries.groupby("instance")["minute"].min()
    restarts = sorted({int(m) for (inst, _), m in starts.items() if m > first_epochs[inst] and w_start <= m < w_end})
    summary["restarts_in_window"] = [windows.iso(m) for m in restarts]
    if restarts:
        notes.append("iago restarted inside the window (at " + ", ".join(windows.hhmm(m) for m in restarts)
                     + ") and ramped up again: consider --from/--to around it.")
    # seldon-server's restarts (Kubernetes), distinct from iago's restarts (JVM epochs) above
    summary.update(api_restarts.summarize(run.api_pods, w_start, w_end))
    # Errors seldon-server answers with HTTP 200, which iago counts as successes.
    summary.update(prober.window_fields(run.probes, w_start, w_end))
    summary["differences_from_seed"] = list(fidelity.DIFFERENCES)
    summary["run"] = run_dir.name
    summary["stack"] = run.meta.get("stack")
    summary["label"] = label(run.meta, run_dir)
    summary["instances"] = run.instances
    summary["seed"] = windows.SEED
    summary["samples"] = results.samples_of(summary)
    table["in_window"] = (table.index >= w_start) & (table.index < w_end)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    (run_dir / "report.md").write_text(render(summary, table, run, notes, plots))
    if plots:
        plot(table, run, w_start, w_end, run_dir, asked)
    return summary


def label(meta: dict, run_dir: Path) -> str:
    """'bench: m3.large, 100 req/s' when the stack's outputs are known, else the directory name."""
    parts = []
    cfg = meta.get("config") or {}
    for key in ("instanceType", "seldonInstanceType", "apiReplicas"):
        if key in cfg:
            parts.append(f"{key}={cfg[key]}")
    if meta.get("rate"):
        parts.append(f"{meta['rate']:g} req/s")
    head = meta.get("stack") or Path(run_dir).name
    return f"{head}: {', '.join(parts)}" if parts else head


def fmt(x, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "-"
    if isinstance(x, float) and digits:
        return f"{x:.{digits}f}"
    if isinstance(x, float):
        return f"{x:.0f}" if abs(x) >= 10 else f"{x:.2f}".rstrip("0").rstrip(".")
    return str(x)


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _bracket(summary: dict, key: str) -> str:
    lo, hi = summary.get(key + "_bounds") or (None, None)
    return fmt(lo) if lo == hi else f"{fmt(lo)}..{fmt(hi)}"


def flags(summary: dict) -> list[str]:
    out = []
    api_errors = prober.flag(summary)
    if api_errors and summary.get("api_errors_valid") is False:
        out.append(api_errors)  # the run measured failures: before anything else
    asked = summary.get("asked_rate_rps")
    if summary.get("rate_shortfall"):
        out.append(f"**RATE SHORTFALL: iago completed {summary['throughput_rps']:.1f} req/s of the {asked:g} "
                   f"req/s asked ({summary['rate_ratio']:.0%}). A generator that did not keep up measured "
                   "itself, not Seldon.**")
    if summary.get("queue_starved"):
        out.append(f"**STARVED SEND QUEUE: queue_depth was 0 in {summary['queue_empty_samples']} sample(s) "
                   "while the rate was short: the feeder did not keep iago's queue filled.**")
    elif summary.get("queue_empty_samples"):
        out.append(f"Note: queue_depth touched 0 in {summary['queue_empty_samples']} sample(s) although the "
                   "rate was met.")
    if summary.get("restarts_in_window"):
        out.append("**iago RESTARTED inside the window (" + ", ".join(summary["restarts_in_window"])
                   + "): the window mixes two ramps; set --from/--to.**")
    if restarted := api_restarts.flag(summary):
        out.append(restarted)
    if summary.get("missing_minutes"):
        out.append(f"**{summary['missing_minutes']} minute(s) of the window have no data (not pulled, not "
                   "backfillable from /graph_data): counts cover only the minutes pulled; rates are over those "
                   "minutes.**")
    if asked is None:
        out.append("Asked rate unknown (no `rate` in run.json; pass --rate): the rate was not checked.")
    if summary.get("error_rate"):
        out.append(f"Errors: {summary['errors']} of the requests failed or returned non-2xx "
                   f"({summary['error_rate']:.2%}).")
    if api_errors and summary.get("api_errors_valid") is not False:
        out.append(api_errors)
    return out


def render(summary: dict, table: pd.DataFrame, run: parse.Run, notes: list[str], plots: bool) -> str:
    s = summary
    parts = [f"# iago load test report: {s['label']}\n"]
    for f in flags(s):
        parts.append(f"> {f}\n")
    parts.append(f"\n{api_restarts.line(s)}\n")
    parts.append(f"\nSteady-state window {s['window_start']} to {s['window_end']} ({s['minutes']} minutes, "
                 f"end excluded), {len(s['instances'])} iago instance(s).\n\n")
    seed = windows.SEED
    rows = [
        ["requests completed", fmt(s["requests"]), ""],
        ["throughput (req/s)", fmt(s["throughput_rps"], 1), fmt(seed["throughput_rps"])],
        ["asked rate (req/s)", fmt(s["asked_rate_rps"]), ""],
        ["error rate", f"{s['error_rate']:.3%}" if s["error_rate"] is not None else "-", ""],
        ["API error rate (probes, HTTP 200 errors included)",
         f"{s['api_error_rate']:.3%} of {s['api_probes']}" if s["api_error_rate"] is not None else "unknown", ""],
        ["mean latency (ms)", fmt(s["mean_ms"], 1), ""],
        ["p50 latency (ms)", fmt(s["p50_ms"]), ""],
        ["p95 latency (ms)", fmt(s["p95_ms"]), "~100"],
        ["p99 latency (ms)", fmt(s["p99_ms"]), "spikes"],
        ["max latency (ms)", (">= " if s.get("max_is_lower_bound") else "") + fmt(s["max_ms"]), ""],
    ]
    parts.append(md_table(["figure", "this run", "seed (2016)"], rows))
    parts.append(f"\nSeed result: {seed['text']}.\n\n")
    parts.append("What differs from the seed's run:\n\n" + "".join(f"- {d}\n" for d in fidelity.DIFFERENCES) + "\n")
    parts.append("Percentile brackets (what one Ostrich histogram over the window would report lies in): "
                 f"p50 {_bracket(s, 'p50_ms')}, p95 {_bracket(s, 'p95_ms')}, p99 {_bracket(s, 'p99_ms')} ms.\n\n")
    parts.append("## How the figures are computed\n\n" + windows.METHOD + "\n\n")
    parts.append("Throughput counts completions (`client/requests`); offered rate (`requests_sent`) was "
                 f"{fmt(s['offered_rps'], 1)} req/s. Error rate = (`client/failures` + non-2xx responses) / "
                 "(`client/success` + `client/failures`): iago counts HTTP 4xx/5xx as successes.\n\n")
    parts.append("## Window\n\n" + "\n".join(f"- {n}" for n in notes) + "\n\n")
    if s.get("per_instance"):
        parts.append("## Per instance\n\nCounts and rates add up exactly across instances; percentiles "
                     "cannot be merged exactly, so each instance's is shown and the combined figure above "
                     "is the count-weighted mixture, bracketed as stated.\n\n")
        prow = [[u, fmt(v["requests"]), fmt(v["throughput_rps"], 1), fmt(v["p50_ms"]), fmt(v["p95_ms"]),
                 fmt(v["p99_ms"]), fmt(v["max_ms"])] for u, v in s["per_instance"].items()]
        parts.append(md_table(["instance", "requests", "req/s", "p50", "p95", "p99", "max"], prow) + "\n")
    if s["status_counts"] or s["failure_counts"]:
        parts.append("## Responses in the window\n\n")
        parts.append(md_table(["kind", "count"],
                              [[f"HTTP {k}", str(v)] for k, v in sorted(s["status_counts"].items())]
                              + [[f"failure {k}", str(v)] for k, v in sorted(s["failure_counts"].items())]))
        parts.append("\n")
    parts.append("## Data quality\n\n")
    quality = [f"{run.attempts} stored samples, {run.failed_attempts} failed polls (errors, timeouts, 5xx).",
               f"{s['epochs']} iago JVM epoch(s)" + (" (iago restarted: counters were not diffed across "
                                                      "restarts; traffic after an epoch's last latch is lost "
                                                      "by iago itself)." if s["epochs"] > 1 else ".")]
    span = (table.index.max() - table.index.min()) // 60 + 1
    gaps = span - len(table)
    if gaps:
        quality.append(f"{gaps} minute(s) inside the run have no data (missed and not backfillable).")
    quality += run.notes
    parts.append("\n".join(f"- {q}" for q in quality) + "\n\n")
    if plots:
        parts.append("## Plots\n\n" + "".join(f"![{p}]({p})\n" for p in PLOTS) + "\n")
    parts.append("## Per minute\n\n`*` = in the window. Percentiles are that minute's own (Ostrich), or the "
                 "mixture estimate when several instances/epochs share the minute.\n\n")
    parts.append(minute_table_md(table))
    return "".join(parts)


def minute_table_md(table: pd.DataFrame) -> str:
    status = parse.status_columns(table)
    fails = parse.failure_columns(table)
    header = (["minute (UTC)", "", "requests", "success", "failures"]
              + [f"fail {c.split(':', 1)[1].rsplit('.', 1)[-1]}" for c in fails]
              + [f"HTTP {c.split(':', 1)[1]}" for c in status]
              + ["req/s", "sent/s", "p50", "p95", "p99", "max", "queue", "src"])
    t = table
    cols = [pd.to_datetime(t.index, unit="s", utc=True).strftime("%Y-%m-%d %H:%M"),
            np.where(t["in_window"], "*", "")]
    for c in ["requests", "success", "failures"] + fails + status:
        cols.append(t[c].astype("int64").astype(str))
    cols.append(t["throughput_rps"].map("{:.1f}".format))
    cols.append(t["sent_rps"].map("{:.1f}".format))
    for c in ("p50", "p95", "p99", "max", "queue_depth"):
        cols.append(t[c].map(lambda v: "-" if pd.isna(v) else f"{v:.0f}"))
    cols.append(t["source"].astype(str))
    rows = [list(r) for r in zip(*[list(c) for c in cols])]
    return md_table(header, rows)


def plot(table: pd.DataFrame, run: parse.Run, w_start: int, w_end: int, out: Path, asked: float | None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    from matplotlib import pyplot as plt

    # Missing minutes become gaps in the lines rather than straight segments across them.
    table = table.reindex(range(int(table.index.min()), int(table.index.max()) + 60, 60))
    x = pd.to_datetime(table.index, unit="s", utc=True)
    span = (pd.Timestamp(w_start, unit="s", tz="UTC"), pd.Timestamp(w_end, unit="s", tz="UTC"))
    by_inst = {i: g.set_index("minute") for i, g in run.entries.groupby("instance")} if len(run.instances) > 1 else {}

    def figure(name: str, title: str, ylabel: str, series: dict, seed: float | None = None,
               seed_label: str = "seed (2016)") -> None:
        fig, ax = plt.subplots(figsize=(10, 4))
        for lbl, (xs, ys) in series.items():
            ax.plot(xs, ys, label=lbl, linewidth=1.2, marker=".", markersize=3)
        if seed is not None:
            ax.axhline(seed, color="grey", linestyle="--", linewidth=1, label=seed_label)
        ax.axvspan(*span, color="tab:green", alpha=0.08, label="steady-state window")
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("time (UTC)")
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", fontsize=8)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=dt.timezone.utc))
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)

    def per_instance(col: str) -> dict:
        return {f"{col} {i}": (pd.to_datetime(g.index, unit="s", utc=True), g[col]) for i, g in by_inst.items()}

    figure("latency_p95.png", "p95 latency per minute", "ms",
           {"p95 (all)": (x, table["p95"]), **per_instance("p95")}, windows.SEED["p95_ms"])
    figure("latency_p99.png", "p99 latency per minute", "ms", {"p99 (all)": (x, table["p99"]), **per_instance("p99")})
    figure("throughput.png", "throughput per minute", "req/s",
           {"completed": (x, table["throughput_rps"]), "sent": (x, table["sent_rps"])},
           float(asked) if asked else None, "asked rate")
    figure("errors.png", "errors per minute", "requests",
           {"failures": (x, table["failures"]), "non-2xx": (x, table["errors"] - table["failures"])})


def print_summary(summary: dict, out) -> None:
    s = summary
    for f in flags(s):
        out.write(f.replace("**", "") + "\n")
    out.write(api_restarts.line(s).replace("**", "").replace("`", "") + "\n")
    out.write(f"window {s['window_start']} .. {s['window_end']} ({s['minutes']} min)\n")
    out.write(f"throughput {fmt(s['throughput_rps'], 1)} req/s (asked {fmt(s['asked_rate_rps'])}), "
              f"error rate {s['error_rate']:.3%}\n" if s["error_rate"] is not None else "no requests\n")
    out.write(f"latency ms: p50 {fmt(s['p50_ms'])} p95 {fmt(s['p95_ms'])} [{_bracket(s, 'p95_ms')}] "
              f"p99 {fmt(s['p99_ms'])} [{_bracket(s, 'p99_ms')}] max {fmt(s['max_ms'])} "
              f"mean {fmt(s['mean_ms'], 1)}  (seed: p95 ~100 ms at 100 req/s)\n")
