"""MySQL of the Seldon stack (pure manifests): the primary, its optional gp3 SSD storage, and the
optional read replicas (`mysqlStorage`, `mysqlReadReplicas`, `mysqlDedicatedNodes`).

On `glusterfs` (the seed) the primary's datadir is /seldon-data/mysql of the shared volume; on
`ssd` its own encrypted gp3 volume is mounted at /seldon-data and seldon.cnf copied onto it.
"""

from __future__ import annotations

from typing import Sequence

from infra.roles import MYSQL, SELDON, NodeRole
from infra.settings import Settings
from workloads import manifests as m
from workloads import render
from workloads.common import DATA_MOUNT, LAYOUT_CONFIGMAP, PART_OF, SCRIPTS_DIR
from workloads.images import image

# The password the images and seldon-cli/luigi configs hard-code (docker/seldon-control/luigi.cfg,
# seldon.conf); MySQL is reachable only inside the cluster.
MYSQL_ROOT_PASSWORD = "mypass"
PORT = 3306
GP3_STORAGE_CLASS = "gp3"
READ = "mysql-read"


def placement(settings: Settings) -> NodeRole:
    return MYSQL if settings.mysql_dedicated_nodes else SELDON


def gp3_storage_class(settings: Settings, stack: str) -> dict:
    """The SSD option of `mysqlStorage`: encrypted gp3 EBS, bound where the pod is scheduled.

    Every volume is tagged Project/Stack like the AWS resources (the driver's `tagSpecification_N`
    parameters), so a volume a failed destroy left behind is found by its stack's tags.
    """
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": m.meta(None, GP3_STORAGE_CLASS),
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "encrypted": "true",
                       "tagSpecification_1": f"Project={PART_OF}", "tagSpecification_2": f"Stack={stack}"},
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }


def _ssd_claim_spec(settings: Settings) -> dict:
    return {"accessModes": ["ReadWriteOnce"], "storageClassName": GP3_STORAGE_CLASS,
            "resources": {"requests": {"storage": f"{settings.mysql_ssd_size_gib}Gi"}}}


def claim(settings: Settings) -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": m.meta(settings.namespace, "mysql-data"),
            "spec": _ssd_claim_spec(settings)}


def _server(settings: Settings, args: Sequence[str]) -> dict:
    c = {
        "name": "mysql",
        "image": image("mysql", settings.image_registry),
        "env": m.env(MYSQL_ROOT_PASSWORD=MYSQL_ROOT_PASSWORD),
        "ports": [{"name": "mysql", "containerPort": PORT}],
        "resources": m.resources(settings.mysql_memory, settings.mysql_cpu),
        # Over TCP, so the entrypoint's temporary --skip-networking server does not count as ready.
        "readinessProbe": m.exec_ready('MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql -h 127.0.0.1 -u root -e "select 1"'),
        "volumeMounts": [{"name": "mysql-data", "mountPath": DATA_MOUNT}],
    }
    if args:
        c["args"] = list(args)
    return c


def _config_init(settings: Settings, replica: bool) -> dict:
    return {
        "name": "install-config",
        "image": image("mysql", settings.image_registry),
        "command": ["bash", f"{SCRIPTS_DIR}/mysql-config.sh"],
        "env": m.env(REPLICA="true" if replica else "false"),
        "volumeMounts": [
            {"name": "mysql-data", "mountPath": DATA_MOUNT},
            {"name": "config", "mountPath": "/config", "readOnly": True},
            m.scripts_mount(),
        ],
    }


def _config_volumes() -> list[dict]:
    return [m.config_volume("config", LAYOUT_CONFIGMAP, 0o444), m.scripts_volume()]


def primary(settings: Settings, layout: dict[str, str]) -> dict:
    """The MySQL primary, restarted when seldon.cnf changes."""
    if settings.mysql_storage == "ssd":
        volumes = [{"name": "mysql-data", "persistentVolumeClaim": {"claimName": "mysql-data"}}, *_config_volumes()]
        init = [_config_init(settings, replica=False)]
    else:
        volumes = [{**m.data_volume(), "name": "mysql-data"}]
        init = []
    spec = m.pod_spec([_server(settings, render.mysqld_args(settings.mysql_read_replicas))],
                      role=placement(settings), volumes=volumes, init_containers=init)
    return m.deployment(settings.namespace, "mysql", spec, recreate=True,
                        annotations={m.CHECKSUM: render.checksum(layout["seldon.cnf"])})


def read_replicas(settings: Settings, layout: dict[str, str]) -> dict:
    """Read replicas (`mysqlReadReplicas`), each on its own gp3 volume, replicating from `mysql`."""
    replication = {
        "name": "replication",
        "image": image("mysql", settings.image_registry),
        "command": ["bash", f"{SCRIPTS_DIR}/mysql-replica.sh"],
        "env": m.env(MYSQL_ROOT_PASSWORD=MYSQL_ROOT_PASSWORD),
        "volumeMounts": [m.scripts_mount()],
    }
    server = _server(settings, render.replica_mysqld_args())
    server["readinessProbe"] = m.exec_ready(
        'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql -h 127.0.0.1 -u root -e "show slave status\\G" '
        '| grep -q "Slave_SQL_Running: Yes"')
    spec = m.pod_spec([server, replication], role=placement(settings), volumes=_config_volumes(),
                      init_containers=[_config_init(settings, replica=True)])
    return m.stateful_set(settings.namespace, READ, spec, replicas=settings.mysql_read_replicas,
                          annotations={m.CHECKSUM: render.checksum(layout["seldon.cnf"])}, extra={
        # The claims (and so their EBS volumes) go with the StatefulSet or a removed replica;
        # by default Kubernetes keeps them, and they would outlive `pulumi destroy`.
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Delete"},
        "volumeClaimTemplates": [{"metadata": m.meta(None, "mysql-data", app=READ),
                                  "spec": _ssd_claim_spec(settings)}],
    })


def service(settings: Settings, name: str = "mysql") -> dict:
    """`mysql` (the primary) or `mysql-read` (the replicas)."""
    return m.service(settings.namespace, name, m.selector(name), [m.port("mysql", PORT)])
