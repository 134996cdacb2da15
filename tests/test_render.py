"""Rendering of the Seldon stack's files, and the scripts' behaviour, without Pulumi.

The scripts run here against fake seldon-cli / luigi / mysql / wget commands on PATH and a fake
API on 127.0.0.1: each must fail when the step it guards failed (the seed's import Job reported
success while luigi had failed, seldon-server#18).
"""

from __future__ import annotations

import http.server
import json
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import threading
import zipfile

import pytest

from workloads import iago, render
from workloads.common import ML10M_JS_KEY

SCRIPTS = render.SCRIPTS
SHELL_SCRIPTS = sorted(p.name for p in SCRIPTS.glob("*.sh"))

# ------------------------------------------------------------------ pure rendering


def test_settings_sh_sets_the_heap_and_is_valid_shell():
    text = render.settings_sh("2530M")
    assert "XMX_MEMORY=2530M\n" in text, "settings.sh must set XMX_MEMORY as start-server.sh reads it"
    assert subprocess.run(["sh", "-n"], input=text, text=True).returncode == 0, "settings.sh is not valid sh"
    assert render.settings_sh("4G") != text


# The heap lines of seldon-server 1.4.10's docker/seldon-server/scripts/start-server.sh, in order.
_START_SERVER_HEAP = """\
XMX_MEMORY=2530M
XMS_MEMORY=${XMX_MEMORY}
SETTINGS_FILE="$1"
if [ -f  ${SETTINGS_FILE} ]; then
   . ${SETTINGS_FILE}
fi
echo "-Xmx${XMX_MEMORY} -Xms${XMS_MEMORY}"
"""


@pytest.mark.parametrize("heap", ["1G", "2000M", "2530M", "4G"])
def test_settings_sh_gives_the_api_jvm_equal_min_and_max_heap(tmp_path, heap):
    settings = tmp_path / "settings.sh"
    settings.write_text(render.settings_sh(heap))
    out = subprocess.run(["sh", "-c", _START_SERVER_HEAP, "start-server", str(settings)],
                         capture_output=True, text=True, check=True).stdout.split()
    # start-server.sh computes -Xms before it sources settings.sh: a smaller -Xmx alone fails the JVM.
    assert out == [f"-Xmx{heap}", f"-Xms{heap}"], f"seldon-server JVM heap flags for apiJavaHeap={heap}: {out}"


def test_seldon_cnf_is_empty_for_the_seed_and_lists_options_sorted():
    assert render.seldon_cnf({}).splitlines()[1:] == ["[mysqld]"], "the seed's seldon.cnf adds no option"
    text = render.seldon_cnf({"max_connections": "800", "innodb_buffer_pool_size": "2G"})
    assert text.splitlines()[1:] == ["[mysqld]", "innodb_buffer_pool_size=2G", "max_connections=800"]
    assert render.seldon_cnf({"a": "1", "b": "2"}) == render.seldon_cnf({"b": "2", "a": "1"}), "order must not matter"


def test_jdbc_url_is_the_seeds_and_lists_read_replicas_after_the_primary():
    seed = ("jdbc:mysql:replication://mysql:3306,mysql:3306/?characterEncoding=utf8&useServerPrepStmts=true"
            "&logger=com.mysql.jdbc.log.StandardLogger&roundRobinLoadBalance=true&transformedBitIsBoolean=true"
            "&rewriteBatchedStatements=true")
    assert render.jdbc_url() == seed
    assert render.jdbc_url(["mysql-read"]).startswith("jdbc:mysql:replication://mysql:3306,mysql-read:3306/?")


def test_mysqld_flags_log_binaries_only_for_read_replicas():
    assert render.mysqld_args(0) == [], "the seed's MySQL runs without extra flags"
    assert "--log-bin=mysql-bin" in render.mysqld_args(2) and "--server-id=1" in render.mysqld_args(2)
    # The replica sidecar starts from this file name.
    assert "mysql-bin.000001" in render.script("mysql-replica.sh")
    assert "--replicate-wild-ignore-table=mysql.%" in render.replica_mysqld_args()


def test_attr_and_rec_alg_are_the_ml10m_examples():
    attr = json.loads(render.attr_json())
    assert attr["types"][0]["type_name"] == "Movies" and attr["types"][0]["type_attrs"] == [
        {"name": "title", "value_type": "string"}]
    alg = json.loads(render.rec_alg_json())
    (algorithm,) = alg["defaultStrategy"]["algorithms"]
    assert algorithm["name"] == "itemSimilarityRecommender"
    assert algorithm["config"] == [{"name": "io.seldon.algorithm.general.numrecentactionstouse", "value": "1"}]
    assert alg["defaultStrategy"]["combiner"] == "firstSuccessfulCombiner"


def test_seldons_own_dashboard_is_posted_by_seldon_cli_not_by_us(bench):
    """seldon-cli posts client-dashboard.json at `client --action setup` when GRAFANA_ADMIN_PASSWORD
    is set: both Jobs that run it get the password, after Grafana is known to accept it."""
    files = render.scripts_config()
    assert "dashboard.json" not in files and not hasattr(render, "dashboard"), "no hand-written substitute"
    for job, container in (("seldon-setup", "seldon-setup"), ("ml10m-import", "ml10m-import")):
        (obj,) = bench.k8s("Job", job)
        (c,) = [c for c in obj.inputs["spec"]["template"]["spec"]["containers"] if c["name"] == container]
        secret = {e["name"]: e.get("valueFrom") for e in c["env"]}.get("GRAFANA_ADMIN_PASSWORD")
        assert secret == {"secretKeyRef": {"name": "grafana-admin-password", "key": "grafana-admin-password.txt"}}, \
            f"{job} runs `client --action setup` without the Grafana password: no Seldon dashboard"
        (monitoring,) = bench.k8s("Job", "monitoring-setup")
        assert bench.depends_on(obj, monitoring), f"{job} may post before Grafana is up"
    assert "client --action setup" in files["setup.sh"] and "client --action setup" in files["import-ml10m.sh"]


def test_config_maps_are_pure_and_complete():
    files = render.scripts_config()
    assert files == render.scripts_config(), "rendering must be deterministic"
    seldon_scripts = set(SHELL_SCRIPTS) - {iago.START_SOURCE.name}
    assert seldon_scripts <= set(files), f"scripts not shipped: {seldon_scripts - set(files)}"
    # iago's start script goes with the load test's own ConfigMap (test_loadtest.py checks it).
    assert set(p.name for p in SCRIPTS.iterdir() if p.is_file()) == {*render.SCRIPT_FILES, iago.START_SOURCE.name}, \
        "every file of workloads/scripts must be shipped, and only those"
    assert iago.START_SOURCE.parent == SCRIPTS
    layout = render.layout_config("2530M", {})
    assert set(layout) == {"settings.sh", "seldon.cnf"}


def test_checksum_follows_content():
    assert render.checksum("a") == render.checksum("a")
    assert render.checksum("a") != render.checksum("b")
    assert render.checksum("a", "b") != render.checksum("ab"), "file boundaries must count"


# ------------------------------------------------------------------ shell hygiene


@pytest.mark.parametrize("name", SHELL_SCRIPTS)
def test_script_passes_shellcheck(name):
    assert shutil.which("shellcheck"), "shellcheck is required (installed by .ci/run)"
    result = subprocess.run(["shellcheck", "-x", str(SCRIPTS / name)], capture_output=True, text=True)
    assert result.returncode == 0, f"{name} fails shellcheck:\n{result.stdout}"


@pytest.mark.parametrize("name", SHELL_SCRIPTS)
def test_script_stops_at_the_first_failure(name):
    text = render.script(name)
    wanted = "set -eu" if text.startswith("#!/bin/sh") else "set -euo pipefail"
    assert wanted in text, f"{name} must `{wanted}` so a failed step fails its Job"


# ------------------------------------------------------------------ scripts against fakes


def fake(bin_dir: pathlib.Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def run(script: str, tmp_path: pathlib.Path, env: dict, interpreter: str = "bash") -> subprocess.CompletedProcess:
    full = {"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "HOME": str(tmp_path), **env}
    return subprocess.run([interpreter, str(SCRIPTS / script)], capture_output=True, text=True, env=full,
                          cwd=tmp_path, timeout=60)


@pytest.fixture
def bin_dir(tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    return d


def test_layout_creates_the_seed_tree_and_config_files(tmp_path):
    data, config = tmp_path / "data", tmp_path / "config"
    config.mkdir()
    for name, text in render.layout_config("3000M", {"max_connections": "900"}).items():
        (config / name).write_text(text)
    result = run("layout.sh", tmp_path, {"DATA": str(data), "CONFIG_DIR": str(config)}, interpreter="sh")
    assert result.returncode == 0, result.stderr
    for d in ("server", "mysql", "loadtest", "seldon-models", "logs", "conf/zkroot", "influxdb", "grafana"):
        assert (data / d).is_dir(), f"layout.sh did not create /seldon-data/{d}"
    assert "XMX_MEMORY=3000M" in (data / "server/settings.sh").read_text()
    assert "max_connections=900" in (data / "mysql/seldon.cnf").read_text()
    (data / "loadtest/replay.txt").write_text("kept")
    assert run("layout.sh", tmp_path, {"DATA": str(data), "CONFIG_DIR": str(config)}, interpreter="sh").returncode == 0
    assert (data / "loadtest/replay.txt").read_text() == "kept", "re-running the layout must keep data"


def test_train_fails_when_luigi_reports_failure_with_exit_0(tmp_path, bin_dir):
    models = tmp_path / "models"
    fake(bin_dir, "luigi", 'echo "This progress looks :( because there were failed tasks"; exit 0\n')
    result = run("train-ml10m.sh", tmp_path, {"CLIENT": "ml10m", "MYSQL_ROOT_PASSWORD": "x", "MODELS": str(models)})
    assert result.returncode != 0, "train-ml10m.sh reported success although luigi failed"
    assert "did not report success" in result.stderr


def test_train_fails_when_spark_wrote_no_model(tmp_path, bin_dir):
    fake(bin_dir, "luigi", 'echo "This progress looks :) because there were no failed tasks"\n')
    result = run("train-ml10m.sh", tmp_path, {"CLIENT": "ml10m", "MYSQL_ROOT_PASSWORD": "x", "MODELS": str(tmp_path / "m")})
    assert result.returncode != 0 and "no model files" in result.stderr


def test_train_succeeds_with_luigi_success_and_model_files(tmp_path, bin_dir):
    models = tmp_path / "models"
    fake(bin_dir, "luigi", f'''
[[ " $* " == *" --client ml10m "* && " $* " == *" --ItemSimilaritySparkJob-sample 0.25 "* ]] || exit 3
mkdir -p {models}/ml10m/item-similarity/1 && echo "1,2,0.5" > {models}/ml10m/item-similarity/1/part-00000
echo "This progress looks :) because there were no failed tasks"
''')
    stale = models / "ml10m/item-similarity/1/part-99999"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    result = run("train-ml10m.sh", tmp_path, {"CLIENT": "ml10m", "MYSQL_ROOT_PASSWORD": "x", "MODELS": str(models)})
    assert result.returncode == 0, result.stderr + result.stdout
    assert not stale.exists(), "an old model must be removed before training"


def _import_env(tmp_path):
    work, models = tmp_path / "work", tmp_path / "models"
    work.mkdir()
    (work / "csv.done").touch()
    actions = models / "ml10m/actions/1/actions.json"
    actions.parent.mkdir(parents=True)
    actions.write_text('{"user":1}\n')
    return {"CLIENT": "ml10m", "JS_KEY": ML10M_JS_KEY, "WORK": str(work), "MODELS": str(models)}


def test_import_checks_the_pinned_js_key(tmp_path, bin_dir):
    log = tmp_path / "calls"
    fake(bin_dir, "seldon-cli", f'''echo "$*" >> {log}
if [[ "$*" == *"keys"* ]]; then echo '[{{"key": "SOMEOTHERKEY000000000", "scope": "js"}}]'; fi
''')
    result = run("import-ml10m.sh", tmp_path, _import_env(tmp_path))
    assert result.returncode != 0 and "is not" in result.stderr, "a different js key must fail the import"
    calls = log.read_text()
    assert f"client --action setup --client-name ml10m --db-name ClientDB --set-js-key {ML10M_JS_KEY}" in calls
    for what in ("items", "users", "actions"):
        assert f"import --action {what} --client-name ml10m" in calls


def test_import_succeeds_with_the_pinned_key(tmp_path, bin_dir):
    fake(bin_dir, "seldon-cli", f'''
if [[ "$*" == *"keys"* ]]; then echo '[{{"key": "{ML10M_JS_KEY}", "scope": "js"}}]'; fi
''')
    result = run("import-ml10m.sh", tmp_path, _import_env(tmp_path))
    assert result.returncode == 0, result.stderr


def test_import_stops_at_a_failing_seldon_cli_step(tmp_path, bin_dir):
    fake(bin_dir, "seldon-cli", '[[ "$*" == *"--action users"* ]] && exit 7; exit 0\n')
    result = run("import-ml10m.sh", tmp_path, _import_env(tmp_path))
    assert result.returncode == 7, "a failed users import must fail the Job with its exit code"


def test_setup_runs_the_seed_steps_in_order(tmp_path, bin_dir):
    log = tmp_path / "calls"
    fake(bin_dir, "seldon-cli", f'echo "$*" >> {log}\n[[ "$*" == "db --action show" ]] && echo "ClientDB"; exit 0\n')
    result = run("setup.sh", tmp_path, {"DB_JDBC": render.jdbc_url(), "MYSQL_ROOT_PASSWORD": "mypass"})
    assert result.returncode == 0, result.stderr
    verbs = [" ".join(line.split()[:3]) for line in log.read_text().splitlines()]
    assert verbs == ["client --action zk_push", "memcached --action setup", "memcached --action commit",
                     "db --action setup", "db --action commit", "client --action setup", "db --action show"]


def test_check_model_table_fails_on_an_empty_table(tmp_path, bin_dir):
    fake(bin_dir, "mysql", 'echo 0\n')
    result = run("check-model-table.sh", tmp_path, {"CLIENT": "ml10m", "MYSQL_ROOT_PASSWORD": "x"})
    assert result.returncode != 0 and "empty" in result.stderr
    fake(bin_dir, "mysql", '[[ "${*: -1}" == ml10m ]] || exit 9; echo 1234\n')
    assert run("check-model-table.sh", tmp_path, {"CLIENT": "ml10m", "MYSQL_ROOT_PASSWORD": "x"}).returncode == 0


def serve_ml10m_zip(tmp_path, bin_dir, movies: str, ratings: str) -> None:
    """Fake wget/unzip that hand the download script a small ml-10m.zip with these files."""
    archive = tmp_path / "fixture.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ml-10M100K/movies.dat", movies)
        z.writestr("ml-10M100K/ratings.dat", ratings)
    fake(bin_dir, "wget", f'while [[ $# -gt 0 ]]; do [[ $1 == -O ]] && cp {archive} "$2"; shift; done\n')
    fake(bin_dir, "unzip", f'exec {sys.executable} -m zipfile -e "${{@: -1}}" .\n')


def test_download_writes_the_three_csvs(tmp_path, bin_dir):
    serve_ml10m_zip(tmp_path, bin_dir,
                    '1::Toy Story (1995)::Comedy\n2::Say "Hi", Jumanji (1995)::Adventure\n',
                    "1::1::5::838985046\n1::2::3::838983525\n2::1::4::838983421\n")
    env = {"WORK": str(tmp_path / "w"), "EXPECTED_RATINGS": "3", "EXPECTED_MOVIES": "2"}
    result = run("download-ml10m.sh", tmp_path, env)
    assert result.returncode == 0, result.stderr
    work = tmp_path / "w"
    # As create_ml10m_recommender.sh writes it: `printf("%d,\"%s\"\n",$1,$2)`, inner quotes kept.
    assert (work / "items.csv").read_text() == 'id,title\n1,"Toy Story (1995)"\n2,"Say "Hi", Jumanji (1995)"\n'
    assert (work / "users.csv").read_text() == "id\n1\n2\n"
    assert (work / "actions.csv").read_text().splitlines() == [
        "user_id,item_id,value,time", "1,1,5,838985046", "1,2,3,838983525", "2,1,4,838983421"]
    assert run("download-ml10m.sh", tmp_path, env).returncode == 0 and "already present" in \
        run("download-ml10m.sh", tmp_path, env).stdout


def test_download_fails_on_a_truncated_dataset(tmp_path, bin_dir):
    serve_ml10m_zip(tmp_path, bin_dir, "1::Toy Story (1995)::Comedy\n", "1::1::5::838985046\n")
    result = run("download-ml10m.sh", tmp_path, {"WORK": str(tmp_path / "w")})
    assert result.returncode != 0 and "expected 10000054 ratings" in result.stderr
    assert not (tmp_path / "w/csv.done").exists()


# ------------------------------------------------------------------ Python checks against a local server


class _Server:
    """A tiny HTTP server on 127.0.0.1 answering from a handler function."""

    def __init__(self, respond):
        outer = self
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                code, text = respond(self.command, self.path, body)
                self.send_response(code)
                self.end_headers()
                self.wfile.write(text.encode())

            do_GET = do_POST = _any

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _verify(url: str, **env) -> subprocess.CompletedProcess:
    full = {**os.environ, "API_ENDPOINT": url, "JS_KEY": ML10M_JS_KEY, "ATTEMPTS": "2", "RETRY_SECONDS": "0", **env}
    return subprocess.run([sys.executable, str(SCRIPTS / "verify_recommendations.py")], capture_output=True,
                          text=True, env=full, timeout=60)


def test_verify_passes_and_logs_overlap_with_the_documented_items():
    answer = {"size": 4, "requested": 4, "list": [{"id": "318"}, {"id": "296"}, {"id": "1"}, {"id": "2"}]}
    server = _Server(lambda *_: (200, f"j({json.dumps(answer)})"))
    try:
        result = _verify(server.url)
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    assert "[318, 296, 1, 2]" in result.stdout and "[296, 318]" in result.stdout
    path = server.requests[0][1]
    for part in (f"consumer_key={ML10M_JS_KEY}", "user=625", "item=50", "limit=4", "jsonpCallback=j"):
        assert part in path, f"the verification query lacks {part}: {path}"


@pytest.mark.parametrize("code,body", [
    (200, 'j({"size":0,"requested":4,"list":[]})'),
    (500, "error"),
    (200, '{"list": [{"id": "1"}]}'),
])
def test_verify_fails_without_recommendations(code, body):
    server = _Server(lambda *_: (code, body))
    try:
        result = _verify(server.url)
    finally:
        server.close()
    assert result.returncode == 1, f"verification passed on {code} {body!r}"
    assert "FAILED" in result.stderr


def run_monitoring_setup(tmp_path, answer, password: str) -> tuple[subprocess.CompletedProcess, "_Server"]:
    """Run monitoring_setup.py against one fake InfluxDB + Grafana answering `answer(method, path, body)`."""
    server = _Server(answer)
    try:
        env = {**os.environ, "INFLUXDB_URL": server.url, "GRAFANA_URL": server.url,
               "GRAFANA_ADMIN_PASSWORD": password, "RETRY_SECONDS": "0"}
        result = subprocess.run([sys.executable, str(SCRIPTS / "monitoring_setup.py")], capture_output=True,
                                text=True, env=env, timeout=120)
    finally:
        server.close()
    return result, server


def _grafana_org(method, path, body):
    return (200, '{"id":1,"name":"Main Org."}') if path == "/api/org" else (200, "{}")


def test_monitoring_setup_creates_the_database_and_checks_the_grafana_login(tmp_path):
    # Like the image's InfluxDB 0.9.6: /query is routed for GET only (a POST gets 404).
    result, server = run_monitoring_setup(
        tmp_path, lambda method, path, body: (404, "404 page not found")
        if method == "POST" and path.startswith("/query") else _grafana_org(method, path, body), "s3cret")
    assert result.returncode == 0, result.stderr
    (create, org) = server.requests
    assert create[0] == "GET" and "CREATE+DATABASE+IF+NOT+EXISTS+seldon" in create[1], (
        "monitoring-setup must create the InfluxDB database with GET /query (InfluxDB 0.9.6 has no POST /query)")
    assert org[0] == "GET" and org[1] == "/api/org"
    assert org[2]["Authorization"] == "Basic YWRtaW46czNjcmV0", "Grafana must be called as admin with the secret"
    assert not any("dashboards" in r[1] for r in server.requests), "the dashboards are seldon-cli's to post"
    assert "Main Org." in result.stdout


def test_monitoring_setup_fails_when_grafana_refuses(tmp_path):
    result, server = run_monitoring_setup(
        tmp_path, lambda method, path, body: (401, "unauthorized") if path == "/api/org" else (200, "{}"), "wrong")
    assert result.returncode != 0, "a refused admin password must fail the Job (seldon-cli would post in vain)"
    assert "401" in result.stderr
    assert sum(r[1] == "/api/org" for r in server.requests) == 1, "a refusal must not be retried"


def test_mysql_config_gives_each_replica_its_own_server_id(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "seldon.cnf").write_text(render.seldon_cnf({"max_connections": "900"}))
    ids = []
    for host, replica in (("mysql-7d9f-abcde", "false"), ("mysql-read-0", "true"), ("mysql-read-1", "true")):
        data = tmp_path / host
        result = run("mysql-config.sh", tmp_path, {"DATA": str(data), "CONFIG_DIR": str(config),
                                                   "HOSTNAME": host, "REPLICA": replica})
        assert result.returncode == 0, result.stderr
        text = (data / "mysql/seldon.cnf").read_text()
        assert "max_connections=900" in text, f"{host} lost the user's seldon.cnf"
        ids.append([line for line in text.splitlines() if line.startswith("server-id=")])
    assert ids == [[], ["server-id=100"], ["server-id=101"]], "replicas need distinct ids, the primary keeps its flag"


def test_mysql_replica_points_at_the_primary_once(tmp_path, bin_dir):
    log = tmp_path / "calls"
    state = tmp_path / "configured"
    fake(bin_dir, "mysql", f'''echo "$*" >> {log}
if [[ "$*" == *"show slave status"* && -f {state} ]]; then echo "Waiting for master"; fi
if [[ "$*" == *"CHANGE MASTER"* ]]; then touch {state}; fi
exit 0
''')
    fake(bin_dir, "sleep", "exit 0\n")
    env = {"MYSQL_ROOT_PASSWORD": "mypass", "PRIMARY": "mysql"}
    assert run("mysql-replica.sh", tmp_path, env).returncode == 0
    assert run("mysql-replica.sh", tmp_path, env).returncode == 0
    changes = [line for line in log.read_text().splitlines() if "CHANGE MASTER" in line]
    assert len(changes) == 1, f"replication must be configured once, not on every restart: {changes}"
    assert "MASTER_HOST='mysql'" in changes[0] and "MASTER_LOG_FILE='mysql-bin.000001'" in changes[0]


def test_config_maps_fit_the_kubernetes_size_limit():
    size = sum(len(v.encode()) for v in render.scripts_config().values())
    assert size < 1024 * 1024 - 4096, f"the seldon-scripts ConfigMap ({size} bytes) exceeds the 1 MiB limit"


def test_monitoring_setup_waits_for_a_starting_grafana(tmp_path):
    answers = iter([(503, "starting"), (200, '{"id":1,"name":"Main Org."}')])
    result, server = run_monitoring_setup(
        tmp_path, lambda method, path, body: next(answers) if path == "/api/org" else (200, "{}"), "s3cret")
    assert result.returncode == 0, f"a 503 from a starting Grafana must be retried: {result.stderr}"
    assert sum(r[1] == "/api/org" for r in server.requests) == 2
