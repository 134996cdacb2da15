"""What differs between this benchmark and the seed's 2016 run, each as one line a reader can weigh.

Shown next to the seed's result in every report.md (and in summary.json), and in the README;
tests/test_readme.py keeps the README's list equal to this one.
"""

from __future__ import annotations

DIFFERENCES: tuple[str, ...] = (
    "Seldon 1.4.10 images (seldon-server 1.4.10, seldon-control 2.2.6_v2), not the guide's 1.3.x: the last "
    "release, with the same item-similarity recommender, JS API and memcached caching.",
    "`/seldon-data` is the two-brick GlusterFS volume exported over NFSv4 by NFS-Ganesha, not a native "
    "GlusterFS mount (Kubernetes 1.26+ has no glusterfs volume plugin): MySQL's datadir takes another client path.",
    "memcached is the official memcached 1.6.38 image with the seed's `-m 512`, not seldonio/memcached:0.1 "
    "(a Docker schema 1 image that containerd 2 refuses).",
    "Spark 1.5.2 runs from seldon-control's /opt/spark, not gcr.io/google_containers/spark:1.5.2_v1 (gone with "
    "Google Container Registry): the same Spark, used only to train the model, not while measuring.",
    "EKS (Kubernetes 1.35, Amazon Linux 2023 nodes, containerd 2, cgroup v2, the VPC CNI) instead of a "
    "kube-up cluster of 2016 (Docker, Kubernetes 1.2-1.3): a different network path from iago to the API pods.",
    "Readiness probes gate every component and the model is verified before iago starts; the seed "
    "started iago by hand once the import finished.",
)
