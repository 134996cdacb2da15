"""Stack config rules: defaults of the seed, and one clear error naming every bad key."""

import pytest

from infra.settings import PROJECT, Settings, SettingsError, parse_settings

# What every EKS stack needs: the caller's address, and an image source (here the ECR cache's
# Docker Hub credentials; tests/test_image_cache.py covers the others).
IMAGES = {"dockerHubUsername": "benchuser", "dockerHubToken": "dckr_pat_test"}
OK = {"allowedCidrs": '["203.0.113.7/32"]', **IMAGES}
# An existing cluster pulls from Docker Hub unless told otherwise: no cache credentials.
EXISTING_OK = {"allowedCidrs": '["203.0.113.7/32"]'}


def problems(raw, region="eu-west-1"):
    with pytest.raises(SettingsError) as info:
        parse_settings({**OK, **raw}, region=region)
    return info.value.problems


def test_defaults_are_the_seed_benchmark():
    s = parse_settings(OK, region="eu-west-1")
    assert (s.instance_type, s.seldon_type, s.loadgen_type, s.gluster_type) == ("m3.large",) * 4
    assert (s.seldon_node_count, s.loadgen_node_count) == (3, 1)
    assert s.zone == "eu-west-1c"
    assert (s.api_replicas, s.request_rate, s.replay_users, s.replay_calls, s.loadtest_minutes) == (2, 100, 10000, 50000, 30)
    assert s.replay_items == 10000, "the seed's create_recommendation_replay.sh ml10m ... 10000 50000 asks /items for 10000"
    assert s.recommendation_rate == 50
    assert s.kubernetes_version == "1.35"
    assert s.mysql_storage == "glusterfs" and s.mysql_read_replicas == 0 and not s.mysql_dedicated_nodes


def test_settings_are_frozen():
    s = parse_settings(OK, region="eu-west-1")
    with pytest.raises(Exception):
        s.api_replicas = 5


def test_per_role_instance_types_override_the_default():
    s = parse_settings({**OK, "instanceType": "m5.xlarge", "loadgenInstanceType": "c5.large"}, region="eu-west-1")
    assert (s.seldon_type, s.loadgen_type, s.gluster_type) == ("m5.xlarge", "c5.large", "m5.xlarge")


def test_allowed_cidrs_accepts_comma_separated_text():
    s = parse_settings({**IMAGES, "allowedCidrs": "203.0.113.7/32, 198.51.100.0/24"}, region="eu-west-1")
    assert s.allowed_cidrs == ["203.0.113.7/32", "198.51.100.0/24"]


def test_api_replicas_zero_is_named_with_its_value():
    assert problems({"apiReplicas": "0"}) == [f"{PROJECT}:apiReplicas must be >= 1, got 0"]


@pytest.mark.parametrize("key,value,expected", [
    ("seldonNodeCount", "-1", "seldonNodeCount must be >= 1, got -1"),
    ("loadgenNodeCount", "0", "loadgenNodeCount must be >= 1, got 0"),
    ("requestRate", "0", "requestRate must be >= 1, got 0"),
    ("replayUsers", "0", "replayUsers must be >= 1, got 0"),
    ("replayItems", "0", "replayItems must be >= 1, got 0"),
    ("replayItems", "-10", "replayItems must be >= 1, got -10"),
    ("replayItems", "10682", "replayItems must be <= 10681, got 10682"),  # more than ML10M's movies
    ("replayItems", "ten", "replayItems must be a whole number, got 'ten'"),
    ("replayItems", "100.5", "replayItems must be a whole number, got 100.5"),
    ("loadtestMinutes", "0", "loadtestMinutes must be >= 1, got 0"),
    ("seldonNodeCount", "three", "seldonNodeCount must be a whole number, got 'three'"),
    ("allowPublic", "maybe", "allowPublic must be true or false, got 'maybe'"),
    ("instanceType", "m3-large", "instanceType must be an EC2 instance type such as m3.large"),
    ("glusterInstanceType", "large", "glusterInstanceType must be an EC2 instance type"),
    ("kubernetesVersion", "1.24", "kubernetesVersion must be one of 1.35, 1.36, got 1.24"),
    # Out of EKS standard support by December 2026 (1.33 since 2026-07-29, 1.34 since 2026-12-02).
    ("kubernetesVersion", "1.33", "kubernetesVersion must be one of 1.35, 1.36, got 1.33"),
    ("kubernetesVersion", "1.34", "kubernetesVersion must be one of 1.35, 1.36, got 1.34"),
    ("allowedCidrs", '["10.0.0.300/32"]', "allowedCidrs must be CIDRs such as 203.0.113.7/32; not CIDRs: 10.0.0.300/32"),
    ("allowedCidrs", '["10.0.0.1/8"]', "not CIDRs: 10.0.0.1/8"),
    ("nodeZone", "us-east-1a", "nodeZone must be a zone of region eu-west-1 such as eu-west-1c, got 'us-east-1a'"),
    ("apiMemory", "3 gigs", "apiMemory must be a Kubernetes memory quantity"),
    ("mysqlStorage", "nvme", "mysqlStorage must be one of 'glusterfs' or 'ssd'"),
    ("vpcCidr", "10.0.0.0/24", "vpcCidr must be a private IPv4 /16"),
])
def test_bad_value_names_key_value_and_expectation(key, value, expected):
    found = problems({key: value})
    assert len(found) == 1, found
    assert found[0].startswith(f"{PROJECT}:{key} "), found
    assert expected in found[0], found


def test_replicas_beyond_the_seldon_nodes_are_refused():
    found = problems({"apiReplicas": "13"})
    assert found == [f"{PROJECT}:apiReplicas must be <= 12 (4 per Seldon node, seldonNodeCount=3), got 13"]


def test_fewer_calls_than_users_is_allowed_as_in_seldons_script():
    """create_recommendation_replay.py asks nothing of --num-actions against --num-users."""
    s = parse_settings({**OK, "replayUsers": "10000", "replayCalls": "9999"}, region="eu-west-1")
    assert (s.replay_users, s.replay_calls) == (10000, 9999)


@pytest.mark.parametrize("value", ["1", "10000", "10681"])
def test_replay_items_takes_one_to_all_of_ml10ms_movies(value):
    assert parse_settings({**OK, "replayItems": value}, region="eu-west-1").replay_items == int(value)


def test_heap_must_fit_in_the_api_container():
    found = problems({"apiJavaHeap": "4G", "apiMemory": "3Gi"})
    assert "apiJavaHeap must leave at least 512 MiB of apiMemory (3Gi)" in found[0]


@pytest.mark.parametrize("heap,memory,ok", [
    ("2530M", "3Gi", True),  # the seed: 542 MiB beside the heap
    ("2560M", "3Gi", True),  # exactly 512 MiB
    ("2561M", "3Gi", False),
    ("2800M", "3Gi", False),
    ("3G", "4Gi", True),  # bench-api4
    ("3G", "3Gi", False),
])
def test_api_heap_leaves_non_heap_room_in_the_request(heap, memory, ok):
    try:
        parse_settings({**OK, "apiJavaHeap": heap, "apiMemory": memory}, region="eu-west-1")
        found = []
    except SettingsError as exc:
        found = [p for p in exc.problems if "apiJavaHeap" in p]
    assert (not found) == ok, f"apiJavaHeap={heap} apiMemory={memory}: {found}"
    if found:
        assert "apiMemory" in found[0] and "lower apiJavaHeap or raise apiMemory" in found[0]


def test_missing_allowed_cidrs_shows_the_command_to_fix_it():
    with pytest.raises(SettingsError) as info:
        parse_settings({}, region="eu-west-1")
    assert "allowedCidrs is required" in str(info.value)
    assert f"pulumi config set --path '{PROJECT}:allowedCidrs[0]'" in str(info.value)


def test_the_whole_internet_needs_allow_public():
    found = problems({"allowedCidrs": '["0.0.0.0/0"]'})
    assert "allowPublic true" in found[0]
    s = parse_settings({**IMAGES, "allowedCidrs": '["0.0.0.0/0"]', "allowPublic": "true"}, region="eu-west-1")
    assert s.allow_public


def test_unknown_key_suggests_the_nearest_setting():
    assert problems({"apiReplica": "3"}) == [
        f"{PROJECT}:apiReplica is not a setting of seldon-bench (did you mean {PROJECT}:apiReplicas?)"]


def test_every_bad_key_is_reported_at_once():
    found = problems({"apiReplicas": "0", "seldonNodeCount": "x", "allowedCidrs": '["0.0.0.0/0"]',
                      "nodeZone": "us-east-1a"})
    keys = sorted(p.split()[0] for p in found)
    assert keys == sorted(f"{PROJECT}:{k}" for k in ("apiReplicas", "seldonNodeCount", "allowedCidrs", "nodeZone"))


def test_region_comes_from_aws_region_and_is_checked():
    assert "region must be an AWS region" in problems({}, region="europe")[0]


def test_existing_cluster_mode_needs_its_context_and_volume():
    found = problems({"clusterMode": "existing"})
    assert any("kubeContext is required" in p for p in found)
    assert any("existingNfsServer is required" in p for p in found)


def test_every_setting_has_a_description():
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description for the README table"


def test_bad_value_fails_the_program_before_any_resource(program):
    from infra.settings import SettingsError as Err
    with pytest.raises(Err) as info:
        program({"apiReplicas": "0"})
    assert str(info.value).endswith("seldon-bench:apiReplicas must be >= 1, got 0")


def test_ssd_mysql_is_refused_on_an_existing_cluster():
    """Existing clusters get no EBS CSI driver from us, so a gp3 claim would stay Pending."""
    with pytest.raises(SettingsError) as info:
        parse_settings({**EXISTING_OK, "clusterMode": "existing", "kubeContext": "kind-bench",
                        "existingNfsServer": "10.1.2.3", "mysqlStorage": "ssd"}, region="eu-west-1")
    found = info.value.problems
    assert found == [f"{PROJECT}:mysqlStorage=ssd needs the EBS CSI driver that only clusterMode=eks installs; "
                     "use mysqlStorage=glusterfs (the NFS volume) with clusterMode=existing"], found


def test_image_check_runs_unless_skipped():
    assert parse_settings(OK, region="eu-west-1").skip_image_check is False
    assert parse_settings({**OK, "skipImageCheck": "true"}, region="eu-west-1").skip_image_check is True


def test_each_iago_instance_needs_at_least_one_request_per_second():
    found = problems({"requestRate": "2", "loadgenNodeCount": "3"})
    assert found == [f"{PROJECT}:requestRate must be >= loadgenNodeCount (3): "
                     "each iago instance replays at least 1 req/s, got 2"]


def test_aws_profile_comes_from_aws_profile():
    assert parse_settings(OK, region="eu-west-1").aws_profile is None
    assert parse_settings(OK, region="eu-west-1", aws_profile="bench-admin").aws_profile == "bench-admin"


def test_ml10m_url_must_be_http():
    assert parse_settings(OK, region="eu-west-1").ml10m_url.endswith("/ml-10m.zip")
    found = problems({"ml10mUrl": "s3://bucket/ml-10m.zip"})
    assert found == [f"{PROJECT}:ml10mUrl must be an http(s) URL of ml-10m.zip, got 's3://bucket/ml-10m.zip'"]


# ------------------------------------------------------------------ access


def test_eks_needs_an_ipv4_allowed_cidr_for_its_api_endpoint():
    found = problems({"allowedCidrs": '["2001:db8::/64"]'})
    assert len(found) == 1 and found[0].startswith(f"{PROJECT}:allowedCidrs must hold at least one IPv4 CIDR"), found
    assert "pulumi up" in found[0], f"the message must say the address running pulumi must be inside: {found[0]}"
    s = parse_settings({**IMAGES, "allowedCidrs": '["2001:db8::/64", "203.0.113.7/32"]'}, region="eu-west-1")
    assert s.allowed_cidrs == ["2001:db8::/64", "203.0.113.7/32"]


@pytest.mark.parametrize("key,value,fix", [
    ("assumeRoles", '[{"roleArn": "arn:aws:iam::123456789012:role/admin"}]', "role_arn + source_profile"),
    ("assumeRole", '{"roleArn": "arn:aws:iam::123456789012:role/admin"}', "aws:profile"),
    ("assumeRoleWithWebIdentity", '{"roleArn": "arn:aws:iam::123456789012:role/ci"}', "aws:profile"),
    ("accessKey", "AKIAEXAMPLE", "export AWS_ACCESS_KEY_ID"),
    ("secretKey", "secret", "export AWS_ACCESS_KEY_ID"),
    ("sharedCredentialsFiles", '["/tmp/creds"]', "AWS_SHARED_CREDENTIALS_FILE"),
])
def test_credentials_the_kubeconfig_would_not_use_are_refused(key, value, fix):
    """EKS makes the cluster's creator its admin; `aws eks get-token` sees only the environment and aws:profile."""
    with pytest.raises(SettingsError) as info:
        parse_settings(OK, region="eu-west-1", aws_config={"region": "eu-west-1", key: value})
    (found,) = info.value.problems
    assert found.startswith(f"aws:{key} gives Pulumi credentials that `aws eks get-token`"), found
    assert f"pulumi config rm aws:{key}" in found and fix in found, found


def test_credentials_get_token_shares_are_accepted():
    s = parse_settings(OK, region="eu-west-1", aws_profile="bench-admin",
                       aws_config={"region": "eu-west-1", "profile": "bench-admin", "skipMetadataApiCheck": "false"})
    assert s.aws_profile == "bench-admin"
    # An existing cluster brings its own kubeconfig: Pulumi's AWS credentials do not matter there.
    parse_settings({**EXISTING_OK, "clusterMode": "existing", "kubeContext": "k", "existingNfsServer": "10.0.0.5"},
                   region="eu-west-1", aws_config={"accessKey": "AKIAEXAMPLE"})


def test_credential_refusal_comes_with_the_other_problems():
    with pytest.raises(SettingsError) as info:
        parse_settings({**OK, "apiReplicas": "0"}, region="eu-west-1", aws_config={"accessKey": "AKIAEXAMPLE"})
    assert [p.split(" ")[0] for p in info.value.problems] == [f"{PROJECT}:apiReplicas", "aws:accessKey"], info.value.problems


def test_the_program_refuses_a_stack_assume_role(program):
    with pytest.raises(Exception, match="aws:assumeRoles gives Pulumi credentials"):
        program({"aws:assumeRoles": '[{"roleArn": "arn:aws:iam::123456789012:role/admin"}]'})


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("cidrs", [
    ["0.0.0.0/1", "128.0.0.0/1"],  # the whole Internet in two halves
    ["0.0.0.0/1"],
    ["64.0.0.0/2"],
    ["11.0.0.0/8", "12.0.0.0/8"],  # each only a /8, together more
    ["203.0.113.7/32", "::/0"],
    ["203.0.113.7/32", "::/1", "8000::/1"],
    ["203.0.113.7/32", "2000::/7"],
])
def test_wide_public_ranges_need_allow_public_judged_on_the_union(cidrs):
    text = ", ".join(cidrs)
    found = problems({"allowedCidrs": text})
    assert len(found) == 1 and found[0].startswith(f"{PROJECT}:allowedCidrs "), found
    assert f"pulumi config set {PROJECT}:allowPublic true" in found[0] and "more than a /8" in found[0], found
    s = parse_settings({**IMAGES, "allowedCidrs": text, "allowPublic": "true"}, region="eu-west-1")
    assert s.allow_public


def test_halves_are_named_as_the_range_they_make():
    (found,) = problems({"allowedCidrs": '["0.0.0.0/1", "128.0.0.0/1"]'})
    assert "(together 0.0.0.0/0)" in found and "100% of the IPv4 Internet" in found, found


@pytest.mark.parametrize("cidrs", [
    ["10.0.0.0/8"],  # private: no public address at all
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"],
    ["11.0.0.0/8"],  # one public /8 is not wider than a /8
    ["203.0.113.7/32", "198.51.100.0/24"],
    ["203.0.113.7/32", "2001:db8::/32"],  # IPv6 documentation range: not public
    ["203.0.113.7/32", "2600::/12"],
    ["0.0.0.0/8", "10.0.0.0/7"],  # 0/8, 10/8 and 11/8: a /8 of public addresses
])
def test_private_and_narrow_ranges_pass_without_allow_public(cidrs):
    assert parse_settings({**IMAGES, "allowedCidrs": ", ".join(cidrs)}, region="eu-west-1").allowed_cidrs == cidrs


def test_public_addresses_count_overlaps_once():
    from infra.settings import public_addresses

    assert public_addresses(["11.0.0.0/8", "11.1.0.0/16"])[4] == 2**24
    assert public_addresses(["10.0.0.0/8"]) == {4: 0, 6: 0}


def test_the_graviton_table_agrees_with_ec2s_own_architectures():
    """moto ships EC2's DescribeInstanceTypes data: every type, with SupportedArchitectures."""
    import gzip
    import json as json_
    import pathlib

    import moto.ec2

    data = json_.load(gzip.open(pathlib.Path(moto.ec2.__file__).parent / "resources" / "instance_types.json.gz"))
    from infra.settings import is_arm64

    wrong = sorted(t for t, info in data.items()
                   if is_arm64(t) != any(a.startswith("arm64") for a in info["ProcessorInfo"]["SupportedArchitectures"]))
    assert len(data) > 1000 and not wrong, f"is_arm64 is wrong for {wrong[:20]}"


@pytest.mark.parametrize("raw,key", [
    ({"instanceType": "m6g.large"}, "instanceType"),
    ({"seldonInstanceType": "c7g.xlarge", "nodeAmiType": "BOTTLEROCKET_x86_64"}, "seldonInstanceType"),
    ({"loadgenInstanceType": "t4g.medium"}, "loadgenInstanceType"),
    ({"glusterInstanceType": "r8g.large"}, "glusterInstanceType"),
    ({"mysqlDedicatedNodes": "true", "mysqlInstanceType": "m7g.large"}, "mysqlInstanceType"),
])
def test_arm64_types_are_refused_with_x86_64_amis(raw, key):
    (found,) = problems(raw)
    assert found.startswith(f"{PROJECT}:{key} ") and "arm64" in found and "x86_64" in found, found


def test_arm64_types_do_not_matter_on_an_existing_cluster():
    s = parse_settings({**EXISTING_OK, "clusterMode": "existing", "kubeContext": "k", "existingNfsServer": "10.0.0.5",
                        "instanceType": "m6g.large"}, region="eu-west-1")
    assert s.instance_type == "m6g.large"


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-2", "ap-southeast-5", "us-gov-west-1", "cn-north-1",
                                    "il-central-1", "mx-central-1"])
def test_every_region_the_sdk_knows_is_accepted(region):
    assert parse_settings(OK, region=region).region == region


@pytest.mark.parametrize("region", ["eu-west-9", "us-east-7", "mars", "EU-WEST-1", "eu_west_1"])
def test_a_region_the_sdk_does_not_know_is_refused_as_aws_region(region):
    found = [p for p in problems({}, region=region) if "region" in p.split()[0]]
    assert found and found[0].startswith("aws:region must be an AWS region the AWS SDK knows"), found


@pytest.mark.parametrize("key,aws_key", [("region", "aws:region"), ("awsProfile", "aws:profile")])
def test_settings_of_the_aws_provider_are_refused_in_our_namespace(key, aws_key):
    (found,) = problems({key: "us-east-1"})
    assert found.startswith(f"{PROJECT}:{key} is not read") and f"pulumi config set {aws_key}" in found, found


def test_field_names_are_not_keys():
    assert problems({"api_replicas": "3"}) == [
        f"{PROJECT}:api_replicas is not a setting of seldon-bench (did you mean {PROJECT}:apiReplicas?)"]


@pytest.mark.parametrize("raw,key,enabler", [
    ({"kubeContext": "kind-bench"}, "kubeContext", "clusterMode=existing"),
    ({"existingNfsServer": "10.1.2.3"}, "existingNfsServer", "clusterMode=existing"),
    ({"existingNfsPath": "/gv0"}, "existingNfsPath", "clusterMode=existing"),  # set, even to the default
    ({"mysqlNodeCount": "2"}, "mysqlNodeCount", "mysqlDedicatedNodes"),
    ({"mysqlInstanceType": "m5.xlarge"}, "mysqlInstanceType", "mysqlDedicatedNodes"),
    ({"mysqlSsdSizeGib": "200"}, "mysqlSsdSizeGib", "mysqlStorage"),
])
def test_keys_that_do_nothing_in_this_mode_name_what_enables_them(raw, key, enabler):
    (found,) = problems(raw)
    assert found.startswith(f"{PROJECT}:{key} is used only with {enabler}"), found


def test_the_same_keys_with_their_mode_are_fine():
    s = parse_settings({**OK, "mysqlDedicatedNodes": "true", "mysqlNodeCount": "2", "mysqlInstanceType": "m5.xlarge",
                        "mysqlStorage": "ssd", "mysqlSsdSizeGib": "200"}, region="eu-west-1")
    assert (s.mysql_node_count, s.mysql_type, s.mysql_ssd_size_gib) == (2, "m5.xlarge", 200)
    e = parse_settings({**EXISTING_OK, "clusterMode": "existing", "kubeContext": "k", "existingNfsServer": "10.0.0.5",
                        "existingNfsPath": "/export/seldon"}, region="eu-west-1")
    assert (e.kube_context, e.existing_nfs_server, e.existing_nfs_path) == ("k", "10.0.0.5", "/export/seldon")


@pytest.mark.parametrize("namespace", ["default", "kube-system", "kube-public", "kube-node-lease"])
def test_kubernetes_own_namespaces_are_refused(namespace):
    (found,) = problems({"namespace": namespace})
    assert found.startswith(f"{PROJECT}:namespace must not be one of Kubernetes' own namespaces"), found


@pytest.mark.parametrize("raw,expected", [
    ({"existingNfsServer": "nfs.example.com"}, "existingNfsServer must be an IP address"),
    ({"existingNfsServer": "10.1.2.3", "existingNfsPath": "gv0"}, "existingNfsPath must be an absolute export path"),
    ({"existingNfsServer": "10.1.2.3", "kubeContext": "kind\nbench"}, "kubeContext must be printable text"),
    ({"existingNfsServer": "10.1.2.3", "kubeContext": "k" * 300}, "kubeContext must be at most 253 characters"),
])
def test_existing_cluster_values_are_checked_beyond_their_shape(raw, expected):
    found = problems({"clusterMode": "existing", "kubeContext": "kind-bench", "dockerHubUsername": None,
                      "dockerHubToken": None, **raw})
    assert [p for p in found if expected in p], found
    assert not [p for p in found if "is required" in p], f"a bad value is not also a missing one: {found}"


def test_an_ipv6_nfs_server_is_an_ip_address():
    s = parse_settings({**EXISTING_OK, "clusterMode": "existing", "kubeContext": "k", "existingNfsServer": "fd00::5"},
                       region="eu-west-1")
    assert s.existing_nfs_server == "fd00::5"


@pytest.mark.parametrize("key,value,limit", [
    ("imageRegistry", "registry.example.com/" + "a" * 300, 255),
    ("ml10mUrl", "https://example.com/" + "a" * 3000, 2048),
])
def test_free_text_is_bounded_and_long_values_are_not_echoed_whole(key, value, limit):
    found = [p for p in problems({key: value}) if p.startswith(f"{PROJECT}:{key} ")]
    assert found and f"must be at most {limit} characters" in found[0], found
    assert len(found[0]) < 300 and f"({len(value):,} characters)" in found[0], found[0]


@pytest.mark.parametrize("key", ["seldon:apiReplicas", "Seldon-Bench:apiReplicas", "seldon-bnech:apiReplicas",
                                 "seldonbench:apiReplicas", "kubernetes:apiReplicas", "pulumi:instanceType",
                                 "random:kubeContext", "bench:apiReplicas"])
def test_our_keys_under_another_namespace_are_refused(key):
    from infra.settings import namespace_problems

    (found,) = namespace_problems({key: "3"})
    name = key.split(":")[1]
    assert found.startswith(f"{key} ") and f"did you mean {PROJECT}:{name}?" in found, found


@pytest.mark.parametrize("key,suggestion", [("aws:regoin", "aws:region"), ("aws2:region", "aws:region"),
                                            ("aws:instanceType", f"{PROJECT}:instanceType"),
                                            ("aws:profiel", "aws:profile")])
def test_aws_typos_are_refused(key, suggestion):
    from infra.settings import namespace_problems

    (found,) = namespace_problems({key: "x"})
    assert found.startswith(f"{key} ") and f"did you mean {suggestion}?" in found, found


@pytest.mark.parametrize("key", ["aws:region", "aws:profile", "aws:skipMetadataApiCheck", "aws:defaultTags",
                                 "kubernetes:namespace", "kubernetes:enableServerSideApply", "pulumi:tags",
                                 "pulumi:disable-default-providers", "random:anything", "mycompany:owner",
                                 "awsx:anything", "eks:anything", "tls:anything", "gcp:project"])
def test_keys_of_other_providers_and_tools_stay_allowed(key):
    from infra.settings import namespace_problems

    assert namespace_problems({key: "x"}) == []


def test_the_sdks_lists_of_provider_keys_are_found():
    """A new pulumi-aws/pulumi-kubernetes layout must not silently stop the aws: check."""
    from infra.settings import aws_provider_keys, kubernetes_provider_keys

    assert {"region", "profile", "assumeRoles", "skipMetadataApiCheck", "defaultTags"} <= aws_provider_keys()
    assert {"namespace", "context", "kubeconfig", "enableServerSideApply"} <= kubernetes_provider_keys()


def test_a_huge_number_is_refused_and_not_echoed_whole():
    found = problems({"apiReplicas": "9" * 5000})
    assert len(found) == 1 and found[0].startswith(f"{PROJECT}:apiReplicas must be a whole number"), found
    assert len(found[0]) < 200, found[0]


def test_the_program_refuses_our_keys_under_another_namespace_from_its_config(program):
    with pytest.raises(SettingsError) as info:
        program({"seldon:apiReplicas": "3", "aws:regoin": "us-east-1"})
    assert [p.split()[0] for p in info.value.problems] == ["aws:regoin", "seldon:apiReplicas"], info.value.problems


def test_the_program_reads_its_stack_file_only_when_it_is_beside_it(tmp_path, monkeypatch):
    """Pulumi hands the program the config only; duplicates are seen in the file, when it is there."""
    import pulumi

    import infra.stackfile as settings_module

    pulumi.runtime.settings.reset_options(project=PROJECT, stack="elsewhere")
    pulumi.runtime.set_all_config({f"{PROJECT}:allowedCidrs": '["203.0.113.7/32"]',
                                   f"{PROJECT}:imageSource": "dockerhub"}, [])
    monkeypatch.setattr(settings_module, "STACK_DIR", tmp_path)
    try:
        assert settings_module.load_settings().image_supply == "dockerhub"  # no file: the config alone
        (tmp_path / "Pulumi.elsewhere.yaml").write_text(
            "config:\n  seldon-bench:apiReplicas: '2'\n  seldon-bench:apiReplicas: '3'\n")
        with pytest.raises(SettingsError) as info:
            settings_module.load_settings()
        assert info.value.problems == [
            f"{PROJECT}:apiReplicas is set twice in Pulumi.elsewhere.yaml (line 2 and line 3); Pulumi keeps only one "
            "of them without a word: remove the other"], info.value.problems
    finally:
        pulumi.runtime.set_all_config({}, [])


# ------------------------------------------------------------------ sizes, as each reader means them


def test_k_means_what_each_reader_of_a_size_means():
    """Kubernetes: k = 1000, Ki = 1024, no K. mysqld and the JVM: K = k = 1024, no Ki."""
    from infra.units import JVM, KUBERNETES, MYSQL

    assert (KUBERNETES.bytes("1k"), KUBERNETES.bytes("1Ki")) == (1000, 1024)
    assert (KUBERNETES.bytes("4G"), KUBERNETES.bytes("4Gi")) == (4 * 10**9, 4 * 2**30)
    assert (KUBERNETES.bytes("1.5Gi"), KUBERNETES.bytes("0.5")) == (3 * 2**29, 1), "fractions; a byte rounds up"
    for reader in (MYSQL, JVM):
        assert reader.bytes("1K") == reader.bytes("1k") == 1024, reader.reader
        assert reader.bytes("4G") == reader.bytes("4g") == 4 * 2**30, reader.reader
        assert reader.bytes("512m") == reader.bytes("512M") == 512 * 2**20, reader.reader
    refused = [(KUBERNETES, "1K"), (KUBERNETES, "512m"), (KUBERNETES, "1e9"), (KUBERNETES, "8Ei"),
               (MYSQL, "1Ki"), (MYSQL, "1.5G"), (MYSQL, "1T"), (JVM, "1Gi"), (JVM, "2.5g"), (KUBERNETES, "9" * 5000)]
    for reader, text in refused:
        with pytest.raises(ValueError, match=f"must be {reader.reader}"):
            reader.bytes(text)


def test_the_buffer_pool_is_read_as_mysqld_reads_it():
    """innodb_buffer_pool_size=3G is 3 GiB to mysqld: it fills a 3Gi request, not 2.8 GiB of it."""
    found = problems({"mysqlConfig": '{"innodb_buffer_pool_size": "3G"}', "mysqlMemory": "3Gi"})
    assert found == [f"{PROJECT}:mysqlConfig innodb_buffer_pool_size must be smaller than mysqlMemory (3Gi), "
                     "got '3G'"], found
    assert parse_settings({**OK, "mysqlConfig": '{"innodb_buffer_pool_size": "3G"}', "mysqlMemory": "3300M"},
                          region="eu-west-1").mysql_memory == "3300M", "3 GiB < 3.3e9 bytes"
    (found,) = problems({"mysqlConfig": '{"innodb_buffer_pool_size": "2Gi"}'})
    assert found == f"{PROJECT}:mysqlConfig innodb_buffer_pool_size must be a size such as 2G, got '2Gi'", found


def test_the_heap_is_read_as_the_jvm_reads_it():
    """apiJavaHeap 3G is 3 GiB: it leaves 512 MiB of a 3584Mi request, and only 265 MiB of 3500M (3.5e9 bytes)."""
    assert parse_settings({**OK, "apiJavaHeap": "3G", "apiMemory": "3584Mi"}, region="eu-west-1").api_java_heap == "3G"
    (found,) = problems({"apiJavaHeap": "3g", "apiMemory": "3500M"})
    assert found.startswith(f"{PROJECT}:apiJavaHeap must leave at least 512 MiB"), found
    (found,) = problems({"apiJavaHeap": "2530k"})
    assert found == f"{PROJECT}:apiJavaHeap must be a Java heap size such as 2530M or 4G, got '2530k'", found


def test_a_memory_too_large_for_kubernetes_is_one_clear_line():
    (found,) = problems({"apiMemory": "9" * 400})
    assert found.startswith(f"{PROJECT}:apiMemory must be a Kubernetes memory quantity of at most"), found
    assert len(found) < 250, found


def test_the_rules_between_keys_are_the_models_own():
    """Settings refuses a combination of keys itself, not only parse_settings."""
    from pydantic import ValidationError

    from infra.settings import RULES_BETWEEN_KEYS

    with pytest.raises(ValidationError) as info:
        Settings.model_validate({"allowedCidrs": ["203.0.113.7/32"], **IMAGES, "apiReplicas": 13})
    (err,) = info.value.errors()
    assert err["type"] == RULES_BETWEEN_KEYS and err["ctx"]["problems"] == [
        f"{PROJECT}:apiReplicas must be <= 12 (4 per Seldon node, seldonNodeCount=3), got 13"]


def test_keys_are_pydantics_camel_case_of_the_fields():
    from pydantic.alias_generators import to_camel

    odd = {name: f.alias for name, f in Settings.model_fields.items() if f.alias != to_camel(name)}
    assert odd == {"ml10m_url": "ml10mUrl"}, odd
    s = parse_settings({**OK, "mysqlConfig": '{"max_connections": "800"}', "allowedCidrs": '["203.0.113.7/32"]'},
                       region="eu-west-1")
    assert s.mysql_config == {"max_connections": "800"} and s.allowed_cidrs == ["203.0.113.7/32"], "JSON keys decoded"
