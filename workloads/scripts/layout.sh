#!/bin/sh
# Lays out /seldon-data as the seed's hand-made GlusterFS volume looked, from the ConfigMap at
# $CONFIG_DIR. Idempotent: re-running rewrites the two config files and keeps everything else.
# busybox sh: no bash in this image.
set -eu

DATA=${DATA:-/seldon-data}
CONFIG_DIR=${CONFIG_DIR:-/config}

for dir in server mysql loadtest seldon-models logs conf/zkroot influxdb grafana ml10m; do
    mkdir -p "$DATA/$dir"
done

# Written to a temporary name and renamed: a reader never sees a half-written file.
install_file() {
    cp "$CONFIG_DIR/$1" "$DATA/$2.tmp"
    mv "$DATA/$2.tmp" "$DATA/$2"
    echo "wrote $DATA/$2 ($(wc -c < "$DATA/$2") bytes)"
}
install_file settings.sh server/settings.sh
install_file seldon.cnf mysql/seldon.cnf

# The seldon-server start script sources settings.sh; a syntax error there would stop every API pod.
sh -n "$DATA/server/settings.sh"
ls -la "$DATA"
