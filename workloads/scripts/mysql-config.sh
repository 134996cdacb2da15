#!/usr/bin/env bash
# Init container of a MySQL server on its own EBS volume: that volume, not the shared one, is its
# /seldon-data, so seldon.cnf (included by the image's my.cnf) is copied there. A read replica
# also gets its own server id from its StatefulSet ordinal.
set -euo pipefail

DATA=${DATA:-/seldon-data}
mkdir -p "$DATA/mysql"
cp "${CONFIG_DIR:-/config}/seldon.cnf" "$DATA/mysql/seldon.cnf.tmp"
if [[ ${REPLICA:-false} == true ]]; then
    ordinal=${HOSTNAME##*-}
    printf '\n[mysqld]\nserver-id=%d\n' "$((100 + ordinal))" >> "$DATA/mysql/seldon.cnf.tmp"
fi
mv "$DATA/mysql/seldon.cnf.tmp" "$DATA/mysql/seldon.cnf"
cat "$DATA/mysql/seldon.cnf"
