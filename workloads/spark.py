"""Spark of the Seldon stack (pure manifests): the master, its Services and the workers that run
the ML10M training (the driver is the train Job, workloads/dataset.py).

Spark 1.5.2 comes from seldon-control (see workloads/images.py), started as the gcr.io spark
image's start scripts did: spark-class in the foreground, so the pod restarts if the daemon dies.
"""

from __future__ import annotations

from infra.settings import Settings
from workloads import manifests as m
from workloads.common import SCRIPTS_DIR
from workloads.images import image

SPARK_CLASS = "/opt/spark/bin/spark-class"
MASTER = "spark-master"
MASTER_PORT = 7077
SPARK_MASTER_URL = f"spark://{MASTER}:{MASTER_PORT}"
# spark-class gives each daemon -Xms/-Xmx of SPARK_DAEMON_MEMORY (1g by default), which alone
# fills the master's 1G limit; the daemons need little (the executors are separate JVMs).
SPARK_DAEMON_MEMORY = {"name": "SPARK_DAEMON_MEMORY", "value": "512m"}


def spark_local_hostname() -> dict:
    """SPARK_LOCAL_HOSTNAME = the pod's IP, for the Spark driver and the workers.

    Spark 1.5 advertises `Utils.localHostName()`: SPARK_LOCAL_HOSTNAME, else the reverse lookup of
    the local IP, which in a pod is the pod name from /etc/hosts. Pod names are not in cluster DNS,
    so executors could not reach the driver (the train Job) nor fetch shuffle blocks from each
    other on another worker pod. The master keeps its `--ip spark-master` (scripts/spark-master.sh).
    """
    return m.pod_ip_env("SPARK_LOCAL_HOSTNAME")


def master(settings: Settings) -> dict:
    c = {
        "name": MASTER,
        "image": image("seldon-control", settings.image_registry),
        "command": ["bash", f"{SCRIPTS_DIR}/spark-master.sh"],
        "ports": [{"name": "spark", "containerPort": MASTER_PORT}, {"name": "webui", "containerPort": 8080}],
        "env": [
            {"name": "SPARK_MASTER_OPTS", "value": "-Dspark.deploy.defaultCores=2"}, SPARK_DAEMON_MEMORY,
            *m.env(SPARK_CLASS=SPARK_CLASS, MASTER_HOST=MASTER, MASTER_PORT=str(MASTER_PORT), WEBUI_PORT="8080"),
        ],
        "resources": m.resources("200M", limit_memory="1G"),
        "readinessProbe": m.tcp_ready(MASTER_PORT, delay=10),
        "volumeMounts": [m.data_mount(), m.scripts_mount()],
    }
    # No Service links: Kubernetes would set SPARK_MASTER_PORT=tcp://<ip>:7077 for the
    # `spark-master` Service, which Spark reads as its own port setting and fails to parse.
    volumes = [m.data_volume(), m.scripts_volume()]
    return m.deployment(settings.namespace, MASTER, m.pod_spec([c], volumes=volumes, enableServiceLinks=False))


def master_services(settings: Settings) -> list[dict]:
    return [m.service(settings.namespace, MASTER, m.selector(MASTER), [m.port("spark", MASTER_PORT)]),
            m.service(settings.namespace, "spark-webui", m.selector(MASTER), [m.port("webui", 8080)])]


def worker(settings: Settings) -> dict:
    c = {
        "name": "spark-worker",
        "image": image("seldon-control", settings.image_registry),
        "command": [SPARK_CLASS, "org.apache.spark.deploy.worker.Worker", SPARK_MASTER_URL, "--webui-port", "8081"],
        "ports": [{"name": "webui", "containerPort": 8081}],
        "env": [spark_local_hostname(), SPARK_DAEMON_MEMORY],
        # 1.4.10 limited the worker to 1G, the size of the executor heap alone (an OOM kill
        # during training); the limit leaves room for the worker JVM next to the executor.
        "resources": m.resources("1G", limit_memory="2Gi"),
        "readinessProbe": m.tcp_ready(8081, delay=10),
        "volumeMounts": [m.data_mount()],
    }
    return m.deployment(settings.namespace, "spark-worker",
                        m.pod_spec([c], volumes=[m.data_volume()], enableServiceLinks=False),
                        replicas=settings.spark_worker_replicas)
