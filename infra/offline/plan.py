"""What `pulumi up` would create for a stack, and roughly what it costs, with no AWS account.

    python -m infra.offline.plan [--stack bench] [--set key=value ...] [--standup-minutes 90] ...

Evaluates the real program offline (infra/offline/runner.py, Pulumi mocks, no Pulumi CLI), reads
the declared resources back and prices them from infra/offline/prices.json:

- EC2 instances: EKS managed node groups (scalingConfig.desiredSize x instanceTypes) and the
  GlusterFS servers (aws:ec2/instance);
- EBS: node root volumes (launch template), GlusterFS root and brick volumes, gp3 claims of the
  EBS CSI driver (mysqlStorage=ssd);
- EKS control plane, NAT gateways, Elastic IPs;
- load balancers: every Kubernetes Service of type LoadBalancer becomes a Classic ELB (the in-tree
  controller), or an NLB when annotated so, with one public IPv4 address per public subnet.

The per-run estimate bills everything for the whole run (stand-up + load test + teardown),
which is an upper bound: the ELBs appear only once the Seldon stack is up. Exit 2 names an
unknown region, instance type or zone, a bad setting, or a stack file that cannot be read.

A stack file without `allowedCidrs` or without an image source is planned with the offline
stand-ins (infra/offline/runner.py), and a `warning:` line says so: `pulumi up` would refuse it as it is.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

import pulumi

from infra.offline import prices
from infra.offline.runner import BenchMocks, Program, error_line, run_program, stack_path, stand_ins, stack_settings
from infra.settings import Settings, SettingsError
from infra.units import KUBERNETES

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
VOLUME = "aws:ebs/volume:Volume"
CLUSTER = "aws:eks/cluster:Cluster"
NAT = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
SUBNET = "aws:ec2/subnet:Subnet"
SERVICE = "kubernetes:core/v1:Service"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
EBS_CSI = "ebs.csi.aws.com"
LB_TYPE = "service.beta.kubernetes.io/aws-load-balancer-type"
LB_INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal"
LB_SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"

# Volumes whose size the program leaves to the AMI's snapshot: the sizes of those snapshots.
AMI_ROOT_GIB = {"gluster": 8, "BOTTLEROCKET": 2, "AL2023": 20}

ASSUMPTIONS = (
    "on-demand Linux list prices; no free tier, savings plans, taxes or support plan",
    "every resource billed for the whole run, an upper bound (the ELBs only start once Seldon is up)",
    "EC2, EBS, EKS and public IPv4 prorated; NAT gateway and ELB hours billed per started hour",
    "left out: ELB data ($0.008/GB, megabytes at 100 req/s), CloudWatch, inter-AZ and Internet egress",
    "left out: the ECR pull-through cache's storage ($0.10/GB-month, ~15 GB of images: under $0.01 a run) "
    "and its Secrets Manager secret ($0.40/month, prorated); the image bytes are in the NAT data",
    "change the run with --standup-minutes, --teardown-minutes and --nat-gb",
)

# Defaults of the per-run assumptions (each a CLI flag).
STANDUP_MINUTES = 90  # unmeasured: EKS ~15 min, nodes ~5, Seldon stack + image pulls ~15, ML10M download/import/train ~55
TEARDOWN_MINUTES = 20  # ELBs, node groups, EKS control plane, NAT gateway
NAT_GB = 15.0  # image pulls through the NAT: ~15 Seldon/Spark/iago images of 0.1-3 GB on 4-6 nodes, ML10M zip 63 MB


@dataclass(frozen=True)
class Machines:
    role: str
    instance_type: str
    count: int
    source: str  # "EKS node group <name>" / "EC2 instance"


@dataclass(frozen=True)
class Disk:
    what: str
    gib: int
    volume_type: str
    count: int = 1


@dataclass(frozen=True)
class LoadBalancer:
    service: str  # namespace/name
    kind: str  # "classic" or "nlb"
    public_ips: int


@dataclass
class Plan:
    """What the program declares that AWS bills for."""

    stack: str
    region: str
    cluster_mode: str
    machines: list[Machines] = field(default_factory=list)
    disks: list[Disk] = field(default_factory=list)
    load_balancers: list[LoadBalancer] = field(default_factory=list)
    eks_clusters: int = 0
    nat_gateways: int = 0
    eips: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def public_ips(self) -> int:
        return self.eips + sum(lb.public_ips for lb in self.load_balancers)

    @property
    def instance_count(self) -> int:
        return sum(m.count for m in self.machines)


@dataclass(frozen=True)
class Line:
    what: str
    count: float
    unit: str
    unit_price: float  # $ per unit-hour
    partial_hours_billed_as_full: bool = False

    @property
    def hourly(self) -> float:
        return self.count * self.unit_price


@dataclass(frozen=True)
class Run:
    """One benchmark run: how long everything exists, and the data through the NAT."""

    standup_minutes: float = STANDUP_MINUTES
    loadtest_minutes: float = 30
    teardown_minutes: float = TEARDOWN_MINUTES
    nat_gb: float = NAT_GB

    @property
    def hours(self) -> float:
        return (self.standup_minutes + self.loadtest_minutes + self.teardown_minutes) / 60


@dataclass
class Estimate:
    lines: list[Line]
    run: Run
    nat_gb_price: float  # 0 when nothing goes through a NAT gateway

    @property
    def hourly(self) -> float:
        return sum(line.hourly for line in self.lines)

    def line_run_cost(self, line: Line) -> float:
        hours = math.ceil(self.run.hours) if line.partial_hours_billed_as_full else self.run.hours
        return line.hourly * hours

    @property
    def nat_data(self) -> float:
        return self.run.nat_gb * self.nat_gb_price

    @property
    def per_run(self) -> float:
        return sum(self.line_run_cost(line) for line in self.lines) + self.nat_data


# ---------------------------------------------------------------- reading the program (pure)


def _gib(quantity: str) -> int:
    """GiB in a Kubernetes storage quantity (EBS bills whole GiB; the CSI driver rounds up)."""
    return math.ceil(KUBERNETES.bytes(str(quantity).strip()) / 2**30)


def _template_disks(template, ami_type: str) -> list[tuple[str, int, str]]:
    disks = []
    for mapping in template.inputs.get("blockDeviceMappings") or []:
        ebs = mapping.get("ebs") or {}
        family = "BOTTLEROCKET" if ami_type.startswith("BOTTLEROCKET") else "AL2023"
        size = ebs.get("volumeSize")
        disks.append((mapping.get("deviceName", "?"), int(size) if size else AMI_ROOT_GIB[family], ebs.get("volumeType", "gp3")))
    return disks


def plan_of(program: Program, settings: Settings, stack: str = "bench") -> Plan:
    """The billable resources `program` declares."""
    plan = Plan(stack=stack, region=settings.region, cluster_mode=settings.cluster_mode)
    templates = {t.urn: t for t in program.of_type(LAUNCH_TEMPLATE)}
    for group in program.of_type(NODE_GROUP):
        count = int(group.inputs["scalingConfig"]["desiredSize"])
        role = (group.inputs.get("labels") or {}).get("role", group.name)
        types = group.inputs.get("instanceTypes") or []
        if types:
            # With several types EKS picks per instance; the first one stands for all of them.
            plan.machines.append(Machines(role, types[0], count, f"EKS node group {group.name}"))
            if len(types) > 1:
                plan.notes.append(f"node group {group.name} may use {', '.join(types)}; priced as {types[0]}")
        template = next((templates[u] for u in group.dependencies if u in templates), None)
        ami_type = group.inputs.get("amiType", "AL2023_x86_64_STANDARD")
        if template is not None:
            for device, gib, vtype in _template_disks(template, ami_type):
                plan.disks.append(Disk(f"{group.name} node {device}", gib, vtype, count))
        else:
            plan.disks.append(Disk(f"{group.name} node root", int(group.inputs.get("diskSize") or 20), "gp3", count))
    instances: dict[tuple[str, str], list[str]] = {}
    for instance in program.of_type(INSTANCE):
        tags = instance.inputs.get("tags") or {}
        role = tags.get("Role") or tags.get("role") or instance.name.rstrip("-0123456789")
        instances.setdefault((role, instance.inputs["instanceType"]), []).append(instance.name)
        root = instance.inputs.get("rootBlockDevice") or {}
        size = root.get("volumeSize")
        plan.disks.append(Disk(f"{instance.name} root", int(size) if size else AMI_ROOT_GIB["gluster"],
                               root.get("volumeType") or "gp2"))
        if not size:
            plan.notes.append(f"{instance.name} root volume: the AMI's snapshot size, assumed {AMI_ROOT_GIB['gluster']} GiB")
        for extra in instance.inputs.get("ebsBlockDevices") or []:
            plan.disks.append(Disk(f"{instance.name} data {extra.get('deviceName', '')}".strip(), int(extra["volumeSize"]),
                                   extra.get("volumeType") or "gp2"))
    for (role, instance_type), names in instances.items():
        plan.machines.append(Machines(role, instance_type, len(names), f"EC2 instances {', '.join(names)}"))
    for volume in program.of_type(VOLUME):
        plan.disks.append(Disk(f"{volume.name} (EBS volume)", int(volume.inputs["size"]), volume.inputs.get("type") or "gp2"))

    plan.disks.extend(_claims(program))
    order = {"seldon": 0, "iago": 1, "mysql": 2, "gluster": 3}
    plan.machines.sort(key=lambda m: (order.get(m.role, 9), m.role, m.instance_type))
    plan.disks.sort(key=lambda d: d.what)
    plan.eks_clusters = len(program.of_type(CLUSTER))
    plan.nat_gateways = len(program.of_type(NAT))
    plan.eips = len(program.of_type(EIP))
    public_subnets = [s for s in program.of_type(SUBNET)
                      if (s.inputs.get("tags") or {}).get("kubernetes.io/role/elb") or s.inputs.get("mapPublicIpOnLaunch")]
    if settings.cluster_mode == "eks":
        plan.load_balancers = _load_balancers(program, len(public_subnets))
    else:
        services = [_service_name(s) for s in _lb_services(program)]
        plan.notes.append(
            f"existing cluster: nothing is created on AWS; the {len(services)} LoadBalancer Service(s) "
            f"({', '.join(services)}) get whatever load balancer that cluster provides, not priced here")
    return plan


def _service_name(svc) -> str:
    meta = svc.metadata
    return f"{meta.get('namespace', 'default')}/{meta.get('name', svc.name)}"


def _lb_services(program: Program) -> list:
    return [s for s in program.of_type(SERVICE) if (s.inputs.get("spec") or {}).get("type") == "LoadBalancer"]


def _load_balancers(program: Program, public_subnets: int) -> list[LoadBalancer]:
    found = []
    for svc in _lb_services(program):
        annotations = svc.metadata.get("annotations") or {}
        kind = "nlb" if annotations.get(LB_TYPE) in ("nlb", "external") else "classic"
        internal = str(annotations.get(LB_INTERNAL, "")).lower() in ("true", "0.0.0.0/0") \
            or annotations.get(LB_SCHEME) == "internal"
        # An internet-facing load balancer holds one public address in each public subnet it spans.
        found.append(LoadBalancer(_service_name(svc), kind, 0 if internal else max(public_subnets, 1)))
    return found


def _claims(program: Program) -> list[Disk]:
    """gp3 volumes the EBS CSI driver will create for claims of an EBS StorageClass."""
    classes = {}
    for sc in program.of_type(STORAGE_CLASS):
        if sc.inputs.get("provisioner") == EBS_CSI:
            classes[sc.metadata.get("name", sc.name)] = (sc.inputs.get("parameters") or {}).get("type", "gp3")
    disks = []
    for pvc in program.of_type(PVC):
        spec = pvc.inputs.get("spec") or {}
        if spec.get("storageClassName") in classes:
            size = _gib(spec["resources"]["requests"]["storage"])
            disks.append(Disk(f"claim {_service_name(pvc)}", size, classes[spec["storageClassName"]]))
    for sts in program.of_type(STATEFUL_SET):
        spec = sts.inputs.get("spec") or {}
        for template in spec.get("volumeClaimTemplates") or []:
            tspec = template.get("spec") or {}
            if tspec.get("storageClassName") in classes:
                size = _gib(tspec["resources"]["requests"]["storage"])
                name = f"claims {_service_name(sts)}/{(template.get('metadata') or {}).get('name', '?')}"
                disks.append(Disk(name, size, classes[tspec["storageClassName"]], int(spec.get("replicas", 1))))
    return disks


# ---------------------------------------------------------------- pricing (pure)


def estimate(plan: Plan, run: Run) -> Estimate:
    """Hourly lines from the price table; raises prices.UnknownPrice naming what is missing."""
    if plan.cluster_mode != "eks" and not plan.machines and not plan.disks:
        return Estimate([], run, 0.0)
    table = prices.region(plan.region)
    lines = []
    for m in plan.machines:
        lines.append(Line(f"{m.role} {m.instance_type} ({m.source})", m.count, "instance",
                          prices.instance_hour(plan.region, m.instance_type)))
    if plan.eks_clusters:
        lines.append(Line("EKS control plane (standard support)", plan.eks_clusters, "cluster", table.eks_cluster_hour))
    if plan.nat_gateways:
        lines.append(Line("NAT gateway", plan.nat_gateways, "gateway", table.nat_hour, True))
    classic = [lb for lb in plan.load_balancers if lb.kind == "classic"]
    nlb = [lb for lb in plan.load_balancers if lb.kind == "nlb"]
    if classic:
        lines.append(Line("Classic ELB (LoadBalancer Services)", len(classic), "ELB",
                          table.elb_hour, True))
    if nlb:
        lines.append(Line("NLB (annotated LoadBalancer Services), before LCUs", len(nlb), "NLB",
                          table.nlb_hour, True))
    if plan.public_ips:
        lines.append(Line(f"public IPv4 ({plan.eips} EIP + {plan.public_ips - plan.eips} on ELBs)",
                          plan.public_ips, "address", table.public_ipv4_hour))
    by_type = Counter()
    for d in plan.disks:
        by_type[d.volume_type] += d.gib * d.count
    for vtype, gib in sorted(by_type.items()):
        lines.append(Line(f"EBS {vtype}", gib, "GiB", prices.volume_gb_month(plan.region, vtype) / prices.HOURS_PER_MONTH))
    return Estimate(lines, run, table.nat_gb if plan.nat_gateways else 0.0)


# ---------------------------------------------------------------- output


def render(plan: Plan, est: Estimate) -> str:
    out = [f"seldon-bench plan: stack {plan.stack}, region {plan.region}, clusterMode {plan.cluster_mode}",
           f"prices: infra/offline/prices.json, {prices.SOURCE}, dated {prices.DATE}", ""]
    out.append("Instances by role and type:")
    for m in plan.machines:
        out.append(f"  {m.count} x {m.instance_type:<11} {m.role:<8} {m.source}")
    if not plan.machines:
        out.append("  none")
    out.append(f"EBS volumes ({sum(d.count for d in plan.disks)}, {sum(d.gib * d.count for d in plan.disks)} GiB):")
    for d in plan.disks:
        out.append(f"  {d.count} x {d.gib:>4} GiB {d.volume_type:<4} {d.what}")
    out.append(f"Load balancers ({len(plan.load_balancers)}):")
    for lb in plan.load_balancers:
        out.append(f"  {'Classic ELB' if lb.kind == 'classic' else 'NLB':<11} {lb.service} ({lb.public_ips} public IPv4)")
    out.append(f"EKS clusters: {plan.eks_clusters}   NAT gateways: {plan.nat_gateways}   Elastic IPs: {plan.eips}")
    for note in plan.notes:
        out.append(f"note: {note}")
    out.append("")
    if not est.lines:
        out.append("Estimated AWS cost: none (nothing is created on AWS)")
        return "\n".join(out)
    out.append(f"{'Estimated cost':<64} {'count':>7} {'$/unit-h':>9} {'$/hour':>8}")
    for line in est.lines:
        out.append(f"  {line.what[:62]:<62} {line.count:>7g} {line.unit_price:>9.5f} {line.hourly:>8.3f}")
    out.append(f"  {'total per hour':<62} {'':>7} {'':>9} {est.hourly:>8.3f}")
    run = est.run
    out.append("")
    out.append(f"Per benchmark run: {run.standup_minutes:g} min stand-up + {run.loadtest_minutes:g} min load test "
               f"+ {run.teardown_minutes:g} min teardown = {run.hours:.2f} h")
    out.append(f"  everything for {run.hours:.2f} h (NAT and ELB hours rounded up to {math.ceil(run.hours)} h) "
               f"+ {run.nat_gb:g} GB through the NAT (${est.nat_data:.2f})")
    out.append(f"  = ${est.per_run:.2f} per run")
    out.append("Assumptions:")
    for assumption in ASSUMPTIONS:
        out.append(f"  - {assumption}")
    return "\n".join(out)


# ---------------------------------------------------------------- CLI


class _Parser(argparse.ArgumentParser):
    """Bad arguments end like every other refusal here: one `error:` line, exit 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _overrides(p: argparse.ArgumentParser, pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            p.error(f"--set wants key=value, got {pair!r}")
        found[key] = value
    return found


def _amount(unit: str):
    """An argparse type: a finite number >= 0 of `unit` (a run cannot last -5 minutes)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number of {unit}, got {text!r}") from None
        if not math.isfinite(value) or value < 0:
            raise argparse.ArgumentTypeError(f"must be a number of {unit} >= 0, got {text}")
        return value
    return parse


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m infra.offline.plan", description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", default="bench", help="stack whose Pulumi.<stack>.yaml to plan (default bench)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set instanceType=m5.xlarge or --set aws:region=us-east-1")
    p.add_argument("--standup-minutes", type=_amount("minutes"), default=STANDUP_MINUTES)
    p.add_argument("--teardown-minutes", type=_amount("minutes"), default=TEARDOWN_MINUTES)
    p.add_argument("--nat-gb", type=_amount("GB"), default=NAT_GB, help="GB of image pulls and downloads through the NAT")
    return p


def main(argv: Optional[list[str]] = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    overrides = _overrides(p, args.set)
    try:
        settings = stack_settings(args.stack, overrides)
    except (FileNotFoundError, SettingsError) as exc:
        print(error_line(args.stack, exc), file=sys.stderr)
        return 2
    try:
        if settings.cluster_mode == "eks":
            prices.region(settings.region)  # before spending seconds on the program
    except prices.UnknownPrice as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Planning goes on with a stand-in, but the user must not read the plan as "this file is ready".
    source = stack_path(args.stack).name + (" with the --set values" if overrides else "")
    for used in stand_ins(args.stack, overrides):
        print(f"warning: {used}: `pulumi up` would refuse {source} as it is", file=sys.stderr)
    try:
        program = run_program(overrides, stack=args.stack, mocks_factory=lambda: BenchMocks(region=settings.region))
    except pulumi.RunError as exc:
        # What the program refuses once it runs (capacity, a zone the region lacks), as `pulumi up` would.
        print(error_line(args.stack, exc), file=sys.stderr)
        return 2
    plan = plan_of(program, settings, args.stack)
    run = Run(args.standup_minutes, settings.loadtest_minutes, args.teardown_minutes, args.nat_gb)
    try:
        est = estimate(plan, run)
    except prices.UnknownPrice as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render(plan, est))
    return 0


if __name__ == "__main__":
    sys.exit(main())
