#!/usr/bin/env bash
# Fails unless the trained similarities reached MySQL (table item_similarity of the client's DB).
set -euo pipefail

: "${CLIENT:?}" "${MYSQL_ROOT_PASSWORD:?}"
MYSQL_HOST=${MYSQL_HOST:-mysql}

rows=$(MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql -h "$MYSQL_HOST" -u root -N -B \
    -e "select count(*) from item_similarity" "$CLIENT")
echo "ml10m-verify: $rows rows in $CLIENT.item_similarity"
if [[ ! $rows =~ ^[0-9]+$ || $rows -eq 0 ]]; then
    echo "ml10m-verify: $CLIENT.item_similarity is empty; the model never reached the database" >&2
    exit 1
fi
