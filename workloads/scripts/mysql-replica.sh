#!/usr/bin/env bash
# Sidecar of a MySQL read replica: once the local server and the primary answer, start replicating
# from the primary's first binary log (the primary logs from its very first start), then idle.
set -euo pipefail

: "${MYSQL_ROOT_PASSWORD:?}"
PRIMARY=${PRIMARY:-mysql}
export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"

until mysql -h 127.0.0.1 -u root -e 'select 1' >/dev/null 2>&1; do sleep 2; done
until mysql -h "$PRIMARY" -u root -e 'select 1' >/dev/null 2>&1; do sleep 2; done

if [[ -z $(mysql -h 127.0.0.1 -u root -N -e 'show slave status') ]]; then
    mysql -h 127.0.0.1 -u root -e "CHANGE MASTER TO MASTER_HOST='$PRIMARY', MASTER_USER='root', \
MASTER_PASSWORD='$MYSQL_ROOT_PASSWORD', MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS=4; START SLAVE;"
    echo "mysql-replica: replicating from $PRIMARY"
fi
exec sleep infinity
