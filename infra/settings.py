"""The benchmark's stack config: every knob, its default and its limits, in one place.

`parse_settings` is pure (a mapping of raw config strings in, a frozen `Settings` out) so the
rules are tested without Pulumi; `infra.stackfile.load_settings` reads the stack config and calls it. A bad
config raises one `SettingsError` that names every bad key, its value and what is expected,
before any resource is declared.

Each key's own rule is a pydantic field rule; the rules between keys are the model's
`model_validator`, run once every key is valid on its own. Keys are the fields' names in
pydantic's camel case (`to_camel`). Sizes are read as the program that reads them means them
(`infra.units`: `4G` is 4e9 bytes to Kubernetes and 4 GiB to mysqld and the JVM).
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import ipaddress
import json
import pathlib
import re
from typing import Annotated, Any, Collection, Literal, Mapping, Optional, Sequence

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from infra.units import JVM, KUBERNETES, MYSQL

PROJECT = "seldon-bench"

# The minors in EKS standard support in December 2026 (EKS release calendar: 1.33 left it on
# 2026-07-29, 1.34 on 2026-12-02, 1.35 stays until 2027-03-27); extended support costs extra.
# Preflight confirms the chosen one with EKS DescribeClusterVersions in a live run.
SUPPORTED_KUBERNETES_VERSIONS = ("1.35", "1.36")
# MovieLens 10M has user ids 1..71567 (69,878 distinct users).
ML10M_MAX_USER_ID = 71567
# ...and 10,681 movies (movies.dat), every one of them imported as an item; more can't be asked.
ML10M_MOVIES = 10681

_INSTANCE_TYPE = re.compile(
    r"^[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.(nano|micro|small|medium|large|[0-9]*xlarge|metal(-[0-9]+xl)?)$"
)
_QUANTITY_CPU = re.compile(r"^([0-9]+(\.[0-9]+)?|[0-9]+m)$")
_MYSQL_OPTION = re.compile(r"^[a-z][a-z0-9_-]*$")
_MYSQL_VALUE = re.compile(r"^[A-Za-z0-9_./:,+-]+$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DOCKER_ID = re.compile(r"^[a-z0-9]{4,30}$")
_DOCKER_TOKEN = re.compile(r"^\S{1,1000}$")
_REGISTRY = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$")
# Namespaces Kubernetes itself uses: the benchmark's objects (and its `pulumi destroy`, which
# deletes the namespace) must never share one with the cluster's own.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# Graviton (arm64) EC2 families: a1, every family with a `g` right after its generation number
# (m6g, c6gn, c7gd, t4g, x2gd, im4gn, is4gen, g5g, hpc7g, r8g, ...) and the Apple silicon mac
# families (all but mac1). tests/test_settings.py holds this to every type in moto's copy of
# EC2 DescribeInstanceTypes and its SupportedArchitectures.
_ARM64_FAMILY = re.compile(r"^(a1|[a-z]+[0-9]+g[a-z]*|mac(?!1$)[a-z0-9-]*)$")
# The GlusterFS servers' image, Debian 12 amd64 from the Debian cloud team's AWS account:
# infra/glusterfs.py looks it up, infra/checks/preflight.py checks that the region has it.
DEBIAN_OWNER = "136693071363"
DEBIAN_AMI_NAME = "debian-12-amd64-*"
DEBIAN_AMI = "Debian 12 amd64"
# What seldon-server's request must hold beyond its fixed heap: the seed's own margin (3Gi request,
# 2530M heap: 542 MiB) rounded down.
API_NON_HEAP_MIB = 512


class SettingsError(pulumi.RunError):
    """A stack config that cannot produce a sound benchmark; the message names every bad key.

    A `pulumi.RunError` is reported by the Pulumi CLI as a plain message, without a traceback.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "invalid stack config:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def _instance_type(v: str) -> str:
    if not _INSTANCE_TYPE.match(v):
        raise ValueError("must be an EC2 instance type such as m3.large or m5.xlarge")
    return v


def _memory(v: str) -> str:
    KUBERNETES.bytes(v)
    return v


def _cpu(v: str) -> str:
    if not _QUANTITY_CPU.match(v):
        raise ValueError("must be a Kubernetes CPU quantity such as 500m or 2")
    return v


# A heap in MiB or GiB: the JVM reads bare bytes and k too, but no sound heap is written so.
_HEAP = JVM.only("mMgG", "2530M or 4G")


def _java_heap(v: str) -> str:
    _HEAP.bytes(v)
    return v


InstanceType = Annotated[str, AfterValidator(_instance_type)]
Memory = Annotated[str, AfterValidator(_memory)]
Cpu = Annotated[str, AfterValidator(_cpu)]


# Bytes in a container's memory request or limit, and in a JVM heap (infra/units.py).
memory_bytes = KUBERNETES.bytes
java_heap_bytes = JVM.bytes


def is_arm64(instance_type: str) -> bool:
    """True for a Graviton (arm64) instance type, which cannot boot the x86_64 AMIs of the stack."""
    return bool(_ARM64_FAMILY.match(instance_type.split(".", 1)[0]))


@functools.lru_cache(maxsize=1)
def aws_regions() -> frozenset[str]:
    """Every region the installed AWS SDK knows (botocore's endpoint data), in every partition."""
    import botocore.session

    session = botocore.session.get_session()
    return frozenset(r for p in session.get_available_partitions() for r in session.get_available_regions("ec2", p))


def registry_problem(registry: str) -> Optional[str]:
    """What is wrong with an image registry mirror (`imageRegistry`, `image_check --registry`), if anything."""
    if len(registry) > 255:  # Docker's limit for a whole repository name
        return f"must be at most 255 characters, has {len(registry):,}"
    if not _REGISTRY.match(registry.rstrip("/")):
        return "must be a registry host with optional path, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/seldon"
    return None


def _printable(v: str) -> str:
    if any(not ch.isprintable() for ch in v):
        raise ValueError("must be printable text, without control characters or line breaks")
    return v


# The error type the rules between keys raise, carrying every broken rule's message.
RULES_BETWEEN_KEYS = "rules_between_keys"


class Settings(BaseModel):
    """Every stack-config key of seldon-bench (`seldon-bench:<camelCaseName>`), with its default."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        str_strip_whitespace=True,
    )

    # --- AWS placement and sizes (issue: infrastructure) ---
    region: str = Field(
        "eu-west-1", description="AWS region (`aws:region`, a region the AWS SDK lists; not `seldon-bench:region`)."
    )
    aws_profile: Optional[str] = Field(
        None, max_length=128, description="AWS CLI profile (`aws:profile`); preflight and the kubeconfig's `aws eks get-token` use it too."
    )
    instance_type: InstanceType = Field(
        "m3.large", description="Default EC2 type for every instance of the benchmark."
    )
    seldon_instance_type: Optional[InstanceType] = Field(
        None, description="EC2 type of the Seldon nodes (default: `instanceType`)."
    )
    loadgen_instance_type: Optional[InstanceType] = Field(
        None, description="EC2 type of the iago load-generator nodes (default: `instanceType`)."
    )
    gluster_instance_type: Optional[InstanceType] = Field(
        None, description="EC2 type of the two GlusterFS servers (default: `instanceType`)."
    )
    mysql_instance_type: Optional[InstanceType] = Field(
        None, description="EC2 type of the dedicated MySQL nodes when `mysqlDedicatedNodes` (default: `instanceType`)."
    )
    seldon_node_count: int = Field(3, ge=1, le=20, description="Kubernetes nodes for Seldon.")
    loadgen_node_count: int = Field(
        1, ge=1, le=10, description="Kubernetes nodes for iago (labelled role=iago, tainted); one iago pod per node."
    )
    kubernetes_version: str = Field(
        "1.35", description="EKS Kubernetes minor version; only those in EKS standard support (1.35, 1.36 in December 2026), confirmed by preflight."
    )
    node_zone: Optional[str] = Field(
        None, description="Availability zone of every worker node and GlusterFS server (default: `<region>c`, the seed's eu-west-1c)."
    )
    node_ami_type: Literal["AL2023_x86_64_STANDARD", "BOTTLEROCKET_x86_64"] = Field(
        "AL2023_x86_64_STANDARD", description="EKS managed node group AMI type."
    )
    node_volume_size_gib: int = Field(30, ge=20, le=1000, description="Root volume of each Kubernetes node (gp3, encrypted).")
    vpc_cidr: str = Field("10.0.0.0/16", description="CIDR of the benchmark VPC (a /16).")
    gluster_brick_size_gib: int = Field(100, ge=10, le=16000, description="EBS brick volume of each GlusterFS server (gp3, encrypted).")
    allowed_cidrs: list[str] = Field(
        ..., description="CIDRs allowed to reach the LoadBalancers (seldon API, Grafana, iago admin) and, its IPv4 ones, "
        "the EKS API endpoint: must include the address that runs `pulumi up`. Required."
    )
    allow_public: bool = Field(
        False, description="Must be true for `allowedCidrs` that together open more public addresses than a /8 "
        "holds, e.g. 0.0.0.0/0, ::/0, or 0.0.0.0/1 with 128.0.0.0/1."
    )
    cluster_mode: Literal["eks", "existing"] = Field(
        "eks", description="`eks` builds everything on AWS; `existing` deploys only the workloads onto the cluster of `kubeContext`."
    )
    kube_context: Optional[str] = Field(
        None, max_length=253, description="kubeconfig context of the existing cluster (`clusterMode: existing` only)."
    )
    existing_nfs_server: Optional[str] = Field(
        None, max_length=64,
        description="IP address of the NFS server exporting the data volume on an existing cluster (`clusterMode: existing` "
        "only; the kubelet mounts it from the node, so not a DNS name)."
    )
    existing_nfs_path: str = Field(
        "/gv0", max_length=1024,
        description="Absolute NFS export path of the data volume on an existing cluster (`clusterMode: existing` only)."
    )

    # --- The Seldon stack (issue: workloads) ---
    namespace: str = Field(
        "seldon", description="Kubernetes namespace of the benchmark (not default, kube-system, kube-public or kube-node-lease)."
    )
    image_registry: Optional[str] = Field(
        None, max_length=255, description="Pull every image from this registry mirror (`<host>/<path>` holding the Docker Hub paths, e.g. an ECR registry you filled) instead of the ECR pull-through cache or Docker Hub."
    )
    image_source: Optional[Literal["ecr-cache", "registry", "dockerhub"]] = Field(
        None, description="Where nodes pull images: `ecr-cache` (an ECR pull-through cache of Docker Hub that the "
        "program creates with `dockerHubUsername`/`dockerHubToken`; the default with clusterMode=eks), `registry` (the "
        "mirror in `imageRegistry`; the default when it is set) or `dockerhub` (anonymous, 10 pulls per hour per IP "
        "address; the default with clusterMode=existing)."
    )
    docker_hub_username: Optional[str] = Field(
        None, description="Docker Hub user (Docker ID) whose access token the ECR pull-through cache uses (`imageSource: ecr-cache`)."
    )
    docker_hub_token: Optional[str] = Field(
        None, description="Docker Hub access token (read-only suffices) for the ECR pull-through cache; set it with "
        "`pulumi config set --secret`. Kept in a Secrets Manager secret `ecr-pullthroughcache/...`."
    )
    skip_preflight: bool = Field(
        False, description="Deploy without the read-only AWS checks of credentials, zone and instance types (`python -m infra.checks.preflight`)."
    )
    skip_image_check: bool = Field(
        False, description="Deploy without first checking that every pinned image resolves to a manifest containerd 2 pulls (`python -m infra.checks.images`)."
    )
    api_replicas: int = Field(2, ge=1, description="seldon-server API replicas behind the LoadBalancer.")
    api_java_heap: str = Field("2530M", description="seldon-server JVM heap (`XMX_MEMORY` in /seldon-data/server/settings.sh).")
    api_memory: Memory = Field(
        "3Gi", description="seldon-server container memory request (no limit, as the seed); must exceed `apiJavaHeap` by 512 MiB."
    )
    api_cpu: Optional[Cpu] = Field(None, description="seldon-server container CPU request (none in the seed).")
    mysql_memory: Memory = Field("3Gi", description="MySQL container memory request.")
    mysql_cpu: Optional[Cpu] = Field(None, description="MySQL container CPU request (none in the seed).")
    mysql_config: dict[str, str] = Field(
        default_factory=dict,
        description="Extra `[mysqld]` options written to /seldon-data/mysql/seldon.cnf, e.g. {\"innodb_buffer_pool_size\": \"4G\"} (empty in the seed).",
    )
    mysql_storage: Literal["glusterfs", "ssd"] = Field(
        "glusterfs", description="MySQL datadir on the shared GlusterFS volume (seed) or on its own gp3 EBS volume."
    )
    mysql_ssd_size_gib: int = Field(100, ge=10, le=16000, description="Size of the MySQL gp3 volume (`mysqlStorage: ssd` only).")
    mysql_read_replicas: int = Field(0, ge=0, le=5, description="MySQL read replicas (the seed had none).")
    mysql_dedicated_nodes: bool = Field(
        False, description="Run MySQL on an extra node group of its own (labelled role=mysql, tainted)."
    )
    mysql_node_count: int = Field(1, ge=1, le=6, description="Nodes in the dedicated MySQL node group (`mysqlDedicatedNodes` only).")
    memcached_memory_mb: int = Field(512, ge=64, le=65536, description="memcached cache size (`memcached -m`), each of the two servers.")
    memcached_resources_memory: Memory = Field("260Mi", description="memcached container memory request.")
    ml10m_url: str = Field(
        "http://files.grouplens.org/datasets/movielens/ml-10m.zip",
        max_length=2048,
        alias="ml10mUrl",  # not the generated "ml10MUrl"
        description="Where the ML10M download Job fetches ml-10m.zip (e.g. a copy in your own S3 bucket); "
        "the Job still checks it holds 10,000,054 ratings of 10,681 movies.",
    )
    spark_worker_replicas: int = Field(2, ge=1, le=20, description="Spark workers for training the item-similarity model.")

    # --- The load test (issue: load test) ---
    request_rate: int = Field(100, ge=1, description="iago requests per second in total (2 requests per recommendation+action pair).")
    replay_users: int = Field(
        10000, ge=1, le=ML10M_MAX_USER_ID,
        description="Users the replay draws from: ids 1..N, as the original's `--num-users`.",
    )
    replay_items: int = Field(
        10000, ge=1, le=ML10M_MOVIES,
        description="Items the replay draws from: the N highest movie ids Seldon imported (at most all 10,681), "
        "as the original's `/items?limit=N`.",
    )
    replay_calls: int = Field(50000, ge=1, le=10_000_000, description="Recommendation+action call pairs in the replay.")
    replay_seed: int = Field(20160613, ge=0, description="Random seed of the replay generator (same seed, same file).")
    loadtest_minutes: int = Field(30, ge=1, le=1440, description="Length of the iago run after which the Job ends by itself.")

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        # The SDK's own list, not a pattern: eu-west-9 has the shape of a region and is none.
        if v not in aws_regions():
            near = difflib.get_close_matches(v, sorted(aws_regions()), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise ValueError(f"must be an AWS region the AWS SDK knows, such as eu-west-1{hint}")
        return v

    @field_validator("aws_profile", "kube_context")
    @classmethod
    def _printable_text(cls, v: Optional[str]) -> Optional[str]:
        return None if v is None else _printable(v)

    @field_validator("existing_nfs_server")
    @classmethod
    def _nfs_server(cls, v: Optional[str]) -> Optional[str]:
        if v is None:
            return v
        try:
            ipaddress.ip_address(v)
        except ValueError:
            raise ValueError("must be an IP address such as 10.1.2.3: the kubelet mounts the export from the node, "
                             "where cluster DNS names do not resolve") from None
        return v

    @field_validator("existing_nfs_path")
    @classmethod
    def _nfs_path(cls, v: str) -> str:
        _printable(v)
        if not v.startswith("/"):
            raise ValueError("must be an absolute export path such as /gv0")
        return v

    @field_validator("kubernetes_version")
    @classmethod
    def _kubernetes_version(cls, v: str) -> str:
        if v not in SUPPORTED_KUBERNETES_VERSIONS:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_KUBERNETES_VERSIONS)}")
        return v

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_cidr(cls, v: str) -> str:
        try:
            net = ipaddress.ip_network(v, strict=True)
        except ValueError:
            raise ValueError("must be an IPv4 network such as 10.0.0.0/16") from None
        if net.version != 4 or net.prefixlen != 16 or not net.is_private:
            raise ValueError("must be a private IPv4 /16 such as 10.0.0.0/16")
        return v

    @field_validator("allowed_cidrs", mode="before")
    @classmethod
    def _allowed_cidrs_list(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [part.strip() for part in v.split(",") if part.strip()]
        return v

    @field_validator("allowed_cidrs")
    @classmethod
    def _allowed_cidrs(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("must list at least one CIDR")
        bad = []
        for cidr in v:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                bad.append(cidr if len(cidr) <= 45 else f"{cidr[:40]}… ({len(cidr):,} characters)")
        if bad:
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            raise ValueError(f"must be CIDRs such as 203.0.113.7/32; not CIDRs: {', '.join(bad[:5])}{more}")
        return v

    @field_validator("api_java_heap")
    @classmethod
    def _heap(cls, v: str) -> str:
        return _java_heap(v)

    @field_validator("ml10m_url")
    @classmethod
    def _ml10m_url(cls, v: str) -> str:
        if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]+)?/[^\s'\"]*", v):
            raise ValueError("must be an http(s) URL of ml-10m.zip")
        return v

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, v: str) -> str:
        if not _DNS_LABEL.match(v):
            raise ValueError("must be a DNS label (lower-case letters, digits, '-')")
        if v in RESERVED_NAMESPACES:
            raise ValueError(f"must not be one of Kubernetes' own namespaces ({', '.join(RESERVED_NAMESPACES)}): "
                             f"the program creates the namespace and `pulumi destroy` deletes it; use one of "
                             f"the benchmark's own, such as seldon")
        return v

    @field_validator("image_registry")
    @classmethod
    def _registry(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and (problem := registry_problem(v)):
            raise ValueError(problem)
        return v.rstrip("/") if v else v

    @field_validator("docker_hub_username")
    @classmethod
    def _docker_hub_username(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not _DOCKER_ID.match(v):
            raise ValueError("must be a Docker ID: 4 to 30 lower-case letters and digits")
        return v

    @field_validator("docker_hub_token")
    @classmethod
    def _docker_hub_token(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not _DOCKER_TOKEN.match(v):
            raise ValueError("must be a Docker Hub access token (1 to 1000 characters, no spaces)")
        return v

    @field_validator("mysql_config")
    @classmethod
    def _mysql_config(cls, v: dict[str, str]) -> dict[str, str]:
        if len(v) > 64:
            raise ValueError(f"must hold at most 64 options, has {len(v)}")
        for key, value in v.items():
            if len(key) > 64 or len(str(value)) > 256:
                raise ValueError(f"option {key[:64]!r} is longer than a mysqld option (name up to 64 characters, value up to 256)")
            if not _MYSQL_OPTION.match(key):
                raise ValueError(f"has an option name that is not a mysqld option: {key!r}")
            if not _MYSQL_VALUE.match(str(value)):
                raise ValueError(f"option {key} has a value that is not a plain mysqld value: {value!r}")
        return v

    @model_validator(mode="after")
    def _rules_between_keys(self) -> "Settings":
        """The rules between keys, judged together so that one error names every broken one."""
        problems = _cross_checks(self)
        if problems:
            raise PydanticCustomError(RULES_BETWEEN_KEYS, "{problems}", {"problems": problems, "settings": self})
        return self

    # --- derived values: callers never re-derive these ---

    @property
    def zone(self) -> str:
        return self.node_zone or f"{self.region}c"

    @property
    def seldon_type(self) -> str:
        return self.seldon_instance_type or self.instance_type

    @property
    def loadgen_type(self) -> str:
        return self.loadgen_instance_type or self.instance_type

    @property
    def gluster_type(self) -> str:
        return self.gluster_instance_type or self.instance_type

    @property
    def mysql_type(self) -> str:
        return self.mysql_instance_type or self.instance_type

    @property
    def image_supply(self) -> str:
        """Where images come from: `imageSource`, else the mirror if one is set, else the ECR
        pull-through cache on EKS (Docker Hub's anonymous limit cannot stand up the stack)."""
        if self.image_source:
            return self.image_source
        if self.image_registry:
            return "registry"
        return "ecr-cache" if self.cluster_mode == "eks" else "dockerhub"

    @property
    def recommendation_rate(self) -> float:
        """Recommendation calls per second: every other request is the paired action."""
        return self.request_rate / 2


def _cross_checks(s: Settings) -> list[str]:
    """Rules between keys, reported together with the key they are about."""
    problems = []
    if s.node_zone is not None and not re.fullmatch(re.escape(s.region) + r"[a-z]", s.node_zone):
        problems.append(
            f"{PROJECT}:nodeZone must be a zone of region {s.region} such as {s.region}c, got {s.node_zone!r}"
        )
    max_api = 4 * s.seldon_node_count
    if s.api_replicas > max_api:
        problems.append(
            f"{PROJECT}:apiReplicas must be <= {max_api} (4 per Seldon node, seldonNodeCount={s.seldon_node_count}), got {s.api_replicas}"
        )
    heap_room = KUBERNETES.bytes(s.api_memory) - JVM.bytes(s.api_java_heap)
    if heap_room < API_NON_HEAP_MIB * 2**20:
        problems.append(
            f"{PROJECT}:apiJavaHeap must leave at least {API_NON_HEAP_MIB} MiB of apiMemory ({s.api_memory}) for the JVM's "
            f"non-heap memory (metaspace, code cache, 500 Tomcat thread stacks): lower apiJavaHeap or raise apiMemory, "
            f"got apiJavaHeap {s.api_java_heap!r} ({max(heap_room, 0) // 2**20} MiB left)"
        )
    pool = s.mysql_config.get("innodb_buffer_pool_size")
    if pool is not None:
        try:
            pool_bytes = MYSQL.bytes(pool)  # 3G is 3 GiB to mysqld, 3e9 bytes to Kubernetes
        except ValueError:
            problems.append(
                f"{PROJECT}:mysqlConfig innodb_buffer_pool_size must be a size such as 2G, got {pool!r}"
            )
        else:
            if pool_bytes >= KUBERNETES.bytes(s.mysql_memory):
                problems.append(
                    f"{PROJECT}:mysqlConfig innodb_buffer_pool_size must be smaller than mysqlMemory ({s.mysql_memory}), got {pool!r}"
                )
    max_rate = 5000 * s.loadgen_node_count
    if s.request_rate > max_rate:
        problems.append(
            f"{PROJECT}:requestRate must be <= {max_rate} (5000 per iago node, loadgenNodeCount={s.loadgen_node_count}), got {s.request_rate}"
        )
    if s.request_rate < s.loadgen_node_count:
        problems.append(
            f"{PROJECT}:requestRate must be >= loadgenNodeCount ({s.loadgen_node_count}): "
            f"each iago instance replays at least 1 req/s, got {s.request_rate}"
        )
    if not s.allow_public:
        problems += _public_cidr_problems(s.allowed_cidrs)
    if s.cluster_mode == "existing":
        if not s.kube_context:
            problems.append(
                f"{PROJECT}:kubeContext is required with clusterMode=existing "
                f"(`pulumi config set {PROJECT}:kubeContext <context>`)"
            )
        if not s.existing_nfs_server:
            problems.append(
                f"{PROJECT}:existingNfsServer is required with clusterMode=existing: the NFS server exporting the data volume"
            )
        if s.mysql_storage == "ssd":
            problems.append(
                f"{PROJECT}:mysqlStorage=ssd needs the EBS CSI driver that only clusterMode=eks installs; "
                f"use mysqlStorage=glusterfs (the NFS volume) with clusterMode=existing"
            )
    if s.cluster_mode == "eks" and not any(ipaddress.ip_network(c).version == 4 for c in s.allowed_cidrs):
        problems.append(
            f"{PROJECT}:allowedCidrs must hold at least one IPv4 CIDR with clusterMode=eks: the EKS API endpoint "
            f"accepts only IPv4 CIDRs, and the address that runs `pulumi up` must be in one of them, got {s.allowed_cidrs}"
        )
    problems += _image_supply_problems(s)
    problems += _unused_key_problems(s)
    if s.cluster_mode == "eks":
        problems += _arm64_problems(s)
    if s.mysql_read_replicas > 0 and s.mysql_storage == "glusterfs":
        problems.append(
            f"{PROJECT}:mysqlReadReplicas needs mysqlStorage=ssd (replicas cannot share the one GlusterFS datadir), "
            f"got {s.mysql_read_replicas} with mysqlStorage=glusterfs"
        )
    return problems


# Address ranges that are not the public Internet, from IANA's special-purpose address
# registries (RFC 6890 and later): this network, private, shared (CGNAT), loopback, link-local,
# IETF protocol assignments, documentation, benchmarking, multicast, reserved. Python's
# `ipaddress` knows them per network (`is_global`), but cannot say how much of a wide range is
# public. IPv6: only global unicast (2000::/3) is routed on the Internet; its documentation
# ranges are not.
_PUBLIC_SPACE = {4: [ipaddress.ip_network("0.0.0.0/0")], 6: [ipaddress.ip_network("2000::/3")]}
_NOT_PUBLIC = {
    4: [ipaddress.ip_network(n) for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4")],
    6: [ipaddress.ip_network(n) for n in ("2001:db8::/32", "3fff::/20")],
}
# More public addresses than a /8 holds (1/256 of the family's address space) need allowPublic.
PUBLIC_LIMIT_PREFIX = 8


def _overlap(xs: Sequence[Any], ys: Sequence[Any]) -> int:
    """Addresses in both lists of disjoint networks (two CIDRs either nest or do not meet)."""
    return sum(min(a.num_addresses, b.num_addresses) for a in xs for b in ys if a.overlaps(b))


def public_addresses(cidrs: Sequence[str]) -> dict[int, int]:
    """IP version -> how many public addresses the union of `cidrs` holds (overlaps counted once)."""
    counts = {}
    nets = [ipaddress.ip_network(c) for c in cidrs]
    for version in (4, 6):
        union = list(ipaddress.collapse_addresses(n for n in nets if n.version == version))
        counts[version] = _overlap(union, _PUBLIC_SPACE[version]) - _overlap(union, _NOT_PUBLIC[version])
    return counts


def _count(n: int) -> str:
    return f"{n:,}" if n < 10**12 else f"about 2^{n.bit_length() - 1}"


def _public_cidr_problems(cidrs: Sequence[str]) -> list[str]:
    problems = []
    for version, public in public_addresses(cidrs).items():
        bits = 32 if version == 4 else 128
        if public <= 2 ** (bits - PUBLIC_LIMIT_PREFIX):
            continue
        space = _overlap(_PUBLIC_SPACE[version], _PUBLIC_SPACE[version]) - _overlap(_PUBLIC_SPACE[version], _NOT_PUBLIC[version])
        mine = [c for c in cidrs if ipaddress.ip_network(c).version == version]
        merged = [str(n) for n in ipaddress.collapse_addresses(ipaddress.ip_network(c) for c in mine)]
        together = f" (together {', '.join(merged)})" if merged != mine else ""
        problems.append(
            f"{PROJECT}:allowedCidrs {', '.join(mine)}{together} opens the load balancers to {_count(public)} public "
            f"IPv{version} addresses, {100 * public / space:.0f}% of the IPv{version} Internet and more than a "
            f"/{PUBLIC_LIMIT_PREFIX} holds; list only the addresses you watch the benchmark from, or set "
            f"`pulumi config set {PROJECT}:allowPublic true` if that is really meant"
        )
    return problems


def _unused_key_problems(s: Settings) -> list[str]:
    """Keys set in the stack that the chosen mode never reads: a sign the stack is not what was meant."""
    problems = []
    given = s.model_fields_set
    if s.cluster_mode == "eks":
        for name in ("kube_context", "existing_nfs_server", "existing_nfs_path"):
            if name in given:
                key = Settings.model_fields[name].alias
                problems.append(
                    f"{PROJECT}:{key} is used only with clusterMode=existing (a cluster you already have); with "
                    f"clusterMode=eks the program builds the cluster and its data volume: remove it "
                    f"(`pulumi config rm {PROJECT}:{key}`) or set `{PROJECT}:clusterMode existing`"
                )
    if not s.mysql_dedicated_nodes:
        for name in ("mysql_node_count", "mysql_instance_type"):
            if name in given:
                key = Settings.model_fields[name].alias
                problems.append(
                    f"{PROJECT}:{key} is used only with mysqlDedicatedNodes=true (MySQL's own node group); without "
                    f"it MySQL runs on the Seldon nodes: set `pulumi config set {PROJECT}:mysqlDedicatedNodes true` "
                    f"or remove it (`pulumi config rm {PROJECT}:{key}`)"
                )
    if s.mysql_storage != "ssd" and "mysql_ssd_size_gib" in given:
        problems.append(
            f"{PROJECT}:mysqlSsdSizeGib is used only with mysqlStorage=ssd (MySQL's own gp3 volume); with "
            f"mysqlStorage={s.mysql_storage} MySQL keeps its data on the GlusterFS volume: set "
            f"`pulumi config set {PROJECT}:mysqlStorage ssd` or remove it (`pulumi config rm {PROJECT}:mysqlSsdSizeGib`)"
        )
    return problems


def _arm64_problems(s: Settings) -> list[str]:
    """Graviton types cannot run the stack: every AMI (nodeAmiType, DEBIAN_AMI) and image is x86_64."""
    roles = [("the Seldon nodes", s.seldon_instance_type, "seldonInstanceType"),
             ("the iago nodes", s.loadgen_instance_type, "loadgenInstanceType"),
             ("the GlusterFS servers", s.gluster_instance_type, "glusterInstanceType")]
    if s.mysql_dedicated_nodes:
        roles.append(("the MySQL nodes", s.mysql_instance_type, "mysqlInstanceType"))
    users: dict[tuple[str, str], list[str]] = {}
    for role, own, key in roles:
        itype, key = (own, key) if own else (s.instance_type, "instanceType")
        if is_arm64(itype):
            users.setdefault((key, itype), []).append(role)
    problems = []
    for (key, itype), who in users.items():
        amis = [f"nodeAmiType {s.node_ami_type}"] if any(r != "the GlusterFS servers" for r in who) else []
        amis += [DEBIAN_AMI] if "the GlusterFS servers" in who else []
        names = who[0] if len(who) == 1 else f"{', '.join(who[:-1])} and {who[-1]}"
        problems.append(
            f"{PROJECT}:{key} {itype} is an arm64 (Graviton) type, but {names} boot x86_64 AMIs "
            f"({', '.join(amis)}) and the Seldon images are linux/amd64 only: pick an x86_64 type such as m5.large "
            f"or m6i.large"
        )
    return problems


# Docker Hub's published limit for anonymous pulls (docs.docker.com/docker-hub/usage/pulls).
DOCKER_HUB_ANONYMOUS_PULLS_PER_HOUR = 10


def _image_supply_problems(s: Settings) -> list[str]:
    """Every way the image keys contradict each other, or leave the nodes without a source."""
    problems = []
    supply = s.image_supply
    if supply == "ecr-cache":
        if s.cluster_mode != "eks":
            problems.append(
                f"{PROJECT}:imageSource=ecr-cache needs clusterMode=eks (the cache is created with the cluster and "
                f"its node role may pull through it); use imageSource=registry or dockerhub with clusterMode=existing"
            )
        elif not s.docker_hub_username and not s.docker_hub_token and not s.image_source:
            problems.append(_no_image_source())
        else:
            for key, value in (("dockerHubUsername", s.docker_hub_username), ("dockerHubToken", s.docker_hub_token)):
                if not value:
                    secret = "--secret " if key == "dockerHubToken" else ""
                    problems.append(
                        f"{PROJECT}:{key} is required for the ECR pull-through cache of Docker Hub "
                        f"(`pulumi config set {secret}{PROJECT}:{key} ...`)"
                    )
    else:
        for key, value in (("dockerHubUsername", s.docker_hub_username), ("dockerHubToken", s.docker_hub_token)):
            if value:
                problems.append(
                    f"{PROJECT}:{key} is used only by the ECR pull-through cache, not with imageSource={supply}: "
                    f"remove it (`pulumi config rm {PROJECT}:{key}`) or set imageSource=ecr-cache"
                )
    if supply == "registry" and not s.image_registry:
        problems.append(
            f"{PROJECT}:imageSource=registry needs {PROJECT}:imageRegistry, the mirror to pull from "
            f"(`pulumi config set {PROJECT}:imageRegistry <host>/<path>`)"
        )
    if s.image_registry and supply != "registry":
        problems.append(
            f"{PROJECT}:imageRegistry is not used with imageSource={supply}: remove one of the two"
        )
    return problems


def _no_image_source() -> str:
    return (
        f"{PROJECT}:dockerHubUsername and {PROJECT}:dockerHubToken are required with clusterMode=eks unless "
        f"{PROJECT}:imageRegistry is set: every node pulls through the one NAT address, and Docker Hub allows only "
        f"{DOCKER_HUB_ANONYMOUS_PULLS_PER_HOUR} anonymous pulls per hour per IP address, far fewer than the ~30 pulls "
        f"of a stand-up (429 toomanyrequests, ImagePullBackOff, a timed-out `pulumi up`). Either let the program "
        f"create an ECR pull-through cache of Docker Hub in your account (a free Docker Hub account and a "
        f"read-only access token suffice):\n"
        f"      pulumi config set {PROJECT}:dockerHubUsername <your Docker ID>\n"
        f"      pulumi config set --secret {PROJECT}:dockerHubToken <access token>\n"
        f"    or pull from a registry mirror you filled yourself (docs/benchmark-guide.md, Images):\n"
        f"      pulumi config set {PROJECT}:imageRegistry <account>.dkr.ecr.<region>.amazonaws.com/<path>\n"
        f"    (anonymous Docker Hub only on purpose: `pulumi config set {PROJECT}:imageSource dockerhub`)"
    )


_MESSAGES = {
    "int_parsing": "must be a whole number",
    "int_parsing_size": "must be a whole number of sensible size",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "dict_type": "must be a JSON object",
    "list_type": "must be a list (JSON, or comma-separated)",
    "string_type": "must be a string",
    "missing": "is required",
}


# Settings that come from the AWS provider's namespace: the user sets `aws:region`, not a
# `seldon-bench:` key, so messages must name that key.
_AWS_FIELDS = {"region": "aws:region", "awsProfile": "aws:profile"}


def _full_key(alias: str) -> str:
    return _AWS_FIELDS.get(alias, f"{PROJECT}:{alias}")


def _describe(err: dict) -> str:
    first, *rest = [str(p) for p in err["loc"]]
    key = first
    full = ".".join([_full_key(first), *rest])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "greater_than_equal":
        msg = f"must be >= {ctx['ge']}"
    elif kind == "less_than_equal":
        msg = f"must be <= {ctx['le']}"
    elif kind == "literal_error":
        msg = f"must be one of {ctx['expected']}"
    elif kind == "string_too_long":
        msg = f"must be at most {ctx['max_length']} characters"
    elif kind == "extra_forbidden":
        return _unknown_key(key)
    elif kind == "value_error":
        msg = str(ctx.get("error", err["msg"]))
    else:
        msg = _MESSAGES.get(kind, err["msg"])
    if kind == "missing":
        return f"{full} {msg}"
    if key in SECRET_KEYS:
        return f"{full} {msg} (value not shown: it is a secret)"
    return f"{full} {msg}, got {_shown(err['input'])}"


SHOWN_CHARACTERS = 60


def _shown(value: Any) -> str:
    """Config values arrive as text: show `0`, not `'0'`, for a number typed as one; cut long ones."""
    try:
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value) and len(value) <= SHOWN_CHARACTERS:
            return value
        text = repr(value)
    except ValueError:  # an int past Python's 4300-digit conversion limit
        return f"a number of {value.bit_length():,} bits"
    if len(text) > SHOWN_CHARACTERS:
        size = f"{len(value):,} characters" if isinstance(value, str) else f"{len(text):,} characters as text"
        return f"{text[:SHOWN_CHARACTERS]}… ({size})"
    return text


def _unknown_key(key: str) -> str:
    """A `seldon-bench:` key that is no setting, with the nearest one (or the aws: key it belongs to)."""
    if key in _AWS_FIELDS:
        aws_key = _AWS_FIELDS[key]
        return (f"{PROJECT}:{key} is not read: the program takes it from the AWS provider's {aws_key} "
                f"(`pulumi config rm {PROJECT}:{key}`, then `pulumi config set {aws_key} <value>`)")
    known = config_key_names()[0]
    camel = to_camel(key) if "_" in key else key
    near = [camel] if camel in known else difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {PROJECT}:{near[0]}?)" if near else ""
    return f"{PROJECT}:{key} is not a setting of seldon-bench{hint}"


def _missing_allowed_cidrs() -> str:
    return (
        f"{PROJECT}:allowedCidrs is required: the CIDRs allowed to reach the benchmark's load balancers. "
        f"Set it to your own address, e.g.\n"
        f"      pulumi config set --path '{PROJECT}:allowedCidrs[0]' \"$(curl -s https://checkip.amazonaws.com)/32\""
    )


def _decode(key: str, value: Any) -> Any:
    """Stack config values arrive as strings; lists and objects as JSON text."""
    if not isinstance(value, str):
        return value
    field = _FIELDS_BY_KEY.get(key)
    if field is not None and field.annotation in (list[str], dict[str, str]):
        text = value.strip()
        if text.startswith(("[", "{")):
            try:
                return json.loads(text)
            except (ValueError, RecursionError):
                # Not JSON (or JSON nested too deep, or with a number too long to convert): the
                # setting's own check reports the text.
                return value
    return value


# Each setting by its stack-config key (the alias pydantic's to_camel gave it, or its own alias).
_FIELDS_BY_KEY = {f.alias: f for f in Settings.model_fields.values()}


# `aws:` provider keys that give Pulumi credentials `aws eks get-token` never sees: it runs with
# the environment and `aws:profile` only. EKS makes the identity that created the cluster its
# admin, so with these the kubeconfig would authenticate as someone else and be refused.
_FOREIGN_CREDENTIAL_KEYS = {
    "assumeRole": "assume the role in an AWS CLI profile (role_arn + source_profile) and set `pulumi config set aws:profile <profile>`",
    "accessKey": "export AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or use a profile with `aws:profile`)",
    "secretKey": "export AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or use a profile with `aws:profile`)",
    "token": "export AWS_SESSION_TOKEN with the keys (or use a profile with `aws:profile`)",
    "sharedCredentialsFiles": "export AWS_SHARED_CREDENTIALS_FILE instead",
    "sharedConfigFiles": "export AWS_CONFIG_FILE instead",
}


def aws_credential_problems(aws_config: Mapping[str, Any], cluster_mode: str = "eks") -> list[str]:
    """`aws:` keys (prefix removed) that would make Pulumi create the cluster as an identity the
    kubeconfig's `aws eks get-token` does not use. Only `clusterMode: eks` builds that kubeconfig."""
    if cluster_mode != "eks":
        return []
    problems = []
    for key in sorted(k for k, v in aws_config.items() if v not in (None, "")):
        base = "assumeRole" if key.startswith("assumeRole") else key
        if base in _FOREIGN_CREDENTIAL_KEYS:
            problems.append(
                f"aws:{key} gives Pulumi credentials that `aws eks get-token` (the kubeconfig) does not use, so the "
                f"cluster's admin would not be the identity that talks to it; remove it "
                f"(`pulumi config rm aws:{key}`) and {_FOREIGN_CREDENTIAL_KEYS[base]}"
            )
    return problems


# Keys whose value must be stored encrypted in the stack file (`pulumi config set --secret`).
SECRET_KEYS = ("dockerHubToken",)


def secret_problems(raw: Mapping[str, Any], secret_keys: Collection[str]) -> list[str]:
    """Secret keys given in plain text: the stack file would hold the credential readable."""
    return [
        f"{PROJECT}:{key} must be stored as a secret, not in plain text in the stack file: "
        f"`pulumi config set --secret {PROJECT}:{key} <value>`"
        for key in SECRET_KEYS if raw.get(key) not in (None, "") and key not in secret_keys
    ]


def _validate(data: Mapping[str, Any]) -> tuple[Optional[Settings], Optional[Settings], list[dict], list[str]]:
    """(the settings, the settings the rules between keys judged, the errors of single keys, the
    broken rules between keys). The rules run only once every key is valid on its own."""
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        rules = [e["ctx"] for e in errors if e["type"] == RULES_BETWEEN_KEYS]
        if rules:
            return None, rules[0]["settings"], [], list(rules[0]["problems"])
        return None, None, errors, []
    return settings, settings, [], []


def parse_settings(raw: Mapping[str, Any], region: Optional[str] = None,
                   aws_profile: Optional[str] = None, aws_config: Optional[Mapping[str, Any]] = None,
                   secret_keys: Collection[str] = SECRET_KEYS, other_config: Optional[Mapping[str, Any]] = None,
                   stack_problems: Sequence[str] = (), locations: Optional[Mapping[str, str]] = None) -> Settings:
    """Validate raw stack config (`{"apiReplicas": "2", ...}`, keys without the project prefix).

    `aws_config` holds the stack's `aws:` keys (prefix removed) for the credential rule;
    `secret_keys` the keys (prefix removed) the stack stores encrypted. `other_config`, when
    given, holds every other config key with its namespace (`aws:region`, `seldon:apiReplicas`):
    keys meant for seldon-bench under another namespace are refused (`namespace_problems`).
    `stack_problems` (the stack file's own, `infra.stackfile`) come first in the one error, and
    `locations` maps a full key to where it is set ("Pulumi.bench.yaml line 4") for messages.
    """
    if aws_config is None and other_config is not None:
        aws_config = {k[len("aws:"):]: v for k, v in other_config.items() if k.startswith("aws:")}
    problems = list(stack_problems)
    known = {f.alias for name, f in Settings.model_fields.items() if f.alias not in _AWS_FIELDS}
    # Unknown keys first, by hand: pydantic would also take the field names (api_replicas) and,
    # for region and awsProfile, the values the AWS provider's keys are meant to give.
    problems += [_unknown_key(k) for k in raw if k not in known]
    data = {k: _decode(k, v) for k, v in raw.items() if v is not None and k in known}
    if region:
        data["region"] = region
    if aws_profile:
        data["awsProfile"] = aws_profile
    settings, judged, field_errors, rules = _validate(data)
    if not field_errors:
        problems += rules
    else:
        bad = {str(err["loc"][0]) for err in field_errors}
        problems += [_missing_allowed_cidrs() if err["type"] == "missing" and err["loc"] == ("allowedCidrs",)
                     else _describe(err) for err in field_errors]
        # Report the rules between keys too, judged with defaults in place of the bad values; but
        # not those about a bad key ("kubeContext is required" after "kubeContext must be ..."):
        # they would be judged on the default, not on what the user wrote.
        good = {k: v for k, v in data.items() if k not in bad}
        good.setdefault("allowedCidrs", ["127.0.0.1/32"])
        about_bad = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(bad)) + r")\b")
        problems += [p for p in _validate(good)[3] if not about_bad.search(p)]
    if other_config is not None:
        problems += namespace_problems(other_config, locations or {})
    mode = judged.cluster_mode if judged else str(data.get("clusterMode", "eks"))
    problems += aws_credential_problems(aws_config or {}, mode)
    problems += secret_problems(data, secret_keys)
    if problems or settings is None:
        raise SettingsError(problems)
    return settings


# ---------------------------------------------------------------- keys of other namespaces

# The namespaces this program's providers read besides its own (pulumi: is the engine's).
PROVIDER_NAMESPACES = ("aws", "kubernetes", "random", "pulumi")
# Real Pulumi packages whose namespace is within two edits of `aws`: not typos of it.
_NEAR_AWS_PACKAGES = ("awsx", "eks", "tls")


def _provider_keys(module: str, pattern: str) -> Optional[frozenset[str]]:
    """Config keys a provider SDK declares, read from its source text (importing the SDK would
    load every resource module); None when the SDK or its layout is not there."""
    spec = importlib.util.find_spec(module.split(".")[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    path = pathlib.Path(list(spec.submodule_search_locations)[0], *module.split(".")[1:]).with_suffix(".py")
    try:
        found = re.findall(pattern, path.read_text())
    except OSError:
        return None
    return frozenset(to_camel(k) if "_" in k else k for k in found) or None


@functools.lru_cache(maxsize=1)
def aws_provider_keys() -> Optional[frozenset[str]]:
    """The `aws:` keys of the installed pulumi-aws (its config module), plus the credential keys
    older versions took, which `aws_credential_problems` explains."""
    keys = _provider_keys("pulumi_aws.config.vars", r"__config__\.get\w*\('([A-Za-z0-9]+)'")
    return None if keys is None else keys | set(_FOREIGN_CREDENTIAL_KEYS) | {"assumeRoleWithWebIdentity"}


@functools.lru_cache(maxsize=1)
def kubernetes_provider_keys() -> frozenset[str]:
    """The `kubernetes:` keys of the installed pulumi-kubernetes provider (its ProviderArgs)."""
    return _provider_keys("pulumi_kubernetes.provider", r'pulumi\.set\(__self__, "([a-z0-9_]+)"') or frozenset()


@functools.lru_cache(maxsize=1)
def config_key_names() -> tuple[list[str], list[str]]:
    """(every `seldon-bench:` key, every `aws:` key the AWS provider reads), for suggestions."""
    ours = sorted(f.alias for f in Settings.model_fields.values() if f.alias not in _AWS_FIELDS)
    return ours, sorted(aws_provider_keys() or ())


def _edits(a: str, b: str) -> int:
    """Edits from a to b (insert, delete, substitute, swap two neighbours): optimal string alignment."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def namespace_problems(config: Mapping[str, Any], locations: Mapping[str, str] = {}) -> list[str]:
    """Keys of `config` (full `namespace:key` names, seldon-bench's own left out) that nothing reads
    but that were plainly meant for this program: one of its keys under another namespace
    (`seldon:apiReplicas`), a namespace a typo away from seldon-bench or aws (`seldon-bnech:`,
    `aws2:`), or an `aws:` key the AWS provider does not have (`aws:regoin`). Keys of the other
    providers and of unrelated namespaces stay allowed."""
    ours, _ = config_key_names()
    aws_keys = aws_provider_keys()
    problems = []
    for full in sorted(k for k in config if isinstance(k, str)):
        ns, sep, name = full.partition(":")
        if not sep or ns == PROJECT:
            continue
        at = f" ({locations[full]})" if full in locations else ""
        low = ns.lower()
        if ns == "aws":
            if aws_keys is None or name in aws_keys:
                continue
            if name in ours:
                hint = f"did you mean {PROJECT}:{name}?"
            else:
                near = difflib.get_close_matches(name, sorted(aws_keys), n=1)
                hint = f"did you mean aws:{near[0]}?" if near else "see the AWS provider's configuration keys"
            problems.append(f"aws:{name}{at} is not a setting of the AWS provider, which ignores it ({hint})")
        elif ns in PROVIDER_NAMESPACES:
            if name in ours and not (ns == "kubernetes" and name in kubernetes_provider_keys()):
                problems.append(f"{full}{at} is not read by seldon-bench, whose settings are {PROJECT}:<key> "
                                f"(did you mean {PROJECT}:{name}?)")
        else:
            near_us = "seldon" in low or _edits(low, PROJECT) <= 2
            near_aws = low not in _NEAR_AWS_PACKAGES and _edits(low, "aws") <= 2
            near_key = name if name in ours else next(iter(difflib.get_close_matches(name, ours, n=1, cutoff=0.85)), None)
            if near_key and (near_us or not (near_aws and aws_keys and name in aws_keys)):
                target = f"{PROJECT}:{near_key}"
            elif near_aws and aws_keys and name in aws_keys:
                target = f"aws:{name}"
            elif near_us:
                target = f"{PROJECT}:<key>"
            elif near_aws:
                target = "aws:<key>"
            else:
                continue  # another tool's key: not ours to judge
            problems.append(f"{full}{at} is in namespace {ns!r}, which nothing in this program reads "
                            f"(did you mean {target}?)")
    return problems


def settings_table() -> str:
    """The README's table of every config key, generated so the two never drift apart."""
    rows = ["| key (`seldon-bench:`) | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        key = f"`{_full_key(field.alias).removeprefix(PROJECT + ':')}`"
        if field.is_required():
            default = "*(required)*"
        elif field.default_factory is not None:
            default = f"`{json.dumps(field.default_factory())}`"
        elif field.default is None:
            default = "—"
        elif isinstance(field.default, bool):
            default = f"`{str(field.default).lower()}`"
        else:
            default = f"`{field.default}`"
        rows.append(f"| {key} | {default} | {field.description} |")
    return "\n".join(rows)
