"""The stack outputs are what the user and `python -m analysis` read after `pulumi up`."""


# Documented in the README's "Stack outputs" table.
EXPECTED = {
    "clusterName", "kubeconfig", "region", "nodeZone", "kubernetesVersion", "nodeAmiType",
    "seldonNodeGroup", "loadgenNodeGroup", "seldonInstanceType", "loadgenInstanceType",
    "glusterInstanceType", "vpcId", "glusterAddresses", "dataVolume",
    "namespace", "seldonApiUrl", "seldonApiInCluster", "grafanaUrl", "grafanaAdminPassword",
    "iagoAdminUrl", "iagoAdminUrls", "iagoGraphUrl", "replayPath", "loadtestRun", "loadtestStatsDir",
    "requestRate", "apiReplicas", "loadtestMinutes", "replayUsers", "replayItems", "replayCalls",
    "imageRegistry", "seldonApiKey",
}


def test_bench_exports_every_documented_output(bench):
    assert set(bench.outputs) == EXPECTED, (
        f"missing: {sorted(EXPECTED - set(bench.outputs))}, undocumented: {sorted(set(bench.outputs) - EXPECTED)}")


def test_credentials_are_secret_outputs(bench):
    assert {"kubeconfig", "grafanaAdminPassword"} <= bench.secret_outputs


def test_analysis_can_find_the_asked_rate(bench):
    # The iago URLs are checked with the load test (test_loadtest), the Seldon ones with the stack.
    assert bench.outputs["requestRate"] == 100


def test_readme_documents_every_output():
    import pathlib
    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    missing = [k for k in sorted(EXPECTED) if f"`{k}`" not in readme]
    assert not missing, f"README does not document these stack outputs: {missing}"


def test_dedicated_mysql_nodes_add_their_group_outputs(program):
    outputs = program({"mysqlDedicatedNodes": "true"}).outputs
    assert {"mysqlNodeGroup", "mysqlInstanceType"} <= set(outputs)


def test_aws_outputs_name_the_cluster_and_the_data_volume(bench):
    from infra.network import cluster_name

    out = bench.outputs
    assert out["clusterName"] == cluster_name("bench") == "seldon-bench-bench"
    assert out["region"] == "eu-west-1"
    assert out["dataVolume"]["path"] == "/gv0" and out["dataVolume"]["protocol"] == "nfs"
    assert len(out["glusterAddresses"]) == 2, f"glusterAddresses {out['glusterAddresses']}"
    assert out["dataVolume"]["server"] in out["glusterAddresses"], "pods must mount gv0 from a GlusterFS server"
