"""The Seldon stack as the program declares it under mocks (issue 4).

Each test states one rule of the stack: pinned images, the API behind a restricted
LoadBalancer, the shared RWX claim, node placement, the awaited Job chain, and which objects
each optimisation key changes.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from fakebin import fake_binaries
from infra.offline import TEST_CIDR, is_secret
from infra.roles import LOADGEN, MYSQL, SELDON
from workloads import dataset
from workloads.common import DATA_CLAIM, DATA_MOUNT, ML10M_JS_KEY
from infra.settings import java_heap_bytes, memory_bytes
from workloads.images import image
from workloads.seldon import COMPONENT_TYPE

NS = "seldon"

# Deployment -> the pinned image of each of its containers.
COMPONENT_IMAGES = {
    "mysql": {"mysql": "mysql"},
    "memcached1": {"memcached": "memcached"},
    "memcached2": {"memcached": "memcached"},
    "zookeeper1": {"server": "zookeeper"},
    "zookeeper2": {"server": "zookeeper"},
    "zookeeper3": {"server": "zookeeper"},
    "seldon-control": {"seldon-shell": "seldon-control"},
    "kafka": {"kafka": "kafka"},
    "td-agent-server": {"td-agent-server": "td-agent-server"},
    "influxdb-grafana": {"influxdb": "influxdb", "grafana": "grafana"},
    "spark-master": {"spark-master": "seldon-control"},
    "spark-worker": {"spark-worker": "seldon-control"},
    "kafka-stream-impressions": {"kafka-stream": "seldon-stream"},
    "kafka-stream-predictions": {"kafka-stream": "seldon-stream"},
    "seldon-server": {"seldon-server": "seldon-server", "td-agent": "td-agent-node",
                      "seldon-server-maintenance": "seldon-server-maintenance"},
}
SERVICES = {
    "mysql": "mysql", "memcached1": "memcached1", "memcached2": "memcached2",
    "zookeeper-1": "zookeeper1", "zookeeper-2": "zookeeper2", "zookeeper-3": "zookeeper3",
    "kafka-service": "kafka", "td-agent-server": "td-agent-server",
    "monitoring-influxdb": "influxdb-grafana", "monitoring-grafana": "influxdb-grafana",
    "spark-master": "spark-master", "spark-webui": "spark-master", "seldon-server": "seldon-server",
}
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "StorageClass"}
WORKLOADS = ("Deployment", "StatefulSet", "Job")


def within(prog, component) -> list:
    """Every resource under `component`: its children, theirs, and so on (the areas of the stack
    are components of their own)."""
    found, todo = [], [component.urn]
    while todo:
        urn = todo.pop()
        children = [r for r in prog.resources if r.parent == urn]
        found += children
        todo += [c.urn for c in children]
    return found


def stack_objects(prog):
    """The Kubernetes objects of the Seldon stack (under its component), not the load test's."""
    (component,) = [r for r in prog.resources if r.typ == COMPONENT_TYPE]
    k8s = {o.urn for o in prog.k8s_objects()}
    return [o for o in within(prog, component) if o.urn in k8s]


AREAS = {"DataVolume": "data", "Monitoring": "monitoring", "MySql": "mysql", "Streams": "streams",
         "Spark": "spark", "Api": "api", "Ml10m": "ml10m"}


def test_pulumi_up_shows_the_seldon_stack_as_a_tree_of_its_areas(bench):
    (stack,) = bench.of_type(COMPONENT_TYPE)
    areas = {r.urn: r for r in bench.resources if r.parent == stack.urn}
    assert {(r.typ, r.name) for r in areas.values()} == \
        {(f"seldon-bench:workloads:{t}", n) for t, n in AREAS.items()}, "the stack's children are its areas"
    loose = [f"{o.typ} {o.name}" for o in stack_objects(bench) if o.parent not in areas]
    assert not loose, f"objects of the Seldon stack outside any area: {loose}"
    placed = {o.metadata.get("name"): areas[o.parent].name for o in stack_objects(bench)}
    assert (placed["mysql"], placed["kafka"], placed["seldon-server"], placed["ml10m-verify"]) == \
        ("mysql", "streams", "api", "ml10m")


def of_kind(prog, kind):
    return [o for o in stack_objects(prog) if o.kind == kind]


def one(prog, kind, name):
    found = [o for o in of_kind(prog, kind) if o.metadata.get("name") == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod(obj) -> dict:
    return obj.inputs["spec"]["template"]["spec"]


def containers(obj) -> dict:
    spec = pod(obj)
    return {c["name"]: c for c in [*spec.get("initContainers", []), *spec["containers"]]}


def workloads(prog):
    return [o for kind in WORKLOADS for o in of_kind(prog, kind)]


def key(obj) -> str:
    return f"{obj.kind}/{obj.metadata['name']}"


# ------------------------------------------------------------------ components and images


@pytest.mark.parametrize("name", sorted(COMPONENT_IMAGES))
def test_component_exists_with_its_pinned_image(bench, name):
    deployment = one(bench, "Deployment", name)
    got = {n: c["image"] for n, c in containers(deployment).items() if n in COMPONENT_IMAGES[name]}
    # Through the stack's ECR pull-through cache (tests/test_image_cache.py checks the cache itself).
    want = {n: image(img, bench.outputs["imageRegistry"]) for n, img in COMPONENT_IMAGES[name].items()}
    assert got == want, f"Deployment {name} does not run the pinned images: {got}"


def test_every_container_uses_a_pinned_image(bench):
    for obj in workloads(bench):
        for name, c in containers(obj).items():
            assert ":" in c["image"] and not c["image"].endswith(":latest"), \
                f"{key(obj)} container {name} image {c['image']} is not pinned"


@pytest.mark.parametrize("service,target", sorted(SERVICES.items()))
def test_service_has_the_hard_coded_name_and_selects_its_pods(bench, service, target):
    svc = one(bench, "Service", service)
    labels = one(bench, "Deployment", target).inputs["spec"]["template"]["metadata"]["labels"]
    selector = svc.inputs["spec"]["selector"]
    assert selector and all(labels.get(k) == v for k, v in selector.items()), \
        f"Service {service} selector {selector} matches no pod of {target} ({labels})"


def test_deployment_selectors_match_their_templates(bench):
    for obj in of_kind(bench, "Deployment") + of_kind(bench, "StatefulSet"):
        sel = obj.inputs["spec"]["selector"]["matchLabels"]
        labels = obj.inputs["spec"]["template"]["metadata"]["labels"]
        assert all(labels.get(k) == v for k, v in sel.items()), f"{key(obj)} selector {sel} ≠ template labels"


def test_api_runs_two_replicas_behind_a_restricted_load_balancer(bench):
    api = one(bench, "Deployment", "seldon-server")
    assert api.inputs["spec"]["replicas"] == 2, "seldon-server must run apiReplicas=2 replicas"
    svc = one(bench, "Service", "seldon-server").inputs
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["spec"]["loadBalancerSourceRanges"] == [TEST_CIDR], "the API LoadBalancer must allow only allowedCidrs"
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in svc["spec"]["ports"]}
    assert ports["api"] == (80, 8080), "seldon-cli and iago call seldon-server on port 80"
    server = containers(api)["seldon-server"]
    # The seed's request and no limit: a fixed heap beside 500 Tomcat threads is not OOM-killed.
    assert server["resources"] == {"requests": {"memory": "3Gi"}}
    assert server["readinessProbe"]["httpGet"] == {"path": "/", "port": 8080}


def test_api_spreads_over_the_seldon_nodes(bench):
    spec = pod(one(bench, "Deployment", "seldon-server"))
    (spread,) = spec["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname" and spread["maxSkew"] == 1
    assert spread["whenUnsatisfiable"] == "DoNotSchedule"
    assert spread["labelSelector"]["matchLabels"] == one(bench, "Deployment", "seldon-server").inputs["spec"]["selector"]["matchLabels"]


def test_grafana_is_exposed_restricted_with_the_generated_secret(bench):
    svc = one(bench, "Service", "monitoring-grafana").inputs["spec"]
    assert svc["type"] == "LoadBalancer" and svc["loadBalancerSourceRanges"] == [TEST_CIDR]
    assert one(bench, "Service", "monitoring-influxdb").inputs["spec"]["type"] == "ClusterIP"
    secret = one(bench, "Secret", "grafana-admin-password")
    data = secret.inputs["stringData"]
    assert is_secret(data), "the password must reach the Secret as a Pulumi secret"
    assert set(data["value"]) == {"grafana-admin-password.txt"}
    assert bench.one("random:index/randomPassword:RandomPassword").inputs["length"] >= 16
    grafana = containers(one(bench, "Deployment", "influxdb-grafana"))["grafana"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in grafana["env"] if "valueFrom" in e}
    assert refs["GF_SECURITY_ADMIN_PASSWORD"] == {"name": "grafana-admin-password", "key": "grafana-admin-password.txt"}


def test_zookeeper_waits_for_quorum_and_peers_find_each_other(bench):
    for n in (1, 2, 3):
        server = containers(one(bench, "Deployment", f"zookeeper{n}"))["server"]
        assert "Mode: (leader|follower)" in " ".join(server["readinessProbe"]["exec"]["command"])
        assert {"name": "SERVER_ID", "value": str(n)} in server["env"]
        svc = one(bench, "Service", f"zookeeper-{n}").inputs["spec"]
        assert svc["publishNotReadyAddresses"] is True, f"zookeeper-{n} must route to not-ready peers"


def test_long_running_components_have_readiness_probes(bench):
    for name in ("mysql", "memcached1", "memcached2", "kafka", "td-agent-server", "spark-master", "spark-worker",
                 "seldon-server"):
        first = next(iter(pod(one(bench, "Deployment", name))["containers"]))
        assert "readinessProbe" in first, f"Deployment {name} has no readiness probe; pulumi would not wait for it"


def test_memcached_caches_as_configured(bench):
    """The official image (seldonio/memcached:0.1 has a schema-1 manifest containerd 2 refuses):
    its entrypoint runs memcached with the seed's flags, so only `args` are given."""
    for n in (1, 2):
        c = containers(one(bench, "Deployment", f"memcached{n}"))["memcached"]
        assert "command" not in c, f"memcached{n} must keep the official image's entrypoint"
        assert c["args"] == ["-m", "512"] and c["resources"] == {"requests": {"memory": "260Mi"}}
        assert c["image"].startswith("memcached:") or "/library/memcached:" in c["image"], c["image"]


def test_spark_runs_from_seldon_control_as_the_old_start_scripts_did(bench, tmp_path):
    """gcr.io is gone: Spark 1.5.2 master and workers run from seldon-control's /opt/spark, the
    same Spark the train Job submits with, in the foreground, on the same ports and Services."""
    master = one(bench, "Deployment", "spark-master")
    worker = one(bench, "Deployment", "spark-worker")
    m, w = containers(master)["spark-master"], containers(worker)["spark-worker"]
    control = containers(one(bench, "Deployment", "seldon-control"))["seldon-shell"]["image"]
    assert m["image"] == w["image"] == control, "Spark daemons must run the seldon-control image"
    # The master's start script as the pod mounts it, run with the container's environment.
    assert m["command"][0] == "bash" and len(m["command"]) == 2, m["command"]
    mounts = {v["mountPath"]: v["name"] for v in m["volumeMounts"]}
    script_dir, script = m["command"][1].rsplit("/", 1)
    (volume,) = [v for v in pod(master)["volumes"] if v["name"] == mounts[script_dir]]
    (scripts,) = [o for o in of_kind(bench, "ConfigMap") if o.metadata["name"] == volume["configMap"]["name"]]
    (tmp_path / "start.sh").write_text(scripts.inputs["data"][script])
    bin_dir = fake_binaries(tmp_path / "bin", {"hostname": '[ "$1" = -i ] && echo 10.1.2.3',
                                               "spark-class": 'echo "$@" > "$CALLS"'}, shell="/bin/sh")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    env = {e["name"]: e["value"] for e in m["env"] if "value" in e}
    env.update(PATH=f"{bin_dir}:/usr/bin:/bin", SPARK_CLASS=str(bin_dir / "spark-class"), HOSTS_FILE=str(hosts),
               CALLS=str(tmp_path / "calls"))
    done = subprocess.run(["bash", str(tmp_path / "start.sh")], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert next(e["value"] for e in m["env"] if e["name"] == "SPARK_CLASS") == "/opt/spark/bin/spark-class"
    assert (tmp_path / "calls").read_text().split() == [
        "org.apache.spark.deploy.master.Master", "--ip", "spark-master", "--port", "7077", "--webui-port", "8080"], \
        "the master must run spark-class in the foreground on the seed's ports"
    assert hosts.read_text().splitlines()[-1] == "10.1.2.3 spark-master", \
        "the master must bind the name workers address (Akka checks it) to its own IP"
    assert w["command"] == ["/opt/spark/bin/spark-class", "org.apache.spark.deploy.worker.Worker",
                            "spark://spark-master:7077", "--webui-port", "8081"]
    for obj, c in ((master, m), (worker, w)):
        assert pod(obj)["enableServiceLinks"] is False, \
            f"{obj.name}: SPARK_MASTER_PORT=tcp://... from the Service links breaks Spark's own setting"
        env = {e["name"]: e.get("value") for e in c["env"]}
        heap = env["SPARK_DAEMON_MEMORY"]
        assert heap == "512m", heap
        limit = memory_bytes(c["resources"]["limits"]["memory"])
        assert java_heap_bytes(heap.upper()) + 256 * 2**20 <= limit, f"{obj.name}: daemon heap fills its limit"
    assert {p["containerPort"] for p in m["ports"]} == {7077, 8080}
    assert {p["port"] for p in one(bench, "Service", "spark-master").inputs["spec"]["ports"]} == {7077}


def test_no_image_comes_from_a_dead_registry(bench):
    """Every pinned repository is a Docker Hub one: gcr.io (Container Registry) shut down in 2025."""
    from workloads.images import IMAGES

    hosts = {repo.split("/")[0] for repo, _ in IMAGES.values() if "." in repo.split("/")[0]}
    assert not hosts, f"images pinned on other registries: {hosts}"
    for obj in bench.k8s_objects():
        spec = (obj.inputs.get("spec") or {}).get("template", {}).get("spec") or {}
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            assert "gcr.io" not in c["image"] and "seldonio/memcached" not in c["image"], f"{obj.name}: {c['image']}"


def test_kafka_does_not_turn_service_links_into_broker_properties(bench):
    assert pod(one(bench, "Deployment", "kafka"))["enableServiceLinks"] is False


# ------------------------------------------------------------------ storage


def test_data_volume_is_the_gluster_nfs_export_bound_to_the_claim(bench):
    (pv,) = of_kind(bench, "PersistentVolume")
    spec = pv.inputs["spec"]
    assert spec["nfs"]["path"] == "/gv0", f"the data PV exports {spec['nfs']['path']}, not the Gluster volume gv0"
    assert re.fullmatch(r"[0-9]+(\.[0-9]+){3}", spec["nfs"]["server"]), f"NFS server {spec['nfs']['server']!r} is no address"
    assert spec["accessModes"] == ["ReadWriteMany"] and spec["storageClassName"] == ""
    assert spec["persistentVolumeReclaimPolicy"] == "Retain" and "nfsvers=4.1" in spec["mountOptions"]
    claim = one(bench, "PersistentVolumeClaim", DATA_CLAIM).inputs["spec"]
    assert claim["accessModes"] == ["ReadWriteMany"] and claim["storageClassName"] == ""
    assert claim["volumeName"] == pv.metadata["name"], "the claim must be pinned to the data PV"
    assert spec["claimRef"] == {"namespace": NS, "name": DATA_CLAIM}


def _data_claims(obj) -> set:
    """Claims behind every /seldon-data mount of the pod."""
    spec = pod(obj)
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    claims = set()
    for c in containers(obj).values():
        for m in c.get("volumeMounts", []):
            if m["mountPath"] == DATA_MOUNT:
                v = volumes.get(m["name"])
                if v is None:  # a StatefulSet's volumeClaimTemplate
                    claims.add(f"template:{m['name']}")
                else:
                    claims.add(v["persistentVolumeClaim"]["claimName"])
    return claims


def test_every_pod_mounting_seldon_data_uses_the_rwx_claim(bench):
    mounting = [o for o in workloads(bench) if _data_claims(o)]
    assert {"Deployment/mysql", "Deployment/seldon-server", "Deployment/seldon-control", "Deployment/spark-worker",
            "Job/ml10m-import", "Job/ml10m-train"} <= {key(o) for o in mounting}
    for obj in mounting:
        assert _data_claims(obj) == {DATA_CLAIM}, f"{key(obj)} mounts /seldon-data from {_data_claims(obj)}, not {DATA_CLAIM}"


def test_mysql_on_ssd_has_its_own_gp3_volume(program):
    prog = program({"mysqlStorage": "ssd", "mysqlReadReplicas": "2", "seldonNodeCount": "4"})
    (sc,) = of_kind(prog, "StorageClass")
    assert sc.inputs["provisioner"] == "ebs.csi.aws.com"
    # Tagged like the stack's AWS resources, so a volume a destroy left behind can be found.
    assert sc.inputs["parameters"] == {"type": "gp3", "encrypted": "true", "tagSpecification_1": "Project=seldon-bench",
                                       "tagSpecification_2": "Stack=bench"}, sc.inputs["parameters"]
    claim = one(prog, "PersistentVolumeClaim", "mysql-data").inputs["spec"]
    assert claim["storageClassName"] == sc.metadata["name"] and claim["resources"]["requests"]["storage"] == "100Gi"
    assert _data_claims(one(prog, "Deployment", "mysql")) == {"mysql-data"}
    assert _data_claims(one(prog, "StatefulSet", "mysql-read")) == {"template:mysql-data"}
    for obj in workloads(prog):
        if obj.metadata["name"] not in ("mysql", "mysql-read") and _data_claims(obj):
            assert _data_claims(obj) == {DATA_CLAIM}, f"{key(obj)} must keep the shared claim"
    init = containers(one(prog, "Deployment", "mysql"))["install-config"]
    assert init["command"] == ["bash", "/scripts/mysql-config.sh"], "seldon.cnf must reach mysql's own volume"


def test_read_replica_volumes_go_with_the_statefulset(program):
    """StatefulSet claims outlive their StatefulSet by default, and with them their EBS volumes."""
    # Two read replicas need a fourth Seldon node (the capacity model refuses them on three).
    readers = one(program({"mysqlStorage": "ssd", "mysqlReadReplicas": "2", "seldonNodeCount": "4"}),
                  "StatefulSet", "mysql-read")
    assert readers.inputs["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Delete", "whenScaled": "Delete"}


def test_read_replicas_replicate_and_the_api_reads_from_them(program):
    prog = program({"mysqlStorage": "ssd", "mysqlReadReplicas": "2", "seldonNodeCount": "4"})
    readers = one(prog, "StatefulSet", "mysql-read")
    assert readers.inputs["spec"]["replicas"] == 2
    assert "replication" in containers(readers)
    assert "--log-bin=mysql-bin" in containers(one(prog, "Deployment", "mysql"))["mysql"]["args"]
    env = {e["name"]: e.get("value") for e in containers(one(prog, "Job", "seldon-setup"))["seldon-setup"]["env"]}
    assert "mysql:3306,mysql-read:3306" in env["DB_JDBC"], "seldon-server must be told about the read replicas"
    assert prog.depends_on(readers, one(prog, "Service", "mysql")), "replicas need the primary first"


def test_mysql_strategy_is_recreate(bench):
    assert one(bench, "Deployment", "mysql").inputs["spec"]["strategy"] == {"type": "Recreate"}, \
        "two MySQL pods must never share a datadir"


# ------------------------------------------------------------------ placement


def test_every_seldon_pod_lands_on_the_seldon_nodes_and_never_tolerates_iago(bench):
    iago = LOADGEN.taint
    for obj in workloads(bench):
        spec = pod(obj)
        assert spec["nodeSelector"] == SELDON.node_selector, f"{key(obj)} is not pinned to the Seldon nodes"
        for t in spec.get("tolerations", []):
            assert t.get("key") != iago.key or t.get("value") != iago.value, f"{key(obj)} tolerates the iago taint"


def test_dedicated_nodes_move_only_mysql(program):
    prog = program({"mysqlDedicatedNodes": "true"})
    spec = pod(one(prog, "Deployment", "mysql"))
    assert spec["nodeSelector"] == MYSQL.node_selector and spec["tolerations"] == MYSQL.tolerations
    for obj in workloads(prog):
        if obj.metadata["name"] != "mysql":
            assert pod(obj)["nodeSelector"] == SELDON.node_selector, f"{key(obj)} left the Seldon nodes"


# ------------------------------------------------------------------ Jobs


def test_ml10m_jobs_run_in_order(bench):
    jobs = [one(bench, "Job", name) for name in dataset.ML10M_CHAIN]
    for before, after in zip(jobs, jobs[1:]):
        assert bench.depends_on(after, before), f"Job {key(after)} does not wait for {key(before)}"
        assert not bench.depends_on(before, after), f"Job {key(before)} waits for its successor {key(after)}"


def test_download_starts_with_the_data_volume_not_after_mysql_or_setup(bench):
    """The download only writes files to the volume: it runs beside MySQL and the Seldon setup."""
    download, imported = one(bench, "Job", "ml10m-download"), one(bench, "Job", "ml10m-import")
    assert bench.depends_on(download, one(bench, "Job", "seldon-data-layout")), "the download needs the laid-out volume"
    assert bench.depends_on(download, one(bench, "PersistentVolumeClaim", DATA_CLAIM)), "the download needs the claim"
    for kind, name in (("Job", "seldon-setup"), ("Deployment", "mysql"), ("Service", "mysql"),
                       ("Deployment", "zookeeper1"), ("Deployment", "memcached1")):
        assert not bench.depends_on(download, one(bench, kind, name)), f"ml10m-download waits for {kind}/{name}"
    assert bench.depends_on(imported, one(bench, "Job", "seldon-setup")), "ml10m-import needs the Seldon setup"
    assert bench.depends_on(imported, download), "ml10m-import needs the downloaded CSVs"


def test_verification_waits_for_training_and_the_api(bench):
    verify = one(bench, "Job", "ml10m-verify")
    assert bench.depends_on(verify, one(bench, "Job", "ml10m-train"))
    assert bench.depends_on(verify, one(bench, "Service", "seldon-server"))
    assert bench.depends_on(one(bench, "Job", "ml10m-train"), one(bench, "Deployment", "spark-worker"))
    api = containers(verify)["check-recommendations"]
    env = {e["name"]: e["value"] for e in api["env"]}
    assert (env["USER_ID"], env["ITEM_ID"], env["LIMIT"], env["JS_KEY"]) == ("625", "50", "4", ML10M_JS_KEY)
    assert containers(verify)["check-model-table"]["command"] == ["bash", "/scripts/check-model-table.sh"]


def test_spark_driver_and_workers_advertise_their_pod_ip(bench):
    # Spark 1.5 otherwise advertises the reverse lookup of its IP, the pod name, which other pods
    # cannot resolve: executors would never reach the driver in the train Job.
    pod_ip = {"name": "SPARK_LOCAL_HOSTNAME", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
    for obj, container in ((one(bench, "Job", "ml10m-train"), "ml10m-train"),
                           (one(bench, "Deployment", "spark-worker"), "spark-worker")):
        assert pod_ip in containers(obj)[container].get("env", []), \
            f"{key(obj)}: Spark must advertise the pod IP (SPARK_LOCAL_HOSTNAME from status.podIP)"
    # The master is reached as spark-master, the name its start script binds to.
    master_env = containers(one(bench, "Deployment", "spark-master"))["spark-master"].get("env", [])
    assert "SPARK_LOCAL_HOSTNAME" not in {e["name"] for e in master_env}, \
        "Deployment/spark-master must keep advertising spark-master, the address workers and drivers use"


def test_setup_waits_for_the_stores_and_the_api_for_setup(bench):
    setup = one(bench, "Job", "seldon-setup")
    for kind, name in (("Service", "mysql"), ("Service", "memcached1"), ("Service", "memcached2"),
                       ("Deployment", "zookeeper3"), ("Job", "seldon-data-layout")):
        assert bench.depends_on(setup, one(bench, kind, name)), f"seldon-setup does not wait for {kind}/{name}"
    assert bench.depends_on(one(bench, "Deployment", "seldon-server"), setup)
    assert bench.depends_on(one(bench, "Deployment", "mysql"), one(bench, "Job", "seldon-data-layout")), \
        "mysql must start after its seldon.cnf is on the volume"


def test_every_load_balancer_service_waits_long_enough_for_its_elb_to_go(program):
    """The service controller deletes a Classic ELB before the Service goes; that can take many minutes."""
    for prog in (program(), program({"mysqlStorage": "ssd", "mysqlReadReplicas": "1"})):
        balancers = [s for s in prog.k8s("Service") if s.inputs["spec"].get("type") == "LoadBalancer"]
        assert len(balancers) >= 3, [s.name for s in balancers]
        for svc in balancers:
            delete = svc.custom_timeouts.get("delete", "")
            assert delete.endswith("m") and int(delete[:-1]) >= 20, (
                f"Service {svc.metadata['name']} (LoadBalancer) has delete timeout {delete or 'the default'}, not >= 20m")
        for svc in prog.k8s("Service"):
            if svc.inputs["spec"].get("type") != "LoadBalancer":
                assert "delete" not in svc.custom_timeouts, f"Service {svc.metadata['name']} got a load balancer's timeout"


def test_jobs_fail_fast_with_a_deadline_and_a_pulumi_timeout(bench):
    for job in of_kind(bench, "Job"):
        name = job.metadata["name"]
        spec = job.inputs["spec"]
        assert spec["backoffLimit"] == 0, f"Job {name} retries a non-idempotent script"
        assert spec["activeDeadlineSeconds"] > 0 and pod(job)["restartPolicy"] == "Never"
        timeout = int(job.metadata["annotations"]["pulumi.com/timeoutSeconds"])
        assert timeout > spec["activeDeadlineSeconds"], f"pulumi must outwait Job {name}'s own deadline"


def test_a_changed_job_is_deleted_before_its_replacement(bench):
    for job in of_kind(bench, "Job"):
        assert job.delete_before_replace, \
            f"Job {job.metadata['name']} keeps its name, so a replacement must delete the old Job first"


def test_jobs_run_their_scripts_from_the_scripts_config_map(bench):
    scripts = one(bench, "ConfigMap", "seldon-scripts").inputs["data"]
    for job in of_kind(bench, "Job"):
        for name, c in containers(job).items():
            script = c["command"][-1].removeprefix("/scripts/")
            assert script in scripts, f"Job {job.metadata['name']} container {name} runs {script}, not shipped"


def test_layout_files_come_from_the_settings(program):
    prog = program({"apiJavaHeap": "2400M", "mysqlConfig": '{"innodb_buffer_pool_size": "2G"}'})
    data = one(prog, "ConfigMap", "seldon-data-layout").inputs["data"]
    assert "XMX_MEMORY=2400M" in data["settings.sh"]
    assert "innodb_buffer_pool_size=2G" in data["seldon.cnf"]


# ------------------------------------------------------------------ every object


def test_every_object_is_labelled_named_namespaced_and_uses_the_cluster_provider(bench):
    provider = bench.one("pulumi:providers:kubernetes")
    objects = stack_objects(bench)
    assert len(objects) > 40
    for obj in objects:
        md = obj.metadata
        assert md.get("name"), f"{obj.urn} has no explicit metadata.name"
        assert md["labels"]["app.kubernetes.io/part-of"] == "seldon-bench" and md["labels"]["app.kubernetes.io/name"]
        if obj.kind not in CLUSTER_SCOPED:
            assert md.get("namespace") == NS, f"{key(obj)} is not in namespace {NS}"
        assert obj.provider.startswith(provider.urn), f"{key(obj)} does not use the cluster's provider"


def test_stack_outputs(bench):
    out = bench.outputs
    assert out["seldonApiUrl"].startswith("http://") and out["seldonApiUrl"].endswith(".elb.amazonaws.com")
    assert out["grafanaUrl"].startswith("http://") and out["grafanaUrl"].endswith("/dashboard/db/ml10m")
    assert out["seldonApiInCluster"] == "seldon-server.seldon.svc.cluster.local:80"
    assert out["namespace"] == NS


# ------------------------------------------------------------------ optimisation keys


def objects(prog) -> dict:
    return {key(o): o.inputs for o in stack_objects(prog)}


def changed(bench, prog) -> set:
    a, b = objects(bench), objects(prog)
    return {k for k in set(a) | set(b) if a.get(k) != b.get(k)}


@pytest.mark.parametrize("overrides,expected", [
    # Four 3Gi replicas and MySQL need a fourth Seldon node; seldonNodeCount changes no Kubernetes object.
    ({"apiReplicas": "4", "seldonNodeCount": "4"}, {"Deployment/seldon-server"}),
    ({"apiMemory": "4Gi"}, {"Deployment/seldon-server"}),
    ({"apiCpu": "1500m"}, {"Deployment/seldon-server"}),
    ({"apiJavaHeap": "2400M"}, {"ConfigMap/seldon-data-layout", "Job/seldon-data-layout", "Deployment/seldon-server"}),
    ({"mysqlMemory": "4Gi"}, {"Deployment/mysql"}),
    ({"mysqlCpu": "1"}, {"Deployment/mysql"}),
    ({"mysqlConfig": '{"innodb_buffer_pool_size": "2G"}'},
     {"ConfigMap/seldon-data-layout", "Job/seldon-data-layout", "Deployment/mysql"}),
    ({"memcachedMemoryMb": "1024"}, {"Deployment/memcached1", "Deployment/memcached2"}),
    ({"memcachedResourcesMemory": "1Gi"}, {"Deployment/memcached1", "Deployment/memcached2"}),
    ({"mysqlStorage": "ssd"}, {"StorageClass/gp3", "PersistentVolumeClaim/mysql-data", "Deployment/mysql"}),
    ({"mysqlStorage": "ssd", "mysqlReadReplicas": "2", "seldonNodeCount": "4"},
     {"StorageClass/gp3", "PersistentVolumeClaim/mysql-data", "Deployment/mysql", "StatefulSet/mysql-read",
      "Service/mysql-read", "Job/seldon-setup"}),
    ({"mysqlDedicatedNodes": "true"}, {"Deployment/mysql"}),
    ({"sparkWorkerReplicas": "3"}, {"Deployment/spark-worker"}),
    ({"ml10mUrl": "https://bench-data.s3.eu-west-1.amazonaws.com/ml-10m.zip"}, {"Job/ml10m-download"}),
])
def test_optimisation_key_changes_exactly_its_objects(bench, program, overrides, expected):
    got = changed(bench, program(overrides))
    assert got == expected, f"{overrides} changed {sorted(got)}, expected exactly {sorted(expected)}"


def test_download_job_fetches_the_configured_ml10m_url(bench, program):
    def url(prog):
        job = prog.k8s("Job", "ml10m-download")[0]
        env = job.inputs["spec"]["template"]["spec"]["containers"][0]["env"]
        return {e["name"]: e.get("value") for e in env}["ML10M_URL"]
    assert url(bench) == "http://files.grouplens.org/datasets/movielens/ml-10m.zip"
    mirror = "https://bench-data.s3.eu-west-1.amazonaws.com/ml-10m.zip"
    assert url(program({"ml10mUrl": mirror})) == mirror
