"""The fidelity score's maths (frame.fidelity) with injected estimators, against
hand-computed expectations and an independent least-squares fit."""
from __future__ import annotations

import numpy as np
import pytest

from posebooth.frame.fidelity import NOT_SCORED, depth_agreement, pck, score_frame

H, W = 64, 96


def _person_depth(cx: float, cy: float, r: float, z0: float) -> tuple[np.ndarray, np.ndarray]:
    """A half-ellipsoid 'body' facing the camera: depth (m) and its mask."""
    yy, xx = np.mgrid[0:H, 0:W] + 0.5
    q = ((xx - cx) / r) ** 2 + ((yy - cy) / (1.6 * r)) ** 2
    mask = q < 1
    depth = np.where(mask, z0 - 0.3 * np.sqrt(np.clip(1 - q, 0, 1)), 0.0)
    return depth, mask


def _keypoints(x0: float, y0: float, w: float, h: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kp = np.zeros((17, 3))
    kp[:, 0] = x0 + rng.uniform(0.1, 0.9, 17) * w
    kp[:, 1] = y0 + rng.uniform(0.1, 0.9, 17) * h
    kp[:, 2] = 2
    return kp


@pytest.fixture(scope="module")
def two_people():
    """Person 1 in front (left), person 2 behind and partly hidden by person 1."""
    d1, m1 = _person_depth(35, 32, 14, 3.0)
    d2, m2 = _person_depth(50, 30, 14, 4.0)
    depth = np.where(m1, d1, np.where(m2, d2, 0.0))
    instance = np.where(m1, 1, np.where(m2, 2, 0)).astype(np.uint8)
    coco = np.stack([_keypoints(21, 10, 28, 44, 1), _keypoints(36, 8, 28, 44, 2)])
    # Person 2's keypoints inside person 1's silhouette are occluded (v = 1).
    xi, yi = coco[1, :, 0].astype(int), coco[1, :, 1].astype(int)
    coco[1, instance[yi, xi] == 1, 2] = 1
    coco[1, 0, 2] = 0   # and one outside the image, say
    bbox = np.zeros((2, 4))
    for k in (1, 2):
        ys, xs = np.nonzero(instance == k)
        bbox[k - 1] = [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]
    return depth, instance, coco, bbox


def test_the_test_frame_has_a_hidden_person(two_people):
    depth, instance, coco, bbox = two_people
    assert (coco[1, :, 2] == 1).sum() >= 3 and (coco[1, :, 2] == 2).sum() >= 3


def perfect(coco):
    """Estimators returning the ground truth (depth: any positive affine map of 1/z)."""
    def pose(image, boxes):
        assert boxes.shape[1] == 4
        return coco[: len(boxes), :, :2].copy()

    def depth_est(depth):
        return lambda image: np.where(depth > 0, 3.0 / np.maximum(depth, 1e-9) + 7.0, 0.0)
    return pose, depth_est


def test_a_perfect_estimator_scores_one(two_people):
    depth, instance, coco, bbox = two_people
    pose, depth_est = perfect(coco)
    image = np.zeros((H, W, 3), np.uint8)
    s = score_frame(image, coco, bbox, depth, instance, pose=pose, depth=depth_est(depth))
    assert s.pck.tolist() == [1.0, 1.0]
    np.testing.assert_allclose(s.depth, [1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(s.fidelity, [1.0, 1.0], atol=1e-6)


def test_shifted_keypoints_lower_pck_as_hand_maths_says(two_people):
    depth, instance, coco, bbox = two_people
    diag = np.hypot(bbox[0, 2], bbox[0, 3])
    limit = 0.05 * diag
    # Person 1: 17 visible keypoints. Shift 6 of them just past the limit,
    # 4 just inside it, along various directions; the rest stay exact.
    angles = np.linspace(0, 2 * np.pi, 17, endpoint=False)
    dist = np.zeros(17)
    dist[:6] = 1.02 * limit
    dist[6:10] = 0.98 * limit
    pred = coco[0, :, :2] + dist[:, None] * np.stack([np.cos(angles), np.sin(angles)], 1)
    assert pck(pred, coco[0], bbox[0]) == pytest.approx((17 - 6) / 17)
    # Moving all of them by 2 x the limit: nothing counts.
    assert pck(coco[0, :, :2] + 2 * limit, coco[0], bbox[0]) == 0.0


def test_inverted_depth_scores_low(two_people):
    depth, instance, coco, bbox = two_people
    mask = instance == 1
    far_is_bright = np.where(depth > 0, depth, 0.0)          # depth instead of inverse depth
    negated = np.where(depth > 0, -1.0 / np.maximum(depth, 1e-9), 0.0)
    assert depth_agreement(far_is_bright, depth, mask) == 0.0
    assert depth_agreement(negated, depth, mask) == 0.0
    assert depth_agreement(np.full((H, W), 5.0), depth, mask) == 0.0   # flat: no agreement


def test_depth_score_is_the_correlation_a_least_squares_fit_explains(two_people):
    """Independent reference: r^2 = 1 - SSE/SST of a least-squares scale/shift fit
    (numpy's lstsq) of the prediction to 1/z over the eroded mask."""
    from scipy.ndimage import binary_erosion

    depth, instance, coco, bbox = two_people
    mask = instance == 1
    rng = np.random.default_rng(5)
    pred = np.where(depth > 0, 2.0 / np.maximum(depth, 1e-9), 0) + rng.normal(0, 0.02, depth.shape)
    score = depth_agreement(pred, depth, mask)
    m = binary_erosion(mask)
    A = np.stack([pred[m], np.ones(m.sum())], 1)
    g = 1.0 / depth[m]
    coef, res, *_ = np.linalg.lstsq(A, g, rcond=None)
    r2 = 1 - res[0] / ((g - g.mean()) ** 2).sum()
    assert coef[0] > 0 and 0.2 < score < 0.999
    assert score ** 2 == pytest.approx(r2, rel=1e-9)


def test_a_hidden_person_is_scored_on_visible_joints_only(two_people):
    depth, instance, coco, bbox = two_people
    hidden = coco[1, :, 2] != 2

    def pose(image, boxes):
        out = coco[:, :, :2].copy()
        out[1, hidden] += 40.0      # far off wherever the joint is not visible
        return out

    s = score_frame(np.zeros((H, W, 3), np.uint8), coco, bbox, depth, instance, pose=pose)
    assert s.pck.tolist() == [1.0, 1.0]
    # Its depth is compared inside its visible mask only: an estimator that is
    # right there and wrong under person 1 still scores 1 for person 2.
    est = np.where(depth > 0, 1.0 / np.maximum(depth, 1e-9), 0.0)
    est[instance == 1] = -est[instance == 1]
    s = score_frame(np.zeros((H, W, 3), np.uint8), coco, bbox, depth, instance, depth=lambda im: est)
    assert s.depth[1] == pytest.approx(1.0) and s.depth[0] == 0.0
    assert s.pck.tolist() == [NOT_SCORED, NOT_SCORED]   # no pose estimator: not scored
    np.testing.assert_allclose(s.fidelity, s.depth)   # the one score that exists


def test_fidelity_is_the_geometric_mean(two_people):
    depth, instance, coco, bbox = two_people
    limit = 0.05 * np.hypot(bbox[0, 2], bbox[0, 3])

    def pose(image, boxes):
        out = coco[:, :, :2].copy()
        out[0, :9] += 2 * limit            # 8 of 17 keypoints of person 1 remain right
        return out
    _, depth_est = perfect(coco)
    s = score_frame(np.zeros((H, W, 3), np.uint8), coco, bbox, depth, instance, pose=pose,
                    depth=depth_est(depth))
    assert s.pck[0] == pytest.approx(8 / 17)
    assert s.fidelity[0] == pytest.approx(np.sqrt(8 / 17 * 1.0), rel=1e-6)
    assert s.frame_fidelity() == pytest.approx(np.sqrt(8 / 17), rel=1e-6)   # the worst person


def test_an_invisible_person_is_not_scored():
    coco = np.zeros((1, 17, 3))
    s = score_frame(np.zeros((H, W, 3), np.uint8), coco, np.zeros((1, 4)), np.zeros((H, W)),
                    np.zeros((H, W), np.uint8), pose=lambda im, b: pytest.fail("no box to estimate"),
                    depth=lambda im: pytest.fail("no mask to compare"))
    assert s.fidelity.tolist() == s.pck.tolist() == s.depth.tolist() == [NOT_SCORED]
    assert s.frame_fidelity() == NOT_SCORED


@pytest.mark.hostile
def test_an_estimator_of_the_wrong_shape_is_one_clear_error(two_people):
    depth, instance, coco, bbox = two_people
    with pytest.raises(ValueError, match=r"keypoints shaped \(2, 5, 2\), expected \(2, 17, 2\)"):
        score_frame(np.zeros((H, W, 3), np.uint8), coco, bbox, depth, instance,
                    pose=lambda im, b: np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match=r"depth estimator returned a map shaped \(32, 32\)"):
        score_frame(np.zeros((H, W, 3), np.uint8), coco, bbox, depth, instance,
                    depth=lambda im: np.zeros((32, 32)))
