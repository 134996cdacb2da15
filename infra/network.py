"""The benchmark VPC: two zones, public + private subnets, one internet gateway, one NAT.

Creates: VPC (DNS support + hostnames), internet gateway, one public and one private subnet in
each of two zones (`Settings.zone`, where every node and GlusterFS server lives, plus a second
zone because the EKS control plane needs subnets in two), an EIP + NAT gateway in the node
zone's public subnet (node egress stays in-zone), a public and a private route table with
their default routes and associations, and an explicit reservation of a few node-subnet
addresses for the GlusterFS servers' fixed IPs.

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

from infra.handles import Network
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


def deploy(settings: Settings, eks_cluster_name: str) -> Network:
    """Declare the VPC; return the handle the cluster and the GlusterFS servers need."""
    zones = pick_zones(settings.zone, *available_zones())
    cluster_tag = {f"kubernetes.io/cluster/{eks_cluster_name}": "shared"}

    vpc = aws.ec2.Vpc(
        "vpc",
        cidr_block=settings.vpc_cidr,
        enable_dns_support=True,
        enable_dns_hostnames=True,
        tags=tags("vpc"),
    )
    igw = aws.ec2.InternetGateway("igw", vpc_id=vpc.id, tags=tags("igw"))

    subnets: dict[str, aws.ec2.Subnet] = {}
    for plan in plan_subnets(settings.vpc_cidr, zones):
        role = {"kubernetes.io/role/elb": "1"} if plan.public else {"kubernetes.io/role/internal-elb": "1"}
        subnets[plan.name] = aws.ec2.Subnet(
            plan.name,
            vpc_id=vpc.id,
            cidr_block=plan.cidr,
            availability_zone=plan.zone,
            map_public_ip_on_launch=plan.public,
            tags=tags(plan.name, **role, **cluster_tag),
        )
    public = [s for n, s in subnets.items() if n.startswith("public-")]
    private = [s for n, s in subnets.items() if n.startswith("private-")]

    eip = aws.ec2.Eip("nat", domain="vpc", tags=tags("nat"),
                      opts=pulumi.ResourceOptions(depends_on=[igw]))
    nat = aws.ec2.NatGateway(
        "nat",
        allocation_id=eip.allocation_id,
        subnet_id=subnets["public-1"].id,
        tags=tags("nat"),
        opts=pulumi.ResourceOptions(depends_on=[igw]),
    )

    public_rt = aws.ec2.RouteTable("public", vpc_id=vpc.id, tags=tags("public"))
    private_rt = aws.ec2.RouteTable("private", vpc_id=vpc.id, tags=tags("private"))
    routes = [
        aws.ec2.Route("public-default", route_table_id=public_rt.id,
                      destination_cidr_block="0.0.0.0/0", gateway_id=igw.id),
        aws.ec2.Route("private-default", route_table_id=private_rt.id,
                      destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id),
    ]
    associations = [
        aws.ec2.RouteTableAssociation(
            name, subnet_id=subnet.id,
            route_table_id=(public_rt if name.startswith("public-") else private_rt).id,
        )
        for name, subnet in subnets.items()
    ]

    node_plan = next(p for p in plan_subnets(settings.vpc_cidr, zones) if p.name == "private-1")
    static = aws.ec2.SubnetCidrReservation(
        "static-ips",
        subnet_id=subnets["private-1"].id,
        cidr_block=static_block(node_plan.cidr),
        reservation_type="explicit",
        description="fixed addresses of the GlusterFS servers; never assigned to pods",
    )
    return Network(
        vpc_id=vpc.id,
        vpc_cidr=settings.vpc_cidr,
        public_subnet_ids=[s.id for s in public],
        private_subnet_ids=[s.id for s in private],
        node_subnet_id=subnets["private-1"].id,
        node_subnet_cidr=node_plan.cidr,
        # The reservation too: the cluster and its nodes must not take addresses before it exists.
        gateways=[igw, eip, nat, *routes, *associations, static],
        address_reservations=[static],
    )
