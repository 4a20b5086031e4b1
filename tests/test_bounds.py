"""scene.bounds boxes point sets column by column (for speed); numpy's own
axis reductions are the reference."""
import numpy as np
import pytest

from posebooth.scene.bounds import box, in_box


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_box_and_in_box_match_numpy_axis_reductions(dtype):
    rng = np.random.default_rng(0)
    pts = (rng.normal(size=(5000, 3)) * [1.0, 3.0, 0.5]).astype(dtype)
    lo, hi = box(pts)
    assert lo.dtype == dtype and hi.dtype == dtype
    np.testing.assert_array_equal(lo, pts.min(axis=0))
    np.testing.assert_array_equal(hi, pts.max(axis=0))
    a, b = np.array([-0.5, -1.0, -0.2]), np.array([0.7, 2.0, 0.1])
    np.testing.assert_array_equal(in_box(pts, a, b), np.all((pts >= a) & (pts <= b), axis=1))
    # bounds are included, and a view (not a copy) boxes the same
    assert in_box(pts[:1], pts[0], pts[0])[0]
    np.testing.assert_array_equal(box(pts[::7])[0], pts[::7].min(axis=0))


def test_box_propagates_nan_like_numpy():
    pts = np.array([[0.0, 1.0, 2.0], [np.nan, 0.0, 1.0]])
    np.testing.assert_array_equal(np.isnan(box(pts)[0]), np.isnan(pts.min(axis=0)))
