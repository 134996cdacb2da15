"""AWS side of the benchmark as components (or an existing cluster): returns an `Infrastructure`
handle, whose `ready` the workloads depend on."""

from __future__ import annotations

from typing import Sequence

from infra.handles import Infrastructure
from infra.settings import Settings


def build(settings: Settings, docker_repositories: Sequence[str] = ()) -> Infrastructure:
    """`docker_repositories`: the Docker Hub repositories the workloads pull (for an ECR cache)."""
    if settings.cluster_mode == "existing":
        from infra import existing

        return existing.build(settings)
    from infra import aws

    return aws.build(settings, docker_repositories)
