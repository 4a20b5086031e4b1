#!/usr/bin/env bash
# The GPU checks, as one script for a lent GPU machine (run from the repo
# root; it installs the CUDA build of torch into a fresh venv first). It
# prints figures only; nothing here is a test. Sized to fit ~10 minutes:
#   1. real-size random-weight SD1.5 + ControlNet at 512x512, 20 steps, fp16 and
#      bf16: seconds per image, first-step latency, peak memory (bench_generate);
#   2. the same for SDXL at 1024x1024, fp16;
#   3. the live preview: step previews per second while generating;
#   4. a dataset run with a tiny model on the GPU: samples per second.
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
for dtype in fp16 bf16; do
  timeout 240 $PY benchmarks/bench_generate.py --real-size sd15 --device cuda --dtype $dtype --steps 20 \
    --size 512 --runs 3 --warmup 1 || echo "sd15 $dtype: failed"
done
timeout 240 $PY benchmarks/bench_generate.py --real-size sdxl --device cuda --dtype fp16 --steps 20 \
  --size 1024 --runs 2 --warmup 1 || echo "sdxl fp16: failed"
timeout 120 $PY benchmarks/bench_dataset.py --samples 16 --size 256 --modes "1 process" || echo "dataset: failed"
