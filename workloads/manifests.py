"""Builders of the Kubernetes objects every workload is made of (pure: values in, dicts out).

Metadata and labels, pod specs with their node placement, containers' probes, resources and
environment, volumes, and the Deployment / StatefulSet / Service / Job / ConfigMap around them.
Every workload module (the Seldon components, the setup and ML10M Jobs, the load test) builds
its objects from these, so every object carries the same labels and the same conventions.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from infra.roles import SELDON, NodeRole
from workloads.common import DATA_CLAIM, DATA_MOUNT, DATA_VOLUME_NAME, PART_OF, SCRIPTS_CONFIGMAP, SCRIPTS_DIR

# Pod-template annotation holding a hash of the config files a pod reads at start: a changed
# file restarts its readers.
CHECKSUM = "seldon-bench/config-checksum"


# ------------------------------------------------------------------ metadata


def labels(name: str, **extra: str) -> dict[str, str]:
    """Labels every object carries; `name` also selects pods."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF, **extra}


def selector(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name}


def meta(namespace: Optional[str], name: str, annotations: Optional[dict] = None, *, app: Optional[str] = None,
         **extra_labels: str) -> dict:
    """metadata of an object (namespace None: a cluster-scoped one); its `app.kubernetes.io/name`
    is `app`, by default `name`."""
    m: dict[str, Any] = {"name": name}
    if namespace is not None:
        m["namespace"] = namespace
    m["labels"] = labels(app or name, **extra_labels)
    if annotations:
        m["annotations"] = annotations
    return m


# ------------------------------------------------------------------ pods


def placement(role: NodeRole) -> dict:
    """nodeSelector + tolerations of a role; only the load test tolerates the loadgen taint."""
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


def template(name: str, spec: dict, annotations: Optional[dict] = None, **extra_labels: str) -> dict:
    md: dict[str, Any] = {"labels": labels(name, **extra_labels)}
    if annotations:
        md["annotations"] = annotations
    return {"metadata": md, "spec": spec}


def port(name: str, number: int, target: Optional[int] = None, protocol: str = "TCP") -> dict:
    """A Service port."""
    return {"name": name, "port": number, "targetPort": target or number, "protocol": protocol}


def tcp_ready(number: int, delay: int = 5, period: int = 5) -> dict:
    return {"tcpSocket": {"port": number}, "initialDelaySeconds": delay, "periodSeconds": period,
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


def env(**values: str) -> list[dict]:
    """Plain environment variables, in the order given."""
    return [{"name": k, "value": v} for k, v in values.items()]


def secret_env(name: str, secret: str, key: str) -> dict:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def pod_ip_env(name: str) -> dict:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}


def config_volume(name: str, configmap: str, mode: Optional[int] = 0o555) -> dict:
    """A ConfigMap as a volume (`mode` None: Kubernetes' default file mode)."""
    source: dict[str, Any] = {"name": configmap}
    if mode is not None:
        source["defaultMode"] = mode
    return {"name": name, "configMap": source}


def data_volume() -> dict:
    """Pod volume for the shared, ReadWriteMany `/seldon-data` (GlusterFS gv0 over NFS)."""
    return {"name": DATA_VOLUME_NAME, "persistentVolumeClaim": {"claimName": DATA_CLAIM}}


def scripts_volume() -> dict:
    """Pod volume of the seldon-scripts ConfigMap: every shipped script, executable."""
    return config_volume("scripts", SCRIPTS_CONFIGMAP)


def scripts_mount() -> dict:
    return {"name": "scripts", "mountPath": SCRIPTS_DIR, "readOnly": True}


def data_mount(read_only: bool = False, sub_path: Optional[str] = None) -> dict:
    mount = {"name": DATA_VOLUME_NAME, "mountPath": DATA_MOUNT}
    if read_only:
        mount["readOnly"] = True
    if sub_path:
        mount["subPath"] = sub_path
    return mount


# ------------------------------------------------------------------ objects


def deployment(namespace: str, name: str, spec: dict, *, replicas: int = 1, recreate: bool = False,
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
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(namespace, name), "spec": body}


def stateful_set(namespace: str, name: str, spec: dict, *, replicas: int, annotations: Optional[dict] = None,
                 extra: Optional[dict] = None) -> dict:
    body: dict[str, Any] = {
        "serviceName": name,
        "replicas": replicas,
        "selector": {"matchLabels": selector(name)},
        "template": template(name, spec, annotations),
    }
    body.update(extra or {})
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(namespace, name), "spec": body}


def service(namespace: str, name: str, selects: dict[str, str], ports: Sequence[dict], *,
            type_: str = "ClusterIP", allowed_cidrs: Sequence[str] = (), annotations: Optional[dict] = None,
            app: Optional[str] = None, extra: Optional[dict] = None) -> dict:
    """A Service over the pods `selects` matches; a LoadBalancer admits `allowed_cidrs` only."""
    spec: dict[str, Any] = {"type": type_, "selector": dict(selects), "ports": list(ports)}
    if type_ == "LoadBalancer":
        spec["loadBalancerSourceRanges"] = list(allowed_cidrs)
    spec.update(extra or {})
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(namespace, name, annotations, app=app),
            "spec": spec}


def job(namespace: str, name: str, spec: dict, *, app: Optional[str] = None, annotations: Optional[dict] = None,
        template_annotations: Optional[dict] = None, pod_labels: Optional[dict] = None,
        extra_labels: Optional[dict] = None, **job_spec: Any) -> dict:
    """A batch/v1 Job running pods of `spec`; `job_spec` are the Job's own fields (backoffLimit, ...)."""
    app = app or name
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": meta(namespace, name, annotations, app=app, **(extra_labels or {})),
        "spec": {**job_spec, "template": template(app, spec, template_annotations, **(pod_labels or {}))},
    }


def secret(namespace: str, name: str, string_data: dict[str, Any]) -> dict:
    """An Opaque Secret; its values may be Pulumi secret Outputs."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(namespace, name), "type": "Opaque",
            "stringData": dict(string_data)}


def config_map(namespace: str, name: str, data: dict[str, str], *, app: Optional[str] = None,
               **extra_labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(namespace, name, app=app, **extra_labels),
            "data": dict(data)}
