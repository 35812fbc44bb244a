#!/usr/bin/env bash
# Sets up .venv, fetches MovieLens-100k (once) and runs the whole pipeline on
# it. Extra arguments go to local_runner.py (see `--help`). Idempotent: a
# second run reuses the data and every unchanged component from the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup_env.sh
# Fetched once; local_runner.py validates the data at every run anyway.
if [ ! -f data/ml-100k/ratings.csv ] || [ ! -f data/ml-100k-items.csv ]; then
  .venv/bin/python -m movielens_data fetch-100k --dest data
fi
exec .venv/bin/python local_runner.py --data-dir data/ml-100k "$@"
