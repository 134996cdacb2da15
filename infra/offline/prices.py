"""AWS list prices `python -m infra.offline.plan` estimates with: on-demand, Linux, shared tenancy, USD.

Kept in the repo so a plan works offline and is reproducible; it is only as good as its date.
Source: the public AWS price pages (aws.amazon.com/ec2/pricing/on-demand, /eks/pricing,
/vpc/pricing (NAT gateway, public IPv4), /elasticloadbalancing/pricing, /ebs/pricing), transcribed
by hand without network access on the date below; none of these items changed price between
2023 and that date as far as the transcriber knows. Re-check before relying on a figure, e.g.

    aws pricing get-products --region us-east-1 --service-code AmazonEC2 --filters \
      Type=TERM_MATCH,Field=regionCode,Value=eu-west-1 Type=TERM_MATCH,Field=instanceType,Value=m3.large \
      Type=TERM_MATCH,Field=operatingSystem,Value=Linux Type=TERM_MATCH,Field=tenancy,Value=Shared \
      Type=TERM_MATCH,Field=preInstalledSw,Value=NA Type=TERM_MATCH,Field=capacitystatus,Value=Used

To add a region or type, add its line here with the same source and update DATE.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DATE = "2026-11-25"
SOURCE = "AWS public price pages (EC2 on-demand, EKS, VPC, ELB, EBS), transcribed by hand"
HOURS_PER_MONTH = 730  # AWS converts GB-month prices to hours with 730


@dataclass(frozen=True)
class RegionPrices:
    instance_hour: dict[str, float]  # EC2 on-demand Linux $/hour by instance type
    eks_cluster_hour: float  # EKS control plane in standard support (the program pins STANDARD)
    nat_hour: float
    nat_gb: float  # NAT gateway data processed, $/GB
    elb_hour: float  # Classic Load Balancer (what the in-tree controller creates)
    elb_gb: float
    nlb_hour: float  # Network Load Balancer, before LCUs
    gp3_gb_month: float
    public_ipv4_hour: float = 0.005  # every public IPv4 address, EIP or ELB node, since 2024-02
    ebs_types: dict[str, float] = field(default_factory=dict)  # other volume types, $/GB-month


REGIONS: dict[str, RegionPrices] = {
    "us-east-1": RegionPrices(
        instance_hour={
            "m3.large": 0.133, "m3.xlarge": 0.266,
            "m4.large": 0.10, "m4.xlarge": 0.20,
            "m5.large": 0.096, "m5.xlarge": 0.192, "m5.2xlarge": 0.384,
            "m6i.large": 0.096, "m6i.xlarge": 0.192, "m6i.2xlarge": 0.384,
            "m7i.large": 0.1008, "m7i.xlarge": 0.2016, "m7i.2xlarge": 0.4032,
            "c5.large": 0.085, "c5.xlarge": 0.17,
            "r5.large": 0.126, "r5.xlarge": 0.252,
            "t3.micro": 0.0104, "t3.small": 0.0208, "t3.medium": 0.0416, "t3.large": 0.0832,
        },
        eks_cluster_hour=0.10,
        nat_hour=0.045, nat_gb=0.045,
        elb_hour=0.025, elb_gb=0.008,
        nlb_hour=0.0225,
        gp3_gb_month=0.08,
        ebs_types={"gp2": 0.10},
    ),
    # The seed benchmark's region.
    "eu-west-1": RegionPrices(
        instance_hour={
            "m3.large": 0.146, "m3.xlarge": 0.293,
            "m4.large": 0.111, "m4.xlarge": 0.222,
            "m5.large": 0.107, "m5.xlarge": 0.214, "m5.2xlarge": 0.428,
            "m6i.large": 0.107, "m6i.xlarge": 0.214, "m6i.2xlarge": 0.428,
            "m7i.large": 0.1124, "m7i.xlarge": 0.2247, "m7i.2xlarge": 0.4494,
            "c5.large": 0.096, "c5.xlarge": 0.192,
            "r5.large": 0.141, "r5.xlarge": 0.282,
            "t3.micro": 0.0114, "t3.small": 0.0228, "t3.medium": 0.0456, "t3.large": 0.0912,
        },
        eks_cluster_hour=0.10,
        nat_hour=0.048, nat_gb=0.048,
        elb_hour=0.028, elb_gb=0.008,
        nlb_hour=0.0252,
        gp3_gb_month=0.088,
        ebs_types={"gp2": 0.11},
    ),
}


# On-demand prices in us-west-2 are us-east-1's for every item of this table.
REGIONS["us-west-2"] = REGIONS["us-east-1"]


class UnknownPrice(LookupError):
    """A region, instance type or volume type the table has no price for; the message says which."""


def region(name: str) -> RegionPrices:
    if name not in REGIONS:
        raise UnknownPrice(
            f"no prices for region {name!r} in infra/offline/prices.py (dated {DATE}); "
            f"known regions: {', '.join(sorted(REGIONS))}"
        )
    return REGIONS[name]


def instance_hour(region_name: str, instance_type: str) -> float:
    prices = region(region_name)
    if instance_type not in prices.instance_hour:
        raise UnknownPrice(
            f"no price for instance type {instance_type!r} in {region_name} in infra/offline/prices.py (dated {DATE}); "
            f"known types: {', '.join(sorted(prices.instance_hour))}"
        )
    return prices.instance_hour[instance_type]


def volume_gb_month(region_name: str, volume_type: str) -> float:
    prices = region(region_name)
    if volume_type == "gp3":
        return prices.gp3_gb_month
    if volume_type not in prices.ebs_types:
        raise UnknownPrice(
            f"no price for EBS volume type {volume_type!r} in {region_name} in infra/offline/prices.py (dated {DATE}); "
            f"known types: {', '.join(['gp3', *sorted(prices.ebs_types)])}"
        )
    return prices.ebs_types[volume_type]
