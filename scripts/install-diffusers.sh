#!/usr/bin/env bash
# Installs the optional local-diffusers extra (torch, diffusers, transformers) into a venv.
# torch goes first, on its own, so the CPU wheel is chosen before anything can pull a CUDA build.
set -euo pipefail
bin=${1:-.venv/bin}
root=$(cd "$(dirname "$0")/.." && pwd)
if "$bin/python" -c "import torch, diffusers, transformers" 2>/dev/null; then
  exit 0
fi
"$bin/pip" install --quiet --disable-pip-version-check torch==2.13.0
"$bin/pip" install --quiet --disable-pip-version-check -r "$root/requirements-diffusers.lock"
