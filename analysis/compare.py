"""Several runs side by side: one table and one plot of their summaries."""

from __future__ import annotations

import json
from pathlib import Path

from analysis import report, shapes
from analysis.storage import RunDataError

FIELDS = (("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"), ("p99_ms", "p99 ms"), ("max_ms", "max ms"),
          ("throughput_rps", "req/s"), ("asked_rate_rps", "asked"), ("error_rate", "errors"), ("minutes", "minutes"))


def summaries(run_dirs: list[Path]) -> list[dict]:
    """Each run's summary.json, building the report (without plots) where it is missing."""
    out = []
    for d in map(Path, run_dirs):
        path = d / "summary.json"
        if path.exists():
            try:
                s = shapes.summary(json.loads(path.read_text()), tuple(key for key, _ in FIELDS))
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


def table_md(runs: list[dict]) -> str:
    rows = []
    for s in runs:
        cells = [s["run"], s.get("label") or ""]
        for key, _ in FIELDS:
            v = s.get(key)
            cells.append(f"{v:.2%}" if key == "error_rate" and v is not None else report.fmt(v, 1 if key.endswith("rps") else 0))
        cells.append(" ".join(checks(s)) or "ok")
        rows.append(cells)
    return report.md_table(["run", "label"] + [h for _, h in FIELDS] + ["checks"], rows)


def checks(s: dict) -> list[str]:
    """What makes a run's figures doubtful, in a word each (the report says why at its top)."""
    marks = [("SHORTFALL", s.get("rate_shortfall")), ("STARVED", s.get("queue_starved")),
             ("API-ERRORS", s.get("api_errors_valid") is False),
             ("API-RESTART", s.get("api_restarted_in_window") is True),
             ("IAGO-RESTART", bool(s.get("restarts_in_window")))]
    return [word for word, on in marks if on]


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    import numpy as np

    names = [s.get("label") or s["run"] for s in runs]
    if len(set(names)) < len(names):  # same stack/config twice: tell them apart by directory
        names = [f"{'/'.join(Path(s['run']).parts[-2:])}\n{n}" for s, n in zip(runs, names)]
    x = np.arange(len(runs))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(8, 2.5 * len(runs) + 4), 4.5))
    for i, key in enumerate(("p50_ms", "p95_ms", "p99_ms")):
        ax.bar(x + (i - 1) * 0.27, [s.get(key) or 0 for s in runs], width=0.27, label=key[:-3])
    ax.axhline(100, color="grey", linestyle="--", linewidth=1, label="seed p95 ~100 ms")
    ax.set_xticks(x, names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("latency (ms)")
    ax.legend(fontsize=8)
    ax2.bar(x - 0.2, [s.get("throughput_rps") or 0 for s in runs], width=0.4, label="achieved")
    ax2.bar(x + 0.2, [s.get("asked_rate_rps") or 0 for s in runs], width=0.4, label="asked")
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
    text = "# Runs compared\n\n" + table_md(runs)
    text += ("\nPercentiles per run are window figures computed as each report states (never means of "
             "per-minute percentiles). Seed: p95 ~100 ms at 100 req/s on 4x m3.large.\n")
    if plots:
        plot(runs, out / "compare.png")
        text += "\n![compare](compare.png)\n"
    (out / "compare.md").write_text(text)
    return table_md(runs)
