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
    # Workloads depend on these so that they are created after, and deleted before, the nodes.
    ready: Sequence[pulumi.Resource] = ()
    # True when an EBS CSI driver is installed, so a gp3 StorageClass can provision volumes.
    has_ebs_csi: bool = True
    # Where pods pull every image from: the ECR pull-through cache or a mirror (a registry host
    # with a path), or None for Docker Hub itself.
    image_registry: Optional[str] = None
    outputs: dict = field(default_factory=dict)  # stack outputs of this layer


@dataclass(frozen=True)
class Network:
    """The VPC as the cluster and the GlusterFS servers need it."""

    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    public_subnet_ids: Sequence[pulumi.Input[str]]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    # The private subnet in `Settings.zone`, where every node and GlusterFS server lives.
    node_subnet_id: pulumi.Input[str]
    node_subnet_cidr: str
    # Internet gateway, NAT, routes: the node groups and servers depend on them (they need egress),
    # so destroy removes them, and every Kubernetes object with its ELB, first.
    gateways: Sequence[pulumi.Resource] = ()
    # Address reservations in the node subnet: everything that takes addresses there waits for them.
    address_reservations: Sequence[pulumi.Resource] = ()
