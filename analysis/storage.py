"""The run directory: `samples.jsonl` (append-only, one line per HTTP attempt) and `run.json`.

Raw responses are written before anything is parsed, one JSON line each, flushed and fsynced, so a
crash loses at most the line being written; readers skip a truncated last line with a warning and
keep everything before it. Derived tables are never stored here: a report is rebuilt from the raw
lines at any time.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from analysis import shapes

SAMPLES = "samples.jsonl"
RUN = "run.json"
# Where a record was read from (its line number), for messages; never written back.
LINE = "_line"


class RunDataError(Exception):
    """A run directory that cannot be reported on (missing, empty, not from iago)."""


class SampleLog:
    """Appends sample records to `samples.jsonl`; safe to reopen on a file a crash left torn."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / SAMPLES
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab")
        # A torn last line from an earlier crash must not swallow the next record.
        if self._file.tell() > 0:
            with open(self.path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    self._file.write(b"\n")

    def append(self, record: dict) -> None:
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
        self._file.write(line.encode())
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "SampleLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_samples(run_dir: Path) -> list[dict]:
    """Every readable sample record, in file order.

    An unreadable line (a crash mid-write) is skipped with a warning; an empty or missing file
    raises RunDataError with a message for the user.
    """
    run_dir = Path(run_dir)
    path = run_dir / SAMPLES
    if not run_dir.is_dir():
        raise RunDataError(f"{run_dir}: no such run directory")
    if not path.exists():
        raise RunDataError(f"{run_dir}: not a run directory (no {SAMPLES}; create one with `python -m analysis pull`)")
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    records: list[dict] = []
    unreadable = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            unreadable += 1
            where = "last line" if number >= len(lines) - 1 else f"line {number}"
            warnings.warn(f"{path}: {where} is truncated or corrupt, skipped ({len(raw)} bytes)", stacklevel=2)
            continue
        if isinstance(rec, dict):
            rec[LINE] = number
            records.append(rec)
        else:
            unreadable += 1
    if not records and unreadable:
        raise RunDataError(f"{path}: corrupt, none of its {unreadable} line(s) is a sample record")
    if not records:
        raise RunDataError(f"{path}: empty, no samples pulled yet")
    return records


def read_run(run_dir: Path) -> dict:
    path = Path(run_dir) / RUN
    if not path.exists():
        return {}
    try:
        return shapes.run_meta(json.loads(path.read_text()))
    except shapes.ShapeError as exc:
        raise RunDataError(f"{path}: {exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunDataError(f"{path}: not valid JSON ({exc})") from None


def write_run(run_dir: Path, meta: dict) -> None:
    """Replace run.json atomically (it is small metadata, rewritten at each pull)."""
    path = Path(run_dir) / RUN
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
