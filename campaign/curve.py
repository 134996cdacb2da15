"""A sweep's answer: p95/p99 against the value the steps vary, and for a `requestRate` sweep the
latency-vs-throughput curve and the highest rate whose p95 stays under a target. Pure, but for
`plot`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from analysis.report import md_table

RATE_KEY = "requestRate"


@dataclass(frozen=True)
class Point:
    step: str
    x: Union[float, str]  # the step's value of the varied key, or its name
    p95: Optional[float]
    p99: Optional[float]
    throughput: Optional[float]
    asked: Optional[float]
    checks: tuple[str, ...] = ()


def _num(x: Optional[float], digits: int = 0) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def point(step: str, x, summary: dict, checks: tuple[str, ...] = ()) -> Point:
    return Point(step, x, summary.get("p95_ms"), summary.get("p99_ms"), summary.get("throughput_rps"),
                 summary.get("asked_rate_rps"), checks)


def highest_under(points: list[Point], target_ms: float) -> Optional[Point]:
    """The step with the highest numeric value whose p95 is at most `target_ms` (and whose figures
    no check doubts), or None when no step keeps under it."""
    ok = [p for p in points if isinstance(p.x, float) and p.p95 is not None and p.p95 <= target_ms and not p.checks]
    return max(ok, key=lambda p: p.x) if ok else None


def answer(points: list[Point], varied: Optional[str], target_ms: Optional[float]) -> list[str]:
    """The sentences sweep.md ends with."""
    if target_ms is None or varied is None:
        return []
    best = highest_under(points, target_ms)
    if best is None:
        return [f"No step keeps p95 at or under {target_ms:g} ms."]
    what = "rate" if varied == RATE_KEY else f"{varied}"
    line = f"Highest {what} that keeps p95 at or under {target_ms:g} ms: {best.x:g}"
    line += (f" req/s (achieved {best.throughput:.1f} req/s, p95 {best.p95:g} ms)." if varied == RATE_KEY
             else f" (p95 {best.p95:g} ms).")
    above = [p for p in points if isinstance(p.x, float) and p.x < best.x and (p.p95 or 0) > target_ms]
    if above:
        line += " Lower values went over it (" + ", ".join(f"{p.x:g}: {p.p95:g} ms" for p in above) + "): not monotone."
    return [line]


def table_md(points: list[Point], varied: Optional[str]) -> str:
    rows = [[p.step, p.x if isinstance(p.x, str) else f"{p.x:g}", _num(p.asked, 1), _num(p.throughput, 1),
             _num(p.p95), _num(p.p99), " ".join(p.checks) or "ok"] for p in points]
    return md_table(["step", varied or "step", "asked req/s", "req/s", "p95 ms", "p99 ms", "checks"], rows)


def plot(points: list[Point], varied: Optional[str], path: Path, target_ms: Optional[float] = None) -> None:
    """p95 and p99 against the varied value (against the achieved throughput for a rate sweep)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    rate = varied == RATE_KEY
    numeric = all(isinstance(p.x, float) for p in points)
    xs = [p.throughput or 0 for p in points] if rate else ([p.x for p in points] if numeric else list(range(len(points))))
    for key, marker in (("p95", "o"), ("p99", "s")):
        ax.plot(xs, [getattr(p, key) or 0 for p in points], marker=marker, label=key)
    if rate:
        for x, p in zip(xs, points):
            ax.annotate(f"{p.x:g}", (x, p.p95 or 0), textcoords="offset points", xytext=(4, -12), fontsize=8)
        ax.set_xlabel("achieved throughput (req/s); labels: asked requestRate")
        ax.set_title("latency against throughput")
    else:
        if not numeric:
            ax.set_xticks(xs, [str(p.x) for p in points], rotation=20, ha="right", fontsize=8)
        ax.set_xlabel(varied or "step")
        ax.set_title(f"latency against {varied or 'step'}")
    if target_ms is not None:
        ax.axhline(target_ms, color="red", linestyle=":", linewidth=1, label=f"target p95 {target_ms:g} ms")
    ax.axhline(100, color="grey", linestyle="--", linewidth=1, label="seed p95 ~100 ms")
    ax.set_ylabel("latency (ms)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
