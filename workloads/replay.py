#!/usr/bin/env python3
"""The iago replay file of the ML10M benchmark: Seldon's `create_recommendation_replay` for ml10m.

Seldon's `docker/iago/create_recommendation_replay.sh <client> <file> <num_items> <num_actions>`
(the seed ran it as `ml10m example.ml10m.replay.txt 10000 50000`) saved the client's JS key and
`seldon-cli api --endpoint /items --limit <num_items>`, then ran create_recommendation_replay.py,
which writes `num_actions` pairs of requests: for each pair it draws
`user = randint(1, num_users)` (`--num-users`, default 10000), then
`item = items[randint(0, len(items) - 1)]`, then `random() < 0.1` for a click, and writes a
recommendation URL then an action URL (the click variant carries `rlabs=1`). This module draws
in exactly that order from `random.Random(seed)`, so one seed gives one byte-identical file.

The item pool, read in seldon-server v1.4.10 (the same code in v1.3.3/v1.3.4):
- The ml10m import (`seldon-cli import --action items`, python/seldon/cli/import_items_utils.py)
  inserts one `items` row per line of items.csv, which create_ml10m_recommender.sh (and this
  project's download Job) makes from movies.dat: all 10,681 movies, rated or not, each with
  `item_id` = `client_item_id` = the MovieLens movie id and type 1. The actions import adds no
  items.
- `/items?limit=N` (ItemController -> ItemService.getItems -> SqlItemPeer.getItems) queries
  with `setOrdering("itemId desc")` and `setRange(0, N)`: the N highest movie ids, highest
  first, or every item when there are fewer than N. Nothing re-sorts the list on the way:
  seldon-cli prints the response body as it came, and the script's `get_items` numbers the
  entries in that order (`self.items[i]`, keeping type 1, which every ml10m item is).
- So the index drawn by `randint` points into the ids in descending order, and the order
  matters: index 0 is the highest id. `item_pool` builds that same list from items.csv (or
  movies.dat) and `replay_lines` indexes it the same way: for one item list and one random state
  the lines are byte-identical to the script's.

What differs, and why:
- Items are read from the items file on the data volume instead of asked from `/items`: the
  same list without an OAuth call into the server or seldon-cli.
- The key is Seldon's pinned JS consumer key (`--key`), not read from the database.
- The draws are seeded. The script used the unseeded module-level `random`, and ran where
  seldon-cli runs (the seldon-control image, Python 2, whose `randint` turns `random()` into an
  integer differently from Python 3), so no file of the original can be reproduced; what is kept
  is the item list, the users and the order of the draws.
- The ratings are read too (`ratings.dat` `UserID::MovieID::Rating::Timestamp`, or the
  `actions.csv` Seldon's import read, header `user_id,item_id,value,time`; the format is detected
  from the first line) to check that the data holds at least N distinct users and to count the
  ids of 1..N without a rating (ML10M's ids have gaps) and the pool's items nobody rated; the
  original checked neither, and they change no draw.

This file is also the program of the in-cluster replay Job, shipped in a ConfigMap: it needs
only the standard library, and uses pandas to read the ratings faster when it is installed. Both
readers give the same users, so the output is the same bytes either way.
"""

from __future__ import annotations

import argparse
import csv
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
# The seed's `num_items`: create_recommendation_replay.sh ml10m ... 10000 50000.
SEED_ITEMS = 10000
# movies.dat: MovieID::Title::Genres (ISO-8859-1; only the id is read).
_MOVIE = re.compile(rb"^(\d+)::")
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
    """What the replay learns from the ratings: which users and items have ratings."""

    items: tuple[int, ...]  # distinct rated item ids, ascending
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
    items: int  # the pool drawn from: min(items_asked, items_imported)
    items_asked: int
    items_imported: int  # distinct ids in the items file
    unrated_items: int  # items of the pool with no rating in the data
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
        raise ReplayInputError(f"{path}: no ratings")
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


def read_items(path: str) -> tuple[int, ...]:
    """The ids of the items Seldon's import puts in its items table, in file order.

    `path` is the items.csv the import reads (a header with an `id` column, as
    import_items_utils.py reads it with a DictReader) or the movies.dat it is made from
    (`MovieID::Title::Genres`); the format is detected from the first line. A repeated id is an
    error: the import refuses it (`item_id` is the table's primary key), so no such data can
    have been imported.
    """
    if not os.path.isfile(path):
        raise ReplayInputError(f"items file not found: {path}")
    with open(path, "rb") as f:
        first = next((raw for raw in f if raw.strip()), b"")
    if not first:
        raise ReplayInputError(f"{path}: the items file is empty")
    found = _read_movies(path) if _MOVIE.match(first.strip()) else _read_items_csv(path)
    seen: dict[int, int] = {}
    for line, item in found:
        if item in seen:
            raise ReplayInputError(
                f"{path}: item id {item} appears on lines {seen[item]} and {line}; Seldon's import "
                f"refuses a repeated id (item_id is the primary key of its items table)"
            )
        seen[item] = line
    if not seen:
        raise ReplayInputError(f"{path}: no items (nothing to draw from)")
    return tuple(seen)


def _read_movies(path: str) -> list[tuple[int, int]]:
    found = []
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            match = _MOVIE.match(raw)
            if not match:
                raise ReplayInputError(
                    f"{path}: line {n} is not a movie 'MovieID::Title::Genres': "
                    f"{raw[:80].decode('latin-1').rstrip()!r}"
                )
            found.append((n, int(match.group(1))))
    return found


def _read_items_csv(path: str) -> list[tuple[int, int]]:
    found = []
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        header = next((row for row in reader if row), [])
        if "id" not in header:
            raise ReplayInputError(
                f"{path}: line 1 is neither a movie 'MovieID::Title::Genres' nor an items.csv header "
                f"with an 'id' column: {','.join(header)[:80]!r}"
            )
        column = header.index("id")
        for row in reader:
            if not row:
                continue
            value = row[column] if column < len(row) else ""
            if not value.isdigit() or not value.isascii():
                raise ReplayInputError(
                    f"{path}: line {reader.line_num}: the item id must be a whole number, got {value!r}"
                )
            found.append((reader.line_num, int(value)))
    return found


def item_pool(items: Iterable[int], limit: int) -> tuple[int, ...]:
    """What seldon-server's `/items?limit=N` answers, in its order: the `limit` highest ids,
    highest first (SqlItemPeer: ordering `itemId desc`, range 0..limit), all of them if fewer."""
    return tuple(sorted(set(items), reverse=True)[:limit])


def check_parameters(users: int, calls: int, items: int = SEED_ITEMS, click_share: float = CLICK_SHARE) -> None:
    # Upstream asks nothing of calls against users: a short replay simply names fewer users.
    if users <= 0:
        raise ReplayInputError(f"users must be > 0, got {users}")
    if calls <= 0:
        raise ReplayInputError(f"calls must be > 0 (an empty replay gives iago nothing to send), got {calls}")
    if items <= 0:
        raise ReplayInputError(f"items must be > 0, got {items}")
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
    """Pairs of lines, drawn exactly as Seldon's create_replay draws them.

    `items` is the list in the order `/items` returned it (`item_pool`): index i is the script's
    `self.items[i]`, so the same index draws the same item.
    """
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
    ratings: str, out: str, users: int, calls: int, seed: int, key: str, *,
    items: str, num_items: int = SEED_ITEMS,
    host: str = HOST, click_share: float = CLICK_SHARE, engine: str = "auto",
) -> Summary:
    """Generate the replay over the `num_items` highest ids of the items file `items`, users
    1..`users` checked against `ratings`, into `out` (atomically: a running iago never reads
    half a file)."""
    started = time.perf_counter()
    check_parameters(users, calls, num_items, click_share)
    if not key or not re.fullmatch(r"[A-Za-z0-9]+", key):
        raise ReplayInputError(f"key must be a Seldon consumer key ([A-Za-z0-9]+), got {key!r}")
    # The small items file first: a bad one fails before the ratings are read.
    imported = read_items(items)
    pool = item_pool(imported, num_items)
    catalogue, used = read_catalogue(ratings, engine)
    absent = check_users(catalogue, users, ratings)
    rated = set(catalogue.items)
    directory = os.path.dirname(os.path.abspath(out))
    os.makedirs(directory, exist_ok=True)
    lines = clicks = 0
    fd, tmp = tempfile.mkstemp(prefix=".replay-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="ascii", newline="\n") as f:
            buffer = []
            for line in replay_lines(pool, users, calls, seed, key, host, click_share):
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
        distinct_users=len(catalogue.users), absent_users=absent, items=len(pool), items_asked=num_items,
        items_imported=len(imported), unrated_items=sum(1 for i in pool if i not in rated),
        engine=used, seconds=round(time.perf_counter() - started, 3),
    )


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="replay.py", description="Write the iago replay of the ML10M recommendation benchmark."
    )
    parser.add_argument("--ratings", required=True, help="ML10M ratings.dat or Seldon's actions.csv")
    parser.add_argument("--items", required=True, help="the items.csv Seldon imported, or ML10M movies.dat")
    parser.add_argument("--num-items", type=int, required=True,
                        help="draw from the N highest item ids, as /items?limit=N (all if fewer)")
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
            items=args.items, num_items=args.num_items, host=args.host, click_share=args.click_rate, engine=args.engine,
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
