"""The load test: iago's rendered config and start script, the replay and iago Jobs, their Services.

Pure part first (rendering and manifests from Settings, no Pulumi), then the declared program
under mocks (placement, dependencies, outputs, replacement on a new run).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import kubernetes_validate
import pytest

from infra.roles import LOADGEN
from infra.settings import SettingsError, parse_settings
from workloads import iago, loadtest
from fakebin import fake_binaries
from test_workloads_seldon import within
from workloads.seldon import COMPONENT_TYPE as SELDON_STACK
from workloads.common import API_PORT, API_SERVICE, DATA_CLAIM, DATA_MOUNT, ML10M_JS_KEY

OK = {"allowedCidrs": '["203.0.113.7/32"]', "dockerHubUsername": "benchuser", "dockerHubToken": "dckr_pat_test"}
VICTIMS = f"{API_SERVICE}:{API_PORT}"


def make_plan(**raw) -> loadtest.Plan:
    settings = parse_settings({**OK, **{k: str(v) for k, v in raw.items()}}, region="eu-west-1")
    return loadtest.plan(settings, VICTIMS)


def job_pod(job: dict) -> dict:
    """The pod spec of a Job manifest."""
    return job["spec"]["template"]["spec"]


def scala_field(config: str, name: str) -> str:
    match = re.search(rf"^\s*{name}\s*=\s*(.+?)\s*(//.*)?$", config, re.M)
    assert match, f"launcher config has no `{name} =` line"
    return match.group(1)


def distribution(config: str) -> tuple[int, int]:
    """(final rate, ramp seconds) of the SlowStartPoissonProcess in a launcher config."""
    match = re.search(r"new SlowStartPoissonProcess\((\d+), \((\d+)\)\.seconds\)", config)
    assert match, "launcher config must use SlowStartPoissonProcess(rate, (ramp).seconds)"
    return int(match.group(1)), int(match.group(2))


# ------------------------------------------------------------------ iago config (pure)


def test_seed_run_replays_at_100_per_second_with_the_seeds_240_second_ramp():
    config = make_plan().iago_files["web-0.scala"]
    assert distribution(config) == (100, 240)
    assert scala_field(config, "victims") == f'"{VICTIMS}"', "iago must target the seldon-server Service"
    assert scala_field(config, "log") == f'"{loadtest.REPLAY_PATH}"'
    assert scala_field(config, "localMode") == "true" and scala_field(config, "doConfirm") == "false"
    assert scala_field(config, "reuseFile") == "true", "the seed loops over the replay file"
    assert scala_field(config, "jobName") == '"web"'


# Fields of ParrotLauncherConfig in iago 0.6.14 (twitter/iago ParrotLauncherConfig.scala and
# ParrotCommonConfig.scala): a misspelt field (e.g. the older `victimHost`) fails only at run time.
LAUNCHER_FIELDS = {
    "batchSize", "customLogSource", "configType", "cronSchedule", "distDir", "doConfirm", "doOAuth",
    "duration", "env", "feederDiskInMb", "feederXmx", "header", "hostConnectionCoresize",
    "hostConnectionIdleTimeInMs", "hostConnectionLimit", "hostConnectionMaxIdleTimeInMs",
    "hostConnectionMaxLifeTimeInMs", "includeParrotHeader", "includeRandomXForwardedForHeader",
    "jobName", "localMode", "log", "maxPerHost", "maxRequests", "numFeederInstances", "numInstances",
    "requestTimeoutInMs", "requestRate", "reuseConnections", "reuseFile", "scheme", "serverXmx",
    "tcpConnectTimeoutInMs", "thriftClientId", "timeUnit", "traceLevel", "victimClusterType", "victims",
    "port", "imports", "requestType", "responseType", "transport", "thriftProtocolFactory", "loadTest",
    "createDistribution", "zkHostName", "zkPort", "zkNode", "parrotPort", "cachedSeconds",
}


def test_launcher_config_sets_only_fields_iago_0_6_14_has():
    config = make_plan().iago_files["web-0.scala"]
    body = config[config.index("new ParrotLauncherConfig {"):]
    body = re.sub(r'""".*?"""', '""', body, flags=re.S)  # the imports block is Scala source, not fields
    assigned = set(re.findall(r"^\s*([A-Za-z]+)\s*=", body, re.M))
    assert assigned, "no fields found in the launcher config"
    assert assigned <= LAUNCHER_FIELDS, f"not ParrotLauncherConfig fields: {assigned - LAUNCHER_FIELDS}"
    assert config.count("{") == config.count("}") and config.count('"""') % 2 == 0


def test_run_ends_by_itself_after_loadtest_minutes():
    config = make_plan(loadtestMinutes=45).iago_files["web-0.scala"]
    assert (scala_field(config, "duration"), scala_field(config, "timeUnit")) == ("45", '"MINUTES"'), \
        "iago must stop after loadtestMinutes (the seed ran for 3,600,000 s)"


@pytest.mark.parametrize("rate", [1, 5, 100, 1000])
def test_feeder_request_rate_is_sized_for_the_real_rate_so_the_queue_does_not_starve(rate):
    config = iago.launcher_config(rate, 30, VICTIMS, "/seldon-data/loadtest/r.txt")
    feeder = int(scala_field(config, "requestRate"))
    sending, _ = distribution(config)
    assert feeder == sending == rate, "feeder requestRate must equal the rate iago sends at (the seed's 5 starves at 100)"
    # The feeder refills when the queue falls to cachedSeconds x requestRate, polling once a second.
    buffered_seconds = iago.CACHED_SECONDS * feeder / sending
    assert buffered_seconds >= 10, f"the server queue holds only {buffered_seconds:.1f} s of traffic"


def test_seeds_requestRate_5_would_have_buffered_one_second_at_100_per_second():
    """The rule the test above checks, applied to the seed's own numbers."""
    assert iago.CACHED_SECONDS * 5 / 100 == 1


@pytest.mark.parametrize("total, instances, shares", [
    (100, 1, [100]), (100, 2, [50, 50]), (100, 3, [34, 33, 33]), (7, 7, [1] * 7),
])
def test_instances_share_the_request_rate_exactly(total, instances, shares):
    assert iago.instance_rates(total, instances) == shares
    assert sum(shares) == total


def test_a_rate_below_one_per_instance_is_refused():
    with pytest.raises(ValueError, match="cannot be split over 3 iago instances"):
        iago.instance_rates(2, 3)
    with pytest.raises(SettingsError, match="requestRate must be >= loadgenNodeCount"):
        make_plan(requestRate=2, loadgenNodeCount=3)


@pytest.mark.parametrize("bad", [dict(victims="seldon-server"), dict(replay_path="relative.txt"),
                                 dict(rate=0), dict(minutes=0)])
def test_launcher_config_refuses_values_iago_cannot_use(bad):
    args = dict(rate=100, minutes=30, victims=VICTIMS, replay_path="/seldon-data/loadtest/r.txt") | bad
    with pytest.raises(ValueError):
        iago.launcher_config(**args)


def test_graph_url_is_the_seeds_latency_graph():
    assert iago.graph_url("http://lb:9994") == "http://lb:9994/graph/?g=metric:client/request_latency_ms"


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (.ci/run installs it)")
def test_start_script_passes_shellcheck(tmp_path):
    script = tmp_path / "start.sh"
    script.write_text(make_plan().iago_files["start.sh"])
    done = subprocess.run(["shellcheck", "-s", "bash", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_the_iago_configmap_ships_the_static_start_script_the_job_runs():
    p = make_plan()
    assert p.iago_files[iago.START_SCRIPT] == iago.START_SOURCE.read_text(), \
        "the start script is the file in workloads/scripts, not rendered text"
    command = job_pod(loadtest.iago_job(p))["containers"][0]["command"]
    assert command == ["bash", f"{iago.CONFIG_DIR}/{iago.START_SCRIPT}"]


def start_env(p: loadtest.Plan, tmp_path, **extra: str) -> dict[str, str]:
    """The iago container's environment, with the pod's paths moved under `tmp_path`."""
    moves = {DATA_MOUNT: str(tmp_path / "data"), iago.CONFIG_DIR: str(tmp_path / "etc"),
             iago.IAGO_HOME: str(tmp_path / "iago")}
    env = {}
    for e in job_pod(loadtest.iago_job(p))["containers"][0]["env"]:
        value = e["value"]
        for old, new in moves.items():
            value = value.replace(old, new)
        env[e["name"]] = value
    return {**env, **extra}


def run_start_script(p: loadtest.Plan, tmp_path, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    (tmp_path / "start.sh").write_text(p.iago_files[iago.START_SCRIPT])
    return subprocess.run(["bash", str(tmp_path / "start.sh")], env=env, capture_output=True, text=True, **kwargs)


def test_start_script_keeps_stats_on_the_data_volume_under_the_run():
    p = make_plan()
    env = {e["name"]: e["value"] for e in job_pod(loadtest.iago_job(p))["containers"][0]["env"]}
    assert env["RUN_DIR"] == f"/seldon-data/loadtest/{p.run}" and env["REPLAY"] == loadtest.REPLAY_PATH
    assert env["CONFIG_DIR"] == iago.CONFIG_DIR, "each instance must read its own launcher config"
    assert "parrot-server-stats.log" in env["KEPT_FILES"].split(), "iago's stats log must be kept"
    script = p.iago_files["start.sh"]
    assert 'out="$RUN_DIR/instance-${index}"' in script and 'ln -s "$out/$name" "$name"' in script, \
        "iago's stats log must be written onto the data volume"


def test_start_script_runs_iago_and_stops_it_past_duration_plus_grace(tmp_path):
    """Run the script with stand-ins for java/timeout: it passes the config and its deadline."""
    p = make_plan(loadtestMinutes=2)
    (tmp_path / "etc").mkdir()
    (tmp_path / "iago").mkdir()
    (tmp_path / "etc" / "web-1.scala").write_text("// instance 1\n")
    replay = tmp_path / "data" / "loadtest" / "ml10m.replay.txt"
    replay.parent.mkdir(parents=True)
    replay.write_text("http://seldon-server/js/recommendations?x\n")
    bin_dir = fake_binaries(tmp_path / "bin", {"timeout": 'echo "$@" > "$CALLS"\nexit 124', "pgrep": "exit 1"})
    env = start_env(p, tmp_path, PATH=f"{bin_dir}:/usr/bin:/bin", JOB_COMPLETION_INDEX="1",
                    CALLS=str(tmp_path / "calls"))
    done = run_start_script(p, tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "calls").read_text().split() == ["420", "java", f"-Xmx{p.heaps.launcher}M", "-jar", iago.LAUNCHER, "-f", "web.scala"]
    assert (tmp_path / "iago" / "web.scala").read_text() == "// instance 1\n"
    out = tmp_path / "data" / "loadtest" / p.run / "instance-1"
    assert (out / "stopped-after-deadline").exists() and (out / "exit-status").read_text() == "0\n"
    assert (tmp_path / "iago" / "parrot-server-stats.log").resolve() == (out / "parrot-server-stats.log").resolve()


def test_start_script_stops_parrot_processes_that_outlive_the_deadline(tmp_path):
    """Should the launcher return while the feeder/server still run, the pod ends at the deadline."""
    p = make_plan(loadtestMinutes=1)
    for d in ("etc", "iago", "bin", "data/loadtest"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "etc" / "web-0.scala").write_text("//\n")
    (tmp_path / "data" / "loadtest" / "ml10m.replay.txt").write_text("http://seldon-server/js/x\n")
    stubs = {
        "timeout": "exit 0",  # the launcher returns at once...
        "pgrep": "echo 4242",  # ...but a parrot process is still there
        "kill": 'echo "$@" >> "$KILLED"',
        # Wall clock: every `date +%s` is 1000 s later than the one before.
        "date": 'if [ "$1" = "+%s" ]; then n=$(cat "$CLOCK"); echo $((n + 1000)) > "$CLOCK"; echo "$n";'
                ' else /bin/date "$@"; fi',
    }
    fake_binaries(tmp_path / "bin", stubs)
    (tmp_path / "clock").write_text("1000000\n")
    env = start_env(p, tmp_path, PATH=f"{tmp_path / 'bin'}:/usr/bin:/bin", KILLED=str(tmp_path / "killed"),
                    CLOCK=str(tmp_path / "clock"))
    done = run_start_script(p, tmp_path, env, timeout=30)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "killed").read_text().split() == ["4242"], "the leftover parrot process must be stopped"
    assert (tmp_path / "data" / "loadtest" / p.run / "instance-0" / "stopped-after-deadline").exists()


def test_start_script_fails_clearly_without_the_replay(tmp_path):
    p = make_plan()
    done = run_start_script(p, tmp_path, start_env(p, tmp_path, PATH="/usr/bin:/bin"))
    assert done.returncode == 1 and "replay file" in done.stderr and "missing" in done.stderr


@pytest.mark.parametrize("missing", ["RUN_DIR", "REPLAY", "LIMIT_SECONDS", "KEPT_FILES"])
def test_start_script_refuses_to_start_without_its_environment(tmp_path, missing):
    p = make_plan()
    env = start_env(p, tmp_path, PATH="/usr/bin:/bin")
    del env[missing]
    done = run_start_script(p, tmp_path, env)
    assert done.returncode != 0 and missing in done.stderr, done.stderr


# ------------------------------------------------------------------ manifests (pure)


def manifests(p: loadtest.Plan) -> list[dict]:
    return [loadtest.replay_configmap(p), loadtest.replay_job(p), loadtest.iago_configmap(p),
            loadtest.iago_job(p), *(loadtest.iago_service(p, i) for i in range(p.instances))]


@pytest.mark.parametrize("raw", [{}, {"loadgenNodeCount": 3, "requestRate": 300}])
def test_every_load_test_object_is_valid_for_the_cluster_version(raw):
    for obj in manifests(make_plan(**raw)):
        try:
            kubernetes_validate.validate(obj, "1.35", strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']} is not a valid 1.35 object: {exc.message}")
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "seldon-bench"


def replay_args(p: loadtest.Plan) -> dict[str, str]:
    command = loadtest.replay_job(p)["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:2] == ["python", f"{loadtest.REPLAY_DIR}/replay.py"]
    assert len(command[2:]) % 2 == 0 and all(a.startswith("--") for a in command[2::2]), command
    return dict(zip(command[2::2], command[3::2]))


def test_replay_job_generates_the_seed_replay_from_the_imported_items_and_actions():
    p = make_plan()
    args = replay_args(p)
    assert args["--items"] == f"{DATA_MOUNT}/ml10m/items.csv", "the pool is the items Seldon imported"
    assert args["--ratings"] == f"{DATA_MOUNT}/ml10m/actions.csv"
    assert args["--out"] == f"{DATA_MOUNT}/loadtest/ml10m.replay.txt"
    assert (args["--users"], args["--num-items"], args["--calls"], args["--seed"], args["--key"]) == \
        ("10000", "10000", "50000", "20160613", ML10M_JS_KEY)
    assert loadtest.replay_configmap(p)["data"]["replay.py"] == loadtest.REPLAY_SOURCE.read_text(), \
        "the Job must run this repository's generator, shipped by ConfigMap"


def test_replay_items_reaches_the_replay_job_and_changes_the_replay_and_the_run():
    seed, fewer = make_plan(), make_plan(replayItems=5000)
    assert (seed.items, fewer.items) == (10000, 5000)
    assert replay_args(fewer)["--num-items"] == "5000"
    assert fewer.replay_id != seed.replay_id, "another item pool is another replay file"
    assert loadtest.replay_job(fewer)["metadata"]["name"] != loadtest.replay_job(seed)["metadata"]["name"]
    assert fewer.run != seed.run, "another item pool is another run"


def test_the_job_command_runs_the_generator_over_the_highest_imported_ids(tmp_path):
    """The Job's own arguments, the data volume moved to tmp_path: 10,681 imported movies, the
    replay draws from the 10,000 highest ids."""
    import json

    from workloads import replay
    data = tmp_path / "data"
    (data / "ml10m").mkdir(parents=True)
    movies = list(range(1, 10682))
    (data / "ml10m" / "items.csv").write_text("id,title\n" + "".join(f'{m},"Movie {m}"\n' for m in movies))
    (data / "ml10m" / "actions.csv").write_text(
        "user_id,item_id,value,time\n" + "".join(f"{u},{1 + u % 10681},4,838985046\n" for u in range(1, 10001)))
    args = [a.replace(DATA_MOUNT, str(data)) for a in loadtest.replay_job(make_plan())["spec"]["template"]["spec"]
            ["containers"][0]["command"][2:]]
    assert replay.main(args) == 0
    summary = json.loads((data / "loadtest" / "ml10m.replay.txt.json").read_text())
    assert (summary["items"], summary["items_imported"], summary["lines"]) == (10000, 10681, 100000)
    drawn = {int(line.split("&item=")[1].split("&")[0]) for line in (data / "loadtest" / "ml10m.replay.txt").open()}
    assert min(drawn) >= 682, "ids 1..681 are below the 10,000 highest and must never be drawn"


def test_iago_job_has_one_pod_per_loadgen_node():
    job = loadtest.iago_job(make_plan(loadgenNodeCount=2))
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 2, 2)
    term = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"].items() <= job["spec"]["template"]["metadata"]["labels"].items(), \
        "the anti-affinity must select the Job's own pods"
    assert job["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status.ready}=2"


# ------------------------------------------------------------------ the declared program (mocks)


def pod_spec(r) -> dict:
    spec = r.inputs.get("spec") or {}
    if r.kind == "Job" or r.kind in ("Deployment", "StatefulSet", "DaemonSet"):
        return (spec.get("template") or {}).get("spec") or {}
    if r.kind == "Pod":
        return spec
    return {}


def iago_job(program):
    jobs = [r for r in program.k8s("Job") if r.metadata.get("labels", {}).get("app.kubernetes.io/name") == "iago"]
    assert len(jobs) == 1, f"expected one iago Job, found {[j.metadata.get('name') for j in jobs]}"
    return jobs[0]


def replay_job(program):
    jobs = [r for r in program.k8s("Job") if r.metadata.get("labels", {}).get("app.kubernetes.io/name") == "replay"]
    assert len(jobs) == 1, f"expected one replay Job, found {[j.metadata.get('name') for j in jobs]}"
    return jobs[0]


def test_iago_job_lands_on_the_iago_node_and_only_there(bench):
    job = iago_job(bench)
    pod = pod_spec(job)
    assert pod["nodeSelector"] == {"role": "iago"}, f"Job {job.name} must select the role=iago node"
    assert LOADGEN.taint.toleration() in pod["tolerations"], f"Job {job.name} must tolerate the loadgen taint"


def tolerates_loadgen(t: dict) -> bool:
    """Kubernetes matching: empty key + Exists tolerates every taint; empty effect every effect."""
    taint = LOADGEN.taint
    key_ok = t.get("key") == taint.key or (not t.get("key") and t.get("operator") == "Exists")
    value_ok = t.get("operator") == "Exists" or t.get("value") == taint.value
    effect_ok = not t.get("effect") or t.get("effect") == taint.k8s_effect
    return key_ok and value_ok and effect_ok


def test_no_other_workload_tolerates_the_loadgen_taint(bench):
    job = iago_job(bench)
    assert any(tolerates_loadgen(t) for t in pod_spec(job)["tolerations"])
    for r in bench.k8s_objects():
        if r.urn != job.urn:
            assert not any(tolerates_loadgen(t) for t in pod_spec(r).get("tolerations") or []), \
                f"{r.kind} {r.metadata.get('name')} tolerates the loadgen taint: only iago may run there"


def test_iago_job_mounts_the_data_volume(bench):
    pod = pod_spec(iago_job(bench))
    claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert claims == [DATA_CLAIM], "iago must mount the seldon-claim data volume"
    mounts = pod["containers"][0]["volumeMounts"]
    assert any(m["mountPath"] == DATA_MOUNT for m in mounts), "iago must mount it at /seldon-data"


def test_iago_targets_the_seldon_server_address_at_the_configured_rate(bench):
    job = iago_job(bench)
    config_name = pod_spec(job)["volumes"][1]["configMap"]["name"]
    config = next(r for r in bench.k8s("ConfigMap") if r.metadata.get("name") == config_name)
    web = config.inputs["data"]["web-0.scala"]
    assert scala_field(web, "victims") == '"seldon-server:80"'
    assert distribution(web) == (100, 240) and scala_field(web, "requestRate") == "100"


def test_iago_starts_after_the_replay_and_seldon_server(bench):
    job = iago_job(bench)
    replay = replay_job(bench)
    server = bench.k8s("Deployment", "seldon-server")
    assert len(server) == 1, "expected the seldon-server Deployment"
    assert bench.depends_on(job, replay), "the iago Job must wait for the replay Job"
    assert bench.depends_on(job, server[0]), "the iago Job must wait for the seldon-server Deployment"


def _ml10m_job(prog, step: str):
    (job,) = prog.k8s("Job", f"ml10m-{step}")
    return job


def test_replay_is_generated_after_the_import_while_the_model_trains(bench):
    """Stand-up time: the replay needs the imported items and actions, not the model."""
    replay = replay_job(bench)
    assert bench.depends_on(replay, _ml10m_job(bench, "import")), "the replay must wait for the ML10M import"
    for step in ("train", "activate", "verify"):
        assert not bench.depends_on(replay, _ml10m_job(bench, step)), \
            f"the replay waits for ml10m-{step}: it could be generated while the model trains"


def test_the_load_test_objects_are_children_of_the_load_test_component(bench):
    (component,) = bench.of_type(loadtest.COMPONENT_TYPE)
    assert component.parent == bench.one("pulumi:pulumi:Stack").urn
    children = {r.name for r in bench.resources if r.parent == component.urn}
    assert children == {"replay-generator", "replay", "iago-config", "iago", "iago-admin-0"}, children
    (stack,) = bench.of_type(SELDON_STACK)
    stack_objects = {r.urn for r in within(bench, stack)}
    assert not [r for r in bench.k8s_objects() if r.parent != component.urn and r.urn not in stack_objects], \
        "every Kubernetes object belongs to the Seldon stack or the load test"


def test_iago_starts_after_every_object_of_the_seldon_stack(bench):
    """The load runs against the stack as the seed ran it (streams, monitoring and all), and a
    destroy stops it before any of the stack goes."""
    (stack,) = bench.of_type(SELDON_STACK)
    job = iago_job(bench)
    missing = [f"{r.typ} {r.name}" for r in within(bench, stack) if r.custom and not bench.depends_on(job, r)]
    assert not missing, f"the iago Job does not wait for: {missing}"


def test_iago_starts_only_after_the_model_is_verified(bench):
    assert bench.depends_on(iago_job(bench), _ml10m_job(bench, "verify")), \
        "the load must never start before the ML10M model answers"


def test_replay_job_runs_on_the_seldon_nodes(bench):
    replay = replay_job(bench)
    assert pod_spec(replay)["nodeSelector"] == {"role": "seldon"} and not pod_spec(replay).get("tolerations"), \
        "the replay Job must run on the Seldon nodes, never on the iago node"


def test_pulumi_awaits_the_start_of_the_run_not_its_end(bench):
    annotations = iago_job(bench).metadata["annotations"]
    assert annotations["pulumi.com/waitFor"] == "jsonpath={.status.ready}=1", \
        "pulumi up must wait for iago to be ready and not for the Job to complete"
    assert "pulumi.com/skipAwait" not in annotations
    # pulumi-kubernetes' replaceUnready checks a Job for completion (checker/job): a running
    # test would count as unready and any `pulumi up` during it would replace, i.e. restart, it.
    assert "pulumi.com/replaceUnready" not in annotations, \
        "the iago Job must not be replaced by a pulumi up while its run is in progress"


def test_seed_outputs_name_the_iago_admin_and_graph(bench):
    out = bench.outputs
    assert re.fullmatch(r"http://[^/]+:9994", out["iagoAdminUrl"]), out["iagoAdminUrl"]
    assert out["iagoAdminUrls"] == [out["iagoAdminUrl"]]
    assert out["iagoGraphUrl"] == out["iagoAdminUrl"] + "/graph/?g=metric:client/request_latency_ms"
    assert out["replayPath"] == "/seldon-data/loadtest/ml10m.replay.txt"
    assert out["loadtestRun"] in iago_job(bench).metadata["name"]


def test_admin_services_are_load_balancers_for_allowed_cidrs_only(bench):
    services = [r for r in bench.k8s("Service") if r.metadata.get("labels", {}).get("app.kubernetes.io/name") == "iago"]
    assert len(services) == 1
    spec = services[0].inputs["spec"]
    assert spec["type"] == "LoadBalancer" and spec["loadBalancerSourceRanges"] == ["203.0.113.7/32"]
    assert spec["ports"][0]["port"] == 9994
    assert spec["selector"]["batch.kubernetes.io/job-completion-index"] == "0"


def test_two_loadgen_nodes_give_two_instances_at_half_the_rate(program):
    prog = program({"loadgenNodeCount": "2"})
    job = iago_job(prog)
    assert (job.inputs["spec"]["completions"], job.inputs["spec"]["parallelism"]) == (2, 2)
    config_name = pod_spec(job)["volumes"][1]["configMap"]["name"]
    data = next(r for r in prog.k8s("ConfigMap") if r.metadata.get("name") == config_name).inputs["data"]
    assert [distribution(data[f"web-{i}.scala"])[0] for i in (0, 1)] == [50, 50], \
        "each of 2 iago instances must replay 50 of the 100 req/s"
    urls = prog.outputs["iagoAdminUrls"]
    assert len(urls) == 2 and len(set(urls)) == 2, f"each instance needs its own admin URL, got {urls}"
    selectors = sorted(r.inputs["spec"]["selector"]["batch.kubernetes.io/job-completion-index"]
                       for r in prog.k8s("Service") if r.metadata.get("labels", {}).get("app.kubernetes.io/name") == "iago")
    assert selectors == ["0", "1"]


@pytest.mark.parametrize("key, value", [("requestRate", "200"), ("loadtestMinutes", "60"),
                                        ("replayUsers", "5000"), ("replayItems", "5000"), ("replayCalls", "60000")])
def test_changing_the_run_parameters_starts_a_new_run(bench, program, key, value):
    changed = program({key: value})
    old, new = iago_job(bench), iago_job(changed)
    assert old.name == new.name, "the iago Job keeps its Pulumi name"
    assert old.metadata["name"] != new.metadata["name"], f"changing {key} must replace the iago Job (new run)"
    assert bench.outputs["loadtestRun"] != changed.outputs["loadtestRun"]


def test_a_new_run_deletes_the_old_job_first(bench):
    """Two runs at once would share the loadgen node: the Job is replaced delete-before-create."""
    job = iago_job(bench)
    assert job.delete_before_replace, f"Job {job.metadata['name']} must be deleted before its replacement is created"
