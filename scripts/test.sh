#!/usr/bin/env bash
# Set up and run the whole test suite: a virtualenv in .venv, the package with its test
# extras, a throwaway PostgreSQL server and Redis server, then pytest. Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
. .venv/bin/activate
if [ -z "${REPWATCH_TEST_PG_URL:-}" ]; then
  REPWATCH_TEST_PG_URL=$(bash scripts/pg.sh)
  export REPWATCH_TEST_PG_URL
fi
if [ -z "${REPWATCH_TEST_REDIS_URL:-}" ]; then
  REPWATCH_TEST_REDIS_URL=$(bash scripts/redis.sh)
  export REPWATCH_TEST_REDIS_URL
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
python -m pytest -ra "$@"
