"""benchmarks/bench_gpu.py --tiny: the GPU check script runs on the CPU with tiny random
models and prints its one table (every option's path runs; CUDA-only options say they
were ignored). Figures are printed, never asserted: only that each row has them."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from pipeline_fixtures import _one_torch_thread  # noqa: F401  (autouse fixture)

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"


@pytest.fixture(scope="module")
def bench_gpu():
    spec = importlib.util.spec_from_file_location("bench_gpu", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(out: str) -> list[dict]:
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("backend "))
    names = [c.strip() for c in lines[head].split(" | ")]
    return [dict(zip(names, (c.strip() for c in line.split(" | "))))
            for line in lines[head + 2:] if " | " in line]


def test_tiny_mode_prints_one_table(bench_gpu, capsys):
    assert bench_gpu.main(["--tiny", "--backends", "sd15,no-such-backend"]) == 0
    rows = _rows(capsys.readouterr().out)
    by = {(r["backend"], r["dtype"], r["offload"], r["compile"], r["steps"]): r for r in rows
          if not r["note"].startswith("live")}
    assert "skipped: no tiny builder" in by[("no-such-backend", "fp32", "no", "no", "-")]["note"]
    gen = [by[("sd15", d, o, c, "2")] for d, o, c in
           [("fp32", "no", "no"), ("bf16", "no", "no"), ("fp32", "yes", "no"), ("fp32", "no", "yes")]]
    for r in gen:
        assert float(r["s/image"]) > 0 and float(r["pb/bare"]) > 0, r
    assert "offload needs a CUDA GPU: ignored" in gen[2]["note"]
    assert "torch.compile is used on CUDA only: ignored" in gen[3]["note"]
    live = [r for r in rows if r["note"].startswith("live, TAESD")]
    assert [r["steps"] for r in live] == ["1", "2"]
    for r in live:   # the drag's last pose always gets its image
        assert re.search(r"last move to image \d+ ms", r["note"]) and float(r["live fps"]) >= 0
