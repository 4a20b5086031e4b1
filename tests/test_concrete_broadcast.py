"""assets.anny_body replaces torch.broadcast_shapes with a sympy-free path for
plain integer shapes (0.3 s of start-up): it must agree with torch's own
(torch.functional.broadcast_shapes, left untouched) on results and errors."""
import itertools

import numpy as np
import pytest
import torch

from posebooth.assets.anny_body import _install_concrete_broadcast_shapes

_install_concrete_broadcast_shapes()
TORCHS = torch.functional.broadcast_shapes


def test_it_is_installed_and_kept_once():
    assert torch.broadcast_shapes is not TORCHS and torch.broadcast_shapes._posebooth_concrete
    installed = torch.broadcast_shapes
    _install_concrete_broadcast_shapes()
    assert torch.broadcast_shapes is installed


def test_the_same_shapes_as_torch():
    rng = np.random.default_rng(0)
    cases = [((2,), (3, 1), (1, 1, 1)), (torch.Size([4, 1]), 3), ((), (5,)), (7,), ((0, 1), (1, 3))]
    for _ in range(200):
        n = int(rng.integers(1, 4))
        base = [int(v) for v in rng.integers(0, 4, rng.integers(0, 4))]
        cases.append(tuple(tuple(1 if rng.random() < 0.3 else d for d in base[int(rng.integers(0, len(base) + 1)):])
                           for _ in range(n)))
    for shapes in cases:
        assert torch.broadcast_shapes(*shapes) == TORCHS(*shapes), shapes
        assert isinstance(torch.broadcast_shapes(*shapes), torch.Size)


@pytest.mark.parametrize("shapes", [((2,), (3,)), ((2, 3), (3, 2)), ((4,), (1, 5), (2, 1))])
def test_the_same_errors_as_torch(shapes):
    with pytest.raises(RuntimeError):
        TORCHS(*shapes)
    with pytest.raises(RuntimeError):
        torch.broadcast_shapes(*shapes)


def test_anything_but_plain_integers_goes_to_torch():
    calls = []
    original = torch.broadcast_shapes.__closure__
    assert any(c.cell_contents is TORCHS for c in original)   # the fallback is torch's own
    for a, b in itertools.product([(2, 1)], [torch.Size([1, 3])]):
        calls.append(torch.broadcast_shapes(a, b))
    assert calls == [torch.Size([2, 3])]
