"""The price file the plan reads, and `python -m infra.offline.prices refresh`, which rewrites it
from the AWS Price List API: here a botocore Stubber and a fake catalogue on a real boto3 client
(moto has no `pricing`), answering with PriceList items shaped like the real ones (JSON text with
product.attributes and terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD)."""

from __future__ import annotations

import dataclasses
import datetime
import json

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from infra.offline import prices

REGION = "eu-west-1"
TODAY = datetime.date(2026, 12, 7)
# What a real EC2 product says besides the attributes the refresh filters on.
EC2_EXTRA = {"location": "EU (Ireland)", "locationType": "AWS Region", "servicecode": "AmazonEC2"}


def item(service: str, family: str, attributes: dict, usd: float, unit: str = "Hrs", sku: str = "SKU") -> str:
    """One PriceList entry as the API returns it: a JSON text, not an object."""
    term = f"{sku}.JRTCKXETXF"
    return json.dumps({
        "product": {"productFamily": family, "attributes": {"regionCode": REGION, **EC2_EXTRA, **attributes},
                    "sku": sku},
        "serviceCode": service,
        "terms": {"OnDemand": {term: {
            "priceDimensions": {f"{term}.6YS6EN2CT7": {
                "unit": unit, "endRange": "Inf", "beginRange": "0", "appliesTo": [],
                "description": f"${usd} per {unit}", "rateCode": f"{term}.6YS6EN2CT7",
                "pricePerUnit": {"USD": f"{usd:.10f}"}}},
            "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": "JRTCKXETXF",
            "termAttributes": {}}}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
    })


def client():
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing").client(
        "pricing", region_name="us-east-1")


def match(**terms: str) -> list[dict]:
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in terms.items()]


def page(*items: str, next_token: str | None = None) -> dict:
    return {"FormatVersion": "aws_v1", "PriceList": list(items), **({"NextToken": next_token} if next_token else {})}


ONE_REGION = prices.PriceTable("2020-01-01", "typed in", {REGION: prices.RegionPrices(
    instance_hour={"m5.large": 1.0}, ebs_gb_month={"gp3": 1.0}, eks_cluster_hour=1.0, nat_hour=1.0,
    nat_gb=1.0, elb_hour=1.0, elb_gb=1.0, nlb_hour=1.0, public_ipv4_hour=1.0)})


def test_refresh_asks_for_each_price_by_the_price_lists_own_attribute_names():
    pricing = client()
    stub = Stubber(pricing)
    stub.add_response("get_products", page(item("AmazonEC2", "Compute Instance", {
        "instanceType": "m5.large", "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
        "capacitystatus": "Used", "licenseModel": "No License required", "usagetype": "EU-BoxUsage:m5.large"}, 0.107)),
        {"ServiceCode": "AmazonEC2", "Filters": match(
            regionCode=REGION, instanceType="m5.large", operatingSystem="Linux", tenancy="Shared",
            preInstalledSw="NA", capacitystatus="Used", licenseModel="No License required")})
    stub.add_response("get_products", page(item("AmazonEC2", "Storage", {
        "volumeApiName": "gp3", "usagetype": "EU-EBS:VolumeUsage.gp3"}, 0.088, "GB-Mo")),
        {"ServiceCode": "AmazonEC2", "Filters": match(regionCode=REGION, productFamily="Storage", volumeApiName="gp3")})
    # Two pages; extended support costs more than the standard support the program pins.
    stub.add_response("get_products", page(item("AmazonEKS", "Compute", {
        "usagetype": "EUW1-AmazonEKS-Hours:extendedSupport"}, 0.60, sku="X"), next_token="page-2"),
        {"ServiceCode": "AmazonEKS", "Filters": match(regionCode=REGION)})
    stub.add_response("get_products", page(item("AmazonEKS", "Compute", {
        "usagetype": "EUW1-AmazonEKS-Hours:perCluster"}, 0.10)),
        {"ServiceCode": "AmazonEKS", "Filters": match(regionCode=REGION), "NextToken": "page-2"})
    stub.add_response("get_products", page(
        item("AmazonEC2", "NAT Gateway", {"usagetype": "EU-NatGateway-Hours"}, 0.048, sku="H"),
        item("AmazonEC2", "NAT Gateway", {"usagetype": "EU-NatGateway-Bytes"}, 0.049, "GB", sku="B")),
        {"ServiceCode": "AmazonEC2", "Filters": match(regionCode=REGION, productFamily="NAT Gateway")})
    stub.add_response("get_products", page(
        item("AWSELB", "Load Balancer", {"usagetype": "EU-LoadBalancerUsage"}, 0.028, sku="H"),
        item("AWSELB", "Load Balancer", {"usagetype": "EU-DataProcessing-Bytes"}, 0.008, "GB", sku="B")),
        {"ServiceCode": "AWSELB", "Filters": match(regionCode=REGION, productFamily="Load Balancer")})
    stub.add_response("get_products", page(
        item("AWSELB", "Load Balancer-Network", {"usagetype": "EU-LCUUsage"}, 0.006, "LCU-Hrs", sku="L"),
        item("AWSELB", "Load Balancer-Network", {"usagetype": "EU-LoadBalancerUsage"}, 0.0252, sku="H")),
        {"ServiceCode": "AWSELB", "Filters": match(regionCode=REGION, productFamily="Load Balancer-Network")})
    stub.add_response("get_products", page(
        item("AmazonVPC", "VPC Public IPv4 Address", {"usagetype": "EU-PublicIPv4:IdleAddress"}, 0.005, sku="I"),
        item("AmazonVPC", "VPC Public IPv4 Address", {"usagetype": "EU-PublicIPv4:InUseAddress"}, 0.005, sku="U")),
        {"ServiceCode": "AmazonVPC", "Filters": match(regionCode=REGION, productFamily="VPC Public IPv4 Address")})
    with stub:
        fresh = prices.refresh(pricing, ONE_REGION, today=TODAY)
        stub.assert_no_pending_responses()
    assert (fresh.date, fresh.source) == ("2026-12-07", prices.API_SOURCE)
    assert fresh.regions[REGION] == prices.RegionPrices(
        instance_hour={"m5.large": 0.107}, ebs_gb_month={"gp3": 0.088}, eks_cluster_hour=0.10, nat_hour=0.048,
        nat_gb=0.049, elb_hour=0.028, elb_gb=0.008, nlb_hour=0.0252, public_ipv4_hour=0.005)


class Catalogue:
    """A fake Price List API on a real client: answers GetProducts (TERM_MATCH on product
    attributes, productFamily included, in pages of 3) from a list of products."""

    def __init__(self, pricing, products: list[tuple[str, str, dict, float]]):
        self.products = products
        self.asked: list[dict] = []
        pricing.meta.events.register("before-call.pricing.GetProducts", self.answer)

    def answer(self, params, **_):
        body = json.loads(params["body"])
        self.asked.append(body)
        terms = {f["Field"]: f["Value"] for f in body["Filters"]}
        found = [item(service, family, attributes, usd)
                 for service, family, attributes, usd in self.products
                 if service == body["ServiceCode"]
                 and all({"productFamily": family, "regionCode": attributes.get("regionCode", REGION),
                          **attributes}.get(k) == v for k, v in terms.items())]
        start = int(body.get("NextToken", 0))
        rest = {"NextToken": str(start + 3)} if start + 3 < len(found) else {}
        return AWSResponse("https://api.pricing.us-east-1.amazonaws.com/", 200, {}, None), \
            {"FormatVersion": "aws_v1", "PriceList": found[start:start + 3], **rest}


def catalogue_of(table: prices.PriceTable) -> list[tuple[str, str, dict, float]]:
    """The products of the real Price List API that hold `table`'s prices, plus the neighbours a
    filter must leave out (Windows, dedicated, reserved capacity, extended support, idle IPv4)."""
    products = []
    for region, r in table.regions.items():
        def add(service, family, price, **attributes):
            products.append((service, family, {"regionCode": region, **attributes}, price))
        for itype, price in r.instance_hour.items():
            base = dict(instanceType=itype, operatingSystem="Linux", tenancy="Shared", preInstalledSw="NA",
                        capacitystatus="Used", licenseModel="No License required")
            add("AmazonEC2", "Compute Instance", price, **base)
            add("AmazonEC2", "Compute Instance", price * 2, **{**base, "operatingSystem": "Windows"})
            add("AmazonEC2", "Compute Instance", price * 3, **{**base, "tenancy": "Dedicated"})
            add("AmazonEC2", "Compute Instance", 0.0, **{**base, "capacitystatus": "AllocatedCapacityReservation"})
        for vtype, price in r.ebs_gb_month.items():
            add("AmazonEC2", "Storage", price, volumeApiName=vtype, usagetype=f"EBS:VolumeUsage.{vtype}")
        add("AmazonEKS", "Compute", r.eks_cluster_hour, usagetype="EUW1-AmazonEKS-Hours:perCluster")
        add("AmazonEKS", "Compute", 0.60, usagetype="EUW1-AmazonEKS-Hours:extendedSupport")
        add("AmazonEC2", "NAT Gateway", r.nat_hour, usagetype="NatGateway-Hours")
        add("AmazonEC2", "NAT Gateway", r.nat_gb, usagetype="NatGateway-Bytes")
        add("AWSELB", "Load Balancer", r.elb_hour, usagetype="LoadBalancerUsage")
        add("AWSELB", "Load Balancer", r.elb_gb, usagetype="DataProcessing-Bytes")
        add("AWSELB", "Load Balancer-Network", r.nlb_hour, usagetype="LoadBalancerUsage")
        add("AWSELB", "Load Balancer-Network", 0.006, usagetype="LCUUsage")
        add("AmazonVPC", "VPC Public IPv4 Address", r.public_ipv4_hour, usagetype="PublicIPv4:InUseAddress")
        add("AmazonVPC", "VPC Public IPv4 Address", 0.5, usagetype="PublicIPv4:IdleAddress")
    return products


def test_refresh_rewrites_the_committed_file_price_for_price():
    """Against a catalogue holding the committed prices, a refresh gives the same table back: the
    file is what the command writes, and its filters pick the plan's prices out of their neighbours."""
    pricing = client()
    Catalogue(pricing, catalogue_of(prices.TABLE))
    fresh = prices.refresh(pricing, prices.TABLE, today=TODAY)
    assert fresh.regions == prices.TABLE.regions
    assert json.loads(fresh.to_json())["regions"] == json.loads(prices.PRICE_FILE.read_text())["regions"]


def test_the_command_stamps_the_file_with_the_day_and_the_source(tmp_path, capsys):
    path = tmp_path / "prices.json"
    path.write_text(prices.TABLE.to_json())
    pricing = client()
    catalogue = Catalogue(pricing, catalogue_of(prices.TABLE)
                          + [("AmazonEC2", "Compute Instance", {"regionCode": REGION, "instanceType": "m6i.4xlarge",
                              "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
                              "capacitystatus": "Used", "licenseModel": "No License required"}, 0.856)])
    assert prices.main(["refresh", "--file", str(path), "--region", REGION, "--instance-type", "m6i.4xlarge"],
                       client=pricing) == 2, "m6i.4xlarge has no price in the other regions: nothing is written"
    assert "m6i.4xlarge" in capsys.readouterr().err and path.read_text() == prices.TABLE.to_json()
    catalogue.products = catalogue_of(dataclasses.replace(prices.TABLE, regions={
        name: dataclasses.replace(r, instance_hour={**r.instance_hour, "m6i.4xlarge": 0.856})
        for name, r in prices.TABLE.regions.items()}))
    assert prices.main(["refresh", "--file", str(path), "--instance-type", "m6i.4xlarge"], client=pricing) == 0
    written = prices.load(path)
    assert written.date == datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    assert written.source == prices.API_SOURCE and "Price List API" in written.source
    assert all(r.instance_hour["m6i.4xlarge"] == 0.856 for r in written.regions.values())
    assert {name: dataclasses.replace(r, instance_hour={k: v for k, v in r.instance_hour.items() if k != "m6i.4xlarge"})
            for name, r in written.regions.items()} == prices.TABLE.regions, "the other prices are unchanged"
    assert "prices in 3 regions" in capsys.readouterr().out


def test_a_price_the_api_does_not_have_is_named_and_nothing_is_written(tmp_path, capsys):
    path = tmp_path / "prices.json"
    path.write_text(ONE_REGION.to_json())
    pricing = client()
    Catalogue(pricing, [p for p in catalogue_of(ONE_REGION) if p[0] != "AmazonVPC"])
    assert prices.main(["refresh", "--file", str(path)], client=pricing) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "public IPv4 address hour: no on-demand price" in err and REGION in err, err
    assert path.read_text() == ONE_REGION.to_json()


def test_an_unreachable_price_list_api_is_one_error_line(tmp_path, capsys, monkeypatch):
    from conftest import aws_unreachable

    aws_unreachable(monkeypatch)
    path = tmp_path / "prices.json"
    path.write_text(ONE_REGION.to_json())
    assert prices.main(["refresh", "--file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the AWS Price List API could not be asked") and err.count("\n") == 1, err


def test_the_plan_reads_the_committed_file_with_its_stamp():
    table = prices.load(prices.PRICE_FILE)
    assert table == prices.TABLE and prices.DATE == table.date and prices.SOURCE == table.source
    datetime.date.fromisoformat(table.date)
    assert {"eu-west-1", "us-east-1", "us-west-2"} <= set(table.regions)


@pytest.mark.parametrize("text, fault", [
    ("{", "JSONDecodeError"),
    ('{"date": "2026-01-01", "source": "x"}', "KeyError"),
    ('{"date": "2026-01-01", "source": "x", "regions": {"eu-west-1": {"nat_hour": 1}}}', "TypeError"),
])
def test_a_broken_price_file_is_named(tmp_path, text, fault):
    path = tmp_path / "prices.json"
    path.write_text(text)
    with pytest.raises(prices.PriceFileError, match=fault) as info:
        prices.load(path)
    assert str(path) in str(info.value)


def test_a_price_that_is_no_number_is_named(tmp_path):
    doc = json.loads(ONE_REGION.to_json())
    doc["regions"][REGION]["instance_hour"]["m5.large"] = "0.1"
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(prices.PriceFileError, match="eu-west-1 instance_hour m5.large is '0.1'"):
        prices.load(path)
