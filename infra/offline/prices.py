"""AWS list prices the plan estimates with: on-demand, Linux, shared tenancy, USD.

The prices live in `prices.json` beside this file, stamped with the date they were read and
where from, so that a plan works offline and is reproducible; it is only as good as that date.

    python -m infra.offline.prices refresh [--region REGION] [--instance-type TYPE] [--volume-type TYPE]

reads every price of the file again from the AWS Price List API (`pricing:GetProducts` at its
us-east-1 endpoint, with your AWS credentials: AWS_PROFILE or --profile), for each region and
instance type the file already holds plus the ones named, and rewrites the file with today's date.
Nothing is written unless every price was found.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import sys
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Optional

PRICE_FILE = pathlib.Path(__file__).with_name("prices.json")
HOURS_PER_MONTH = 730  # AWS converts GB-month prices to hours with 730
# The Price List API answers at us-east-1 (and eu-central-1, ap-south-1) for every region's prices.
PRICING_ENDPOINT_REGION = "us-east-1"
API_SOURCE = ("AWS Price List API (pricing:GetProducts at the us-east-1 endpoint): on-demand, Linux, "
          "shared tenancy, USD")


@dataclass(frozen=True)
class RegionPrices:
    instance_hour: dict[str, float]  # EC2 on-demand Linux $/hour by instance type
    ebs_gb_month: dict[str, float]  # EBS $/GB-month by volume type (gp3, gp2, ...)
    eks_cluster_hour: float  # EKS control plane in standard support (the program pins STANDARD)
    nat_hour: float
    nat_gb: float  # NAT gateway data processed, $/GB
    elb_hour: float  # Classic Load Balancer (what the in-tree controller creates)
    elb_gb: float
    nlb_hour: float  # Network Load Balancer, before LCUs
    public_ipv4_hour: float  # every public IPv4 address, EIP or ELB node, since 2024-02


@dataclass(frozen=True)
class PriceTable:
    date: str  # when the prices were read, YYYY-MM-DD
    source: str
    regions: dict[str, RegionPrices]

    def to_json(self) -> str:
        return json.dumps({"date": self.date, "source": self.source, "currency": "USD",
                           "regions": {name: asdict(r) for name, r in sorted(self.regions.items())}}, indent=2) + "\n"


class UnknownPrice(LookupError):
    """A region, instance type or volume type the table has no price for; the message says which."""


class PriceFileError(ValueError):
    """A price file that is not what `refresh` writes; the message names the file and the fault."""


def load(path: pathlib.Path = PRICE_FILE) -> PriceTable:
    try:
        doc = json.loads(path.read_text())
        regions = {name: RegionPrices(**fields) for name, fields in doc["regions"].items()}
        table = PriceTable(str(doc["date"]), str(doc["source"]), regions)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PriceFileError(f"{path}: not a price file as `python -m infra.offline.prices refresh` writes it "
                             f"({type(exc).__name__}: {exc})") from None
    for name, prices in regions.items():
        for item, value in _items(prices):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e6:
                raise PriceFileError(f"{path}: {name} {item} is {value!r}, not a price in USD")
    return table


def _items(prices: RegionPrices) -> list[tuple[str, Any]]:
    """(item, price) for every price of a region, e.g. ("instance_hour m5.large", 0.107)."""
    found = []
    for item, value in asdict(prices).items():
        found += [(f"{item} {k}", v) for k, v in value.items()] if isinstance(value, dict) else [(item, value)]
    return found


TABLE = load()
DATE = TABLE.date
SOURCE = TABLE.source
REGIONS = TABLE.regions


def _where() -> str:
    return f"in infra/offline/prices.json (dated {DATE}; `python -m infra.offline.prices refresh` adds it)"


def region(name: str) -> RegionPrices:
    if name not in REGIONS:
        raise UnknownPrice(f"no prices for region {name!r} {_where()}; known regions: {', '.join(sorted(REGIONS))}")
    return REGIONS[name]


def instance_hour(region_name: str, instance_type: str) -> float:
    return _price(region(region_name).instance_hour, instance_type, f"instance type {instance_type!r} in {region_name}")


def volume_gb_month(region_name: str, volume_type: str) -> float:
    return _price(region(region_name).ebs_gb_month, volume_type, f"EBS volume type {volume_type!r} in {region_name}")


def _price(table: dict[str, float], key: str, what: str) -> float:
    if key not in table:
        raise UnknownPrice(f"no price for {what} {_where()}; known types: {', '.join(sorted(table))}")
    return table[key]


# ---------------------------------------------------------------- refresh from the Price List API


def _filters(**terms: str) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in terms.items()]


def _products(pricing, service: str, **terms: str) -> list[dict]:
    """Every product of `service` matching `terms` (Price List attribute names), each parsed
    from the JSON text the API returns."""
    found = []
    for page in pricing.get_paginator("get_products").paginate(ServiceCode=service, Filters=_filters(**terms)):
        found.extend(json.loads(item) for item in page["PriceList"])
    return found


def _on_demand(product: dict) -> Optional[float]:
    """The first-tier on-demand USD price of a product, or None when it has none."""
    for term in (product.get("terms") or {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            if dimension.get("beginRange", "0") == "0" and "USD" in dimension.get("pricePerUnit", {}):
                return float(dimension["pricePerUnit"]["USD"])
    return None


class _Missing(Exception):
    pass


def _one_price(products: Iterable[dict], what: str, usagetype_suffix: Optional[str] = None) -> float:
    """The one price `products` agree on (of those whose usagetype ends with the suffix: it begins
    with a region code such as EUW1- everywhere but in us-east-1)."""
    chosen = [p for p in products if usagetype_suffix is None
              or p.get("product", {}).get("attributes", {}).get("usagetype", "").endswith(usagetype_suffix)]
    found = {price for p in chosen if (price := _on_demand(p)) is not None}
    if len(found) != 1:
        raise _Missing(f"{what}: " + ("no on-demand price" if not found else f"several prices {sorted(found)}"))
    return found.pop()


def fetch_region(pricing, region_name: str, instance_types: Iterable[str], volume_types: Iterable[str]) -> RegionPrices:
    """Every price the plan uses in `region_name`; raises _Missing naming each one not found."""
    missing: list[str] = []

    def price(what: str, products, suffix: Optional[str] = None) -> float:
        try:
            return _one_price(products, what, suffix)
        except _Missing as exc:
            missing.append(str(exc))
            return 0.0

    instances = {
        t: price(f"EC2 {t}", _products(pricing, "AmazonEC2", regionCode=region_name, instanceType=t,
                                       operatingSystem="Linux", tenancy="Shared", preInstalledSw="NA",
                                       capacitystatus="Used", licenseModel="No License required"))
        for t in sorted(instance_types)}
    volumes = {
        v: price(f"EBS {v}", _products(pricing, "AmazonEC2", regionCode=region_name, productFamily="Storage",
                                       volumeApiName=v))
        for v in sorted(volume_types)}
    eks = _products(pricing, "AmazonEKS", regionCode=region_name)
    nat = _products(pricing, "AmazonEC2", regionCode=region_name, productFamily="NAT Gateway")
    classic = _products(pricing, "AWSELB", regionCode=region_name, productFamily="Load Balancer")
    network = _products(pricing, "AWSELB", regionCode=region_name, productFamily="Load Balancer-Network")
    ipv4 = _products(pricing, "AmazonVPC", regionCode=region_name, productFamily="VPC Public IPv4 Address")
    prices = RegionPrices(
        instance_hour=instances, ebs_gb_month=volumes,
        eks_cluster_hour=price("EKS cluster hour", eks, "AmazonEKS-Hours:perCluster"),
        nat_hour=price("NAT gateway hour", nat, "NatGateway-Hours"),
        nat_gb=price("NAT gateway GB", nat, "NatGateway-Bytes"),
        elb_hour=price("Classic ELB hour", classic, "LoadBalancerUsage"),
        elb_gb=price("Classic ELB GB", classic, "DataProcessing-Bytes"),
        nlb_hour=price("NLB hour", network, "LoadBalancerUsage"),
        public_ipv4_hour=price("public IPv4 address hour", ipv4, "PublicIPv4:InUseAddress"),
    )
    if missing:
        raise _Missing(f"{region_name}: " + "; ".join(missing))
    return prices


def refresh(pricing, table: PriceTable, regions: Iterable[str] = (), instance_types: Iterable[str] = (),
            volume_types: Iterable[str] = (), today: Optional[datetime.date] = None) -> PriceTable:
    """`table` read again from the Price List API, with `regions`, `instance_types` and
    `volume_types` added (each type in every region); raises UnknownPrice naming what AWS did not price."""
    names = sorted(set(table.regions) | set(regions))
    types = set(instance_types).union(*(r.instance_hour for r in table.regions.values()))
    volumes = set(volume_types).union(*(r.ebs_gb_month for r in table.regions.values()))
    fetched, missing = {}, []
    for name in names:
        try:
            fetched[name] = fetch_region(pricing, name, types, volumes)
        except _Missing as exc:
            missing.append(str(exc))
    if missing:
        raise UnknownPrice("the Price List API has no single on-demand price for " + " | ".join(missing))
    day = (today or datetime.datetime.now(datetime.timezone.utc).date()).isoformat()
    return PriceTable(day, API_SOURCE, fetched)


class _Parser(argparse.ArgumentParser):
    """Bad arguments end like every other refusal here: one `error:` line, exit 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m infra.offline.prices", description=__doc__.split("\n\n")[0])
    commands = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = commands.add_parser("refresh", help="read the prices again from the AWS Price List API and rewrite the file")
    r.add_argument("--region", action="append", default=[], help="a region to add (default: the file's regions)")
    r.add_argument("--instance-type", action="append", default=[], help="an instance type to add, in every region")
    r.add_argument("--volume-type", action="append", default=[], help="an EBS volume type to add, e.g. io2")
    r.add_argument("--profile", help="AWS profile for the Price List API (default: the standard credential chain)")
    r.add_argument("--file", type=pathlib.Path, default=PRICE_FILE, help="price file to refresh (default: %(default)s)")
    return p


def pricing_client(profile: Optional[str] = None):
    import boto3

    return boto3.session.Session(profile_name=profile).client("pricing", region_name=PRICING_ENDPOINT_REGION)


def main(argv: Optional[list[str]] = None, client: Any = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    args = parser().parse_args(argv)
    try:
        table = load(args.file)
        fresh = refresh(client or pricing_client(args.profile), table, args.region, args.instance_type, args.volume_type)
    except (PriceFileError, UnknownPrice) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"error: the AWS Price List API could not be asked ({exc}); it needs AWS credentials "
              f"allowed pricing:GetProducts", file=sys.stderr)
        return 2
    args.file.write_text(fresh.to_json())
    count = sum(len(_items(r)) for r in fresh.regions.values())
    print(f"{args.file}: {count} prices in {len(fresh.regions)} regions, dated {fresh.date}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
