"""`posebooth dataset info DIR`: progress, rate, rejections, what is left."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from posebooth.dataset.layout import RUN_FILE, SAMPLES_DIR


def dataset_info(folder) -> dict:
    from posebooth.files.safe_read import UserFileError, read_user_file

    root = Path(folder)
    try:
        state = json.loads(read_user_file(root / RUN_FILE, "dataset run settings", 1 << 20))
        settings = state["settings"]
        samples = int(settings["samples"])
    except (UserFileError, ValueError, KeyError, TypeError):
        raise ValueError(f"{root}: not a PoseBooth recipe dataset (no readable {RUN_FILE})") from None
    records = sorted((root / SAMPLES_DIR).glob("*/*.npz"))
    done = len(records)
    info = {"samples": samples, "done": done, "left": samples - done, "percent": 100.0 * done / samples,
            "shards": -(-samples // int(settings["shard_size"])), "settings": settings, "complete": False,
            "shards_assembled": [], "rate": None, "placement_rejection_rate": None}
    try:
        manifest = json.loads(read_user_file(root / "dataset.json", "dataset manifest", 1 << 26))
        info["complete"] = bool(manifest.get("complete")) and done == samples
        info["shards_assembled"] = list(manifest.get("shards_assembled", []))
        info["placement_rejection_rate"] = manifest.get("stats", {}).get("placement_rejection_rate")
    except (UserFileError, ValueError):
        pass
    if records:
        started = datetime.fromisoformat(state.get("created", "")).timestamp() if state.get("created") else None
        last = max(r.stat().st_mtime for r in records)
        if started is not None and last > started:
            info["rate"] = done / (last - started)
    return info
