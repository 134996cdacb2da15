#!/usr/bin/env python3
"""How fast the replay generator turns ML10M-sized ratings into the seed's 50,000-pair replay.

Writes a synthetic 10,000,000-row ratings file in the ML10M format (ratings.dat:
`UserID::MovieID::Rating::Timestamp`, user-sorted, 71,567 user ids with gaps, 10,681 movies)
and the items.csv of those movies into a temporary directory, then runs `workloads/replay.py`
as the in-cluster Job runs it (the 10,000 highest item ids, users 1..10,000), in a child
process per engine, and prints wall seconds and the child's peak resident memory.
Target: well under 10 s and under 1 GiB.

    python benchmarks/replay_benchmark.py [--rows 10000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
REPLAY = ROOT / "workloads" / "replay.py"
MAX_USER_ID = 71567
USERS_PRESENT = 69878  # as in ML10M: some ids in 1..71567 have no ratings
MOVIES = 10681


def write_ratings(path: pathlib.Path, items: pathlib.Path, rows: int, seed: int = 1) -> None:
    """A user-sorted ML10M-like ratings.dat with `rows` lines, and the items.csv of its movies
    (as the download Job writes it: `id,title`, one line per movie)."""
    rng = random.Random(seed)
    user_ids = sorted(rng.sample(range(1, MAX_USER_ID + 1), USERS_PRESENT))
    movie_ids = [str(m) for m in sorted(rng.sample(range(1, 65134), MOVIES))]
    with open(items, "w", newline="\n") as f:
        f.write("id,title\n" + "".join(f'{m},"Movie {m} (1995)"\n' for m in movie_ids))
    ratings = ["0.5", "1", "1.5", "2", "2.5", "3", "3.5", "4", "4.5", "5"]
    per_user, extra = divmod(rows, len(user_ids))
    with open(path, "w", newline="\n") as f:
        for n, user in enumerate(user_ids):
            count = per_user + (1 if n < extra else 0)
            prefix = f"{user}::"
            movies = rng.choices(movie_ids, k=count)
            stamps = rng.choices(range(789652009, 1231131736), k=count)
            stars = rng.choices(ratings, k=count)
            f.write("".join(
                f"{prefix}{m}::{r}::{t}\n" for m, r, t in zip(movies, stars, stamps)
            ))


def run_generator(ratings: pathlib.Path, items: pathlib.Path, out: pathlib.Path, engine: str) -> dict:
    """Run replay.py in a child process; wall seconds and the child's peak RSS."""
    cmd = [
        sys.executable, str(REPLAY), "--ratings", str(ratings), "--items", str(items), "--out", str(out),
        "--users", "10000", "--num-items", "10000", "--calls", "50000", "--seed", "20160613",
        "--key", "BENCHML10MJSKEY00001", "--engine", engine,
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"replay.py failed ({engine}): {stderr}")
    summary = json.loads(stdout.strip().splitlines()[-1])
    # ru_maxrss is in KiB on Linux.
    return {"engine": engine, "wall_s": wall, "inner_s": summary["seconds"],
            "peak_mib": usage.ru_maxrss / 1024, "lines": summary["lines"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keep", help="directory to keep the ratings and replays in")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = pathlib.Path(args.keep or tmp)
        where.mkdir(parents=True, exist_ok=True)
        ratings, items = where / "ratings.dat", where / "items.csv"
        started = time.perf_counter()
        write_ratings(ratings, items, args.rows)
        print(f"synthetic ratings: {args.rows:,} rows, {ratings.stat().st_size / 2**20:.0f} MiB "
              f"in {time.perf_counter() - started:.1f} s")
        results = [run_generator(ratings, items, where / f"replay-{e}.txt", e) for e in ("pandas", "stdlib")]
        same = (where / "replay-pandas.txt").read_bytes() == (where / "replay-stdlib.txt").read_bytes()
        for r in results:
            print(f"{r['engine']:>6}: {r['wall_s']:.2f} s wall ({r['inner_s']:.2f} s generating), "
                  f"peak RSS {r['peak_mib']:.0f} MiB, {r['lines']:,} lines")
        print(f"engines give identical bytes: {same}")
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
