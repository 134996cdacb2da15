"""The shapes the stored files must have, checked before anything computes with them.

A run directory is data from the network and from people's editors: valid JSON of the wrong shape
(a list for an object, `"rate": "fast"`, counters as words, 10**400) must give one line that
names the file and what is wrong, not a traceback from deep inside pandas. Each check raises
`ShapeError` with that line's text; the readers add the file (and line) it came from.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

# Ostrich counters are Java longs.
_LONG = 2**63


class ShapeError(ValueError):
    """A stored value of the wrong type or range; the message says which and what is expected."""


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def number(v: Any, what: str, *, positive: bool = False) -> float:
    if not _is_number(v) or abs(v) >= _LONG or (positive and not v > 0):
        expected = "a positive number" if positive else "a finite number"
        raise ShapeError(f"{what} must be {expected}, got {_shown(v)}")
    return v


def integer(v: Any, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or abs(v) >= _LONG:
        raise ShapeError(f"{what} must be a whole number, got {_shown(v)}")
    return v


def mapping(v: Any, what: str) -> dict:
    if not isinstance(v, dict):
        raise ShapeError(f"{what} must be a JSON object, got {_kind(v)}")
    return v


def _shown(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _name(name: str) -> str:
    """A metric name as a message shows it: quoted and escaped when it is not plain printable
    text, so a name holding a line break cannot split the one error line."""
    return name if name.isprintable() and name.strip() == name and name else repr(name)


def _kind(v: Any) -> str:
    return {list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(v), "a number" if isinstance(v, (int, float)) else type(v).__name__)


def record(rec: dict) -> None:
    """The fields the puller writes on every sample line."""
    for key in ("endpoint", "instance"):  # what every record is grouped by: never null
        if key in rec and not isinstance(rec[key], str):
            raise ShapeError(f"`{key}` must be a string, got {_kind(rec[key])}")
    for key in ("url", "body", "error", "phase", "outcome", "key"):
        if key in rec and rec[key] is not None and not isinstance(rec[key], str):
            raise ShapeError(f"`{key}` must be a string, got {_kind(rec[key])}")
    for key in ("t", "t_recv", "ms"):
        if key in rec and rec[key] is not None:
            number(rec[key], f"`{key}`")
    for key in ("status", "epoch", "minute"):
        if key in rec and rec[key] is not None:
            integer(rec[key], f"`{key}`")


def ostrich(body: dict) -> None:
    """An Ostrich /stats.json answer: counters are longs, gauges and metric values numbers."""
    for name, v in mapping(body.get("counters", {}), "counters").items():
        integer(v, f"counter {_name(name)}")
    for name, v in mapping(body.get("gauges", {}), "gauges").items():
        number(v, f"gauge {_name(name)}")
    for name, metric in mapping(body.get("metrics", {}), "metrics").items():
        for field, v in mapping(metric, f"metric {_name(name)}").items():
            number(v, f"metric {_name(name)} {_name(field)}")
    if "labels" in body:
        mapping(body["labels"], "labels")


def graph(body: Any) -> None:
    """A /graph_data answer: {"<key>": [[ts, v, ...], ...]}."""
    for key, rows in mapping(body, "graph_data").items():
        if not isinstance(rows, list):
            raise ShapeError(f"graph_data {_name(key)} must be a list of rows, got {_kind(rows)}")
        for row in rows:
            if not isinstance(row, list) or not row:
                raise ShapeError(f"graph_data {_name(key)} rows must be lists of numbers, got {_shown(row)}")
            for v in row:
                number(v, f"graph_data {key} value")


def run_meta(meta: Any) -> dict:
    """run.json as the puller writes it."""
    mapping(meta, "run.json")
    if meta.get("rate") is not None:
        number(meta["rate"], "`rate`", positive=True)
    for key in ("stack",):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise ShapeError(f"`{key}` must be a string, got {_kind(meta[key])}")
    if meta.get("config") is not None:
        mapping(meta["config"], "`config`")
    for key in ("pulls", "instances"):
        if meta.get(key) is not None and not isinstance(meta[key], list):
            raise ShapeError(f"`{key}` must be a list, got {_kind(meta[key])}")
    for pull in meta.get("pulls") or []:
        mapping(pull, "each of `pulls`")
    for url in meta.get("instances") or []:
        if not isinstance(url, str):
            raise ShapeError(f"`instances` must list URLs, got {_shown(url)}")
    return meta


def summary(s: Any, numbers: tuple[str, ...]) -> dict:
    """summary.json as `report` writes it: the figures `compare` reads are numbers or null, and
    its `samples` (when it has them: older files do not) rows of `analysis.results`."""
    mapping(s, "summary.json")
    for key in numbers:
        if s.get(key) is not None:
            number(s[key], f"`{key}`")
    for key in ("label", "stack", "window_start", "window_end"):
        if s.get(key) is not None and not isinstance(s[key], str):
            raise ShapeError(f"`{key}` must be a string, got {_kind(s[key])}")
    for key in ("window_start", "window_end"):
        if s.get(key) is not None:
            instant(s[key], f"`{key}`")
    for inst, figures in mapping(s.get("per_instance") or {}, "`per_instance`").items():
        for key, v in mapping(figures, f"`per_instance` {_name(inst)}").items():
            if v is not None and key in numbers:
                number(v, f"`per_instance` {_name(inst)} `{key}`")
    if s.get("samples") is not None:
        if not isinstance(s["samples"], list):
            raise ShapeError(f"`samples` must be a list of rows, got {_kind(s['samples'])}")
        for i, row in enumerate(s["samples"]):
            result_row(row, f"`samples` row {i + 1}")
    return s


def instant(v: str, what: str) -> float:
    """Epoch seconds of an ISO 8601 time such as 2026-06-13T10:05:00Z."""
    try:
        t = datetime.datetime.fromisoformat(v)
        return (t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc)).timestamp()  # naive: UTC
    except (ValueError, OverflowError):
        raise ShapeError(f"{what} must be an ISO time such as 2026-06-13T10:05:00Z, got {_shown(v)}") from None


def result_row(row: Any, what: str) -> None:
    """One sample of `analysis.results`: metric, value, unit, labels (text or null), timestamp."""
    mapping(row, what)
    for key in ("metric", "unit"):
        if not isinstance(row.get(key), str):
            raise ShapeError(f"{what} `{key}` must be a string, got {_kind(row.get(key))}")
    number(row.get("value"), f"{what} `value`")
    if row.get("timestamp") is not None:
        number(row["timestamp"], f"{what} `timestamp`")
    for key, v in mapping(row.get("labels"), f"{what} `labels`").items():
        if v is not None and not isinstance(v, str):
            raise ShapeError(f"{what} label {_name(key)} must be a string, got {_kind(v)}")
