"""seldon-bench: the Seldon ML10M item-similarity benchmark, declared.

stack config -> Settings -> pre-deploy checks -> infra (AWS network, EKS, GlusterFS) -> workloads
(Seldon stack, ML10M model, replay, iago) -> stack outputs that `python -m analysis` and the user read.
"""

import pulumi

import infra
import workloads
import workloads.images
from infra.checks import images as image_check
from infra.checks import preflight
from infra.settings import SettingsError
from infra.stackfile import load_settings
from workloads.capacity import capacity_problems

settings = load_settings()
# Before any resource: a stack whose pods cannot be scheduled on its nodes is refused whole, and
# the live checks (each skipped by its config key; the offline runner sets both) stop a stack that
# AWS or the registries would fail only after the EKS stand-up.
if problems := capacity_problems(settings):
    raise SettingsError(problems)
preflight.run_if_live(settings)
image_check.run_if_live(settings, [workloads.images.image(name, settings.image_registry)
                                   for name in sorted(workloads.images.IMAGES)])
platform = infra.build(settings, workloads.images.repositories())
benchmark = workloads.build(settings, platform)

for name, value in {**platform.outputs, **benchmark}.items():
    pulumi.export(name, value)
