"""Evaluate the real Pulumi program offline, under Pulumi mocks, and record what it declares.

The one way the tests and the offline tools (`python -m infra.offline.plan`, what `pulumi up`
would create, with no AWS account and no Pulumi CLI) run the program.

`run_program(overrides)` evaluates `__main__.py` with the `bench` stack config (read from
`Pulumi.bench.yaml`) plus overrides, with `preview=False` so every `apply` runs, and returns a
`Program`: every resource with its inputs, parent, provider and declared dependencies, and the
stack outputs. The mocks answer like AWS would where the program reads a value back.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import runpy
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from infra import stackfile

# Where the stack files are read from: the project directory (tests point it elsewhere).
ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
# The program itself, wherever ROOT points.
PROGRAM = ROOT / "__main__.py"
PROJECT = "seldon-bench"
# Offline runs allow one documentation address (RFC 5737) unless the stack file sets its own.
TEST_CIDR = "203.0.113.7/32"


# Offline runs pull through the ECR cache as this stand-in Docker Hub user unless the stack file
# (or an override) chooses its own image source, as `pulumi config set [--secret]` would add them.
TEST_DOCKER_HUB = ("benchuser", "dckr_pat_offline-test-token")


def stack_path(stack: str) -> pathlib.Path:
    return stackfile.stack_path(stack, ROOT)


def read_stack(stack: str) -> stackfile.StackFile:
    """`Pulumi.<stack>.yaml` read as the Pulumi CLI would (FileNotFoundError, StackFileError)."""
    return stackfile.read(stack_path(stack))


def engine_config(stack: str = "bench") -> dict[str, str]:
    """The config of `Pulumi.<stack>.yaml` as the Pulumi engine passes it: JSON text for objects,
    and a placeholder for each `secure:` value (offline runs cannot decrypt them)."""
    return read_stack(stack).pulumi_config()[0]


def effective_config(stack: str = "bench", overrides: Optional[dict[str, Any]] = None,
                     allowed_cidrs: Optional[list[str]] = None,
                     docker_hub: Optional[tuple[str, str]] = TEST_DOCKER_HUB) -> tuple[dict[str, str], set[str]]:
    """The config an offline run of `stack` sees, and which of its keys are secrets.

    `overrides` (keys with or without the project prefix; None removes a key) apply last.
    A stack without `allowedCidrs` gets `allowed_cidrs` or the documentation address; one whose
    images would come from the ECR cache without credentials gets `docker_hub` (None: leave it so).
    `stand_ins` says which of those a stack got.
    """
    config, secret, _ = _effective(stack, overrides, allowed_cidrs, docker_hub)
    return config, secret


def stand_ins(stack: str = "bench", overrides: Optional[dict[str, Any]] = None) -> list[str]:
    """The stand-in values an offline run of `stack` + `overrides` adds, each in one sentence
    naming the key (empty when the stack file sets everything `pulumi up` needs itself)."""
    return _effective(stack, overrides, None, TEST_DOCKER_HUB)[2]


def _effective(stack: str, overrides: Optional[dict[str, Any]], allowed_cidrs: Optional[list[str]],
               docker_hub: Optional[tuple[str, str]]) -> tuple[dict[str, str], set[str], list[str]]:
    config, secret = read_stack(stack).pulumi_config()
    used = []
    key = f"{PROJECT}:allowedCidrs"
    overridden = {(k if ":" in k else f"{PROJECT}:{k}") for k, v in (overrides or {}).items() if v is not None}
    if allowed_cidrs is None and key not in config and key not in overridden:
        allowed_cidrs = [TEST_CIDR]
        used.append(f"{key} is not set; used the stand-in {TEST_CIDR} (a documentation address)")
    if allowed_cidrs is not None:
        if allowed_cidrs:
            config[key] = json.dumps(allowed_cidrs)
        else:
            config.pop(key, None)
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value if isinstance(value, str) else json.dumps(value)
    user, token = f"{PROJECT}:dockerHubUsername", f"{PROJECT}:dockerHubToken"
    chooses_source = (f"{PROJECT}:imageRegistry" in config
                      or config.get(f"{PROJECT}:imageSource", "ecr-cache") != "ecr-cache"
                      or config.get(f"{PROJECT}:clusterMode", "eks") != "eks")
    if docker_hub and not chooses_source and user not in config and token not in config:
        config[user], config[token] = docker_hub
        secret.add(token)
        used.append(f"{user} and {token} are not set; used the stand-in Docker Hub account {docker_hub[0]!r} "
                    f"for the ECR pull-through cache")
    # An override stands for `pulumi config set`: with --secret for the keys that must be secrets.
    if any((k if ":" in k else f"{PROJECT}:{k}") == token for k in overrides or {}) and token in config:
        secret.add(token)
    return config, secret, used


def stack_settings(stack: str = "bench", overrides: Optional[dict[str, str]] = None):
    """The Settings the program sees for `Pulumi.<stack>.yaml` + `overrides` (keys with or without
    the project prefix, `aws:region`/`aws:profile` too), as `run_program` builds them.

    Tools that never reach the load balancers (plan, preflight) accept any CIDR: a stack file
    without `allowedCidrs` gets the documentation address.
    """
    doc = read_stack(stack)
    config, secret = effective_config(stack, overrides)
    return stackfile.settings_of(config, secret, doc)


def is_secret(value: Any) -> bool:
    """True when a recorded input is a Pulumi secret (the engine receives it marked so, and
    encrypts it in the state): the wire form of `pulumi.Output.secret`."""
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def error_line(stack: str, exc: Exception) -> str:
    """The one `error:` line (with the indented details of a settings error) that an offline
    command prints for a stack it cannot use, naming the stack file first."""
    if isinstance(exc, FileNotFoundError):
        return f"error: no stack file {stack_path(stack)} (is the stack name {stack!r} right?)"
    if isinstance(exc, stackfile.StackFileError):
        return f"error: {exc}"  # already begins with the file's name
    return f"error: {stack_path(stack).name}: {exc}"


@dataclass
class Declared:
    urn: str
    typ: str
    name: str
    inputs: dict
    outputs: dict
    parent: str
    provider: str
    dependencies: set[str]
    custom: bool
    # The `delete_before_replace` resource option (replacement order of a live stack).
    delete_before_replace: bool = False
    # The `ignore_changes` resource option: inputs whose later changes never update or replace it.
    ignore_changes: tuple[str, ...] = ()
    # The `custom_timeouts` resource option: {"create"|"update"|"delete": "20m"}, set ones only.
    custom_timeouts: dict = field(default_factory=dict)
    # The `aliases` resource option as the engine receives it: each a full URN, or a spec dict
    # with the fields set among name, type, parentUrn, noParent (the rest default to this
    # resource's own).
    aliases: tuple = ()
    # The id the mocks gave it, as other resources' inputs refer to it.
    id: Optional[str] = None

    @property
    def kind(self) -> Optional[str]:
        return self.inputs.get("kind")

    @property
    def metadata(self) -> dict:
        return self.inputs.get("metadata") or {}


class NotDeclared(LookupError):
    """The program declares none, or more than one, of the resources asked for; the message says which."""


@dataclass
class Program:
    resources: list[Declared]
    outputs: dict
    secret_outputs: set[str] = field(default_factory=set)
    invokes: list[tuple[str, dict]] = field(default_factory=list)

    def of_type(self, typ: str) -> list[Declared]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name: Optional[str] = None) -> Declared:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        if len(found) != 1:
            raise NotDeclared(f"expected one {typ} named {name!r}, found {[r.name for r in found]}")
        return found[0]

    def named(self, name: str) -> Declared:
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise NotDeclared(f"expected one resource named {name!r}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> Declared:
        return next(r for r in self.resources if r.urn == urn)

    def engine_urn(self, resource: Declared) -> str:
        """The URN the Pulumi engine gives `resource` (what a live stack holds and
        `pulumi up --replace` takes): stack::project, the chain of its parents' types without
        the stack's, its name. The mocks' own URNs keep only the last parent's type and name
        the stack."""
        parent = next((r for r in self.resources if r.urn == resource.parent), None)
        prefix = "::".join(resource.urn.split("::")[:2])
        if parent is None or parent.typ == "pulumi:pulumi:Stack":
            return f"{prefix}::{resource.typ}::{resource.name}"
        chain = self.engine_urn(parent).split("::")[2]
        return f"{prefix}::{chain}${resource.typ}::{resource.name}"

    def k8s_objects(self) -> list[Declared]:
        """Every Kubernetes API object declared (not the provider itself)."""
        return [
            r for r in self.resources
            if r.typ.startswith("kubernetes:") and r.typ != "pulumi:providers:kubernetes" and r.custom
        ]

    def k8s(self, kind: str, name: Optional[str] = None) -> list[Declared]:
        return [
            r for r in self.k8s_objects()
            if r.kind == kind and (name is None or r.metadata.get("name") == name)
        ]

    def images(self) -> set[str]:
        """Every container image reference the Kubernetes objects declare (containers and init
        containers of every pod spec and pod template)."""
        found: set[str] = set()
        todo: list = [r.inputs for r in self.k8s_objects()]
        while todo:
            value = todo.pop()
            if isinstance(value, dict):
                for key in ("containers", "initContainers"):
                    found.update(c["image"] for c in value.get(key) or [] if isinstance(c, dict) and "image" in c)
                todo.extend(value.values())
            elif isinstance(value, list):
                todo.extend(value)
        return found

    def depends_on(self, a: Declared, b: Declared) -> bool:
        """True when `a` waits for `b`, directly or through other resources or its parents."""
        seen, todo = set(), [a.urn]
        while todo:
            urn = todo.pop()
            if urn in seen:
                continue
            seen.add(urn)
            r = self.by_urn(urn) if any(x.urn == urn for x in self.resources) else None
            if r is None:
                continue
            if b.urn in r.dependencies:
                return True
            todo.extend(r.dependencies)
            if r.parent:
                todo.append(r.parent)
        return False


# ---------------------------------------------------------------- mocks


def _arn(typ: str, name: str) -> str:
    service = typ.split(":")[1].split("/")[0]
    return f"arn:aws:{service}:eu-west-1:123456789012:{name}"


class BenchMocks(pulumi.runtime.Mocks):
    """Answers like AWS/Kubernetes where the program reads a value back."""

    def __init__(self, region: str = "eu-west-1"):
        self.region = region
        self.invokes: list[tuple[str, dict]] = []
        self._ip = 10

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        out = dict(args.inputs)
        name, typ = args.name, args.typ
        out.setdefault("arn", _arn(typ, name))
        if typ == "aws:eks/cluster:Cluster":
            out.update({
                "name": out.get("name") or name,
                "endpoint": f"https://{name}.gr7.{self.region}.eks.amazonaws.com",
                "status": "ACTIVE",
                "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"},
                "vpcConfig": {**(out.get("vpcConfig") or {}), "clusterSecurityGroupId": "sg-eks-cluster"},
                "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{self.region}.amazonaws.com/id/ABC"}]}],
            })
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            out.update({"latestVersion": 1, "defaultVersion": 1})
        elif typ == "aws:eks/nodeGroup:NodeGroup":
            out.setdefault("nodeGroupName", name)
        elif typ == "aws:ec2/instance:Instance":
            self._ip += 1
            out.setdefault("privateIp", f"10.0.1.{self._ip}")
        elif typ == "aws:ec2/vpc:Vpc":
            out.setdefault("defaultSecurityGroupId", "sg-default")
        elif typ == "aws:iam/role:Role":
            out.update({"arn": f"arn:aws:iam::123456789012:role/{name}", "name": out.get("name") or name})
        elif typ == "aws:iam/instanceProfile:InstanceProfile":
            out.setdefault("name", name)
        elif typ == "aws:secretsmanager/secret:Secret":
            # Secrets Manager names a secret from its prefix plus a random part, and its ARN ends
            # in "-" and six more random characters.
            secret_name = out.get("name") or f"{out.get('namePrefix', '')}20261206000000000000000001"
            out.update({"name": secret_name,
                        "arn": f"arn:aws:secretsmanager:{self.region}:123456789012:secret:{secret_name}-AbC123"})
        elif typ == "aws:ecr/repository:Repository":
            out["repositoryUrl"] = f"123456789012.dkr.ecr.{self.region}.amazonaws.com/{out.get('name') or name}"
        elif typ == "kubernetes:core/v1:Service":
            spec = out.get("spec") or {}
            if spec.get("type") == "LoadBalancer":
                out["status"] = {"loadBalancer": {"ingress": [
                    {"hostname": f"{name}-123.{self.region}.elb.amazonaws.com"}]}}
        elif typ == "random:index/randomPassword:RandomPassword":
            out["result"] = "mock-password-0123456789"
        return f"{name}-id", out

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.invokes.append((args.token, dict(args.args)))
        token = args.token
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": [f"{self.region}{z}" for z in "abc"],
                    "zoneIds": [f"euw1-az{i}" for i in (1, 2, 3)], "id": self.region}
        if token == "aws:ec2/getAmi:getAmi":
            return {"id": "ami-0debian12", "architecture": "x86_64", "rootDeviceName": "/dev/xvda",
                    "name": "debian-12-amd64-20261101"}
        if token == "aws:eks/getAddonVersion:getAddonVersion":
            return {"version": f"v1.0.0-eksbuild.1", "addonName": args.args.get("addonName"),
                    "kubernetesVersion": args.args.get("kubernetesVersion")}
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/bench",
                    "userId": "AIDA", "id": "123456789012"}
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if token == "aws:ssm/getParameter:getParameter":
            return {"value": "ami-0eksnode", "name": args.args.get("name"), "type": "String"}
        if token == "aws:iam/getPolicyDocument:getPolicyDocument":
            return {"json": json.dumps({"Version": "2012-10-17", "Statement": args.args.get("statements", [])})}
        return {}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A MockMonitor that also keeps each resource's inputs, parent, provider and dependencies."""

    def __init__(self, mocks: BenchMocks):
        super().__init__(mocks)
        self.meta: dict[str, dict] = {}

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        self.meta[response.urn] = {
            "inputs": rpc.deserialize_properties(request.object) if request.type != "pulumi:pulumi:Stack" else {},
            "parent": request.parent,
            "provider": request.provider,
            "dependencies": set(request.dependencies),
            "custom": request.custom,
            "delete_before_replace": request.deleteBeforeReplace,
            "ignore_changes": tuple(request.ignoreChanges),
            "custom_timeouts": {k: v for k in ("create", "update", "delete")
                                if (v := getattr(request.customTimeouts, k))},
            "type": request.type,
            "name": request.name,
            "id": response.id or None,
            "aliases": tuple(
                a.urn if a.WhichOneof("alias") == "urn" else
                {k: getattr(a.spec, k) for k in ("name", "type", "parentUrn", "noParent") if getattr(a.spec, k)}
                for a in request.aliases),
        }
        return response


def run_program(
    overrides: Optional[dict[str, Any]] = None,
    stack: str = "bench",
    mocks_factory: Callable[[], BenchMocks] = BenchMocks,
    allowed_cidrs: Optional[list[str]] = None,
    docker_hub: Optional[tuple[str, str]] = TEST_DOCKER_HUB,
    plain_keys: tuple[str, ...] = (),
    live_checks: bool = False,
) -> Program:
    """Evaluate `__main__.py` for `stack` with `overrides` (keys without the project prefix).

    `live_checks` leaves preflight and the image check on (the stack file's skip keys still
    apply); without it both are skipped, as if `skipPreflight`/`skipImageCheck` were set.
    `plain_keys` are passed as plain config even where `pulumi config set --secret` would encrypt
    them (to test that a token in plain text is refused); see `effective_config` for the rest.
    """
    config, secret = effective_config(stack, overrides, allowed_cidrs, docker_hub)
    # Offline means offline: neither AWS nor a registry is asked unless a test turns a check on.
    if not live_checks:
        for key in ("skipPreflight", "skipImageCheck"):
            config.setdefault(f"{PROJECT}:{key}", "true")
    secret -= {k if ":" in k else f"{PROJECT}:{k}" for k in plain_keys}

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.settings.reset_options(project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config(config, sorted(secret))
    mocks = mocks_factory()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    outputs: dict = {}
    secret_outputs: set[str] = set()

    async def resolve_outputs():
        root = pulumi.runtime.settings.get_root_resource()
        for key, value in getattr(root, "outputs", {}).items():
            out = pulumi.Output.from_input(value)
            outputs[key] = await out.future()
            if await out.is_secret():
                secret_outputs.add(key)

    # The program reads the stack file beside it (load_settings): the one read here.
    stack_dir, stackfile.STACK_DIR = stackfile.STACK_DIR, ROOT
    try:
        loop.run_until_complete(pulumi.runtime.stack.run_pulumi_func(
            lambda: runpy.run_path(str(PROGRAM), run_name="__main__")))
        loop.run_until_complete(resolve_outputs())
    finally:
        stackfile.STACK_DIR = stack_dir
        loop.close()
        asyncio.set_event_loop(None)

    registered = monitor.get_registered_resources()
    resources = []
    for urn, meta in monitor.meta.items():
        reg = registered.get(urn)
        resources.append(Declared(
            urn=urn, typ=meta["type"], name=meta["name"],
            inputs=meta["inputs"],
            outputs=dict(reg.state) if reg else {},
            parent=meta["parent"], provider=meta["provider"],
            dependencies=meta["dependencies"], custom=meta["custom"],
            delete_before_replace=meta["delete_before_replace"],
            ignore_changes=meta["ignore_changes"],
            custom_timeouts=meta["custom_timeouts"],
            aliases=meta["aliases"],
            id=meta["id"],
        ))
    return Program(resources=resources, outputs=outputs, secret_outputs=secret_outputs,
                   invokes=mocks.invokes)
