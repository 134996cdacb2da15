#!/usr/bin/env bash
# seldon-up step 5: the basic Seldon configuration, pushed through seldon-cli (seldon-control image).
# Every step must succeed; seldon-cli is asked back what it stored so a silent failure shows.
set -euo pipefail

: "${DB_JDBC:?DB_JDBC must name the JDBC URL of the MySQL primary (and read replicas)}"
: "${MYSQL_ROOT_PASSWORD:?}"
MEMCACHED_SERVERS=${MEMCACHED_SERVERS:-memcached1:11211,memcached2:11211}

step() {
    echo "+ seldon-cli $*"
    seldon-cli "$@"
}

step client --action zk_push
step memcached --action setup --servers "$MEMCACHED_SERVERS"
step memcached --action commit
step db --action setup --db-name ClientDB --db-user root --db-password "$MYSQL_ROOT_PASSWORD" --db-jdbc "$DB_JDBC"
step db --action commit
step client --action setup --db-name ClientDB --client-name test

shown=$(seldon-cli db --action show)
echo "$shown"
if ! grep -q ClientDB <<<"$shown"; then
    echo "seldon-setup: ClientDB is not in the stored db configuration" >&2
    exit 1
fi
echo "seldon-setup: done"
