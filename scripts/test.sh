#!/usr/bin/env bash
# Set up and run the whole test suite: a virtualenv in .venv, the package with its test
# extras, a throwaway PostgreSQL server and Redis server, then pytest. Usage: bash scripts/test.sh [pytest args]
# With no arguments: the suite on one pytest-xdist worker per core (at most 4; each test file on one
# worker, so a module's fixtures are built once), then the tests marked
# `serial` (throughput ratios that need the machine's spare cores) alone. With arguments: pytest as given.
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
if [ $# -gt 0 ]; then
  exec python -m pytest -ra "$@"
fi
workers=$(python -c 'import os; print(max(1, min(4, len(os.sched_getaffinity(0)))))')
status=0
python -m pytest -ra -n "$workers" --dist loadfile --no-loadscope-reorder -m "not serial" || status=$?
# only the files that hold serial tests: collecting the whole suite again to pick them costs seconds
mapfile -t serial_files < <(grep -l "mark.serial" tests/test_*.py)
if [ ${#serial_files[@]} -gt 0 ]; then
  python -m pytest -ra -m serial "${serial_files[@]}" || status=$?
fi
exit "$status"
