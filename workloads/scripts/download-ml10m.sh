#!/usr/bin/env bash
# Downloads MovieLens 10M and writes the three CSVs Seldon imports (create_ml10m_recommender.sh
# steps 1-2). Skips the download when a complete copy is already on the data volume.
set -euo pipefail

WORK=${WORK:-/seldon-data/ml10m}
URL=${ML10M_URL:-http://files.grouplens.org/datasets/movielens/ml-10m.zip}
# MovieLens 10M README: 10,000,054 ratings of 10,681 movies.
EXPECTED_RATINGS=${EXPECTED_RATINGS:-10000054}
EXPECTED_MOVIES=${EXPECTED_MOVIES:-10681}

mkdir -p "$WORK"
cd "$WORK"

if [[ -f csv.done ]]; then
    echo "ml10m-download: CSVs already present in $WORK"
    exit 0
fi

rm -rf ml-10M100K ml-10m.zip
wget --no-verbose --tries=3 -O ml-10m.zip "$URL"
unzip -q ml-10m.zip
iconv -f iso-8859-1 -t utf-8 ml-10M100K/movies.dat -o ml-10M100K/movies.dat.utf8

ratings=$(wc -l < ml-10M100K/ratings.dat)
movies=$(wc -l < ml-10M100K/movies.dat.utf8)
echo "ml10m-download: $ratings ratings, $movies movies"
if [[ $ratings -ne $EXPECTED_RATINGS || $movies -ne $EXPECTED_MOVIES ]]; then
    echo "ml10m-download: expected $EXPECTED_RATINGS ratings and $EXPECTED_MOVIES movies" >&2
    exit 1
fi

# Fields are separated by "::"; titles are quoted as create_ml10m_recommender.sh quotes them,
# quotes inside a title kept as they are, so Seldon imports the same titles as in 2016.
{
    echo "id,title"
    awk -F'::' '{ printf "%d,\"%s\"\n", $1, $2 }' ml-10M100K/movies.dat.utf8
} > items.csv
{
    echo "id"
    awk -F'::' '{ print $1 }' ml-10M100K/ratings.dat | uniq
} > users.csv
{
    echo "user_id,item_id,value,time"
    awk -F'::' '{ printf "%s,%s,%s,%s\n", $1, $2, $3, $4 }' ml-10M100K/ratings.dat
} > actions.csv

echo "ml10m-download: $(($(wc -l < items.csv) - 1)) items, $(($(wc -l < users.csv) - 1)) users, $(($(wc -l < actions.csv) - 1)) actions"
touch csv.done
