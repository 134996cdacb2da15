"""Every container image of the benchmark, pinned to the last seldon-server release (1.4.10).

Tags come from SeldonIO/seldon-server build/build_versions and kubernetes/conf at v1.4.10. Every
repository is on Docker Hub (official images under `library/`), so one ECR pull-through cache of
Docker Hub, or one mirror filled with `crane copy` (`imageRegistry`), serves them all.

Two images of the 2016 stack are replaced, because a node of today cannot pull them:
- `gcr.io/google_containers/spark:1.5.2_v1` went with Google Container Registry (shut down in
  2025). seldon-control 2.2.6_v2 carries the same Spark 1.5.2 (bin-hadoop2.6, OpenJDK 7) at
  `/opt/spark` (docker/seldon-control/Dockerfile.in), so the master and workers run from it, and
  training uses exactly the Spark its client side (spark-submit in the train Job) uses.
- `seldonio/memcached:0.1` was pushed in 2015 with a Docker schema 1 manifest, which containerd 2
  refuses. The official `memcached` image is used instead, pinned to 1.6.38: a maintained
  multi-arch OCI image whose entrypoint takes memcached's own flags (the seed's `-m 512`), with
  the text protocol seldon-server's client speaks.
"""

from __future__ import annotations

from typing import Optional

# name -> (Docker Hub repository, tag).
IMAGES: dict[str, tuple[str, str]] = {
    "seldon-server": ("seldonio/seldon-server", "1.4.10"),
    "seldon-control": ("seldonio/seldon-control", "2.2.6_v2"),
    "examples-ml10m": ("seldonio/examples-ml10m", "2.2.6_v2"),
    "seldon-stream": ("seldonio/seldon-stream", "1.4.10_v1"),
    "seldon-server-maintenance": ("seldonio/seldon-server-maintenance", "0.1"),
    "mysql": ("seldonio/mysql", "1.0.2"),
    "memcached": ("library/memcached", "1.6.38"),
    "zookeeper": ("seldonio/zookeeper-k8s", "1.0"),
    "kafka": ("seldonio/kafka-k8s", "1.1"),
    "td-agent-node": ("seldonio/td-agent-node", "1.0.2"),
    "td-agent-server": ("seldonio/td-agent-server", "1.0.5"),
    "influxdb": ("seldonio/influxdb", "1.0"),
    "grafana": ("seldonio/grafana", "1.0"),
    "iago": ("seldonio/iago", "1.0"),
    # Small helpers for Jobs and init containers (replay generation, checks).
    "python": ("library/python", "3.12-slim"),
    "busybox": ("library/busybox", "1.37"),
}


def image(name: str, registry: Optional[str] = None) -> str:
    """The full image reference for `name`: Docker Hub, or `registry` (a mirror, or the ECR
    pull-through cache) holding the same `<namespace>/<repository>` paths."""
    repository, tag = IMAGES[name]
    if registry:
        return f"{registry}/{repository}:{tag}"
    return f"{repository.removeprefix('library/')}:{tag}"


def repositories() -> list[str]:
    """Every Docker Hub repository the benchmark pulls (`library/` for official images), once."""
    return sorted({repository for repository, _ in IMAGES.values()})
