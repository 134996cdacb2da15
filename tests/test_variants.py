"""Variant stacks: each is the seed plus exactly the change its comment names, and it has effect.

Pulumi does not merge one stack file into another, so each variant repeats every seed value;
the first test holds them to that, the others evaluate each variant under mocks and check that
its one change reaches the resources it is meant to change.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from infra.offline import ROOT, engine_config as stack_config
from infra.offline import stack_settings
from infra.offline.plan import plan_of

P = "seldon-bench:"
# Each variant: the seed's "Further Optimization" item it tests, and its config beyond the seed.
VARIANTS = {
    "bench-m5xlarge": ("Increase AWS instance sizes", {P + "instanceType": "m5.xlarge"}),
    "bench-api4": ("Increase the number and memory settings for the Seldon API servers", {
        P + "apiReplicas": "4", P + "apiMemory": "4Gi", P + "apiJavaHeap": "3G", P + "seldonNodeCount": "5"}),
    "bench-mysql-tuned": ("Increase the Mysql memory and optimize Innodb settings", {
        P + "mysqlMemory": "4608Mi",
        P + "mysqlConfig": json.dumps({"innodb_buffer_pool_size": "3G", "innodb_buffer_pool_instances": "3",
                                       "innodb_flush_log_at_trx_commit": "2"})}),
    "bench-mysql-ssd": ("Run Mysql on SSD disks", {P + "mysqlStorage": "ssd", P + "mysqlSsdSizeGib": "100"}),
    "bench-mysql-replicas": ("Run Mysql with replication", {
        P + "mysqlStorage": "ssd", P + "mysqlReadReplicas": "2", P + "seldonNodeCount": "4"}),
    "bench-memcached": ("Increase Memcache size", {
        P + "memcachedMemoryMb": "2048", P + "memcachedResourcesMemory": "2304Mi", P + "seldonNodeCount": "4"}),
    "bench-dedicated": ("Provide dedicated Kubernetes nodes", {P + "mysqlDedicatedNodes": "true", P + "mysqlNodeCount": "1"}),
}


def test_every_variant_file_is_listed_here():
    found = {p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.bench-*.yaml")}
    assert found == set(VARIANTS), f"variant stack files and the tested list differ: {found ^ set(VARIANTS)}"


@pytest.mark.parametrize("stack", sorted(VARIANTS))
def test_variant_is_the_seed_plus_only_its_change(stack):
    item, change = VARIANTS[stack]
    config = stack_config(stack)
    assert config == {**stack_config("bench"), **change}, (
        f"Pulumi.{stack}.yaml must repeat every seed value and change only {sorted(change)}; "
        f"differs in {sorted(k for k in set(config) | set(stack_config('bench')) if config.get(k) != {**stack_config('bench'), **change}.get(k))}")
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    assert item in text, f"Pulumi.{stack}.yaml does not say which optimisation it tests ({item!r})"
    stack_settings(stack, {})  # valid config, or SettingsError names the key


def containers(deployment) -> dict:
    return {c["name"]: c for c in deployment.inputs["spec"]["template"]["spec"]["containers"]}


def config_file(prog, name: str) -> str:
    """The text of a file the Seldon stack writes under /seldon-data (seldon.cnf, settings.sh)."""
    found = [cm.inputs["data"][name] for cm in prog.k8s("ConfigMap") if name in (cm.inputs.get("data") or {})]
    assert len(found) == 1, f"expected one ConfigMap with {name}, found {len(found)}"
    return found[0]


def test_m5xlarge_puts_every_instance_on_m5xlarge(program):
    prog = program(stack="bench-m5xlarge")
    types = {g.name: g.inputs["instanceTypes"] for g in prog.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert types and all(t == ["m5.xlarge"] for t in types.values()), f"node groups not all m5.xlarge: {types}"
    gluster = {i.name: i.inputs["instanceType"] for i in prog.of_type("aws:ec2/instance:Instance")}
    assert gluster and set(gluster.values()) == {"m5.xlarge"}, f"GlusterFS servers not m5.xlarge: {gluster}"


def test_api4_runs_four_bigger_api_replicas_on_five_nodes(program):
    prog = program(stack="bench-api4")
    api = prog.k8s("Deployment", "seldon-server")[0]
    assert api.inputs["spec"]["replicas"] == 4, "seldon-server must have 4 replicas"
    assert containers(api)["seldon-server"]["resources"]["requests"]["memory"] == "4Gi", "seldon-server memory is not 4Gi"
    assert "XMX_MEMORY=3G" in config_file(prog, "settings.sh").splitlines(), "settings.sh does not set the 3G heap"
    seldon = prog.one("aws:eks/nodeGroup:NodeGroup", "seldon")
    assert seldon.inputs["scalingConfig"]["desiredSize"] == 5, (
        "a 4Gi replica per node and MySQL's 3Gi on a node of its own need 5 Seldon nodes")


def test_mysql_tuned_gives_mysql_memory_and_innodb_settings(program):
    prog = program(stack="bench-mysql-tuned")
    mysql = containers(prog.k8s("Deployment", "mysql")[0])["mysql"]
    assert mysql["resources"]["requests"]["memory"] == "4608Mi", "mysql memory request is not 4.5Gi"
    cnf = config_file(prog, "seldon.cnf").splitlines()
    for line in ("innodb_buffer_pool_size=3G", "innodb_buffer_pool_instances=3", "innodb_flush_log_at_trx_commit=2"):
        assert line in cnf, f"seldon.cnf lacks {line}"


def gp3_claims(prog, stack):
    return [d for d in plan_of(prog, stack_settings(stack, {}), stack).disks if d.what.startswith("claim")]


def test_mysql_ssd_moves_the_datadir_to_a_gp3_claim(program):
    prog = program(stack="bench-mysql-ssd")
    claims = gp3_claims(prog, "bench-mysql-ssd")
    assert [(d.gib, d.volume_type, d.count) for d in claims] == [(100, "gp3", 1)], claims
    volumes = prog.k8s("Deployment", "mysql")[0].inputs["spec"]["template"]["spec"]["volumes"]
    claim_names = {v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v}
    assert "seldon-claim" not in claim_names, "mysql still mounts the shared GlusterFS claim"


def test_mysql_replicas_adds_two_read_replicas_each_on_gp3(program):
    prog = program(stack="bench-mysql-replicas")
    claims = gp3_claims(prog, "bench-mysql-replicas")
    assert sum(d.count for d in claims) == 3, f"primary + 2 replicas need 3 gp3 volumes, planned {claims}"
    readers = [s for s in prog.k8s("StatefulSet") if s.inputs["spec"]["replicas"] == 2]
    assert readers, "no StatefulSet with the 2 read replicas"


def test_memcached_variant_grows_both_caches(program):
    prog = program(stack="bench-memcached")
    for name in ("memcached1", "memcached2"):
        c = next(iter(containers(prog.k8s("Deployment", name)[0]).values()))
        assert c["args"] == ["-m", "2048"], f"{name} does not cache 2048 MB: {c['args']}"
        assert c["resources"]["requests"]["memory"] == "2304Mi", f"{name} container memory is not 2304Mi"


def test_dedicated_puts_mysql_alone_on_its_own_node_group(program):
    prog = program(stack="bench-dedicated")
    groups = {g.name: g for g in prog.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert "mysql" in groups and groups["mysql"].inputs["labels"] == {"role": "mysql"}, sorted(groups)
    assert groups["mysql"].inputs["scalingConfig"]["desiredSize"] == 1
    spec = prog.k8s("Deployment", "mysql")[0].inputs["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"role": "mysql"}, f"mysql is not pinned to the mysql nodes: {spec.get('nodeSelector')}"


def test_seed_has_none_of_the_variant_changes(bench):
    """The comparisons mean something only if bench itself is the seed."""
    assert {g.name for g in bench.of_type("aws:eks/nodeGroup:NodeGroup")} == {"seldon", "loadgen"}
    assert bench.k8s("Deployment", "seldon-server")[0].inputs["spec"]["replicas"] == 2
    assert not bench.k8s("StatefulSet"), "the seed has no MySQL read replicas"
