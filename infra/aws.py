"""The benchmark's AWS side: VPC, EKS with its node groups, GlusterFS; returns the cluster handle.

Order: network -> EKS -> GlusterFS (opens its NFS port to the
cluster security group) -> the ECR pull-through cache (`imageSource: ecr-cache`) -> the
`Infrastructure` handle and this layer's stack outputs.
"""

from __future__ import annotations

import pulumi

from typing import Sequence

from infra import cluster as eks
from infra import glusterfs, network
from infra.handles import DataVolume, Infrastructure
from infra.image_cache import ImageCache
from infra.settings import Settings


def build(settings: Settings, docker_repositories: Sequence[str]) -> Infrastructure:
    """`docker_repositories`: every Docker Hub repository the workloads pull (the cache's repositories)."""
    name = network.cluster_name(pulumi.get_stack())
    net = network.deploy(settings, name)
    cluster = eks.deploy(settings, net, name)
    gluster = glusterfs.deploy(settings, net, cluster.security_group_id)

    data_volume = DataVolume(server=gluster.nfs_server, path=gluster.export_path, addresses=gluster.addresses)
    groups = cluster.node_groups
    outputs = {
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
        "vpcId": net.vpc_id,
        "glusterAddresses": gluster.addresses,
        "dataVolume": {"server": data_volume.server, "path": data_volume.path, "protocol": data_volume.protocol},
    }
    if "mysql" in groups:
        outputs["mysqlInstanceType"] = settings.mysql_type
    image_registry, image_ready = settings.image_registry if settings.image_supply == "registry" else None, []
    if settings.image_supply == "ecr-cache":
        cache = ImageCache("image-cache", settings, cluster.node_role, docker_repositories)
        image_registry = cache.registry
        # Pods pull only once the rule, their repositories and the node's import right exist;
        # destroy deletes the pods first, then the repositories with their images.
        image_ready = [cache.rule, *cache.repositories, cache.node_policy]
        outputs["imageRegistry"] = image_registry
    return Infrastructure(
        k8s_provider=cluster.provider,
        data_volume=data_volume,
        # Workloads wait for nodes, DNS and the EBS CSI driver (gp3 volumes), and are deleted first.
        # The GlusterFS servers and their NFS rule too: the PV names the server by a plain IP, so
        # without this destroy could terminate them while pods still hold the hard NFS mount, and
        # those pods would hang in Terminating (unmount never returns), failing the destroy.
        ready=[*groups.values(), cluster.coredns, cluster.ebs_csi, *gluster.instances, gluster.nfs_rule,
               *image_ready],
        has_ebs_csi=True,
        image_registry=image_registry,
        outputs=outputs,
    )
