"""Cloud-init user-data of the GlusterFS servers, rendered by pure functions (no Pulumi).

Each server gets the same files with its own settings: the bootstrap script
(`infra/scripts/gluster-bootstrap.sh`, run by `gluster-bootstrap.service` at every boot so that a
reboot re-checks rather than re-does), the NFS-Ganesha export of `gv0`, and a drop-in that starts
NFS-Ganesha only after the volume is up. runcmd only enables the unit: cloud-init runs runcmd
once per instance, the unit covers every later boot.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

SCRIPTS = Path(__file__).resolve().parent / "scripts"
VOLUME = "gv0"
EXPORT_PATH = f"/{VOLUME}"
BOOTSTRAP_PATH = "/usr/local/sbin/gluster-bootstrap"
UNIT = "gluster-bootstrap.service"
# EC2 refuses user-data above 16 KiB (before base64).
USER_DATA_LIMIT = 16 * 1024

_PLACEHOLDER = re.compile(r"@[A-Z_]+@")


@dataclass(frozen=True)
class GlusterNode:
    """One server of the pair, as its own bootstrap sees it."""

    self_ip: str
    peer_ip: str
    is_first: bool  # the server that probes the peer and creates, configures and starts the volume
    brick_size_gib: int

    def __post_init__(self):
        for ip in (self.self_ip, self.peer_ip):
            if ipaddress.ip_address(ip).version != 4:
                raise ValueError(f"GlusterFS servers need IPv4 addresses, got {ip!r}")
        if self.self_ip == self.peer_ip:
            raise ValueError(f"a GlusterFS server cannot be its own peer ({self.self_ip})")
        if self.brick_size_gib < 1:
            raise ValueError(f"brick size must be at least 1 GiB, got {self.brick_size_gib}")


def server_addresses(subnet_cidr: str) -> tuple[str, str]:
    """Fixed private IPs of the two servers in the node subnet (its 10th and 11th addresses).

    Fixed so each user-data can name its peer without an Output cycle. AWS reserves the first
    four addresses of a subnet, so these are free when the servers are created first.
    """
    net = ipaddress.ip_network(subnet_cidr, strict=True)
    if net.version != 4 or net.num_addresses < 16:
        raise ValueError(f"node subnet must be an IPv4 network of at least 16 addresses, got {subnet_cidr}")
    return str(net.network_address + 10), str(net.network_address + 11)


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(f"@{key}@", value)
    left = _PLACEHOLDER.findall(template)
    if left:
        raise ValueError(f"unrendered placeholders {sorted(set(left))}")
    return template


def render_ganesha_conf(volume: str = VOLUME) -> str:
    """NFS-Ganesha config: the gluster volume over NFSv4/TCP only (one port, 2049)."""
    return _fill((SCRIPTS / "ganesha.conf").read_text(), {"VOLUME": volume})


def render_bootstrap(node: GlusterNode, volume: str = VOLUME) -> str:
    """The bootstrap script of one server, its settings filled in (the environment may override them)."""
    conf = render_ganesha_conf(volume).rstrip("\n")
    if "\nGANESHA_CONF\n" in f"\n{conf}\n":
        raise ValueError("ganesha.conf may not contain the heredoc delimiter line GANESHA_CONF")
    return _fill((SCRIPTS / "gluster-bootstrap.sh").read_text(), {
        "SELF": node.self_ip,
        "PEER": node.peer_ip,
        "IS_FIRST": "1" if node.is_first else "0",
        "VOLUME": volume,
        "BRICK_SIZE_GIB": str(node.brick_size_gib),
        "GANESHA_CONF": conf,
    })


class _Literal(str):
    """A string dumped as a YAML literal block, so the script stays readable in the console log."""


def _literal(dumper: yaml.SafeDumper, data: _Literal):
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def render_user_data(node: GlusterNode, volume: str = VOLUME) -> str:
    """`#cloud-config` user-data of one GlusterFS server."""
    doc = {
        "write_files": [
            {"path": BOOTSTRAP_PATH, "owner": "root:root", "permissions": "0755",
             "content": _Literal(render_bootstrap(node, volume))},
            {"path": f"/etc/systemd/system/{UNIT}", "owner": "root:root", "permissions": "0644",
             "content": _Literal((SCRIPTS / "gluster-bootstrap.service").read_text())},
            {"path": "/etc/systemd/system/nfs-ganesha.service.d/10-after-gluster.conf",
             "owner": "root:root", "permissions": "0644",
             "content": _Literal((SCRIPTS / "nfs-ganesha-after-gluster.conf").read_text())},
        ],
        # Blocking start: `cloud-init status --wait` then also tells whether gv0 was formed.
        "runcmd": [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", UNIT],
        ],
    }
    text = "#cloud-config\n" + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=1000)
    size = len(text.encode())
    if size > USER_DATA_LIMIT:
        raise ValueError(f"GlusterFS user-data is {size} bytes; EC2 accepts at most {USER_DATA_LIMIT}")
    return text
