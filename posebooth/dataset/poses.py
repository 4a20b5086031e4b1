"""Pose sources for samples: presets, motion files (AMASS .npz, BVH) and
scene files, drawn by weight, as clips of the recipe's length and rate;
then augmented (noise inside the joint limits, mirroring, blending).

A `Clip` is (F, 24, 3) SMPL-24 local rotations plus (F, 3) pelvis positions;
a preset's clip also carries what the preset says about its support: its
contact ("air": not grounded, soles `air_m` up) and its props (the seat of
"sitting"), in the clip's own frame, mirrored with the clip. A blend keeps
them only when both poses share the contact (so it is in the air only when
both are); otherwise it is an ordinary grounded pose without props.
The library is loaded once per process, in a fixed order (sorted paths), so
a draw depends only on the sample's generator.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posebooth.scene.tracks import slerp_rotvecs

MOTION_SUFFIXES = (".npz", ".bvh")
SCENE_SUFFIXES = (".json",)
MAX_FILES_PER_SOURCE = 100_000


@dataclass(frozen=True)
class Clip:
    name: str                 # provenance: preset name, file and first frame
    rotvecs: np.ndarray       # (F, 24, 3)
    transl: np.ndarray        # (F, 3) pelvis, world, metres (Y up)
    contact: str = ""         # a preset's contact (assets.presets.CONTACTS); "" = a motion: grounded
    air_m: float = 0.0        # "air": the soles' height above the ground, as the preset has it
    props: tuple = ()         # scene.props.Prop, in the same frame as `transl`


def _mirror_prop(prop):
    """The prop reflected across x = 0, as the clip is (primitives are symmetric)."""
    from posebooth.assets.pose_tools import mirror_rotvec

    return prop.model_copy(update={"position": [-prop.position[0], *prop.position[1:]],
                                   "rotation": mirror_rotvec(prop.rotation).tolist()})


@dataclass(frozen=True)
class _Source:
    weight: float
    kind: str
    items: tuple              # presets: _preset_items; motion/scene: (path, rotvecs, transl)


def _files(paths, suffixes) -> list[Path]:
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in suffixes and f.is_file())
        else:
            out.append(p)
        if len(out) > MAX_FILES_PER_SOURCE:
            raise ValueError(f"{p}: more than {MAX_FILES_PER_SOURCE} files in one pose source")
    return out


def _preset_items(names) -> tuple:
    """(name, pose, contact, air height, props) per preset."""
    from posebooth.assets.pose_tools import sole_height
    from posebooth.assets.presets import get_preset, list_presets, preset_info, preset_props

    names = list(names) or [n for n in list_presets() if preset_info(n).contact == "feet"]
    items = []
    for n in names:
        pose, contact = get_preset(n), preset_info(n).contact
        air = max(0.0, sole_height(pose)) if contact == "air" else 0.0
        items.append((n, pose, contact, air, tuple(preset_props(n))))
    return tuple(items)


def _motion_items(paths, fps: float) -> tuple:
    from posebooth.assets.motion import load_motion, resample

    items = []
    for f in _files(paths, MOTION_SUFFIXES):
        rot, transl = resample(load_motion(f), fps)
        items.append((str(f), rot, transl))
    return tuple(items)


def _scene_items(paths, fps: float) -> tuple:
    from posebooth.scene.io import load_scene
    from posebooth.scene.tracks import pose_at

    items = []
    for f in _files(paths, SCENE_SUFFIXES):
        scene = load_scene(f)
        step = scene.timeline.fps / fps                    # scene frames per recipe frame
        frames = np.arange(scene.timeline.start, scene.timeline.end + 1e-9, step)
        for k, person in enumerate(scene.people):
            poses = [pose_at(person, float(t)) for t in frames]
            items.append((f"{f}#person{k + 1}", np.stack([p.rotvecs() for p in poses]),
                          np.stack([np.asarray(p.transl, np.float64) for p in poses])))
    return tuple(items)


class PoseLibrary:
    def __init__(self, recipe):
        self.fps = recipe.fps
        self.frames = recipe.clip_frames
        self.augment = recipe.augment
        self.sources = []
        for s in recipe.poses:
            if s.kind == "presets":
                items = _preset_items(s.names)
            elif s.kind == "motion":
                items = _motion_items(s.paths, recipe.fps)
            else:
                items = _scene_items(s.paths, recipe.fps)
            if not items:
                raise ValueError(f"pose source {s.kind} {s.paths or s.names}: no poses found")
            self.sources.append(_Source(s.weight, s.kind, items))
        w = np.array([s.weight for s in self.sources])
        self._p = w / w.sum()

    def _raw(self, rng: np.random.Generator) -> Clip:
        src = self.sources[rng.choice(len(self.sources), p=self._p)]
        item = src.items[rng.integers(len(src.items))]
        F = self.frames
        if src.kind == "presets":
            name, pose, contact, air, props = item
            rot = np.repeat(pose.rotvecs()[None], F, 0)
            return Clip(f"preset:{name}", rot, np.repeat(np.asarray(pose.transl, np.float64)[None], F, 0),
                        contact, air, props)
        name, rot, transl = item
        start = int(rng.integers(max(1, len(rot) - F + 1)))     # a window (or frame) of the motion
        idx = np.minimum(np.arange(start, start + F), len(rot) - 1)
        return Clip(f"{src.kind}:{name}@{start}", rot[idx], transl[idx])

    def draw(self, rng: np.random.Generator) -> Clip:
        """One person's clip, augmented."""
        from posebooth.assets.joint_limits import clamp_body_rotvecs
        from posebooth.assets.pose_tools import mirror_rotvec
        from posebooth.assets.smpl_skeleton import MIRROR

        clip = self._raw(rng)
        a = self.augment
        rot, transl, name = clip.rotvecs.copy(), clip.transl.copy(), clip.name
        support = {"contact": clip.contact, "air_m": clip.air_m, "props": clip.props}
        if rng.random() < a.blend:
            other = self._raw(rng)
            t = float(rng.uniform(0.2, 0.8))
            body = slerp_rotvecs(rot[:, 1:].reshape(-1, 3), other.rotvecs[:, 1:].reshape(-1, 3), t)
            rot[:, 1:] = body.reshape(len(rot), 23, 3)
            name += f"+blend({other.name},{t:.2f})"
            if other.contact != clip.contact:   # half one support, half another: a grounded pose
                support = {}
        if rng.random() < a.mirror:
            rot = mirror_rotvec(rot[:, list(MIRROR)])
            transl = transl * [-1.0, 1.0, 1.0]
            name += "+mirror"
            if support.get("props"):
                support["props"] = tuple(_mirror_prop(p) for p in support["props"])
        if a.joint_noise_deg > 0:
            noise = rng.normal(0.0, np.radians(a.joint_noise_deg), (23, 3))   # the same all clip long
            rot[:, 1:] = clamp_body_rotvecs(rot[:, 1:] + noise)
        return Clip(name, rot, transl, **support)
