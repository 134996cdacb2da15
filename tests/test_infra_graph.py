"""The AWS graph the program declares: components, network, EKS, node groups, security, destroy order.

Each test runs (or reuses) the real program under Pulumi mocks and checks one rule on the
recorded resource inputs, parents and dependencies.
"""

from __future__ import annotations

import ipaddress
import json

import pulumi
import pytest

from infra.cluster import kubeconfig, root_volumes, trust_policy
from infra.network import cluster_name, eks_unsupported_zones, pick_zones, plan_subnets, static_block
from infra.roles import LOADGEN, MYSQL, SELDON

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ADDON = "aws:eks/addon:Addon"
INSTANCE = "aws:ec2/instance:Instance"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
K8S_PROVIDER = "pulumi:providers:kubernetes"
SEED_ZONE = "eu-west-1c"


def resource_id(r) -> str:
    """The id the mocks gave `r`, as other resources refer to it."""
    return r.id


def node_groups(prog) -> dict:
    return {g.name: g for g in prog.of_type(NODE_GROUP)}


def subnet_by_id(prog, subnet_id):
    found = [s for s in prog.of_type(SUBNET) if resource_id(s) == subnet_id]
    assert len(found) == 1, f"subnet id {subnet_id} names {len(found)} declared subnets"
    return found[0]


def attached_policies(prog, role) -> set[str]:
    return {a.inputs["policyArn"] for a in prog.of_type(ATTACHMENT) if a.inputs.get("role") == role.outputs.get("name")}


# ---------------------------------------------------------------- components

NETWORK = "seldon-bench:infra:Network"
EKS = "seldon-bench:infra:EksCluster"
GLUSTER = "seldon-bench:infra:GlusterCluster"
IMAGE_CACHE = "seldon-bench:infra:ImageCache"
# What each component of the AWS layer holds, by resource type.
COMPONENT_OF = {
    VPC: NETWORK, SUBNET: NETWORK, "aws:ec2/internetGateway:InternetGateway": NETWORK,
    "aws:ec2/eip:Eip": NETWORK, "aws:ec2/natGateway:NatGateway": NETWORK,
    "aws:ec2/routeTable:RouteTable": NETWORK, "aws:ec2/route:Route": NETWORK,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": NETWORK,
    "aws:ec2/subnetCidrReservation:SubnetCidrReservation": NETWORK,
    CLUSTER: EKS, NODE_GROUP: EKS, LAUNCH_TEMPLATE: EKS, ADDON: EKS, K8S_PROVIDER: EKS,
    INSTANCE: GLUSTER, "aws:ec2/securityGroup:SecurityGroup": GLUSTER,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": GLUSTER,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": GLUSTER,
}


def _component_of(r) -> str:
    """The component a resource of the AWS layer belongs to (IAM: the part that uses it)."""
    if r.typ in (ROLE, ATTACHMENT, "aws:iam/instanceProfile:InstanceProfile"):
        return GLUSTER if r.name.startswith("gluster-") else EKS
    if r.typ.startswith(("aws:ecr/", "aws:secretsmanager/", "aws:iam/rolePolicy:")):
        return IMAGE_CACHE
    return COMPONENT_OF[r.typ]


@pytest.mark.parametrize("overrides", [{}, {"mysqlDedicatedNodes": "true"}], ids=["bench", "mysql-nodes"])
def test_every_aws_resource_sits_under_its_component(program, overrides):
    """`pulumi up` shows a tree: Network, EksCluster, GlusterCluster (and ImageCache) directly under
    the stack, each with its own resources, and nothing of the AWS layer loose beside them."""
    prog = program(overrides)
    stack = prog.one("pulumi:pulumi:Stack")
    components = {r.typ: r for r in prog.resources if r.typ.startswith("seldon-bench:infra:")}
    assert set(components) == {NETWORK, EKS, GLUSTER, IMAGE_CACHE}, sorted(components)
    for component in components.values():
        assert component.parent == stack.urn, f"component {component.typ} {component.name} is not under the stack"
    infra = [r for r in prog.resources if r.custom and (r.typ.startswith("aws:") or r.typ == K8S_PROVIDER)]
    assert len(infra) > 40, f"only {len(infra)} AWS resources declared"
    for r in infra:
        want = components[_component_of(r)]
        assert r.parent == want.urn, (
            f"{r.typ} {r.name} sits under {prog.by_urn(r.parent).typ}, not the {want.typ} component")


def test_resources_moved_into_a_component_keep_their_top_level_identity(bench):
    """Each resource that used to sit under the stack answers to its old URN through an alias
    naming no parent, so a live stack keeps it (tests/test_identity.py checks the URNs)."""
    moved = [r for r in bench.resources if r.custom and bench.by_urn(r.parent).typ in (NETWORK, EKS)]
    assert moved, "no resources under the Network and EksCluster components"
    for r in moved:
        assert {"noParent": True} in r.aliases, f"{r.typ} {r.name} has no alias to its top-level URN: {r.aliases}"


def test_depends_on_a_component_is_recorded_as_its_resources(bench):
    """The SDK sends `depends_on=[component]` as the component's custom descendants
    (pulumi/runtime/rpc.py `_add_dependency`): the recorded graph that every order test here reads
    names resources, never a component."""
    components = {r.urn: r for r in bench.resources if not r.custom}
    for r in bench.resources:
        named = [components[d].typ for d in r.dependencies if d in components]
        assert not named, f"{r.typ} {r.name} records a dependency on component(s) {named}"
    network_children = [r for r in bench.resources if r.custom and bench.by_urn(r.parent).typ == NETWORK]
    for group in bench.of_type(NODE_GROUP):
        missing = [r.name for r in network_children if r.urn not in group.dependencies]
        assert not missing, f"node group {group.name} depends on the Network component but not on {missing}"


def test_workloads_wait_for_every_resource_of_the_cluster_the_servers_and_the_cache(bench):
    """Kubernetes objects are created after, and deleted before, the whole EksCluster, GlusterCluster
    and ImageCache components (nodes, add-ons, NFS servers and rule, cache repositories)."""
    parents = {r.urn: r.typ for r in bench.resources if r.typ in (EKS, GLUSTER, IMAGE_CACHE)}
    needed = [r for r in bench.resources if r.custom and r.parent in parents]
    assert {parents[r.parent] for r in needed} == {EKS, GLUSTER, IMAGE_CACHE}
    for obj in bench.k8s_objects():
        missing = [f"{r.typ} {r.name}" for r in needed if not bench.depends_on(obj, r)]
        assert not missing, f"{obj.typ} {obj.name} is not deleted before {missing}"


# ---------------------------------------------------------------- network


def test_one_vpc_with_dns(bench):
    vpcs = bench.of_type(VPC)
    assert len(vpcs) == 1, f"expected one VPC, found {[v.name for v in vpcs]}"
    vpc = vpcs[0]
    assert vpc.inputs["cidrBlock"] == "10.0.0.0/16", f"VPC {vpc.name} does not use vpcCidr"
    assert vpc.inputs.get("enableDnsSupport") and vpc.inputs.get("enableDnsHostnames"), (
        f"VPC {vpc.name} needs DNS support and hostnames for EKS nodes"
    )


def test_public_and_private_subnets_in_two_zones_with_elb_tags(bench):
    name = bench.outputs["clusterName"]
    subnets = bench.of_type(SUBNET)
    public = [s for s in subnets if s.inputs.get("mapPublicIpOnLaunch")]
    private = [s for s in subnets if not s.inputs.get("mapPublicIpOnLaunch")]
    assert len({s.inputs["availabilityZone"] for s in public}) >= 2, "public subnets must span two zones"
    assert len({s.inputs["availabilityZone"] for s in private}) >= 2, "private subnets must span two zones"
    for s in public:
        assert s.inputs["tags"].get("kubernetes.io/role/elb") == "1", f"public subnet {s.name} lacks kubernetes.io/role/elb=1"
    for s in private:
        assert s.inputs["tags"].get("kubernetes.io/role/internal-elb") == "1", (
            f"private subnet {s.name} lacks kubernetes.io/role/internal-elb=1"
        )
    for s in subnets:
        assert s.inputs["tags"].get(f"kubernetes.io/cluster/{name}") == "shared", (
            f"subnet {s.name} lacks kubernetes.io/cluster/{name}=shared"
        )
        assert ipaddress.ip_network(s.inputs["cidrBlock"]).subnet_of(ipaddress.ip_network("10.0.0.0/16")), (
            f"subnet {s.name} {s.inputs['cidrBlock']} lies outside the VPC"
        )


def test_private_subnets_route_through_nat_and_public_through_igw(bench):
    routes = {r.name: r for r in bench.of_type("aws:ec2/route:Route")}
    igw = bench.one("aws:ec2/internetGateway:InternetGateway", "igw")
    nat = bench.one("aws:ec2/natGateway:NatGateway", "nat")
    assert routes["public-default"].inputs.get("gatewayId") == igw.id, "public default route must use the internet gateway"
    assert routes["private-default"].inputs.get("natGatewayId") == nat.id, "private default route must use the NAT gateway"
    assert len(bench.of_type("aws:ec2/natGateway:NatGateway")) == 1, "one NAT gateway is enough for the benchmark"
    associations = bench.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    assert {a.inputs["subnetId"] for a in associations} == {resource_id(s) for s in bench.of_type(SUBNET)}, (
        "every subnet needs a route table association"
    )
    for a in associations:
        want = bench.one("aws:ec2/routeTable:RouteTable", "public" if a.name.startswith("public-") else "private").id
        assert a.inputs["routeTableId"] == want, f"route table association {a.name} uses {a.inputs['routeTableId']}, not {want}"


def test_nodes_live_in_the_private_subnet_of_the_node_zone(bench):
    for group in bench.of_type(NODE_GROUP):
        subnets = [subnet_by_id(bench, i) for i in group.inputs["subnetIds"]]
        for s in subnets:
            assert s.inputs["availabilityZone"] == SEED_ZONE, f"node group {group.name} has a subnet in {s.inputs['availabilityZone']}, not nodeZone {SEED_ZONE}"
            assert not s.inputs.get("mapPublicIpOnLaunch"), f"node group {group.name} uses public subnet {s.name}"
    assert bench.outputs["nodeZone"] == SEED_ZONE


def test_node_zone_setting_moves_the_nodes_and_picks_a_stable_second_zone(program):
    prog = program({"nodeZone": "eu-west-1a"})
    for group in prog.of_type(NODE_GROUP):
        zones = {subnet_by_id(prog, i).inputs["availabilityZone"] for i in group.inputs["subnetIds"]}
        assert zones == {"eu-west-1a"}, f"node group {group.name} is in {zones}, not nodeZone eu-west-1a"
    zones = {s.inputs["availabilityZone"] for s in prog.of_type(SUBNET)}
    assert zones == {"eu-west-1a", "eu-west-1b"}, f"second zone should be the first other zone by name, got {zones}"


def test_zone_choice_is_deterministic_and_rejects_unknown_zones():
    assert pick_zones("eu-west-1c", ["eu-west-1c", "eu-west-1b", "eu-west-1a"]) == ("eu-west-1c", "eu-west-1a")
    assert pick_zones("eu-west-1a", ["eu-west-1c", "eu-west-1a"]) == ("eu-west-1a", "eu-west-1c")
    with pytest.raises(pulumi.RunError, match="eu-west-1d is not an available zone"):
        pick_zones("eu-west-1d", ["eu-west-1a", "eu-west-1b"])
    with pytest.raises(pulumi.RunError, match="two availability zones"):
        pick_zones("eu-west-1a", ["eu-west-1a"])


def test_zones_eks_refuses_are_never_picked():
    """EKS rejects cluster subnets in zone ids use1-az3, usw1-az2, cac1-az3 (names differ per account)."""
    names = ["us-east-1a", "us-east-1b", "us-east-1c"]
    refused = eks_unsupported_zones(names, ["use1-az3", "use1-az1", "use1-az2"])
    assert refused == {"us-east-1a": "use1-az3"}, f"use1-az3 must be recognised by its zone id: {refused}"
    assert pick_zones("us-east-1c", names, refused) == ("us-east-1c", "us-east-1b"), (
        "the control plane's second zone must skip a zone EKS refuses")
    with pytest.raises(pulumi.RunError, match=r"us-east-1a is zone id use1-az3.*us-east-1b, us-east-1c"):
        pick_zones("us-east-1a", names, refused)
    with pytest.raises(pulumi.RunError, match="two availability zones"):
        pick_zones("us-east-1c", ["us-east-1a", "us-east-1c"], refused)


def test_subnet_plan_fits_the_vpc_without_overlap():
    plan = plan_subnets("10.20.0.0/16", ["eu-west-1c", "eu-west-1a"])
    nets = [ipaddress.ip_network(p.cidr) for p in plan]
    assert all(n.subnet_of(ipaddress.ip_network("10.20.0.0/16")) for n in nets), "subnet outside the VPC"
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:]), f"overlapping subnets {plan}"
    node = next(p for p in plan if p.name == "private-1")
    assert node.zone == "eu-west-1c" and ipaddress.ip_network(node.cidr).num_addresses >= 4096, (
        "the node subnet must be in the node zone and large enough for a VPC address per pod"
    )


def test_gluster_fixed_addresses_are_reserved_from_pods(bench):
    """The VPC CNI hands out node-subnet addresses at random; the servers' fixed IPs must be kept."""
    reservation = bench.one("aws:ec2/subnetCidrReservation:SubnetCidrReservation", "static-ips")
    assert reservation.inputs["reservationType"] == "explicit"
    assert reservation.inputs["subnetId"] == bench.one(SUBNET, "private-1").id, "the reservation must be in the node subnet"
    block = ipaddress.ip_network(reservation.inputs["cidrBlock"])
    instances = bench.of_type(INSTANCE)
    assert instances, "no GlusterFS instances declared"
    for i in instances:
        ip = i.inputs.get("privateIp")
        assert ip and ipaddress.ip_address(ip) in block, f"instance {i.name} address {ip} is outside the reserved {block}"
    assert reservation.urn in bench.one(CLUSTER).dependencies, "the cluster (and its nodes) must wait for the reservation"


def test_static_block_avoids_aws_reserved_addresses():
    block = ipaddress.ip_network(static_block("10.0.0.0/19"))
    assert block == ipaddress.ip_network("10.0.0.8/29")
    assert ipaddress.ip_address("10.0.0.3") not in block, "AWS keeps the first four addresses of a subnet"


# ---------------------------------------------------------------- cluster


def test_one_eks_cluster_with_version_api_auth_and_standard_support(bench):
    clusters = bench.of_type(CLUSTER)
    assert len(clusters) == 1, f"expected one EKS cluster, found {[c.name for c in clusters]}"
    c = clusters[0]
    assert c.inputs["version"] == "1.35", f"cluster {c.name} version {c.inputs['version']} is not kubernetesVersion"
    access = c.inputs["accessConfig"]
    assert access["authenticationMode"] == "API", f"cluster {c.name} must use API authentication mode"
    assert access["bootstrapClusterCreatorAdminPermissions"] is True, f"cluster {c.name} must make its creator admin"
    assert c.inputs["upgradePolicy"]["supportType"] == "STANDARD", f"cluster {c.name} would incur extended-support charges"
    subnet_zones = {subnet_by_id(bench, i).inputs["availabilityZone"] for i in c.inputs["vpcConfig"]["subnetIds"]}
    assert len(subnet_zones) >= 2, f"cluster {c.name} control plane needs subnets in two zones, got {subnet_zones}"


def test_kubernetes_version_setting_reaches_cluster_and_addons(program):
    prog = program({"kubernetesVersion": "1.36"})
    assert prog.one(CLUSTER).inputs["version"] == "1.36"
    asked = {args["kubernetesVersion"] for token, args in prog.invokes if token == "aws:eks/getAddonVersion:getAddonVersion"}
    assert asked == {"1.36"}, f"add-on versions must be resolved for 1.36, asked for {asked}"


def test_iam_roles_trust_and_policies(bench):
    roles = {r.name: r for r in bench.of_type(ROLE)}
    expected = {
        "eks-cluster": ("eks.amazonaws.com", {"AmazonEKSClusterPolicy"}),
        "eks-node": ("ec2.amazonaws.com", {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy"}),
        "ebs-csi": ("pods.eks.amazonaws.com", {"service-role/AmazonEBSCSIDriverPolicy"}),
    }
    for name, (service, policies) in expected.items():
        role = roles[name]
        statement = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
        assert statement["Principal"]["Service"] == [service], f"role {name} must be assumable by {service} only"
        assert set(statement["Action"]) == {"sts:AssumeRole", "sts:TagSession"}, f"role {name} trust actions {statement['Action']}"
        got = attached_policies(bench, role)
        assert got == {f"arn:aws:iam::aws:policy/{p}" for p in policies}, f"role {name} has policies {got}"


def _gateways(prog) -> list:
    return [
        *prog.of_type("aws:ec2/internetGateway:InternetGateway"),
        *prog.of_type("aws:ec2/natGateway:NatGateway"),
        *prog.of_type("aws:ec2/eip:Eip"),
        *prog.of_type("aws:ec2/route:Route"),
        *prog.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation"),
    ]


def test_cluster_waits_for_its_policy_and_subnets_but_not_the_nat_route(bench):
    """The control plane needs no egress: it is created while the NAT gateway comes up."""
    c = bench.one(CLUSTER)
    policy = bench.one(ATTACHMENT, "eks-cluster-AmazonEKSClusterPolicy")
    assert policy.urn in c.dependencies, f"cluster {c.name} must wait for its IAM policy"
    for subnet in bench.of_type(SUBNET):
        assert bench.depends_on(c, subnet), f"cluster {c.name} must wait for subnet {subnet.name} (and be deleted before it)"
    slow = [*bench.of_type("aws:ec2/natGateway:NatGateway"), *bench.of_type("aws:ec2/eip:Eip"),
            bench.one("aws:ec2/route:Route", "private-default")]
    assert len(slow) == 3
    for r in slow:
        assert not bench.depends_on(c, r), f"cluster {c.name} waits for {r.typ} {r.name}, which it does not need"


def test_node_groups_wait_for_the_nat_route_and_every_gateway(bench):
    """Nodes in the private subnet join the cluster through the NAT route."""
    gateways = _gateways(bench)
    assert len(gateways) >= 1 + 1 + 1 + 2 + 4
    for group in bench.of_type(NODE_GROUP):
        for r in gateways:
            assert bench.depends_on(group, r), f"node group {group.name} must wait for {r.typ} {r.name}"


def test_load_balancers_are_deleted_before_the_network(bench):
    """Destroy runs in reverse dependency order: every LoadBalancer Service (its ELB goes with it)
    must depend on the gateways, routes and subnets, or the VPC cannot be deleted."""
    services = [s for s in bench.k8s("Service") if (s.inputs.get("spec") or {}).get("type") == "LoadBalancer"]
    assert {s.metadata["name"] for s in services} >= {"seldon-server", "monitoring-grafana"}, [s.name for s in services]
    assert any(s.metadata["name"].startswith("iago") for s in services), [s.name for s in services]
    for svc in services:
        for r in [*_gateways(bench), *bench.of_type(SUBNET), bench.one(CLUSTER)]:
            assert bench.depends_on(svc, r), f"Service {svc.metadata['name']} is not deleted before {r.typ} {r.name}"


def test_node_groups_depend_on_node_policies_and_vpc_cni(bench):
    node_role = bench.one(ROLE, "eks-node")
    policies = [a for a in bench.of_type(ATTACHMENT) if a.inputs.get("role") == node_role.outputs.get("name")]
    vpc_cni = bench.one(ADDON, "vpc-cni")
    assert len(policies) == 3
    for group in bench.of_type(NODE_GROUP):
        for dep in [*policies, vpc_cni]:
            assert dep.urn in group.dependencies, f"node group {group.name} must depend on {dep.name}"


def test_addons_are_pinned_and_ordered(bench):
    addons = {a.name: a for a in bench.of_type(ADDON)}
    assert set(addons) >= {"vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent", "aws-ebs-csi-driver"}, sorted(addons)
    for a in addons.values():
        assert a.inputs.get("addonVersion"), f"add-on {a.name} has no pinned addonVersion"
        assert a.inputs["addonName"] == a.name
    for name in ("vpc-cni", "kube-proxy"):
        assert addons[name].inputs.get("resolveConflictsOnCreate") == "OVERWRITE", (
            f"add-on {name} must adopt the self-managed copy EKS installed (OVERWRITE)"
        )
    groups = bench.of_type(NODE_GROUP)
    for name in ("coredns", "aws-ebs-csi-driver"):
        for group in groups:
            assert group.urn in addons[name].dependencies, (
                f"add-on {name} runs a Deployment and must wait for node group {group.name}"
            )


def test_ebs_csi_driver_uses_pod_identity(bench):
    addon = bench.one(ADDON, "aws-ebs-csi-driver")
    assoc = addon.inputs["podIdentityAssociations"]
    role = bench.one(ROLE, "ebs-csi")
    assert assoc == [{"roleArn": role.outputs["arn"], "serviceAccount": "ebs-csi-controller-sa"}], (
        f"add-on aws-ebs-csi-driver pod identity association is {assoc}"
    )
    assert bench.one(ADDON, "eks-pod-identity-agent").urn in addon.dependencies, (
        "add-on aws-ebs-csi-driver needs the eks-pod-identity-agent add-on first"
    )


# ---------------------------------------------------------------- node groups


def test_seed_node_groups_seldon_3_and_loadgen_1_m3_large(bench):
    groups = node_groups(bench)
    assert set(groups) == {"seldon", "loadgen"}, f"node groups {sorted(groups)}"
    for name, count in (("seldon", 3), ("loadgen", 1)):
        g = groups[name]
        scaling = g.inputs["scalingConfig"]
        assert scaling["desiredSize"] == scaling["minSize"] == scaling["maxSize"] == count, (
            f"node group {name} must have exactly {count} nodes, got {scaling}"
        )
        assert g.inputs["instanceTypes"] == ["m3.large"], f"node group {name} uses {g.inputs['instanceTypes']}"
        assert g.inputs["amiType"] == "AL2023_x86_64_STANDARD", f"node group {name} AMI type {g.inputs['amiType']}"
    assert bench.outputs["seldonNodeGroup"] == "seldon" and bench.outputs["loadgenNodeGroup"] == "loadgen"


def test_loadgen_is_labelled_iago_and_tainted(bench):
    g = node_groups(bench)["loadgen"]
    assert g.inputs["labels"] == LOADGEN.labels == {"role": "iago"}, f"node group loadgen labels {g.inputs['labels']}"
    assert g.inputs["taints"] == [{"key": "role", "value": "iago", "effect": "NO_SCHEDULE"}], (
        f"node group loadgen must be tainted role=iago:NO_SCHEDULE so only iago runs there, got {g.inputs.get('taints')}"
    )


def test_seldon_nodes_are_labelled_and_not_tainted(bench):
    g = node_groups(bench)["seldon"]
    assert g.inputs["labels"] == SELDON.labels, f"node group seldon labels {g.inputs['labels']}"
    assert not g.inputs.get("taints"), f"node group seldon must not be tainted, got {g.inputs['taints']}"


def test_launch_templates_require_imdsv2_and_encrypt_gp3_root_volumes(bench):
    templates = {t.name: t for t in bench.of_type(LAUNCH_TEMPLATE)}
    for group in bench.of_type(NODE_GROUP):
        lt = group.inputs.get("launchTemplate") or {}
        matching = [t for t in templates.values() if resource_id(t) == lt.get("id")]
        assert matching, f"node group {group.name} has no launch template"
        assert "instanceType" not in matching[0].inputs, (
            f"launch template {matching[0].name} names an instance type; node group {group.name} already does"
        )
    assert templates, "no launch templates declared"
    for t in templates.values():
        meta = t.inputs["metadataOptions"]
        assert meta["httpTokens"] == "required", f"launch template {t.name} allows IMDSv1"
        assert meta["httpPutResponseHopLimit"] == 1, (
            f"launch template {t.name}: hop limit 1 keeps the node role's credentials from non-host-network pods")
        devices = t.inputs["blockDeviceMappings"]
        assert devices, f"launch template {t.name} declares no root volume"
        for d in devices:
            assert d["ebs"]["encrypted"] == "true", f"launch template {t.name} device {d['deviceName']} is not encrypted"
            assert d["ebs"]["volumeType"] == "gp3", f"launch template {t.name} device {d['deviceName']} is not gp3"
        assert devices[0]["ebs"]["volumeSize"] == 30, f"launch template {t.name} root is not nodeVolumeSizeGib"


def test_bottlerocket_encrypts_os_and_data_volumes():
    devices = root_volumes("BOTTLEROCKET_x86_64", 50)
    assert [d["device_name"] for d in devices] == ["/dev/xvda", "/dev/xvdb"]
    assert all(d["ebs"]["encrypted"] == "true" for d in devices)
    assert devices[1]["ebs"]["volume_size"] == 50 and "volume_size" not in devices[0]["ebs"]
    assert [d["device_name"] for d in root_volumes("AL2023_x86_64_STANDARD", 50)] == ["/dev/xvda"]


def test_no_security_group_ingress_from_the_internet(bench):
    anywhere = {"0.0.0.0/0", "::/0"}
    checked = 0
    for sg in bench.of_type("aws:ec2/securityGroup:SecurityGroup"):
        for rule in sg.inputs.get("ingress") or []:
            checked += 1
            bad = anywhere & set((rule.get("cidrBlocks") or []) + (rule.get("ipv6CidrBlocks") or []))
            assert not bad, f"security group {sg.name} opens port {rule.get('fromPort')} to {bad}"
    for rule in bench.of_type("aws:ec2/securityGroupRule:SecurityGroupRule"):
        if rule.inputs.get("type") == "ingress":
            checked += 1
            bad = anywhere & set((rule.inputs.get("cidrBlocks") or []) + (rule.inputs.get("ipv6CidrBlocks") or []))
            assert not bad, f"security group rule {rule.name} opens port {rule.inputs.get('fromPort')} to {bad}"
    for rule in bench.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        checked += 1
        bad = anywhere & {rule.inputs.get("cidrIpv4"), rule.inputs.get("cidrIpv6")}
        assert not bad, f"ingress rule {rule.name} opens port {rule.inputs.get('fromPort')} to {bad}"
    assert checked, "no ingress rules found at all; the GlusterFS security group should declare some"


def test_instance_type_changes_every_node_and_server(program):
    prog = program({"instanceType": "m5.xlarge"})
    for g in prog.of_type(NODE_GROUP):
        assert g.inputs["instanceTypes"] == ["m5.xlarge"], f"node group {g.name} ignores instanceType: {g.inputs['instanceTypes']}"
    instances = prog.of_type(INSTANCE)
    assert instances, "no GlusterFS instances declared"
    for i in instances:
        assert i.inputs["instanceType"] == "m5.xlarge", f"instance {i.name} ignores instanceType: {i.inputs['instanceType']}"
    assert prog.outputs["seldonInstanceType"] == prog.outputs["loadgenInstanceType"] == "m5.xlarge"


@pytest.mark.parametrize("key,group,other", [
    ("seldonInstanceType", "seldon", "loadgen"),
    ("loadgenInstanceType", "loadgen", "seldon"),
])
def test_per_role_instance_type_changes_only_its_group(program, key, group, other):
    prog = program({key: "c5.xlarge"})
    groups = node_groups(prog)
    assert groups[group].inputs["instanceTypes"] == ["c5.xlarge"], f"node group {group} ignores {key}"
    assert groups[other].inputs["instanceTypes"] == ["m3.large"], f"{key} leaked into node group {other}"
    for i in prog.of_type(INSTANCE):
        assert i.inputs["instanceType"] == "m3.large", f"{key} leaked into instance {i.name}"
    assert prog.outputs[f"{group}InstanceType"] == "c5.xlarge"
    assert prog.outputs[f"{other}InstanceType"] == "m3.large"


def test_mysql_dedicated_nodes_add_a_third_tainted_group(program):
    prog = program({"mysqlDedicatedNodes": "true", "mysqlNodeCount": "2", "mysqlInstanceType": "r5.large"})
    groups = node_groups(prog)
    assert set(groups) == {"seldon", "loadgen", "mysql"}, f"node groups {sorted(groups)}"
    g = groups["mysql"]
    assert g.inputs["scalingConfig"]["desiredSize"] == 2, f"node group mysql size {g.inputs['scalingConfig']}"
    assert g.inputs["instanceTypes"] == ["r5.large"], f"node group mysql uses {g.inputs['instanceTypes']}"
    assert g.inputs["labels"] == MYSQL.labels
    assert g.inputs["taints"] == [{"key": MYSQL.taint.key, "value": MYSQL.taint.value, "effect": "NO_SCHEDULE"}]
    assert prog.outputs["mysqlNodeGroup"] == "mysql"
    assert g.urn in prog.one(ADDON, "coredns").dependencies, "coredns must wait for node group mysql too"


# ---------------------------------------------------------------- Kubernetes access


def test_kubeconfig_is_secret_and_uses_aws_eks_get_token(bench):
    assert "kubeconfig" in bench.secret_outputs, "stack output kubeconfig must be secret"
    config = json.loads(bench.outputs["kubeconfig"])
    assert config["clusters"][0]["cluster"]["server"].startswith("https://")
    assert config["clusters"][0]["cluster"]["certificate-authority-data"]
    user = config["users"][0]["user"]["exec"]
    assert user["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert user["command"] == "aws"
    assert user["args"][:4] == ["eks", "get-token", "--cluster-name", bench.outputs["clusterName"]]
    assert user["args"][user["args"].index("--region") + 1] == "eu-west-1"


def test_kubeconfig_renders_the_exec_user():
    config = json.loads(kubeconfig("c", "https://e", "Q0E=", "us-east-1"))
    assert config["current-context"] == "c"
    assert config["users"][0]["user"]["exec"]["args"] == [
        "eks", "get-token", "--cluster-name", "c", "--region", "us-east-1", "--output", "json"]


def test_kubeconfig_uses_the_stack_aws_profile(bench, program):
    assert "env" not in json.loads(bench.outputs["kubeconfig"])["users"][0]["user"]["exec"]
    config = json.loads(program({"aws:profile": "bench-admin"}).outputs["kubeconfig"])
    assert config["users"][0]["user"]["exec"]["env"] == [{"name": "AWS_PROFILE", "value": "bench-admin"}], (
        "with aws:profile set, `aws eks get-token` must use that profile, not the default credentials")


def test_every_kubernetes_object_uses_the_eks_provider(bench):
    provider = bench.one(K8S_PROVIDER, "k8s")
    assert provider.inputs.get("enableServerSideApply") == "true"
    objects = bench.k8s_objects()
    assert objects, "no Kubernetes objects declared"
    for obj in objects:
        assert obj.provider.startswith(provider.urn + "::"), (
            f"{obj.typ} {obj.name} does not use the EKS kubernetes provider (provider={obj.provider!r})"
        )


def test_kubernetes_provider_never_drops_unreachable_objects(bench):
    """A destroy that cannot reach the cluster must stop, not forget Services whose ELBs still exist."""
    provider = bench.one(K8S_PROVIDER, "k8s")
    assert "deleteUnreachable" not in provider.inputs, (
        f"provider k8s sets deleteUnreachable={provider.inputs['deleteUnreachable']}; "
        "only PULUMI_K8S_DELETE_UNREACHABLE=true for a cluster that is really gone")


def test_public_api_endpoint_accepts_only_allowed_cidrs(program):
    prog = program(allowed_cidrs=["203.0.113.7/32", "2001:db8::/64", "198.51.100.0/24"])
    vpc = prog.one(CLUSTER).inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["endpointPrivateAccess"] is True, vpc
    assert vpc["publicAccessCidrs"] == ["203.0.113.7/32", "198.51.100.0/24"], (
        f"the public endpoint must accept the IPv4 allowedCidrs only (EKS refuses IPv6 there), got {vpc['publicAccessCidrs']}")
    assert "0.0.0.0/0" not in program().one(CLUSTER).inputs["vpcConfig"]["publicAccessCidrs"]


def test_cluster_name_is_a_valid_eks_name():
    assert cluster_name("bench") == "seldon-bench-bench"
    assert cluster_name("team.perf") == "seldon-bench-team-perf"


def test_aws_resources_carry_project_tags(bench):
    tagged = [VPC, SUBNET, CLUSTER, NODE_GROUP, LAUNCH_TEMPLATE, ADDON, ROLE,
              "aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway",
              "aws:ec2/eip:Eip", "aws:ec2/routeTable:RouteTable"]
    for typ in tagged:
        for r in bench.of_type(typ):
            t = r.inputs.get("tags") or {}
            assert t.get("Project") == "seldon-bench" and t.get("Stack") == "bench", f"{typ} {r.name} is not tagged Project/Stack"


def test_trust_policy_allows_tag_session():
    doc = json.loads(trust_policy("eks.amazonaws.com"))
    assert doc["Statement"][0]["Action"] == ["sts:AssumeRole", "sts:TagSession"]
