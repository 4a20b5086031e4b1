"""SMPL, SMPL-H and SMPL-X bodies through the optional `smplx` package.

The model files are licensed (free registration, non-commercial research
licence): PoseBooth never ships or downloads them. The user puts them in a
folder laid out as smplx expects and points PoseBooth at it (argument, else
$POSEBOOTH_SMPL_DIR):

    <dir>/smpl/SMPL_NEUTRAL.pkl   (or .npz; also _MALE, _FEMALE)
    <dir>/smplh/SMPLH_NEUTRAL.npz (or .pkl)
    <dir>/smplx/SMPLX_NEUTRAL.npz (or .pkl)

Conventions: SMPL's model frame is already PoseBooth's (Y up, facing +Z).
PoseBooth's transl is the pelvis world position while smplx's transl is
added to the rest-posed model, whose pelvis sits at J0(betas); so smplx gets
transl - J0(betas). SMPL-H/X have no SMPL hand joints (22/23): their 24-joint
output uses the middle finger's first joint (the knuckle, a little beyond where
SMPL puts its hand joint). Their fingers take the MANO-15 hand poses, and
SMPL's hand rotation (body_pose rows 21/22) turns the four fingers at their
knuckles on top (R = R_hand R_mano), as on anny. SMPL-X's own expression
coefficients pass through as the expression weights named smplx_expr0, ...
Part labels: the joint with the largest
skinning weight, fingers mapped to SMPL's hand parts, jaw and eyes to head.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import threading
from pathlib import Path

import numpy as np

from posebooth.assets.body import BodyModelError, BodyOutput
from posebooth.assets.smpl_files import read_model_file
from posebooth.assets.smpl_skeleton import COCO17_FROM_SMPL

KINDS = ("smpl", "smplh", "smplx")
GENDERS = ("neutral", "male", "female")
ENV_DIR = "POSEBOOTH_SMPL_DIR"
INSTALL_HINT = 'pip install "posebooth[smpl]"'

_STEM = {"smpl": "SMPL", "smplh": "SMPLH", "smplx": "SMPLX"}
_EXTS = {"smpl": ("pkl", "npz"), "smplh": ("npz", "pkl"), "smplx": ("npz", "pkl")}
_WHERE = {
    "smpl": "https://smpl.is.tue.mpg.de (SMPL for Python; rename e.g. "
            "basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl to SMPL_NEUTRAL.pkl)",
    "smplh": "https://mano.is.tue.mpg.de (the extended SMPL+H model, as used by AMASS; "
             "e.g. neutral/model.npz renamed to SMPLH_NEUTRAL.npz)",
    "smplx": "https://smpl-x.is.tue.mpg.de (SMPL-X model, .npz)",
}
# Joints of the model that stand in for SMPL's 24: body 0..21, then the left and
# right middle-finger knuckles (SMPL-H: 22 + 3 and 37 + 3; SMPL-X: 25 + 3 and 40 + 3).
_SMPL24 = {"smpl": list(range(24)), "smplh": list(range(22)) + [25, 40], "smplx": list(range(22)) + [28, 43]}
_NUM_JOINTS = {"smpl": 24, "smplh": 52, "smplx": 55}
# The 21 hand points (hand_skeleton.HAND21_NAMES) among the model's joints:
# wrist, then thumb, index, middle, ring, pinky (3 joints each, MANO order in
# the model: index 0-2, middle 3-5, pinky 6-8, ring 9-11, thumb 12-14); the
# fingertips are smplx's fingertip vertices.
_FIRST_FINGER = {"smplh": (22, 37), "smplx": (25, 40)}
_HAND21_MANO = (12, 13, 14, 0, 1, 2, 3, 4, 5, 9, 10, 11, 6, 7, 8)
_TIP_NAMES = ("thumb", "index", "middle", "ring", "pinky")


def smplx_installed() -> bool:
    return importlib.util.find_spec("smplx") is not None


def resolve_model_dir(model_dir: str | os.PathLike | None = None) -> Path | None:
    """The SMPL model folder: the argument, else $POSEBOOTH_SMPL_DIR, else None."""
    if model_dir is not None:
        return Path(model_dir).expanduser()
    env = os.environ.get(ENV_DIR)
    return Path(env).expanduser() if env else None


def expected_files(kind: str, gender: str) -> list[str]:
    """Paths, relative to the model folder, that are searched in this order."""
    return [f"{kind}/{_STEM[kind]}_{gender.upper()}.{ext}" for ext in _EXTS[kind]]


def find_model_file(kind: str, gender: str, model_dir: str | os.PathLike | None = None) -> Path | None:
    root = resolve_model_dir(model_dir)
    if root is None:
        return None
    for rel in expected_files(kind, gender):
        if (root / rel).is_file():
            return root / rel
    return None


def _missing_message(kind: str, gender: str, root: Path | None) -> str:
    files = " or ".join(expected_files(kind, gender))
    where = (f"in {root}" if root is not None
             else f"in a folder you pass as model_dir or name in ${ENV_DIR}")
    return (f"The {kind.upper()} body needs the licensed model file {files} {where}. "
            f"Get it from {_WHERE[kind]} (free registration; accept the model's licence), then put it "
            f"at <folder>/{expected_files(kind, gender)[0]}. PoseBooth never downloads or ships these files.")


_smplx_lock = threading.Lock()


@contextlib.contextmanager
def _smplx_given(data: dict):
    """While smplx.SMPLX is built, its `pickle.load` returns `data` (already read by
    smpl_files) instead of unpickling the file: SMPLX has no data_struct argument."""
    import smplx.body_models as body_models

    class _Given:
        @staticmethod
        def load(file, **kwargs):
            return dict(data)

    with _smplx_lock:
        saved = body_models.pickle
        body_models.pickle = _Given
        try:
            yield
        finally:
            body_models.pickle = saved


class SmplBody:
    """A BodyModel backed by smplx's SMPL / SMPLH / SMPLX classes."""

    def __init__(self, kind: str = "smpl", gender: str = "neutral",
                 model_dir: str | os.PathLike | None = None, num_betas: int = 10):
        if kind not in KINDS:
            raise BodyModelError(f"unknown SMPL-family body {kind!r}; use one of {', '.join(KINDS)}")
        if gender not in GENDERS:
            raise BodyModelError(f"unknown gender {gender!r}; use one of {', '.join(GENDERS)}")
        try:
            import smplx
            import torch
        except ImportError:
            smplx = None
        root = resolve_model_dir(model_dir)
        path = find_model_file(kind, gender, root)
        problems = []  # report both at once: a new user usually lacks both
        if smplx is None:
            problems.append(f"The {kind.upper()} body needs the optional smplx package: "
                            f"{INSTALL_HINT}  (smplx's own licence is non-commercial).")
        if path is None:
            problems.append(_missing_message(kind, gender, root))
        if problems:
            raise BodyModelError(" ".join(problems))
        self.name, self.kind, self.gender, self.path = kind, kind, gender, path
        self._torch = torch
        self._model = self._load(smplx, torch, path, num_betas)
        m = self._model
        if m.J_regressor.shape[0] != _NUM_JOINTS[kind]:
            raise BodyModelError(f"{path}: has {m.J_regressor.shape[0]} joints; a {kind.upper()} model "
                                 f"has {_NUM_JOINTS[kind]}. Is it the right file?")
        try:
            from importlib.metadata import version
            self.version = f"smplx {version('smplx')} {path.name}"
        except Exception:  # metadata missing in odd installs: the file name is what matters
            self.version = f"smplx {path.name}"
        self.faces = np.asarray(m.faces, dtype=np.int32)
        self.part_labels = self._part_labels()
        self.shape_names = tuple(f"beta{i}" for i in range(m.num_betas))
        self.default_shape = np.zeros(m.num_betas, dtype=np.float32)
        # Rest pelvis J0(betas) = J0 template + dirs @ betas (J_regressor is linear).
        reg0 = m.J_regressor[0]
        self._j0 = (reg0 @ m.v_template).double()
        self._j0_dirs = torch.einsum("v,vkl->kl", reg0, m.shapedirs).double()
        from smplx.vertex_ids import vertex_ids
        ids = vertex_ids["smplx" if kind == "smplx" else "smplh"]
        self._face_ids = [ids[k] for k in ("nose", "leye", "reye", "lear", "rear")]
        self.expression_names = (tuple(f"smplx_expr{i}" for i in range(m.num_expression_coeffs))
                                 if kind == "smplx" else ())
        if kind != "smpl":
            first = _FIRST_FINGER[kind]
            self._hand_joints = [[20 + s] + [first[s] + j for j in _HAND21_MANO] for s in (0, 1)]
            self._tip_ids = [[ids[f"{'lr'[s]}{t}"] for t in _TIP_NAMES] for s in (0, 1)]

    def _load(self, smplx, torch, path: Path, num_betas: int):
        # smplx would unpickle the file itself (pickle.load, np.load(allow_pickle=True)), which
        # runs any code a file names: PoseBooth reads it (smpl_files) and hands smplx the arrays.
        data = read_model_file(path, self.kind.upper())
        kw = dict(gender=self.gender, num_betas=num_betas, batch_size=1, dtype=torch.float32)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # smplx prints shape-space warnings
                if self.kind == "smpl":
                    return smplx.SMPL(model_path=str(path), data_struct=smplx.utils.Struct(**data), **kw)
                if self.kind == "smplh":
                    return smplx.SMPLH(model_path=str(path), data_struct=smplx.utils.Struct(**data),
                                       use_pca=False, flat_hand_mean=True, **kw)
                with _smplx_given(data):  # SMPLX takes no data_struct: it "unpickles" the arrays read
                    return smplx.SMPLX(model_path=str(path), ext="pkl", use_pca=False, flat_hand_mean=True, **kw)
        except Exception as e:  # a damaged or foreign file: say which and why, on one line
            raise BodyModelError(f"{path}: not a usable {self.kind.upper()} model file "
                                 f"({type(e).__name__}: {' '.join(str(e).split())[:300]})") from None

    @property
    def torch_model(self):
        """smplx's module (CPU, float32): the buffers dataset.fit_smpl poses with gradients."""
        return self._model

    @property
    def smpl24(self) -> list[int]:
        """The model's joints that stand in for SMPL's 24 (see _SMPL24)."""
        return list(_SMPL24[self.kind])

    def _part_labels(self) -> np.ndarray:
        """SMPL part of each vertex: argmax skinning weight, extra joints mapped to an SMPL part."""
        parents = self._model.parents.numpy().tolist()
        to_smpl = []
        for j in range(len(parents)):
            k = j
            while k >= 22:  # climb to a body joint: wrists mean hands, the head means head
                k = parents[k]
            to_smpl.append(k if j < 22 else {20: 22, 21: 23}.get(k, k))
        labels = np.asarray(to_smpl)[self._model.lbs_weights.argmax(dim=1).numpy()]
        return labels.astype(np.uint8)

    def _hands(self, bp: np.ndarray, left, right) -> list[np.ndarray]:
        """The MANO-15 poses smplx gets: SMPL's hand joint composed into the four fingers' knuckles."""
        from posebooth.assets.hand_skeleton import HAND_JOINT_INDEX
        from posebooth.scene.rotation import Rotation

        b = bp.shape[0]
        out = []
        for hand, row in ((left, 21), (right, 22)):
            pose = np.zeros((b, 15, 3)) if hand is None else np.asarray(hand, np.float64).reshape(b, 15, 3).copy()
            if np.any(bp[:, row]):
                mcp = [HAND_JOINT_INDEX[f"{f}1"] for f in ("index", "middle", "ring", "pinky")]
                turn = Rotation.from_rotvec(np.repeat(bp[:, row], len(mcp), 0))
                pose[:, mcp] = (turn * Rotation.from_rotvec(pose[:, mcp].reshape(-1, 3))).as_rotvec().reshape(b, -1, 3)
            out.append(pose.reshape(b, 45))
        return out

    def forward(self, global_orient, body_pose, transl, shape=None, left_hand_pose=None,
                right_hand_pose=None, expression=None) -> BodyOutput:
        torch, m = self._torch, self._model
        go = np.asarray(global_orient, dtype=np.float64).reshape(-1, 3)
        b = go.shape[0]
        bp = np.asarray(body_pose, dtype=np.float64).reshape(b, 23, 3)
        tr = np.asarray(transl, dtype=np.float64).reshape(b, 3)
        nb = len(self.shape_names)
        betas = np.zeros((b, nb)) if shape is None else np.asarray(shape, dtype=np.float64)
        if betas.ndim == 1:
            betas = np.broadcast_to(betas, (b, betas.shape[0])).copy()
        if betas.shape != (b, nb):
            raise BodyModelError(f"shape has shape {betas.shape}; this body takes {nb} betas per pose")
        t = lambda a: torch.from_numpy(np.array(a, dtype=np.float32))  # noqa: E731 (a writable copy)
        betas_t = t(betas)
        j0 = (self._j0 + betas_t.double() @ self._j0_dirs.T).numpy()
        n_body = 23 if self.kind == "smpl" else 21
        kw = dict(betas=betas_t, global_orient=t(go), body_pose=t(bp[:, :n_body].reshape(b, -1)), transl=t(tr - j0))
        if self.kind != "smpl":
            left, right = self._hands(bp, left_hand_pose, right_hand_pose)
            kw.update(left_hand_pose=t(left), right_hand_pose=t(right))
        if self.kind == "smplx":
            n = m.num_expression_coeffs
            expr = np.zeros((b, n)) if expression is None else np.broadcast_to(
                np.asarray(expression, np.float64).reshape(-1, n), (b, n))
            kw.update(jaw_pose=torch.zeros(b, 3), leye_pose=torch.zeros(b, 3), reye_pose=torch.zeros(b, 3),
                      expression=t(expr))
            m.batch_size = b  # smplx sizes its landmark buffers by this attribute
        with torch.no_grad():
            out = m(**kw)
        verts = out.vertices.numpy().astype(np.float32)
        joints = out.joints[:, _SMPL24[self.kind]].numpy().astype(np.float32)
        coco = np.zeros((b, 17, 3), dtype=np.float32)
        coco[:, :5] = verts[:, self._face_ids]
        for c, j in COCO17_FROM_SMPL.items():
            coco[:, c] = joints[:, j]
        hand21 = None
        if self.kind != "smpl":
            all_joints = out.joints.numpy().astype(np.float32)
            hand21 = np.stack([np.concatenate([all_joints[:, self._hand_joints[s]], verts[:, self._tip_ids[s]]], 1)
                               for s in (0, 1)], 1)
            order = [0] + [1 + 3 * f + k if k < 3 else 16 + f for f in range(5) for k in range(4)]
            hand21 = hand21[:, :, order]
        return BodyOutput(vertices=verts, joints=joints, coco17=coco, hand21=hand21)
