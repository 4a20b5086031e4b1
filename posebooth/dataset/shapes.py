"""Body shapes for samples: anny phenotypes drawn from a named population.

Ages are drawn in years and mapped to anny's age value with anny's own
morphological-age anchors; height, weight, muscle and proportions follow
anny's WHO-calibrated Beta distributions given age and sex (the data anny
ships in shape_calibration/). The sampling itself is ours, on the sample's
numpy generator, so a sample's shape depends only on its seed (anny's own
sampler draws from torch's global generator).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

# Ages in years (uniform) per population; "uniform" draws every phenotype in [0, 1].
POPULATIONS = {"adults": (18.0, 70.0), "everyone": (1.0, 90.0), "children": (3.0, 14.0),
               "elderly": (65.0, 90.0)}
CONDITIONAL = ("height", "weight", "muscle", "proportions")


@lru_cache(maxsize=1)
def _calibration() -> dict:
    """anny's calibration tables as numpy: anchors for age, and per sex the
    (age, alpha, beta) anchors of each conditional Beta."""
    from pathlib import Path

    import torch

    from posebooth.assets.anny_body import import_anny

    # anny imported as the body is (without TorchDynamo: ~1.5 s off every worker's first sample)
    root = Path(import_anny().paths.get_anny_root_dir()) / "data" / "shape_calibration"
    out = {}
    for sex, name in (("male", "boys.pth"), ("female", "girls.pth")):
        state = torch.load(root / name, weights_only=True, map_location="cpu")
        out[sex] = {k: tuple(state[f"conditional_{k}_distribution"][a].numpy()
                             for a in ("age_anchors", "alpha_anchors", "beta_anchors")) for k in CONDITIONAL}
        ages = state["morphological_age_mapping"]
        out["age"] = (ages["morphological_age_anchors"].numpy(), ages["anny_age_anchors"].numpy())
    return out


def anny_age(years: float) -> float:
    years_anchor, anny_anchor = _calibration()["age"]
    return float(np.interp(years, years_anchor, anny_anchor))


def age_years(anny_value: float) -> float:
    years_anchor, anny_anchor = _calibration()["age"]
    return float(np.interp(anny_value, anny_anchor, years_anchor))


def draw_shape(rng: np.random.Generator, population: str, gender_range=(0.0, 1.0)) -> dict[str, float]:
    """anny phenotypes by name, each in [0, 1]."""
    gender = float(rng.uniform(*gender_range))
    if population == "uniform":
        values = rng.uniform(0.0, 1.0, 5)
        return {"gender": gender, **dict(zip(("age", *CONDITIONAL), map(float, values)))}
    lo, hi = POPULATIONS[population]
    age = anny_age(float(rng.uniform(lo, hi)))
    table = _calibration()["male" if gender <= 0.5 else "female"]   # anny: gender <= 0.5 is male
    shape = {"gender": gender, "age": age}
    for name in CONDITIONAL:
        ages, alphas, betas = table[name]
        shape[name] = float(rng.beta(np.interp(age, ages, alphas), np.interp(age, ages, betas)))
    return shape


def describe(shape: dict[str, float]) -> str:
    """Words for a prompt: 'a young woman', 'an elderly man', 'a girl'..."""
    years = age_years(shape.get("age", 0.5))
    female = shape.get("gender", 0.5) > 0.5
    if years < 13:
        noun = "girl" if female else "boy"
        return f"a {'little ' if years < 6 else ''}{noun}"
    if years < 18:
        return f"a teenage {'girl' if female else 'boy'}"
    noun = "woman" if female else "man"
    if years < 30:
        return f"a young {noun}"
    if years < 60:
        return f"a middle-aged {noun}" if years >= 45 else f"a {noun}"
    return f"an elderly {noun}"
