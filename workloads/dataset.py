"""Manifests of the setup and ML10M Jobs (pure): the steps seldon-up and the ml10m example ran by
hand with `kubectl exec`, as batch/v1 Jobs that `pulumi up` awaits one after the other.

Each Job runs one script of workloads/scripts (mounted from the `seldon-scripts` ConfigMap) in
the image that has the tools it needs: seldon-cli/luigi/spark-submit in examples-ml10m (the
seldon-control image plus the dataset tools), the mysql client in the mysql image, Python for the
HTTP checks. A failing step fails its Job (backoffLimit 0: the steps are not idempotent), and a
failed Job fails `pulumi up` with the Job's reason.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from infra.settings import Settings
from workloads import manifests as m
from workloads import render
from workloads.common import (
    API_SERVICE,
    LAYOUT_CONFIGMAP,
    ML10M_CLIENT,
    ML10M_JS_KEY,
    SCRIPTS_DIR,
)
from workloads.images import image
from workloads.monitoring import grafana_password_env
from workloads.mysql import MYSQL_ROOT_PASSWORD
from workloads.spark import spark_local_hostname


# Minutes each Job may run (activeDeadlineSeconds); Pulumi waits a little longer.
TIMEOUT_MINUTES = {
    "seldon-data-layout": 10,
    "seldon-setup": 20,
    "monitoring-setup": 20,
    "ml10m-download": 30,
    "ml10m-import": 120,
    "ml10m-train": 120,
    "ml10m-activate": 15,
    "ml10m-verify": 20,
}
# The order the ML10M flow runs in; each Job waits for the one before. The download does not
# wait for seldon-setup (it only fetches files onto the volume); the import waits for both.
ML10M_CHAIN = ("ml10m-download", "ml10m-import", "ml10m-train", "ml10m-activate", "ml10m-verify")


def pulumi_timeout_seconds(name: str) -> int:
    return TIMEOUT_MINUTES[name] * 60 + 300


def job(settings: Settings, name: str, containers: Sequence[dict], *, init_containers: Sequence[dict] = (),
        volumes: Sequence[dict] = (), template_annotations: Optional[dict] = None) -> dict:
    annotations = {
        "pulumi.com/timeoutSeconds": str(pulumi_timeout_seconds(name)),
        # A failed Job is replaced (re-run) by the next `pulumi up` instead of awaited again.
        "pulumi.com/replaceUnready": "true",
    }
    spec = m.pod_spec(containers, volumes=volumes, init_containers=init_containers, restartPolicy="Never")
    return m.job(settings.namespace, name, spec, annotations=annotations, template_annotations=template_annotations,
                 backoffLimit=0, activeDeadlineSeconds=TIMEOUT_MINUTES[name] * 60)


def _script_container(settings: Settings, name: str, image_name: str, command: Sequence[str],
                      env: Sequence[dict] = (), data: bool = True, **extra: Any) -> dict:
    container = {
        "name": name,
        "image": image(image_name, settings.image_registry),
        "command": list(command),
        "volumeMounts": [*([m.data_mount()] if data else []), m.scripts_mount()],
    }
    if env:
        container["env"] = list(env)
    container.update(extra)
    return container


def _volumes(data: bool = True) -> list[dict]:
    return [*([m.data_volume()] if data else []), m.scripts_volume()]


def layout(settings: Settings, files: dict[str, str]) -> dict:
    """Creates the /seldon-data layout and writes settings.sh and seldon.cnf (re-run on change)."""
    container = _script_container(settings, "layout", "busybox", ["sh", f"{SCRIPTS_DIR}/layout.sh"])
    container["volumeMounts"].append({"name": "config", "mountPath": "/config", "readOnly": True})
    return job(settings, "seldon-data-layout", [container],
               volumes=[*_volumes(), m.config_volume("config", LAYOUT_CONFIGMAP, 0o444)],
               template_annotations={m.CHECKSUM: render.checksum(*(files[k] for k in sorted(files)))})


def setup(settings: Settings) -> dict:
    """seldon-up step 5: ZooKeeper, memcached and DB configuration, the `test` client."""
    read_hosts = ["mysql-read"] if settings.mysql_read_replicas else []
    # With GRAFANA_ADMIN_PASSWORD set, `seldon-cli client --action setup` posts Seldon's own
    # client-dashboard.json for the client, as seldon-up's seldon-control pod did.
    env = [*m.env(DB_JDBC=render.jdbc_url(read_hosts), MYSQL_ROOT_PASSWORD=MYSQL_ROOT_PASSWORD),
           grafana_password_env("GRAFANA_ADMIN_PASSWORD")]
    return job(settings, "seldon-setup",
               [_script_container(settings, "seldon-setup", "seldon-control", ["bash", f"{SCRIPTS_DIR}/setup.sh"], env)],
               volumes=_volumes())


def monitoring(settings: Settings) -> dict:
    """The InfluxDB database of the stream jobs, and Grafana up with the admin password accepted
    (the client dashboards are posted by seldon-cli at client setup)."""
    container = _script_container(settings, "monitoring-setup", "python", ["python", f"{SCRIPTS_DIR}/monitoring_setup.py"],
                                  [grafana_password_env("GRAFANA_ADMIN_PASSWORD")], data=False)
    return job(settings, "monitoring-setup", [container], volumes=_volumes(data=False))


def _ml10m(settings: Settings, name: str, script: str, env: Sequence[dict] = (), **extra: Any) -> dict:
    container = _script_container(settings, name, "examples-ml10m", ["bash", f"{SCRIPTS_DIR}/{script}"], env, **extra)
    return job(settings, name, [container], volumes=_volumes())


def download(settings: Settings) -> dict:
    return _ml10m(settings, "ml10m-download", "download-ml10m.sh", m.env(ML10M_URL=settings.ml10m_url))


def import_ml10m(settings: Settings) -> dict:
    # The password makes `client --action setup` post the ml10m dashboard (see `setup`).
    return _ml10m(settings, "ml10m-import", "import-ml10m.sh",
                  [*m.env(CLIENT=ML10M_CLIENT, JS_KEY=ML10M_JS_KEY), grafana_password_env("GRAFANA_ADMIN_PASSWORD")])


def train(settings: Settings) -> dict:
    # The Spark driver runs here with --driver-memory 1g.
    # The executors connect back to the driver: it must advertise an address they can reach.
    return _ml10m(settings, "ml10m-train", "train-ml10m.sh",
                  [*m.env(CLIENT=ML10M_CLIENT, MYSQL_ROOT_PASSWORD=MYSQL_ROOT_PASSWORD), spark_local_hostname()],
                  resources=m.resources("1536Mi"))


def activate(settings: Settings) -> dict:
    return _ml10m(settings, "ml10m-activate", "activate-ml10m.sh", m.env(CLIENT=ML10M_CLIENT))


def verify(settings: Settings) -> dict:
    """Fails unless item_similarity has rows and the API recommends items for user 625 / item 50."""
    table = _script_container(settings, "check-model-table", "mysql", ["bash", f"{SCRIPTS_DIR}/check-model-table.sh"],
                              m.env(CLIENT=ML10M_CLIENT, MYSQL_ROOT_PASSWORD=MYSQL_ROOT_PASSWORD), data=False)
    api = _script_container(settings, "check-recommendations", "python",
                            ["python", f"{SCRIPTS_DIR}/verify_recommendations.py"],
                            m.env(API_ENDPOINT=f"http://{API_SERVICE}", JS_KEY=ML10M_JS_KEY,
                                 USER_ID="625", ITEM_ID="50", LIMIT="4"), data=False)
    return job(settings, "ml10m-verify", [api], init_containers=[table], volumes=_volumes(data=False))
