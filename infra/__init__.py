"""AWS side of the benchmark (or an existing cluster): returns an `Infrastructure` handle."""

from __future__ import annotations

from typing import Sequence

from infra.handles import Infrastructure
from infra.settings import Settings


def build(settings: Settings, docker_repositories: Sequence[str] = ()) -> Infrastructure:
    """`docker_repositories`: the Docker Hub repositories the workloads pull (for an ECR cache)."""
    # A missing or schema-1 image would otherwise surface only after the EKS stand-up, as
    # ImagePullBackOff; check them before anything is created (a no-op under mocks).
    from infra import image_check

    image_check.run_if_live(settings)
    if settings.cluster_mode == "existing":
        from infra import existing

        return existing.build(settings)
    from infra import aws

    return aws.build(settings, docker_repositories)
