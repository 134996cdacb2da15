"""The rendered GlusterFS bootstrap against two REAL glusterd peers on this machine.

Two network namespaces joined by a veth pair (10.99.0.1, 10.99.0.2) stand in for the two EC2
servers; each runs its own glusterd in a private mount namespace (its own /var/lib/glusterd,
/run, /etc/fstab) and gets a blank 1 GiB loop device as its "EBS brick". The test runs the exact
script that infra/userdata.py renders into the user-data, with only the settings that differ
on a laptop overridden through the environment (packages already installed, no systemd, a
brick mount path under the test directory, the loop device named). It shows gv0 formed
unattended, a second run changing nothing, NFS-Ganesha serving the written ganesha.conf so that
a client in the other namespace creates a directory over NFSv4 which lands, owned by root, on
both bricks, and a "reboot" of the second server coming back.

Needs root with CAP_SYS_ADMIN and CAP_NET_ADMIN (a privileged CI container), glusterfs-server,
iproute2, util-linux and xfsprogs (and nfs-ganesha + nfs-ganesha-gluster for the NFS test);
otherwise it skips and says what is missing.
"""

from __future__ import annotations

import glob
import os
import re
import signal
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from infra.userdata import GlusterNode, render_bootstrap, render_ganesha_conf

TOOLS = ("glusterd", "gluster", "ip", "unshare", "nsenter", "losetup", "mkfs.xfs", "xfs_info", "blkid")
ADDRESSES = {"a": "10.99.0.1", "b": "10.99.0.2"}

# Runs inside `ip netns exec <ns> unshare -m`: give this node private glusterd state, then become glusterd.
NODE_SETUP = r"""
set -euo pipefail
D=$1
mkdir -p "$D/lib" "$D/log" "$D/ganesha"
[ -e "$D/lib/glusterd.info" ] || cp -a /var/lib/glusterd/. "$D/lib/"
[ -e "$D/fstab" ] || : > "$D/fstab"
mount --bind "$D/lib" /var/lib/glusterd
mount --bind "$D/log" /var/log/glusterfs
mount -t tmpfs tmpfs /run
mkdir -p /run/gluster
mount --bind "$D/fstab" /etc/fstab
exec glusterd --no-daemon --log-file="$D/log/glusterd.log"
"""


# A minimal NFSv4.0 client (ONC RPC over TCP, AUTH_SYS as root): NULL until the server answers,
# then one COMPOUND {PUTROOTFH; LOOKUP <export>; CREATE <dir>}. No kernel NFS client needed.
NFS4_CREATE_DIR = r"""
import socket, struct, sys, time

def u32(v): return struct.pack(">I", v)
def opaque(b): return u32(len(b)) + b + bytes(-len(b) % 4)

def recv(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    return buf

def call(sock, xid, proc, body):
    cred = u32(1) + opaque(u32(0) + opaque(b"probe") + u32(0) + u32(0) + u32(0))  # AUTH_SYS uid 0 gid 0
    msg = u32(xid) + u32(0) + u32(2) + u32(100003) + u32(4) + u32(proc) + cred + u32(0) + u32(0) + body
    sock.sendall(u32(0x80000000 | len(msg)) + msg)
    data = b""
    while True:
        (mark,) = struct.unpack(">I", recv(sock, 4))
        data += recv(sock, mark & 0x7FFFFFFF)
        if mark & 0x80000000:
            break
    xid_, mtype, stat = struct.unpack(">III", data[:12])
    assert xid_ == xid and mtype == 1 and stat == 0, f"RPC not accepted: {data[:24].hex()}"
    vlen = struct.unpack(">I", data[16:20])[0]
    off = 20 + vlen + (-vlen % 4)
    assert struct.unpack(">I", data[off:off + 4])[0] == 0, "RPC accept_stat is not SUCCESS"
    return data[off + 4:]

host, export, name = sys.argv[1:4]
deadline = time.monotonic() + 30
while True:
    try:
        sock = socket.create_connection((host, 2049), timeout=10)
        call(sock, 1, 0, b"")
        break
    except (OSError, AssertionError, ConnectionError):
        if time.monotonic() > deadline:
            raise
        time.sleep(0.5)
PUTROOTFH, LOOKUP, CREATE, NF4DIR = 24, 15, 6, 2
ops = u32(PUTROOTFH) + u32(LOOKUP) + opaque(export.encode())
ops += u32(CREATE) + u32(NF4DIR) + opaque(name.encode()) + u32(0) + u32(0)
res = call(sock, 2, 1, opaque(b"") + u32(0) + u32(3) + ops)
status, taglen = struct.unpack(">II", res[:8])
off = 8 + taglen + (-taglen % 4)
count = struct.unpack(">I", res[off:off + 4])[0]
print(f"COMPOUND status={status} results={count}")
sys.exit(0 if status == 0 and count == 3 else 1)
"""


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network and mount namespaces, loop devices)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing tools: {', '.join(missing)} (apt-get install glusterfs-server iproute2 util-linux xfsprogs)"
    return None


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")


def _run(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


class Pair:
    """Two glusterd peers, each in its own network + mount namespace, with a blank loop disk."""

    def __init__(self, root: Path):
        self.root = root
        self.tag = f"gb{os.getpid() % 100000}"
        self.ns = {n: f"{self.tag}{n}" for n in ADDRESSES}
        self.procs: dict[str, subprocess.Popen] = {}
        self.loops: dict[str, str] = {}
        self.brick_mount = root / "brick"  # the same path on both, mounted privately in each

    def setup(self) -> None:
        self.brick_mount.mkdir()
        for n, ns in self.ns.items():
            _run("ip", "netns", "add", ns)
        a, b = self.ns["a"], self.ns["b"]
        _run("ip", "link", "add", f"{a}0", "type", "veth", "peer", "name", f"{b}0")
        for n, ns in self.ns.items():
            _run("ip", "link", "set", f"{ns}0", "netns", ns)
            _run("ip", "-n", ns, "addr", "add", f"{ADDRESSES[n]}/24", "dev", f"{ns}0")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "-n", ns, "link", "set", f"{ns}0", "up")
            image = self.root / f"{n}.img"
            with open(image, "wb") as f:
                f.truncate(1024**3)
            self.loops[n] = _run("losetup", "--find", "--show", str(image)).stdout.strip()
            self.start(n)

    def start(self, n: str) -> None:
        """Boot node n: a fresh mount namespace (nothing mounted but fstab's promise) and glusterd."""
        self.procs[n] = subprocess.Popen(
            ["ip", "netns", "exec", self.ns[n], "unshare", "--mount", "--propagation", "private",
             "bash", "-c", NODE_SETUP, "node-setup", str(self.root / n)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # Enter its namespaces only once the setup has exec'd glusterd (all mounts done) and it answers.
        deadline = time.monotonic() + 60
        while True:
            try:
                comm = Path(f"/proc/{self.procs[n].pid}/comm").read_text().strip()
                # comm becomes glusterd only after the setup's mounts, at its final exec.
                ready = comm == "glusterd" and _run(
                    *self.enter(n), "gluster", "--mode=script", "pool", "list", check=False, timeout=30).returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                ready = False
            if ready:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"glusterd of node {n} did not come up")
            time.sleep(0.2)

    def stop(self, n: str) -> None:
        """Power node n off: every process of its network namespace (glusterd, bricks, shd)."""
        pids = _run("ip", "netns", "pids", self.ns[n], check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), 15)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        while _run("ip", "netns", "pids", self.ns[n], check=False).stdout.split():
            if time.monotonic() > deadline:
                for pid in _run("ip", "netns", "pids", self.ns[n], check=False).stdout.split():
                    os.kill(int(pid), 9)
            time.sleep(0.2)
        proc = self.procs.pop(n, None)
        if proc is not None:
            proc.wait(timeout=10)

    def enter(self, n: str) -> list[str]:
        proc = self.procs[n]
        if proc.poll() is not None:
            raise RuntimeError(f"glusterd of node {n} exited: {proc.stderr.read()}")
        # Never run the bootstrap in this machine's own namespaces: it formats, mounts and edits
        # /etc/fstab. (Entering `ip netns exec` before it unshares would land there.)
        for ns in ("mnt", "net"):
            if os.readlink(f"/proc/{proc.pid}/ns/{ns}") == os.readlink(f"/proc/self/ns/{ns}"):
                raise RuntimeError(f"node {n} shares this machine's {ns} namespace; refusing to enter it")
        return ["nsenter", "-t", str(proc.pid), "-m", "-n"]

    def script(self, n: str) -> str:
        other = "b" if n == "a" else "a"
        return render_bootstrap(GlusterNode(
            self_ip=ADDRESSES[n], peer_ip=ADDRESSES[other], is_first=(n == "a"), brick_size_gib=1))

    def bootstrap(self, n: str) -> subprocess.Popen:
        """Run node n's rendered bootstrap script in its namespaces, stdin closed (no prompt may wait)."""
        path = self.root / f"bootstrap-{n}.sh"
        path.write_text(self.script(n))
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "SKIP_INSTALL": "1", "MANAGE_SERVICES": "0",
            "POLL_SECONDS": "1", "WAIT_SECONDS": "90",
            "BRICK_MOUNT": str(self.brick_mount), "BRICK_DEVICE": self.loops[n],
            "GANESHA_DIR": str(self.root / n / "ganesha"),
        }
        return subprocess.Popen(self.enter(n) + ["bash", str(path)], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def bootstrap_both(self, peer_late: bool = False) -> dict[str, str]:
        """Run both bootstraps at once; `peer_late`: the second one only after the first has
        tried to create gv0 while the second's brick is not there yet (a disk attached late)."""
        procs = {"a": self.bootstrap("a")}
        if peer_late:
            history = self.root / "a" / "log" / "cmd_history.log"
            deadline = time.monotonic() + 60
            while "volume create gv0" not in (history.read_text() if history.exists() else ""):
                assert time.monotonic() < deadline, "node a never tried to create gv0"
                time.sleep(0.2)
        procs["b"] = self.bootstrap("b")
        logs = {}
        for n, proc in procs.items():
            out, _ = proc.communicate(timeout=180)
            assert proc.returncode == 0, f"bootstrap of gluster node {n} failed (rc={proc.returncode}):\n{out}"
            logs[n] = out
        return logs

    def inside(self, n: str, *cmd: str) -> str:
        return _run(*self.enter(n), *cmd).stdout

    def teardown(self) -> None:
        for n in list(self.procs):
            self.stop(n)
        for loop in self.loops.values():
            _run("losetup", "-d", loop, check=False)
        for ns in self.ns.values():
            _run("ip", "netns", "del", ns, check=False)


def _remove_leftovers() -> None:
    """Namespaces and loop devices of earlier runs of this test that were killed before teardown."""
    for line in _run("ip", "netns", "list", check=False).stdout.splitlines():
        m = re.match(r"(gb(\d+)[ab])\b", line)
        if not m or Path(f"/proc/{m.group(2)}").exists():
            continue  # not ours, or its pytest is still running
        for pid in _run("ip", "netns", "pids", m.group(1), check=False).stdout.split():
            os.kill(int(pid), 9)
        _run("ip", "netns", "del", m.group(1), check=False)
    for line in _run("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE", check=False).stdout.splitlines():
        name, _, backing = line.partition(" ")
        backing = backing.strip().removesuffix(" (deleted)")
        if re.search(r"/gluster-real-[^/]+/[ab]\.img$", backing) and not Path(backing).exists():
            _run("losetup", "-d", name, check=False)


@pytest.fixture(scope="module")
def pair():
    _remove_leftovers()
    root = Path(tempfile.mkdtemp(prefix="gluster-real-"))
    p = Pair(root)
    try:
        try:
            p.setup()
        except subprocess.CalledProcessError as exc:
            pytest.skip(f"cannot build two namespaced peers here: {' '.join(exc.cmd)}: {exc.stderr.strip()}")
        yield p
    finally:
        p.teardown()
        shutil.rmtree(root, ignore_errors=True)


def _info(p: Pair, n: str) -> str:
    return p.inside(n, "gluster", "--mode=script", "volume", "info", "gv0")


def test_bootstrap_forms_started_replica_2_gv0_unattended(pair):
    started = time.monotonic()
    logs = pair.bootstrap_both(peer_late=True)
    elapsed = time.monotonic() - started
    for n in ("a", "b"):
        info = _info(pair, n)
        assert re.search(r"^Status: Started$", info, re.M), f"gv0 is not Started as seen from node {n}:\n{info}"
        assert re.search(r"^Type: Replicate$", info, re.M), f"gv0 is not a replicated volume on node {n}:\n{info}"
        assert "Number of Bricks: 1 x 2 = 2" in info, f"gv0 does not have 2 bricks on node {n}:\n{info}"
        for m, ip in ADDRESSES.items():
            assert f"{ip}:{pair.brick_mount}/brick1" in info, f"brick of node {m} missing from gv0 on node {n}:\n{info}"
        assert "features.cache-invalidation: on" in info, f"Ganesha needs cache-invalidation on gv0:\n{info}"
    assert "created volume gv0" in logs["a"], f"the first server should create gv0:\n{logs['a']}"
    history = (pair.root / "a" / "log" / "cmd_history.log").read_text()
    assert re.search(r"volume create gv0 .*: FAILED", history), (
        f"the scenario needs a first create that failed while the peer's brick was missing:\n{history}")
    assert "created volume" not in logs["b"], f"the second server must not create gv0:\n{logs['b']}"
    for n in ("a", "b"):
        status = pair.inside(n, "gluster", "--mode=script", "volume", "status", "gv0", "detail")
        assert status.count("Online               : Y") == 2, f"both bricks should be online (node {n}):\n{status}"
    print(f"\ngv0 formed by the real bootstrap in {elapsed:.1f}s")


def test_brick_is_xfs_with_512_byte_inodes_mounted_by_uuid_with_nofail(pair):
    for n in ("a", "b"):
        xfs = pair.inside(n, "xfs_info", str(pair.brick_mount))
        assert re.search(r"isize=512\b", xfs), f"brick of node {n} must have 512-byte inodes:\n{xfs}"
        fstab = (pair.root / n / "fstab").read_text()
        uuid = pair.inside(n, "blkid", "-o", "value", "-s", "UUID", pair.loops[n]).strip()
        assert fstab.splitlines() == [f"UUID={uuid} {pair.brick_mount} xfs defaults,noatime,inode64,nofail 0 2"], (
            f"fstab of node {n} should hold exactly one nofail line for the brick, by UUID:\n{fstab}")


def test_ganesha_export_written(pair):
    for n in ("a", "b"):
        conf = (pair.root / n / "ganesha" / "ganesha.conf").read_text()
        assert conf == render_ganesha_conf(), f"ganesha.conf of node {n} differs from the rendered export"


def test_second_run_changes_nothing(pair):
    before = {n: (_info(pair, n), (pair.root / n / "fstab").read_text()) for n in ("a", "b")}
    logs = pair.bootstrap_both()
    for n in ("a", "b"):
        assert (_info(pair, n), (pair.root / n / "fstab").read_text()) == before[n], (
            f"second bootstrap run changed gv0 or fstab on node {n}:\n{logs[n]}")
        for step in ("formatting", "created volume", "set features", "started volume", "wrote ", "started\n"):
            assert step not in logs[n], f"second run on node {n} repeated a step ({step.strip()!r}):\n{logs[n]}"


def test_ganesha_serves_gv0_read_write_over_nfsv4_without_root_squash(pair):
    if shutil.which("ganesha.nfsd") is None or not glob.glob("/usr/lib/*/ganesha/libfsalgluster.so"):
        pytest.skip("nfs-ganesha and nfs-ganesha-gluster are not installed")
    a = pair.root / "a"
    (a / "nfs-state").mkdir()
    # NFS-Ganesha on server a with the ganesha.conf its bootstrap wrote; NFSv4 state kept private.
    ganesha = subprocess.Popen(pair.enter("a") + ["bash", "-c", f"""set -e
        mount --bind {a}/nfs-state /var/lib/nfs
        mkdir -p /run/ganesha
        exec ganesha.nfsd -F -L {a}/ganesha.log -f {a}/ganesha/ganesha.conf -p /run/ganesha/ganesha.pid"""],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        # The client runs in server b's network namespace: a packet across the veth, as from a node.
        client = _run(*pair.enter("b")[:3], "-n", sys.executable, "-c", NFS4_CREATE_DIR,
                      ADDRESSES["a"], "gv0", "written-over-nfs", check=False, timeout=60)
        log = (a / "ganesha.log").read_text() if (a / "ganesha.log").exists() else ""
        assert client.returncode == 0, (
            f"NFSv4 CREATE on {ADDRESSES['a']}:/gv0 failed: {client.stdout}{client.stderr}\n{log[-3000:]}")
        assert "Volume gv0 exported at" in log, f"Ganesha did not export gv0 through FSAL_GLUSTER:\n{log[-3000:]}"
    finally:
        ganesha.send_signal(signal.SIGKILL)  # it lingers minutes on SIGTERM (grace period)
        ganesha.wait(timeout=30)
    for n in ("a", "b"):
        owner = pair.inside(n, "stat", "-c", "%u:%g %F", f"{pair.brick_mount}/brick1/written-over-nfs").strip()
        assert owner == "0:0 directory", (
            f"the directory made over NFS as root should be on brick {n}, owned by root (No_Root_Squash): {owner}")


def test_reboot_of_second_server_remounts_brick_and_brings_it_online(pair):
    pair.stop("b")
    pair.start("b")  # fresh mount namespace: brick unmounted, glusterd up before the brick fs
    proc = pair.bootstrap("b")
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, f"bootstrap after reboot of node b failed:\n{out}"
    assert "from /etc/fstab" in out, f"node b should remount its brick from fstab, not reformat it:\n{out}"
    assert "formatting" not in out, f"node b reformatted its brick after a reboot:\n{out}"
    # Node a needs a moment to reconnect to the rebooted glusterd before it lists b's brick again.
    deadline = time.monotonic() + 60
    while True:
        status = pair.inside("a", "gluster", "--mode=script", "volume", "status", "gv0", "detail")
        if status.count("Online               : Y") == 2 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status.count("Online               : Y") == 2, f"brick of node b should be back online:\n{status}"
