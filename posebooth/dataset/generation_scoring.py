"""Fidelity scores as a recipe's samples are generated ([generation.score];
FORMAT.md, "Fidelity scores").

Each written sample's frames are scored (frame.fidelity, against the depth
as exported, so `posebooth score` gives the same numbers). A sample whose
worst scored frame is below `min_fidelity` is generated again alone, its
whole clip with every request's seed + 1, + 2, ... (export.scoring.retry_seed),
up to `retries` times; the last attempt is kept. The rest of its batch group
is not touched, so every other image stays that of a run without scoring.
Every attempt's seeds and scores go to the sample's line in samples.jsonl
(`fidelity`); the kept scores become the shard's `fidelity` rows.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from posebooth.export.frame_files import depth_png
from posebooth.export.scoring import FIDELITY_KEYS, retry_seed, score_stats
from posebooth.frame.fidelity import NOT_SCORED, FidelityScores, score_frame
from posebooth.pipeline import estimators as estimator_models


class SampleScorer:
    """The estimators and the recipe's threshold; `settle` scores (and retries) one sample."""

    def __init__(self, estimators, min_fidelity: float | None = None, retries: int = 0):
        self.estimators = estimators
        self.min_fidelity = min_fidelity
        self.retries = int(retries) if min_fidelity is not None else 0

    def settings(self) -> dict:
        return {**self.estimators.settings(), "min_fidelity": self.min_fidelity, "retries": self.retries,
                "retry_seeds": "seed + attempt, the sample's whole clip alone"}

    def score(self, rgb_frames, truth: list[dict]) -> list[FidelityScores]:
        return [score_frame(np.asarray(img, np.uint8), t["coco17"], t["bbox"], t["depth_m"], t["instance"],
                            pose=self.estimators.pose, depth=self.estimators.depth)
                for img, t in zip(rgb_frames, truth)]

    def settle(self, backend, strategy: str, item: dict, result: dict) -> dict:
        """`result` (generate_samples' images and seeds of `item`) scored;
        regenerated below the threshold. Returns the kept result with
        `scores` (one FidelityScores per frame) and `fidelity` (the record)."""
        from posebooth.dataset.generate import generate_samples

        attempts = []
        for attempt in range(self.retries + 1):
            if attempt:
                again = [dataclasses.replace(r, seed=retry_seed(r.seed, attempt)) for r in item["requests"]]
                result = generate_samples(backend, strategy, [again])[0]
            scores = self.score(result["rgb"], item["truth"])
            worst = sample_fidelity(scores)
            attempts.append({"seeds": [int(s) for s in result["seeds"]], "fidelity": round(worst, 6),
                             "frames": [s.as_lists() for s in scores]})
            if self.min_fidelity is None or worst < 0 or worst >= self.min_fidelity:
                break
        return {**result, "scores": scores, "fidelity": {"kept": len(attempts) - 1, "attempts": attempts}}


def sample_fidelity(scores: list[FidelityScores]) -> float:
    """A sample's score: its worst scored frame (NOT_SCORED when none is)."""
    worst = [w for w in (s.frame_fidelity() for s in scores) if w >= 0]
    return float(min(worst)) if worst else NOT_SCORED


def truth_of(rendered) -> dict:
    """What a frame's image is scored against (a frame.render RenderedFrame)."""
    ann = rendered.annotations()
    return {"coco17": np.asarray(ann.coco17, np.float32), "bbox": np.asarray(ann.bbox, np.float32),
            "depth_m": depth_png(rendered.passes.depth).astype(np.float32) / 1000.0,
            "instance": np.asarray(rendered.passes.instance)}


def score_rows(rows: list[dict], scores: list[FidelityScores]) -> None:
    """The kept scores into a sample's per-frame rows (each (P,), as written to the record)."""
    for row, s in zip(rows, scores):
        for key, values in zip(FIDELITY_KEYS, (s.fidelity, s.pck, s.depth)):
            row[key] = np.asarray(values, np.float32)


def load_scorer(recipe) -> SampleScorer | None:
    """The recipe's scorer, or None without [generation.score] or a model.
    A missing estimator is pipeline.errors.ModelNotFoundError (one line)."""
    g = recipe.generation
    if g.score is None or not g.model:
        return None
    s = g.score
    est = estimator_models.load_estimators(s.pose_model or None, s.depth_model or None, device=g.device,
                                           dtype=g.dtype)
    return SampleScorer(est, s.min_fidelity, s.retries)


def summary(recipe, tables: list[dict], metas: list[dict]) -> dict:
    """dataset.json's `fidelity` of a run that scored as it generated:
    tables (the assembled shards' fidelity rows), metas (samples.jsonl lines)."""
    from posebooth.export.scoring import DEFINITION

    s = recipe.generation.score
    whole = {k: np.concatenate([t[k] for t in tables]) if tables else np.zeros(0, np.float32)
             for k in FIDELITY_KEYS}
    scored = [m for m in metas if isinstance(m.get("fidelity"), dict)]
    below = [m["index"] for m in scored if s.min_fidelity is not None
             and 0 <= m["fidelity"]["attempts"][m["fidelity"]["kept"]]["fidelity"] < s.min_fidelity]
    return {"definition": DEFINITION, "image_folder": "rgb", "pose_model": s.pose_model or None,
            "depth_model": s.depth_model or None, "min_fidelity": s.min_fidelity, "retries": s.retries,
            "scored_while_generating": True, "fidelity": score_stats(whole["fidelity"]),
            "pck": score_stats(whole["fidelity_pck"]), "depth": score_stats(whole["fidelity_depth"]),
            "samples_below": below, "samples_retried": [m["index"] for m in scored
                                                        if len(m["fidelity"]["attempts"]) > 1],
            "attempts": [{"sample": m["index"], "seeds": a["seeds"], "fidelity": a["fidelity"],
                          "kept": i == m["fidelity"]["kept"]}
                         for m in scored for i, a in enumerate(m["fidelity"]["attempts"])]}
