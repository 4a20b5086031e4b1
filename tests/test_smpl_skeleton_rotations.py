"""The kinematic chain's axis-angle -> matrix conversion (Rodrigues, written
out to keep scipy.spatial out of the app's first frame) against scipy's Rotation."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
from scipy.spatial.transform import Rotation

from posebooth.assets.smpl_skeleton import rotation_matrices


def test_agrees_with_scipy_over_all_angles_and_near_zero():
    rng = np.random.default_rng(7)
    axes = rng.normal(size=(400, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.concatenate([rng.uniform(0, 2 * np.pi, 300), [0.0, 1e-12, 1e-9, 1e-6, 1e-5, 1e-4, 1e-3],
                             [np.pi - 1e-9, np.pi, np.pi + 1e-9], rng.uniform(1e-5, 1e-3, 90)])
    rotvecs = axes * angles[:, None]
    got = rotation_matrices(rotvecs)
    want = Rotation.from_rotvec(rotvecs).as_matrix()
    assert np.abs(got - want).max() < 2e-15
    # Proper rotations: orthonormal with determinant +1.
    assert np.abs(got @ np.swapaxes(got, -1, -2) - np.eye(3)).max() < 1e-14
    assert np.allclose(np.linalg.det(got), 1.0, atol=1e-14)


def test_keeps_leading_shape_and_exact_identity():
    rotvecs = np.zeros((2, 5, 24, 3))
    got = rotation_matrices(rotvecs)
    assert got.shape == (2, 5, 24, 3, 3)
    assert np.array_equal(got, np.broadcast_to(np.eye(3), got.shape))
    one = rotation_matrices([0.0, 0.0, np.pi / 2])
    assert one.shape == (3, 3) and np.allclose(one @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-15)


def test_drawing_a_posed_skeleton_and_its_hands_needs_no_scipy():
    code = ("import sys, numpy as np\n"
            "from posebooth.assets.hand_chain import hand_world\n"
            "from posebooth.assets.starter import starter_scene\n"
            "from posebooth.scene.tracks import pose_at\n"
            "pose = pose_at(starter_scene().people[0], 0)\n"
            "for side in ('left', 'right'):\n"
            "    pts, rots, wrist = hand_world(pose, side)\n"
            "    assert np.isfinite(pts).all()\n"
            "print('scipy.spatial' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "False"
