"""Fidelity scores of the panel's results (frame.fidelity; FORMAT.md,
"Fidelity scores"), computed on the generation worker.

The request builder's thread hands over each scored request's rendered
frame (annotations, depth, instance mask) with `remember`. When the result
lands, `score` queues the estimators as a job on the generation worker
(export.scoring.on_worker, beside the diffusion model on its device); a
small waiting thread blocks on that job so the GUI thread never does. The
estimators load on the worker too, on first use and when the chosen
sources change. `scored` / `failed` come back as queued signals.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from posebooth.frame.fidelity import FidelityScores

KEEP_TRUTHS = 16   # rendered frames of requests whose result has not landed yet


@dataclass(frozen=True)
class ScoredResult:
    """A result's scores and the truth they were measured against (for the overlay)."""

    scores: FidelityScores
    coco17: np.ndarray
    bbox: np.ndarray
    colors: tuple

    def text(self) -> str:
        def show(v: float) -> str:
            return "—" if v < 0 else f"{v:.2f}"
        s = self.scores
        pck = [float(v) for v in s.pck if v >= 0]
        depth = [float(v) for v in s.depth if v >= 0]
        return (f"fidelity {show(s.frame_fidelity())} · keypoints {show(min(pck) if pck else -1.0)} · "
                f"depth {show(min(depth) if depth else -1.0)}")


class ResultScorer(QObject):
    scored = Signal(str, object)   # request id, ScoredResult
    failed = Signal(str, str)      # request id, one-line message

    def __init__(self, bridge, parent=None):
        super().__init__(parent)
        self.bridge = bridge
        self.enabled = False
        self.sources: tuple[str, str] = ("", "")   # pose, depth ("" = that score is not computed)
        self.device = "auto"
        self.results: dict[str, ScoredResult] = {}  # GUI thread
        self._truths: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="posebooth-fidelity-wait")
        self._loaded: tuple | None = None   # worker thread only
        self._estimators = None

    def configure(self, enabled: bool, pose: str, depth: str) -> None:
        self.enabled, self.sources = bool(enabled), (pose.strip(), depth.strip())

    # -- the request builder's thread ------------------------------------------------------
    def remember(self, request_id: str, rendered) -> None:
        with self._lock:
            self._truths[request_id] = rendered
            while len(self._truths) > KEEP_TRUTHS:
                self._truths.popitem(last=False)

    # -- the GUI thread --------------------------------------------------------------------
    def score(self, result) -> bool:
        """Queue the scoring of `result` (False: no truth kept for it)."""
        with self._lock:
            rendered = self._truths.pop(result.request_id, None)
        if rendered is None or not self.enabled:
            return False
        key = (*self.sources, self.device)
        self._pool.submit(self._wait, result.request_id, rendered, np.asarray(result.image), key)
        return True

    # -- the waiting thread, then the worker ---------------------------------------------------
    def _wait(self, request_id: str, rendered, rgb: np.ndarray, key: tuple) -> None:
        from posebooth.export.scoring import on_worker, score_generated
        from posebooth.pipeline.errors import ModelNotFoundError

        def run():   # on the generation worker
            if self._loaded != key:
                self._estimators, self._loaded = None, None
                self._estimators, self._loaded = _load(key), key
            return score_generated(rendered, rgb, self._estimators)
        if not self.bridge.started:   # the panel shut down meanwhile
            return
        try:
            scores = on_worker(self.bridge.worker)(run)
        except ModelNotFoundError as e:
            self.failed.emit(request_id, " ".join(str(e).split()))
            return
        except Exception as e:  # noqa: BLE001 - said in the panel, never fatal
            self.failed.emit(request_id, f"Scoring failed: {' '.join(str(e).split()) or type(e).__name__}")
            return
        ann = rendered.annotations()
        self.scored.emit(request_id, ScoredResult(scores, np.asarray(ann.coco17), np.asarray(ann.bbox),
                                                  tuple(p.color for p in rendered.people)))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _load(key: tuple):
    from posebooth.pipeline.errors import ModelNotFoundError
    from posebooth.pipeline.estimators import load_estimators

    pose, depth, device = key
    if not pose and not depth:
        raise ModelNotFoundError("Fidelity scores: choose a pose model or a depth model (a Hugging Face id or "
                                 "a folder)")
    return load_estimators(pose or None, depth or None, device=device)
