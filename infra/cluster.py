"""The EKS cluster from `pulumi_aws` primitives, its node groups and the Kubernetes provider.

Creates, under one `seldon-bench:infra:EksCluster` component: cluster IAM role, node IAM role,
the EKS cluster (API authentication mode, standard support only), add-ons vpc-cni, kube-proxy
and eks-pod-identity-agent, one launch template and managed node group per node role (`seldon`,
`loadgen`, optionally `mysql`) in the node zone's private subnet, then the add-ons that need
nodes (coredns, aws-ebs-csi-driver with its Pod Identity role), a kubeconfig (secret) and the
explicit `kubernetes.Provider` every Kubernetes object uses.

Order, for a fast `pulumi up` and a clean `pulumi destroy`: the control plane
needs only its IAM role and its subnets (and the address reservation), so it is created while
the NAT gateway is still coming up; the node groups, whose nodes in private subnets join through
the NAT route, wait for the whole `Network` component. Every Kubernetes object waits for the whole
`EksCluster` component, so destroy deletes the LoadBalancer Services (and their ELBs) before the
nodes, the nodes before the routes and gateways, and the cluster before its subnets.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.network import Network, tags
from infra.roles import LOADGEN, MYSQL, SELDON, NodeRole
from infra.settings import PROJECT, Settings

POLICY = "arn:aws:iam::aws:policy/"
CLUSTER_POLICIES = ("AmazonEKSClusterPolicy",)
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy")
EBS_CSI_POLICY = "service-role/AmazonEBSCSIDriverPolicy"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"


@dataclass(frozen=True)
class NodeGroupSpec:
    role: NodeRole
    count: int
    instance_type: str


def node_group_specs(settings: Settings) -> list[NodeGroupSpec]:
    """Which node groups the settings ask for, with their size and instance type."""
    specs = [
        NodeGroupSpec(SELDON, settings.seldon_node_count, settings.seldon_type),
        NodeGroupSpec(LOADGEN, settings.loadgen_node_count, settings.loadgen_type),
    ]
    if settings.mysql_dedicated_nodes:
        specs.append(NodeGroupSpec(MYSQL, settings.mysql_node_count, settings.mysql_type))
    return specs


def trust_policy(*services: str) -> str:
    """Role trust policy for AWS services; sts:TagSession is required by EKS and Pod Identity."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": list(services)},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }],
    })


def root_volumes(ami_type: str, size_gib: int) -> list[dict]:
    """Encrypted gp3 block devices of a node, per AMI family.

    AL2023 has one root volume (/dev/xvda). Bottlerocket boots from a small OS volume (/dev/xvda,
    kept at its snapshot size) and keeps images and pods on a data volume (/dev/xvdb).
    """
    def ebs(size: Optional[int]) -> dict:
        spec = {"volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true"}
        if size is not None:
            spec["volume_size"] = size
        return spec

    if ami_type.startswith("BOTTLEROCKET"):
        return [
            {"device_name": "/dev/xvda", "ebs": ebs(None)},
            {"device_name": "/dev/xvdb", "ebs": ebs(size_gib)},
        ]
    return [{"device_name": "/dev/xvda", "ebs": ebs(size_gib)}]


def public_access_cidrs(allowed_cidrs: list[str]) -> list[str]:
    """The IPv4 CIDRs of `allowedCidrs`: EKS refuses IPv6 CIDRs on the public endpoint of an IPv4 cluster."""
    return [c for c in allowed_cidrs if ipaddress.ip_network(c).version == 4]


def kubeconfig(name: str, endpoint: str, ca_data: str, region: str, profile: Optional[str] = None) -> str:
    """A kubeconfig that authenticates with `aws eks get-token` as whoever runs Pulumi.

    With `aws:profile` set, the token comes from that profile too: otherwise Pulumi would create
    the cluster as one identity and talk to it as another, which EKS answers with 401.
    """
    user: dict = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "aws",
        "args": ["eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"],
        "interactiveMode": "Never",
    }
    if profile:
        user["env"] = [{"name": "AWS_PROFILE", "value": profile}]
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "users": [{"name": name, "user": {"exec": user}}],
    })


def _role(name: str, services: tuple[str, ...], policies: tuple[str, ...], opts: pulumi.ResourceOptions):
    role = aws.iam.Role(name, assume_role_policy=trust_policy(*services), tags=tags(name), opts=opts)
    attachments = [
        aws.iam.RolePolicyAttachment(f"{name}-{policy.split('/')[-1]}", role=role.name, policy_arn=POLICY + policy,
                                     opts=opts)
        for policy in policies
    ]
    return role, attachments


def _addon(name: str, cluster: aws.eks.Cluster, settings: Settings, opts: pulumi.ResourceOptions,
           depends_on: Sequence[pulumi.Resource], **kwargs) -> aws.eks.Addon:
    """An EKS add-on pinned to the newest version for the cluster's Kubernetes minor."""
    version = aws.eks.get_addon_version_output(
        addon_name=name, kubernetes_version=settings.kubernetes_version, most_recent=True,
    ).version
    return aws.eks.Addon(
        name,
        cluster_name=cluster.name,
        addon_name=name,
        addon_version=version,
        # Adopt the self-managed copies EKS installs at cluster creation.
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="OVERWRITE",
        tags=tags(name),
        opts=opts.merge(pulumi.ResourceOptions(depends_on=list(depends_on))),
        **kwargs,
    )


def _node_group(spec: NodeGroupSpec, cluster: aws.eks.Cluster, node_role: aws.iam.Role, network: Network,
                settings: Settings, opts: pulumi.ResourceOptions,
                depends_on: Sequence[pulumi.Resource]) -> aws.eks.NodeGroup:
    name = spec.role.name
    template = aws.ec2.LaunchTemplate(
        name,
        description=f"{name} nodes of the seldon-bench EKS cluster",
        # IMDSv2 only, hop limit 1: no pod outside the host network gets the node role's credentials.
        # What runs on the nodes: aws-node (VPC CNI), kube-proxy and eks-pod-identity-agent are
        # hostNetwork pods and reach IMDS at one hop. The EBS CSI pods are not: ebs-csi-controller
        # gets its AWS credentials from the Pod Identity agent, and both it and ebs-csi-node fall
        # back from IMDS to the Kubernetes API (the Node's providerID and topology region/zone
        # labels, which EKS sets) for instance id, region and zone. The benchmark's own pods never
        # call AWS. Nothing here needs hop limit 2.
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1,
        ),
        block_device_mappings=root_volumes(settings.node_ami_type, settings.node_volume_size_gib),
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags(name, Role=name))
            for kind in ("instance", "volume")
        ],
        tags=tags(name),
        # No image, instance type, instance profile or security groups here: EKS supplies them,
        # and naming security groups would drop the cluster security group from the nodes.
        opts=opts,
    )
    taints = (
        [aws.eks.NodeGroupTaintArgs(key=spec.role.taint.key, value=spec.role.taint.value,
                                    effect=spec.role.taint.eks_effect)]
        if spec.role.taint else None
    )
    return aws.eks.NodeGroup(
        name,
        cluster_name=cluster.name,
        node_role_arn=node_role.arn,
        subnet_ids=[network.node_subnet_id],
        ami_type=settings.node_ami_type,
        instance_types=[spec.instance_type],
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(
            desired_size=spec.count, min_size=spec.count, max_size=spec.count,
        ),
        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
            id=template.id, version=template.latest_version.apply(str),
        ),
        labels=dict(spec.role.labels),
        taints=taints,
        tags=tags(name, Role=name),
        opts=opts.merge(pulumi.ResourceOptions(depends_on=list(depends_on))),
    )


class EksCluster(pulumi.ComponentResource):
    """The EKS cluster named `cluster_name` in `network`, its node groups and add-ons, and the
    Kubernetes provider; depending on it waits for the nodes, DNS and the EBS CSI driver."""

    cluster: aws.eks.Cluster
    node_groups: dict[str, aws.eks.NodeGroup]
    addons: dict[str, aws.eks.Addon]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    security_group_id: pulumi.Output[str]
    node_role: aws.iam.Role

    def __init__(self, name: str, settings: Settings, network: Network, cluster_name: str,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:infra:EksCluster", name, None, opts)
        # Every child was declared at the stack's top level before this component existed.
        child = pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)])
        cluster_role, cluster_attachments = _role("eks-cluster", ("eks.amazonaws.com",), CLUSTER_POLICIES, child)
        self.node_role, node_attachments = _role("eks-node", ("ec2.amazonaws.com",), NODE_POLICIES, child)

        self.cluster = cluster = aws.eks.Cluster(
            "eks",
            name=cluster_name,
            version=settings.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=[*network.private_subnet_ids, *network.public_subnet_ids],
                # Nodes reach the API through the private endpoint; the public one only from
                # allowedCidrs, which must therefore hold the address that runs `pulumi up` and kubectl.
                endpoint_private_access=True,
                endpoint_public_access=True,
                public_access_cidrs=public_access_cidrs(settings.allowed_cidrs),
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=True,
            ),
            # Extended support costs extra; EKS upgrades the minor at the end of standard support.
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            tags=tags("eks"),
            opts=child.merge(pulumi.ResourceOptions(
                # Not the whole network: the control plane needs no gateways or routes (module doc).
                depends_on=[*cluster_attachments, network.static_ips],
                # The name is fixed (subnet tags spell it), so a replacement must delete first.
                delete_before_replace=True,
            )),
        )

        vpc_cni = _addon("vpc-cni", cluster, settings, child, [])
        kube_proxy = _addon("kube-proxy", cluster, settings, child, [])
        pod_identity = _addon("eks-pod-identity-agent", cluster, settings, child, [])

        self.node_groups = {
            # Nodes in the private subnet join through the NAT route: they wait for the whole network.
            spec.role.name: _node_group(spec, cluster, self.node_role, network, settings, child,
                                        [*node_attachments, vpc_cni, kube_proxy, network])
            for spec in node_group_specs(settings)
        }
        nodes = list(self.node_groups.values())

        # Both run Deployments: without nodes they stay DEGRADED until the create times out.
        coredns = _addon("coredns", cluster, settings, child, nodes)
        ebs_role, ebs_attachments = _role("ebs-csi", ("pods.eks.amazonaws.com",), (EBS_CSI_POLICY,), child)
        ebs_csi = _addon(
            "aws-ebs-csi-driver", cluster, settings, child, [*nodes, pod_identity, *ebs_attachments],
            pod_identity_associations=[aws.eks.AddonPodIdentityAssociationArgs(
                role_arn=ebs_role.arn, service_account=EBS_CSI_SERVICE_ACCOUNT,
            )],
        )
        self.addons = {"vpc-cni": vpc_cni, "kube-proxy": kube_proxy, "eks-pod-identity-agent": pod_identity,
                       "coredns": coredns, "aws-ebs-csi-driver": ebs_csi}

        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            cluster.name, cluster.endpoint, cluster.certificate_authority.data,
        ).apply(lambda a: kubeconfig(a[0], a[1], a[2], settings.region, settings.aws_profile)))
        self.provider = k8s.Provider(
            "k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            # No delete_unreachable: a destroy that cannot reach the cluster (e.g. `aws eks get-token`
            # failing) must stop, not drop the Services from state and leak their ELBs. For a cluster
            # that is really gone, `PULUMI_K8S_DELETE_UNREACHABLE=true pulumi destroy` (README).
            opts=child,
        )
        self.security_group_id = cluster.vpc_config.cluster_security_group_id
        self.register_outputs({"clusterName": cluster.name, "nodeGroups": {
            role: group.node_group_name for role, group in self.node_groups.items()}})
