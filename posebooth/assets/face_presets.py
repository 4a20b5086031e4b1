"""Facial expressions: anny's 52 facial actions and the presets of
resources/face_presets.json (name -> weights 0..1)."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from posebooth.assets.presets import UnknownPresetError
from posebooth.files.json_model import JsonFileError, got, load_model

# anny 0.6.2's facial actions (anny.models.facial_actions.FACIAL_ACTION_LABELS),
# ARKit's blendshape names, copied so that listing them imports no torch; a
# test checks them against anny's.
FACIAL_ACTIONS = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff",
    "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight", "tongueOut",
)
FACE_PRESETS = ("neutral", "smile", "laugh", "surprise", "anger", "sadness", "eyes-closed", "wink")
FACE_PRESETS_FILE = "face_presets.json"


class FacePresetFileError(JsonFileError):
    """A face preset file that cannot be used; the message is one line naming the file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FaceEntry(_Strict):
    name: str = Field(min_length=1, max_length=100)
    label: str = Field(min_length=1, max_length=100)
    weights: dict[Literal[FACIAL_ACTIONS], Annotated[float, Field(ge=0.0, le=1.0)]]


class FacePresetsFile(_Strict):
    format: Literal["posebooth-face-presets"]
    version: Literal[1]
    note: str = Field(default="", max_length=2000)
    presets: list[FaceEntry] = Field(min_length=1, max_length=1000)


def parse_face_presets(text: str | bytes, origin: str) -> dict[str, FaceEntry]:
    data = load_model(FacePresetsFile, text, origin, FacePresetFileError)
    lib = {}
    for i, entry in enumerate(data.presets):
        if entry.name in lib:
            raise FacePresetFileError(f"{origin}: presets[{i}].name: appears twice (got {got(entry.name)})")
        lib[entry.name] = entry
    return lib


@lru_cache(maxsize=1)
def _library() -> dict[str, FaceEntry]:
    resource = resources.files("posebooth").joinpath("resources", FACE_PRESETS_FILE)
    return parse_face_presets(resource.read_bytes(), str(resource))


def face_preset_label(name: str) -> str:
    return _entry(name).label


def face_preset(name: str) -> dict[str, float]:
    """The named expression: a fresh dict facial action -> weight (0..1), zeros left out."""
    return {k: float(v) for k, v in _entry(name).weights.items() if v}


def _entry(name: str) -> FaceEntry:
    lib = _library()
    if name in lib:
        return lib[name]
    for entry in lib.values():   # labels work too, any case
        if entry.label.lower() == str(name).lower():
            return entry
    raise UnknownPresetError(f"unknown face preset {name!r}; available: {', '.join(lib)}")
