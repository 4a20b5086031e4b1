"""A contact sheet of a recipe dataset: the first N samples' overlay images
(renders with skeletons and boxes) tiled in one PNG, to judge variety,
grounding and interpenetration by eye.

Run: .venv/bin/python scripts/contact_sheet.py DATASET_DIR sheet.png [--count 64] [--tile 192]
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--tile", type=int, default=192)
    args = parser.parse_args()
    files = sorted(Path(args.dataset).glob("shards/*/overlay/*_000.png"))[: args.count]
    if not files:
        raise SystemExit(f"{args.dataset}: no overlay images (run the recipe with the overlay pass)")
    cols = math.ceil(math.sqrt(len(files)))
    rows = math.ceil(len(files) / cols)
    sheet = np.zeros((rows * args.tile, cols * args.tile, 3), np.uint8)
    for k, f in enumerate(files):
        img = cv2.resize(cv2.imread(str(f)), (args.tile, args.tile), interpolation=cv2.INTER_AREA)
        cv2.putText(img, f.stem.split("_")[0].lstrip("0") or "0", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (255, 255, 255), 1, cv2.LINE_AA)
        r, c = divmod(k, cols)
        sheet[r * args.tile:(r + 1) * args.tile, c * args.tile:(c + 1) * args.tile] = img
    cv2.imwrite(args.out, sheet)
    print(f"wrote {args.out}: {len(files)} samples")


if __name__ == "__main__":
    main()
