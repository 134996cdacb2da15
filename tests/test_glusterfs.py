"""GlusterFS servers: the rendered user-data and scripts (pure), and the declared AWS graph.

The bootstrap itself runs against real glusterd peers in tests/test_gluster_real.py.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.settings import Settings
from infra.userdata import (
    BOOTSTRAP_PATH,
    USER_DATA_LIMIT,
    GlusterNode,
    render_bootstrap,
    render_ganesha_conf,
    render_user_data,
    server_addresses,
)

INSTANCE = "aws:ec2/instance:Instance"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SUBNET = "aws:ec2/subnet:Subnet"

FIRST = GlusterNode(self_ip="10.0.11.10", peer_ip="10.0.11.11", is_first=True, brick_size_gib=100)
SECOND = GlusterNode(self_ip="10.0.11.11", peer_ip="10.0.11.10", is_first=False, brick_size_gib=100)
NODES = {"first": FIRST, "second": SECOND}


def _user_data(node: GlusterNode) -> dict:
    text = render_user_data(node)
    assert text.startswith("#cloud-config\n"), "GlusterFS user-data must start with #cloud-config"
    return yaml.safe_load(text)


def _files(node: GlusterNode) -> dict[str, dict]:
    return {f["path"]: f for f in _user_data(node)["write_files"]}


def _shell_scripts(node: GlusterNode) -> dict[str, str]:
    """Every write_files entry that is a shell script, as it lands on the server."""
    return {path: f["content"] for path, f in _files(node).items()
            if f["content"].startswith(("#!/bin/bash", "#!/bin/sh"))}


# ------------------------------------------------------------------ rendered user-data


@pytest.mark.parametrize("which", NODES)
def test_user_data_passes_cloud_init_schema(which, tmp_path):
    if shutil.which("cloud-init") is None:
        pytest.skip("cloud-init is not installed (apt-get install cloud-init)")
    path = tmp_path / "user-data"
    path.write_text(render_user_data(NODES[which]))
    done = subprocess.run(["cloud-init", "schema", "-c", str(path)], capture_output=True, text=True)
    assert done.returncode == 0 and "Valid" in done.stdout, (
        f"user-data of the {which} GlusterFS server fails `cloud-init schema`:\n{done.stdout}{done.stderr}")


@pytest.mark.parametrize("which", NODES)
def test_every_shell_script_passes_shellcheck(which, tmp_path):
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    scripts = _shell_scripts(NODES[which])
    assert BOOTSTRAP_PATH in scripts, f"user-data of the {which} server does not install {BOOTSTRAP_PATH}"
    for i, (path, content) in enumerate(scripts.items()):
        local = tmp_path / f"script-{i}"
        local.write_text(content)
        done = subprocess.run(["shellcheck", "--severity=style", str(local)], capture_output=True, text=True)
        assert done.returncode == 0, f"{path} of the {which} GlusterFS server fails shellcheck:\n{done.stdout}"


def test_user_data_fits_ec2_limit():
    for which, node in NODES.items():
        size = len(render_user_data(node).encode())
        assert size <= USER_DATA_LIMIT, f"user-data of the {which} server is {size} bytes, EC2 allows {USER_DATA_LIMIT}"


def _gluster_calls(script: str) -> list[str]:
    """Every command line that runs the gluster CLI (comments dropped, continuations joined)."""
    code = re.sub(r"\\\n\s*", " ", script)
    calls = []
    for line in code.splitlines():
        line = line.split(" #", 1)[0]
        if line.lstrip().startswith("#"):
            continue
        calls += [line[m.start():] for m in re.finditer(r"(?<![\w./-])gluster(?=\s)", line)]
    return calls


@pytest.mark.parametrize("which", NODES)
def test_no_gluster_command_can_prompt(which):
    script = render_bootstrap(NODES[which])
    calls = _gluster_calls(script)
    verbs = {re.match(r"gluster --mode=script (\w+ \w+)", c).group(1) for c in calls if c.startswith("gluster --mode=script")}
    assert {"volume create", "volume start", "volume set", "peer probe"} <= verbs, (
        f"bootstrap of the {which} server lacks a step: has only {sorted(verbs)}")
    for call in calls:
        assert call.startswith("gluster --mode=script "), (
            f"bootstrap of the {which} server runs the gluster CLI without --mode=script "
            f"(a confirmation prompt would hang cloud-init): {call.strip()}")


def test_bootstrap_names_self_peer_and_role():
    for which, node in NODES.items():
        script = render_bootstrap(node)
        assert f': "${{SELF:={node.self_ip}}}"' in script, f"{which} server's script does not set its own IP"
        assert f': "${{PEER:={node.peer_ip}}}"' in script, f"{which} server's script does not name its peer {node.peer_ip}"
        assert f': "${{IS_FIRST:={1 if node.is_first else 0}}}"' in script, f"{which} server has the wrong role"
        assert ': "${BRICK_SIZE_GIB:=100}"' in script, f"{which} server's script does not know the brick size"
        assert not re.search(r"@[A-Z_]+@", script), f"{which} server's script has unrendered placeholders"


def test_bootstrap_creates_replica_2_gv0_from_both_bricks():
    script = render_bootstrap(FIRST)
    assert re.search(
        r'volume create "\$VOLUME" replica 2 \\\n\s*"\$\{SELF\}:\$\{BRICK_DIR\}" "\$\{PEER\}:\$\{BRICK_DIR\}"', script), (
        "the first server must create gv0 as replica 2 of its own and its peer's brick")
    assert 'volume set "$VOLUME" features.cache-invalidation on' in script, "Ganesha needs features.cache-invalidation on"
    assert ': "${BRICK_DIR:=${BRICK_MOUNT}/brick1}"' in script, "the brick must be a subdir of the brick mount"


def test_packages_install_unattended():
    script = render_bootstrap(FIRST)
    assert "export DEBIAN_FRONTEND=noninteractive" in script, "apt must not ask questions"
    assert "PACKAGES=(glusterfs-server nfs-ganesha nfs-ganesha-gluster xfsprogs)" in script, "package list incomplete"
    joined = re.sub(r"\\\n\s*", " ", script)
    assert re.search(r'apt-get .*install -y .*"\$\{PACKAGES\[@\]\}"', joined), "apt-get install must run with -y"
    assert "--force-confold" in script, "a conffile question from dpkg would hang the install"


def test_brick_formatted_only_when_blank_and_mounted_with_nofail():
    script = render_bootstrap(FIRST)
    fmt = script.index("mkfs.xfs -q -i size=512")
    guard = script.rindex('case "$(blkid -p -o value -s TYPE "$dev"', 0, fmt)
    assert script[guard:fmt].count('""') >= 1, "mkfs.xfs must run only for a device without a filesystem"
    assert "defaults,noatime,inode64,nofail 0 2" in script, "the brick mount must be nofail so a lost disk does not stop the boot"
    assert "printf 'UUID=%s" in script, "the fstab line must name the brick by UUID (NVMe names move)"


def test_bootstrap_runs_at_every_boot_through_a_systemd_unit():
    doc = _user_data(FIRST)
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    unit = files["/etc/systemd/system/gluster-bootstrap.service"]
    assert f"ExecStart={BOOTSTRAP_PATH}" in unit and "Type=oneshot" in unit, "unit must run the bootstrap once per boot"
    assert "WantedBy=multi-user.target" in unit, "unit must be started at every boot"
    assert "After=network-online.target" in unit, "bootstrap needs the network (apt, peer)"
    assert "StandardOutput=journal+console" in unit, "without SSH the bootstrap log must reach the console output"
    assert ["systemctl", "enable", "--now", "gluster-bootstrap.service"] in doc["runcmd"], "runcmd must enable the unit"
    dropin = files["/etc/systemd/system/nfs-ganesha.service.d/10-after-gluster.conf"]
    assert "After=glusterd.service gluster-bootstrap.service" in dropin, "NFS-Ganesha must start after gv0 is up"
    assert files[BOOTSTRAP_PATH] == render_bootstrap(FIRST), "user-data must carry the exact rendered bootstrap"
    assert _files(FIRST)[BOOTSTRAP_PATH]["permissions"] == "0755", "bootstrap must be executable"


def test_ganesha_exports_gv0_over_nfsv4_only_without_root_squash():
    conf = render_ganesha_conf()
    body = re.sub(r"#.*", "", conf)
    assert body.count("{") == body.count("}"), "ganesha.conf braces do not balance"
    for setting in ('NFS_Protocols = 4;', 'Protocols = 4;', 'Transports = "TCP";', 'Path = "/gv0";',
                    'Pseudo = "/gv0";', 'Squash = No_Root_Squash;', 'Name = GLUSTER;', 'Volume = "gv0";',
                    'Access_Type = RW;', 'Enable_UDP = false;', 'Enable_NLM = false;'):
        assert setting in body, f"ganesha.conf lacks {setting!r}"
    assert conf.rstrip("\n") in render_bootstrap(FIRST), "the bootstrap must write exactly the rendered ganesha.conf"


def test_server_addresses_are_fixed_inside_the_node_subnet():
    assert server_addresses("10.0.11.0/24") == ("10.0.11.10", "10.0.11.11")
    assert server_addresses("10.0.0.0/19") == ("10.0.0.10", "10.0.0.11")
    with pytest.raises(ValueError, match="at least 16 addresses"):
        server_addresses("10.0.11.0/29")


def test_gluster_node_rejects_nonsense():
    with pytest.raises(ValueError, match="own peer"):
        GlusterNode("10.0.0.10", "10.0.0.10", True, 100)
    with pytest.raises(ValueError, match="IPv4"):
        GlusterNode("fd00::1", "10.0.0.10", True, 100)


# ------------------------------------------------------------------ brick disk detection

FAKE_LSBLK = r'''#!/usr/bin/env python3
"""lsblk/blkid stand-in fed by FAKE_DISKS (JSON): name -> size, type, fstype, mount, children."""
import json, os, sys
disks = json.loads(os.environ["FAKE_DISKS"])
args = sys.argv[1:]
tool = os.path.basename(sys.argv[0])
if tool == "blkid":
    d = disks.get(args[-1].rsplit("/", 1)[-1])
    print(d.get("fstype", "") if d else "")
    sys.exit(0)
if args[0] == "-dnpbo":
    for name, d in disks.items():
        if not d.get("child"):
            print(f"/dev/{name} {d['size']} {d.get('type', 'disk')}")
elif args[0] == "-nro":
    dev = args[-1].rsplit("/", 1)[-1]
    print(dev)
    for c in disks[dev].get("children", []):
        print(c)
elif args[0] == "-ndro":
    d = disks[args[-1].rsplit("/", 1)[-1]]
    print(f"{d.get('fstype', '')} {d.get('mount', '')}")
'''


def _find_blank_disk(tmp_path: Path, disks: dict) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("lsblk", "blkid"):
        (bin_dir / tool).write_text(FAKE_LSBLK)
        (bin_dir / tool).chmod(stat.S_IRWXU)
    script = tmp_path / "bootstrap.sh"
    script.write_text(render_bootstrap(FIRST))
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_DISKS": json.dumps(disks)}
    return subprocess.run(["bash", "-c", f'source "{script}" && find_blank_disk'],
                          env=env, capture_output=True, text=True)


GIB100 = 100 * 2**30


def test_finds_the_blank_brick_disk_on_xen(tmp_path):
    disks = {"xvda": {"size": 8 * 2**30, "children": ["xvda1"]},
             "xvda1": {"size": 8 * 2**30, "type": "part", "fstype": "ext4", "mount": "/", "child": True},
             "xvdb": {"size": 32 * 2**30, "fstype": "ext4", "mount": "/mnt"},
             "xvdf": {"size": GIB100}}
    done = _find_blank_disk(tmp_path, disks)
    assert done.stdout.strip() == "/dev/xvdf", f"brick disk on an m3 should be /dev/xvdf: {done.stdout}{done.stderr}"


def test_finds_the_blank_brick_disk_on_nitro_next_to_a_blank_instance_store(tmp_path):
    disks = {"nvme0n1": {"size": 8 * 2**30, "children": ["nvme0n1p1"]},
             "nvme0n1p1": {"size": 8 * 2**30, "type": "part", "fstype": "ext4", "mount": "/", "child": True},
             "nvme1n1": {"size": 75 * 2**30},  # instance store, blank too: wrong size
             "nvme2n1": {"size": GIB100}}
    done = _find_blank_disk(tmp_path, disks)
    assert done.stdout.strip() == "/dev/nvme2n1", f"brick disk should be the blank 100 GiB one: {done.stdout}{done.stderr}"


def test_never_picks_a_formatted_or_ambiguous_disk(tmp_path):
    formatted = {"xvdf": {"size": GIB100, "fstype": "xfs"}}
    done = _find_blank_disk(tmp_path, formatted)
    assert done.returncode != 0 and done.stdout.strip() == "", f"a formatted disk is not blank: {done.stdout}"
    two = {"xvdf": {"size": GIB100}, "xvdg": {"size": GIB100}}
    done = _find_blank_disk(tmp_path, two)
    assert done.returncode != 0 and "two blank" in done.stderr, f"two candidates must not be guessed between: {done.stderr}"


# ------------------------------------------------------------------ the declared AWS graph


def _servers(program) -> list:
    servers = sorted((r for r in program.of_type(INSTANCE) if r.name.startswith("gluster-")), key=lambda r: r.name)
    assert [r.name for r in servers] == ["gluster-1", "gluster-2"], f"expected gluster-1 and gluster-2, got {[r.name for r in servers]}"
    return servers


def test_two_gluster_servers_of_the_gluster_type(bench, program):
    for r in _servers(bench):
        assert r.inputs["instanceType"] == "m3.large", f"{r.name} must be the seed's m3.large"
        parent = bench.by_urn(r.parent)
        assert parent.typ == "seldon-bench:infra:GlusterCluster", f"{r.name} is not inside the GlusterCluster component"
    for r in _servers(program({"glusterInstanceType": "m5.large"})):
        assert r.inputs["instanceType"] == "m5.large", f"{r.name} ignores glusterInstanceType"
    for r in _servers(program({"instanceType": "m5.xlarge"})):
        assert r.inputs["instanceType"] == "m5.xlarge", f"{r.name} ignores instanceType"


def test_servers_run_debian_12(bench):
    calls = [args for token, args in bench.invokes if token == "aws:ec2/getAmi:getAmi"]
    assert any(a.get("owners") == ["136693071363"] and
               {"name": "name", "values": ["debian-12-amd64-*"]} in (a.get("filters") or []) for a in calls), (
        f"the GlusterFS AMI must be Debian 12 from the Debian account: {calls}")
    for r in _servers(bench):
        assert r.inputs["ami"] == "ami-0debian12", f"{r.name} does not use the looked-up Debian AMI"


def test_a_newer_debian_image_does_not_replace_the_servers(bench):
    """The lookup returns Debian's newest image on every `pulumi up`; replacing both servers for it
    would delete both bricks (and the data on them) under the running cluster."""
    for r in _servers(bench):
        assert "ami" in r.ignore_changes, f"{r.name}: a new Debian AMI would replace it and delete its brick"


def test_servers_encrypted_imdsv2_and_brick_deleted_with_them(bench, program):
    settings_brick = Settings.model_fields["gluster_brick_size_gib"].default  # bench leaves it at the default
    assert len(_servers(bench)) == len(bench.of_type(INSTANCE)), "every EC2 instance must be a GlusterFS server"
    for r in _servers(bench):
        md = r.inputs["metadataOptions"]
        assert md["httpTokens"] == "required", f"{r.name} must require IMDSv2"
        root = r.inputs["rootBlockDevice"]
        assert root["encrypted"] is True and root["volumeType"] == "gp3", f"{r.name} root volume must be encrypted gp3"
        bricks = r.inputs["ebsBlockDevices"]
        assert len(bricks) == 1, f"{r.name} must have exactly one brick volume"
        b = bricks[0]
        assert b["encrypted"] is True and b["volumeType"] == "gp3", f"{r.name} brick must be encrypted gp3"
        assert b["deleteOnTermination"] is True, f"{r.name} brick must go with the instance (clean destroy)"
        assert int(b["volumeSize"]) == settings_brick, f"{r.name} brick must be glusterBrickSizeGib"
        assert r.inputs["iamInstanceProfile"], f"{r.name} has no instance profile (SSM access)"
        assert not r.inputs.get("keyName"), f"{r.name} must not carry an SSH key"
    for r in _servers(program({"glusterBrickSizeGib": "250"})):
        assert int(r.inputs["ebsBlockDevices"][0]["volumeSize"]) == 250, f"{r.name} ignores glusterBrickSizeGib"
        assert "BRICK_SIZE_GIB:=250}" in r.inputs["userData"], f"{r.name} script does not look for a 250 GiB disk"


def test_servers_sit_at_fixed_ips_of_the_node_subnet_in_the_node_zone(bench):
    servers = _servers(bench)
    subnets = {s.id: s for s in bench.of_type(SUBNET)}
    ips = []
    for r in servers:
        subnet = subnets[r.inputs["subnetId"]]
        assert subnet.inputs["availabilityZone"] == "eu-west-1c", f"{r.name} must be in nodeZone eu-west-1c"
        assert ipaddress.ip_address(r.inputs["privateIp"]) in ipaddress.ip_network(subnet.inputs["cidrBlock"]), (
            f"{r.name} private IP outside its subnet")
        ips.append(r.inputs["privateIp"])
    node_subnets = {s for g in bench.of_type("aws:eks/nodeGroup:NodeGroup") for s in g.inputs["subnetIds"]}
    assert {r.inputs["subnetId"] for r in servers} <= node_subnets, "GlusterFS servers must share the nodes' subnet"
    assert len(set(ips)) == 2, f"the two servers need distinct IPs, got {ips}"
    assert bench.outputs["glusterAddresses"] == ips, "stack output glusterAddresses must be the servers' IPs"
    assert bench.outputs["dataVolume"]["server"] == ips[0] and bench.outputs["dataVolume"]["path"] == "/gv0", (
        "the NFS data volume must point at gluster-1:/gv0")


def test_user_data_is_rendered_per_server_and_replaces_on_change(bench):
    one, two = _servers(bench)
    ip1, ip2 = one.inputs["privateIp"], two.inputs["privateIp"]
    assert one.inputs["userData"] == render_user_data(GlusterNode(ip1, ip2, True, 100)), "gluster-1 user-data is not the rendered one"
    assert two.inputs["userData"] == render_user_data(GlusterNode(ip2, ip1, False, 100)), "gluster-2 user-data is not the rendered one"
    for r in (one, two):
        assert r.inputs["userDataReplaceOnChange"] is True, f"{r.name}: a script change must recreate the server"
        assert r.delete_before_replace, f"{r.name}: its replacement needs the same fixed IP, so delete first"


def test_servers_wait_for_the_nat_gateway(bench):
    nat = bench.one("aws:ec2/natGateway:NatGateway")
    for r in _servers(bench):
        assert bench.depends_on(r, nat), f"{r.name} boots into apt-get: it must be created after the NAT gateway"


def test_pods_are_deleted_before_the_nfs_servers_and_their_rule(bench):
    """Destroy order: a pod holding a hard NFS mount of a terminated server hangs in Terminating,
    so every Kubernetes object must be deleted before the servers and the NFS rule go."""
    gone_last = [*_servers(bench), bench.one(INGRESS, "gluster-nfs")]
    objects = bench.k8s_objects()
    assert objects, "no Kubernetes objects declared"
    for obj in objects:
        for r in gone_last:
            assert bench.depends_on(obj, r), (
                f"{obj.typ} {obj.name} does not depend on {r.name}: destroy may remove {r.name} while pods still mount /seldon-data")


def _gluster_sg(program):
    return program.one(SG, "gluster-sg")


def test_security_group_rules_never_open_to_the_internet(bench):
    sg = _gluster_sg(bench)
    sg_id = sg.id
    assert not sg.inputs.get("ingress") and not sg.inputs.get("egress"), "gluster-sg rules must be separate resources"
    rules = [r for r in bench.of_type(INGRESS) if r.inputs["securityGroupId"] == sg_id]
    ports = {(int(r.inputs["fromPort"]), int(r.inputs["toPort"])): r for r in rules}
    assert set(ports) == {(24007, 24008), (49152, 60999), (2049, 2049)}, f"gluster-sg opens unexpected ports: {sorted(ports)}"
    for r in rules:
        assert r.inputs["ipProtocol"] == "tcp", f"{r.name} must be TCP only"
        assert not r.inputs.get("cidrIpv6"), f"{r.name} must be IPv4 only"
    for span in ((24007, 24008), (49152, 60999)):
        r = ports[span]
        assert r.inputs.get("referencedSecurityGroupId") == sg_id and not r.inputs.get("cidrIpv4"), (
            f"{r.name}: GlusterFS ports {span} must be open only between the two servers")
    nfs = ports[(2049, 2049)]
    vpc = ipaddress.ip_network(bench.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])
    source_sg = nfs.inputs.get("referencedSecurityGroupId")
    source_cidr = nfs.inputs.get("cidrIpv4")
    assert source_sg == "sg-eks-cluster" or (source_cidr and ipaddress.ip_network(source_cidr).subnet_of(vpc)), (
        f"{nfs.name}: NFS must be reachable only from the cluster SG or inside the VPC, got {source_sg or source_cidr}")
    egress = [r for r in bench.of_type(EGRESS) if r.inputs["securityGroupId"] == sg_id]
    assert [r.inputs["ipProtocol"] for r in egress] == ["-1"], "gluster-sg needs egress for apt"


GLUSTERD_VOL = Path("/etc/glusterfs/glusterd.vol")


def test_brick_rule_covers_every_port_glusterd_may_give_a_brick(bench):
    """GlusterFS >= 10 picks each brick's port at random in [base-port, max-port]; a narrower rule
    blocks NFS-Ganesha and self-heal on one server from the brick on the other."""
    if not GLUSTERD_VOL.exists():
        pytest.skip("glusterfs-server is not installed (.ci/run installs it)")
    options = dict(re.findall(r"^\s*option\s+(base-port|max-port)\s+(\d+)", GLUSTERD_VOL.read_text(), re.M))
    low, high = int(options.get("base-port", 49152)), int(options["max-port"])
    sg_id = _gluster_sg(bench).id
    covered = [r for r in bench.of_type(INGRESS) if r.inputs["securityGroupId"] == sg_id
               and r.inputs.get("referencedSecurityGroupId") == sg_id
               and int(r.inputs["fromPort"]) <= low and high <= int(r.inputs["toPort"])]
    assert covered, (f"gluster-sg: no rule between the servers opens the brick ports {low}-{high} "
                     f"that {GLUSTERD_VOL} lets glusterd choose from")


def test_no_ssh_port_anywhere_on_the_gluster_servers(bench):
    sg_id = _gluster_sg(bench).id
    for r in bench.of_type(INGRESS):
        if r.inputs["securityGroupId"] == sg_id:
            assert not int(r.inputs["fromPort"]) <= 22 <= int(r.inputs["toPort"]), f"{r.name} opens SSH"


# ------------------------------------------------------------------ package installation

FAKE_APT = r'''#!/bin/bash
# apt-get stand-in: records how it was called and what the environment promised.
{
  printf 'argv:%s\n' "$*"
  printf 'frontend:%s\n' "${DEBIAN_FRONTEND:-}"
  if [ -x /usr/sbin/policy-rc.d ]; then /usr/sbin/policy-rc.d; printf 'policy-rc.d:%s\n' "$?"; else echo 'policy-rc.d:none'; fi
} >>"$APT_LOG"
if [ "$1" = "-o" ] && [[ " $* " == *" update "* ]] && [ ! -e "$APT_LOG.failed-once" ]; then
  touch "$APT_LOG.failed-once"   # the mirror is not reachable yet on the first try
  exit 100
fi
if [[ " $* " == *" install "* ]]; then touch "$APT_LOG.installed"; fi
exit 0
'''

FAKE_DPKG_QUERY = r'''#!/bin/bash
# dpkg-query stand-in: every package is installed once the fake apt-get has installed them.
if [ -e "$APT_LOG.installed" ] || [ -n "${ALL_INSTALLED:-}" ]; then printf 'install ok installed'; else exit 1; fi
'''


def _install(tmp_path: Path, **env) -> tuple[subprocess.CompletedProcess, str]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare: the install step writes /usr/sbin/policy-rc.d, kept in a private mount")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("apt-get", FAKE_APT), ("dpkg-query", FAKE_DPKG_QUERY)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)
    script = tmp_path / "bootstrap.sh"
    script.write_text(render_bootstrap(FIRST))
    log = tmp_path / "apt.log"
    # A private tmpfs on /usr/sbin: policy-rc.d lands there, never on this machine.
    inner = f'mount -t tmpfs tmpfs /usr/sbin && source "{script}" && install_packages && ls /usr/sbin'
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", inner],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "APT_LOG": str(log), "POLL_SECONDS": "0", **env},
        capture_output=True, text=True, timeout=60)
    return done, log.read_text() if log.exists() else ""


def test_install_is_unattended_starts_no_service_and_retries_a_failed_update(tmp_path):
    done, log = _install(tmp_path)
    assert done.returncode == 0, f"install step failed: {done.stdout}{done.stderr}"
    calls = [line for line in log.splitlines() if line.startswith("argv:")]
    assert sum(" update" in c for c in calls) == 2, f"a failed apt-get update must be retried: {calls}"
    install = [c for c in calls if " install " in c]
    assert len(install) == 1 and "-y" in install[0].split(), f"one unattended install expected: {calls}"
    for pkg in ("glusterfs-server", "nfs-ganesha", "nfs-ganesha-gluster", "xfsprogs"):
        assert pkg in install[0], f"{pkg} is not installed: {install[0]}"
    assert set(re.findall(r"^frontend:(.*)$", log, re.M)) == {"noninteractive"}, f"apt must run noninteractive:\n{log}"
    assert set(re.findall(r"^policy-rc.d:(.*)$", log, re.M)) == {"101"}, (
        f"no service may start from maintainer scripts while installing:\n{log}")
    assert "policy-rc.d" not in done.stdout, "policy-rc.d must be removed after the install"


def test_install_skipped_when_every_package_is_there(tmp_path):
    done, log = _install(tmp_path, ALL_INSTALLED="1")
    assert done.returncode == 0 and log == "", f"apt-get must not run when all packages are installed:\n{log}"
    assert "packages present" in done.stderr, done.stderr
