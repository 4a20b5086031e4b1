"""One sample of a recipe: a pure function of (recipe, seed, sample index).

`draw_sample` builds a small scene (people with a clip of poses each, a body
shape, a place on the ground; a camera around the group; a prompt) from a
numpy generator seeded with (seed, index) alone. Separate child streams feed
people, poses, shapes, placement, camera and prompt, so changing one part of
a recipe does not reshuffle the others. Bodies are posed here (the placement
test needs their meshes), and the posed frames are handed on to rendering.

A preset's support comes with its person (dataset.poses.Clip): an "air"
pose is not grounded (its soles stay the preset's height up, whatever the
body's shape), and its props (the seat of "sitting", fitted to the body:
dataset.preset_support) are turned and moved with the person, tested for
clashes with the other people and framed by the camera. Neither draws from
any stream, so samples without such presets are unchanged.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.spatial.transform import Rotation

from posebooth.assets.posing import PosedPerson, pose_people_frames
from posebooth.assets.props import place_prop
from posebooth.dataset.placement import Body, interpenetrate
from posebooth.dataset.poses import Clip, PoseLibrary
from posebooth.dataset.preset_support import canonical_props, fitted_props, moved_prop
from posebooth.dataset.prop_solids import PropSolid
from posebooth.dataset.shapes import describe, draw_shape
from posebooth.scene.bounds import box
from posebooth.scene.camera import Camera, look_at
from posebooth.scene.model import (BodySpec, CameraKey, CameraSpec, Generation, Intrinsics, Person, PoseKey,
                                   Scene, Timeline)
from posebooth.scene.tracks import pose_at

SENSOR_MM = 36.0
PALETTE = ((0.80, 0.72, 0.64), (0.62, 0.72, 0.86), (0.86, 0.66, 0.62), (0.66, 0.82, 0.66),
           (0.84, 0.78, 0.56), (0.74, 0.66, 0.84), (0.60, 0.80, 0.80), (0.86, 0.70, 0.80))
_STREAMS = ("people", "poses", "shapes", "placement", "camera", "prompt")


@dataclass
class Sample:
    index: int
    scene: Scene
    posed: list = field(repr=False)          # per frame: assets.posing.PosedPerson list (scene order)
    prompt: str = ""
    negative_prompt: str = ""
    generation_seed: int = 0
    placement_tries: int = 1                 # rejections = tries - 1
    pose_sources: tuple[str, ...] = ()

    @property
    def meta(self) -> dict:
        meta = {"index": self.index, "prompt": self.prompt, "negative_prompt": self.negative_prompt,
                "generation_seed": self.generation_seed, "placement_tries": self.placement_tries,
                "people": len(self.scene.people), "pose_sources": list(self.pose_sources),
                "shapes": [dict(p.body.shape) for p in self.scene.people]}
        if self.scene.props:   # only samples with props have the key: the others stay byte-identical
            from posebooth.assets.props import prop_records
            meta["props"] = prop_records(self.scene)
        return meta


def sample_rngs(seed: int, index: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence([int(seed), int(index)]).spawn(len(_STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(_STREAMS, children)}


def _placed(clip: Clip, yaw: float, where: np.ndarray, lift: float | None = None) -> list[PoseKey]:
    """The clip turned by `yaw` about +Y and moved so its first pelvis is at
    `where` (x, z); `lift` metres up (an "air" person, not grounded)."""
    turn = Rotation.from_rotvec([0.0, yaw, 0.0])
    origin = clip.transl[0] * [1.0, 0.0, 1.0]
    transl = turn.apply(clip.transl - origin) + [where[0], 0.0, where[1]]
    if lift is not None:
        transl = transl + [0.0, lift, 0.0]
    root = (turn * Rotation.from_rotvec(clip.rotvecs[:, 0])).as_rotvec()
    return [PoseKey(frame=f, global_orient=root[f].tolist(), body_pose=clip.rotvecs[f, 1:].ravel().tolist(),
                    transl=transl[f].tolist()) for f in range(len(transl))]


def _person(k: int, clip: Clip, shape: dict, yaw: float, where: np.ndarray, lift: float | None = None) -> Person:
    return Person(name=f"Person {k + 1}", color=list(PALETTE[k % len(PALETTE)]),
                  body=BodySpec(model="anny", shape=shape), keys=_placed(clip, yaw, where, lift),
                  on_ground=lift is None)


def _scene(people, recipe, frames: int, props=()) -> Scene:
    return Scene(people=people, timeline=Timeline(fps=recipe.fps, start=0, end=frames - 1), props=list(props))


def _with_points(posed: PosedPerson, move, **changes) -> PosedPerson:
    """`posed` with `move` applied to all its points (vertices, joints, COCO-17, hands)."""
    return replace(posed, vertices=move(posed.vertices), joints=move(posed.joints), coco17=move(posed.coco17),
                   hand21=None if posed.hand21 is None else move(posed.hand21), **changes)


def _lifted(posed: PosedPerson, up: float) -> PosedPerson:
    """A grounded canonical person raised by `up` metres: what posing the
    person's keys (lifted by its ground offset + `up`, on_ground off) gives."""
    lift = np.float32([0.0, up, 0.0])
    return _with_points(posed, lambda pts: pts + lift, ground_offset=0.0,
                        pose=replace(posed.pose, transl=posed.pose.transl + [0.0, up, 0.0]))


def _clash(moved: list[list[Body]], solids: list[list[PropSolid]]) -> bool:
    """Do two people interpenetrate (in any checked frame), a person and
    another person's prop, or two people's props?"""
    n = len(solids)
    if any(interpenetrate(a, b) for bodies in moved for i, a in enumerate(bodies) for b in bodies[i + 1:]):
        return True
    return (any(interpenetrate(bodies[i], s) for bodies in moved for i in range(n) for j in range(n) if j != i
                for s in solids[j])
            or any(interpenetrate(a, b) for i in range(n) for j in range(i + 1, n) for a in solids[i]
                   for b in solids[j]))


def _turn_and_shift(yaw: float, where: np.ndarray):
    """The rigid motion taking the canonically placed clip (_placed with yaw 0
    and its first pelvis at x = z = 0) to its place: points -> turn(points) + shift."""
    turn = Rotation.from_rotvec([0.0, yaw, 0.0]).as_matrix()
    return lambda pts: np.asarray(pts, np.float64) @ turn.T + [where[0], 0.0, where[1]]


def _moved(posed, yaw: float, where: np.ndarray) -> Body:
    """A canonically posed person turned and moved as _placed does (for the placement test)."""
    return Body(_turn_and_shift(yaw, where)(posed.vertices), posed.faces)


def _moved_posed(posed: PosedPerson, person: Person, frame: int, yaw: float, where: np.ndarray) -> PosedPerson:
    """The canonically posed person as the placed `person` poses at `frame`.
    A turn about +Y and a shift on the ground is exactly what the root's
    orientation and translation do, and grounding (a vertical offset) commutes
    with both, so the placed body is the canonical mesh moved rigidly: no
    second body call (float32 rounding aside, the numbers posing the saved
    scene gives)."""
    move = _turn_and_shift(yaw, where)
    pose = pose_at(person, frame)
    return _with_points(posed, lambda pts: move(pts).astype(np.float32),
                        pose=replace(pose, transl=pose.transl + [0.0, posed.ground_offset, 0.0]))


def _positions(rng, n: int, spacing) -> np.ndarray:
    """Ground positions (x, z): each new person at a drawn spacing from a drawn earlier one."""
    pts = [np.zeros(2)]
    for _ in range(1, n):
        base = pts[rng.integers(len(pts))]
        angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(*spacing)
        pts.append(base + dist * np.array([math.cos(angle), math.sin(angle)]))
    pts = np.array(pts)
    return pts - pts.mean(0)


def _camera(rng, recipe, vertices: np.ndarray, frames: int) -> CameraSpec:
    """Focal length (log-uniform), a direction around the group (azimuth,
    elevation), roll, and the distance at which the group fills the drawn
    fraction of the image; principal point jittered."""
    c = recipe.camera
    W, H = c.size
    focal_mm = math.exp(rng.uniform(math.log(c.focal_mm[0]), math.log(c.focal_mm[1])))
    f_px = focal_mm / SENSOR_MM * W
    fill = rng.uniform(*c.fill)
    az, el = math.radians(rng.uniform(*c.azimuth_deg)), math.radians(rng.uniform(*c.elevation_deg))
    roll = math.radians(rng.uniform(*c.roll_deg))
    lo, hi = box(vertices)
    target = (lo + hi) / 2
    radius = float(np.linalg.norm(hi - lo)) / 2                  # the group's bounding sphere
    direction = np.array([math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)])
    j = c.principal_jitter
    intr = Intrinsics(fx=f_px, fy=f_px, cx=W / 2 + rng.uniform(-j, j) * W, cy=H / 2 + rng.uniform(-j, j) * H)
    # The distance at which the group's projected box fills `fill` of the
    # image (its larger side): start from the bounding sphere, then correct
    # twice by the measured projection (its size goes as 1 / distance).
    dist = max(f_px * 2 * radius / fill / min(W, H), radius + 0.3)
    sub = vertices[:: max(1, len(vertices) // 4000)]
    for _ in range(2):
        cam = Camera(K=_k(intr), extrinsic=look_at(target + dist * direction, target, roll), width=W, height=H)
        xy, z = cam.project(sub)
        if z.min() <= 0.05:
            break
        span = max(np.ptp(xy[:, 0]) / W, np.ptp(xy[:, 1]) / H)
        dist = max(dist * span / fill, radius + 0.3)
    position = target + dist * direction
    key = CameraKey(frame=0, position=position.tolist(), target=target.tolist(), roll=roll, focal_mm=focal_mm)
    return CameraSpec(width=W, height=H, sensor_width_mm=SENSOR_MM, intrinsics=intr, near=0.05,
                      far=max(100.0, dist + 4 * radius), keys=[key])


def _k(intr: Intrinsics) -> np.ndarray:
    return np.array([[intr.fx, 0.0, intr.cx], [0.0, intr.fy, intr.cy], [0.0, 0.0, 1.0]])


def _prompt(rng, recipe, shapes) -> str:
    p = recipe.prompt
    people = [describe(s) for s in shapes]
    who = people[0] if len(people) == 1 else ", ".join(people[:-1]) + " and " + people[-1]
    slots = {"person": who, "people": who, "count": str(len(people))}
    for name in ("clothing", "place", "lighting", "style"):
        options = getattr(p, name)
        slots[name] = options[rng.integers(len(options))] if options else ""
    return p.template.format_map(_Slots(slots))


class _Slots(dict):
    def __missing__(self, key):          # an unknown slot stays visible instead of failing the run
        return "{" + key + "}"


def draw_sample(recipe, index: int, library: PoseLibrary, body_for, seed: int | None = None) -> Sample:
    seed = recipe.seed if seed is None else seed
    rng = sample_rngs(seed, index)
    lo, hi = recipe.people.count
    n = int(rng["people"].integers(lo, hi + 1))
    clips = [library.draw(rng["poses"]) for _ in range(n)]
    shapes = [draw_shape(rng["shapes"], recipe.shapes.population, recipe.shapes.gender) for _ in range(n)]
    frames = recipe.clip_frames
    check = sorted({0, frames // 2, frames - 1})
    people = [_person(k, clips[k], shapes[k], 0.0, np.zeros(2)) for k in range(n)]
    canonical = pose_people_frames(_scene(people, recipe, frames), range(frames), body_for)
    # What a preset rests on: "air" stays up by the preset's height (grounded
    # first, so any body shape), props fitted to the body (canonical frame).
    lifts = [canonical[0][k].ground_offset + clips[k].air_m if clips[k].contact == "air" else None
             for k in range(n)]
    canonical = [[p if lifts[k] is None else _lifted(p, clips[k].air_m) for k, p in enumerate(frame)]
                 for frame in canonical]
    props = [fitted_props(canonical_props(clips[k]), [frame[k].vertices for frame in canonical],
                          canonical[0][k].part_labels) if clips[k].props else [] for k in range(n)]
    tries = 0
    while True:
        # Each try moves the canonically posed meshes rigidly (a turn about +Y
        # and a shift on the ground is exactly what the root parameters do),
        # so the final layout is never posed again.
        tries += 1
        where = _positions(rng["placement"], n, recipe.placement.spacing_m)
        yaws = rng["placement"].uniform(-math.pi, math.pi, n)
        if n == 1:
            break
        moved = [[_moved(canonical[f][k], yaws[k], where[k]) for k in range(n)] for f in check]
        solids = [[PropSolid(moved_prop(p, yaws[k], where[k])) for p in props[k]] for k in range(n)]
        if not _clash(moved, solids):
            break
        if tries >= recipe.placement.max_tries:   # give up on this many people: one fewer
            n -= 1
            clips, shapes, lifts, props = clips[:n], shapes[:n], lifts[:n], props[:n]
            canonical = [frame[:n] for frame in canonical]
    people = [_person(k, clips[k], shapes[k], yaws[k], where[k], lifts[k]) for k in range(n)]
    placed_props = [moved_prop(p, yaws[k], where[k], f"{p.name} ({people[k].name})")
                    for k in range(n) for p in props[k]]
    scene = _scene(people, recipe, frames, placed_props)
    posed = [[_moved_posed(canonical[f][k], people[k], f, yaws[k], where[k]) for k in range(n)]
             for f in range(frames)]
    verts = np.concatenate([p.vertices for frame in posed for p in frame]
                           + [place_prop(q, i, 0).vertices for i, q in enumerate(placed_props)])
    camera = _camera(rng["camera"], recipe, verts, frames)
    prompt = _prompt(rng["prompt"], recipe, shapes)
    g = recipe.generation
    gen_seed = recipe.seed if g.seed_policy == "fixed" else int(rng["prompt"].integers(0, 2**63 - 1))
    scene = scene.model_copy(update={"camera": camera, "generation": Generation(
        model=g.model or "none", prompt=prompt, negative_prompt=recipe.prompt.negative, seed=gen_seed,
        steps=g.steps, guidance=g.guidance, controls=[_control(k, g) for k in g.controls],
        identity=_identity(g.identity))})
    return Sample(index, scene, posed, prompt, recipe.prompt.negative, gen_seed, tries,
                  tuple(c.name for c in clips))


def _control(kind: str, g) -> dict:
    return {"kind": kind, "openpose": g.openpose} if kind == "openpose" else {"kind": kind}


@functools.lru_cache(maxsize=4)
def _identity(ident):
    """The recipe's identity as the scene stores it (path + sha256, read once per run)."""
    if ident is None:
        return None
    from posebooth.frame.identity import make_identity_reference

    return make_identity_reference(ident.image, ident.scale)
