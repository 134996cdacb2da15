"""The Seldon API and what it reads beside MySQL (pure manifests): seldon-server behind a
LoadBalancer open to `allowedCidrs` only, memcached1/2, and the seldon-control admin shell.
"""

from __future__ import annotations

from infra.settings import Settings
from workloads import manifests as m
from workloads import render
from workloads.common import API_PORT, API_SERVICE
from workloads.images import image
from workloads.monitoring import grafana_password_env
from workloads.streams import ZK_HOSTS

MEMCACHED_PORT = 11211
MEMCACHED = (1, 2)


def memcached(settings: Settings, n: int) -> dict:
    c = {
        "name": "memcached",
        "image": image("memcached", settings.image_registry),
        # The official image's entrypoint runs memcached (as user memcache) with these flags.
        "args": ["-m", str(settings.memcached_memory_mb)],
        "ports": [{"name": "memcached", "containerPort": MEMCACHED_PORT}],
        "resources": m.resources(settings.memcached_resources_memory),
        "readinessProbe": m.tcp_ready(MEMCACHED_PORT),
    }
    return m.deployment(settings.namespace, f"memcached{n}", m.pod_spec([c]))


def memcached_service(settings: Settings, n: int) -> dict:
    name = f"memcached{n}"
    return m.service(settings.namespace, name, m.selector(name), [m.port("memcached", MEMCACHED_PORT)])


def seldon_control(settings: Settings) -> dict:
    """The admin shell (seldon-cli, luigi, spark-submit) for interactive use; Jobs run its image."""
    c = {
        "name": "seldon-shell",
        "image": image("seldon-control", settings.image_registry),
        "command": ["sleep", "infinity"],
        "env": [grafana_password_env("GRAFANA_ADMIN_PASSWORD")],
        "volumeMounts": [m.data_mount()],
    }
    return m.deployment(settings.namespace, "seldon-control",
                        m.pod_spec([c], volumes=[m.data_volume()], terminationGracePeriodSeconds=0))


def seldon_server(settings: Settings, layout: dict[str, str]) -> dict:
    """The recommendation API: `apiReplicas` pods spread over the Seldon nodes, each with the
    td-agent sidecar that ships its logs to td-agent-server and the log-cleaning sidecar."""
    logs = [("logs-base", "/home/seldon/logs/base"), ("logs-actions", "/home/seldon/logs/actions"),
            ("logs-tomcat", "/home/seldon/logs/tomcat")]
    http_root = {"httpGet": {"path": "/", "port": 8080}, "timeoutSeconds": 5}
    server = {
        "name": API_SERVICE,
        "image": image("seldon-server", settings.image_registry),
        "command": ["/home/seldon/start-server.sh"],
        "ports": [{"name": "api", "containerPort": 8080}, {"name": "rpc", "containerPort": 5000}],
        "env": m.env(SELDON_ZKSERVERS=ZK_HOSTS),
        # A request and no limit, as the seed's seldon-server (v1.3.x): a fixed heap (Xms = Xmx)
        # beside 500 Tomcat threads must not be OOM-killed by its own cgroup mid-run. Settings
        # hold the heap API_NON_HEAP_MIB below the request; the capacity model fits the requests.
        "resources": m.resources(settings.api_memory, settings.api_cpu),
        "readinessProbe": {**http_root, "initialDelaySeconds": 30, "periodSeconds": 10, "failureThreshold": 3},
        "livenessProbe": {**http_root, "initialDelaySeconds": 60, "periodSeconds": 15, "successThreshold": 1,
                          "failureThreshold": 2},
        "volumeMounts": [m.data_mount(), *({"name": n, "mountPath": p} for n, p in logs)],
    }
    td_agent = {
        "name": "td-agent",
        "image": image("td-agent-node", settings.image_registry),
        "command": ["td-agent"],
        "volumeMounts": [{"name": n, "mountPath": p} for n, p in logs[:2]],
    }
    maintenance = {
        "name": "seldon-server-maintenance",
        "image": image("seldon-server-maintenance", settings.image_registry),
        "volumeMounts": [{"name": n, "mountPath": p} for n, p in logs],
    }
    spread = [{
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": m.selector(API_SERVICE)},
    }]
    spec = m.pod_spec([server, td_agent, maintenance],
                      volumes=[m.data_volume(), *({"name": n, "emptyDir": {}} for n, _ in logs)],
                      topologySpreadConstraints=spread, terminationGracePeriodSeconds=30)
    # settings.sh is read at start: a new heap size must restart the pods.
    return m.deployment(settings.namespace, API_SERVICE, spec, replicas=settings.api_replicas,
                        annotations={m.CHECKSUM: render.checksum(layout["settings.sh"])})


def seldon_server_service(settings: Settings) -> dict:
    return m.service(settings.namespace, API_SERVICE, m.selector(API_SERVICE),
                     [m.port("api", API_PORT, 8080), m.port("rpc", 5000)],
                     type_="LoadBalancer", allowed_cidrs=settings.allowed_cidrs)
