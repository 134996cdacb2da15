"""`python -m infra.offline.plan`: what the bench stack creates, and its cost worked out by hand.

The hand arithmetic uses the eu-west-1 figures of infra/offline/prices.json typed in as numbers, so a
change in the price table or in what the program declares shows up here.
"""

from __future__ import annotations

import math

import pytest

from infra.offline import plan as planner
from infra.offline import prices
from infra.offline.plan import Machines, Plan, Run, estimate, plan_of
from infra.settings import parse_settings

OK = {"allowedCidrs": '["203.0.113.7/32"]', "dockerHubUsername": "benchuser", "dockerHubToken": "dckr_pat_test"}
# eu-west-1, infra/offline/prices.json
M3_LARGE = 0.146
EKS = 0.10
NAT_HOUR, NAT_GB = 0.048, 0.048
ELB = 0.028
IPV4 = 0.005
GP3_MONTH = 0.088


def bench_settings(**raw):
    return parse_settings({**OK, "instanceType": "m3.large", "nodeZone": "eu-west-1c", **raw}, region="eu-west-1")


@pytest.fixture(scope="module")
def bench_plan(bench) -> Plan:
    return plan_of(bench, bench_settings())


def lb_services(prog) -> list[str]:
    return sorted(s.metadata["name"] for s in prog.k8s("Service") if s.inputs["spec"].get("type") == "LoadBalancer")


def test_bench_creates_the_seed_machines(bench_plan):
    machines = {(m.role, m.instance_type): m.count for m in bench_plan.machines}
    assert machines == {("seldon", "m3.large"): 3, ("iago", "m3.large"): 1, ("gluster", "m3.large"): 2}, (
        f"the bench stack must plan 3 Seldon + 1 iago node and 2 GlusterFS servers, all m3.large; got {machines}")
    assert (bench_plan.eks_clusters, bench_plan.nat_gateways, bench_plan.eips) == (1, 1, 1), bench_plan


def test_every_loadbalancer_service_is_one_classic_elb_in_each_public_subnet(bench, bench_plan):
    assert sorted(lb.service.split("/")[1] for lb in bench_plan.load_balancers) == lb_services(bench)
    assert lb_services(bench), "the bench stack exposes no LoadBalancer Service; the plan cannot be right"
    public_subnets = [s for s in bench.of_type("aws:ec2/subnet:Subnet")
                      if (s.inputs.get("tags") or {}).get("kubernetes.io/role/elb")]
    for lb in bench_plan.load_balancers:
        assert lb.kind == "classic" and lb.public_ips == len(public_subnets) == 2, lb


def test_bench_volumes(bench_plan):
    disks = {(d.what, d.gib, d.volume_type, d.count) for d in bench_plan.disks}
    # Node roots come from the launch templates (nodeVolumeSizeGib 30); GlusterFS has a root and a brick each.
    assert ("seldon node /dev/xvda", 30, "gp3", 3) in disks, disks
    assert ("loadgen node /dev/xvda", 30, "gp3", 1) in disks, disks
    gluster = sorted((d.gib, d.volume_type) for d in bench_plan.disks if d.what.startswith("gluster"))
    assert gluster == [(8, "gp3"), (8, "gp3"), (100, "gp3"), (100, "gp3")], f"GlusterFS: 2 roots + 2 bricks, got {gluster}"
    assert sum(d.gib * d.count for d in bench_plan.disks) == GLUSTER_ROOTS + 4 * 30 + 2 * 100, disks


# The GlusterFS servers' root volumes (infra/glusterfs.py); their bricks are the 2 x 100 GiB.
GLUSTER_ROOTS = 2 * 8


def test_bench_cost_per_hour_by_hand(bench, bench_plan):
    n_elb = len(lb_services(bench))
    ebs_gib = 4 * 30 + GLUSTER_ROOTS + 2 * 100
    by_hand = (
        6 * M3_LARGE              # 3 seldon + 1 iago nodes + 2 GlusterFS servers
        + EKS                     # control plane
        + NAT_HOUR                # one NAT gateway
        + n_elb * ELB             # Classic ELBs
        + (1 + 2 * n_elb) * IPV4  # the NAT's EIP + one address per ELB per public subnet
        + ebs_gib * GP3_MONTH / 730
    )
    est = estimate(bench_plan, Run())
    assert est.hourly == pytest.approx(by_hand, abs=1e-9), (
        f"bench costs {est.hourly:.4f} $/h by the planner, {by_hand:.4f} $/h by hand")
    assert 0.9 < est.hourly < 1.5, f"{est.hourly:.2f} $/h is not what four m3.large + two GlusterFS servers cost"


def test_bench_cost_per_run_by_hand(bench, bench_plan):
    n_elb = len(lb_services(bench))
    hours = (60 + 30 + 20) / 60  # stand-up + loadtestMinutes + teardown
    prorated = 6 * M3_LARGE + EKS + (1 + 2 * n_elb) * IPV4 + (4 * 30 + GLUSTER_ROOTS + 2 * 100) * GP3_MONTH / 730
    per_started_hour = NAT_HOUR + n_elb * ELB
    by_hand = prorated * hours + per_started_hour * 2 + 15 * NAT_GB
    est = estimate(bench_plan, Run(standup_minutes=60, loadtest_minutes=30, teardown_minutes=20, nat_gb=15))
    assert est.per_run == pytest.approx(by_hand, abs=1e-9), f"per run: planner {est.per_run:.4f}, by hand {by_hand:.4f}"


def test_longer_loadtest_costs_more_per_run(bench_plan):
    short, long = estimate(bench_plan, Run(loadtest_minutes=30)), estimate(bench_plan, Run(loadtest_minutes=90))
    assert long.per_run - short.per_run == pytest.approx(short.hourly * 1.0, rel=0.2)


def test_ssd_mysql_adds_its_gp3_claim(program):
    prog = program({"mysqlStorage": "ssd", "mysqlSsdSizeGib": "120"})
    p = plan_of(prog, bench_settings(mysqlStorage="ssd", mysqlSsdSizeGib="120"))
    claims = [d for d in p.disks if d.what.startswith("claim")]
    assert [(d.gib, d.volume_type) for d in claims] == [(120, "gp3")], (
        f"mysqlStorage=ssd must plan one 120 GiB gp3 claim, got {claims}")


def test_unknown_instance_type_names_it_and_the_known_ones():
    p = Plan(stack="x", region="eu-west-1", cluster_mode="eks", machines=[Machines("seldon", "m9.large", 3, "test")])
    with pytest.raises(prices.UnknownPrice) as info:
        estimate(p, Run())
    message = str(info.value)
    assert "'m9.large'" in message and "eu-west-1" in message and "m3.large" in message and "m5.xlarge" in message, message


def test_unknown_region_exits_2_naming_the_known_regions(capsys):
    code = planner.main(["--set", "aws:region=ap-south-1", "--set", "nodeZone=ap-south-1a"])
    err = capsys.readouterr().err
    assert code == 2
    assert "'ap-south-1'" in err and "eu-west-1" in err and "us-east-1" in err, err


def test_cli_unknown_type_exits_2(capsys):
    code = planner.main(["--set", "glusterInstanceType=m9.large"])
    err = capsys.readouterr().err
    assert code == 2 and "'m9.large'" in err and "known types" in err, err


def test_bad_setting_exits_2_with_the_settings_message(capsys):
    code = planner.main(["--set", "apiReplicas=0"])
    assert code == 2 and "apiReplicas must be >= 1" in capsys.readouterr().err


def test_cli_prints_what_and_cost_with_the_price_date(capsys):
    assert planner.main([]) == 0
    out = capsys.readouterr().out
    for expected in ("3 x m3.large", "seldon", "2 x m3.large", "gluster", "Classic ELB", "NAT gateways: 1",
                     "EKS clusters: 1", prices.DATE, "total per hour", "per run", "Assumptions"):
        assert expected in out, f"plan output lacks {expected!r}:\n{out}"


def test_price_table_covers_the_types_the_variants_use():
    for region in ("eu-west-1", "us-east-1"):
        for itype in ("m3.large", "m4.large", "m5.large", "m5.xlarge", "m6i.large", "m6i.xlarge",
                      "m7i.large", "c5.large", "t3.micro", "r5.large"):
            assert prices.instance_hour(region, itype) > 0
    assert math.isclose(prices.REGIONS["eu-west-1"].instance_hour["m3.large"], M3_LARGE)


def test_bottlerocket_nodes_have_an_os_volume_and_a_data_volume(program):
    prog = program({"nodeAmiType": "BOTTLEROCKET_x86_64"})
    disks = {(d.what, d.gib) for d in plan_of(prog, bench_settings(nodeAmiType="BOTTLEROCKET_x86_64")).disks}
    assert ("seldon node /dev/xvda", 2) in disks and ("seldon node /dev/xvdb", 30) in disks, (
        f"Bottlerocket nodes: 2 GiB OS volume (AMI snapshot size) + nodeVolumeSizeGib data volume, got {sorted(disks)}")


def _service(name, annotations=None):
    from infra.offline import Declared

    meta = {"name": name, "namespace": "seldon", **({"annotations": annotations} if annotations else {})}
    return Declared(urn=f"urn:{name}", typ="kubernetes:core/v1:Service", name=name,
                    inputs={"kind": "Service", "metadata": meta, "spec": {"type": "LoadBalancer"}},
                    outputs={}, parent="", provider="", dependencies=set(), custom=True)


def test_nlb_and_internal_load_balancers_are_told_apart():
    from infra.offline import Program

    prog = Program(resources=[
        _service("classic"),
        _service("nlb", {planner.LB_TYPE: "nlb"}),
        _service("inside", {planner.LB_INTERNAL: "true"}),
    ], outputs={})
    lbs = {lb.service: (lb.kind, lb.public_ips) for lb in planner._load_balancers(prog, public_subnets=2)}
    assert lbs == {"seldon/classic": ("classic", 2), "seldon/nlb": ("nlb", 2), "seldon/inside": ("classic", 0)}, lbs


@pytest.mark.parametrize("flag,value", [("--standup-minutes", "-5"), ("--teardown-minutes", "-0.5"),
                                        ("--nat-gb", "-1"), ("--standup-minutes", "nan"), ("--nat-gb", "inf"),
                                        ("--teardown-minutes", "soon")])
def test_negative_or_non_finite_amounts_are_refused(capsys, flag, value):
    with pytest.raises(SystemExit) as info:
        planner.main([f"{flag}={value}"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith(f"error: argument {flag}: must be a number of"), err
    assert err.count("\n") == 1, err


def test_zero_amounts_are_a_plan(capsys):
    assert planner.main(["--standup-minutes", "0", "--teardown-minutes", "0", "--nat-gb", "0"]) == 0


def test_stand_ins_are_named_and_said_to_be_refused_by_pulumi_up(capsys):
    """Pulumi.bench.yaml has no allowedCidrs and no Docker Hub account: planned, but never silently."""
    assert planner.main([]) == 0
    err = capsys.readouterr().err.splitlines()
    cidr = [line for line in err if "seldon-bench:allowedCidrs is not set" in line]
    hub = [line for line in err if "seldon-bench:dockerHubUsername and seldon-bench:dockerHubToken are not set" in line]
    assert len(cidr) == 1 and "203.0.113.7/32" in cidr[0], err
    assert len(hub) == 1 and "'benchuser'" in hub[0], err
    for line in cidr + hub:
        assert line.startswith("warning: ") and line.endswith("`pulumi up` would refuse Pulumi.bench.yaml as it is"), line


def test_no_stand_in_warning_when_the_stack_sets_what_pulumi_up_needs(capsys):
    assert planner.main(["--set", "allowedCidrs=198.51.100.7/32", "--set", "imageSource=dockerhub"]) == 0
    assert "warning:" not in capsys.readouterr().err


def test_a_zone_the_region_lacks_is_one_error_line(capsys):
    assert planner.main(["--set", "nodeZone=eu-west-1z"]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == ["error: Pulumi.bench.yaml: seldon-bench:nodeZone eu-west-1z is not an available zone of this "
                      "region; available: eu-west-1a, eu-west-1b, eu-west-1c"], err


def test_a_malformed_set_is_one_error_line(capsys):
    with pytest.raises(SystemExit) as info:
        planner.main(["--set", "apiReplicas"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith("error: --set wants key=value, got 'apiReplicas'"), err
