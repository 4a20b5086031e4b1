"""H.264 clips from an export's PNG frames (FORMAT.md video/)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from posebooth.export.files import ExportError, SafeOut


def _even(img: np.ndarray) -> np.ndarray:
    """yuv420p needs even sizes: repeat the last row / column when odd."""
    H, W = img.shape[:2]
    if H % 2:
        img = np.concatenate([img, img[-1:]], axis=0)
    if W % 2:
        img = np.concatenate([img, img[:, -1:]], axis=1)
    return img


def write_video(out: SafeOut, rel: str, frame_files: list[Path], fps: float) -> Path:
    """Encode the PNGs (in order) to OUT/rel as H.264 yuv420p with imageio-ffmpeg,
    through a temporary file renamed into place. Odd sizes are padded by one
    repeated row/column (the clip is then up to 1 px larger than the frames)."""
    import cv2
    import imageio_ffmpeg

    if not frame_files:
        raise ExportError(f"no frames to encode into {rel}")
    first = cv2.imread(str(frame_files[0]), cv2.IMREAD_COLOR)
    if first is None:
        raise ExportError(f"cannot read {frame_files[0]}")
    H, W = _even(first).shape[:2]
    tmp = out.temp_path_for(rel)
    try:
        writer = imageio_ffmpeg.write_frames(
            str(tmp), (W, H), fps=float(fps), codec="libx264", pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p", quality=None, bitrate=None, macro_block_size=1,
            output_params=["-crf", "18", "-preset", "veryfast", "-movflags", "+faststart"],
            ffmpeg_log_level="error")
        writer.send(None)
        for path in frame_files:
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                raise ExportError(f"cannot read {path}")
            writer.send(np.ascontiguousarray(_even(img)[:, :, ::-1]))
        writer.close()
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, ExportError):
            raise ExportError(f"cannot encode {rel}: {e}") from None
        raise
    return out.commit(tmp, rel)
