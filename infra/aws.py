"""The benchmark's AWS side as components: `Network`, `EksCluster`, `GlusterCluster` and, with
`imageSource: ecr-cache`, `ImageCache`; returns the cluster handle.

Order: network -> EKS -> GlusterFS (opens its NFS port to the cluster security group) -> the
ECR pull-through cache -> the `Infrastructure` handle and this layer's stack outputs.
"""

from __future__ import annotations

from typing import Sequence

import pulumi

from infra.cluster import EksCluster
from infra.glusterfs import GlusterCluster
from infra.handles import DataVolume, Infrastructure
from infra.image_cache import ImageCache
from infra.network import Network, cluster_name
from infra.settings import Settings


def build(settings: Settings, docker_repositories: Sequence[str]) -> Infrastructure:
    """`docker_repositories`: every Docker Hub repository the workloads pull (the cache's repositories)."""
    name = cluster_name(pulumi.get_stack())
    network = Network("network", settings, name)
    cluster = EksCluster("eks", settings, network, name)
    gluster = GlusterCluster("gluster", settings, network, cluster.security_group_id)
    cache = (ImageCache("image-cache", settings, cluster.node_role, docker_repositories)
             if settings.image_supply == "ecr-cache" else None)

    data_volume = DataVolume(server=gluster.nfs_server, path=gluster.export_path, addresses=gluster.addresses)
    image_registry = cache.registry if cache else (
        settings.image_registry if settings.image_supply == "registry" else None)
    return Infrastructure(
        k8s_provider=cluster.provider,
        data_volume=data_volume,
        # Workloads wait for every child of these, and are deleted first: the nodes, DNS and the
        # EBS CSI driver (gp3 volumes); the GlusterFS servers and their NFS rule, because the PV
        # names the server by a plain IP, and without this destroy could terminate them while pods
        # still hold the hard NFS mount (those pods would hang in Terminating, failing the destroy);
        # and the cache's rule, repositories and node permission, which every pull needs.
        ready=[cluster, gluster, *([cache] if cache else [])],
        has_ebs_csi=True,
        image_registry=image_registry,
        outputs=outputs(settings, network, cluster, gluster, data_volume, cache),
    )


def outputs(settings: Settings, network: Network, cluster: EksCluster, gluster: GlusterCluster,
            data_volume: DataVolume, cache: ImageCache | None) -> dict:
    """This layer's stack outputs."""
    groups = cluster.node_groups
    result = {
        "clusterName": cluster.cluster.name,
        "kubeconfig": pulumi.Output.secret(cluster.kubeconfig),
        "region": settings.region,
        "nodeZone": settings.zone,
        "kubernetesVersion": settings.kubernetes_version,
        "nodeAmiType": settings.node_ami_type,
        **{f"{role}NodeGroup": group.node_group_name for role, group in groups.items()},
        # The instance types actually used, so results stay attributable to hardware.
        "seldonInstanceType": settings.seldon_type,
        "loadgenInstanceType": settings.loadgen_type,
        "glusterInstanceType": settings.gluster_type,
        "vpcId": network.vpc_id,
        "glusterAddresses": gluster.addresses,
        "dataVolume": {"server": data_volume.server, "path": data_volume.path, "protocol": data_volume.protocol},
    }
    if "mysql" in groups:
        result["mysqlInstanceType"] = settings.mysql_type
    if cache:
        result["imageRegistry"] = cache.registry
    return result
