"""Kubernetes side of the benchmark: the Seldon stack, the ML10M model, the replay and iago."""

from __future__ import annotations

from infra.handles import Infrastructure
from infra.settings import Settings
from workloads.common import Context


def build(settings: Settings, infra: Infrastructure) -> dict:
    """Declare the `SeldonStack` and the `LoadTest` components; return the stack outputs of this layer."""
    from workloads.loadtest import LoadTest
    from workloads.seldon import SeldonStack

    # Every image reference is built from `image_registry`: from here on it is the registry the
    # infrastructure resolved (the ECR pull-through cache, the user's mirror, or None for Docker Hub).
    settings = settings.model_copy(update={"image_registry": infra.image_registry})
    ctx = Context(settings, infra)
    stack = SeldonStack("seldon", ctx)
    load_test = LoadTest("loadtest", ctx, stack)
    # The run's own parameters, so `python -m analysis pull --stack` records what was asked.
    run = {
        "requestRate": settings.request_rate,
        "apiReplicas": settings.api_replicas,
        "loadtestMinutes": settings.loadtest_minutes,
        "replayUsers": settings.replay_users,
        "replayItems": settings.replay_items,
        "replayCalls": settings.replay_calls,
    }
    return {**stack.outputs, **load_test.outputs, **run}
