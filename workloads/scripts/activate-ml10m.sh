#!/usr/bin/env bash
# Makes the API serve the item-similarity model (create_ml10m_recommender.sh step 5).
set -euo pipefail

: "${CLIENT:?}"

echo "+ seldon-cli rec_alg --action create --client-name $CLIENT -f /scripts/rec_alg.json"
seldon-cli rec_alg --action create --client-name "$CLIENT" -f - < /scripts/rec_alg.json
seldon-cli rec_alg --action commit --client-name "$CLIENT"
seldon-cli client --action zk_pull

shown=$(seldon-cli rec_alg --action show --client-name "$CLIENT")
echo "$shown"
if ! grep -q itemSimilarityRecommender <<<"$shown"; then
    echo "ml10m-activate: itemSimilarityRecommender is not the algorithm of $CLIENT" >&2
    exit 1
fi
echo "ml10m-activate: done"
