"""What every workload module shares: the names the Seldon images hard-code, and `declare`, the
one way a manifest becomes a resource (through the cluster's provider, after its nodes).

The manifests themselves are built with workloads/manifests.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from infra.handles import Infrastructure
from infra.settings import Settings

DATA_MOUNT = "/seldon-data"
# The claim name seldon-server 1.4.x manifests use; every pod mounting /seldon-data uses it.
DATA_CLAIM = "seldon-claim"
DATA_VOLUME_NAME = "seldon-data"
ML10M_CLIENT = "ml10m"
# The ml10m client's JS consumer key, pinned at `seldon-cli client --action setup --set-js-key`
# so the replay file generated for one install stays valid (20 chars [A-Z0-9], as Seldon makes).
ML10M_JS_KEY = "BENCHML10MJSKEY00001"
API_SERVICE = "seldon-server"
API_PORT = 80
PART_OF = "seldon-bench"
# The ConfigMaps of the Seldon stack: the scripts every Job runs, the config files on the volume.
SCRIPTS_CONFIGMAP = "seldon-scripts"
LAYOUT_CONFIGMAP = "seldon-data-layout"
SCRIPTS_DIR = "/scripts"


@dataclass(frozen=True)
class Context:
    """Settings + cluster handle, and the one way workloads get their resource options."""

    settings: Settings
    infra: Infrastructure

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    def opts(self, *depends_on: pulumi.Resource, **kwargs) -> pulumi.ResourceOptions:
        """Explicit provider; created after (and deleted before) the nodes and `depends_on`."""
        return pulumi.ResourceOptions(
            provider=self.infra.k8s_provider,
            depends_on=[*self.infra.ready, *depends_on],
            **kwargs,
        )


# apiVersion/kind -> the typed pulumi-kubernetes resource that declares it.
_KINDS = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "PersistentVolume"): k8s.core.v1.PersistentVolume,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("storage.k8s.io/v1", "StorageClass"): k8s.storage.v1.StorageClass,
}
# Top-level manifest fields -> keyword arguments of those resources (nested fields stay camelCase).
_ARGS = {
    "metadata": "metadata", "spec": "spec", "data": "data", "stringData": "string_data", "type": "type",
    "provisioner": "provisioner", "parameters": "parameters", "reclaimPolicy": "reclaim_policy",
    "volumeBindingMode": "volume_binding_mode", "allowVolumeExpansion": "allow_volume_expansion",
}


# How long `pulumi destroy` waits for a LoadBalancer Service to go: the service controller deletes
# its Classic ELB (and the ELB's security group) first, which can take many minutes. Giving up
# earlier would leave the ELB behind and the VPC undeletable.
LOAD_BALANCER_DELETE_TIMEOUT = "30m"


def is_load_balancer(obj: dict) -> bool:
    return obj.get("kind") == "Service" and (obj.get("spec") or {}).get("type") == "LoadBalancer"


def declare(ctx: Context, obj: dict, *depends_on: pulumi.Resource, name: Optional[str] = None,
            **opts: Any) -> pulumi.CustomResource:
    """Declare one manifest (a pure dict) through the cluster's provider.

    The Pulumi name defaults to `<kind>-<metadata.name>`; `opts` are extra ResourceOptions. A
    LoadBalancer Service gets `LOAD_BALANCER_DELETE_TIMEOUT` unless the caller sets timeouts.
    """
    if is_load_balancer(obj) and "custom_timeouts" not in opts:
        opts["custom_timeouts"] = pulumi.CustomTimeouts(delete=LOAD_BALANCER_DELETE_TIMEOUT)
    cls = _KINDS[(obj["apiVersion"], obj["kind"])]
    kwargs = {_ARGS[k]: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    name = name or f"{obj['kind'].lower()}-{obj['metadata']['name']}"
    return cls(name, **kwargs, opts=ctx.opts(*depends_on, **opts))


def load_balancer_host(status) -> str:
    """Hostname (AWS) or IP (elsewhere) of a LoadBalancer Service's first ingress, "" before it has one."""
    ingress = (status.load_balancer.ingress or [None])[0] if status and status.load_balancer else None
    return (ingress and (ingress.hostname or ingress.ip)) or ""
