"""Capacity: every stack file's pods fit its nodes, and a config whose pods cannot is refused
before any resource exists, with a message that names the keys to change."""

from __future__ import annotations

import gzip
import json
import pathlib
import re

import moto
import pytest

from infra import instances
from conftest import refused
from infra.offline import ROOT, stack_settings
from workloads import capacity, iago
from workloads.capacity import Node, Pod, capacity_problems, fit, fit_table, pack

STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml") if p.name != "Pulumi.yaml")
# The share of a role's allocatable memory a shipped stack may request: the rest absorbs the
# difference between first-fit-decreasing and the kube-scheduler's own placement.
SHIPPED_MAX_USE = 0.90


# ------------------------------------------------------------------ instance facts


def _moto_types() -> dict:
    path = pathlib.Path(moto.__file__).parent / "ec2" / "resources" / "instance_types.json.gz"
    return json.loads(gzip.decompress(path.read_bytes()))


def test_instance_table_agrees_with_describe_instance_types():
    described = _moto_types()
    for name, t in instances.INSTANCE_TYPES.items():
        d = described[name]
        got = (t.memory_mib, t.vcpus, t.enis, t.ipv4_per_eni)
        want = (d["MemoryInfo"]["SizeInMiB"], d["VCpuInfo"]["DefaultVCpus"],
                d["NetworkInfo"]["MaximumNetworkInterfaces"], d["NetworkInfo"]["Ipv4AddressesPerInterface"])
        assert got == want, f"{name}: table {got}, DescribeInstanceTypes {want}"


def test_every_instance_type_the_repo_names_is_in_the_table():
    named = set()
    for path in [*ROOT.glob("Pulumi.*.yaml"), ROOT / "docs" / "benchmark-guide.md", ROOT / "README.md"]:
        named |= set(re.findall(r"\b([a-z][0-9][a-z]*\.(?:medium|large|[0-9]*xlarge))\b", path.read_text()))
    assert named, "no instance type found in the stack files and docs"
    assert named <= set(instances.INSTANCE_TYPES), f"types without capacity facts: {sorted(named - set(instances.INSTANCE_TYPES))}"


def test_m3_large_node_follows_the_eks_bootstrap_formulas():
    t = instances.instance_type("m3.large")
    assert t.max_pods == 29, "3 ENIs x (10 - 1) + 2"
    assert t.kube_reserved_mib == 255 + 11 * 29
    assert t.memtotal_mib < t.memory_mib
    assert t.allocatable_mib == t.memtotal_mib - (255 + 11 * 29) - 100
    # ~6.3 GiB: far from the nominal 7.5 GiB a 4 GiB pod plus a 3 GiB pod would need.
    assert 6200 < t.allocatable_mib < 6800


def test_m5_large_allocatable_matches_karpenters_published_figure():
    # Karpenter's instance-type reference lists m5.large with 6903Mi allocatable memory.
    assert instances.instance_type("m5.large").allocatable_mib == 6903


def test_unknown_type_has_no_facts():
    assert instances.instance_type("m9.large") is None
    assert instances.pod_allocatable_mib("m9.large") is None


def test_daemonsets_run_on_every_node_and_the_addon_deployments_on_the_seldon_nodes():
    assert instances.daemonset_memory_mib() == 104, "ebs-csi-node: 40 + 32 + 32 MiB; the others request no memory"
    seldon = [p for p in capacity.pods(stack_settings("bench")) if p.owner in
              ("Deployment/coredns", "Deployment/ebs-csi-controller")]
    assert sorted((p.owner, p.memory_mib) for p in seldon) == [
        ("Deployment/coredns", 70), ("Deployment/coredns", 70),
        ("Deployment/ebs-csi-controller", 232), ("Deployment/ebs-csi-controller", 232)]
    assert {p.role for p in seldon} == {"seldon"}


# ------------------------------------------------------------------ pods from the real manifests


def test_pod_request_is_the_containers_sum_or_the_largest_init_container():
    spec = {"containers": [{"resources": {"requests": {"memory": "1Gi"}}},
                           {"resources": {"requests": {"memory": "300M"}}}, {}],
            "initContainers": [{"resources": {"requests": {"memory": "512Mi"}}}]}
    assert capacity.pod_memory_mib(spec) == pytest.approx(1024 + 300e6 / 2**20)
    spec["initContainers"][0]["resources"]["requests"]["memory"] = "2Gi"
    assert capacity.pod_memory_mib(spec) == 2048


def test_bench_pods_come_from_the_manifests():
    s = stack_settings("bench")
    by_owner: dict[str, list[Pod]] = {}
    for p in capacity.pods(s):
        by_owner.setdefault(p.owner, []).append(p)
    api = by_owner["Deployment/seldon-server"]
    assert len(api) == 2 and all(p.memory_mib == 3072 and p.spread for p in api)
    assert [p.memory_mib for p in by_owner["Deployment/mysql"]] == [3072]
    assert len(by_owner["Deployment/spark-worker"]) == 2
    # The largest Job of the Seldon stack's chain is the training driver, the others are left
    # out; the replay is generated beside it.
    seldon_jobs = sorted(o for o in by_owner if o.startswith("Job/") and by_owner[o][0].role == "seldon")
    assert [o.split("-")[0] for o in seldon_jobs] == ["Job/ml10m", "Job/replay"], seldon_jobs
    assert by_owner["Job/ml10m-train"][0].memory_mib == 1536
    assert by_owner[seldon_jobs[1]][0].memory_mib == 512
    (iago_pod,) = [p for o, ps in by_owner.items() if o.startswith("Job/iago-") for p in ps]
    assert iago_pod.role == "loadgen" and iago_pod.one_per_node
    assert iago_pod.memory_mib == iago.heaps_for_type("m3.large").request_mib


def _declared(prog) -> dict[str, tuple[int, float]]:
    """Replicas and per-pod memory request of every Deployment/StatefulSet the program declared."""
    out = {}
    for kind in ("Deployment", "StatefulSet"):
        for r in prog.k8s(kind):
            spec = r.inputs["spec"]
            out[f"{kind}/{r.metadata['name']}"] = (spec["replicas"], capacity.pod_memory_mib(spec["template"]["spec"]))
    return out


def _modelled(settings) -> dict[str, tuple[int, float]]:
    out: dict[str, tuple[int, float]] = {}
    system = {f"Deployment/{p.name}" for p in instances.SYSTEM_PODS}
    for p in capacity.pods(settings):
        if p.owner.startswith("Job/") or p.owner in system:
            continue
        n, mib = out.get(p.owner, (0, p.memory_mib))
        out[p.owner] = (n + 1, mib)
    return out


@pytest.mark.parametrize("stack", ["bench", "bench-mysql-replicas"])
def test_model_counts_every_long_running_pod_the_program_declares(program, stack):
    prog = program(stack=stack)
    declared, modelled = _declared(prog), _modelled(stack_settings(stack))
    assert declared, "the program declared no Deployment"
    assert modelled == declared, (
        f"{stack}: capacity model and program differ on "
        f"{sorted(k for k in set(declared) | set(modelled) if declared.get(k) != modelled.get(k))}")


def test_model_knows_every_job_the_program_declares(bench):
    declared = {j.metadata["name"] for j in bench.k8s("Job")}
    modelled = {j["metadata"]["name"] for j in capacity.jobs(stack_settings("bench"))}
    assert declared == modelled, f"Jobs the model does not see: {declared ^ modelled}"


# ------------------------------------------------------------------ the packing


def _nodes(n: int, mib: float = 6000, pods: int = 29) -> list[Node]:
    return [Node("seldon", i + 1, "x", mib, pods) for i in range(n)]


def test_first_fit_decreasing_places_the_largest_first():
    nodes = _nodes(2, 4000)
    left = pack([Pod("Deployment/a", "seldon", 1000), Pod("Deployment/b", "seldon", 3000),
                 Pod("Deployment/c", "seldon", 3000), Pod("Deployment/d", "seldon", 1000)], nodes)
    assert not left
    assert [[p.name for p in n.pods] for n in nodes] == [["b", "a"], ["c", "d"]]


def test_spread_pods_never_differ_by_two_on_one_node():
    nodes = _nodes(3, 20000)
    api = [Pod("Deployment/seldon-server", "seldon", 3072, spread=True)] * 4
    assert not pack([*api, Pod("Deployment/mysql", "seldon", 3072)], nodes)
    counts = sorted(n.count("Deployment/seldon-server") for n in nodes)
    assert counts == [1, 1, 2]


def test_spread_refuses_what_a_free_node_could_only_hold_unevenly():
    # Two nodes of which one is too small for a second replica: maxSkew 1 forbids stacking.
    nodes = [Node("seldon", 1, "x", 7000, 29), Node("seldon", 2, "x", 2000, 29)]
    left = pack([Pod("Deployment/api", "seldon", 3000, spread=True)] * 2, nodes)
    assert len(left) == 1, "the second replica cannot go beside the first while node 2 has none"


def test_pod_slots_limit_a_node():
    nodes = _nodes(1, 100000, pods=len(instances.daemonset_pods()) + 2)
    left = pack([Pod(f"Deployment/p{i}", "seldon", 10) for i in range(3)], nodes)
    assert len(left) == 1, "maxPods counts the DaemonSet pods too"


def test_iago_is_one_per_loadgen_node():
    nodes = [Node("loadgen", i, "x", 100000, 29) for i in (1, 2)]
    left = pack([Pod("Job/iago-run", "loadgen", 100, one_per_node=True)] * 3, nodes)
    assert len(left) == 1 and all(n.count("Job/iago-run") == 1 for n in nodes)


# ------------------------------------------------------------------ shipped stacks and refusals


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_fits_with_margin(stack):
    settings = stack_settings(stack)
    assert capacity_problems(settings) == [], f"Pulumi.{stack}.yaml does not fit its nodes:\n{fit_table(settings)}"
    for f in fit(settings):
        assert f.known, f"Pulumi.{stack}.yaml uses {f.nodes.instance_type}, which the capacity table does not know"
        use = f.requested_mib / f.allocatable_mib
        assert use <= SHIPPED_MAX_USE, (
            f"Pulumi.{stack}.yaml requests {use:.0%} of the {f.nodes.role.name} nodes' memory "
            f"(at most {SHIPPED_MAX_USE:.0%}):\n{fit_table(settings)}")


OVERCOMMITTED = {
    # bench-api4 as it shipped before: four 4Gi replicas and MySQL's 3Gi on four m3.large.
    "api4-on-four-nodes": ({"apiReplicas": "4", "apiMemory": "4Gi", "apiJavaHeap": "3G", "seldonNodeCount": "4"},
                           ["seldonNodeCount=4", "instanceType", "mysqlDedicatedNodes", "apiMemory", "mysql (3072 MiB)"]),
    # bench-mysql-replicas as it shipped before: 9 GiB of MySQL on the seed's three nodes.
    "replicas-on-three-nodes": ({"mysqlStorage": "ssd", "mysqlReadReplicas": "2"},
                                ["seldonNodeCount=3", "mysqlReadReplicas", "mysqlMemory"]),
    "dedicated-mysql-too-big": ({"mysqlDedicatedNodes": "true", "mysqlMemory": "7Gi"},
                                ["mysqlNodeCount=1", "mysqlInstanceType", "mysqlMemory"]),
    "seldon-type-too-small": ({"seldonInstanceType": "t3.medium"}, ["seldonInstanceType", "seldonNodeCount=3"]),
}


@pytest.mark.parametrize("case", sorted(OVERCOMMITTED))
def test_overcommitted_config_is_refused_naming_the_keys(case):
    overrides, keys = OVERCOMMITTED[case]
    problems = capacity_problems(stack_settings("bench", overrides))
    assert len(problems) == 1, problems
    for key in keys:
        assert key in problems[0], f"{case}: the refusal does not name {key!r}: {problems[0]}"


@pytest.mark.parametrize("small", ["t3.medium", "c5.large", "m3.medium"])
def test_a_loadgen_node_too_small_for_iago_is_refused_naming_loadgen_instance_type(small):
    problems = capacity_problems(stack_settings("bench", {"loadgenInstanceType": small}))
    assert len(problems) == 1 and problems[0].startswith("seldon-bench:loadgenNodeCount=1 x " + small)
    assert "loadgenInstanceType" in problems[0] and "iago" in problems[0]


def test_an_unknown_type_is_not_checked_offline():
    settings = stack_settings("bench", {"seldonInstanceType": "m9.large"})
    assert capacity_problems(settings) == []
    assert "m9.large    unknown type, not checked" in fit_table(settings)


def test_an_existing_cluster_is_not_checked():
    settings = stack_settings("bench", {"clusterMode": "existing", "kubeContext": "ctx", "existingNfsServer": "10.0.0.5",
                                        "apiReplicas": "12"})
    assert capacity_problems(settings) == []
    assert "not checked" in fit_table(settings)


def test_every_problem_is_reported_at_once():
    problems = capacity_problems(stack_settings("bench", {
        "mysqlStorage": "ssd", "mysqlReadReplicas": "2", "loadgenInstanceType": "t3.medium"}))
    assert len(problems) == 2
    assert "seldonNodeCount" in problems[0] and "loadgenInstanceType" in problems[1]


def test_main_refuses_an_overcommitted_config_before_any_resource():
    message, registered = refused({"mysqlStorage": "ssd", "mysqlReadReplicas": "2", "loadgenInstanceType": "t3.medium"})
    assert registered == [], f"resources registered before the refusal: {registered}"
    assert message.startswith("invalid stack config:") and message.count("\n  - ") == 2, message
    assert "seldonNodeCount=3" in message and "loadgenInstanceType" in message


def test_fit_table_shows_requested_and_allocatable_per_role():
    table = fit_table(stack_settings("bench"))
    rows = {line.split()[0]: line for line in table.splitlines()[2:] if not line.startswith(" ")}
    assert set(rows) == {"seldon", "loadgen"}
    # 2 x 3072 API + 3072 MySQL + 2 x 954 (1G) Spark workers + 191 (200M) master + 2 x 260 memcached
    # + 2 x 286 kafka streams + 1536 training driver + 512 replay beside it + 2 x 70 CoreDNS
    # + 2 x 232 EBS CSI controller = 15058 MiB of 3 x 6326.
    assert re.search(r"seldon\s+3 m3\.large\s+6430 MiB\s+104 MiB\s+15058 MiB\s+18978 MiB\s+79%\s+yes", rows["seldon"]), rows
    assert "iago-run-" in table and "seldon-1:" in table


def test_cli_prints_the_table_of_each_stack(capsys):
    assert capacity.main(["--stack", "bench", "--stack", "bench-dedicated"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== bench\n") and "\n== bench-dedicated\n" in out and "REFUSED" not in out
    assert re.search(r"^mysql\s+1 m3\.large", out, re.M), "the dedicated MySQL role is missing"


# ------------------------------------------------------------------ iago's heaps


@pytest.mark.parametrize("name", sorted(instances.INSTANCE_TYPES))
def test_iago_heaps_fit_the_loadgen_node_or_the_type_is_refused(name):
    heaps = iago.heaps_for_type(name)
    assert heaps.server <= iago.SERVER_XMX_MAX and heaps.feeder <= iago.FEEDER_XMX_MAX
    assert heaps.server >= iago.SERVER_XMX_MIN and heaps.feeder >= iago.FEEDER_XMX_MIN
    fits = heaps.request_mib <= instances.pod_allocatable_mib(name)
    refused = capacity_problems(stack_settings("bench", {"loadgenInstanceType": name}))
    assert fits == (not refused), f"{name}: iago requests {heaps.request_mib} MiB; refusals {refused}"
    if fits:
        assert heaps.request_mib <= iago.NODE_SHARE * instances.pod_allocatable_mib(name) + 1


def test_iago_heaps_on_m3_large_are_below_the_seeds_and_above_the_minimums():
    h = iago.heaps_for_type("m3.large")
    assert h.launcher + h.server + h.feeder < 3000 + 4000 + 1744, "the seed's heaps cannot fit an m3.large"
    assert h.request_mib <= instances.pod_allocatable_mib("m3.large")
    big = iago.heaps_for_type("m5.xlarge")
    assert (big.server, big.feeder) == (iago.SERVER_XMX_MAX, iago.FEEDER_XMX_MAX), "a big node gets iago's defaults"


def test_iago_config_and_pod_carry_the_heaps(bench):
    h = iago.heaps_for_type("m3.large")
    (job,) = [j for j in bench.k8s("Job") if j.metadata["name"].startswith("iago-")]
    container = job.inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"]["memory"] == f"{h.request_mib}Mi"
    assert "limits" not in container["resources"]
    (cm,) = [c for c in bench.k8s("ConfigMap") if c.metadata["name"] == job.metadata["name"]]
    web = cm.inputs["data"]["web-0.scala"]
    assert f"serverXmx = {h.server}\n" in web and f"feederXmx = {h.feeder}\n" in web
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["LAUNCHER_XMX"] == str(h.launcher) and env["LAUNCHER"] == "iago-0.6.14.jar"
    assert 'java "-Xmx${LAUNCHER_XMX}M" -jar "$LAUNCHER"' in cm.inputs["data"]["start.sh"], \
        "the start script must run the launcher with the heap the pod was sized for"


def test_a_bigger_loadgen_type_gets_bigger_heaps_and_a_new_run(bench, program):
    prog = program({"loadgenInstanceType": "m5.xlarge"})
    assert prog.outputs["loadtestRun"] != bench.outputs["loadtestRun"], "other heaps are another run"
    (job,) = [j for j in prog.k8s("Job") if j.metadata["name"].startswith("iago-")]
    request = job.inputs["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"]
    assert request == f"{iago.heaps_for_type('m5.xlarge').request_mib}Mi"
