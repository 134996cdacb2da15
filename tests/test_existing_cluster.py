"""`clusterMode: existing`: only the workloads, on the user's kubeconfig context and NFS export."""

from __future__ import annotations

import pytest

from infra.offline import stack_settings
from infra.offline.plan import Run, estimate, plan_of
from infra.roles import LOADGEN, SELDON

EXISTING = {"clusterMode": "existing", "kubeContext": "kind-bench", "existingNfsServer": "10.1.2.3"}


@pytest.fixture(scope="module")
def existing(program):
    return program(EXISTING)


def test_nothing_is_declared_on_aws(existing):
    aws = [f"{r.typ} {r.name}" for r in existing.resources if r.typ.startswith(("aws:", "pulumi:providers:aws"))]
    assert not aws, f"clusterMode=existing must not create AWS resources, declares {aws}"


def test_one_kubernetes_provider_on_the_given_context(existing):
    providers = existing.of_type("pulumi:providers:kubernetes")
    assert len(providers) == 1, f"expected one Kubernetes provider, found {[p.name for p in providers]}"
    provider = providers[0]
    assert provider.inputs.get("context") == "kind-bench", f"provider {provider.name} ignores kubeContext: {provider.inputs}"
    assert "kubeconfig" not in provider.inputs, "the provider must read the user's own kubeconfig, not one we write"
    objects = existing.k8s_objects()
    assert objects, "no workloads declared"
    strays = [o.name for o in objects if not o.provider.startswith(provider.urn)]
    assert not strays, f"objects not on the existing-cluster provider: {strays}"


def test_data_volume_points_at_the_users_nfs_export(existing):
    pvs = existing.k8s("PersistentVolume")
    assert pvs, "no PersistentVolume for /seldon-data"
    for pv in pvs:
        nfs = pv.inputs["spec"].get("nfs") or {}
        assert (nfs.get("server"), nfs.get("path")) == ("10.1.2.3", "/gv0"), (
            f"PersistentVolume {pv.metadata.get('name')} must mount 10.1.2.3:/gv0, got {nfs}")


def test_workloads_select_nodes_by_the_documented_role_labels(existing):
    selectors = {tuple(sorted((d.inputs["spec"]["template"]["spec"].get("nodeSelector") or {}).items()))
                 for d in existing.k8s("Deployment")}
    assert tuple(SELDON.labels.items()) in selectors, f"no Deployment selects {SELDON.labels}: {selectors}"
    jobs = [j for j in existing.k8s("Job") if (j.inputs["spec"]["template"]["spec"].get("nodeSelector") or {}) == LOADGEN.labels]
    assert jobs, "the load test must select the node the user labels role=iago"


def test_no_ebs_storage_class_and_outputs_name_the_context(existing):
    ebs = [sc.metadata.get("name") for sc in existing.k8s("StorageClass") if sc.inputs.get("provisioner") == "ebs.csi.aws.com"]
    assert not ebs, f"an existing cluster has no EBS CSI driver from us, yet declares {ebs}"
    assert existing.outputs.get("clusterMode") == "existing"
    assert existing.outputs.get("kubeContext") == "kind-bench"


def test_plan_prices_nothing_on_an_existing_cluster(existing):
    settings = stack_settings("bench", EXISTING)
    plan = plan_of(existing, settings)
    assert not plan.machines and not plan.disks and plan.eks_clusters == 0
    assert estimate(plan, Run()).per_run == 0
    assert any("existing cluster" in note for note in plan.notes), plan.notes
