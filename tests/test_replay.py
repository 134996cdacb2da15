"""The replay generator: Seldon's create_recommendation_replay for ml10m, on small synthetic ratings."""

from __future__ import annotations

import random
import subprocess
import sys
import urllib.parse
from collections import Counter

import pytest

from workloads import replay
from workloads.replay import ReplayInputError, write_replay

KEY = "BENCHML10MJSKEY00001"
ENGINES = ("stdlib", "pandas")


def ml10m_ratings(path, users=range(1, 61), items=(1, 2, 5, 10, 32, 47, 50, 296, 318, 593), per_user=6, seed=3):
    """A user-sorted ratings.dat; returns the path."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        for u in users:
            for _ in range(per_user):
                f.write(f"{u}::{rng.choice(items)}::{rng.choice(['1', '3.5', '5'])}::{rng.randrange(10**9)}\n")
    return str(path)


def actions_csv(path, ratings_path):
    """Seldon's ml10m import writes actions.csv from ratings.dat with awk; the same here."""
    with open(ratings_path) as src, open(path, "w") as f:
        f.write("user_id,item_id,value,time\n")
        for line in src:
            f.write(",".join(line.strip().split("::")) + "\n")
    return str(path)


@pytest.fixture
def ratings(tmp_path):
    return ml10m_ratings(tmp_path / "ratings.dat")


def generate(tmp_path, ratings, users=20, calls=400, seed=7, engine="stdlib", name="replay.txt"):
    out = tmp_path / name
    summary = write_replay(ratings, str(out), users=users, calls=calls, seed=seed, key=KEY, engine=engine)
    return out.read_text().splitlines(), summary


def parse(line):
    url = urllib.parse.urlsplit(line)
    return url, dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))


# ------------------------------------------------------------------ shape of the file


@pytest.mark.parametrize("engine", ENGINES)
def test_replay_has_one_recommendation_and_one_action_line_per_call(tmp_path, ratings, engine):
    lines, summary = generate(tmp_path, ratings, calls=400, engine=engine)
    assert len(lines) == 800 == summary.lines, "replay must hold 2 lines (recommendation, action) per call"
    assert all("/js/recommendations?" in l for l in lines[0::2]), "even lines must be recommendation calls"
    assert all("/js/action/new?" in l for l in lines[1::2]), "odd lines must be the paired action calls"


def test_each_action_is_for_the_user_and_item_of_its_recommendation(tmp_path, ratings):
    lines, _ = generate(tmp_path, ratings)
    for rec, action in zip(lines[0::2], lines[1::2]):
        (_, r), (_, a) = parse(rec), parse(action)
        assert (r["user"], r["item"]) == (a["user"], a["item"]), f"action {action} does not follow {rec}"


def test_urls_are_seldons_templates_exactly(tmp_path, ratings):
    lines, _ = generate(tmp_path, ratings, calls=300)
    rec, plain, click = set(), set(), set()
    for line in lines:
        url, q = parse(line)
        assert (url.scheme, url.netloc) == ("http", "seldon-server"), f"{line} must address http://seldon-server"
        shape = line.replace(f"user={q['user']}&", "user=U&").replace(f"item={q['item']}&", "item=I&")
        {"/js/recommendations": rec, "/js/action/new": click if "rlabs" in q else plain}[url.path].add(shape)
    assert rec == {f"http://seldon-server/js/recommendations?consumer_key={KEY}&user=U&item=I&limit=10&jsonpCallback=j"}
    assert plain == {f"http://seldon-server/js/action/new?consumer_key={KEY}&user=U&item=I&type=1&jsonpCallback=j"}
    assert click == {f"http://seldon-server/js/action/new?consumer_key={KEY}&user=U&item=I&type=1&rlabs=1&jsonpCallback=j"}


def test_users_are_ids_1_to_n_and_all_of_them_appear(tmp_path, ratings):
    lines, summary = generate(tmp_path, ratings, users=20, calls=1000)
    users = {int(parse(l)[1]["user"]) for l in lines}
    assert users == set(range(1, 21)), "replay must draw exactly the users 1..replayUsers"
    assert summary.absent_users == 0


def test_items_come_from_the_ratings_and_are_drawn_uniformly(tmp_path, ratings):
    lines, summary = generate(tmp_path, ratings, calls=5000)
    items = Counter(int(parse(l)[1]["item"]) for l in lines[0::2])
    assert set(items) == {1, 2, 5, 10, 32, 47, 50, 296, 318, 593}, "items must be the rated movie ids"
    assert summary.items == 10
    # 5000 uniform draws over 10 items: 500 each, sd ~21; 400..600 is beyond 4.5 sd.
    assert all(400 <= n <= 600 for n in items.values()), f"item draws are not uniform: {items}"


def test_one_action_in_ten_is_a_click(tmp_path, ratings):
    lines, summary = generate(tmp_path, ratings, users=20, calls=20000)
    share = summary.clicks / 20000
    # Binomial(20000, 0.1): sd 0.0021; +-0.01 is beyond 4.5 sd.
    assert abs(share - 0.1) < 0.01, f"click share {share:.4f} is not Seldon's 10 %"
    assert summary.clicks == sum("rlabs=1" in l for l in lines[1::2])


# ------------------------------------------------------------------ determinism


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path, ratings):
    generate(tmp_path, ratings, seed=20160613, name="a.txt")
    generate(tmp_path, ratings, seed=20160613, name="b.txt")
    generate(tmp_path, ratings, seed=20160614, name="c.txt")
    a, b, c = ((tmp_path / n).read_bytes() for n in ("a.txt", "b.txt", "c.txt"))
    assert a == b, "the same replaySeed must give a byte-identical replay"
    assert a != c, "a different replaySeed must give a different replay"


def test_pandas_and_stdlib_readers_give_the_same_bytes_for_both_input_formats(tmp_path, ratings):
    csv = actions_csv(tmp_path / "actions.csv", ratings)
    outputs = set()
    for source in (ratings, csv):
        for engine in ENGINES:
            generate(tmp_path, source, engine=engine, name="out.txt")
            outputs.add((tmp_path / "out.txt").read_bytes())
    assert len(outputs) == 1, "the Job's stdlib reader and the pandas reader must write identical replays"


def test_draws_are_those_of_seldons_script(tmp_path, ratings):
    """Seldon's loop (randint user, randint item index, random() < 0.1), seeded, over our item list."""
    random.seed(11)
    items = [str(i) for i in (1, 2, 5, 10, 32, 47, 50, 296, 318, 593)]
    expected = []
    for _ in range(300):
        user = str(random.randint(1, 20))
        item = items[random.randint(0, len(items) - 1)]
        expected.append(f"http://seldon-server/js/recommendations?consumer_key={KEY}&user={user}&item={item}&limit=10&jsonpCallback=j")
        click = "&rlabs=1" if random.random() < 0.1 else ""
        expected.append(f"http://seldon-server/js/action/new?consumer_key={KEY}&user={user}&item={item}&type=1{click}&jsonpCallback=j")
    lines, _ = generate(tmp_path, ratings, users=20, calls=300, seed=11)
    assert lines == expected


def test_the_file_is_replaced_atomically_and_no_temporary_file_is_left(tmp_path, ratings):
    out = tmp_path / "loadtest" / "ml10m.replay.txt"
    write_replay(ratings, str(out), users=10, calls=50, seed=1, key=KEY)
    write_replay(ratings, str(out), users=10, calls=60, seed=1, key=KEY)
    assert [p.name for p in out.parent.iterdir()] == ["ml10m.replay.txt"]
    assert len(out.read_text().splitlines()) == 120


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_file_is_a_clear_error(tmp_path, engine):
    with pytest.raises(ReplayInputError, match="ratings file not found: .*nowhere.dat"):
        write_replay(str(tmp_path / "nowhere.dat"), str(tmp_path / "r.txt"), 10, 20, 1, KEY, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("content, message", [
    ("1,122,5,838985046\n", "neither an ML10M rating"),  # commas without the actions.csv header
    ("1::122::5\n", "neither an ML10M rating"),  # a column missing
    ("userId::movieId::rating::timestamp\n1::122::5::838985046\n", "neither an ML10M rating"),
    ("", "empty"),
])
def test_wrong_columns_are_a_clear_error(tmp_path, engine, content, message):
    path = tmp_path / "ratings.dat"
    path.write_text(content)
    with pytest.raises(ReplayInputError, match=message):
        write_replay(str(path), str(tmp_path / "r.txt"), 1, 1, 1, KEY, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("bad", ["7::x::4::838985046", "7::50::4", "7::50::4::838985046::9"])
def test_a_bad_row_after_good_ones_is_a_clear_error(tmp_path, ratings, engine, bad):
    path = tmp_path / "mixed.dat"
    path.write_text(open(ratings).read() + bad + "\n" + "8::50::4::838985046\n")
    with pytest.raises(ReplayInputError, match="(line 361 is not a rating|not ratings in the) .*ML10M"):
        write_replay(str(path), str(tmp_path / "r.txt"), 10, 20, 1, KEY, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_fewer_users_in_the_data_than_asked_is_a_clear_error(tmp_path, engine):
    small = ml10m_ratings(tmp_path / "small.dat", users=range(1, 31))
    with pytest.raises(ReplayInputError, match="asked for 40 users but the data has only 30 distinct users"):
        write_replay(small, str(tmp_path / "r.txt"), users=40, calls=100, seed=1, key=KEY, engine=engine)


def test_user_ids_missing_from_the_data_are_counted_not_refused(tmp_path):
    """ML10M's ids have gaps: like Seldon's script, draw 1..N and report the absent ids."""
    gappy = ml10m_ratings(tmp_path / "gappy.dat", users=[u for u in range(1, 41) if u % 10 != 3])
    lines, summary = generate(tmp_path, gappy, users=30, calls=500)
    assert summary.distinct_users == 36 and summary.absent_users == 3
    assert {int(parse(l)[1]["user"]) for l in lines} == set(range(1, 31))


@pytest.mark.parametrize("users, calls, message", [
    (0, 10, "users must be > 0"),
    (-5, 10, "users must be > 0"),
    (20, 19, r"calls must be >= users \(20\)"),
])
def test_bad_parameters_are_a_clear_error(tmp_path, ratings, users, calls, message):
    with pytest.raises(ReplayInputError, match=message):
        write_replay(ratings, str(tmp_path / "r.txt"), users=users, calls=calls, seed=1, key=KEY)
    assert not (tmp_path / "r.txt").exists()


def test_a_key_that_is_not_a_consumer_key_is_refused(tmp_path, ratings):
    with pytest.raises(ReplayInputError, match="consumer key"):
        write_replay(ratings, str(tmp_path / "r.txt"), 10, 20, 1, key="abc&user=1")


# ------------------------------------------------------------------ as the Job runs it


def test_script_runs_standalone_as_the_job_runs_it(tmp_path, ratings):
    """The Job runs the file from a ConfigMap, outside this repository: no package imports."""
    script = tmp_path / "replay.py"
    script.write_text(open(replay.__file__).read())
    out, summary = tmp_path / "loadtest" / "ml10m.replay.txt", tmp_path / "summary.json"
    done = subprocess.run(
        [sys.executable, "-I", str(script), "--ratings", ratings, "--out", str(out), "--users", "20",
         "--calls", "100", "--seed", "5", "--key", KEY, "--engine", "stdlib", "--summary", str(summary)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert len(out.read_text().splitlines()) == 200
    assert '"lines": 200' in summary.read_text()


def test_script_reports_bad_input_on_stderr_with_exit_status_2(tmp_path):
    done = subprocess.run(
        [sys.executable, replay.__file__, "--ratings", str(tmp_path / "none.dat"), "--out", str(tmp_path / "r"),
         "--users", "1", "--calls", "1", "--seed", "1", "--key", KEY],
        capture_output=True, text=True,
    )
    assert done.returncode == 2
    assert "ratings file not found" in done.stderr and "Traceback" not in done.stderr
