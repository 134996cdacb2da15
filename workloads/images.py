"""Every container image of the benchmark, pinned to the last seldon-server release (1.4.10).

Tags come from SeldonIO/seldon-server build/build_versions and kubernetes/conf at v1.4.10; see
shared/reference/seldon-stack.md §0. `imageRegistry` pulls the same repositories and tags from a
mirror (e.g. ECR filled with `crane copy`), because the 2016-2017 images may leave Docker Hub.
"""

from __future__ import annotations

from typing import Optional

# name -> (registry-relative repository, tag). Docker Hub unless the repository names a host.
IMAGES: dict[str, tuple[str, str]] = {
    "seldon-server": ("seldonio/seldon-server", "1.4.10"),
    "seldon-control": ("seldonio/seldon-control", "2.2.6_v2"),
    "examples-ml10m": ("seldonio/examples-ml10m", "2.2.6_v2"),
    "seldon-stream": ("seldonio/seldon-stream", "1.4.10_v1"),
    "seldon-server-maintenance": ("seldonio/seldon-server-maintenance", "0.1"),
    "mysql": ("seldonio/mysql", "1.0.2"),
    "memcached": ("seldonio/memcached", "0.1"),
    "zookeeper": ("seldonio/zookeeper-k8s", "1.0"),
    "kafka": ("seldonio/kafka-k8s", "1.1"),
    "td-agent-node": ("seldonio/td-agent-node", "1.0.2"),
    "td-agent-server": ("seldonio/td-agent-server", "1.0.5"),
    "influxdb": ("seldonio/influxdb", "1.0"),
    "grafana": ("seldonio/grafana", "1.0"),
    "iago": ("seldonio/iago", "1.0"),
    "spark": ("gcr.io/google_containers/spark", "1.5.2_v1"),
    # Small helpers for Jobs and init containers (replay generation, checks).
    "python": ("library/python", "3.12-slim"),
    "busybox": ("library/busybox", "1.37"),
}


def image(name: str, registry: Optional[str] = None) -> str:
    """The full image reference for `name`, from `registry` when a mirror is configured."""
    repository, tag = IMAGES[name]
    if registry:
        # A mirror keeps the repository path without the original host.
        path = repository.split("/", 1)[1] if "." in repository.split("/")[0] else repository
        return f"{registry}/{path}:{tag}"
    if repository.startswith("library/"):
        return f"{repository.removeprefix('library/')}:{tag}"
    return f"{repository}:{tag}"
