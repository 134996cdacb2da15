"""Node roles: which workloads may land on which Kubernetes nodes.

The seed labelled one node `role=iago` and cordoned it so that only the load tester ran there.
The declarative form is a node-group label plus a NoSchedule taint that only iago tolerates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Taint:
    key: str
    value: str

    # EKS spells the effect as an enum, pods as the Kubernetes name.
    eks_effect: str = "NO_SCHEDULE"
    k8s_effect: str = "NoSchedule"

    def toleration(self) -> dict:
        """The pod toleration that matches this taint (Kubernetes API field names)."""
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.k8s_effect}


@dataclass(frozen=True)
class NodeRole:
    name: str  # node group name
    labels: dict = field(default_factory=dict)
    taint: Optional[Taint] = None

    @property
    def node_selector(self) -> dict:
        return dict(self.labels)

    @property
    def tolerations(self) -> list[dict]:
        return [self.taint.toleration()] if self.taint else []


SELDON = NodeRole("seldon", {"role": "seldon"})
LOADGEN = NodeRole("loadgen", {"role": "iago"}, Taint("role", "iago"))
MYSQL = NodeRole("mysql", {"role": "mysql"}, Taint("role", "mysql"))
