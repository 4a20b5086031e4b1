"""Dataset export (docs/FORMAT.md): annotations, the writer and its files,
COCO, overlays, videos, and the `posebooth render` command."""
