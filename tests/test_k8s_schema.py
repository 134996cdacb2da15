"""Every Kubernetes object the program declares is valid, strictly, for the cluster's version.

kubernetes-validate checks each object against the OpenAPI schema of `kubernetesVersion`
(unknown fields rejected; an apiVersion the version no longer serves has no schema and fails).
Objects without metadata.name get the Pulumi resource name, as the provider would.
"""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from infra.offline import is_secret
from infra.settings import SUPPORTED_KUBERNETES_VERSIONS

VARIANTS = {
    "bench": {},
    # Primary and two 3Gi replicas need two dedicated m3.large MySQL nodes.
    "ssd-replicas-dedicated": {"mysqlStorage": "ssd", "mysqlReadReplicas": "2", "mysqlDedicatedNodes": "true",
                               "mysqlNodeCount": "2",
                               "apiCpu": "1500m", "mysqlCpu": "1", "mysqlConfig": '{"innodb_buffer_pool_size": "2G"}'},
    "oldest-kubernetes": {"kubernetesVersion": SUPPORTED_KUBERNETES_VERSIONS[0]},
    "newest-kubernetes": {"kubernetesVersion": SUPPORTED_KUBERNETES_VERSIONS[-1]},
}


def plain(value):
    """Inputs as the API server would get them: Pulumi secret wrappers replaced by their value."""
    if isinstance(value, dict):
        if is_secret(value):
            return plain(value["value"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def manifest(obj) -> dict:
    body = plain(copy.deepcopy(obj.inputs))
    body.setdefault("metadata", {}).setdefault("name", obj.name)
    return body


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_object_is_valid_for_the_configured_version(program, variant):
    prog = program(VARIANTS[variant])
    version = VARIANTS[variant].get("kubernetesVersion", "1.35")
    objects = prog.k8s_objects()
    assert len(objects) > 40, f"{variant}: only {len(objects)} Kubernetes objects declared"
    problems = []
    for obj in objects:
        body = manifest(obj)
        where = f"{body.get('kind')}/{body['metadata']['name']} ({body.get('apiVersion')})"
        try:
            kubernetes_validate.validate(body, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where}: no schema in Kubernetes {version} (removed or unknown API)")
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path)
            problems.append(f"{where}: {exc.message} at {path or '/'}")
    assert not problems, f"{variant} (Kubernetes {version}) declares invalid objects:\n" + "\n".join(problems)


@pytest.mark.parametrize("bad,why", [
    ({"apiVersion": "extensions/v1beta1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {}},
     "removed API"),
    ({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "x"},
      "spec": {"mountOption": ["hard"]}}, "misspelt field"),
])
def test_the_check_rejects_what_it_must(bad, why):
    """The validation above could pass vacuously; it does not for a removed API or a typo."""
    with pytest.raises((kubernetes_validate.SchemaNotFoundError, kubernetes_validate.ValidationError)):
        kubernetes_validate.validate(bad, "1.35", strict=True)
