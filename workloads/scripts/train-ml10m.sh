#!/usr/bin/env bash
# Trains the item-similarity model with Spark through luigi (create_ml10m_recommender.sh step 4).
# luigi returns 0 even when a task failed and the Spark job's seldon-cli exit codes are ignored
# (seldon-server#18), so success is judged from luigi's summary and from the model files.
set -euo pipefail

: "${CLIENT:?}" "${MYSQL_ROOT_PASSWORD:?}"
MODELS=${MODELS:-/seldon-data/seldon-models}
SAMPLE=${SAMPLE:-0.25}
MODEL_DIR="$MODELS/$CLIENT/item-similarity/1"
LOG=$(mktemp)

rm -rf "$MODEL_DIR"
luigi --module seldon.luigi.spark SeldonItemSimilarity --local-schedule \
    --client "$CLIENT" --startDay 1 \
    --ItemSimilaritySparkJob-sample "$SAMPLE" \
    --ItemSimilaritySparkJob-dimsumThreshold 0.5 \
    --ItemSimilaritySparkJob-limit 100 \
    --db-user root --db-pass "$MYSQL_ROOT_PASSWORD" 2>&1 | tee "$LOG"

if ! grep -q 'This progress looks :)' "$LOG"; then
    echo "ml10m-train: luigi did not report success (see above)" >&2
    exit 1
fi
parts=0
if [[ -d $MODEL_DIR ]]; then
    parts=$(find "$MODEL_DIR" -type f -name 'part-*' -size +0 | wc -l)
fi
if [[ $parts -eq 0 ]]; then
    echo "ml10m-train: Spark wrote no model files under $MODEL_DIR" >&2
    exit 1
fi
echo "ml10m-train: done ($parts non-empty part files in $MODEL_DIR)"
