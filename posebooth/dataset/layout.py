"""Where a dataset's files go (docs/FORMAT.md, "Recipe datasets").

Samples are grouped in shards of `shard_size` consecutive indices, so no
folder holds more than one shard's files, however many samples there are:

    DIR/shards/000003/render/00003017_000.png     sample 3017, clip frame 0
    DIR/.posebooth/samples/000003/00003017.npz    its rows, written last
"""
from __future__ import annotations

STATE_DIR = ".posebooth"
RUN_FILE = f"{STATE_DIR}/run.json"
SAMPLES_DIR = f"{STATE_DIR}/samples"
SHARDS_DIR = "shards"


def shard_of(index: int, shard_size: int) -> int:
    return int(index) // int(shard_size)


def shard_dir(shard: int) -> str:
    return f"{SHARDS_DIR}/{int(shard):06d}"


def frame_stem(index: int, frame: int) -> str:
    return f"{int(index):08d}_{int(frame):03d}"


def sample_record(index: int, shard_size: int) -> str:
    return f"{SAMPLES_DIR}/{shard_of(index, shard_size):06d}/{int(index):08d}.npz"


def shard_indices(shard: int, shard_size: int, samples: int) -> range:
    lo = int(shard) * int(shard_size)
    return range(lo, min(lo + int(shard_size), int(samples)))
