"""Manifests of the namespace, the shared `/seldon-data` volume and the config files on it (pure).

In-tree GlusterFS volumes are gone since Kubernetes 1.26, so `gv0` is reached over NFSv4
(NFS-Ganesha on the Gluster servers, reference pulumi-aws-eks.md §3.5): a static ReadWriteMany
PersistentVolume pinned to the claim `seldon-claim` that every component mounts.
"""

from __future__ import annotations

from infra.handles import DataVolume
from infra.settings import Settings
from workloads import manifests as m
from workloads.common import DATA_CLAIM

# Nominal: NFS does not enforce it, but a claim must request a size its volume offers.
DATA_SIZE = "100Gi"
PV_NAME = "seldon-data"


def namespace(settings: Settings) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": m.meta(None, settings.namespace)}


def persistent_volume(settings: Settings, volume: DataVolume) -> dict:
    # Cluster-scoped, so the namespace is part of the name: two benchmarks can share a cluster.
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": m.meta(None, pv_name(settings), app=PV_NAME),
        "spec": {
            "capacity": {"storage": DATA_SIZE},
            "accessModes": ["ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Retain",
            # "" = no class: the default StorageClass must not provision an EBS volume instead.
            "storageClassName": "",
            "mountOptions": list(volume.mount_options),
            "nfs": {"server": volume.server, "path": volume.path},
            "claimRef": {"namespace": settings.namespace, "name": DATA_CLAIM},
        },
    }


def pv_name(settings: Settings) -> str:
    return f"{PV_NAME}-{settings.namespace}"


def claim(settings: Settings) -> dict:
    return {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": m.meta(settings.namespace, DATA_CLAIM),
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": "",
            "volumeName": pv_name(settings),
            "resources": {"requests": {"storage": DATA_SIZE}},
        },
    }


def config_map(settings: Settings, name: str, data: dict[str, str]) -> dict:
    return m.config_map(settings.namespace, name, data)

