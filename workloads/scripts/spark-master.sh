#!/usr/bin/env bash
# The Spark master, started as the gcr.io spark image's start script did: spark-class in the
# foreground, so the pod restarts if the daemon dies.
#
# Akka (Spark 1.5) accepts only messages addressed to the exact host name it is bound to, and the
# workers address $MASTER_HOST: the master binds to that name, pointed at the pod's own IP (the
# Service name resolves to a ClusterIP, which cannot be bound).
set -euo pipefail

: "${SPARK_CLASS:?the spark-class launcher}"
: "${MASTER_HOST:?the name the workers address the master by}"
: "${MASTER_PORT:?}"
: "${WEBUI_PORT:?}"
HOSTS_FILE=${HOSTS_FILE:-/etc/hosts}

ip=$(hostname -i)
echo "$ip $MASTER_HOST" >> "$HOSTS_FILE"
grep -q " $MASTER_HOST\$" "$HOSTS_FILE"
exec "$SPARK_CLASS" org.apache.spark.deploy.master.Master \
    --ip "$MASTER_HOST" --port "$MASTER_PORT" --webui-port "$WEBUI_PORT"
