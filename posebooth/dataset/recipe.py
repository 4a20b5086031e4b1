"""Dataset recipes: a versioned TOML file, validated with pydantic.

A recipe describes a distribution over scenes (people, poses, shapes,
cameras, prompts) and what to write for each sample. `STARTER` is the
commented file `posebooth dataset new` writes; every key it shows is here.
"""
from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

RECIPE_FORMAT = "posebooth-recipe"
RECIPE_VERSION = 1
MAX_RECIPE_BYTES = 1 << 20
MAX_SAMPLES = 100_000_000

Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class RecipeError(ValueError):
    """A recipe that cannot be used; the message is one line naming the file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _range(lo: float, hi: float, default: tuple[float, float]):
    return Annotated[tuple[Annotated[float, Field(ge=lo, le=hi)], Annotated[float, Field(ge=lo, le=hi)]],
                     Field(default=default)]


class _Ranges(_Strict):
    """Models whose (low, high) pairs must be ordered (`size` is not a range)."""

    @model_validator(mode="after")
    def _ordered(self):
        for name, value in self:
            if name != "size" and isinstance(value, tuple) and len(value) == 2 and value[0] > value[1]:
                raise ValueError(f"{name}: the low end {value[0]} is above the high end {value[1]}")
        return self


class People(_Ranges):
    count: tuple[Annotated[int, Field(ge=1, le=8)], Annotated[int, Field(ge=1, le=8)]] = (1, 4)


class PoseSource(_Strict):
    kind: Literal["presets", "motion", "scene"]
    weight: float = Field(default=1.0, gt=0.0, le=1e6)
    names: list[str] = Field(default_factory=list, max_length=1000)     # presets: empty = all standing ones
    paths: list[str] = Field(default_factory=list, max_length=1000)     # motion / scene: files or folders
    terms: str = Field(default="", max_length=2000)   # licence / attribution of these files (LICENSES.md)


class Augment(_Strict):
    joint_noise_deg: float = Field(default=4.0, ge=0.0, le=45.0)   # per joint, kept inside the limits
    mirror: Unit = 0.5                                              # probability
    blend: Unit = 0.2                                               # probability of blending two poses


class Shapes(_Ranges):
    population: Literal["adults", "everyone", "children", "elderly", "uniform"] = "adults"
    gender: _range(0, 1, (0.0, 1.0)) = (0.0, 1.0)        # anny: 0 male .. 1 female


class Camera(_Ranges):
    focal_mm: _range(8, 400, (18.0, 135.0)) = (18.0, 135.0)    # log-uniform, full-frame equivalent
    fill: _range(0.1, 1.0, (0.45, 0.85)) = (0.45, 0.85)        # group height / image height
    elevation_deg: _range(-60, 85, (-5.0, 30.0)) = (-5.0, 30.0)
    azimuth_deg: _range(-360, 360, (-180.0, 180.0)) = (-180.0, 180.0)
    roll_deg: _range(-45, 45, (-3.0, 3.0)) = (-3.0, 3.0)
    size: tuple[Annotated[int, Field(ge=8, le=8192)], Annotated[int, Field(ge=8, le=8192)]] = (512, 512)
    principal_jitter: float = Field(default=0.02, ge=0.0, le=0.25)  # fraction of the image size


class Placement(_Ranges):
    spacing_m: _range(0.3, 20, (0.7, 2.5)) = (0.7, 2.5)       # centre to centre, neighbours
    max_tries: int = Field(default=30, ge=1, le=1000)


class Prompt(_Strict):
    template: str = Field(default="a photo of {person}, {clothing}, {place}, {lighting}, {style}",
                          max_length=2000)
    negative: str = Field(default="blurry, deformed, extra limbs, low quality", max_length=2000)
    clothing: list[str] = Field(default_factory=lambda: ["casual clothes", "a business suit", "sportswear",
                                                         "a summer dress", "jeans and a jacket"], max_length=1000)
    place: list[str] = Field(default_factory=lambda: ["in a park", "on a city street", "in an office",
                                                      "on a beach", "in a living room"], max_length=1000)
    lighting: list[str] = Field(default_factory=lambda: ["soft daylight", "golden hour", "overcast light",
                                                         "studio lighting"], max_length=1000)
    style: list[str] = Field(default_factory=lambda: ["photorealistic", "35mm film photo", "high detail"],
                             max_length=1000)


class Identity(_Strict):
    """One character in every sample: a reference image for the IP-Adapter (pipeline.identity)."""

    image: str = Field(min_length=1, max_length=4096)   # a relative path is relative to the recipe
    scale: float = Field(default=0.6, ge=0.0, le=2.0)


class Score(_Strict):
    """Score each sample as it is generated (dataset.generation_scoring); off when absent."""

    pose_model: str = Field(default="usyd-community/vitpose-base-simple", max_length=4096)   # "" = no pose score
    depth_model: str = Field(default="depth-anything/Depth-Anything-V2-Small-hf", max_length=4096)  # "" = none
    min_fidelity: float | None = Field(default=None, ge=0.0, le=1.0)   # below it: regenerate (seed + 1, + 2, ...)
    retries: int = Field(default=0, ge=0, le=20)


class Generation(_Strict):
    model: str = Field(default="", max_length=4096)       # empty: no model (annotations and controls only)
    steps: int = Field(default=20, ge=1, le=1000)
    guidance: float = Field(default=7.5, ge=0.0, le=50.0)
    controls: list[Literal["depth", "openpose", "normal"]] = Field(default_factory=lambda: ["depth"],
                                                                   min_length=1, max_length=3)
    # What the openpose control shows: the body, the body and hands, or body, hands and face
    # (controlnet_aux "openpose_full"); the dataset's control/ images are what the model gets.
    openpose: Literal["body", "body+hands", "full"] = "body"
    seed_policy: Literal["per-sample", "fixed"] = "per-sample"
    clip_strategy: Literal["fixed-seed", "previous-frame", "cross-frame-attention"] = "fixed-seed"
    device: str = Field(default="auto", max_length=32)      # auto | cpu | cuda | cuda:N | mps
    # Samples per batched model call (dataset.generate): part of the recipe, so
    # every runner batches the same samples together and makes the same images.
    batch: int = Field(default=1, ge=1, le=64)
    dtype: Literal["auto", "fp16", "bf16", "fp32"] = "auto"
    identity: Identity | None = None   # the same person in every sample (SD1.5 / SDXL models)
    score: Score | None = None         # fidelity scores as samples are generated


class Output(_Strict):
    passes: list[Literal["render", "depth", "normal", "parts", "mask", "control", "overlay", "mesh"]] = Field(
        default_factory=lambda: ["render", "depth", "normal", "parts", "mask", "control"], max_length=8)
    shard_size: int = Field(default=1000, ge=1, le=100_000)


class Recipe(_Strict):
    format: Literal["posebooth-recipe"] = RECIPE_FORMAT
    version: int = Field(default=RECIPE_VERSION, ge=1, le=RECIPE_VERSION)
    samples: int = Field(default=1000, ge=1, le=MAX_SAMPLES)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    clip_frames: int = Field(default=1, ge=1, le=1000)   # 1: stills; more: a clip following the motion
    fps: float = Field(default=24.0, gt=0.0, le=240.0)
    people: People = People()
    poses: list[PoseSource] = Field(default_factory=lambda: [PoseSource(kind="presets")], min_length=1,
                                    max_length=100)
    augment: Augment = Augment()
    shapes: Shapes = Shapes()
    camera: Camera = Camera()
    placement: Placement = Placement()
    prompt: Prompt = Prompt()
    generation: Generation = Generation()
    output: Output = Output()

    @model_validator(mode="after")
    def _batches_are_independent_frames(self):
        if self.generation.batch > 1 and self.clip_frames > 1 and self.generation.clip_strategy != "fixed-seed":
            raise ValueError(f"generation.batch: clips with the {self.generation.clip_strategy} strategy run one "
                             "sample at a time (batch = 1); batches need clip_strategy = \"fixed-seed\"")
        if self.generation.score is not None and not self.generation.model:
            raise ValueError("generation.score: scores need generated images; set generation.model (or remove "
                             "[generation.score])")
        return self

    def digest(self) -> str:
        """What identifies the distribution: a resumed run must match it."""
        data = self.model_dump(mode="json")
        if data["generation"].get("score") is None:   # recipes from before [generation.score] keep their digest
            data["generation"].pop("score", None)
        if data["generation"].get("openpose") == "body":   # and from before generation.openpose
            data["generation"].pop("openpose", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _where(err: ValidationError) -> str:
    e = err.errors()[0]
    loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
    more = err.error_count() - 1
    got = "" if e.get("input") is None or isinstance(e.get("input"), dict) else f" (got {e['input']!r:.60})"
    return f"{loc}: {e['msg']}{got}" + (f"; and {more} more problem(s)" if more > 0 else "")


def parse_recipe(text: str, source: str = "recipe", base: Path | None = None) -> Recipe:
    """TOML text -> Recipe; relative pose paths are resolved against `base`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RecipeError(f"{source}: not valid TOML: {e}") from None
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as e:
        raise RecipeError(f"{source}: {_where(e)}") from None
    if base is not None:
        poses = [p.model_copy(update={"paths": [str((base / q).resolve()) if not Path(q).is_absolute() else q
                                                for q in p.paths]}) for p in recipe.poses]
        recipe = recipe.model_copy(update={"poses": poses})
        ident = recipe.generation.identity
        if ident is not None and not Path(ident.image).is_absolute():
            ident = ident.model_copy(update={"image": str((base / ident.image).resolve())})
            recipe = recipe.model_copy(update={"generation": recipe.generation.model_copy(update={"identity": ident})})
    return recipe


def load_recipe(path) -> Recipe:
    from posebooth.files.safe_read import UserFileError, read_user_file

    path = Path(path)
    try:
        raw = read_user_file(path, "recipe", MAX_RECIPE_BYTES)
    except UserFileError as e:
        raise RecipeError(str(e)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RecipeError(f"{path}: not a text (UTF-8) file") from None
    return parse_recipe(text, str(path), path.parent)


def starter_text() -> str:
    """The commented starter recipe `posebooth dataset new` writes."""
    from importlib.resources import files

    return files("posebooth.dataset").joinpath("starter.toml").read_text(encoding="utf-8")
