"""The Seldon stack on the cluster: the `SeldonStack` component.

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
    """Every object of the Seldon stack and the ML10M model, as children of one component.

    What the load test needs is kept as attributes: `namespace`, `data_claim` (the RWX claim
    `seldon-claim`), `api_deployment` and `api_service` (seldon-server), `ml10m_imported` (the
    Job that imported the ML10M items and actions), `model_verified` (the Job that proved the
    model answers) and `api_address`, the in-cluster address of the API as iago's `victims` wants
    it. `outputs` are this layer's stack outputs. Depending on the component waits for all of it.
    """

    api_address = f"{API_SERVICE}:{API_PORT}"

    def __init__(self, name: str, ctx: Context, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self._ctx = ctx
        s = ctx.settings
        layout_files = render.layout_config(s.api_java_heap, s.mysql_config)
        declare, job = self._declare, self._job

        ns = declare(storage.namespace(s))
        pv = declare(storage.persistent_volume(s, ctx.infra.data_volume))
        claim = declare(storage.claim(s), ns, pv)
        scripts = declare(storage.config_map(s, SCRIPTS_CONFIGMAP, render.scripts_config()), ns)
        layout_cm = declare(storage.config_map(s, LAYOUT_CONFIGMAP, layout_files), ns)
        password = random.RandomPassword(monitoring.GRAFANA_SECRET, length=24, special=False,
                                         opts=pulumi.ResourceOptions(parent=self))
        secret = declare(monitoring.grafana_secret(s, password.result), ns)
        layout = job(dataset.layout(s, layout_files), claim, scripts, layout_cm)

        # --- MySQL
        if s.mysql_storage == "ssd":
            ssd = [declare(mysql.gp3_storage_class(s, pulumi.get_stack())), scripts, layout_cm]
            mysql_storage = [declare(mysql.claim(s), ns, *ssd), *ssd]
        else:
            # Read replicas need their own volumes: settings allow them only with ssd.
            ssd, mysql_storage = [], [layout]
        primary = declare(mysql.primary(s, layout_files), *mysql_storage)
        databases = [declare(mysql.service(s), primary)]
        if s.mysql_read_replicas:
            readers = declare(mysql.read_replicas(s, layout_files), databases[0], *ssd)
            databases.append(declare(mysql.service(s, mysql.READ), readers))

        # --- caches and coordination
        caches = [declare(api.memcached_service(s, n), declare(api.memcached(s, n), ns)) for n in api.MEMCACHED]
        zookeepers = []
        for n in streams.ZOOKEEPERS:
            # Servers and their Services side by side: the quorum needs the names, the names the pods.
            zookeepers.append(declare(streams.zookeeper_service(s, n), ns))
            zookeepers.append(declare(streams.zookeeper(s, n), ns))
        declare(api.seldon_control(s), layout, secret)

        # --- logs and analytics pipeline
        kafka = declare(streams.kafka(s), *zookeepers)
        kafka_svc = declare(streams.kafka_service(s), kafka)
        td_agent = declare(streams.td_agent_server(s), layout, kafka_svc)
        td_agent_svc = declare(streams.td_agent_service(s), td_agent)
        influx_grafana = declare(monitoring.influxdb_grafana(s), layout, secret)
        influx_svc = declare(monitoring.influxdb_service(s), influx_grafana)
        grafana_svc = declare(monitoring.grafana_service(s), influx_grafana)
        monitoring_setup = job(dataset.monitoring(s), influx_svc, grafana_svc, scripts)
        for kind in streams.STREAM_KINDS:
            declare(streams.kafka_stream(s, kind), kafka_svc, monitoring_setup)

        # --- Spark
        spark_master = declare(spark.master(s), layout)
        spark_svcs = [declare(svc, spark_master) for svc in spark.master_services(s)]
        spark_workers = declare(spark.worker(s), *spark_svcs)

        # --- Seldon configuration, then the API
        # seldon-cli posts the client dashboards at client setup and never checks the answer: the
        # setup and import Jobs start once monitoring-setup has seen Grafana accept the password.
        setup = job(dataset.setup(s), layout, scripts, monitoring_setup, *databases, *caches, *zookeepers)
        self.api_deployment = declare(api.seldon_server(s, layout_files), setup, td_agent_svc, *databases, *caches)
        self.api_service = declare(api.seldon_server_service(s), self.api_deployment)

        # --- the ML10M model, each step after the one before. The download needs only the data
        # volume and its layout, so it runs beside MySQL and the Seldon setup; the import needs both.
        download = job(dataset.download(s), layout, scripts)
        self.ml10m_imported = job(dataset.import_ml10m(s), download, setup)
        trained = job(dataset.train(s), self.ml10m_imported, spark_workers, *spark_svcs)
        activated = job(dataset.activate(s), trained)
        self.model_verified = job(dataset.verify(s), activated, self.api_service)

        self.namespace, self.data_claim = ns, claim
        self.outputs = {
            "seldonApiUrl": _lb_url(self.api_service),
            "grafanaUrl": _lb_url(grafana_svc, f"/dashboard/db/{ML10M_CLIENT}"),
            "seldonApiInCluster": f"{API_SERVICE}.{s.namespace}.svc.cluster.local:{API_PORT}",
            # The ml10m client's pinned JS consumer key: `analysis pull` probes the API with it.
            "seldonApiKey": ML10M_JS_KEY,
            "namespace": s.namespace,
            "grafanaAdminPassword": pulumi.Output.secret(password.result),
        }
        self.register_outputs(self.outputs)

    def _declare(self, obj: dict, *depends_on: pulumi.Resource, **opts: Any) -> pulumi.CustomResource:
        """Declare one manifest of the Seldon stack, as a child of the component."""
        return common.declare(self._ctx, obj, *depends_on, parent=self, **opts)

    def _job(self, obj: dict, *depends_on: pulumi.Resource) -> pulumi.CustomResource:
        seconds = dataset.pulumi_timeout_seconds(obj["metadata"]["name"])
        # Same metadata.name: the old Job must go before its replacement can be created.
        return self._declare(obj, *depends_on, delete_before_replace=True,
                             custom_timeouts=pulumi.CustomTimeouts(create=f"{seconds}s", update=f"{seconds}s"))
