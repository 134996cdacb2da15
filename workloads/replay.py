#!/usr/bin/env python3
"""The iago replay file of the ML10M benchmark: Seldon's `create_recommendation_replay` for ml10m.

Seldon's script (seldon-server docker/iago/create_recommendation_replay.py) asked a running
server for the JS consumer key and up to 10,000 items, then wrote `num_actions` pairs of
requests: for each pair it draws `user = randint(1, num_users)`, an item uniformly from the item
list and `random() < 0.1` for a click, and writes a recommendation URL then an action URL (the
click variant carries `rlabs=1`). This module draws in exactly that order from
`random.Random(seed)`, so one seed gives one byte-identical file.

What differs, and why:
- Items come from the imported ML10M data on the data volume instead of the `/items` API: the
  distinct movie ids that have ratings, ascending. That needs no OAuth call into the server and
  no seldon-cli, and the ascending order makes the file independent of server ordering.
- The key is Seldon's pinned JS consumer key (`--key`), not read from the database.

Input: the ML10M ratings in their original format `UserID::MovieID::Rating::Timestamp`
(ratings.dat), or the `actions.csv` Seldon's ml10m import made from it (header
`user_id,item_id,value,time`); the format is detected from the first line. Users are the ids
1..N like the original (ML10M has gaps in its ids, so an id may be absent: the summary counts
them); the data must hold at least N distinct users.

This file is also the program of the in-cluster replay Job, shipped in a ConfigMap: it needs
only the standard library, and uses pandas to read the ratings faster when it is installed. Both
readers give the same item list, so the output is the same bytes either way.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from operator import itemgetter
from typing import Iterable, Optional

RECOMMENDATION = "http://{host}/js/recommendations?consumer_key={key}&user={user}&item={item}&limit=10&jsonpCallback=j\n"
ACTION = "http://{host}/js/action/new?consumer_key={key}&user={user}&item={item}&type=1&jsonpCallback=j\n"
CLICK = "http://{host}/js/action/new?consumer_key={key}&user={user}&item={item}&type=1&rlabs=1&jsonpCallback=j\n"
# Seldon's click_percent.
CLICK_SHARE = 0.1
# Replay URLs name the service; iago keeps only path and query and sends to its `victims`.
HOST = "seldon-server"

CSV_HEADER = "user_id,item_id,value,time"
# One full row of each format, used to validate every line (stdlib reader) and the first line.
_ROW = {
    "ml10m": re.compile(rb"^(\d+)::(\d+)::\d+(?:\.\d+)?::\d+\r?$", re.M),
    "csv": re.compile(rb"^(\d+),(\d+),\d+(?:\.\d+)?,\d+\r?$", re.M),
}
_CHUNK = 16 << 20


class ReplayInputError(ValueError):
    """The ratings or the parameters cannot give the asked replay; the message says why."""


@dataclass(frozen=True)
class Catalogue:
    """What the replay needs from the ratings: the items to draw from, which users exist."""

    items: tuple[int, ...]  # distinct item ids, ascending
    users: frozenset[int]  # distinct user ids
    rows: int


@dataclass(frozen=True)
class Summary:
    path: str
    users: int
    calls: int
    seed: int
    lines: int
    clicks: int
    distinct_users: int
    absent_users: int  # ids in 1..users with no rating in the data
    items: int
    engine: str
    seconds: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def detect_format(path: str) -> str:
    """`ml10m` (ratings.dat) or `csv` (Seldon's actions.csv), from the first non-blank line."""
    if not os.path.isfile(path):
        raise ReplayInputError(f"ratings file not found: {path}")
    with open(path, "rb") as f:
        for raw in f:
            line = raw.strip()
            if not line:
                continue
            if line.decode("utf-8", "replace") == CSV_HEADER:
                return "csv"
            if _ROW["ml10m"].match(line):
                return "ml10m"
            shown = line[:80].decode("utf-8", "replace")
            raise ReplayInputError(
                f"{path}: line 1 is neither an ML10M rating 'UserID::MovieID::Rating::Timestamp' "
                f"nor the actions.csv header '{CSV_HEADER}': {shown!r}"
            )
    raise ReplayInputError(f"{path}: the ratings file is empty")


def read_catalogue(path: str, engine: str = "auto") -> tuple[Catalogue, str]:
    """Distinct items and users of the ratings at `path`; `engine` is auto, pandas or stdlib."""
    fmt = detect_format(path)
    if engine == "auto":
        try:
            import pandas  # noqa: F401
        except ImportError:
            engine = "stdlib"
        else:
            engine = "pandas"
    if engine == "pandas":
        catalogue = _read_pandas(path, fmt)
    elif engine == "stdlib":
        catalogue = _read_stdlib(path, fmt)
    else:
        raise ValueError(f"engine must be auto, pandas or stdlib, got {engine!r}")
    if not catalogue.items:
        raise ReplayInputError(f"{path}: no ratings (no items to draw from)")
    return catalogue, engine


def _chunks(f) -> Iterable[bytes]:
    """The file in large pieces that end at a line end (the last one may not)."""
    rest = b""
    while True:
        block = f.read(_CHUNK)
        if not block:
            if rest:
                yield rest
            return
        block = rest + block
        cut = block.rfind(b"\n") + 1
        if cut == 0:
            rest = block
            continue
        rest = block[cut:]
        yield block[:cut]


def _read_stdlib(path: str, fmt: str) -> Catalogue:
    row = _ROW[fmt]
    users: set[bytes] = set()
    items: set[bytes] = set()
    rows, line_no = 0, 0
    first = fmt == "csv"  # skip the header line of actions.csv
    with open(path, "rb") as f:
        for chunk in _chunks(f):
            if first:
                cut = chunk.find(b"\n") + 1 or len(chunk)
                chunk, first, line_no = chunk[cut:], False, 1
            found = row.findall(chunk)
            lines = chunk.count(b"\n") + (0 if chunk.endswith(b"\n") or not chunk else 1)
            if len(found) != lines:
                _raise_bad_line(path, fmt, chunk, line_no)
            users.update(map(itemgetter(0), found))
            items.update(map(itemgetter(1), found))
            rows += len(found)
            line_no += lines
    return Catalogue(
        items=tuple(sorted({int(i) for i in items})),
        users=frozenset(int(u) for u in users),
        rows=rows,
    )


def _raise_bad_line(path: str, fmt: str, chunk: bytes, line_no: int) -> None:
    """Name the first line that is not a rating (blank lines are allowed, as pandas allows)."""
    for offset, line in enumerate(chunk.split(b"\n"), start=1):
        if line.strip() and not _ROW[fmt].match(line):
            raise ReplayInputError(
                f"{path}: line {line_no + offset} is not a rating in the {_describe(fmt)} format: "
                f"{line[:80].decode('utf-8', 'replace')!r}"
            )


def _describe(fmt: str) -> str:
    return "ML10M 'UserID::MovieID::Rating::Timestamp'" if fmt == "ml10m" else f"actions.csv '{CSV_HEADER}'"


def _read_pandas(path: str, fmt: str) -> Catalogue:
    import numpy as np
    import pandas as pd

    if fmt == "ml10m":
        # '::' would force pandas' slow python parser; split on ':' with the C parser instead:
        # "1::122::5::838985046" is 7 fields, the data in fields 0, 2, 4 and 6.
        # Every column is read (no usecols) so that a row with extra fields is an error too.
        options = dict(sep=":", header=None, names=["u", "_1", "i", "_3", "r", "_5", "t"])
    else:
        options = dict(sep=",", header=0, names=["u", "i", "r", "t"])
    empty = [c for c in options["names"] if c.startswith("_")]
    users, items, rows = [], [], 0
    try:
        # In pieces, so that memory stays flat whatever the size of the data set.
        reader = pd.read_csv(
            path, engine="c", chunksize=2_000_000,
            dtype={"u": "int64", "i": "int64", "r": "float32", "t": "int64", **{c: "float32" for c in empty}},
            **options,
        )
        for df in reader:
            if (df["u"] < 0).any() or (df["i"] < 0).any():
                raise ValueError("negative user or item ids")
            if empty and df[empty].notna().any(axis=None):
                raise ValueError("fields separated by a single ':'")
            users.append(np.unique(df["u"].to_numpy()))
            items.append(np.unique(df["i"].to_numpy()))
            rows += len(df)
    except (ValueError, pd.errors.ParserError) as exc:
        raise ReplayInputError(f"{path}: not ratings in the {_describe(fmt)} format: {exc}") from None
    return Catalogue(
        items=tuple(int(i) for i in np.unique(np.concatenate(items))) if items else (),
        users=frozenset(int(u) for u in np.unique(np.concatenate(users))) if users else frozenset(),
        rows=rows,
    )


def check_parameters(users: int, calls: int, click_share: float = CLICK_SHARE) -> None:
    if users <= 0:
        raise ReplayInputError(f"users must be > 0, got {users}")
    if calls < users:
        raise ReplayInputError(
            f"calls must be >= users ({users}) so that every user can appear, got {calls}"
        )
    if not 0.0 <= click_share <= 1.0:
        raise ReplayInputError(f"click share must be between 0 and 1, got {click_share}")


def check_users(catalogue: Catalogue, users: int, path: str = "ratings") -> int:
    """Raise when the data has fewer distinct users than asked; return how many of 1..N are absent."""
    if len(catalogue.users) < users:
        raise ReplayInputError(
            f"{path}: asked for {users} users but the data has only {len(catalogue.users)} distinct users"
        )
    return sum(1 for u in range(1, users + 1) if u not in catalogue.users)


def replay_lines(
    items: tuple[int, ...], users: int, calls: int, seed: int, key: str,
    host: str = HOST, click_share: float = CLICK_SHARE,
) -> Iterable[str]:
    """Pairs of lines, drawn exactly as Seldon's create_replay draws them."""
    rng = random.Random(seed)
    randint, uniform = rng.randint, rng.random
    last = len(items) - 1
    for _ in range(calls):
        user = randint(1, users)
        item = items[randint(0, last)]
        yield RECOMMENDATION.format(host=host, key=key, user=user, item=item)
        action = CLICK if uniform() < click_share else ACTION
        yield action.format(host=host, key=key, user=user, item=item)


def write_replay(
    ratings: str, out: str, users: int, calls: int, seed: int, key: str,
    host: str = HOST, click_share: float = CLICK_SHARE, engine: str = "auto",
) -> Summary:
    """Generate the replay from `ratings` into `out` (atomically: a running iago never reads half a file)."""
    started = time.perf_counter()
    check_parameters(users, calls, click_share)
    if not key or not re.fullmatch(r"[A-Za-z0-9]+", key):
        raise ReplayInputError(f"key must be a Seldon consumer key ([A-Za-z0-9]+), got {key!r}")
    catalogue, used = read_catalogue(ratings, engine)
    absent = check_users(catalogue, users, ratings)
    directory = os.path.dirname(os.path.abspath(out))
    os.makedirs(directory, exist_ok=True)
    lines = clicks = 0
    fd, tmp = tempfile.mkstemp(prefix=".replay-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="ascii", newline="\n") as f:
            buffer = []
            for line in replay_lines(catalogue.items, users, calls, seed, key, host, click_share):
                buffer.append(line)
                if len(buffer) >= 20000:
                    f.write("".join(buffer))
                    buffer.clear()
            f.write("".join(buffer))
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    with open(out, "rb") as f:
        for raw in f:
            lines += 1
            clicks += b"&rlabs=1&" in raw
    return Summary(
        path=out, users=users, calls=calls, seed=seed, lines=lines, clicks=clicks,
        distinct_users=len(catalogue.users), absent_users=absent, items=len(catalogue.items),
        engine=used, seconds=round(time.perf_counter() - started, 3),
    )


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="replay.py", description="Write the iago replay of the ML10M recommendation benchmark."
    )
    parser.add_argument("--ratings", required=True, help="ML10M ratings.dat or Seldon's actions.csv")
    parser.add_argument("--out", required=True, help="replay file to write")
    parser.add_argument("--users", type=int, required=True, help="users 1..N to draw from")
    parser.add_argument("--calls", type=int, required=True, help="recommendation+action pairs")
    parser.add_argument("--seed", type=int, required=True, help="random seed (same seed, same file)")
    parser.add_argument("--key", required=True, help="the client's JS consumer key")
    parser.add_argument("--host", default=HOST, help="host written into the URLs (iago ignores it)")
    parser.add_argument("--click-rate", type=float, default=CLICK_SHARE, help="share of actions that are clicks")
    parser.add_argument("--engine", choices=["auto", "pandas", "stdlib"], default="auto")
    parser.add_argument("--summary", help="also write the summary JSON to this file")
    args = parser.parse_args(argv)
    try:
        summary = write_replay(
            args.ratings, args.out, args.users, args.calls, args.seed, args.key,
            host=args.host, click_share=args.click_rate, engine=args.engine,
        )
    except ReplayInputError as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(summary.as_dict(), sort_keys=True)
    if args.summary:
        with open(args.summary, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
