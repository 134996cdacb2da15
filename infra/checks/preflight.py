"""Preflight: can this AWS account build the benchmark as configured? Read-only boto3 calls.

Checks credentials, the region and `nodeZone`, and for every instance type of the stack (Seldon
nodes, iago nodes, GlusterFS servers, MySQL nodes when dedicated): that it exists, is offered
in `nodeZone`, is x86_64, and can boot the AMI it will get (the EKS node AMI of `nodeAmiType` for
Kubernetes nodes, Debian 12 for GlusterFS). Previous-generation Xen types such as the seed's
m3.large (legacy BIOS only, no ENA) are flagged plainly with the nearest current type to set.
Then that `kubernetesVersion` is in EKS standard support (EKS DescribeClusterVersions), and the
quotas a fresh account hits first: VPCs per region, EC2-VPC Elastic IPs, and the Running
On-Demand Standard instances vCPU quota against the vCPUs of every node and GlusterFS server,
each with its current usage; a short quota names the command that raises it.

`python -m infra.checks.preflight [--stack bench]` prints the report and exits 0 (no problem) or 1; 2 with
one `error:` line when the stack file cannot be read or its settings are refused (nothing is asked
of AWS then).
It uses the standard AWS credential chain (AWS_PROFILE, ...) and needs sts:GetCallerIdentity,
ec2:DescribeAvailabilityZones, ec2:DescribeInstanceTypes, ec2:DescribeInstanceTypeOfferings,
ec2:DescribeImages, ssm:GetParameter, eks:DescribeClusterVersions, servicequotas:GetServiceQuota,
servicequotas:GetAWSDefaultServiceQuota, ec2:DescribeVpcs, ec2:DescribeAddresses and
ec2:DescribeInstances.
`__main__.py` calls `run_if_live` before declaring anything: a `pulumi.RunError` naming every
problem. `seldon-bench:skipPreflight true` skips it (offline runs set it).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Optional

import boto3
import pulumi
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError, ProfileNotFound
from botocore.exceptions import ConnectionError as EndpointUnreachable

from infra.network import eks_unsupported_zones
from infra.settings import DEBIAN_AMI_NAME, DEBIAN_OWNER, PROJECT, Settings, SettingsError

GLUSTER_SERVERS = 2  # gluster-1 and gluster-2 (infra/glusterfs.py)
# Elastic IPs the stack allocates: the NAT gateway's (infra/network.py).
STACK_ELASTIC_IPS = 1


@dataclass(frozen=True)
class Quota:
    service: str
    code: str
    name: str


VPCS = Quota("vpc", "L-F678F1CE", "VPCs per Region")
ELASTIC_IPS = Quota("ec2", "L-0263D0A3", "EC2-VPC Elastic IPs")
STANDARD_VCPUS = Quota("ec2", "L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances vCPUs")
# Instance families that count against STANDARD_VCPUS (the quota's name lists them).
STANDARD_FAMILIES = tuple("acdhimrtz")

# Previous generation -> nearest current x86_64 type (Nitro, ENA), and a second choice.
CURRENT_TYPE = {
    "m1.small": ("t3.small", None), "m1.medium": ("t3.medium", None),
    "m1.large": ("m5.large", "m6i.large"), "m1.xlarge": ("m5.xlarge", "m6i.xlarge"),
    "m3.medium": ("t3.medium", "m5.large"), "m3.large": ("m5.large", "m6i.large"),
    "m3.xlarge": ("m5.xlarge", "m6i.xlarge"), "m3.2xlarge": ("m5.2xlarge", "m6i.2xlarge"),
    "m4.large": ("m5.large", "m6i.large"), "m4.xlarge": ("m5.xlarge", "m6i.xlarge"),
    "m4.2xlarge": ("m5.2xlarge", "m6i.2xlarge"), "m4.4xlarge": ("m5.4xlarge", "m6i.4xlarge"),
    "m4.10xlarge": ("m5.12xlarge", "m6i.12xlarge"), "m4.16xlarge": ("m5.16xlarge", "m6i.16xlarge"),
    "c3.large": ("c5.large", "c6i.large"), "c3.xlarge": ("c5.xlarge", "c6i.xlarge"),
    "c3.2xlarge": ("c5.2xlarge", "c6i.2xlarge"), "c3.4xlarge": ("c5.4xlarge", "c6i.4xlarge"),
    "c3.8xlarge": ("c5.9xlarge", "c6i.8xlarge"),
    "c4.large": ("c5.large", "c6i.large"), "c4.xlarge": ("c5.xlarge", "c6i.xlarge"),
    "c4.2xlarge": ("c5.2xlarge", "c6i.2xlarge"), "c4.4xlarge": ("c5.4xlarge", "c6i.4xlarge"),
    "c4.8xlarge": ("c5.9xlarge", "c6i.8xlarge"),
    "r3.large": ("r5.large", "r6i.large"), "r3.xlarge": ("r5.xlarge", "r6i.xlarge"),
    "r3.2xlarge": ("r5.2xlarge", "r6i.2xlarge"), "r3.4xlarge": ("r5.4xlarge", "r6i.4xlarge"),
    "r3.8xlarge": ("r5.8xlarge", "r6i.8xlarge"),
    "r4.large": ("r5.large", "r6i.large"), "r4.xlarge": ("r5.xlarge", "r6i.xlarge"),
    "r4.2xlarge": ("r5.2xlarge", "r6i.2xlarge"), "r4.4xlarge": ("r5.4xlarge", "r6i.4xlarge"),
    "r4.8xlarge": ("r5.8xlarge", "r6i.8xlarge"), "r4.16xlarge": ("r5.16xlarge", "r6i.16xlarge"),
    "t1.micro": ("t3.micro", None), "t2.nano": ("t3.nano", None), "t2.micro": ("t3.micro", None),
    "t2.small": ("t3.small", None), "t2.medium": ("t3.medium", None), "t2.large": ("t3.large", None),
    "t2.xlarge": ("t3.xlarge", None), "t2.2xlarge": ("t3.2xlarge", None),
    "i2.xlarge": ("i3.xlarge", "i4i.xlarge"), "i2.2xlarge": ("i3.2xlarge", "i4i.2xlarge"),
    "i2.4xlarge": ("i3.4xlarge", "i4i.4xlarge"), "i2.8xlarge": ("i3.8xlarge", "i4i.8xlarge"),
}


def nearest_current(instance_type: str) -> str:
    """'m5.large (or m6i.large)' for a previous-generation type; a same-size m5 guess otherwise."""
    first, second = CURRENT_TYPE.get(instance_type, (None, None))
    if first is None:
        size = instance_type.split(".", 1)[1] if "." in instance_type else "large"
        first, second = f"m5.{size}", f"m6i.{size}"
    return f"{first} (or {second})" if second else first


def eks_ami_parameter(ami_type: str, kubernetes_version: str) -> str:
    """SSM parameter holding the current EKS node AMI id for `nodeAmiType`."""
    if ami_type == "BOTTLEROCKET_x86_64":
        return f"/aws/service/bottlerocket/aws-k8s-{kubernetes_version}/x86_64/latest/image_id"
    return f"/aws/service/eks/optimized-ami/{kubernetes_version}/amazon-linux-2023/x86_64/standard/recommended/image_id"


@dataclass
class Finding:
    level: str  # "ok", "warning" or "problem"
    subject: str
    text: str


@dataclass
class Report:
    region: str
    zone: str
    findings: list[Finding] = field(default_factory=list)

    def add(self, level: str, subject: str, text: str) -> None:
        self.findings.append(Finding(level, subject, text))

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "problem"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        mark = {"ok": "ok     ", "warning": "WARNING", "problem": "PROBLEM"}
        lines = [f"seldon-bench preflight: region {self.region}, zone {self.zone}"]
        lines += [f"  {mark[f.level]} {f.subject}: {f.text}" for f in self.findings]
        verdict = ("no problems" if self.ok else f"{len(self.problems)} problem(s)") + (
            f", {len(self.warnings)} warning(s)" if self.warnings else "")
        lines.append(f"result: {verdict}")
        return "\n".join(lines)


# The request never got an answer (no route, DNS, proxy, TLS, timeout): says nothing about the
# credentials, the region or the account.
UNREACHABLE = (EndpointUnreachable, HTTPClientError)


def _error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {err.get('Message', exc)}"
    if isinstance(exc, UNREACHABLE):
        return f"endpoint unreachable: {exc}"
    return str(exc) or type(exc).__name__


def _unreachable(exc: Exception) -> str:
    return (f"could not reach AWS ({_error(exc)}); nothing was checked. Check the network, a proxy "
            f"(HTTPS_PROXY) or a firewall, then run preflight again")


def _roles(settings: Settings) -> dict[str, tuple[str, str, bool]]:
    """role -> (instance type, config key that sets it, runs the EKS node AMI)."""
    roles = {
        "Seldon nodes": (settings.seldon_type, "seldonInstanceType" if settings.seldon_instance_type else "instanceType", True),
        "iago nodes": (settings.loadgen_type, "loadgenInstanceType" if settings.loadgen_instance_type else "instanceType", True),
        "GlusterFS servers": (settings.gluster_type, "glusterInstanceType" if settings.gluster_instance_type else "instanceType", False),
    }
    if settings.mysql_dedicated_nodes:
        roles["MySQL nodes"] = (settings.mysql_type, "mysqlInstanceType" if settings.mysql_instance_type else "instanceType", True)
    return roles


def _counts(settings: Settings) -> dict[str, int]:
    """role (as in `_roles`) -> how many instances of it the stack runs."""
    counts = {"Seldon nodes": settings.seldon_node_count, "iago nodes": settings.loadgen_node_count,
              "GlusterFS servers": GLUSTER_SERVERS}
    if settings.mysql_dedicated_nodes:
        counts["MySQL nodes"] = settings.mysql_node_count
    return counts


def _image(ec2, image_id: str) -> Optional[dict]:
    images = ec2.describe_images(ImageIds=[image_id]).get("Images") or []
    return images[0] if images else None


def _debian_image(ec2) -> Optional[dict]:
    # The name pattern is amd64-only already.
    images = ec2.describe_images(Owners=[DEBIAN_OWNER], Filters=[
        {"Name": "name", "Values": [DEBIAN_AMI_NAME]}]).get("Images") or []
    return max(images, key=lambda i: i.get("CreationDate", "")) if images else None


def _boots(image: dict, info: dict) -> bool:
    """An AMI without BootMode boots legacy BIOS on x86; 'uefi' needs a type that offers UEFI."""
    modes = info.get("SupportedBootModes") or ["legacy-bios", "uefi"]
    mode = image.get("BootMode") or "legacy-bios"
    if mode == "uefi":
        return "uefi" in modes
    if mode == "legacy-bios":
        return "legacy-bios" in modes
    return True  # uefi-preferred boots either way


def check(settings: Settings, session: Optional[boto3.session.Session] = None) -> Report:
    """Run every check with read-only calls; never raises for an AWS answer, reports it."""
    region, zone = settings.region, settings.zone
    report = Report(region, zone)
    if session is None:
        try:
            session = boto3.session.Session(profile_name=settings.aws_profile)
        except ProfileNotFound:
            report.add("problem", "credentials",
                       f"AWS profile {settings.aws_profile!r} (aws:profile) is not in your AWS config files")
            return report

    # --- credentials
    try:
        who = session.client("sts", region_name=region).get_caller_identity()
        report.add("ok", "credentials", f"account {who['Account']} as {who['Arn']}")
    except NoCredentialsError:
        report.add("problem", "credentials",
                   "no AWS credentials found: run `aws configure` (or `aws sso login`) or set AWS_PROFILE")
        return report
    except UNREACHABLE as exc:
        report.add("problem", "AWS endpoint", _unreachable(exc))
        return report
    except ClientError as exc:
        report.add("problem", "credentials", f"AWS rejected the credentials ({_error(exc)})")
        return report
    except BotoCoreError as exc:
        # Credentials that could not even be loaded (partial keys, an expired SSO token, a
        # credential_process that failed): AWS never saw them.
        report.add("problem", "credentials", f"could not load the AWS credentials ({_error(exc)})")
        return report

    # --- region and zone
    known = {r for p in session.get_available_partitions() for r in session.get_available_regions("ec2", p)}
    if region not in known:
        report.add("problem", "region", f"{region} is not an AWS region (set `aws:region`, e.g. eu-west-1)")
        return report
    ec2 = session.client("ec2", region_name=region)
    try:
        listed = ec2.describe_availability_zones()["AvailabilityZones"]
        zones = {z["ZoneName"]: z.get("State") for z in listed}
        zone_ids = {z["ZoneName"]: z.get("ZoneId", "") for z in listed}
    except (ClientError, BotoCoreError) as exc:
        report.add("problem", "region", f"cannot list the zones of {region} ({_error(exc)}); is the region enabled for this account?")
        return report
    if zone not in zones:
        report.add("problem", "zone", f"{zone} is not a zone of {region}; zones: {', '.join(sorted(zones))} "
                   f"(`pulumi config set {PROJECT}:nodeZone <zone>`)")
        return report
    if zones[zone] != "available":
        report.add("problem", "zone", f"{zone} is {zones[zone]}, not available")
        return report
    refused = eks_unsupported_zones(list(zone_ids), list(zone_ids.values()))
    if zone in refused:
        usable = sorted(z for z, state in zones.items() if state == "available" and z not in refused)
        report.add("problem", "zone", f"{zone} is zone id {refused[zone]} in this account, where EKS does not create "
                   f"clusters; choose another: {', '.join(usable)} (`pulumi config set {PROJECT}:nodeZone <zone>`)")
        return report
    report.add("ok", "zone", f"{zone} is available in {region}")

    # --- instance types
    node_image, node_image_error = None, None
    parameter = eks_ami_parameter(settings.node_ami_type, settings.kubernetes_version)
    try:
        image_id = session.client("ssm", region_name=region).get_parameter(Name=parameter)["Parameter"]["Value"]
        node_image = _image(ec2, image_id)
        if node_image is None:
            node_image_error = f"{parameter} names {image_id}, which DescribeImages does not return"
    except (ClientError, BotoCoreError) as exc:
        node_image_error = f"cannot read {parameter} ({_error(exc)})"
    if node_image is None:
        report.add("warning", "EKS node AMI", f"boot mode unknown: {node_image_error}")
    else:
        report.add("ok", "EKS node AMI", f"{settings.node_ami_type} for Kubernetes {settings.kubernetes_version}: "
                   f"{node_image['ImageId']}, boot mode {node_image.get('BootMode') or 'unset (legacy-bios)'}")
    try:
        debian_image = _debian_image(ec2)
    except (ClientError, BotoCoreError) as exc:
        debian_image = None
        report.add("warning", "GlusterFS AMI", f"cannot look up the Debian 12 AMI ({_error(exc)})")
    else:
        if debian_image is None:
            report.add("problem", "GlusterFS AMI",
                       f"no Debian 12 AMI ({DEBIAN_AMI_NAME}, owner {DEBIAN_OWNER}) visible in {region}")

    vcpus: dict[str, Optional[int]] = {}
    for role, (itype, key, eks_node) in _roles(settings).items():
        subject = f"{role} {itype}"
        fix = f"`pulumi config set {PROJECT}:{key} {nearest_current(itype).split()[0]}`"
        try:
            info = ec2.describe_instance_types(InstanceTypes=[itype])["InstanceTypes"][0]
        except (ClientError, BotoCoreError, IndexError) as exc:
            report.add("problem", subject, f"not an instance type in {region} ({_error(exc)}); set another with "
                       f"`pulumi config set {PROJECT}:{key} <type>`")
            continue
        vcpus[itype] = info.get("VCpuInfo", {}).get("DefaultVCpus")
        try:
            offered = {o["Location"] for o in ec2.describe_instance_type_offerings(
                LocationType="availability-zone",
                Filters=[{"Name": "instance-type", "Values": [itype]}])["InstanceTypeOfferings"]}
        except (ClientError, BotoCoreError) as exc:
            report.add("problem", subject, f"cannot list the zones offering it ({_error(exc)})")
            continue
        if zone not in offered:
            where = f"offered only in {', '.join(sorted(offered))}" if offered else f"not offered anywhere in {region}"
            report.add("problem", subject, f"not offered in {zone} ({where}); nearest current type: "
                       f"{nearest_current(itype)}, {fix}")
            continue
        archs = info.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
        if "x86_64" not in archs:
            report.add("problem", subject, f"is {'/'.join(archs)}, but the {role} run x86_64 AMIs; pick an x86_64 type")
            continue
        image = node_image if eks_node else debian_image
        if image is not None and not _boots(image, info):
            report.add("problem", subject,
                       f"cannot boot {image['ImageId']}: the AMI boots {image.get('BootMode')}, this type only "
                       f"{'/'.join(info.get('SupportedBootModes') or [])}. Nearest current type: "
                       f"{nearest_current(itype)}, {fix}")
            continue
        net = info.get("NetworkInfo", {})
        boot_modes = info.get("SupportedBootModes") or []
        # What makes an old type doubtful is the platform, not the label: Xen, no ENA, BIOS only.
        legacy = (itype in CURRENT_TYPE or info.get("Hypervisor") == "xen"
                  or net.get("EnaSupport") == "unsupported" or boot_modes == ["legacy-bios"])
        pods = net.get("MaximumNetworkInterfaces", 0) * (net.get("Ipv4AddressesPerInterface", 1) - 1) + 2
        facts = ("previous generation, " if itype in CURRENT_TYPE else "") + (
            f"{info.get('Hypervisor', '?')}, ENA {net.get('EnaSupport', '?')}, boot {'/'.join(boot_modes or ['?'])}")
        if eks_node and legacy:
            doubt = node_image_error or "its boot mode fits, but nothing shows this AMI running on a Xen type without ENA"
            report.add("warning", subject,
                       f"{facts}: not proven to run the EKS {settings.node_ami_type} AMI ({doubt}). If the nodes "
                       f"do not join, the nearest current type is {nearest_current(itype)}: {fix}. Max pods {pods}.")
        elif legacy:
            report.add("warning", subject, f"{facts}: an old type; the nearest current one is {nearest_current(itype)}.")
        else:
            report.add("ok", subject, f"offered in {zone}, {facts}" + (f", max pods {pods}" if eks_node else ""))

    check_kubernetes_version(session, settings, report)
    check_quotas(session, settings, report, vcpus)
    return report


def cluster_versions(eks, version: str) -> list[dict]:
    """EKS's record of `version` (DescribeClusterVersions); empty when EKS does not offer it."""
    return eks.describe_cluster_versions(clusterType="eks", clusterVersions=[version], includeAll=True).get(
        "clusterVersions") or []


def check_kubernetes_version(session: boto3.session.Session, settings: Settings, report: Report) -> None:
    """`kubernetesVersion` must be in EKS standard support: extended support costs extra per hour."""
    version, subject = settings.kubernetes_version, "Kubernetes version"
    fix = f"`pulumi config set {PROJECT}:kubernetesVersion <version>`"
    try:
        eks = session.client("eks", region_name=settings.region)
        found = cluster_versions(eks, version)
    except (ClientError, BotoCoreError) as exc:
        report.add("warning", subject, f"cannot confirm that {version} is in EKS standard support ({_error(exc)})")
        return
    if not found:
        report.add("problem", subject, f"EKS does not offer {version} in {settings.region}; {fix}")
        return
    info = found[0]
    status = (info.get("versionStatus") or info.get("status") or "").upper().replace("-", "_")
    if status == "STANDARD_SUPPORT":
        end = info.get("endOfStandardSupportDate")
        report.add("ok", subject, f"{version} is in EKS standard support"
                   + (f" until {end:%Y-%m-%d}" if hasattr(end, "strftime") else ""))
    else:
        state = {"EXTENDED_SUPPORT": "in extended support", "UNSUPPORTED": "unsupported"}.get(status, f"of status {status!r}")
        report.add("problem", subject, f"{version} is {state} on EKS, "
                   f"not standard support (the cluster's upgrade policy allows standard support only); choose a newer "
                   f"version: {fix}")


def _quota_value(quotas, quota: Quota) -> float:
    """The account's applied value, or AWS's default where the account has none of its own."""
    try:
        return quotas.get_service_quota(ServiceCode=quota.service, QuotaCode=quota.code)["Quota"]["Value"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchResourceException":
            raise
        return quotas.get_aws_default_service_quota(ServiceCode=quota.service, QuotaCode=quota.code)["Quota"]["Value"]


def _running_standard_vcpus(ec2) -> int:
    """vCPUs of this region's running On-Demand instances of the standard families."""
    total, per_type = 0, {}
    for page in ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]):
        for reservation in page.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                if instance.get("InstanceLifecycle") in ("spot", "scheduled"):
                    continue
                if not instance.get("InstanceType", "").startswith(STANDARD_FAMILIES):
                    continue
                cpu = instance.get("CpuOptions")
                if cpu:
                    total += cpu.get("CoreCount", 1) * cpu.get("ThreadsPerCore", 1)
                    continue
                itype = instance["InstanceType"]
                if itype not in per_type:
                    info = ec2.describe_instance_types(InstanceTypes=[itype])["InstanceTypes"][0]
                    per_type[itype] = info["VCpuInfo"]["DefaultVCpus"]
                total += per_type[itype]
    return total


def check_quotas(session: boto3.session.Session, settings: Settings, report: Report,
                 vcpus: dict[str, Optional[int]]) -> None:
    """The quotas a fresh account runs out of first, each against what the stack needs and what is used."""
    region = settings.region
    ec2 = session.client("ec2", region_name=region)
    quotas = session.client("service-quotas", region_name=region)

    needed_vcpus: Optional[int] = 0
    for role, (itype, _key, _node) in _roles(settings).items():
        if not itype.startswith(STANDARD_FAMILIES):
            continue  # counted against another family's quota
        if vcpus.get(itype) is None:
            needed_vcpus = None  # the type was not found; its own finding says so
            break
        needed_vcpus += _counts(settings)[role] * vcpus[itype]

    def used_vpcs() -> int:
        return sum(len(p.get("Vpcs", [])) for p in ec2.get_paginator("describe_vpcs").paginate())

    def used_addresses() -> int:
        return len(ec2.describe_addresses(Filters=[{"Name": "domain", "Values": ["vpc"]}]).get("Addresses", []))

    wanted = [(VPCS, 1, used_vpcs, "VPC"), (ELASTIC_IPS, STACK_ELASTIC_IPS, used_addresses, "Elastic IP"),
              (STANDARD_VCPUS, needed_vcpus, lambda: _running_standard_vcpus(ec2), "vCPU")]
    for quota, needed, used, unit in wanted:
        subject = f"quota {quota.name}"
        if needed is None:
            report.add("warning", subject, "not checked: the vCPUs of an instance type are unknown")
            continue
        if needed == 0:
            continue
        try:
            limit = int(_quota_value(quotas, quota))
            in_use = used()
        except (ClientError, BotoCoreError) as exc:
            report.add("warning", subject, f"cannot read it ({_error(exc)}); the stack needs {needed} {unit}(s). "
                       f"Check with `aws service-quotas get-service-quota --service-code {quota.service} "
                       f"--quota-code {quota.code} --region {region}`")
            continue
        free = max(limit - in_use, 0)
        facts = f"the stack needs {needed} {unit}(s); {in_use} of {limit} in use, {free} free"
        if needed <= free:
            report.add("ok", subject, facts)
        else:
            report.add("problem", subject,
                       f"{facts}. Raise it to at least {in_use + needed} in the Service Quotas console "
                       f"(https://console.aws.amazon.com/servicequotas/home/services/{quota.service}/quotas/{quota.code}) "
                       f"or with `aws service-quotas request-service-quota-increase --service-code {quota.service} "
                       f"--quota-code {quota.code} --desired-value {in_use + needed} --region {region}`, "
                       f"or free some in {region}")


class PreflightError(pulumi.RunError):
    """Reported by the Pulumi CLI as a plain message, without a traceback."""


def run_if_live(settings: Settings) -> None:
    """Check AWS before declaring anything, unless `skipPreflight` (which the offline runner sets).

    Only for clusterMode=eks: on an existing cluster the program creates nothing on AWS, needs no
    AWS credentials, and none of the checks (EKS versions, AMI, quotas, instance types) apply."""
    if settings.skip_preflight or settings.cluster_mode != "eks":
        return
    report = check(settings)
    for finding in report.warnings:
        pulumi.log.warn(f"preflight: {finding.subject}: {finding.text}")
    if not report.ok:
        raise PreflightError(
            "preflight found problems before anything was created:\n"
            + "\n".join(f"  - {f.subject}: {f.text}" for f in report.problems)
            + f"\n(run `python -m infra.checks.preflight` for the full report; "
            f"`pulumi config set {PROJECT}:skipPreflight true` skips it)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra.checks.preflight", description=__doc__.split("\n")[0])
    p.add_argument("--stack", default="bench", help="stack whose Pulumi.<stack>.yaml to check (default: bench)")
    p.add_argument("--region", help="override aws:region")
    return p


def main(argv: Optional[list[str]] = None) -> int:
    args = parser().parse_args(argv)
    from infra.offline import error_line, stack_settings

    try:
        settings = stack_settings(args.stack, {"aws:region": args.region} if args.region else None)
    except (FileNotFoundError, SettingsError) as exc:
        print(error_line(args.stack, exc), file=sys.stderr)
        return 2
    report = check(settings)
    print(report.text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
