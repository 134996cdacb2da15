"""Several runs side by side: their summaries' samples concatenated, pivoted by run.

Each run directory's summary.json holds its figures as samples (`analysis.results`); a
summary.json written before samples existed has them derived from its keys, the same way.
`frame` is every run's rows, labelled with the directory given; `table` pivots the whole-window
rows (instance `all`) to one row per run and one column per metric.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis import report, results, shapes
from analysis.storage import RunDataError

# metric, column header: what the printed table shows of each run.
FIELDS = (("latency_p50", "p50 ms"), ("latency_p95", "p95 ms"), ("latency_p99", "p99 ms"), ("latency_max", "max ms"),
          ("throughput", "req/s"), ("asked_rate", "asked"), ("error_rate", "errors"), ("minutes", "minutes"))
RATES = ("throughput", "asked_rate")  # shown to 0.1 req/s
# summary.json keys `compare` reads when it derives samples: numbers or null.
SUMMARY_NUMBERS = tuple(key for _, key, unit in results.WINDOW if unit != "flag")


def summaries(run_dirs: list[Path]) -> list[dict]:
    """Each run's summary.json, building the report (without plots) where it is missing."""
    out = []
    for d in map(Path, run_dirs):
        path = d / "summary.json"
        if path.exists():
            try:
                s = shapes.summary(json.loads(path.read_text()), SUMMARY_NUMBERS)
            except shapes.ShapeError as exc:
                raise RunDataError(f"{path}: {exc}; rebuild it with `python -m analysis report {d}`") from None
            except (ValueError, UnicodeDecodeError):
                raise RunDataError(f"{path}: not valid JSON; rebuild it with `python -m analysis report {d}`") from None
        else:
            s = report.build(d, plots=False)
        s.setdefault("label", d.name)
        s["run"] = str(d)
        out.append(s)
    return out


def frame(runs: list[dict]) -> pd.DataFrame:
    """Every run's samples in one tidy DataFrame, `run` being the directory as given."""
    rows = []
    for s in runs:
        stored = s.get("samples")
        for row in stored if stored is not None else results.samples_of(s):
            rows.append({**row, "labels": {**row["labels"], "run": s["run"]}})
    return results.frame(rows)


def table(runs: list[dict]) -> pd.DataFrame:
    """One row per run (in the order given), one column per whole-window metric."""
    order = list(dict.fromkeys(s["run"] for s in runs))
    metrics = [m for m, _, _ in results.WINDOW] + ["iago_restarts_in_window"]
    rows = frame(runs)
    rows = rows[rows["instance"] == results.ALL]
    if rows.empty:
        return pd.DataFrame(index=pd.Index(order, name="run"), columns=metrics, dtype=float)
    wide = rows.pivot_table(index="run", columns="metric", values="value", aggfunc="first")
    return wide.reindex(index=order, columns=metrics)


def table_md(runs: list[dict]) -> str:
    wide = table(runs)
    labels = {s["run"]: s.get("label") or "" for s in runs}
    lines = []
    for run, row in wide.iterrows():
        cells = [run, labels[run]]
        for metric, _ in FIELDS:
            v = row[metric]
            v = None if pd.isna(v) else v
            cells.append(f"{v:.2%}" if metric == "error_rate" and v is not None
                         else report.fmt(v, 1 if metric in RATES else 0))
        cells.append(" ".join(checks(row)) or "ok")
        lines.append(cells)
    return report.md_table(["run", "label"] + [h for _, h in FIELDS] + ["checks"], lines)


def checks(row: pd.Series) -> list[str]:
    """What makes a run's figures doubtful, in a word each (the report says why at its top)."""
    marks = [("SHORTFALL", row.get("rate_shortfall") == 1), ("STARVED", row.get("queue_starved") == 1),
             ("API-ERRORS", row.get("api_errors_valid") == 0),
             ("API-RESTART", row.get("api_restarted_in_window") == 1),
             ("IAGO-RESTART", row.get("iago_restarts_in_window", 0) > 0)]
    return [word for word, on in marks if on]


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    import numpy as np

    wide = table(runs).fillna(0)
    labels = {s["run"]: s.get("label") or s["run"] for s in runs}
    names = [labels[r] for r in wide.index]
    if len(set(names)) < len(names):  # same stack/config twice: tell them apart by directory
        names = [f"{'/'.join(Path(r).parts[-2:])}\n{n}" for r, n in zip(wide.index, names)]
    x = np.arange(len(wide))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(8, 2.5 * len(wide) + 4), 4.5))
    for i, metric in enumerate(("latency_p50", "latency_p95", "latency_p99")):
        ax.bar(x + (i - 1) * 0.27, wide[metric], width=0.27, label=metric.rsplit("_", 1)[1])
    ax.axhline(100, color="grey", linestyle="--", linewidth=1, label="seed p95 ~100 ms")
    ax.set_xticks(x, names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("latency (ms)")
    ax.legend(fontsize=8)
    ax2.bar(x - 0.2, wide["throughput"], width=0.4, label="achieved")
    ax2.bar(x + 0.2, wide["asked_rate"], width=0.4, label="asked")
    ax2.set_xticks(x, names, rotation=20, ha="right", fontsize=8)
    ax2.set_ylabel("req/s")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def compare(run_dirs: list[Path], out: Path, plots: bool = True) -> str:
    runs = summaries(run_dirs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md = table_md(runs)
    text = "# Runs compared\n\n" + md
    text += ("\nPercentiles per run are window figures computed as each report states (never means of "
             "per-minute percentiles). Seed: p95 ~100 ms at 100 req/s on 4x m3.large.\n")
    if plots:
        plot(runs, out / "compare.png")
        text += "\n![compare](compare.png)\n"
    (out / "compare.md").write_text(text)
    return md
