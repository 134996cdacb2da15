"""The benchmark VPC: two zones, public + private subnets, one internet gateway, one NAT.

Creates, under one `seldon-bench:infra:Network` component: the VPC (DNS support + hostnames),
an internet gateway, one public and one private subnet in each of two zones (`Settings.zone`,
where every node and GlusterFS server lives, plus a second zone because the EKS control plane
needs subnets in two), an EIP + NAT gateway in the node zone's public subnet (node egress stays
in-zone), a public and a private route table with their default routes and associations, and an
explicit reservation of a few node-subnet addresses for the GlusterFS servers' fixed IPs.

Subnet tags tell the in-tree Kubernetes service controller where LoadBalancers may go
(`kubernetes.io/role/elb` public, `kubernetes.io/role/internal-elb` private).

The subnet plan and the zone choice are pure functions, tested without Pulumi.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from infra.settings import PROJECT, Settings


def tags(name: str, **extra: str) -> dict[str, str]:
    """Tags every AWS resource of the benchmark carries, so a stack's resources can be found."""
    return {
        "Name": f"{PROJECT}-{pulumi.get_stack()}-{name}",
        "Project": PROJECT,
        "Stack": pulumi.get_stack(),
        **extra,
    }


def cluster_name(stack: str) -> str:
    """The EKS cluster name: fixed per stack because subnet tags must name it as plain text."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{PROJECT}-{stack}")[:100]


# Zone ids (the same in every account, unlike zone names) where EKS refuses cluster subnets:
# CreateCluster fails with UnsupportedAvailabilityZoneException after the VPC is built.
EKS_UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "cac1-az3"})


def eks_unsupported_zones(names: Sequence[str], zone_ids: Sequence[str]) -> dict[str, str]:
    """Zone name -> zone id of this account's zones that EKS cannot put a cluster in."""
    return {n: i for n, i in zip(names, zone_ids) if i in EKS_UNSUPPORTED_ZONE_IDS}


def pick_zones(node_zone: str, available: Sequence[str],
               unsupported: Optional[Mapping[str, str]] = None) -> tuple[str, str]:
    """The node zone, then a second zone for the control plane: the first other zone by name.

    Sorting makes the choice stable across runs whatever order AWS lists the zones in. Zones in
    `unsupported` (name -> zone id, see `eks_unsupported_zones`) are never picked: both zones
    hold cluster subnets.
    """
    unsupported = unsupported or {}
    if node_zone not in available:
        raise pulumi.RunError(
            f"{PROJECT}:nodeZone {node_zone} is not an available zone of this region; "
            f"available: {', '.join(sorted(available)) or 'none'}"
        )
    if node_zone in unsupported:
        usable = sorted(z for z in available if z not in unsupported)
        raise pulumi.RunError(
            f"{PROJECT}:nodeZone {node_zone} is zone id {unsupported[node_zone]} in this account, where EKS "
            f"does not create clusters; choose another zone: {', '.join(usable) or 'none'}"
        )
    others = sorted(z for z in available if z != node_zone and z not in unsupported)
    if not others:
        raise pulumi.RunError(
            f"EKS needs subnets in two availability zones, but only {node_zone} is available"
        )
    return node_zone, others[0]


@dataclass(frozen=True)
class SubnetPlan:
    name: str  # resource name, stable whatever the zone
    zone: str
    cidr: str
    public: bool


def plan_subnets(vpc_cidr: str, zones: Sequence[str]) -> list[SubnetPlan]:
    """Private /19s (the VPC CNI gives every pod a VPC address) and public /24s, one each per zone.

    Index 1 is the node zone: `private-1` holds every node and GlusterFS server.
    """
    vpc = ipaddress.ip_network(vpc_cidr)
    nineteens = list(vpc.subnets(new_prefix=19))
    public_block = list(nineteens[len(zones)].subnets(new_prefix=24))
    plan = []
    for i, zone in enumerate(zones, start=1):
        plan.append(SubnetPlan(f"public-{i}", zone, str(public_block[i - 1]), True))
        plan.append(SubnetPlan(f"private-{i}", zone, str(nineteens[i - 1]), False))
    return plan


def static_block(subnet_cidr: str) -> str:
    """Addresses 8-15 of the node subnet, kept for servers with fixed private IPs (GlusterFS).

    Pods take VPC addresses from this subnet at random (VPC CNI); an explicit reservation stops
    AWS handing these out, so a replaced GlusterFS server always gets its address back.
    """
    net = ipaddress.ip_network(subnet_cidr)
    return str(ipaddress.ip_network(f"{net.network_address + 8}/29"))


def available_zones() -> tuple[list[str], dict[str, str]]:
    """Zones of the region that need no opt-in (no Local/Wavelength zones), and those EKS refuses."""
    result = aws.get_availability_zones(
        state="available",
        filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
    )
    names = list(result.names or [])
    return names, eks_unsupported_zones(names, list(result.zone_ids or []))


class Network(pulumi.ComponentResource):
    """The VPC as the cluster and the GlusterFS servers need it.

    Depending on the component waits for every child: the node groups and the GlusterFS servers
    do (their nodes need egress through the gateways and routes, and must not take addresses
    before the reservation), so destroy removes them, and every Kubernetes object with its ELB,
    before the network. The EKS control plane needs no egress: it waits only for its subnets and
    `static_ips`, and is created while the NAT gateway comes up.
    """

    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    # The private subnet in `Settings.zone`, where every node and GlusterFS server lives.
    node_subnet_id: pulumi.Output[str]
    node_subnet_cidr: str
    # The reservation of the GlusterFS servers' fixed addresses in the node subnet.
    static_ips: aws.ec2.SubnetCidrReservation

    def __init__(self, name: str, settings: Settings, eks_cluster_name: str,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:infra:Network", name, None, opts)
        # Every child was declared at the stack's top level before this component existed.
        child = pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)])
        zones = pick_zones(settings.zone, *available_zones())
        cluster_tag = {f"kubernetes.io/cluster/{eks_cluster_name}": "shared"}
        plan = plan_subnets(settings.vpc_cidr, zones)

        vpc = aws.ec2.Vpc(
            "vpc",
            cidr_block=settings.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=tags("vpc"),
            opts=child,
        )
        igw = aws.ec2.InternetGateway("igw", vpc_id=vpc.id, tags=tags("igw"), opts=child)

        subnets: dict[str, aws.ec2.Subnet] = {}
        for subnet in plan:
            role = {"kubernetes.io/role/elb": "1"} if subnet.public else {"kubernetes.io/role/internal-elb": "1"}
            subnets[subnet.name] = aws.ec2.Subnet(
                subnet.name,
                vpc_id=vpc.id,
                cidr_block=subnet.cidr,
                availability_zone=subnet.zone,
                map_public_ip_on_launch=subnet.public,
                tags=tags(subnet.name, **role, **cluster_tag),
                opts=child,
            )

        after_igw = child.merge(pulumi.ResourceOptions(depends_on=[igw]))
        eip = aws.ec2.Eip("nat", domain="vpc", tags=tags("nat"), opts=after_igw)
        nat = aws.ec2.NatGateway(
            "nat",
            allocation_id=eip.allocation_id,
            subnet_id=subnets["public-1"].id,
            tags=tags("nat"),
            opts=after_igw,
        )

        public_rt = aws.ec2.RouteTable("public", vpc_id=vpc.id, tags=tags("public"), opts=child)
        private_rt = aws.ec2.RouteTable("private", vpc_id=vpc.id, tags=tags("private"), opts=child)
        aws.ec2.Route("public-default", route_table_id=public_rt.id,
                      destination_cidr_block="0.0.0.0/0", gateway_id=igw.id, opts=child)
        aws.ec2.Route("private-default", route_table_id=private_rt.id,
                      destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id, opts=child)
        for subnet_name, subnet in subnets.items():
            aws.ec2.RouteTableAssociation(
                subnet_name, subnet_id=subnet.id,
                route_table_id=(public_rt if subnet_name.startswith("public-") else private_rt).id,
                opts=child,
            )

        node_plan = next(p for p in plan if p.name == "private-1")
        self.static_ips = aws.ec2.SubnetCidrReservation(
            "static-ips",
            subnet_id=subnets["private-1"].id,
            cidr_block=static_block(node_plan.cidr),
            reservation_type="explicit",
            description="fixed addresses of the GlusterFS servers; never assigned to pods",
            opts=child,
        )
        self.vpc_id = vpc.id
        self.vpc_cidr = settings.vpc_cidr
        self.public_subnet_ids = [s.id for n, s in subnets.items() if n.startswith("public-")]
        self.private_subnet_ids = [s.id for n, s in subnets.items() if n.startswith("private-")]
        self.node_subnet_id = subnets["private-1"].id
        self.node_subnet_cidr = node_plan.cidr
        self.register_outputs({"vpcId": self.vpc_id, "nodeSubnetId": self.node_subnet_id})
