#!/usr/bin/env bash
# Creates the Seldon client and imports MovieLens 10M into it (create_ml10m_recommender.sh step 3).
# The JS consumer key is pinned so that a replay file generated for it stays valid.
set -euo pipefail

: "${CLIENT:?}" "${JS_KEY:?}"
WORK=${WORK:-/seldon-data/ml10m}
MODELS=${MODELS:-/seldon-data/seldon-models}

step() {
    echo "+ seldon-cli $*"
    seldon-cli "$@"
}

if [[ ! -f "$WORK/csv.done" ]]; then
    echo "ml10m-import: no CSVs in $WORK; the download Job did not finish" >&2
    exit 1
fi

step client --action setup --client-name "$CLIENT" --db-name ClientDB --set-js-key "$JS_KEY"
step attr --action apply --client-name "$CLIENT" --json /scripts/attr.json
step import --action items --client-name "$CLIENT" --file-path "$WORK/items.csv"
step import --action users --client-name "$CLIENT" --file-path "$WORK/users.csv"
step import --action actions --client-name "$CLIENT" --file-path "$WORK/actions.csv"

# Setup keeps the key of an earlier install; the replay needs exactly this one.
keys=$(seldon-cli -q keys --client-name "$CLIENT" --scope js)
if ! grep -q "\"$JS_KEY\"" <<<"$keys"; then
    echo "ml10m-import: the js key of client $CLIENT is not $JS_KEY: $keys" >&2
    exit 1
fi
actions="$MODELS/$CLIENT/actions/1/actions.json"
if [[ ! -s "$actions" ]]; then
    echo "ml10m-import: $actions is missing or empty; the actions import failed" >&2
    exit 1
fi
echo "ml10m-import: done ($(wc -l < "$actions") action lines in $actions)"
