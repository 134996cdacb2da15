"""The two GlusterFS servers that hold `/seldon-data`, exported to Kubernetes over NFSv4.

Creates, under one `seldon-bench:infra:GlusterCluster` component:
- a security group: glusterd (24007-24008) and bricks (49152-60999) only between the two
  servers, NFS (2049/TCP) only from the EKS cluster security group (or the VPC CIDR), all egress
  (apt needs the NAT gateway); each rule its own resource so nothing forms a cycle;
- an IAM role + instance profile with AmazonSSMManagedInstanceCore (no SSH key, no port 22);
- `gluster-1` and `gluster-2`: Debian 12 (the GlusterFS and NFS-Ganesha packages live there, not
  in Amazon Linux 2023) in the node subnet of `Settings.zone`, IMDSv2 only, encrypted gp3 root
  and an inline encrypted gp3 brick volume deleted with the instance, and cloud-init user-data
  from `infra.userdata` that forms the replica-2 volume `gv0` and exports it with NFS-Ganesha.

Private IPs are fixed (10th and 11th address of the node subnet) so each user-data names its
peer without an Output cycle; because of that a replacement must delete the old server first.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_aws as aws

from infra.network import Network, tags
from infra.settings import DEBIAN_AMI_NAME, DEBIAN_OWNER, PROJECT, Settings
from infra.userdata import EXPORT_PATH, GlusterNode, render_user_data, server_addresses

BRICK_DEVICE = "/dev/sdf"  # seen as /dev/xvdf on Xen (m3), /dev/nvme1n1 on Nitro; the script finds it
ROOT_SIZE_GIB = 8  # the Debian image's own size; packages and logs take < 1 GiB
GLUSTERD_PORTS = (24007, 24008)
# GlusterFS >= 10 gives each brick a random free port between base-port and max-port
# (49152-60999, Debian's glusterd.vol), not the next one from 49152: the whole range must be open.
BRICK_PORTS = (49152, 60999)
NFS_PORT = 2049
SSM_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def _tags(name: str) -> dict[str, str]:
    return tags(name, Role="gluster")


class GlusterCluster(pulumi.ComponentResource):
    """The GlusterFS pair in `network`'s node subnet, NFS reachable from the cluster security
    group (or, without one, the VPC); depending on it waits for both servers and the NFS rule,
    so that destroy removes every pod that mounts `/seldon-data` first."""

    addresses: list[str]
    nfs_server: str
    export_path: str
    instances: list[aws.ec2.Instance]
    security_group: aws.ec2.SecurityGroup
    # The rule that lets the nodes reach NFS: pods must be gone before it is.
    nfs_rule: aws.vpc.SecurityGroupIngressRule

    def __init__(self, name: str, settings: Settings, network: Network,
                 cluster_security_group_id: Optional[pulumi.Input[str]],
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:infra:GlusterCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.addresses = list(server_addresses(network.node_subnet_cidr))
        self.nfs_server = self.addresses[0]
        self.export_path = EXPORT_PATH

        self.security_group = sg = aws.ec2.SecurityGroup(
            "gluster-sg",
            vpc_id=network.vpc_id,
            description="seldon-bench GlusterFS servers: gluster between themselves, NFSv4 from the cluster",
            tags=_tags("gluster"),
            opts=child,
        )
        for rule, (low, high) in {"glusterd": GLUSTERD_PORTS, "bricks": BRICK_PORTS}.items():
            aws.vpc.SecurityGroupIngressRule(
                f"gluster-{rule}",
                security_group_id=sg.id,
                referenced_security_group_id=sg.id,
                ip_protocol="tcp", from_port=low, to_port=high,
                description=f"GlusterFS {rule} between the two servers",
                opts=child,
            )
        nfs_source = (
            {"referenced_security_group_id": cluster_security_group_id}
            if cluster_security_group_id is not None else {"cidr_ipv4": network.vpc_cidr}
        )
        self.nfs_rule = aws.vpc.SecurityGroupIngressRule(
            "gluster-nfs",
            security_group_id=sg.id,
            ip_protocol="tcp", from_port=NFS_PORT, to_port=NFS_PORT,
            description="NFSv4 (NFS-Ganesha) from the Kubernetes nodes",
            opts=child,
            **nfs_source,
        )
        # Terraform-based providers drop AWS's default egress rule: apt needs it back.
        aws.vpc.SecurityGroupEgressRule(
            "gluster-egress",
            security_group_id=sg.id,
            ip_protocol="-1", cidr_ipv4="0.0.0.0/0",
            description="apt mirrors through the NAT gateway; replies to peers",
            opts=child,
        )

        role = aws.iam.Role(
            "gluster-role",
            assume_role_policy=pulumi.Output.json_dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                               "Action": "sts:AssumeRole"}],
            }),
            tags=_tags("gluster"),
            opts=child,
        )
        ssm = aws.iam.RolePolicyAttachment("gluster-ssm", role=role.name, policy_arn=SSM_POLICY, opts=child)
        profile = aws.iam.InstanceProfile("gluster-profile", role=role.name, opts=child)

        ami = aws.ec2.get_ami(
            owners=[DEBIAN_OWNER], most_recent=True,
            filters=[
                aws.ec2.GetAmiFilterArgs(name="name", values=[DEBIAN_AMI_NAME]),
                aws.ec2.GetAmiFilterArgs(name="architecture", values=["x86_64"]),
                aws.ec2.GetAmiFilterArgs(name="virtualization-type", values=["hvm"]),
            ],
            opts=pulumi.InvokeOptions(parent=self),
        )

        first, second = self.addresses
        self.instances = []
        for i, (self_ip, peer_ip) in enumerate([(first, second), (second, first)], 1):
            server = f"gluster-{i}"
            node = GlusterNode(self_ip=self_ip, peer_ip=peer_ip, is_first=(i == 1),
                               brick_size_gib=settings.gluster_brick_size_gib)
            self.instances.append(aws.ec2.Instance(
                server,
                ami=ami.id,
                instance_type=settings.gluster_type,
                subnet_id=network.node_subnet_id,
                private_ip=self_ip,
                vpc_security_group_ids=[sg.id],
                iam_instance_profile=profile.name,
                metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                    http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1),
                root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                    volume_type="gp3", volume_size=ROOT_SIZE_GIB, encrypted=True, delete_on_termination=True),
                # Inline, so destroy removes it with the instance (no attachment left to detach).
                ebs_block_devices=[aws.ec2.InstanceEbsBlockDeviceArgs(
                    device_name=BRICK_DEVICE, volume_type="gp3", volume_size=settings.gluster_brick_size_gib,
                    encrypted=True, delete_on_termination=True)],
                user_data=render_user_data(node),
                user_data_replace_on_change=True,
                tags=_tags(server),
                volume_tags=_tags(server),
                opts=child.merge(pulumi.ResourceOptions(
                    # The replacement wants the same fixed private IP: the old server must go first.
                    delete_before_replace=True,
                    # The AMI lookup follows Debian's newest release: without this, a later `pulumi up`
                    # after Debian publishes an image would replace both servers at once, deleting
                    # both bricks (the ML10M data and, by default, MySQL's datadir) under running pods.
                    ignore_changes=["ami"],
                    # apt runs at first boot through the NAT gateway, and the fixed addresses must be
                    # reserved first: the servers wait for the whole network, and destroy removes
                    # them before it.
                    depends_on=[ssm, network],
                )),
            ))

        self.register_outputs({"addresses": self.addresses, "nfsServer": self.nfs_server,
                               "exportPath": self.export_path})
