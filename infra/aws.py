"""The benchmark's AWS side: VPC, EKS with its node groups, GlusterFS; returns the cluster handle.

Order: preflight (live runs only) -> network -> EKS -> GlusterFS (opens its NFS port to the
cluster security group) -> the `Infrastructure` handle and this layer's stack outputs.
"""

from __future__ import annotations

import pulumi

from infra import cluster as eks
from infra import glusterfs, network, preflight
from infra.handles import DataVolume, Infrastructure
from infra.settings import Settings


def build(settings: Settings) -> Infrastructure:
    preflight.run_if_live(settings)
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
    return Infrastructure(
        k8s_provider=cluster.provider,
        data_volume=data_volume,
        # Workloads wait for nodes, DNS and the EBS CSI driver (gp3 volumes), and are deleted first.
        # The GlusterFS servers and their NFS rule too: the PV names the server by a plain IP, so
        # without this destroy could terminate them while pods still hold the hard NFS mount, and
        # those pods would hang in Terminating (unmount never returns), failing the destroy.
        ready=[*groups.values(), cluster.coredns, cluster.ebs_csi, *gluster.instances, gluster.nfs_rule],
        has_ebs_csi=True,
        outputs=outputs,
    )
