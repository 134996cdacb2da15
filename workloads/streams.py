"""The log and analytics pipeline of the Seldon stack (pure manifests): the ZooKeeper quorum,
Kafka, td-agent-server (which ships the API's logs into Kafka), and the two Kafka Streams jobs
that feed InfluxDB (workloads/monitoring.py).
"""

from __future__ import annotations

from infra.settings import Settings
from workloads import manifests as m
from workloads.images import image
from workloads.monitoring import INFLUXDB_SERVICE

ZOOKEEPERS = (1, 2, 3)
ZK_HOSTS = ",".join(f"zookeeper-{i}" for i in ZOOKEEPERS)
KAFKA_SERVICE = "kafka-service"
TD_AGENT = "td-agent-server"
STREAM_KINDS = ("impressions", "predictions")


def zookeeper(settings: Settings, n: int) -> dict:
    """One of three ZooKeeper servers; the image writes zoo.cfg from SERVER_ID and `zookeeper-<i>`."""
    c = {
        "name": "server",
        "image": image("zookeeper", settings.image_registry),
        "env": m.env(SERVER_ID=str(n), MAX_SERVERS=str(len(ZOOKEEPERS))),
        "ports": [{"name": "client", "containerPort": 2181}, {"name": "followers", "containerPort": 2888},
                  {"name": "election", "containerPort": 3888}],
        # Ready only once part of a quorum (seldon-up's `echo srvr | nc` wait).
        "readinessProbe": m.exec_ready("echo srvr | nc localhost 2181 | grep -qE 'Mode: (leader|follower)'",
                                       delay=5, period=5),
    }
    return m.deployment(settings.namespace, f"zookeeper{n}", m.pod_spec([c]))


def zookeeper_service(settings: Settings, n: int) -> dict:
    # Peers must reach each other before any of them is ready, or the quorum never forms.
    return m.service(settings.namespace, f"zookeeper-{n}", m.selector(f"zookeeper{n}"),
                     [m.port("client", 2181), m.port("followers", 2888), m.port("election", 3888)],
                     extra={"publishNotReadyAddresses": True})


def kafka(settings: Settings) -> dict:
    c = {
        "name": "kafka",
        "image": image("kafka", settings.image_registry),
        "ports": [{"name": "kafka", "containerPort": 9092}],
        "env": [
            *m.env(KAFKA_BROKER_ID="1", KAFKA_ADVERTISED_PORT="9092"),
            m.pod_ip_env("KAFKA_ADVERTISED_HOST_NAME"),
            *m.env(KAFKA_ZOOKEEPER_CONNECT="zookeeper-1",
                   KAFKA_CREATE_TOPICS="impressions:2:1,ctr_full:2:1,actions:2:1,events:2:1,predictions:2:1",
                   KAFKA_LOG_RETENTION_HOURS="2", KAFKA_LOG_ROLL_HOURS="2", KAFKA_LOG_CLEANUP_POLICY="delete",
                   KAFKA_LOG_CLEANER_ENABLE="true"),
        ],
        "readinessProbe": m.tcp_ready(9092, delay=10),
    }
    # start-kafka.sh turns every KAFKA_* variable into a broker property, service links included.
    return m.deployment(settings.namespace, "kafka", m.pod_spec([c], enableServiceLinks=False))


def kafka_service(settings: Settings) -> dict:
    return m.service(settings.namespace, KAFKA_SERVICE, m.selector("kafka"), [m.port("kafka", 9092)])


def td_agent_server(settings: Settings) -> dict:
    c = {
        "name": TD_AGENT,
        "image": image("td-agent-server", settings.image_registry),
        "ports": [{"name": "tcpport", "containerPort": 24224, "protocol": "TCP"},
                  {"name": "udpport", "containerPort": 24224, "protocol": "UDP"}],
        "readinessProbe": m.tcp_ready(24224),
        "volumeMounts": [m.data_mount()],
    }
    return m.deployment(settings.namespace, TD_AGENT, m.pod_spec([c], volumes=[m.data_volume()]))


def td_agent_service(settings: Settings) -> dict:
    return m.service(settings.namespace, TD_AGENT, m.selector(TD_AGENT),
                     [m.port("tcpport", 24224), m.port("udpport", 24224, protocol="UDP")])


def kafka_stream(settings: Settings, kind: str) -> dict:
    """Kafka Streams job feeding InfluxDB: `impressions` (requests + CTR) or `predictions`."""
    jar = "seldon-stream-1.4.10-jar-with-dependencies.jar"
    common = ["--kafka", f"{KAFKA_SERVICE}:9092", "--zookeeper", "zookeeper-1:2181",
              "--influxdb", f"{INFLUXDB_SERVICE}:8086"]
    if kind == "impressions":
        args = ["io.seldon.stream.analytics.ImpressionsToInfluxDb", "--topic", "ctr_full", *common,
                "--influx-measurement-impressions", "impressions", "--influx-measurement-requests", "requests"]
    else:
        args = ["io.seldon.stream.analytics.PredictionsToInfluxDb", "--topic", "predictions", *common,
                "--influx-measurement", "predictions"]
    c = {
        "name": "kafka-stream",
        "image": image("seldon-stream", settings.image_registry),
        "command": ["java", "-Xmx200M", "-cp", jar, *args],
        "resources": m.resources("300M", limit_memory="300M"),
    }
    return m.deployment(settings.namespace, f"kafka-stream-{kind}", m.pod_spec([c]))
