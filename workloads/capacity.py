"""Capacity: does every pod of the benchmark fit the nodes the settings ask for?

Pure. The pods are the workloads' own manifests (the area modules mysql, api, streams, spark,
monitoring, and dataset.py, loadtest.py), built from the settings exactly as `pulumi up` would declare them; their memory
requests are packed onto the nodes of each role with first-fit-decreasing:

- every replica of every Deployment and StatefulSet, on the nodes its nodeSelector names;
- seldon-server's replicas spread as its topologySpreadConstraint demands (maxSkew 1 over the
  Seldon nodes, DoNotSchedule): no node ever holds two more than another;
- the largest Job pod of the Seldon stack's chain (those Jobs run one after the other), plus the
  replay Job, which runs beside the training; and the iago pod on each loadgen node (one per
  node, its anti-affinity);
- the EKS add-ons' pods (infra/instances.py `SYSTEM_PODS`): DaemonSets on every node, CoreDNS
  and the EBS CSI controller on the Seldon nodes;

against each node's allocatable memory (infra/instances.py) and its pod slots (maxPods).
First-fit-decreasing is a heuristic, not the kube-scheduler: a config it packs can still be
unlucky at run time, hence the margin the shipped stacks keep (tests/test_capacity.py).

`capacity_problems(settings)` lists what does not fit, each message naming the keys to change;
`__main__.py` refuses such a config before declaring anything. `python -m workloads.capacity
--stack bench` prints the fit table.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Optional

from infra import instances
from infra.roles import LOADGEN, MYSQL, SELDON, NodeRole
from infra.settings import PROJECT, Settings, memory_bytes
from workloads import api, dataset, iago, loadtest, monitoring, mysql, render, spark, streams
from workloads.common import API_SERVICE, API_PORT

ROLES = (SELDON, LOADGEN, MYSQL)
METHOD = "first-fit-decreasing of memory requests"


@dataclass(frozen=True)
class Pod:
    """One pod to place: what owns it, where it may go, what it requests."""

    owner: str  # "Deployment/mysql"
    role: str  # node role name (infra/roles.py)
    memory_mib: float
    spread: bool = False  # seldon-server's topology spread over the role's nodes
    one_per_node: bool = False  # iago's anti-affinity

    @property
    def name(self) -> str:
        return self.owner.split("/", 1)[1]


@dataclass
class Node:
    role: str
    index: int
    instance_type: str
    pods_allocatable_mib: float  # after the DaemonSets
    max_pods: int
    pods: list[Pod] = field(default_factory=list)

    @property
    def requested_mib(self) -> float:
        return sum(p.memory_mib for p in self.pods)

    @property
    def free_mib(self) -> float:
        return self.pods_allocatable_mib - self.requested_mib

    @property
    def pod_slots(self) -> int:
        return self.max_pods - len(instances.daemonset_pods()) - len(self.pods)

    def count(self, owner: str) -> int:
        return sum(p.owner == owner for p in self.pods)


# ------------------------------------------------------------------ the pods, from the manifests


def _mib(quantity: str) -> float:
    return memory_bytes(quantity) / 2**20


def _container_mib(container: dict) -> float:
    request = ((container.get("resources") or {}).get("requests") or {}).get("memory")
    return _mib(request) if request else 0.0


def pod_memory_mib(spec: dict) -> float:
    """The scheduler's memory request of a pod: its containers' sum, or its largest init container."""
    running = sum(_container_mib(x) for x in spec.get("containers", []))
    init = max((_container_mib(x) for x in spec.get("initContainers", [])), default=0.0)
    return max(running, init)


def role_of(spec: dict) -> str:
    selector = spec.get("nodeSelector") or {}
    for role in ROLES:
        if role.node_selector == selector:
            return role.name
    raise ValueError(f"a pod selects no node role of the benchmark: nodeSelector {selector}")


def long_running(settings: Settings) -> list[dict]:
    """Every Deployment and StatefulSet the Seldon stack declares (workloads/seldon.py)."""
    layout = render.layout_config(settings.api_java_heap, settings.mysql_config)
    objs = [mysql.primary(settings, layout)]
    if settings.mysql_read_replicas:
        objs.append(mysql.read_replicas(settings, layout))
    objs += [api.memcached(settings, n) for n in api.MEMCACHED]
    objs += [streams.zookeeper(settings, n) for n in streams.ZOOKEEPERS]
    objs += [api.seldon_control(settings), streams.kafka(settings), streams.td_agent_server(settings),
             monitoring.influxdb_grafana(settings)]
    objs += [streams.kafka_stream(settings, kind) for kind in streams.STREAM_KINDS]
    objs += [spark.master(settings), spark.worker(settings), api.seldon_server(settings, layout)]
    return objs


def _load_test_plan(settings: Settings) -> loadtest.Plan:
    return loadtest.plan(settings, f"{API_SERVICE}:{API_PORT}")


def jobs(settings: Settings) -> list[dict]:
    """Every Job the program declares: the setup and ML10M steps, the replay, iago."""
    files = render.layout_config(settings.api_java_heap, settings.mysql_config)
    p = _load_test_plan(settings)
    return [dataset.layout(settings, files), dataset.setup(settings), dataset.monitoring(settings),
            dataset.download(settings), dataset.import_ml10m(settings), dataset.train(settings),
            dataset.activate(settings), dataset.verify(settings),
            loadtest.replay_job(p), loadtest.iago_job(p)]


def pods(settings: Settings) -> list[Pod]:
    """Every pod the model places: long-running replicas, the largest chain Job and the replay, iago, and the
    add-ons' Deployments (their DaemonSets are taken off each node's allocatable memory)."""
    out = []
    for obj in long_running(settings):
        spec = obj["spec"]["template"]["spec"]
        owner = f"{obj['kind']}/{obj['metadata']['name']}"
        spread = any(t.get("maxSkew") == 1 and t.get("whenUnsatisfiable") == "DoNotSchedule"
                     for t in spec.get("topologySpreadConstraints", []))
        out += [Pod(owner, role_of(spec), pod_memory_mib(spec), spread=spread)] * obj["spec"]["replicas"]
    seldon_jobs = []
    replay = loadtest.replay_job(_load_test_plan(settings))["metadata"]["name"]
    for obj in jobs(settings):
        spec = obj["spec"]["template"]["spec"]
        owner = f"Job/{obj['metadata']['name']}"
        if obj["metadata"]["name"] == replay:
            # Generated after the import, while the model trains: beside the largest chain Job.
            out.append(Pod(owner, SELDON.name, pod_memory_mib(spec)))
        elif role_of(spec) == SELDON.name:
            seldon_jobs.append(Pod(owner, SELDON.name, pod_memory_mib(spec)))
        else:
            anti = bool((spec.get("affinity") or {}).get("podAntiAffinity"))
            out += [Pod(owner, role_of(spec), pod_memory_mib(spec), one_per_node=anti)] * obj["spec"].get("parallelism", 1)
    out.append(max(seldon_jobs, key=lambda p: (p.memory_mib, p.owner)))
    for system in instances.SYSTEM_PODS:
        if system.replicas:
            out += [Pod(f"Deployment/{system.name}", SELDON.name, float(system.memory_mib))] * system.replicas
    return out


# ------------------------------------------------------------------ the nodes and the packing


@dataclass(frozen=True)
class RoleNodes:
    role: NodeRole
    count: int
    instance_type: str
    count_key: str
    type_key: str


def node_roles(settings: Settings) -> list[RoleNodes]:
    """The node groups `infra.cluster` declares for these settings, with the keys that size them."""
    def type_key(specific: Optional[str], key: str) -> str:
        return key if specific else f"{key} (or instanceType)"
    roles = [
        RoleNodes(SELDON, settings.seldon_node_count, settings.seldon_type, "seldonNodeCount",
                  type_key(settings.seldon_instance_type, "seldonInstanceType")),
        RoleNodes(LOADGEN, settings.loadgen_node_count, settings.loadgen_type, "loadgenNodeCount",
                  type_key(settings.loadgen_instance_type, "loadgenInstanceType")),
    ]
    if settings.mysql_dedicated_nodes:
        roles.append(RoleNodes(MYSQL, settings.mysql_node_count, settings.mysql_type, "mysqlNodeCount",
                               type_key(settings.mysql_instance_type, "mysqlInstanceType")))
    return roles


@dataclass
class RoleFit:
    nodes: RoleNodes
    known: bool
    node_allocatable_mib: int = 0  # the kubelet's, per node
    daemonsets_mib: int = 0  # per node
    placed: list[Node] = field(default_factory=list)
    unplaced: list[Pod] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)

    @property
    def requested_mib(self) -> float:
        return sum(p.memory_mib for p in self.pods)

    @property
    def allocatable_mib(self) -> float:
        return sum(n.pods_allocatable_mib for n in self.placed)

    @property
    def fits(self) -> bool:
        return self.known and not self.unplaced


def _candidates(pod: Pod, nodes: list[Node]) -> list[Node]:
    if pod.spread:
        counts = [n.count(pod.owner) for n in nodes]
        return [n for n, k in zip(nodes, counts) if k + 1 - min(counts) <= 1]
    if pod.one_per_node:
        return [n for n in nodes if not n.count(pod.owner)]
    return nodes


def pack(role_pods: list[Pod], nodes: list[Node]) -> list[Pod]:
    """First-fit-decreasing (largest request first, ties by name): fills `nodes`, returns what is left."""
    left = []
    for pod in sorted(role_pods, key=lambda p: (-p.memory_mib, p.owner)):
        node = next((n for n in _candidates(pod, nodes)
                     if n.free_mib >= pod.memory_mib and n.pod_slots >= 1), None)
        if node is None:
            left.append(pod)
        else:
            node.pods.append(pod)
    return left


def fit(settings: Settings) -> list[RoleFit]:
    """Each role's nodes, packed with its pods."""
    all_pods = pods(settings)
    out = []
    for rn in node_roles(settings):
        role_pods = [p for p in all_pods if p.role == rn.role.name]
        t = instances.instance_type(rn.instance_type)
        if t is None:
            out.append(RoleFit(rn, known=False, pods=role_pods))
            continue
        ds = instances.daemonset_memory_mib()
        nodes = [Node(rn.role.name, i + 1, t.name, t.allocatable_mib - ds, t.max_pods) for i in range(rn.count)]
        left = pack(role_pods, nodes)
        out.append(RoleFit(rn, True, t.allocatable_mib, ds, nodes, left, role_pods))
    return out


# ------------------------------------------------------------------ verdicts


_MEMORY_KEYS = {
    SELDON.name: "apiMemory, apiReplicas, mysqlMemory, mysqlReadReplicas, memcachedResourcesMemory",
    MYSQL.name: "mysqlMemory, mysqlReadReplicas",
    LOADGEN.name: "",
}


def _problem(f: RoleFit) -> str:
    rn = f.nodes
    left = ", ".join(f"{p.name} ({p.memory_mib:.0f} MiB)" for p in f.unplaced)
    head = (f"{PROJECT}:{rn.count_key}={rn.count} x {rn.instance_type} ({rn.type_key}) cannot hold the "
            f"{rn.role.name} pods' memory requests, {f.requested_mib:.0f} MiB for {f.allocatable_mib:.0f} MiB "
            f"allocatable ({rn.count} x {f.placed[0].pods_allocatable_mib:.0f} MiB after system pods; {METHOD}): "
            f"{left} fit no node")
    if rn.role is LOADGEN:
        return (f"{head}. iago's heaps are sized from the node (workloads/iago.py) and need at least "
                f"{iago.MINIMUM_HEAPS.request_mib} MiB: pick a bigger {rn.type_key}")
    fixes = [f"raise {rn.count_key}", f"pick a bigger {rn.type_key}"]
    if rn.role is SELDON and not _mysql_dedicated(f):
        fixes.append("set mysqlDedicatedNodes=true")
    return f"{head}. Fix: {', '.join(fixes)}, or lower {_MEMORY_KEYS[rn.role.name]}"


def _mysql_dedicated(f: RoleFit) -> bool:
    return not any(p.owner == "Deployment/mysql" for p in f.pods)


def capacity_problems(settings: Settings) -> list[str]:
    """What cannot be scheduled on the nodes these settings declare; empty when everything fits.

    A type the instance table does not know is not checked. An existing cluster's nodes are not
    described by the settings: nothing is checked in `clusterMode: existing`.
    """
    if settings.cluster_mode != "eks":
        return []
    return [_problem(f) for f in fit(settings) if f.known and f.unplaced]


def fit_table(settings: Settings) -> str:
    """The per-role fit (memory requested vs allocatable) and each node's packing, for humans."""
    lines = [f"memory fit ({METHOD}); allocatable = MemTotal - kube-reserved - {instances.EVICTION_HARD_MIB}Mi "
             f"eviction - DaemonSets",
             f"{'role':8} {'nodes':>5} {'type':11} {'node alloc':>10} {'daemonsets':>10} "
             f"{'requested':>10} {'allocatable':>11} {'used':>5}  fits"]
    if settings.cluster_mode != "eks":
        lines.append("clusterMode existing: the cluster's nodes are not in the settings, not checked")
    for f in fit(settings):
        rn = f.nodes
        if not f.known:
            lines.append(f"{rn.role.name:8} {rn.count:>5} {rn.instance_type:11} unknown type, not checked "
                         f"(requested {f.requested_mib:.0f} MiB)")
            continue
        used = f.requested_mib / f.allocatable_mib if f.allocatable_mib else float("inf")
        lines.append(f"{rn.role.name:8} {rn.count:>5} {rn.instance_type:11} {f.node_allocatable_mib:>6} MiB "
                     f"{f.daemonsets_mib:>6} MiB {f.requested_mib:>6.0f} MiB {f.allocatable_mib:>7.0f} MiB "
                     f"{used:>5.0%}  {'yes' if f.fits else 'NO'}")
        for n in f.placed:
            held = ", ".join(f"{p.name} {p.memory_mib:.0f}" for p in n.pods) or "-"
            lines.append(f"    {n.role}-{n.index}: {n.requested_mib:.0f}/{n.pods_allocatable_mib:.0f} MiB, "
                         f"{len(n.pods) + len(instances.daemonset_pods())}/{n.max_pods} pods: {held}")
        if f.unplaced:
            lines.append("    does not fit: " + ", ".join(f"{p.name} {p.memory_mib:.0f}" for p in f.unplaced))
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    """Exit 0 when every stack fits, 1 when one does not, 2 when a stack file cannot be used."""
    import sys

    from infra.offline import error_line, stack_settings
    from infra.settings import SettingsError

    parser = argparse.ArgumentParser(prog="python -m workloads.capacity",
                                     description="Per-role memory fit of a stack file's pods on its nodes.")
    parser.add_argument("--stack", action="append", help="stack name (Pulumi.<stack>.yaml); repeatable; default bench")
    args = parser.parse_args(argv)
    status = 0
    for stack in args.stack or ["bench"]:
        try:
            settings = stack_settings(stack)
        except (FileNotFoundError, SettingsError) as exc:
            print(error_line(stack, exc), file=sys.stderr)
            return 2
        print(f"== {stack}")
        print(fit_table(settings))
        problems = capacity_problems(settings)
        for p in problems:
            print(f"REFUSED: {p}")
        status = status or (1 if problems else 0)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
