"""Kubernetes manifests of the long-running Seldon components (pure: settings in, dicts out).

One function per component of seldon-up (reference seldon-stack.md §2-3), as apps/v1 and core/v1
objects with the object and Service names the images hard-code (`mysql`, `memcached1`,
`zookeeper-1`, `kafka-service`, `td-agent-server`, `monitoring-grafana`, `seldon-server`, ...).
Every pod lands on the Seldon nodes (MySQL optionally on its own) and never tolerates the iago
taint; readiness probes make `pulumi up` wait until a component really serves.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from infra.roles import MYSQL, SELDON, NodeRole
from infra.settings import Settings
from workloads import render
from workloads.common import (
    API_PORT,
    API_SERVICE,
    DATA_MOUNT,
    PART_OF,
    data_mount,
    data_volume,
    labels,
    selector,
)
from workloads.images import image

# The password the images and seldon-cli/luigi configs hard-code (docker/seldon-control/luigi.cfg,
# seldon.conf); MySQL is reachable only inside the cluster.
MYSQL_ROOT_PASSWORD = "mypass"
GRAFANA_SECRET = "grafana-admin-password"
GRAFANA_SECRET_KEY = "grafana-admin-password.txt"
SCRIPTS_CONFIGMAP = "seldon-scripts"
LAYOUT_CONFIGMAP = "seldon-data-layout"
GP3_STORAGE_CLASS = "gp3"
ZOOKEEPERS = (1, 2, 3)
ZK_HOSTS = ",".join(f"zookeeper-{i}" for i in ZOOKEEPERS)
CHECKSUM = "seldon-bench/config-checksum"


# ------------------------------------------------------------------ building blocks


def meta(settings: Settings, name: str, annotations: Optional[dict] = None) -> dict:
    m = {"name": name, "namespace": settings.namespace, "labels": labels(name)}
    if annotations:
        m["annotations"] = annotations
    return m


def img(settings: Settings, name: str) -> str:
    return image(name, settings.image_registry)


def placement(role: NodeRole) -> dict:
    """nodeSelector + tolerations of a role; the iago role's taint is tolerated by nobody here."""
    spec: dict[str, Any] = {"nodeSelector": role.node_selector}
    if role.tolerations:
        spec["tolerations"] = role.tolerations
    return spec


def pod_spec(containers: Sequence[dict], *, role: NodeRole = SELDON, volumes: Sequence[dict] = (),
             init_containers: Sequence[dict] = (), **extra: Any) -> dict:
    spec: dict[str, Any] = {**placement(role), "containers": list(containers)}
    if init_containers:
        spec["initContainers"] = list(init_containers)
    if volumes:
        spec["volumes"] = list(volumes)
    spec.update(extra)
    return spec


def template(name: str, spec: dict, annotations: Optional[dict] = None) -> dict:
    md: dict[str, Any] = {"labels": labels(name)}
    if annotations:
        md["annotations"] = annotations
    return {"metadata": md, "spec": spec}


def deployment(settings: Settings, name: str, spec: dict, *, replicas: int = 1, recreate: bool = False,
               annotations: Optional[dict] = None, extra: Optional[dict] = None) -> dict:
    body: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": selector(name)},
        "template": template(name, spec, annotations),
    }
    if recreate:
        # One writer of a datadir at a time: never two MySQL (or InfluxDB) pods on the same files.
        body["strategy"] = {"type": "Recreate"}
    body.update(extra or {})
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(settings, name), "spec": body}


def service(settings: Settings, name: str, target: str, ports: Sequence[dict], *,
            type_: str = "ClusterIP", extra: Optional[dict] = None) -> dict:
    spec: dict[str, Any] = {"type": type_, "selector": selector(target), "ports": list(ports)}
    if type_ == "LoadBalancer":
        spec["loadBalancerSourceRanges"] = list(settings.allowed_cidrs)
    spec.update(extra or {})
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(settings, name), "spec": spec}


def port(name: str, number: int, target: Optional[int] = None, protocol: str = "TCP") -> dict:
    return {"name": name, "port": number, "targetPort": target or number, "protocol": protocol}


def tcp_ready(number: int, delay: int = 5) -> dict:
    return {"tcpSocket": {"port": number}, "initialDelaySeconds": delay, "periodSeconds": 5,
            "failureThreshold": 3}


def exec_ready(command: str, delay: int = 10, period: int = 10) -> dict:
    return {"exec": {"command": ["bash", "-c", command]}, "initialDelaySeconds": delay,
            "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": 3}


def resources(memory: Optional[str] = None, cpu: Optional[str] = None, limit_memory: Optional[str] = None) -> dict:
    requests = {k: v for k, v in (("memory", memory), ("cpu", cpu)) if v}
    out: dict[str, Any] = {"requests": requests} if requests else {}
    if limit_memory:
        out["limits"] = {"memory": limit_memory}
    return out


def secret_env(name: str) -> dict:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": GRAFANA_SECRET, "key": GRAFANA_SECRET_KEY}}}


def spark_local_hostname() -> dict:
    """SPARK_LOCAL_HOSTNAME = the pod's IP, for the Spark driver and the workers.

    Spark 1.5 advertises `Utils.localHostName()`: SPARK_LOCAL_HOSTNAME, else the reverse lookup of
    the local IP, which in a pod is the pod name from /etc/hosts. Pod names are not in cluster DNS,
    so executors could not reach the driver (the train Job) nor fetch shuffle blocks from each
    other on another worker pod. The master keeps its `--ip spark-master` (its start script).
    """
    return {"name": "SPARK_LOCAL_HOSTNAME", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}


def config_volume(name: str, configmap: str, mode: int = 0o555) -> dict:
    return {"name": name, "configMap": {"name": configmap, "defaultMode": mode}}


# ------------------------------------------------------------------ MySQL


def mysql_placement(settings: Settings) -> NodeRole:
    return MYSQL if settings.mysql_dedicated_nodes else SELDON


def gp3_storage_class(settings: Settings, stack: str) -> dict:
    """The SSD option of `mysqlStorage`: encrypted gp3 EBS, bound where the pod is scheduled.

    Every volume is tagged Project/Stack like the AWS resources (the driver's `tagSpecification_N`
    parameters), so a volume a failed destroy left behind is found by its stack's tags.
    """
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": GP3_STORAGE_CLASS, "labels": labels(GP3_STORAGE_CLASS)},
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "encrypted": "true",
                       "tagSpecification_1": f"Project={PART_OF}", "tagSpecification_2": f"Stack={stack}"},
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }


def mysql_claim(settings: Settings) -> dict:
    return {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta(settings, "mysql-data"),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": GP3_STORAGE_CLASS,
            "resources": {"requests": {"storage": f"{settings.mysql_ssd_size_gib}Gi"}},
        },
    }


def _mysql_container(settings: Settings, args: Sequence[str]) -> dict:
    c = {
        "name": "mysql",
        "image": img(settings, "mysql"),
        "env": [{"name": "MYSQL_ROOT_PASSWORD", "value": MYSQL_ROOT_PASSWORD}],
        "ports": [{"name": "mysql", "containerPort": 3306}],
        "resources": resources(settings.mysql_memory, settings.mysql_cpu),
        # Over TCP, so the entrypoint's temporary --skip-networking server does not count as ready.
        "readinessProbe": exec_ready('MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql -h 127.0.0.1 -u root -e "select 1"'),
        "volumeMounts": [{"name": "mysql-data", "mountPath": DATA_MOUNT}],
    }
    if args:
        c["args"] = list(args)
    return c


def _mysql_config_init(settings: Settings, replica: bool) -> dict:
    return {
        "name": "install-config",
        "image": img(settings, "mysql"),
        "command": ["bash", "/scripts/mysql-config.sh"],
        "env": [{"name": "REPLICA", "value": "true" if replica else "false"}],
        "volumeMounts": [
            {"name": "mysql-data", "mountPath": DATA_MOUNT},
            {"name": "config", "mountPath": "/config", "readOnly": True},
            {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
        ],
    }


def mysql(settings: Settings, layout: dict[str, str]) -> dict:
    """The MySQL primary. On `glusterfs` its datadir is /seldon-data/mysql of the shared volume
    (seed); on `ssd` its own gp3 volume is mounted at /seldon-data, seldon.cnf copied onto it."""
    if settings.mysql_storage == "ssd":
        volumes = [
            {"name": "mysql-data", "persistentVolumeClaim": {"claimName": "mysql-data"}},
            config_volume("config", LAYOUT_CONFIGMAP, 0o444),
            config_volume("scripts", SCRIPTS_CONFIGMAP),
        ]
        init = [_mysql_config_init(settings, replica=False)]
    else:
        volumes = [{**data_volume(), "name": "mysql-data"}]
        init = []
    spec = pod_spec([_mysql_container(settings, render.mysqld_args(settings.mysql_read_replicas))],
                    role=mysql_placement(settings), volumes=volumes, init_containers=init)
    return deployment(settings, "mysql", spec, recreate=True,
                      annotations={CHECKSUM: render.checksum(layout["seldon.cnf"])})


def mysql_read(settings: Settings, layout: dict[str, str]) -> dict:
    """Read replicas (`mysqlReadReplicas`), each on its own gp3 volume, replicating from `mysql`."""
    replication = {
        "name": "replication",
        "image": img(settings, "mysql"),
        "command": ["bash", "/scripts/mysql-replica.sh"],
        "env": [{"name": "MYSQL_ROOT_PASSWORD", "value": MYSQL_ROOT_PASSWORD}],
        "volumeMounts": [{"name": "scripts", "mountPath": "/scripts", "readOnly": True}],
    }
    server = _mysql_container(settings, render.replica_mysqld_args())
    server["readinessProbe"] = exec_ready(
        'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql -h 127.0.0.1 -u root -e "show slave status\\G" '
        '| grep -q "Slave_SQL_Running: Yes"')
    spec = pod_spec([server, replication], role=mysql_placement(settings),
                    volumes=[config_volume("config", LAYOUT_CONFIGMAP, 0o444), config_volume("scripts", SCRIPTS_CONFIGMAP)],
                    init_containers=[_mysql_config_init(settings, replica=True)])
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(settings, "mysql-read"),
        "spec": {
            "serviceName": "mysql-read",
            "replicas": settings.mysql_read_replicas,
            "selector": {"matchLabels": selector("mysql-read")},
            "template": template("mysql-read", spec, {CHECKSUM: render.checksum(layout["seldon.cnf"])}),
            # The claims (and so their EBS volumes) go with the StatefulSet or a removed replica;
            # by default Kubernetes keeps them, and they would outlive `pulumi destroy`.
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Delete"},
            "volumeClaimTemplates": [{
                "metadata": {"name": "mysql-data", "labels": labels("mysql-read")},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": GP3_STORAGE_CLASS,
                         "resources": {"requests": {"storage": f"{settings.mysql_ssd_size_gib}Gi"}}},
            }],
        },
    }


# ------------------------------------------------------------------ caches, coordination, logs


def memcached(settings: Settings, n: int) -> dict:
    name = f"memcached{n}"
    c = {
        "name": "memcached",
        "image": img(settings, "memcached"),
        # The official image's entrypoint runs memcached (as user memcache) with these flags.
        "args": ["-m", str(settings.memcached_memory_mb)],
        "ports": [{"name": "memcached", "containerPort": 11211}],
        "resources": resources(settings.memcached_resources_memory),
        "readinessProbe": tcp_ready(11211),
    }
    return deployment(settings, name, pod_spec([c]))


def zookeeper(settings: Settings, n: int) -> dict:
    """One of three ZooKeeper servers; the image writes zoo.cfg from SERVER_ID and `zookeeper-<i>`."""
    c = {
        "name": "server",
        "image": img(settings, "zookeeper"),
        "env": [{"name": "SERVER_ID", "value": str(n)}, {"name": "MAX_SERVERS", "value": str(len(ZOOKEEPERS))}],
        "ports": [{"name": "client", "containerPort": 2181}, {"name": "followers", "containerPort": 2888},
                  {"name": "election", "containerPort": 3888}],
        # Ready only once part of a quorum (seldon-up's `echo srvr | nc` wait).
        "readinessProbe": exec_ready("echo srvr | nc localhost 2181 | grep -qE 'Mode: (leader|follower)'", delay=5, period=5),
    }
    return deployment(settings, f"zookeeper{n}", pod_spec([c]))


def zookeeper_service(settings: Settings, n: int) -> dict:
    # Peers must reach each other before any of them is ready, or the quorum never forms.
    return service(settings, f"zookeeper-{n}", f"zookeeper{n}",
                   [port("client", 2181), port("followers", 2888), port("election", 3888)],
                   extra={"publishNotReadyAddresses": True})


def seldon_control(settings: Settings) -> dict:
    """The admin shell (seldon-cli, luigi, spark-submit) for interactive use; Jobs run its image."""
    c = {
        "name": "seldon-shell",
        "image": img(settings, "seldon-control"),
        "command": ["sleep", "infinity"],
        "env": [secret_env("GRAFANA_ADMIN_PASSWORD")],
        "volumeMounts": [data_mount()],
    }
    return deployment(settings, "seldon-control", pod_spec([c], volumes=[data_volume()], terminationGracePeriodSeconds=0))


def kafka(settings: Settings) -> dict:
    c = {
        "name": "kafka",
        "image": img(settings, "kafka"),
        "ports": [{"name": "kafka", "containerPort": 9092}],
        "env": [
            {"name": "KAFKA_BROKER_ID", "value": "1"},
            {"name": "KAFKA_ADVERTISED_PORT", "value": "9092"},
            {"name": "KAFKA_ADVERTISED_HOST_NAME", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "KAFKA_ZOOKEEPER_CONNECT", "value": "zookeeper-1"},
            {"name": "KAFKA_CREATE_TOPICS", "value": "impressions:2:1,ctr_full:2:1,actions:2:1,events:2:1,predictions:2:1"},
            {"name": "KAFKA_LOG_RETENTION_HOURS", "value": "2"},
            {"name": "KAFKA_LOG_ROLL_HOURS", "value": "2"},
            {"name": "KAFKA_LOG_CLEANUP_POLICY", "value": "delete"},
            {"name": "KAFKA_LOG_CLEANER_ENABLE", "value": "true"},
        ],
        "readinessProbe": tcp_ready(9092, delay=10),
    }
    # start-kafka.sh turns every KAFKA_* variable into a broker property, service links included.
    return deployment(settings, "kafka", pod_spec([c], enableServiceLinks=False))


def kafka_service(settings: Settings) -> dict:
    return service(settings, "kafka-service", "kafka", [port("kafka", 9092)])


def td_agent_server(settings: Settings) -> dict:
    c = {
        "name": "td-agent-server",
        "image": img(settings, "td-agent-server"),
        "ports": [{"name": "tcpport", "containerPort": 24224, "protocol": "TCP"},
                  {"name": "udpport", "containerPort": 24224, "protocol": "UDP"}],
        "readinessProbe": tcp_ready(24224),
        "volumeMounts": [data_mount()],
    }
    return deployment(settings, "td-agent-server", pod_spec([c], volumes=[data_volume()]))


def td_agent_service(settings: Settings) -> dict:
    return service(settings, "td-agent-server", "td-agent-server",
                   [port("tcpport", 24224), port("udpport", 24224, protocol="UDP")])


# ------------------------------------------------------------------ monitoring


def influxdb_grafana(settings: Settings) -> dict:
    influx = {
        "name": "influxdb",
        "image": img(settings, "influxdb"),
        "ports": [{"name": "http", "containerPort": 8083}, {"name": "api", "containerPort": 8086}],
        "readinessProbe": tcp_ready(8086),
        "volumeMounts": [data_mount()],
    }
    grafana = {
        "name": "grafana",
        "image": img(settings, "grafana"),
        "ports": [{"name": "ui", "containerPort": 3000}],
        "env": [
            {"name": "INFLUXDB_DATABASE", "value": "seldon"},
            {"name": "INFLUXDB_SERVICE_URL", "value": "http://localhost:8086"},
            {"name": "GF_SECURITY_ADMIN_USER", "value": "admin"},
            secret_env("GF_SECURITY_ADMIN_PASSWORD"),
            secret_env("GRAFANA_PASSWD"),
            {"name": "GF_AUTH_BASIC_ENABLED", "value": "true"},
            {"name": "GF_USERS_ALLOW_SIGN_UP", "value": "false"},
            {"name": "GF_AUTH_ANONYMOUS_ENABLED", "value": "false"},
        ],
        "readinessProbe": tcp_ready(3000),
        "volumeMounts": [data_mount()],
    }
    return deployment(settings, "influxdb-grafana", pod_spec([influx, grafana], volumes=[data_volume()]), recreate=True)


def influxdb_service(settings: Settings) -> dict:
    return service(settings, "monitoring-influxdb", "influxdb-grafana", [port("http", 8083), port("api", 8086)])


def grafana_service(settings: Settings) -> dict:
    return service(settings, "monitoring-grafana", "influxdb-grafana", [port("http", 80, 3000)], type_="LoadBalancer")


def grafana_secret(settings: Settings, password: Any) -> dict:
    """The admin password the images read from this Secret; `password` is a Pulumi secret Output."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(settings, GRAFANA_SECRET),
            "type": "Opaque", "stringData": {GRAFANA_SECRET_KEY: password}}


def kafka_stream(settings: Settings, kind: str) -> dict:
    """Kafka Streams job feeding InfluxDB: `impressions` (requests + CTR) or `predictions`."""
    jar = "seldon-stream-1.4.10-jar-with-dependencies.jar"
    common = ["--kafka", "kafka-service:9092", "--zookeeper", "zookeeper-1:2181", "--influxdb", "monitoring-influxdb:8086"]
    if kind == "impressions":
        args = ["io.seldon.stream.analytics.ImpressionsToInfluxDb", "--topic", "ctr_full", *common,
                "--influx-measurement-impressions", "impressions", "--influx-measurement-requests", "requests"]
    else:
        args = ["io.seldon.stream.analytics.PredictionsToInfluxDb", "--topic", "predictions", *common,
                "--influx-measurement", "predictions"]
    c = {
        "name": "kafka-stream",
        "image": img(settings, "seldon-stream"),
        "command": ["java", "-Xmx200M", "-cp", jar, *args],
        "resources": {"requests": {"memory": "300M"}, "limits": {"memory": "300M"}},
    }
    return deployment(settings, f"kafka-stream-{kind}", pod_spec([c]))


# ------------------------------------------------------------------ Spark


# Spark 1.5.2 from seldon-control (see workloads/images.py), started as the gcr.io spark image's
# start scripts did: spark-class in the foreground, so the pod restarts if the daemon dies.
SPARK_CLASS = "/opt/spark/bin/spark-class"
SPARK_MASTER_URL = "spark://spark-master:7077"
# spark-class gives each daemon -Xms/-Xmx of SPARK_DAEMON_MEMORY (1g by default), which alone
# fills the master's 1G limit; the daemons need little (the executors are separate JVMs).
SPARK_DAEMON_MEMORY = {"name": "SPARK_DAEMON_MEMORY", "value": "512m"}


def spark_master(settings: Settings) -> dict:
    # Akka (Spark 1.5) accepts only messages addressed to the exact host name it is bound to, and
    # workers address `spark-master`: bind to that name, pointed at the pod's own IP as the old
    # start-master script did (the Service name resolves to a ClusterIP, not bindable).
    start = (f'echo "$(hostname -i) spark-master" >> /etc/hosts && exec {SPARK_CLASS} '
             'org.apache.spark.deploy.master.Master --ip spark-master --port 7077 --webui-port 8080')
    c = {
        "name": "spark-master",
        "image": img(settings, "seldon-control"),
        "command": ["bash", "-c", start],
        "ports": [{"name": "spark", "containerPort": 7077}, {"name": "webui", "containerPort": 8080}],
        "env": [{"name": "SPARK_MASTER_OPTS", "value": "-Dspark.deploy.defaultCores=2"}, SPARK_DAEMON_MEMORY],
        "resources": {"requests": {"memory": "200M"}, "limits": {"memory": "1G"}},
        "readinessProbe": tcp_ready(7077, delay=10),
        "volumeMounts": [data_mount()],
    }
    # No Service links: Kubernetes would set SPARK_MASTER_PORT=tcp://<ip>:7077 for the
    # `spark-master` Service, which Spark reads as its own port setting and fails to parse.
    return deployment(settings, "spark-master", pod_spec([c], volumes=[data_volume()], enableServiceLinks=False))


def spark_master_services(settings: Settings) -> list[dict]:
    return [service(settings, "spark-master", "spark-master", [port("spark", 7077)]),
            service(settings, "spark-webui", "spark-master", [port("webui", 8080)])]


def spark_worker(settings: Settings) -> dict:
    c = {
        "name": "spark-worker",
        "image": img(settings, "seldon-control"),
        "command": [SPARK_CLASS, "org.apache.spark.deploy.worker.Worker", SPARK_MASTER_URL, "--webui-port", "8081"],
        "ports": [{"name": "webui", "containerPort": 8081}],
        "env": [spark_local_hostname(), SPARK_DAEMON_MEMORY],
        # 1.4.10 limited the worker to 1G, the size of the executor heap alone (an OOM kill
        # during training); the limit leaves room for the worker JVM next to the executor.
        "resources": {"requests": {"memory": "1G"}, "limits": {"memory": "2Gi"}},
        "readinessProbe": tcp_ready(8081, delay=10),
        "volumeMounts": [data_mount()],
    }
    return deployment(settings, "spark-worker", pod_spec([c], volumes=[data_volume()], enableServiceLinks=False),
                      replicas=settings.spark_worker_replicas)


# ------------------------------------------------------------------ the API


def seldon_server(settings: Settings, layout: dict[str, str]) -> dict:
    """The recommendation API: `apiReplicas` pods spread over the Seldon nodes, each with the
    td-agent sidecar that ships its logs to td-agent-server and the log-cleaning sidecar."""
    logs = [("logs-base", "/home/seldon/logs/base"), ("logs-actions", "/home/seldon/logs/actions"),
            ("logs-tomcat", "/home/seldon/logs/tomcat")]
    server = {
        "name": "seldon-server",
        "image": img(settings, "seldon-server"),
        "command": ["/home/seldon/start-server.sh"],
        "ports": [{"name": "api", "containerPort": 8080}, {"name": "rpc", "containerPort": 5000}],
        "env": [{"name": "SELDON_ZKSERVERS", "value": ZK_HOSTS}],
        # A request and no limit, as the seed's seldon-server (v1.3.x): a fixed heap (Xms = Xmx)
        # beside 500 Tomcat threads must not be OOM-killed by its own cgroup mid-run. Settings
        # hold the heap API_NON_HEAP_MIB below the request; the capacity model fits the requests.
        "resources": resources(settings.api_memory, settings.api_cpu),
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "initialDelaySeconds": 30,
                           "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": "/", "port": 8080}, "initialDelaySeconds": 60,
                          "timeoutSeconds": 5, "periodSeconds": 15, "successThreshold": 1, "failureThreshold": 2},
        "volumeMounts": [data_mount(), *({"name": n, "mountPath": p} for n, p in logs)],
    }
    td_agent = {
        "name": "td-agent",
        "image": img(settings, "td-agent-node"),
        "command": ["td-agent"],
        "volumeMounts": [{"name": n, "mountPath": p} for n, p in logs[:2]],
    }
    maintenance = {
        "name": "seldon-server-maintenance",
        "image": img(settings, "seldon-server-maintenance"),
        "volumeMounts": [{"name": n, "mountPath": p} for n, p in logs],
    }
    spread = [{
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": selector(API_SERVICE)},
    }]
    spec = pod_spec([server, td_agent, maintenance],
                    volumes=[data_volume(), *({"name": n, "emptyDir": {}} for n, _ in logs)],
                    topologySpreadConstraints=spread, terminationGracePeriodSeconds=30)
    # settings.sh is read at start: a new heap size must restart the pods.
    return deployment(settings, API_SERVICE, spec, replicas=settings.api_replicas,
                      annotations={CHECKSUM: render.checksum(layout["settings.sh"])})


def seldon_server_service(settings: Settings) -> dict:
    return service(settings, API_SERVICE, API_SERVICE, [port("api", API_PORT, 8080), port("rpc", 5000)],
                   type_="LoadBalancer")
