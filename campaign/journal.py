"""campaign.json: what a campaign did, phase by phase, and what it was estimated to cost.

Written atomically (a temporary file renamed over the old one) after every change, so that a
campaign killed at any moment leaves a readable record, which `sweep --resume` continues from.

    {"command": "run", "stack": "bench", "started": "...", "estimate": {...},
     "phases": [{"phase": "stand-up", "start": "...", "end": "...", "seconds": 4210.0,
                 "outcome": "ok"}, ...],
     "steps": [{"index": 1, "name": "...", "dir": "01-...", "status": "done"}, ...],   # sweeps
     "outcome": "ok", "left": {"stack_up": false, "hourly_usd": 0.0, "message": "..."}}
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Callable, Optional

FILE = "campaign.json"


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="seconds")


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


class Journal:
    """The campaign.json of one run or sweep directory."""

    def __init__(self, directory: Path, data: dict, clock: Callable[[], float] = time.time):
        self.dir, self.data, self.clock = Path(directory), data, clock
        self._started: dict[int, float] = {}  # id(phase entry) -> its start on `clock`

    @classmethod
    def start(cls, directory: Path, clock: Callable[[], float] = time.time, **fields) -> "Journal":
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        journal = cls(directory, {**fields, "started": iso(clock()), "phases": [], "outcome": "running"}, clock)
        journal.save()
        return journal

    @classmethod
    def read(cls, directory: Path, clock: Callable[[], float] = time.time) -> Optional["Journal"]:
        path = Path(directory) / FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except ValueError:
            raise ValueError(f"{path} is not JSON: not a campaign directory, or the file was damaged") from None
        if not isinstance(data, dict) or not isinstance(data.get("phases"), list):
            raise ValueError(f"{path} is not a campaign record")
        return cls(Path(directory), data, clock)

    def save(self) -> None:
        write_json(self.dir / FILE, self.data)

    def begin(self, phase: str, **fields) -> dict:
        now = self.clock()
        entry = {"phase": phase, "start": iso(now), **fields}
        self._started[id(entry)] = now
        self.data["phases"].append(entry)
        self.save()
        return entry

    def end(self, entry: dict, outcome: str, **fields) -> None:
        now = self.clock()
        started = self._started.pop(id(entry), now)
        entry.update(end=iso(now), seconds=round(now - started, 1), outcome=outcome, **fields)
        self.save()

    def set(self, **fields) -> None:
        self.data.update(fields)
        self.save()
