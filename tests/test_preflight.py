"""Preflight against moto's AWS: what it accepts, what it refuses, and what it says about m3.large."""

from __future__ import annotations

from datetime import datetime, timezone

import boto3
import pulumi
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from botocore.stub import Stubber
from moto.ec2.models import ec2_backends
from moto.servicequotas.models import ServiceQuotasBackend
from moto.ssm.models import Parameter, ssm_backends

from infra.checks import preflight
from infra.settings import parse_settings
from conftest import aws_unreachable

AL2023_135 = "/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/recommended/image_id"
CIDR = "203.0.113.7/32"


# What moto lacks: the EC2 quotas (its service-quotas knows only vpc's) and EKS
# DescribeClusterVersions. The tests set these; `cluster_versions` itself is tested with a Stubber.
EC2_QUOTAS = {"L-0263D0A3": 5.0, "L-1216C47A": 64.0}


@pytest.fixture
def aws(monkeypatch):
    """moto in place of AWS, with fake credentials and no way to reach the real metadata service.

    Yields the EC2 quota values (code -> value) and EKS version statuses (minor -> status) the
    fake answers with; a test may change them.
    """
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    # moto registers images under its own account; the preflight looks for Debian's there.
    monkeypatch.setattr(preflight, "DEBIAN_OWNER", DEFAULT_ACCOUNT_ID)
    world = {"quotas": dict(EC2_QUOTAS), "versions": {"1.35": "STANDARD_SUPPORT", "1.36": "STANDARD_SUPPORT"}}
    moto_quota = ServiceQuotasBackend.get_service_quota

    def get_service_quota(backend, service_code, quota_code):
        if service_code == "ec2" and quota_code in world["quotas"]:
            return {"ServiceCode": "ec2", "QuotaCode": quota_code, "Value": world["quotas"][quota_code],
                    "QuotaName": quota_code, "Unit": "None", "Adjustable": True, "GlobalQuota": False}
        return moto_quota(backend, service_code, quota_code)

    monkeypatch.setattr(ServiceQuotasBackend, "get_service_quota", get_service_quota)
    monkeypatch.setattr(preflight, "cluster_versions", lambda eks, v: (
        [{"clusterVersion": v, "versionStatus": world["versions"][v]}] if v in world["versions"] else []))
    with mock_aws():
        yield world


def _image(region: str, name: str, boot_mode: str | None) -> str:
    ec2 = boto3.client("ec2", region_name=region)
    image_id = ec2.register_image(Name=name, Architecture="x86_64", RootDeviceName="/dev/xvda",
                                  VirtualizationType="hvm")["ImageId"]
    # moto records every registered image as UEFI; set the mode this test is about.
    ec2_backends[DEFAULT_ACCOUNT_ID][region].amis[image_id].boot_mode = boot_mode
    return image_id


def _world(region: str = "eu-west-1", eks_boot: str | None = "uefi-preferred", debian_boot: str | None = None,
           k8s: str = "1.35", publish_eks: bool = True, publish_debian: bool = True) -> None:
    if publish_debian:
        _image(region, "debian-12-amd64-20261101-1903", debian_boot)
    if publish_eks:
        eks = _image(region, f"amazon-eks-node-al2023-x86_64-standard-{k8s}-v20261101", eks_boot)
        _publish(region, f"/aws/service/eks/optimized-ami/{k8s}/amazon-linux-2023/x86_64/standard/recommended/image_id", eks)


def _publish(region: str, name: str, value: str) -> None:
    """An AWS-owned public SSM parameter: moto refuses put_parameter under /aws/, so add it as moto's loader does."""
    ssm_backends[DEFAULT_ACCOUNT_ID][region]._parameters[name].append(Parameter(
        account_id=DEFAULT_ACCOUNT_ID, name=name, value=value, parameter_type="String", description=None,
        allowed_pattern=None, keyid=None, last_modified_date=datetime.now(timezone.utc), version=1, data_type="text"))
    assert boto3.client("ssm", region_name=region).get_parameter(Name=name)["Parameter"]["Value"] == value


def _settings(**config):
    region = config.pop("region", "eu-west-1")
    return parse_settings({"allowedCidrs": CIDR, "nodeZone": f"{region}c", "imageSource": "dockerhub", **config}, region=region)


def _unchecked(settings, **fields):
    """Settings the stack config now refuses before preflight runs (an arm64 type, a region the
    SDK does not know): preflight must still judge them itself, as it is also called directly."""
    return settings.model_copy(update=fields)


def _by_subject(report, words: str):
    return [f for f in report.findings if words in f.subject]


def test_current_types_pass_clean(aws):
    _world()
    report = preflight.check(_settings(instanceType="m5.large"))
    assert report.ok, f"m5.large in eu-west-1c should pass:\n{report.text()}"
    assert not report.warnings, f"a current type deserves no warning:\n{report.text()}"
    assert {f.subject for f in report.findings} >= {
        "credentials", "zone", "EKS node AMI", "Seldon nodes m5.large", "iago nodes m5.large", "GlusterFS servers m5.large"}
    assert "max pods 29" in _by_subject(report, "Seldon nodes")[0].text, report.text()
    for subject in ("Kubernetes version", "quota VPCs per Region", "quota EC2-VPC Elastic IPs",
                    "quota Running On-Demand Standard"):
        (finding,) = _by_subject(report, subject)
        assert finding.level == "ok", report.text()
    # 3 Seldon + 1 iago nodes + 2 GlusterFS servers, 2 vCPUs each; moto's default VPC is in use.
    assert "the stack needs 12 vCPU(s); 0 of 64 in use, 64 free" in _by_subject(report, "On-Demand")[0].text, report.text()
    assert "the stack needs 1 VPC(s); 1 of 5 in use, 4 free" in _by_subject(report, "VPCs")[0].text, report.text()


def test_m3_large_with_a_uefi_only_node_ami_is_a_problem_naming_the_current_type(aws):
    _world(eks_boot="uefi", debian_boot=None)
    report = preflight.check(_settings(instanceType="m3.large"))
    assert not report.ok, f"m3.large (legacy BIOS only) cannot boot a UEFI-only AMI:\n{report.text()}"
    for role in ("Seldon nodes", "iago nodes"):
        (finding,) = _by_subject(report, role)
        assert finding.level == "problem", report.text()
        assert "cannot boot" in finding.text and "legacy-bios" in finding.text, finding.text
        assert "m5.large (or m6i.large)" in finding.text, f"must name the nearest current type: {finding.text}"
        assert "pulumi config set seldon-bench:instanceType m5.large" in finding.text, finding.text
    # The Debian image boots legacy BIOS: the GlusterFS servers are only flagged as old.
    (gluster,) = _by_subject(report, "GlusterFS servers")
    assert gluster.level == "warning" and "m5.large" in gluster.text, report.text()


def test_m3_large_with_a_dual_boot_node_ami_is_a_plain_warning_not_a_failure(aws):
    _world(eks_boot="uefi-preferred")
    report = preflight.check(_settings(instanceType="m3.large"))
    assert report.ok, f"a uefi-preferred AMI boots on m3.large; only doubt remains:\n{report.text()}"
    (seldon,) = _by_subject(report, "Seldon nodes")
    assert seldon.level == "warning", report.text()
    for words in ("previous generation", "xen", "ENA unsupported", "not proven", "m5.large (or m6i.large)", "Max pods 29"):
        assert words in seldon.text, f"the m3.large warning should say {words!r}: {seldon.text}"


def test_unknown_node_ami_boot_mode_is_said_plainly(aws):
    _world(publish_eks=False)  # moto has no EKS SSM parameters of its own
    report = preflight.check(_settings(instanceType="m3.large"))
    (ami,) = _by_subject(report, "EKS node AMI")
    assert ami.level == "warning" and AL2023_135 in ami.text, report.text()
    (seldon,) = _by_subject(report, "Seldon nodes")
    assert seldon.level == "warning" and AL2023_135 in seldon.text and "m5.large" in seldon.text, seldon.text


def test_per_role_type_is_checked_and_the_fix_names_its_key(aws):
    _world(eks_boot="uefi")
    report = preflight.check(_settings(instanceType="m5.large", loadgenInstanceType="m3.large"))
    (iago,) = _by_subject(report, "iago nodes")
    assert iago.level == "problem" and "seldon-bench:loadgenInstanceType m5.large" in iago.text, iago.text
    assert _by_subject(report, "Seldon nodes")[0].level == "ok", report.text()


def test_type_not_offered_in_the_zone(aws):
    _world(region="us-east-2")
    report = preflight.check(_settings(region="us-east-2", instanceType="m3.large"))
    (seldon,) = _by_subject(report, "Seldon nodes")
    assert seldon.level == "problem" and "not offered in us-east-2c" in seldon.text, report.text()
    assert "m5.large (or m6i.large)" in seldon.text, seldon.text


def test_zone_where_eks_creates_no_cluster_is_a_problem(aws):
    # moto maps us-east-1e to use1-az3, a zone id EKS refuses for cluster subnets.
    _world(region="us-east-1")
    report = preflight.check(_settings(region="us-east-1", nodeZone="us-east-1e", instanceType="m5.large"))
    (zone,) = _by_subject(report, "zone")
    assert zone.level == "problem" and "use1-az3" in zone.text and "us-east-1a" in zone.text, report.text()
    assert "us-east-1e," not in zone.text, f"the refused zone must not be offered as a choice: {zone.text}"
    report = preflight.check(_settings(region="us-east-1", nodeZone="us-east-1c", instanceType="m5.large"))
    assert _by_subject(report, "zone")[0].level == "ok", report.text()


def test_unknown_and_arm_types_are_problems(aws):
    _world()
    report = preflight.check(_unchecked(_settings(instanceType="m5.large", seldonInstanceType="m9.large"),
                                        gluster_instance_type="m6g.large"))
    (seldon,) = _by_subject(report, "Seldon nodes")
    assert seldon.level == "problem" and "not an instance type" in seldon.text and "seldonInstanceType" in seldon.text, seldon.text
    (gluster,) = _by_subject(report, "GlusterFS servers")
    assert gluster.level == "problem" and "x86_64" in gluster.text, gluster.text


def test_zone_not_in_region(aws):
    _world()
    report = preflight.check(_settings(nodeZone="eu-west-1z"))
    (zone,) = _by_subject(report, "zone")
    assert zone.level == "problem" and "eu-west-1a, eu-west-1b, eu-west-1c" in zone.text, report.text()
    assert "seldon-bench:nodeZone" in zone.text, zone.text


def test_unknown_region(aws):
    report = preflight.check(_unchecked(_settings(), region="xx-nowhere-1", node_zone="xx-nowhere-1c"))
    (region,) = _by_subject(report, "region")
    assert region.level == "problem" and "xx-nowhere-1 is not an AWS region" in region.text, report.text()


def test_missing_debian_ami_is_a_problem(aws):
    _world(publish_debian=False)
    report = preflight.check(_settings(instanceType="m5.large"))
    (ami,) = _by_subject(report, "GlusterFS AMI")
    assert ami.level == "problem" and "debian-12-amd64-*" in ami.text, report.text()


def test_no_credentials(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask a real metadata service
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    report = preflight.check(_settings())
    assert [f.subject for f in report.problems] == ["credentials"], report.text()
    assert "no AWS credentials" in report.problems[0].text and "aws configure" in report.problems[0].text


def test_cli_reads_the_stack_and_exits_1_on_a_problem(aws, capsys):
    _world(eks_boot="uefi")
    assert preflight.main(["--stack", "bench"]) == 1, "bench (m3.large) with a UEFI-only AMI must fail"
    out = capsys.readouterr().out
    assert "region eu-west-1, zone eu-west-1c" in out and "PROBLEM Seldon nodes m3.large" in out, out
    assert "m5.large" in out and out.rstrip().endswith("problem(s), 1 warning(s)"), out


def test_cli_exits_0_when_only_doubt_remains(aws, capsys):
    _world(eks_boot="uefi-preferred")
    assert preflight.main(["--stack", "bench"]) == 0, capsys.readouterr().out
    assert "WARNING Seldon nodes m3.large" in capsys.readouterr().out


def test_nearest_current_types():
    assert preflight.nearest_current("m3.large") == "m5.large (or m6i.large)"
    assert preflight.nearest_current("c4.8xlarge") == "c5.9xlarge (or c6i.8xlarge)"
    assert preflight.nearest_current("t2.micro") == "t3.micro"
    assert preflight.eks_ami_parameter("AL2023_x86_64_STANDARD", "1.35") == AL2023_135
    assert preflight.eks_ami_parameter("BOTTLEROCKET_x86_64", "1.35") == "/aws/service/bottlerocket/aws-k8s-1.35/x86_64/latest/image_id"


# ------------------------------------------------------------------ inside the Pulumi program


def test_run_if_live_does_nothing_when_skipped(monkeypatch):
    calls = []
    monkeypatch.setattr(preflight, "check", lambda *args: calls.append(args))
    preflight.run_if_live(_settings(skipPreflight="true"))
    assert calls == [], "skipPreflight must keep preflight from calling AWS"


def test_bench_program_never_reaches_aws(bench):
    assert bench.outputs.get("clusterName"), "the bench program ran to its outputs under mocks without AWS"


def test_run_if_live_raises_one_clean_error_naming_every_problem(monkeypatch):
    report = preflight.Report("eu-west-1", "eu-west-1c")
    report.add("problem", "Seldon nodes m3.large", "cannot boot ami-1; nearest current type: m5.large")
    report.add("problem", "GlusterFS AMI", "no Debian 12 AMI")
    report.add("warning", "iago nodes m3.large", "old")
    monkeypatch.setattr(preflight, "check", lambda settings: report)
    warnings = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warnings.append(msg))
    with pytest.raises(pulumi.RunError) as err:
        preflight.run_if_live(_settings())
    text = str(err.value)
    assert "Seldon nodes m3.large: cannot boot ami-1; nearest current type: m5.large" in text, text
    assert "GlusterFS AMI: no Debian 12 AMI" in text, text
    assert "old" not in text and warnings == ["preflight: iago nodes m3.large: old"], (text, warnings)
    preflight.run_if_live(_settings(skipPreflight="true"))  # skipped on request


def test_a_denied_call_is_reported_not_raised(aws):
    _world()

    class DeniedOfferings(boto3.session.Session):
        def client(self, name, **kw):
            client = super().client(name, **kw)
            if name == "ec2":
                def denied(**_):
                    raise ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "not allowed"}},
                                      "DescribeInstanceTypeOfferings")
                client.describe_instance_type_offerings = denied
            return client

    report = preflight.check(_settings(instanceType="m5.large"), session=DeniedOfferings())
    (seldon,) = _by_subject(report, "Seldon nodes")
    assert seldon.level == "problem" and "UnauthorizedOperation: not allowed" in seldon.text, report.text()


def test_the_stack_aws_profile_is_used_and_a_missing_one_reported(aws, tmp_path, monkeypatch):
    _world()
    credentials = tmp_path / "credentials"
    credentials.write_text("[bench-admin]\naws_access_key_id = profilekey\naws_secret_access_key = s\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    used = []
    real = boto3.session.Session

    def recording(*args, **kwargs):
        session = real(*args, **kwargs)
        used.append(session.get_credentials().access_key)
        return session

    monkeypatch.setattr(boto3.session, "Session", recording)
    preflight.check(parse_settings({"allowedCidrs": CIDR, "imageSource": "dockerhub"}, region="eu-west-1", aws_profile="bench-admin"))
    assert used == ["profilekey"], f"preflight did not use aws:profile's credentials: {used}"
    report = preflight.check(parse_settings({"allowedCidrs": CIDR, "imageSource": "dockerhub"}, region="eu-west-1", aws_profile="nope"))
    assert not report.ok
    assert [f.text for f in _by_subject(report, "credentials")] == [
        "AWS profile 'nope' (aws:profile) is not in your AWS config files"]


# ------------------------------------------------------------------ quotas and the Kubernetes version


def test_a_short_vcpu_quota_names_need_usage_and_the_command_to_raise_it(aws):
    _world()
    aws["quotas"]["L-1216C47A"] = 16.0
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    image = ec2.describe_images(Owners=[DEFAULT_ACCOUNT_ID])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, InstanceType="m5.xlarge", MinCount=1, MaxCount=1)  # 4 vCPUs in use
    ec2.run_instances(ImageId=image, InstanceType="p3.2xlarge", MinCount=1, MaxCount=1)  # another family's quota
    report = preflight.check(_settings(instanceType="m5.large", mysqlDedicatedNodes="true",
                                       mysqlInstanceType="r5.xlarge", mysqlNodeCount="2"))
    (quota,) = _by_subject(report, "On-Demand Standard")
    # 3 Seldon + 1 iago m5.large, 2 GlusterFS m5.large (2 vCPUs each) + 2 MySQL r5.xlarge (4 each).
    assert quota.level == "problem", report.text()
    assert "the stack needs 20 vCPU(s); 4 of 16 in use, 12 free" in quota.text, quota.text
    assert ("aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-1216C47A "
            "--desired-value 24 --region eu-west-1") in quota.text, quota.text
    assert "servicequotas/home/services/ec2/quotas/L-1216C47A" in quota.text, quota.text


def test_vpc_and_elastic_ip_quotas_count_what_is_already_used(aws):
    _world()
    aws["quotas"]["L-0263D0A3"] = 2.0
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    for _ in range(4):
        ec2.create_vpc(CidrBlock="10.9.0.0/16")  # with moto's default VPC: 5 of moto's 5
    for _ in range(2):
        ec2.allocate_address(Domain="vpc")
    report = preflight.check(_settings(instanceType="m5.large"))
    (vpcs,) = _by_subject(report, "VPCs per Region")
    assert vpcs.level == "problem" and "the stack needs 1 VPC(s); 5 of 5 in use, 0 free" in vpcs.text, report.text()
    assert "--service-code vpc --quota-code L-F678F1CE --desired-value 6" in vpcs.text, vpcs.text
    (eips,) = _by_subject(report, "Elastic IPs")
    assert eips.level == "problem" and "needs 1 Elastic IP(s); 2 of 2 in use, 0 free" in eips.text, report.text()
    assert _by_subject(report, "On-Demand Standard")[0].level == "ok", report.text()


def test_an_unreadable_quota_is_a_warning_with_the_command_to_check_it(aws):
    _world()
    del aws["quotas"]["L-0263D0A3"]  # moto then answers NoSuchResource and has no default to fall back on

    class NoDefaults(boto3.session.Session):
        def client(self, name, **kw):
            client = super().client(name, **kw)
            if name == "service-quotas":
                def denied(**_):
                    raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}},
                                      "GetAWSDefaultServiceQuota")
                client.get_aws_default_service_quota = denied
            return client

    report = preflight.check(_settings(instanceType="m5.large"), session=NoDefaults())
    (eips,) = _by_subject(report, "Elastic IPs")
    assert eips.level == "warning" and "AccessDeniedException" in eips.text, report.text()
    assert "aws service-quotas get-service-quota --service-code ec2 --quota-code L-0263D0A3" in eips.text, eips.text


@pytest.mark.parametrize("status,level,words", [
    ("STANDARD_SUPPORT", "ok", "1.35 is in EKS standard support until 2027-03-27"),
    ("EXTENDED_SUPPORT", "problem", "1.35 is in extended support on EKS, not standard support"),
    ("UNSUPPORTED", "problem", "1.35 is unsupported on EKS"),
    (None, "problem", "EKS does not offer 1.35 in eu-west-1"),
])
def test_kubernetes_version_is_confirmed_with_describe_cluster_versions(status, level, words):
    eks = boto3.client("eks", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(eks)
    found = [] if status is None else [{
        "clusterVersion": "1.35", "clusterType": "eks", "versionStatus": status,
        "endOfStandardSupportDate": datetime(2027, 3, 27, tzinfo=timezone.utc)}]
    stub.add_response("describe_cluster_versions", {"clusterVersions": found},
                      {"clusterType": "eks", "clusterVersions": ["1.35"], "includeAll": True})
    stub.activate()

    class Session:
        def client(self, name, **kw):
            assert name == "eks"
            return eks

    report = preflight.Report("eu-west-1", "eu-west-1c")
    preflight.check_kubernetes_version(Session(), _settings(), report)
    stub.assert_no_pending_responses()
    (finding,) = report.findings
    assert finding.level == level and words in finding.text, finding.text
    if level == "problem":
        assert "pulumi config set seldon-bench:kubernetesVersion" in finding.text, finding.text


def test_kubernetes_version_out_of_standard_support_fails_the_check(aws):
    _world()
    aws["versions"]["1.35"] = "EXTENDED_SUPPORT"
    report = preflight.check(_settings(instanceType="m5.large"))
    assert [f.subject for f in report.problems] == ["Kubernetes version"], report.text()


def test_unreachable_aws_is_not_rejected_credentials(monkeypatch):
    """No answer at all (here: nothing listens on the endpoint) says nothing about the credentials."""
    aws_unreachable(monkeypatch)
    report = preflight.check(_settings())
    (found,) = report.problems
    assert found.subject == "AWS endpoint" and found.text.startswith("could not reach AWS (endpoint unreachable"), found
    assert "rejected" not in found.text and "127.0.0.1:9" in found.text, found


@pytest.mark.parametrize("code", ["InvalidClientTokenId", "ExpiredToken"])
def test_credentials_aws_refuses_are_rejected_credentials(code):
    sts = boto3.client("sts", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(sts)
    stub.add_client_error("get_caller_identity", code, "The security token included in the request is invalid.")

    class Session:
        def client(self, name, region_name=None):
            assert name == "sts", name
            return sts

    with stub:
        report = preflight.check(_settings(), session=Session())
    (found,) = report.problems
    assert found.subject == "credentials" and found.text.startswith(f"AWS rejected the credentials ({code}"), found


def test_cli_refuses_a_bad_stack_with_one_error_line_and_exit_2(capsys):
    assert preflight.main(["--stack", "bench", "--region", "eu-west-9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Pulumi.bench.yaml: invalid stack config:") and err.count("error:") == 1, err
    assert "aws:region must be an AWS region" in err, err
