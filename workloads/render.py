"""Pure rendering of every file the Seldon stack ships: config files and scripts.

Nothing here declares a resource, so the tests check the exact text without Pulumi.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Mapping, Sequence


SCRIPTS = pathlib.Path(__file__).resolve().parent / "scripts"

# The seed's JDBC options (seldon-up.sh step 5); the URL lists the primary, then the read hosts.
_JDBC_OPTIONS = (
    "characterEncoding=utf8&useServerPrepStmts=true&logger=com.mysql.jdbc.log.StandardLogger"
    "&roundRobinLoadBalance=true&transformedBitIsBoolean=true&rewriteBatchedStatements=true"
)


def settings_sh(java_heap: str) -> str:
    """/seldon-data/server/settings.sh, sourced by seldon-server's start-server.sh.

    start-server.sh sets XMS_MEMORY=${XMX_MEMORY} (2530M) *before* sourcing this file and passes
    both -Xmx and -Xms, so a heap below 2530M set through XMX_MEMORY alone would stop the JVM
    ("Incompatible minimum and maximum heap sizes"): the initial heap is set to the same size.
    """
    return (
        "# Rendered by seldon-bench (apiJavaHeap); sourced by /home/seldon/start-server.sh.\n"
        f"XMX_MEMORY={java_heap}\n"
        f"XMS_MEMORY={java_heap}\n"
    )


def seldon_cnf(options: Mapping[str, str]) -> str:
    """/seldon-data/mysql/seldon.cnf, `!include`d by the image's my.cnf after its defaults.

    Empty `options` gives an empty [mysqld] section: the image defaults stay, as in the seed.
    """
    lines = ["# Rendered by seldon-bench (mysqlConfig); included by /etc/mysql/conf.d/seldon.cnf.",
             "[mysqld]"]
    lines += [f"{key}={value}" for key, value in sorted(options.items())]
    return "\n".join(lines) + "\n"


def mysqld_args(read_replicas: int) -> list[str]:
    """Extra mysqld flags of the primary: binary logging only when replicas read it."""
    if read_replicas == 0:
        return []
    return ["--server-id=1", "--log-bin=mysql-bin", "--binlog-format=ROW"]


def replica_mysqld_args() -> list[str]:
    """mysqld flags of a read replica (its server id comes from mysql-config.sh)."""
    # Account statements and the image's own init would clash with the replica's own init.
    return ["--relay-log=mysql-relay", "--read-only=1", "--replicate-wild-ignore-table=mysql.%"]


def jdbc_url(read_hosts: Sequence[str] = ()) -> str:
    """The JDBC URL `seldon-cli db --action setup` stores: primary first, then the readers."""
    hosts = ["mysql:3306", *(f"{h}:3306" for h in read_hosts)] if read_hosts else ["mysql:3306", "mysql:3306"]
    return f"jdbc:mysql:replication://{','.join(hosts)}/?{_JDBC_OPTIONS}"


def attr_json() -> str:
    """The ml10m item attributes (docker/examples/ml10m/attr.json): movies with a title."""
    return json.dumps({
        "types": [{"type_attrs": [{"name": "title", "value_type": "string"}],
                   "type_id": 1, "type_name": "Movies"}],
    }, indent=2) + "\n"


def rec_alg_json() -> str:
    """The runtime scorer of the seed (create_ml10m_recommender.sh step 5)."""
    return json.dumps({
        "defaultStrategy": {
            "algorithms": [{
                "config": [{"name": "io.seldon.algorithm.general.numrecentactionstouse", "value": "1"}],
                "filters": [],
                "includers": [],
                "name": "itemSimilarityRecommender",
            }],
            "combiner": "firstSuccessfulCombiner",
            "diversityLevel": 3,
        },
        "recTagToStrategy": {},
    }, indent=2) + "\n"


# Scripts shipped in the `seldon-scripts` ConfigMap, mounted at /scripts in Jobs and sidecars.
# (scripts/iago-start.sh goes with the load test's own ConfigMap, workloads/iago.py.)
SCRIPT_FILES = (
    "layout.sh", "setup.sh", "download-ml10m.sh", "import-ml10m.sh", "train-ml10m.sh",
    "activate-ml10m.sh", "check-model-table.sh", "mysql-config.sh", "mysql-replica.sh",
    "spark-master.sh", "verify_recommendations.py", "monitoring_setup.py",
)


def script(name: str) -> str:
    return (SCRIPTS / name).read_text()


def scripts_config() -> dict[str, str]:
    """Contents of the `seldon-scripts` ConfigMap: the static scripts and the JSON they read."""
    files = {name: script(name) for name in SCRIPT_FILES}
    files["attr.json"] = attr_json()
    files["rec_alg.json"] = rec_alg_json()
    return files


def layout_config(java_heap: str, mysql_options: Mapping[str, str]) -> dict[str, str]:
    """Contents of the `seldon-data-layout` ConfigMap: the files the operator used to hand-edit."""
    return {"settings.sh": settings_sh(java_heap), "seldon.cnf": seldon_cnf(mysql_options)}


def checksum(*texts: str) -> str:
    """Short content hash for a pod-template annotation: a changed file restarts its readers."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]
