"""The Seldon stack on the cluster: the `SeldonStack` component, a tree of one component per area.

It creates, in the order seldon-up.sh and the ml10m example ran them (reference seldon-stack.md
§2, §5, §9.1): the namespace; the shared RWX `/seldon-data` volume and its file layout; the
grafana admin password (a Pulumi secret); MySQL (GlusterFS or gp3 SSD, optional read replicas),
memcached1/2, ZooKeeper ×3, seldon-control, Kafka, td-agent-server, InfluxDB + Grafana, Spark
master + workers, the analytics streams; the setup Job; seldon-server behind a LoadBalancer;
then the ML10M Jobs (download → import → train → activate → verify), each awaited by `pulumi up`;
the download starts as soon as the data volume is laid out, beside MySQL and the setup.

The manifests are pure functions of the settings, one module per area (storage, mysql, api,
streams, monitoring, spark, dataset); this module only declares them and wires the order.
"""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from workloads import api, common, dataset, monitoring, mysql, render, spark, storage, streams
from workloads.common import (
    API_PORT,
    API_SERVICE,
    LAYOUT_CONFIGMAP,
    ML10M_CLIENT,
    ML10M_JS_KEY,
    SCRIPTS_CONFIGMAP,
    Context,
)

COMPONENT_TYPE = "seldon-bench:workloads:SeldonStack"


def _lb_url(service: k8s.core.v1.Service, path: str = "") -> pulumi.Output[str]:
    def url(status) -> str:
        host = common.load_balancer_host(status)
        return f"http://{host}{path}" if host else ""
    return service.status.apply(url)


class SeldonStack(pulumi.ComponentResource):
    """The Seldon stack and the ML10M model: one child component per area, each holding its objects.

    Creates `DataVolume`, `Monitoring`, `MySql`, `Streams`, `Spark`, `Api` and `Ml10m` (below).
    What the load test needs is kept as attributes: `namespace`, `data_claim` (the RWX claim
    `seldon-claim`), `api_deployment` and `api_service` (seldon-server), `ml10m_imported` (the
    Job that imported the ML10M items and actions), `model_verified` (the Job that proved the
    model answers) and `api_address`, the in-cluster address of the API as iago's `victims` wants
    it. `outputs` are this layer's stack outputs. Depending on the component waits for all of it.
    """

    api_address = f"{API_SERVICE}:{API_PORT}"

    def __init__(self, name: str, ctx: Context, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self.ctx = ctx
        s = ctx.settings
        layout_files = render.layout_config(s.api_java_heap, s.mysql_config)

        data = DataVolume("data", self, layout_files)
        watch = Monitoring("monitoring", self, data)
        db = MySql("mysql", self, data, layout_files)
        logs = Streams("streams", self, data, watch)
        sparks = Spark("spark", self, data)
        server = Api("api", self, data, layout_files, watch, db, logs)
        model = Ml10m("ml10m", self, data, server, sparks)

        self.namespace, self.data_claim = data.namespace, data.claim
        self.api_deployment, self.api_service = server.deployment, server.service
        self.ml10m_imported, self.model_verified = model.imported, model.verified
        self.outputs = {
            "seldonApiUrl": _lb_url(server.service),
            "grafanaUrl": _lb_url(watch.grafana_service, f"/dashboard/db/{ML10M_CLIENT}"),
            "seldonApiInCluster": f"{API_SERVICE}.{s.namespace}.svc.cluster.local:{API_PORT}",
            # The ml10m client's pinned JS consumer key: `analysis pull` probes the API with it.
            "seldonApiKey": ML10M_JS_KEY,
            "namespace": s.namespace,
            "grafanaAdminPassword": pulumi.Output.secret(watch.password.result),
        }
        self.register_outputs(self.outputs)


class _Area(pulumi.ComponentResource):
    """One area of the Seldon stack, a child of its `SeldonStack`.

    Its objects were children of the SeldonStack itself before the areas were components: each
    carries an alias naming that parent, so a live stack keeps them instead of replacing them.
    """

    TYPE = ""

    def __init__(self, name: str, stack: SeldonStack):
        super().__init__(self.TYPE, name, None, pulumi.ResourceOptions(parent=stack))
        self._stack = stack
        self.settings = stack.ctx.settings

    def _opts(self) -> dict[str, Any]:
        return {"parent": self, "aliases": [pulumi.Alias(parent=self._stack)]}

    def _declare(self, obj: dict, *depends_on: pulumi.Resource, **opts: Any) -> pulumi.CustomResource:
        return common.declare(self._stack.ctx, obj, *depends_on, **self._opts(), **opts)

    def _job(self, obj: dict, *depends_on: pulumi.Resource) -> pulumi.CustomResource:
        seconds = dataset.pulumi_timeout_seconds(obj["metadata"]["name"])
        # Same metadata.name: the old Job must go before its replacement can be created.
        return self._declare(obj, *depends_on, delete_before_replace=True,
                             custom_timeouts=pulumi.CustomTimeouts(create=f"{seconds}s", update=f"{seconds}s"))


class DataVolume(_Area):
    """The namespace, the shared RWX `/seldon-data` (PersistentVolume + claim), the scripts and
    config-file ConfigMaps, and the Job that lays the volume out. Attributes: `namespace`,
    `claim`, `scripts`, `layout_config` (the ConfigMap), `layout` (the Job)."""

    TYPE = "seldon-bench:workloads:DataVolume"

    def __init__(self, name: str, stack: SeldonStack, layout_files: dict[str, str]):
        super().__init__(name, stack)
        s = self.settings
        self.namespace = self._declare(storage.namespace(s))
        pv = self._declare(storage.persistent_volume(s, stack.ctx.infra.data_volume))
        self.claim = self._declare(storage.claim(s), self.namespace, pv)
        self.scripts = self._declare(storage.config_map(s, SCRIPTS_CONFIGMAP, render.scripts_config()),
                                     self.namespace)
        self.layout_config = self._declare(storage.config_map(s, LAYOUT_CONFIGMAP, layout_files), self.namespace)
        self.layout = self._job(dataset.layout(s, layout_files), self.claim, self.scripts, self.layout_config)
        self.register_outputs({})


class Monitoring(_Area):
    """The Grafana admin password (a Pulumi secret) and its Secret, InfluxDB + Grafana, their
    Services, and the Job that sees Grafana accept the password. Attributes: `password`,
    `secret`, `grafana_service`, `setup` (the Job)."""

    TYPE = "seldon-bench:workloads:Monitoring"

    def __init__(self, name: str, stack: SeldonStack, data: DataVolume):
        super().__init__(name, stack)
        s = self.settings
        self.password = random.RandomPassword(monitoring.GRAFANA_SECRET, length=24, special=False,
                                              opts=pulumi.ResourceOptions(**self._opts()))
        self.secret = self._declare(monitoring.grafana_secret(s, self.password.result), data.namespace)
        pods = self._declare(monitoring.influxdb_grafana(s), data.layout, self.secret)
        influx_svc = self._declare(monitoring.influxdb_service(s), pods)
        self.grafana_service = self._declare(monitoring.grafana_service(s), pods)
        self.setup = self._job(dataset.monitoring(s), influx_svc, self.grafana_service, data.scripts)
        self.register_outputs({})


class MySql(_Area):
    """MySQL: the primary (on the shared volume, or gp3 with its StorageClass and claim), the
    optional read replicas, their Services. Attribute: `services` (primary first)."""

    TYPE = "seldon-bench:workloads:MySql"

    def __init__(self, name: str, stack: SeldonStack, data: DataVolume, layout_files: dict[str, str]):
        super().__init__(name, stack)
        s = self.settings
        if s.mysql_storage == "ssd":
            ssd = [self._declare(mysql.gp3_storage_class(s, pulumi.get_stack())), data.scripts, data.layout_config]
            storage_deps = [self._declare(mysql.claim(s), data.namespace, *ssd), *ssd]
        else:
            # Read replicas need their own volumes: settings allow them only with ssd.
            ssd, storage_deps = [], [data.layout]
        primary = self._declare(mysql.primary(s, layout_files), *storage_deps)
        self.services = [self._declare(mysql.service(s), primary)]
        if s.mysql_read_replicas:
            readers = self._declare(mysql.read_replicas(s, layout_files), self.services[0], *ssd)
            self.services.append(self._declare(mysql.service(s, mysql.READ), readers))
        self.register_outputs({})


class Streams(_Area):
    """The ZooKeeper quorum, Kafka, td-agent-server and the Kafka Streams jobs into InfluxDB.
    Attributes: `zookeepers` (servers and their Services), `td_agent_service`."""

    TYPE = "seldon-bench:workloads:Streams"

    def __init__(self, name: str, stack: SeldonStack, data: DataVolume, watch: Monitoring):
        super().__init__(name, stack)
        s = self.settings
        self.zookeepers = []
        for n in streams.ZOOKEEPERS:
            # Servers and their Services side by side: the quorum needs the names, the names the pods.
            self.zookeepers.append(self._declare(streams.zookeeper_service(s, n), data.namespace))
            self.zookeepers.append(self._declare(streams.zookeeper(s, n), data.namespace))
        kafka = self._declare(streams.kafka(s), *self.zookeepers)
        kafka_svc = self._declare(streams.kafka_service(s), kafka)
        td_agent = self._declare(streams.td_agent_server(s), data.layout, kafka_svc)
        self.td_agent_service = self._declare(streams.td_agent_service(s), td_agent)
        for kind in streams.STREAM_KINDS:
            self._declare(streams.kafka_stream(s, kind), kafka_svc, watch.setup)
        self.register_outputs({})


class Spark(_Area):
    """The Spark master, its Services and the workers. Attributes: `services`, `workers`."""

    TYPE = "seldon-bench:workloads:Spark"

    def __init__(self, name: str, stack: SeldonStack, data: DataVolume):
        super().__init__(name, stack)
        s = self.settings
        master = self._declare(spark.master(s), data.layout)
        self.services = [self._declare(svc, master) for svc in spark.master_services(s)]
        self.workers = self._declare(spark.worker(s), *self.services)
        self.register_outputs({})


class Api(_Area):
    """memcached1/2, the seldon-control shell, the Seldon setup Job, then seldon-server and its
    LoadBalancer. Attributes: `setup` (the Job), `deployment`, `service`."""

    TYPE = "seldon-bench:workloads:Api"

    def __init__(self, name: str, stack: SeldonStack, data: DataVolume, layout_files: dict[str, str],
                 watch: Monitoring, db: MySql, logs: Streams):
        super().__init__(name, stack)
        s = self.settings
        caches = [self._declare(api.memcached_service(s, n), self._declare(api.memcached(s, n), data.namespace))
                  for n in api.MEMCACHED]
        self._declare(api.seldon_control(s), data.layout, watch.secret)
        # seldon-cli posts the client dashboards at client setup and never checks the answer: the
        # setup (and the ML10M import) start once monitoring-setup has seen Grafana accept the password.
        self.setup = self._job(dataset.setup(s), data.layout, data.scripts, watch.setup, *db.services, *caches,
                               *logs.zookeepers)
        self.deployment = self._declare(api.seldon_server(s, layout_files), self.setup, logs.td_agent_service,
                                        *db.services, *caches)
        self.service = self._declare(api.seldon_server_service(s), self.deployment)
        self.register_outputs({})


class Ml10m(_Area):
    """The ML10M Jobs, each after the one before: download → import → train → activate → verify.
    The download needs only the laid-out volume, so it runs beside MySQL and the Seldon setup;
    the import needs both. Attributes: `imported`, `verified` (the import and verify Jobs)."""

    TYPE = "seldon-bench:workloads:Ml10m"

    def __init__(self, name: str, stack: SeldonStack, data: DataVolume, server: Api, sparks: Spark):
        super().__init__(name, stack)
        s = self.settings
        download = self._job(dataset.download(s), data.layout, data.scripts)
        self.imported = self._job(dataset.import_ml10m(s), download, server.setup)
        trained = self._job(dataset.train(s), self.imported, sparks.workers, *sparks.services)
        activated = self._job(dataset.activate(s), trained)
        self.verified = self._job(dataset.verify(s), activated, server.service)
        self.register_outputs({})
