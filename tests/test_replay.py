"""The replay generator: Seldon's create_recommendation_replay for ml10m, on small synthetic data."""

from __future__ import annotations

import csv
import json
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
RATED = (1, 2, 5, 10, 32, 47, 50, 296, 318, 593)
# What the import puts in the items table: every movie of movies.dat, two of them never rated.
MOVIES = (*RATED, 1200, 4000)
# The pool `generate` asks for, and the highest ids, highest first, that `/items?limit=8` answers.
NUM_ITEMS = 8
TOP = (4000, 1200, 593, 318, 296, 50, 47, 32)


def ml10m_ratings(path, users=range(1, 61), items=RATED, per_user=6, seed=3):
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


def movies_dat(path, ids=MOVIES):
    """ML10M's movies.dat (MovieID::Title::Genres, ISO-8859-1), some titles with commas and quotes."""
    titles = ["American President, The (1995)", 'Big "Night" (1996)', "Café au lait (1993)", "Heat (1995)"]
    with open(path, "w", encoding="iso-8859-1") as f:
        for n, movie in enumerate(ids):
            f.write(f"{movie}::{titles[n % len(titles)]}::Comedy|Drama\n")
    return str(path)


def items_csv(path, movies_path):
    """The download Job's items.csv from movies.dat (its awk: `id,title`, quotes dropped, title quoted)."""
    with open(movies_path, encoding="iso-8859-1") as src, open(path, "w", encoding="utf-8") as f:
        f.write("id,title\n")
        for line in src:
            movie, title, _ = line.rstrip("\n").split("::")
            f.write(f'{int(movie)},"{title.replace(chr(34), "")}"\n')
    return str(path)


@pytest.fixture
def ratings(tmp_path):
    return ml10m_ratings(tmp_path / "ratings.dat")


@pytest.fixture
def items(tmp_path):
    return items_csv(tmp_path / "items.csv", movies_dat(tmp_path / "movies.dat"))


@pytest.fixture
def items(tmp_path):
    return items_csv(tmp_path / "items.csv", movies_dat(tmp_path / "movies.dat"))


def generate(tmp_path, ratings, users=20, calls=400, seed=7, engine="stdlib", name="replay.txt",
             num_items=NUM_ITEMS, items=None):
    """Write a replay over `items` (by default the MOVIES items.csv, made here) and read it back."""
    if items is None:
        items = items_csv(tmp_path / "items.csv", movies_dat(tmp_path / "movies.dat"))
    out = tmp_path / name
    summary = write_replay(ratings, str(out), users=users, calls=calls, seed=seed, key=KEY, engine=engine,
                           items=items, num_items=num_items)
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


def test_items_are_the_n_highest_imported_ids_drawn_uniformly(tmp_path, ratings):
    lines, summary = generate(tmp_path, ratings, calls=4000, num_items=NUM_ITEMS)
    items = Counter(int(parse(l)[1]["item"]) for l in lines[0::2])
    assert set(items) == set(TOP), "items must be the replayItems highest ids of the imported items"
    assert (summary.items, summary.items_asked, summary.items_imported) == (8, 8, 12)
    assert summary.unrated_items == 2, "4000 and 1200 are imported but never rated"
    # 4000 uniform draws over 8 items: 500 each, sd ~21; 400..600 is beyond 4.5 sd.
    assert all(400 <= n <= 600 for n in items.values()), f"item draws are not uniform: {items}"


def test_unrated_low_ids_are_left_out_and_unrated_high_ids_are_kept(tmp_path, ratings):
    """The pool is the imported items (movies.dat), not the rated ones: what Seldon's table holds."""
    lines, _ = generate(tmp_path, ratings, calls=2000, num_items=3)
    assert {int(parse(l)[1]["item"]) for l in lines} == {4000, 1200, 593}


def test_fewer_items_than_asked_takes_them_all_as_the_items_limit_does(tmp_path, ratings):
    lines, summary = generate(tmp_path, ratings, calls=3000, num_items=10000)
    assert {int(parse(l)[1]["item"]) for l in lines} == set(MOVIES)
    assert (summary.items, summary.items_asked, summary.items_imported) == (12, 10000, 12)


@pytest.mark.parametrize("limit, expected", [
    (1, (65133,)), (3, (65133, 65130, 64997)), (6, (65133, 65130, 64997, 5, 3, 1)), (100, (65133, 65130, 64997, 5, 3, 1)),
])
def test_pool_is_the_n_highest_ids_highest_first(limit, expected):
    """SqlItemPeer.getItems: ordering `itemId desc`, range 0..limit, whatever order the file has."""
    assert replay.item_pool([5, 65130, 1, 64997, 3, 65133], limit) == expected


def test_the_items_file_order_does_not_change_the_replay(tmp_path, ratings):
    """The server orders by id: a shuffled items.csv gives the same list, so the same bytes."""
    shuffled = list(MOVIES)
    random.Random(4).shuffle(shuffled)
    a = generate(tmp_path, ratings, name="a.txt")[0]
    b = generate(tmp_path, ratings, name="b.txt",
                 items=items_csv(tmp_path / "shuffled.csv", movies_dat(tmp_path / "shuffled.dat", shuffled)))[0]
    assert a == b


def test_movies_dat_and_items_csv_give_the_same_bytes(tmp_path, ratings):
    a = generate(tmp_path, ratings, name="a.txt")[0]
    b = generate(tmp_path, ratings, name="b.txt", items=movies_dat(tmp_path / "movies-only.dat"))[0]
    assert a == b


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
    actions = actions_csv(tmp_path / "actions.csv", ratings)
    outputs = set()
    for source in (ratings, actions):
        for engine in ENGINES:
            generate(tmp_path, source, engine=engine, name="out.txt")
            outputs.add((tmp_path / "out.txt").read_bytes())
    assert len(outputs) == 1, "the Job's stdlib reader and the pandas reader must write identical replays"


# Seldon's side, transcribed from seldon-server v1.4.10 (docker/iago/create_recommendation_replay.sh
# and .py, python/seldon/cli/import_items_utils.py, cmd_api.py, cmd_keys.py/db_utils.py, and the
# server's ItemController, ItemService.getItems, SqlItemPeer.getItems, ItemBean, ListBean), on its
# own: nothing below uses workloads/replay.py.

def seldon_import_items(items_path):
    """import_items_utils.doItemInserts: one items row per line of items.csv (a DictReader),
    item_id = client_item_id = the `id` column, name = the `name` column or '', type 1."""
    with open(items_path, newline="", encoding="utf-8") as f:
        return [{"item_id": int(line["id"]), "client_item_id": line["id"], "name": line.get("name", ""), "type": 1}
                for line in csv.DictReader(f)]


def seldon_cli_items(table, limit, item_type=1):
    """`seldon-cli -q api --endpoint /items --limit N` (type 1 by default): SqlItemPeer filters the
    type, orders `itemId desc`, ranges 0..limit; each ItemBean's id is the client item id; the
    ListBean is printed as the server sent it."""
    rows = sorted((r for r in table if r["type"] == item_type), key=lambda r: r["item_id"], reverse=True)[0:limit]
    beans = [{"id": r["client_item_id"], "name": r["name"], "type": r["type"], "first_action": None,
              "last_action": None, "popular": False, "demographics": None, "attributes": None,
              "attributesName": None} for r in rows]
    return json.dumps({"size": len(beans), "requested": limit, "list": beans})


def seldon_cli_keys(key):
    """`seldon-cli -q keys --client-name ml10m --scope js`: db_utils.get_keys' rows, as JSON."""
    return json.dumps([{"db": "ClientDB", "client": "ml10m", "key": key, "secret": "", "scope": "js"}])


RECOMMENDATION_TEMPLATE = 'http://%ENDPOINT%/js/recommendations?consumer_key=%KEY%&user=%USER%&item=%ITEM%&limit=10&jsonpCallback=j'
ACTION_TEMPLATE = 'http://%ENDPOINT%/js/action/new?consumer_key=%KEY%&user=%USER%&item=%ITEM%&type=1&jsonpCallback=j'
ACTION_CLICK_TEMPLATE = 'http://%ENDPOINT%/js/action/new?consumer_key=%KEY%&user=%USER%&item=%ITEM%&type=1&rlabs=1&jsonpCallback=j'


class ReplayCreate(object):
    """create_recommendation_replay.py's class, line for line (its `from random import randint,
    random` are the module-level functions, seeded by the caller here)."""

    def __init__(self, click_percent=0.1):
        self.click_percent = click_percent

    def get_key(self, filename):
        with open(filename) as f:
            for line in f:
                line = line.rstrip()
                j = json.loads(line)
                self.key = j[0]["key"]

    def get_items(self, filename, item_type):
        self.items = {}
        i = 0
        with open(filename) as f:
            for line in f:
                line = line.rstrip()
                j = json.loads(line)
                items = j["list"]
                for item in items:
                    idx = item['id']
                    itype = int(item['type'])
                    if itype == item_type:
                        self.items[i] = idx
                        i += 1

    def create_replay(self, endpoint, filename, num_actions, num_users):
        randint, random_ = random.randint, random.random
        with open(filename, "w") as f:
            for i in range(0, num_actions):
                user = str(randint(1, num_users))
                item_idx = randint(0, len(self.items) - 1)
                item = self.items[item_idx]
                url = RECOMMENDATION_TEMPLATE.replace("%ENDPOINT%", endpoint).replace("%KEY%", self.key).replace("%USER%", user).replace("%ITEM%", item) + "\n"
                f.write(url)
                p = random_()
                if p < self.click_percent:
                    url = ACTION_CLICK_TEMPLATE
                else:
                    url = ACTION_TEMPLATE
                url = url.replace("%ENDPOINT%", endpoint).replace("%KEY%", self.key).replace("%USER%", user).replace("%ITEM%", item) + "\n"
                f.write(url)


def seldons_replay(tmp_path, items_path, num_items, num_actions, num_users, seed):
    """create_recommendation_replay.sh <client> <file> <num_items> <num_actions>, with --num-users."""
    (tmp_path / "key.json").write_text(seldon_cli_keys(KEY) + "\n")
    (tmp_path / "items.json").write_text(seldon_cli_items(seldon_import_items(items_path), num_items) + "\n")
    rc = ReplayCreate()
    rc.get_key(str(tmp_path / "key.json"))
    rc.get_items(str(tmp_path / "items.json"), 1)
    out = tmp_path / "seldon.replay.txt"
    state = random.getstate()
    random.seed(seed)
    try:
        rc.create_replay("seldon-server", str(out), num_actions, num_users)
    finally:
        random.setstate(state)
    return out.read_bytes()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("num_items, users, calls, seed", [
    (NUM_ITEMS, 20, 300, 11),
    (3, 5, 40, 0),
    (1, 20, 50, 3),
    (12, 20, 40, 7),
    (10000, 20, 200, 20160613),  # more asked than imported: /items answers all of them
    (12, 50, 20, 7),  # fewer calls than users, as the script allows
])
def test_byte_identical_to_seldons_script_for_the_same_items_and_seed(tmp_path, ratings, engine, num_items, users, calls, seed):
    items = items_csv(tmp_path / "items.csv", movies_dat(tmp_path / "movies.dat"))
    expected = seldons_replay(tmp_path, items, num_items, calls, users, seed)
    write_replay(ratings, str(tmp_path / "ours.txt"), users=users, calls=calls, seed=seed, key=KEY,
                 items=items, num_items=num_items, engine=engine)
    assert (tmp_path / "ours.txt").read_bytes() == expected


def test_seldons_item_list_is_the_highest_ids_highest_first(tmp_path):
    """The transcription itself: what the script indexes, for the fixture's items."""
    items = items_csv(tmp_path / "items.csv", movies_dat(tmp_path / "movies.dat"))
    (tmp_path / "items.json").write_text(seldon_cli_items(seldon_import_items(items), NUM_ITEMS) + "\n")
    rc = ReplayCreate()
    rc.get_items(str(tmp_path / "items.json"), 1)
    assert [rc.items[i] for i in range(len(rc.items))] == [str(i) for i in TOP]


def test_the_file_is_replaced_atomically_and_no_temporary_file_is_left(tmp_path, ratings, items):
    out = tmp_path / "loadtest" / "ml10m.replay.txt"
    write_replay(ratings, str(out), users=10, calls=50, seed=1, key=KEY, items=items)
    write_replay(ratings, str(out), users=10, calls=60, seed=1, key=KEY, items=items)
    assert [p.name for p in out.parent.iterdir()] == ["ml10m.replay.txt"]
    assert len(out.read_text().splitlines()) == 120


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_file_is_a_clear_error(tmp_path, items, engine):
    with pytest.raises(ReplayInputError, match="ratings file not found: .*nowhere.dat"):
        write_replay(str(tmp_path / "nowhere.dat"), str(tmp_path / "r.txt"), 10, 20, 1, KEY, items=items, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("content, message", [
    ("1,122,5,838985046\n", "neither an ML10M rating"),  # commas without the actions.csv header
    ("1::122::5\n", "neither an ML10M rating"),  # a column missing
    ("userId::movieId::rating::timestamp\n1::122::5::838985046\n", "neither an ML10M rating"),
    ("", "empty"),
])
def test_wrong_columns_are_a_clear_error(tmp_path, items, engine, content, message):
    path = tmp_path / "ratings.dat"
    path.write_text(content)
    with pytest.raises(ReplayInputError, match=message):
        write_replay(str(path), str(tmp_path / "r.txt"), 1, 1, 1, KEY, items=items, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("bad", ["7::x::4::838985046", "7::50::4", "7::50::4::838985046::9"])
def test_a_bad_row_after_good_ones_is_a_clear_error(tmp_path, ratings, items, engine, bad):
    path = tmp_path / "mixed.dat"
    path.write_text(open(ratings).read() + bad + "\n" + "8::50::4::838985046\n")
    with pytest.raises(ReplayInputError, match="(line 361 is not a rating|not ratings in the) .*ML10M"):
        write_replay(str(path), str(tmp_path / "r.txt"), 10, 20, 1, KEY, items=items, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_fewer_users_in_the_data_than_asked_is_a_clear_error(tmp_path, items, engine):
    small = ml10m_ratings(tmp_path / "small.dat", users=range(1, 31))
    with pytest.raises(ReplayInputError, match="asked for 40 users but the data has only 30 distinct users"):
        write_replay(small, str(tmp_path / "r.txt"), users=40, calls=100, seed=1, key=KEY, items=items, engine=engine)


def test_user_ids_missing_from_the_data_are_counted_not_refused(tmp_path):
    """ML10M's ids have gaps: like Seldon's script, draw 1..N and report the absent ids."""
    gappy = ml10m_ratings(tmp_path / "gappy.dat", users=[u for u in range(1, 41) if u % 10 != 3])
    lines, summary = generate(tmp_path, gappy, users=30, calls=500)
    assert summary.distinct_users == 36 and summary.absent_users == 3
    assert {int(parse(l)[1]["user"]) for l in lines} == set(range(1, 31))


@pytest.mark.parametrize("users, calls, num_items, message", [
    (0, 10, 8, "users must be > 0"),
    (-5, 10, 8, "users must be > 0"),
    (20, 0, 8, "calls must be > 0"),
    (20, 20, 0, "items must be > 0"),
    (20, 20, -1, "items must be > 0"),
])
def test_bad_parameters_are_a_clear_error(tmp_path, ratings, items, users, calls, num_items, message):
    with pytest.raises(ReplayInputError, match=message):
        write_replay(ratings, str(tmp_path / "r.txt"), users=users, calls=calls, seed=1, key=KEY,
                     items=items, num_items=num_items)
    assert not (tmp_path / "r.txt").exists()


def test_fewer_calls_than_users_is_allowed_as_in_seldons_script(tmp_path, ratings):
    lines, summary = generate(tmp_path, ratings, users=50, calls=19)
    assert len(lines) == 38 == summary.lines
    assert {int(parse(l)[1]["user"]) for l in lines} <= set(range(1, 51))


def test_a_key_that_is_not_a_consumer_key_is_refused(tmp_path, ratings, items):
    with pytest.raises(ReplayInputError, match="consumer key"):
        write_replay(ratings, str(tmp_path / "r.txt"), 10, 20, 1, key="abc&user=1", items=items)


def test_missing_items_file_is_a_clear_error(tmp_path, ratings):
    with pytest.raises(ReplayInputError, match="items file not found: .*nowhere.csv"):
        write_replay(ratings, str(tmp_path / "r.txt"), 10, 20, 1, KEY, items=str(tmp_path / "nowhere.csv"))


@pytest.mark.parametrize("content, message", [
    ("", "the items file is empty"),
    ("\n\n", "the items file is empty"),
    ("id,title\n", "no items"),
    ("title,year\nHeat,1995\n", "line 1 is neither a movie .* nor an items.csv header with an 'id' column"),
    ("1,Toy Story\n", "line 1 is neither a movie"),  # no header
    ('id,title\n1,"Toy Story"\nx2,"Heat"\n', "line 3: the item id must be a whole number, got 'x2'"),
    ('id,title\n1,"Toy Story"\n,"Heat"\n', "line 3: the item id must be a whole number, got ''"),
    ('id,title\n10,"Toy Story"\n20,"Heat"\n10,"Toy Story"\n', "item id 10 appears on lines 2 and 4"),
    ("1::Toy Story (1995)::Comedy\nHeat::Action\n", "line 2 is not a movie 'MovieID::Title::Genres'"),
    ("5::A::B\n7::C::D\n5::E::F\n", "item id 5 appears on lines 1 and 3; Seldon's import refuses"),
])
def test_bad_items_file_is_a_clear_error(tmp_path, ratings, content, message):
    path = tmp_path / "items.csv"
    path.write_text(content)
    with pytest.raises(ReplayInputError, match=message):
        write_replay(ratings, str(tmp_path / "r.txt"), 10, 20, 1, KEY, items=str(path))
    assert not (tmp_path / "r.txt").exists()


# ------------------------------------------------------------------ as the Job runs it


def test_script_runs_standalone_as_the_job_runs_it(tmp_path, ratings, items):
    """The Job runs the file from a ConfigMap, outside this repository: no package imports."""
    script = tmp_path / "replay.py"
    script.write_text(open(replay.__file__).read())
    out, summary = tmp_path / "loadtest" / "ml10m.replay.txt", tmp_path / "summary.json"
    done = subprocess.run(
        [sys.executable, "-I", str(script), "--ratings", ratings, "--items", items, "--num-items", "8",
         "--out", str(out), "--users", "20", "--calls", "100", "--seed", "5", "--key", KEY, "--engine", "stdlib",
         "--summary", str(summary)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert len(out.read_text().splitlines()) == 200
    written = json.loads(summary.read_text())
    assert (written["lines"], written["items"], written["items_asked"], written["items_imported"]) == (200, 8, 8, 12)


def test_script_reports_bad_input_on_stderr_with_exit_status_2(tmp_path, items):
    done = subprocess.run(
        [sys.executable, replay.__file__, "--ratings", str(tmp_path / "none.dat"), "--items", items,
         "--num-items", "10000", "--out", str(tmp_path / "r"), "--users", "1", "--calls", "1", "--seed", "1",
         "--key", KEY],
        capture_output=True, text=True,
    )
    assert done.returncode == 2
    assert "ratings file not found" in done.stderr and "Traceback" not in done.stderr
