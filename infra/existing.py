"""`clusterMode: existing`: deploy only the workloads onto a cluster the user already has.

For trying the stack without paying for EKS (kind, minikube) or on a team's own cluster. Nothing
is created on AWS. What the user provides instead (docs/benchmark-guide.md, "Existing cluster"):

- a kubeconfig context (`kubeContext`), read from the usual kubeconfig (`$KUBECONFIG` or
  `~/.kube/config`) by the Kubernetes provider;
- an NFS export for `/seldon-data` (`existingNfsServer`, `existingNfsPath`), reachable from
  every node, because the Seldon components share files through it;
- node labels: `role=seldon` on the Seldon nodes and `role=iago` (plus the taint `role=iago:NoSchedule`)
  on the load-generator node, the same roles the EKS node groups carry (infra/roles.py).

No EBS CSI driver is assumed, so `mysqlStorage: ssd` is refused by the settings.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from infra.handles import DataVolume, Infrastructure
from infra.settings import Settings


def build(settings: Settings) -> Infrastructure:
    provider = k8s.Provider("existing-cluster", context=settings.kube_context)
    return Infrastructure(
        k8s_provider=provider,
        data_volume=DataVolume(server=settings.existing_nfs_server, path=settings.existing_nfs_path),
        # Nodes exist already: nothing to wait for, and destroy must not wait for anything either.
        ready=[],
        has_ebs_csi=False,
        image_registry=settings.image_registry if settings.image_supply == "registry" else None,
        outputs={"clusterMode": settings.cluster_mode, "kubeContext": settings.kube_context},
    )
