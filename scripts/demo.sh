#!/usr/bin/env bash
# Set up (first run only) and run the offline demo. Usage: bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/repwatch demo "$@"
