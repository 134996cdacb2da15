"""The Seldon stack on the cluster: `deploy(ctx)` declares it and returns the `SeldonStack`.

Creates, in the order seldon-up.sh and the ml10m example ran them (reference seldon-stack.md
§2, §5, §9.1): the namespace; the shared RWX `/seldon-data` volume and its file layout; the
grafana admin password (a Pulumi secret); MySQL (GlusterFS or gp3 SSD, optional read replicas),
memcached1/2, ZooKeeper ×3, seldon-control, Kafka, td-agent-server, InfluxDB + Grafana, Spark
master + workers, the analytics streams; the setup Job; seldon-server behind a LoadBalancer;
then the ML10M Jobs (download → import → train → activate → verify), each awaited by `pulumi up`;
the download starts as soon as the data volume is laid out, beside MySQL and the setup.

The manifests are pure functions of the settings (components, storage, dataset, render); this
module only declares them and wires the order.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from workloads import components as c
from workloads import common, dataset, render, storage
from workloads.common import API_PORT, API_SERVICE, ML10M_CLIENT, ML10M_JS_KEY, Context, SeldonStack

COMPONENT_TYPE = "seldon-bench:workloads:SeldonStack"


def declare(ctx: Context, parent: pulumi.Resource, obj: dict, *depends_on: pulumi.Resource,
            **opts: Any) -> pulumi.CustomResource:
    """Declare one manifest of the Seldon stack, as a child of its component."""
    return common.declare(ctx, obj, *depends_on, parent=parent, **opts)


def _job(ctx: Context, parent: pulumi.Resource, obj: dict, *depends_on: pulumi.Resource) -> pulumi.CustomResource:
    seconds = dataset.pulumi_timeout_seconds(obj["metadata"]["name"])
    # Same metadata.name: the old Job must go before its replacement can be created.
    return declare(ctx, parent, obj, *depends_on, delete_before_replace=True,
                   custom_timeouts=pulumi.CustomTimeouts(create=f"{seconds}s", update=f"{seconds}s"))


def _lb_url(service: k8s.core.v1.Service, path: str = "") -> pulumi.Output[str]:
    def url(status) -> str:
        host = common.load_balancer_host(status)
        return f"http://{host}{path}" if host else ""
    return service.status.apply(url)


def deploy(ctx: Context) -> SeldonStack:
    s = ctx.settings
    # Every object of the stack under one component: `pulumi stack` groups them, tests find them.
    stack = pulumi.ComponentResource(COMPONENT_TYPE, "seldon")
    layout_files = render.layout_config(s.api_java_heap, s.mysql_config)

    ns = declare(ctx, stack, storage.namespace(s))
    pv = declare(ctx, stack, storage.persistent_volume(s, ctx.infra.data_volume))
    claim = declare(ctx, stack, storage.claim(s), ns, pv)
    scripts = declare(ctx, stack, storage.config_map(s, c.SCRIPTS_CONFIGMAP, render.scripts_config()), ns)
    layout_cm = declare(ctx, stack, storage.config_map(s, c.LAYOUT_CONFIGMAP, layout_files), ns)
    password = random.RandomPassword(c.GRAFANA_SECRET, length=24, special=False,
                                     opts=pulumi.ResourceOptions(parent=stack))
    secret = declare(ctx, stack, c.grafana_secret(s, password.result), ns)
    layout = _job(ctx, stack, dataset.layout(s, layout_files), claim, scripts, layout_cm)

    # --- MySQL
    if s.mysql_storage == "ssd":
        ssd = [declare(ctx, stack, c.gp3_storage_class(s, pulumi.get_stack())), scripts, layout_cm]
        mysql_storage = [declare(ctx, stack, c.mysql_claim(s), ns, *ssd), *ssd]
    else:
        # Read replicas need their own volumes: settings allow them only with ssd.
        ssd, mysql_storage = [], [layout]
    mysql = declare(ctx, stack, c.mysql(s, layout_files), *mysql_storage)
    mysql_svc = declare(ctx, stack, c.service(s, "mysql", "mysql", [c.port("mysql", 3306)]), mysql)
    databases = [mysql_svc]
    if s.mysql_read_replicas:
        readers = declare(ctx, stack, c.mysql_read(s, layout_files), mysql_svc, *ssd)
        databases.append(declare(ctx, stack, c.service(s, "mysql-read", "mysql-read", [c.port("mysql", 3306)]), readers))

    # --- caches and coordination
    caches = []
    for n in (1, 2):
        cache = declare(ctx, stack, c.memcached(s, n), ns)
        caches.append(declare(ctx, stack, c.service(s, f"memcached{n}", f"memcached{n}", [c.port("memcached", 11211)]), cache))
    zookeepers = []
    for n in c.ZOOKEEPERS:
        # Servers and their Services side by side: the quorum needs the names, the names the pods.
        zookeepers.append(declare(ctx, stack, c.zookeeper_service(s, n), ns))
        zookeepers.append(declare(ctx, stack, c.zookeeper(s, n), ns))
    declare(ctx, stack, c.seldon_control(s), layout, secret)

    # --- logs and analytics pipeline
    kafka = declare(ctx, stack, c.kafka(s), *zookeepers)
    kafka_svc = declare(ctx, stack, c.kafka_service(s), kafka)
    td_agent = declare(ctx, stack, c.td_agent_server(s), layout, kafka_svc)
    td_agent_svc = declare(ctx, stack, c.td_agent_service(s), td_agent)
    monitoring = declare(ctx, stack, c.influxdb_grafana(s), layout, secret)
    influx_svc = declare(ctx, stack, c.influxdb_service(s), monitoring)
    grafana_svc = declare(ctx, stack, c.grafana_service(s), monitoring)
    monitoring_setup = _job(ctx, stack, dataset.monitoring(s), influx_svc, grafana_svc, scripts)
    for kind in ("impressions", "predictions"):
        declare(ctx, stack, c.kafka_stream(s, kind), kafka_svc, monitoring_setup)

    # --- Spark
    spark_master = declare(ctx, stack, c.spark_master(s), layout)
    spark_svcs = [declare(ctx, stack, svc, spark_master) for svc in c.spark_master_services(s)]
    spark_workers = declare(ctx, stack, c.spark_worker(s), *spark_svcs)

    # --- Seldon configuration, then the API
    # seldon-cli posts the client dashboards at client setup and never checks the answer: the
    # setup and import Jobs start once monitoring-setup has seen Grafana accept the password.
    setup = _job(ctx, stack, dataset.setup(s), layout, scripts, monitoring_setup, *databases, *caches, *zookeepers)
    api = declare(ctx, stack, c.seldon_server(s, layout_files), setup, td_agent_svc, *databases, *caches)
    api_svc = declare(ctx, stack, c.seldon_server_service(s), api)

    # --- the ML10M model, each step after the one before. The download needs only the data
    # volume and its layout, so it runs beside MySQL and the Seldon setup; the import needs both.
    download = _job(ctx, stack, dataset.download(s), layout, scripts)
    imported = _job(ctx, stack, dataset.import_ml10m(s), download, setup)
    trained = _job(ctx, stack, dataset.train(s), imported, spark_workers, *spark_svcs)
    activated = _job(ctx, stack, dataset.activate(s), trained)
    verified = _job(ctx, stack, dataset.verify(s), activated, api_svc)

    grafana_password = pulumi.Output.secret(password.result)
    outputs = {
        "seldonApiUrl": _lb_url(api_svc),
        "grafanaUrl": _lb_url(grafana_svc, f"/dashboard/db/{ML10M_CLIENT}"),
        "seldonApiInCluster": f"{API_SERVICE}.{s.namespace}.svc.cluster.local:{API_PORT}",
        # The ml10m client's pinned JS consumer key: `analysis pull` probes the API with it.
        "seldonApiKey": ML10M_JS_KEY,
        "namespace": s.namespace,
        "grafanaAdminPassword": grafana_password,
    }
    stack.register_outputs(outputs)
    return SeldonStack(
        namespace=ns, data_claim=claim, api_deployment=api, api_service=api_svc,
        model_verified=verified, ml10m_imported=imported, outputs=outputs, extra_dependencies=(monitoring_setup,),
    )
