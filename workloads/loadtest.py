"""The load test: the replay file, then iago on the loadgen node(s), started by `pulumi up`.

Creates, after the Seldon stack has proved the ML10M model answers:
- ConfigMap `replay-generator-<id>` (workloads/replay.py) and Job `replay-<id>`: writes
  /seldon-data/loadtest/ml10m.replay.txt over the `replayItems` highest ids of the items Seldon
  imported (items.csv, as the original's `/items?limit=N`), users 1..`replayUsers` checked
  against the imported actions, `replayCalls` pairs, `replaySeed`, the pinned JS key. Pulumi
  waits for it to complete.
- ConfigMap `iago-<run>` (launcher config per instance + start script, workloads/iago.py) and
  the indexed Job `iago-<run>`: one iago per loadgen node (`loadgenNodeCount`), each replaying
  its share of `requestRate` against the seldon-server Service for `loadtestMinutes`, then
  ending by itself. Only it tolerates the loadgen taint. Pulumi waits until every instance
  is ready (admin port open), not for the run to finish.
- Services `iago-<i>` (LoadBalancer, `allowedCidrs` only): each instance's admin port 9994.

The run id hashes every parameter of the run into the Job's name, so changing `requestRate`,
`loadtestMinutes`, `replayUsers`, `replayItems`, `replayCalls` (or anything else the run depends on) replaces
the Job, i.e. starts a new run, and leaves the cluster alone. iago's stats files go to
/seldon-data/loadtest/<run>/instance-<i>/.
"""

from __future__ import annotations

import hashlib
import pathlib
from dataclasses import dataclass
from typing import Callable

import pulumi

from infra.roles import LOADGEN, SELDON
from infra.settings import Settings
from workloads import iago
from workloads.images import IMAGES
from workloads.common import (
    DATA_MOUNT,
    ML10M_JS_KEY,
    Context,
    SeldonStack,
    data_mount,
    data_volume,
    declare,
    labels,
    load_balancer_host,
)

LOADTEST_DIR = f"{DATA_MOUNT}/loadtest"
REPLAY_PATH = f"{LOADTEST_DIR}/ml10m.replay.txt"
# The items Seldon imported (the ml10m download Job's items.csv, movies.dat as CSV): the
# original's `/items?limit=N` answered the N highest of their ids, and the replay draws from those.
ITEMS_PATH = f"{DATA_MOUNT}/ml10m/items.csv"
# The actions Seldon imported (actions.csv, ratings.dat as CSV): the users 1..N are checked
# against them.
RATINGS_PATH = f"{DATA_MOUNT}/ml10m/actions.csv"
REPLAY_SOURCE = pathlib.Path(__file__).resolve().parent / "replay.py"
REPLAY_DIR = "/opt/replay"
RUN_LABEL = "seldon-bench/loadtest-run"
IAGO = "iago"
# Pulling the ~1 GB iago image and starting two JVMs; generating the replay.
IAGO_START_TIMEOUT = 1200
REPLAY_TIMEOUT = 1200


@dataclass(frozen=True)
class Plan:
    """Everything about one run that is computed, not declared."""

    namespace: str
    victims: str
    request_rate: int
    instances: int
    minutes: int
    users: int
    items: int
    calls: int
    seed: int
    key: str
    iago_image: str
    python_image: str
    allowed_cidrs: tuple[str, ...]
    heaps: iago.Heaps = iago.SEED_HEAPS

    @property
    def replay_source(self) -> str:
        return REPLAY_SOURCE.read_text()

    @property
    def replay_id(self) -> str:
        """Changes with anything that changes the replay's bytes (and with the generator's code)."""
        parts = [RATINGS_PATH, ITEMS_PATH, REPLAY_PATH, self.users, self.items, self.calls, self.seed, self.key,
                 self.replay_source]
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:10]

    @property
    def iago_files(self) -> dict[str, str]:
        return iago.config_files(self.run, LOADTEST_DIR, self.request_rate, self.instances,
                                 self.minutes, self.victims, REPLAY_PATH, heaps=self.heaps)

    @property
    def run(self) -> str:
        """The run id: the same config gives the same run, any change of it a new one. The iago
        release counts, not the registry it is pulled from (the same image through a cache)."""
        template = iago.config_files("RUN", LOADTEST_DIR, self.request_rate, self.instances,
                                     self.minutes, self.victims, REPLAY_PATH, heaps=self.heaps)
        return iago.run_id(
            request_rate=self.request_rate, instances=self.instances, minutes=self.minutes,
            victims=self.victims, replay=self.replay_id, image=":".join(IMAGES["iago"]), files=template,
        )


def plan(settings: Settings, image: Callable[[str], str], victims: str) -> Plan:
    return Plan(
        namespace=settings.namespace, victims=victims, request_rate=settings.request_rate,
        instances=settings.loadgen_node_count, minutes=settings.loadtest_minutes,
        users=settings.replay_users, items=settings.replay_items, calls=settings.replay_calls,
        seed=settings.replay_seed,
        key=ML10M_JS_KEY, iago_image=image("iago"), python_image=image("python"),
        allowed_cidrs=tuple(settings.allowed_cidrs),
        # Sized from the loadgen node type: a bigger node gets bigger heaps (up to iago's defaults).
        heaps=iago.heaps_for_type(settings.loadgen_type),
    )


# ------------------------------------------------------------------ manifests (pure)


def _meta(p: Plan, name: str, app: str, annotations: dict | None = None, **extra: str) -> dict:
    meta = {"name": name, "namespace": p.namespace, "labels": labels(app, **extra)}
    if annotations:
        meta["annotations"] = annotations
    return meta


def replay_configmap(p: Plan) -> dict:
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": _meta(p, f"replay-generator-{p.replay_id}", "replay"),
        "data": {"replay.py": p.replay_source},
    }


def replay_job(p: Plan) -> dict:
    args = [
        "--ratings", RATINGS_PATH, "--items", ITEMS_PATH, "--out", REPLAY_PATH, "--summary", REPLAY_PATH + ".json",
        "--users", str(p.users), "--num-items", str(p.items), "--calls", str(p.calls), "--seed", str(p.seed),
        "--key", p.key,
    ]
    pod = {
        "restartPolicy": "Never",
        # On the Seldon nodes: the loadgen node is for iago alone.
        "nodeSelector": SELDON.node_selector,
        "containers": [{
            "name": "replay",
            "image": p.python_image,
            "command": ["python", f"{REPLAY_DIR}/replay.py", *args],
            "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
            "volumeMounts": [data_mount(), {"name": "generator", "mountPath": REPLAY_DIR, "readOnly": True}],
        }],
        "volumes": [data_volume(), {"name": "generator", "configMap": {"name": f"replay-generator-{p.replay_id}"}}],
    }
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        # Pulumi's Job await: created when complete, i.e. when the replay file exists.
        "metadata": _meta(p, f"replay-{p.replay_id}", "replay",
                          {"pulumi.com/timeoutSeconds": str(REPLAY_TIMEOUT), "pulumi.com/replaceUnready": "true"}),
        "spec": {
            "backoffLimit": 1,
            "template": {"metadata": {"labels": labels("replay")}, "spec": pod},
        },
    }


def iago_configmap(p: Plan) -> dict:
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": _meta(p, f"iago-{p.run}", IAGO, **{RUN_LABEL: p.run}),
        "data": p.iago_files,
    }


def iago_job(p: Plan) -> dict:
    pod_labels = labels(IAGO, **{RUN_LABEL: p.run})
    pod = {
        "restartPolicy": "Never",
        "nodeSelector": LOADGEN.node_selector,
        "tolerations": LOADGEN.tolerations,
        # One instance per loadgen node.
        "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": IAGO, RUN_LABEL: p.run}},
            "topologyKey": "kubernetes.io/hostname",
        }]}},
        "containers": [{
            "name": IAGO,
            "image": p.iago_image,
            "command": ["bash", f"{iago.CONFIG_DIR}/{iago.START_SCRIPT}"],
            "ports": [{"name": "admin", "containerPort": iago.ADMIN_PORT, "protocol": "TCP"}],
            # Ready = the parrot server's admin port is up, i.e. the run has started.
            "readinessProbe": {"tcpSocket": {"port": iago.ADMIN_PORT}, "initialDelaySeconds": 10,
                               "periodSeconds": 10, "failureThreshold": 3},
            # The three JVMs' heaps plus their non-heap memory (workloads/iago.py `Heaps`), sized to
            # fit the loadgen node; no limit, so a JVM's burst above its estimate is not OOM-killed.
            "resources": {"requests": {"cpu": "1", "memory": f"{p.heaps.request_mib}Mi"}},
            "volumeMounts": [data_mount(), {"name": "iago-config", "mountPath": iago.CONFIG_DIR, "readOnly": True}],
        }],
        "volumes": [data_volume(), {"name": "iago-config", "configMap": {"name": f"iago-{p.run}"}}],
    }
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": _meta(p, f"iago-{p.run}", IAGO, {
            # Await the start of the run (every instance ready), not its completion.
            "pulumi.com/waitFor": f"jsonpath={{.status.ready}}={p.instances}",
            "pulumi.com/timeoutSeconds": str(IAGO_START_TIMEOUT),
            # No pulumi.com/replaceUnready: pulumi-kubernetes judges it by the Job's completion, so
            # any `pulumi up` during the run (e.g. to fix allowedCidrs) would delete and restart
            # it. A new run comes from a changed run parameter or `pulumi up --replace <urn>`.
        }, **{RUN_LABEL: p.run}),
        "spec": {
            "completionMode": "Indexed",
            "completions": p.instances,
            "parallelism": p.instances,
            # A restarted iago would reset its counters mid-run: a failed run stays failed.
            "backoffLimit": 0,
            "activeDeadlineSeconds": p.minutes * 60 + iago.GRACE_SECONDS + IAGO_START_TIMEOUT,
            "template": {"metadata": {"labels": pod_labels}, "spec": pod},
        },
    }


def iago_service(p: Plan, index: int) -> dict:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _meta(p, f"iago-{index}", IAGO, {
            # Wait for the load balancer's address (hostname on AWS, ip elsewhere) only: once a
            # run has ended no pod is ready, and a later update must not wait for endpoints.
            "pulumi.com/waitFor": "jsonpath={.status.loadBalancer.ingress}",
        }),
        "spec": {
            "type": "LoadBalancer",
            "loadBalancerSourceRanges": list(p.allowed_cidrs),
            "selector": {"app.kubernetes.io/name": IAGO, "batch.kubernetes.io/job-completion-index": str(index)},
            "ports": [{"name": "admin", "port": iago.ADMIN_PORT, "targetPort": iago.ADMIN_PORT, "protocol": "TCP"}],
        },
    }


# ------------------------------------------------------------------ resources


def _admin_url(status) -> str:
    host = load_balancer_host(status)
    return iago.admin_url(host) if host else ""


def deploy(ctx: Context, stack: SeldonStack) -> dict:
    """Declare the replay Job, the iago Job and its admin Services; return their stack outputs."""
    p = plan(ctx.settings, ctx.image, stack.api_address)

    def load_test(name: str, obj: dict, *depends_on: pulumi.Resource, **opts):
        return declare(ctx, obj, stack.namespace, *depends_on, name=name, **opts)

    generator = load_test("replay-generator", replay_configmap(p))
    # The replay needs only the imported items and actions: it is generated while the model trains.
    replay = load_test("replay", replay_job(p),
                       generator, stack.data_claim, stack.ml10m_imported, *stack.extra_dependencies)
    config = load_test("iago-config", iago_configmap(p))
    # The load starts only against a model proved to answer.
    load_test(IAGO, iago_job(p),
              config, replay, stack.model_verified, stack.api_deployment, stack.api_service, stack.data_claim,
              # Never two runs at once on the loadgen nodes: the old Job goes first.
              delete_before_replace=True)
    services = [load_test(f"iago-admin-{i}", iago_service(p, i)) for i in range(p.instances)]
    urls = [s.status.apply(_admin_url) for s in services]
    return {
        "iagoAdminUrl": urls[0],
        "iagoAdminUrls": pulumi.Output.all(*urls),
        "iagoGraphUrl": urls[0].apply(iago.graph_url),
        "replayPath": REPLAY_PATH,
        "loadtestRun": p.run,
        "loadtestStatsDir": f"{LOADTEST_DIR}/{p.run}",
    }
