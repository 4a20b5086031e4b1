#!/usr/bin/env bash
# The GPU checks, as one script for a lent GPU machine (run from the repo
# root; it installs the CUDA build of torch into a fresh venv first). It
# prints figures only; nothing here is a test. Sized to fit ~12 minutes on an H200:
#   1. benchmarks/bench_gpu.py (one table, its own 9-minute budget: rows that would
#      not fit are skipped with a line): every backend at real size with random
#      weights (SD1.5, SDXL and whatever tests/fixtures/real_size.py builds besides),
#      fp16 and bf16, with and without model CPU offload and torch.compile; PoseBooth's
#      generate against a bare diffusers call; the live preview at 512x512 with 1 and
#      2 steps and TAESD: previews per second and edit-to-image latency;
#   2. batched SD1.5 + ControlNet at 512², 20 steps, fp16, batch 8: PoseBooth's
#      batched call against a bare diffusers call, and the GPU-hours per 100k
#      samples it projects (bench_batch);
#   3. a dataset run with a tiny model on the GPU: samples per second.
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 POSEBOOTH_CACHE_DIR="$PWD/.cache"
if [ ! -x .venv-gpu/bin/python ]; then
  python3 -m venv .venv-gpu
  .venv-gpu/bin/pip install -q torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128 || \
    .venv-gpu/bin/pip install -q torch==2.13.0
  .venv-gpu/bin/pip install -q -e '.[dev]'
fi
PY=.venv-gpu/bin/python
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
timeout 520 $PY benchmarks/bench_gpu.py --budget 450 || echo "bench_gpu: failed or cut off"
# The dataset engine's batched call against bare diffusers at the same batch (target >= 0.9x).
timeout 150 $PY benchmarks/bench_batch.py --real-size sd15 --device cuda --dtype fp16 --batch 8 --steps 20 \
  --size 512 --runs 3 || echo "bench_batch: failed"
timeout 150 $PY benchmarks/bench_dataset.py --samples 16 --size 256 --model-samples 16 --model-size 512 \
  --modes "1 process" || echo "dataset: failed"
