"""What a preset's pose rests on, in a sample: its props (the seat of
"sitting") fitted to the drawn body, then moved rigidly with the person.

A preset places its props for the generic skeleton, but a sample draws body
shapes (short legs, long legs), so a seat at the preset's height would cut
into some people and float under others. A seat block is therefore fitted
to the person's canonically posed, grounded body, in the seat's own frame:
its top is the lowest point of the pelvis and thighs over it, and its front
(or back) edge is cut back from whatever else hangs lower over it (the shins
and feet of short legs), 1 cm clear. A seat that no longer carries the body
(under 15 cm high or deep) is left out. Other primitives stand where the
preset puts them.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from posebooth.scene.props import Prop

SEAT_PARTS = (0, 1, 2)    # SMPL part labels a seat carries: pelvis, left and right thigh
GAP_M = 0.01              # clearance of a cut seat edge from the shins
MIN_SEAT_M = 0.15         # a lower or shallower seat carries nobody: left out
_CUTS = 4


def canonical_props(clip) -> list[Prop]:
    """The clip's props where the canonically placed clip (sampling._placed
    with yaw 0, its first pelvis over x = z = 0) has them."""
    origin = np.asarray(clip.transl[0], np.float64) * [1.0, 0.0, 1.0]
    return [_with(p, position=(np.asarray(p.position) - origin).tolist()) for p in clip.props]


def fitted_props(props, frames, labels) -> list[Prop]:
    """`props` fitted to one person's posed `frames` (vertex arrays, canonical
    frame) with per-vertex part `labels`: seats fitted, the rest as they are."""
    out = []
    for prop in props:
        prop = _fitted_seat(prop, frames, labels) if prop.kind == "seat" else prop
        if prop is not None:
            out.append(prop)
    return out


def _fitted_seat(prop: Prop, frames, labels) -> Prop | None:
    turn = Rotation.from_rotvec(prop.rotation).as_matrix()
    scale = np.asarray(prop.scale, np.float64)
    local = (np.concatenate([np.asarray(v, np.float64) for v in frames]) - prop.position) @ turn / scale
    x, y, z = local.T
    carried = np.isin(np.tile(np.asarray(labels), len(frames)), SEAT_PARTS)
    w, _, d = prop.size
    across = np.abs(x) <= w / 2
    lo, hi = -d / 2, d / 2
    for _ in range(_CUTS):
        over = across & (z >= lo) & (z <= hi)
        seat = over & carried
        if not seat.any():
            return None
        top = float(y[seat].min())
        below = over & (y < top)
        if not below.any():
            break
        centre, zb = float(np.median(z[seat])), z[below]
        if (zb > centre).any():
            hi = min(hi, float(zb[zb > centre].min()) - GAP_M / scale[2])
        if (zb <= centre).any():
            lo = max(lo, float(zb[zb <= centre].max()) + GAP_M / scale[2])
    else:
        return None
    if top * scale[1] < MIN_SEAT_M or (hi - lo) * scale[2] < MIN_SEAT_M:
        return None
    centre = np.asarray(prop.position) + turn @ (scale * [0.0, 0.0, (lo + hi) / 2])
    return _with(prop, size=[float(w), top, float(hi - lo)], position=centre.tolist())


def moved_prop(prop: Prop, yaw: float, where, name: str | None = None) -> Prop:
    """The canonically placed prop turned by `yaw` about +Y and shifted to
    `where` (x, z): the rigid motion sampling applies to the person's body."""
    turn = Rotation.from_rotvec([0.0, yaw, 0.0])
    position = np.asarray(prop.position, np.float64) @ turn.as_matrix().T + [where[0], 0.0, where[1]]
    rotation = (turn * Rotation.from_rotvec(prop.rotation)).as_rotvec()
    return _with(prop, position=position.tolist(), rotation=rotation.tolist(), name=name or prop.name)


def _with(prop: Prop, **fields) -> Prop:
    """A validated copy of `prop` with `fields` changed."""
    return Prop.model_validate({**prop.model_dump(), **fields})
