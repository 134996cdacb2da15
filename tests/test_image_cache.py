"""Where the nodes get their images: the ECR pull-through cache of Docker Hub by default on EKS.

Docker Hub allows 10 anonymous pulls per hour per IP address and every node pulls through one
NAT address, so a stand-up from Docker Hub stalls. These tests run the real program under mocks
and check the cache against botocore's ECR and Secrets Manager models (limits and patterns that
a mock accepts blindly), what every pod pulls, the node role's one extra right, the order of
create and destroy, and the settings that choose or refuse an image source.
"""

from __future__ import annotations

import json
import re

import botocore.session
import pytest

from infra.image_cache import DOCKER_HUB, cache_prefix, node_policy
from conftest import refused
from infra.offline import ROOT, TEST_DOCKER_HUB, is_secret, stack_settings
from infra.settings import SettingsError
from workloads.images import IMAGES, image, repositories

RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
REPOSITORY = "aws:ecr/repository:Repository"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
REGISTRY_HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.bench*.yaml"))
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")

_session = botocore.session.get_session()
ECR = _session.get_service_model("ecr")


def _member(operation: str, member: str):
    return ECR.operation_model(operation).input_shape.members[member]


def _fullmatch(shape, value: str) -> bool:
    """botocore's patterns are anchored or not; either way the whole value must match."""
    pattern = shape.metadata["pattern"].removeprefix("^").removesuffix("$")
    return re.fullmatch(pattern, value) is not None


def pod_images(prog) -> dict[str, str]:
    """`<kind>/<name>/<container>` -> image, for every container and init container declared."""
    found = {}
    for obj in prog.k8s_objects():
        if obj.kind not in WORKLOAD_KINDS:
            continue
        spec = obj.inputs["spec"]["template"]["spec"]
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            found[f"{obj.kind}/{obj.metadata['name']}/{c['name']}"] = c["image"]
    return found


def originals() -> set[str]:
    return {image(name) for name in IMAGES}


@pytest.mark.parametrize("stack", STACKS)
def test_every_pod_of_every_stack_pulls_from_the_stacks_ecr_cache(program, stack):
    prog = program(stack=stack)
    registry = f"{REGISTRY_HOST}/{cache_prefix(stack)}/"
    declared = {r.inputs["name"] for r in prog.of_type(REPOSITORY)}
    images = pod_images(prog)
    assert len(images) > 20, f"{stack}: too few containers found to judge ({len(images)})"
    for where, ref in images.items():
        assert ref not in originals(), f"{stack}: {where} pulls {ref} from Docker Hub directly"
        assert ref.startswith(registry), f"{stack}: {where} pulls {ref}, not from the cache {registry}"
        repository = ref.rsplit(":", 1)[0].removeprefix(f"{REGISTRY_HOST}/")
        assert repository in declared, (
            f"{stack}: {where} pulls {ref}, whose repository the program does not declare: ECR would create "
            f"it on the first pull and `pulumi destroy` would leave it behind")


def test_official_images_are_cached_under_library(bench):
    images = set(pod_images(bench).values())
    for name in ("memcached", "python", "busybox"):
        repository, tag = IMAGES[name]
        assert f"{REGISTRY_HOST}/sb/bench/{repository}:{tag}" in images, f"{name} is not pulled as library/{name}"
        assert repository.startswith("library/")


def test_the_rule_caches_docker_hub_under_a_valid_per_stack_prefix(bench):
    rule = bench.one(RULE)
    assert rule.inputs["upstreamRegistryUrl"] == DOCKER_HUB == "registry-1.docker.io"
    prefix = rule.inputs["ecrRepositoryPrefix"]
    shape = _member("CreatePullThroughCacheRule", "ecrRepositoryPrefix")
    assert prefix == "sb/bench" and _fullmatch(shape, prefix)
    assert shape.metadata["min"] <= len(prefix) <= shape.metadata["max"]


@pytest.mark.parametrize("stack", ["bench", "bench-mysql-replicas", "a" * 100, "Bench_Team.2026", "x"])
def test_cache_prefix_fits_ecr_for_any_stack_name(stack):
    shape = _member("CreatePullThroughCacheRule", "ecrRepositoryPrefix")
    prefix = cache_prefix(stack)
    assert _fullmatch(shape, prefix) and shape.metadata["min"] <= len(prefix) <= shape.metadata["max"], prefix
    for repository in repositories():
        assert _fullmatch(_member("CreateRepository", "repositoryName"), f"{prefix}/{repository}")


def test_cache_prefixes_of_different_stacks_differ():
    names = ["bench", "bench-api4", "a" * 40, "a" * 41, "Bench", "bench-mysql-replicas", "bench-mysql-replicaz"]
    assert len({cache_prefix(n) for n in names}) == len(names)
    assert cache_prefix("bench") == cache_prefix("bench"), "the prefix must be stable from one `up` to the next"


def test_credentials_are_a_secret_in_the_name_ecr_reads(bench):
    secret = bench.one(SECRET)
    assert secret.inputs["namePrefix"].startswith("ecr-pullthroughcache/"), secret.inputs
    assert secret.inputs["recoveryWindowInDays"] == 0, \
        "a 30-day recovery window would keep the secret after destroy and block the next stand-up"
    arn = bench.one(RULE).inputs["credentialArn"]
    assert arn == secret.outputs["arn"], "the rule must read the program's own secret"
    assert _fullmatch(_member("CreatePullThroughCacheRule", "credentialArn"), arn), arn
    value = bench.one(SECRET_VERSION).inputs["secretString"]
    assert is_secret(value), "the token must stay a Pulumi secret"
    assert json.loads(value["value"]) == {"username": TEST_DOCKER_HUB[0], "accessToken": TEST_DOCKER_HUB[1]}
    assert bench.depends_on(bench.one(RULE), bench.one(SECRET_VERSION)), "the rule needs the credentials first"


def test_the_token_appears_in_no_plain_input_or_output(bench):
    token = TEST_DOCKER_HUB[1]
    for r in bench.resources:
        if r.typ == SECRET_VERSION:
            continue
        assert token not in json.dumps(r.inputs, default=str), f"{r.typ} {r.name} carries the Docker Hub token"
    assert token not in json.dumps(bench.outputs, default=str)


def test_one_force_deleted_repository_per_docker_hub_repository(bench):
    repos = bench.of_type(REPOSITORY)
    assert sorted(r.inputs["name"] for r in repos) == sorted(f"sb/bench/{r}" for r in repositories())
    for r in repos:
        assert r.inputs["forceDelete"] is True, f"{r.inputs['name']}: destroy must delete it with its images"
        assert r.inputs["tags"] == {"Project": "seldon-bench", "Stack": "bench"}


def test_node_role_may_import_into_the_cache_and_nothing_more(bench):
    (policy,) = bench.of_type(ROLE_POLICY)
    assert policy.inputs["role"] == bench.one("aws:iam/role:Role", "eks-node").id, "the policy belongs to the node role"
    doc = json.loads(policy.inputs["policy"])
    assert doc == json.loads(node_policy("aws", "eu-west-1", "123456789012", "sb/bench"))
    (statement,) = doc["Statement"]
    assert statement["Action"] == ["ecr:BatchImportUpstreamImage"], \
        "declared repositories need no ecr:CreateRepository; pulls are in AmazonEC2ContainerRegistryPullOnly"
    assert statement["Resource"] == "arn:aws:ecr:eu-west-1:123456789012:repository/sb/bench/*"


def test_pods_wait_for_the_cache_and_go_before_it(bench):
    """Created after the rule, repositories and node policy; destroyed before the repositories."""
    needed = [bench.one(RULE), bench.of_type(ROLE_POLICY)[0], *bench.of_type(REPOSITORY)]
    for obj in bench.k8s_objects():
        if obj.kind in WORKLOAD_KINDS:
            for r in needed:
                assert bench.depends_on(obj, r), f"{obj.kind} {obj.metadata['name']} does not wait for {r.name}"


def test_cache_resources_are_children_of_one_component(bench):
    (component,) = [r for r in bench.resources if r.typ == "seldon-bench:infra:ImageCache"]
    for typ in (RULE, REPOSITORY, SECRET, SECRET_VERSION, ROLE_POLICY):
        for r in bench.of_type(typ):
            assert r.parent == component.urn, f"{r.typ} {r.name} is not under the ImageCache component"


def test_the_cache_registry_is_a_stack_output(bench):
    assert bench.outputs["imageRegistry"] == f"{REGISTRY_HOST}/sb/bench"


# ------------------------------------------------------------------ other sources, and refusals


def test_eks_without_credentials_or_mirror_stops_with_both_fixes():
    message, registered = refused(docker_hub=None)
    assert registered == [], f"resources registered before the refusal: {registered}"
    assert message.count("\n  - ") == 1, message
    assert "10 anonymous pulls per hour per IP address" in message
    assert "pulumi config set seldon-bench:dockerHubUsername" in message
    assert "pulumi config set --secret seldon-bench:dockerHubToken" in message
    assert "pulumi config set seldon-bench:imageRegistry" in message
    assert "imageSource dockerhub" in message


def test_anonymous_docker_hub_only_when_asked_for(program):
    prog = program({"imageSource": "dockerhub"}, docker_hub=None)
    assert set(pod_images(prog).values()) <= originals()
    assert not prog.of_type(RULE) and not prog.of_type(REPOSITORY) and not prog.of_type(SECRET)


def test_a_mirror_replaces_the_cache(program):
    mirror = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror"
    prog = program({"imageRegistry": mirror}, docker_hub=None)
    images = set(pod_images(prog).values())
    assert images and all(ref.startswith(mirror + "/") for ref in images), images
    assert f"{mirror}/library/memcached:{IMAGES['memcached'][1]}" in images
    assert not prog.of_type(RULE) and not prog.of_type(SECRET)


def test_existing_cluster_pulls_as_before_unless_a_source_is_set():
    existing = {"clusterMode": "existing", "kubeContext": "kind-bench", "existingNfsServer": "10.0.0.5"}
    assert stack_settings("bench", existing).image_supply == "dockerhub"
    assert stack_settings("bench", {**existing, "imageRegistry": "registry.example.com/m"}).image_supply == "registry"
    with pytest.raises(SettingsError, match="imageSource=ecr-cache needs clusterMode=eks"):
        stack_settings("bench", {**existing, "imageSource": "ecr-cache"})


CREDENTIALS = {"dockerHubUsername": TEST_DOCKER_HUB[0], "dockerHubToken": TEST_DOCKER_HUB[1]}


@pytest.mark.parametrize("overrides,expected", [
    ({**CREDENTIALS, "imageRegistry": "registry.example.com/m"},
     "dockerHubUsername is used only by the ECR pull-through cache"),
    ({**CREDENTIALS, "imageSource": "dockerhub"}, "dockerHubToken is used only by the ECR pull-through cache"),
    ({"imageSource": "registry"}, "imageSource=registry needs seldon-bench:imageRegistry"),
    ({"imageSource": "ecr-cache", "dockerHubToken": TEST_DOCKER_HUB[1], "dockerHubUsername": None},
     "dockerHubUsername is required"),
    ({"dockerHubUsername": "Not A Docker ID"}, "dockerHubUsername must be a Docker ID"),
])
def test_contradicting_image_keys_arerefused(overrides, expected):
    with pytest.raises(SettingsError) as info:
        stack_settings("bench", overrides)
    assert expected in str(info.value), str(info.value)


def test_image_registry_with_an_explicit_other_source_isrefused():
    with pytest.raises(SettingsError, match="imageRegistry is not used with imageSource=dockerhub"):
        stack_settings("bench", {"imageRegistry": "registry.example.com/m", "imageSource": "dockerhub"})


def test_a_token_in_plain_text_is_refused_and_never_echoed():
    token = "dckr_pat_plain-text-token"
    message, registered = refused({"dockerHubToken": token}, plain_keys=("dockerHubToken",))
    assert registered == []
    assert "pulumi config set --secret seldon-bench:dockerHubToken" in message, message
    assert token not in message


def test_a_bad_token_is_refused_without_showing_it():
    with pytest.raises(SettingsError) as info:
        stack_settings("bench", {"dockerHubToken": "two words"})
    assert "dockerHubToken must be a Docker Hub access token" in str(info.value)
    assert "two words" not in str(info.value)


def test_secure_values_in_a_stack_file_are_secrets(tmp_path, monkeypatch):
    """What `pulumi config set --secret` writes (`secure:`) counts as a secret offline too."""
    import infra.offline.runner as offline

    text = (ROOT / "Pulumi.bench.yaml").read_text() + (
        "  seldon-bench:dockerHubUsername: benchuser\n"
        "  seldon-bench:dockerHubToken:\n    secure: AAABAKWz0Gv1c0nB0yTdVq6Gd1x0\n")
    (tmp_path / "Pulumi.bench-secret.yaml").write_text(text)
    monkeypatch.setattr(offline, "ROOT", tmp_path)
    assert stack_settings("bench-secret", {}).image_supply == "ecr-cache"
    (tmp_path / "Pulumi.bench-plain.yaml").write_text(text.replace(
        "seldon-bench:dockerHubToken:\n    secure: AAABAKWz0Gv1c0nB0yTdVq6Gd1x0", "seldon-bench:dockerHubToken: dckr_pat_x"))
    with pytest.raises(SettingsError, match="must be stored as a secret"):
        stack_settings("bench-plain", {})
