"""iago's launcher config and start script for one benchmark run, rendered as text.

The seed ran `start-load-test.sh <replay> 100` by hand inside a sleeping iago pod; its config
(seldon-server docker/iago/web.ramp-up.scala.in) ran for 1000 hours until someone stopped it.
Here each iago instance gets its own rendered ParrotLauncherConfig, identical to the seed's
except where the seed could not do what the benchmark needs:

- `duration`/`timeUnit`: the run's own length (`loadtestMinutes`), so iago ends by itself;
- `requestRate`: the instance's real rate, not 5. The feeder keeps the server's queue at
  `cachedSeconds (20) x requestRate` requests and refills it in 1000-line batches polled once a
  second; sized for 5 req/s that is one second of traffic at 100 req/s and the queue can run dry
  (shared/reference/iago-metrics.md §4.3);
- `createDistribution`: the seed's SlowStartPoissonProcess ramp (1 req/s to the rate over 240 s)
  at the instance's share of `requestRate`;
- `log`: the replay file on the data volume, read in place.
- `serverXmx`/`feederXmx` (and the launcher's own -Xmx): sized for the loadgen node's
  allocatable memory (`heaps_for`); the seed's 3000M + 4000m + 1744m do not fit an m3.large.

The start script (scripts/iago-start.sh, driven by `start_env`) keeps iago's per-minute stats
log (and GC logs) on the data volume, under the run's directory, so they outlive the pod.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
from dataclasses import dataclass

from infra.instances import pod_allocatable_mib

ADMIN_PORT = 9994
GRAPH_PATH = "/graph/?g=metric:client/request_latency_ms"
RAMP_SECONDS = 240  # the seed's SlowStartPoissonProcess ramp
IAGO_HOME = "/iago/tmp"  # where the seldonio/iago image unpacked iago (its jar and libs/)
LAUNCHER = "iago-0.6.14.jar"
CONFIG_DIR = "/etc/iago"
START_SCRIPT = "start.sh"
START_SOURCE = pathlib.Path(__file__).resolve().parent / "scripts" / "iago-start.sh"
# iago's feeder constants (twitter/iago ParrotCommonConfig.cachedSeconds, ParrotLauncherConfig.batchSize).
CACHED_SECONDS = 20
BATCH_SIZE = 1000
# After `duration` the feeder stops and the server drains its queue and waits for responses
# (request timeout 30 s): this is how long past the duration the start script waits for that.
GRACE_SECONDS = 300
# The seed's trace level: every request is logged. Its own comment says to lower it for higher
# rates; kept for fidelity at the seed's 100 req/s, the logs stay in the container.
TRACE_LEVEL = "ALL"
# Stats files iago writes in its working directory that the run keeps on the data volume.
KEPT_FILES = ("parrot-server-stats.log", "gc-server.log", "gc-feeder.log")
# iago's own logs at level ALL reach 100 MB x 6 each: only their ends are copied.
TAILED_FILES = ("parrot-server.log", "parrot-feeder.log")


# The three JVMs of one iago instance, all in the one pod. iago 0.6.14's ParrotLauncherConfig
# defaults are serverXmx 4000 and feederXmx 1744 (MiB); the launcher renders them into
# scripts/parrot-server.sh and parrot-feeder.sh as `-Xmx<n>m -Xms<n>m` (fixed heaps), and the
# seed ran the launcher itself with -Xmx3000M. 8.7 GiB of heaps cannot fit an m3.large: the
# heaps are sized from the loadgen node's allocatable memory instead, never above iago's defaults.
SERVER_XMX_MAX = 4000
FEEDER_XMX_MAX = 1744
# The launcher compiles the config (twitter-util Eval, the Scala compiler in-process), starts the
# server and feeder and waits for them: it needs far less than the seed's 3000M.
LAUNCHER_XMX = 768
# Below these the server's fixed 512m young generation (-XX:NewSize=512m) leaves too little old
# generation for its request queue, and the feeder for its read batches.
SERVER_XMX_MIN = 1536
FEEDER_XMX_MIN = 768
# Beyond its heap, each JVM's metaspace, code cache, thread stacks and Netty buffers.
JVM_OVERHEAD_MIB = 256
# Share of the node's allocatable memory the iago pod requests: the rest is slack for the kernel's
# page cache of the replay file and the logs at trace level ALL.
NODE_SHARE = 0.9


@dataclass(frozen=True)
class Heaps:
    """Heap sizes (MiB) of the launcher, parrot server and feeder of one iago instance."""

    launcher: int
    server: int
    feeder: int

    @property
    def request_mib(self) -> int:
        """The iago pod's memory request: every heap plus each JVM's non-heap memory."""
        return self.launcher + self.server + self.feeder + 3 * JVM_OVERHEAD_MIB


def heaps_for(allocatable_mib: int) -> Heaps:
    """The largest heaps (in iago's server:feeder proportion, capped at its defaults) whose pod
    request fits `NODE_SHARE` of a node with `allocatable_mib` for pods; never below the minimums
    (a node too small for those is refused by the capacity model)."""
    budget = int(allocatable_mib * NODE_SHARE) - LAUNCHER_XMX - 3 * JVM_OVERHEAD_MIB
    scale = min(1.0, max(budget, 0) / (SERVER_XMX_MAX + FEEDER_XMX_MAX))
    return Heaps(LAUNCHER_XMX, max(SERVER_XMX_MIN, int(SERVER_XMX_MAX * scale)),
                 max(FEEDER_XMX_MIN, int(FEEDER_XMX_MAX * scale)))


MINIMUM_HEAPS = Heaps(LAUNCHER_XMX, SERVER_XMX_MIN, FEEDER_XMX_MIN)
# The seed's loadgen node: the heaps a type this model does not know gets.
SEED_LOADGEN_TYPE = "m3.large"


def heaps_for_type(instance_type: str) -> Heaps:
    allocatable = pod_allocatable_mib(instance_type)
    if allocatable is None:
        allocatable = pod_allocatable_mib(SEED_LOADGEN_TYPE)
    return heaps_for(allocatable)


SEED_HEAPS = heaps_for_type(SEED_LOADGEN_TYPE)


def instance_rates(total: int, instances: int) -> list[int]:
    """Each instance's share of `total` req/s; the shares add up to `total` exactly."""
    if instances < 1:
        raise ValueError(f"need at least one iago instance, got {instances}")
    if total < instances:
        raise ValueError(
            f"requestRate {total} cannot be split over {instances} iago instances "
            f"(each needs at least 1 req/s)"
        )
    base, extra = divmod(total, instances)
    return [base + (1 if i < extra else 0) for i in range(instances)]


def run_id(**parameters: object) -> str:
    """A short, stable id of one load-test run: the same parameters give the same id."""
    digest = hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode()).hexdigest()
    return f"run-{digest[:10]}"


def launcher_config(
    rate: int, minutes: int, victims: str, replay_path: str,
    ramp_seconds: int = RAMP_SECONDS, trace_level: str = TRACE_LEVEL, heaps: Heaps = SEED_HEAPS,
) -> str:
    """The ParrotLauncherConfig (Scala) of one iago instance replaying at `rate` req/s."""
    if rate < 1:
        raise ValueError(f"an iago instance needs a rate >= 1 req/s, got {rate}")
    if minutes < 1:
        raise ValueError(f"the run needs at least one minute, got {minutes}")
    if not re.fullmatch(r"[A-Za-z0-9.-]+:[0-9]+", victims):
        raise ValueError(f"victims must be host:port, got {victims!r}")
    if not re.fullmatch(r"/[A-Za-z0-9._/-]+", replay_path):
        raise ValueError(f"replay path must be an absolute plain path, got {replay_path!r}")
    return f"""\
// Rendered by seldon-bench (workloads/iago.py) from seldon-server docker/iago/web.ramp-up.scala.in.
import com.twitter.parrot.config.ParrotLauncherConfig

new ParrotLauncherConfig {{

  doConfirm = false

  // The run ends by itself: the feeder stops after this, the server drains and exits.
  duration = {minutes}
  timeUnit = "MINUTES"

  victims = "{victims}"
  log = "{replay_path}"
  reuseFile = true

  jobName = "web"
  localMode = true

  traceLevel = com.twitter.logging.Level.{trace_level}

  // The feeder buffers cachedSeconds x requestRate requests in the server: size it for the real rate.
  requestRate = {rate}

  // Heaps (MiB) sized for the loadgen node; iago's defaults (4000, 1744) exceed an m3.large.
  serverXmx = {heaps.server}
  feederXmx = {heaps.feeder}

imports=\"\"\"
import com.twitter.parrot.processor.SimpleRecordProcessor
import org.jboss.netty.handler.codec.http.HttpResponse
import com.twitter.conversions.time._
import com.twitter.parrot.util.SlowStartPoissonProcess
\"\"\"
  createDistribution = "createDistribution = {{ rate => new SlowStartPoissonProcess({rate}, ({ramp_seconds}).seconds) }}"
  loadTest = "new SimpleRecordProcessor(service.get, this)"
}}
"""


def config_name(index: int) -> str:
    return f"web-{index}.scala"


def start_script() -> str:
    """The container command of an iago instance (scripts/iago-start.sh): run the test once, keep
    its stats, end. It takes everything about the run from `start_env`."""
    return START_SOURCE.read_text()


def start_env(run: str, run_root: str, replay_path: str, minutes: int, grace_seconds: int = GRACE_SECONDS,
              launcher_xmx: int = LAUNCHER_XMX) -> dict[str, str]:
    """The start script's environment: instance `i` of an indexed Job (JOB_COMPLETION_INDEX) reads
    `web-<i>.scala` and writes to `<run_root>/<run>/instance-<i>/`."""
    return {
        "RUN_DIR": f"{run_root}/{run}",
        "REPLAY": replay_path,
        "CONFIG_DIR": CONFIG_DIR,
        "IAGO_HOME": IAGO_HOME,
        "LAUNCHER": LAUNCHER,
        "LAUNCHER_XMX": str(launcher_xmx),
        "LIMIT_SECONDS": str(minutes * 60 + grace_seconds),
        "GRACE_SECONDS": str(grace_seconds),
        "KEPT_FILES": " ".join(KEPT_FILES),
        "TAILED_FILES": " ".join(TAILED_FILES),
    }


def config_files(
    request_rate: int, instances: int, minutes: int, victims: str, replay_path: str, heaps: Heaps = SEED_HEAPS,
) -> dict[str, str]:
    """Every file of the iago ConfigMap: one launcher config per instance and the start script."""
    files = {
        config_name(i): launcher_config(rate, minutes, victims, replay_path, heaps=heaps)
        for i, rate in enumerate(instance_rates(request_rate, instances))
    }
    files[START_SCRIPT] = start_script()
    return files


def admin_url(host: str) -> str:
    return f"http://{host}:{ADMIN_PORT}"


def graph_url(admin: str) -> str:
    """The seed's latency graph on an iago admin URL."""
    return admin.rstrip("/") + GRAPH_PATH
