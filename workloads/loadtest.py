"""The load test: the replay file, then iago on the loadgen node(s), started by `pulumi up`.

`LoadTest` (a component of the stack) creates, after the Seldon stack is up and has proved the
ML10M model answers:
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
from typing import TYPE_CHECKING, Optional

import pulumi

from infra.roles import LOADGEN, SELDON
from infra.settings import Settings
from workloads import iago
from workloads import manifests as m
from workloads.common import DATA_MOUNT, ML10M_JS_KEY, Context, declare, load_balancer_host
from workloads.images import IMAGES, image

if TYPE_CHECKING:
    from workloads.seldon import SeldonStack

COMPONENT_TYPE = "seldon-bench:workloads:LoadTest"
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
REPLAY = "replay"
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
        return iago.config_files(self.request_rate, self.instances, self.minutes, self.victims, REPLAY_PATH,
                                 heaps=self.heaps)

    def iago_env(self, run: str) -> dict[str, str]:
        return iago.start_env(run, LOADTEST_DIR, REPLAY_PATH, self.minutes, launcher_xmx=self.heaps.launcher)

    @property
    def run(self) -> str:
        """The run id: the same config gives the same run, any change of it a new one. The iago
        release counts, not the registry it is pulled from (the same image through a cache)."""
        return iago.run_id(
            request_rate=self.request_rate, instances=self.instances, minutes=self.minutes,
            victims=self.victims, replay=self.replay_id, image=":".join(IMAGES["iago"]), files=self.iago_files,
            env=self.iago_env("RUN"),
        )


def plan(settings: Settings, victims: str) -> Plan:
    return Plan(
        namespace=settings.namespace, victims=victims, request_rate=settings.request_rate,
        instances=settings.loadgen_node_count, minutes=settings.loadtest_minutes,
        users=settings.replay_users, items=settings.replay_items, calls=settings.replay_calls,
        seed=settings.replay_seed, key=ML10M_JS_KEY,
        iago_image=image("iago", settings.image_registry), python_image=image("python", settings.image_registry),
        allowed_cidrs=tuple(settings.allowed_cidrs),
        # Sized from the loadgen node type: a bigger node gets bigger heaps (up to iago's defaults).
        heaps=iago.heaps_for_type(settings.loadgen_type),
    )


# ------------------------------------------------------------------ manifests (pure)


def replay_configmap(p: Plan) -> dict:
    return m.config_map(p.namespace, f"replay-generator-{p.replay_id}", {"replay.py": p.replay_source}, app=REPLAY)


def replay_job(p: Plan) -> dict:
    args = [
        "--ratings", RATINGS_PATH, "--items", ITEMS_PATH, "--out", REPLAY_PATH, "--summary", REPLAY_PATH + ".json",
        "--users", str(p.users), "--num-items", str(p.items), "--calls", str(p.calls), "--seed", str(p.seed),
        "--key", p.key,
    ]
    container = {
        "name": REPLAY,
        "image": p.python_image,
        "command": ["python", f"{REPLAY_DIR}/replay.py", *args],
        "resources": m.resources("512Mi", "500m", limit_memory="1Gi"),
        "volumeMounts": [m.data_mount(), {"name": "generator", "mountPath": REPLAY_DIR, "readOnly": True}],
    }
    # On the Seldon nodes: the loadgen node is for iago alone.
    pod = m.pod_spec([container], role=SELDON, restartPolicy="Never",
                     volumes=[m.data_volume(), m.config_volume("generator", f"replay-generator-{p.replay_id}", None)])
    # Pulumi's Job await: created when complete, i.e. when the replay file exists.
    return m.job(p.namespace, f"replay-{p.replay_id}", pod, app=REPLAY, annotations={
        "pulumi.com/timeoutSeconds": str(REPLAY_TIMEOUT), "pulumi.com/replaceUnready": "true"}, backoffLimit=1)


def iago_configmap(p: Plan) -> dict:
    return m.config_map(p.namespace, f"iago-{p.run}", p.iago_files, app=IAGO, **{RUN_LABEL: p.run})


def iago_job(p: Plan) -> dict:
    run = {RUN_LABEL: p.run}
    container = {
        "name": IAGO,
        "image": p.iago_image,
        "command": ["bash", f"{iago.CONFIG_DIR}/{iago.START_SCRIPT}"],
        "env": m.env(**p.iago_env(p.run)),
        "ports": [{"name": "admin", "containerPort": iago.ADMIN_PORT, "protocol": "TCP"}],
        # Ready = the parrot server's admin port is up, i.e. the run has started.
        "readinessProbe": m.tcp_ready(iago.ADMIN_PORT, delay=10, period=10),
        # The three JVMs' heaps plus their non-heap memory (workloads/iago.py `Heaps`), sized to
        # fit the loadgen node; no limit, so a JVM's burst above its estimate is not OOM-killed.
        "resources": m.resources(f"{p.heaps.request_mib}Mi", "1"),
        "volumeMounts": [m.data_mount(), {"name": "iago-config", "mountPath": iago.CONFIG_DIR, "readOnly": True}],
    }
    pod = m.pod_spec(
        [container], role=LOADGEN, restartPolicy="Never",
        volumes=[m.data_volume(), m.config_volume("iago-config", f"iago-{p.run}", None)],
        # One instance per loadgen node.
        affinity={"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {**m.selector(IAGO), **run}},
            "topologyKey": "kubernetes.io/hostname",
        }]}})
    return m.job(p.namespace, f"iago-{p.run}", pod, app=IAGO, extra_labels=run, pod_labels=run, annotations={
        # Await the start of the run (every instance ready), not its completion.
        "pulumi.com/waitFor": f"jsonpath={{.status.ready}}={p.instances}",
        "pulumi.com/timeoutSeconds": str(IAGO_START_TIMEOUT),
        # No pulumi.com/replaceUnready: pulumi-kubernetes judges it by the Job's completion, so
        # any `pulumi up` during the run (e.g. to fix allowedCidrs) would delete and restart
        # it. A new run comes from a changed run parameter or `pulumi up --replace <urn>`.
    },
        completionMode="Indexed",
        completions=p.instances,
        parallelism=p.instances,
        # A restarted iago would reset its counters mid-run: a failed run stays failed.
        backoffLimit=0,
        activeDeadlineSeconds=p.minutes * 60 + iago.GRACE_SECONDS + IAGO_START_TIMEOUT,
    )


def iago_service(p: Plan, index: int) -> dict:
    return m.service(
        p.namespace, f"iago-{index}",
        {**m.selector(IAGO), "batch.kubernetes.io/job-completion-index": str(index)},
        [m.port("admin", iago.ADMIN_PORT)], type_="LoadBalancer", allowed_cidrs=p.allowed_cidrs, app=IAGO,
        annotations={
            # Wait for the load balancer's address (hostname on AWS, ip elsewhere) only: once a
            # run has ended no pod is ready, and a later update must not wait for endpoints.
            "pulumi.com/waitFor": "jsonpath={.status.loadBalancer.ingress}",
        })


# ------------------------------------------------------------------ the component


def _admin_url(status) -> str:
    host = load_balancer_host(status)
    return iago.admin_url(host) if host else ""


class LoadTest(pulumi.ComponentResource):
    """The replay Job, the iago Job and its admin Services of one run against `stack`.

    Outputs (attributes, and the stack outputs in `outputs`): `admin_urls` of the iago instances,
    `run` (the run id) and `stats_dir`, where its stats land on the data volume.
    """

    def __init__(self, name: str, ctx: Context, stack: SeldonStack,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(COMPONENT_TYPE, name, None, opts)
        p = plan(ctx.settings, stack.api_address)

        def child(name: str, obj: dict, *depends_on: pulumi.Resource, **opts):
            # These lived at the top of the stack before the component: the alias keeps them.
            return declare(ctx, obj, stack.namespace, *depends_on, name=name, parent=self,
                           aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)], **opts)

        generator = child("replay-generator", replay_configmap(p))
        # The replay needs only the imported items and actions: it is generated while the model trains.
        replay = child(REPLAY, replay_job(p), generator, stack.data_claim, stack.ml10m_imported)
        config = child("iago-config", iago_configmap(p))
        # The load starts only against the whole Seldon stack up, its model proved to answer.
        child(IAGO, iago_job(p), config, replay, stack,
              # Never two runs at once on the loadgen nodes: the old Job goes first.
              delete_before_replace=True)
        services = [child(f"iago-admin-{i}", iago_service(p, i)) for i in range(p.instances)]

        self.run = p.run
        self.stats_dir = f"{LOADTEST_DIR}/{p.run}"
        self.admin_urls = [s.status.apply(_admin_url) for s in services]
        self.outputs = {
            "iagoAdminUrl": self.admin_urls[0],
            "iagoAdminUrls": pulumi.Output.all(*self.admin_urls),
            "iagoGraphUrl": self.admin_urls[0].apply(iago.graph_url),
            "replayPath": REPLAY_PATH,
            "loadtestRun": self.run,
            "loadtestStatsDir": self.stats_dir,
        }
        self.register_outputs(self.outputs)
