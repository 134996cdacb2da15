"""What the infrastructure layer hands to the workloads layer (and nothing more)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class DataVolume:
    """How pods mount the shared `/seldon-data` volume (GlusterFS `gv0` exported over NFSv4)."""

    server: pulumi.Input[str]  # the NFS server the PersistentVolume points at
    path: str  # export path, e.g. "/gv0"
    addresses: Sequence[pulumi.Input[str]] = ()  # every GlusterFS server, for the record
    protocol: str = "nfs"
    mount_options: tuple[str, ...] = ("nfsvers=4.1", "hard")


@dataclass(frozen=True)
class Infrastructure:
    """The cluster as the workloads see it, whichever way it was obtained."""

    k8s_provider: k8s.Provider
    data_volume: DataVolume
    # What the workloads depend on, so that they are created after, and deleted before, it: the
    # infrastructure's components (a component stands for all its children).
    ready: Sequence[pulumi.Resource] = ()
    # True when an EBS CSI driver is installed, so a gp3 StorageClass can provision volumes.
    has_ebs_csi: bool = True
    # Where pods pull every image from: the ECR pull-through cache or a mirror (a registry host
    # with a path), or None for Docker Hub itself.
    image_registry: Optional[str] = None
    outputs: dict = field(default_factory=dict)  # stack outputs of this layer
