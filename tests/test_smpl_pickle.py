"""The user's SMPL-family model files are read without running code from them.

A .pkl goes through a restricted unpickler (numpy arrays, scipy sparse
matrices and chumpy `Ch` arrays only); an .npz through np.load(allow_pickle=
False). Reference: the same synthetic model (tests/test_smpl_body.py) saved as
an .npz, posed through smplx, must give the same vertices as its .pkl form
in the shape the official SMPL 1.0/1.1 files have (chumpy arrays, a sparse
J_regressor). Hostile pickles carry a payload that would create a marker
file: each must be refused with one line, and the marker must not exist.
"""
import builtins
import os
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp

from hostile_harness import assert_clear_error, run_cli
from posebooth.assets.body import BodyModelError
from posebooth.assets.smpl_body import SmplBody
from posebooth.assets.starter import starter_scene
from posebooth.scene.io import save_scene
from posebooth.scene.model import BodySpec
from test_smpl_body import needs_smplx, write_synthetic_model

STEM = {"smpl": "SMPL", "smplh": "SMPLH", "smplx": "SMPLX"}


class _Ch:
    """Pickles like chumpy.ch.Ch (module chumpy.ch, state dict with the array under "x")."""

    __module__, __qualname__ = "chumpy.ch", "Ch"

    def __init__(self, x):
        self.x, self._dirty_vars, self._itr, self._depends_on_deps = x, {"x"}, None, {}

    def __getstate__(self):
        return dict(self.__dict__)


def _dumps_with_fake_chumpy(obj, protocol, monkeypatch) -> bytes:
    """Pickle `obj` as if chumpy were installed; chumpy is gone again before anything loads it."""
    module, package = types.ModuleType("chumpy.ch"), types.ModuleType("chumpy")
    package.ch, module.Ch = module, _Ch
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "chumpy", package)
        m.setitem(sys.modules, "chumpy.ch", module)
        return pickle.dumps(obj, protocol=protocol)


def _official_style(npz_path, sparse=sp.csc_matrix) -> dict:
    """The arrays of a synthetic .npz in the official .pkl's shape: chumpy-wrapped
    template and blend shapes, a sparse joint regressor, a numpy scalar."""
    data = dict(np.load(npz_path))
    for key in ("v_template", "shapedirs", "posedirs"):
        data[key] = _Ch(data[key])
    data["J_regressor"] = sparse(data["J_regressor"])
    data["bs_style"], data["vert_sym_idxs"] = "lbs", np.arange(4, dtype=np.int64)
    return data


def _pose():
    rng = np.random.default_rng(7)
    return rng.normal(0, 0.3, (2, 3)), rng.normal(0, 0.3, (2, 23, 3)), rng.normal([0, 1, 0], 0.3, (2, 3))


@pytest.fixture(scope="module")
def npz_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("smpl_npz")
    for kind in STEM:
        write_synthetic_model(root, kind)
    return root


@needs_smplx
@pytest.mark.parametrize("kind, protocol, sparse", [
    ("smpl", 2, sp.csc_matrix), ("smpl", 0, sp.csc_matrix), ("smpl", 4, sp.csr_matrix),
    ("smplh", 2, sp.csc_matrix), ("smplx", 2, sp.csc_matrix), ("smplx", 5, sp.csc_matrix),
])
def test_official_style_pickle_loads_like_the_npz(npz_root, tmp_path, monkeypatch, kind, protocol, sparse):
    npz = npz_root / kind / f"{STEM[kind]}_NEUTRAL.npz"
    (tmp_path / kind).mkdir()
    pkl = tmp_path / kind / f"{STEM[kind]}_NEUTRAL.pkl"
    pkl.write_bytes(_dumps_with_fake_chumpy(_official_style(npz, sparse), protocol, monkeypatch))
    assert "chumpy" not in sys.modules
    # Nothing may unpickle the file but the restricted reader: not pickle.load, not np.load(allow_pickle=True).
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("plain pickle.load was called"))
    real_np_load = np.load
    monkeypatch.setattr(np, "load", lambda *a, allow_pickle=False, **k: real_np_load(*a, **k)
                        if not allow_pickle else pytest.fail("np.load(allow_pickle=True) was called"))
    from_pkl = SmplBody(kind, "neutral", tmp_path)
    from_npz = SmplBody(kind, "neutral", npz_root)
    assert from_pkl.path == pkl and from_npz.path == npz
    a, b = from_pkl.forward(*_pose()), from_npz.forward(*_pose())
    np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-6)
    np.testing.assert_allclose(a.joints, b.joints, atol=1e-6)
    assert "chumpy" not in sys.modules


def _payloads(marker):
    class System:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    class Open:
        def __reduce__(self):
            return builtins.open, (str(marker), "w")

    class Exec:
        def __reduce__(self):
            return builtins.exec, (f"open({str(marker)!r}, 'w').close()",)

    class Eval:
        def __reduce__(self):
            return builtins.eval, (f"open({str(marker)!r}, 'w')",)

    return {"system": System, "open": Open, "exec": Exec, "eval": Eval}


def _evil_model(npz_root, payload, where):
    data = dict(np.load(npz_root / "smpl" / "SMPL_NEUTRAL.npz"))
    if where == "top":
        return payload
    if where == "value":
        data["v_template"] = payload
    elif where == "inside_chumpy_array":
        data["v_template"] = _Ch(payload)
    elif where == "extra_key":
        data["joint2num"] = {"pelvis": payload}
    return data


@pytest.mark.hostile
@pytest.mark.parametrize("payload", ["system", "open", "exec", "eval"])
@pytest.mark.parametrize("where, protocol", [("top", 2), ("value", 0), ("inside_chumpy_array", 2),
                                             ("extra_key", 5)])
def test_pickle_payload_is_refused(npz_root, tmp_path, monkeypatch, payload, where, protocol):
    marker = tmp_path / "MARKER"
    evil = _payloads(marker)[payload]()
    (tmp_path / "smpl").mkdir()
    path = tmp_path / "smpl" / "SMPL_NEUTRAL.pkl"
    path.write_bytes(_dumps_with_fake_chumpy(_evil_model(npz_root, evil, where), protocol, monkeypatch))
    with pytest.raises(BodyModelError) as e:
        SmplBody("smpl", "neutral", tmp_path)
    message = str(e.value)
    assert str(path) in message and "refused" in message and "\n" not in message
    assert not marker.exists()


@pytest.mark.hostile
def test_other_codec_in_pickle_is_refused(tmp_path):
    """Python 3 writes bytes as _codecs.encode(text, "latin1"); no other codec is honoured."""
    (tmp_path / "smpl").mkdir()
    path = tmp_path / "smpl" / "SMPL_NEUTRAL.pkl"
    path.write_bytes(b"\x80\x02c_codecs\nencode\nq\x00X\x03\x00\x00\x00abcq\x01X\x05\x00\x00\x00rot13q\x02\x86q"
                     b"\x03Rq\x04.")
    with pytest.raises(BodyModelError, match="SMPL_NEUTRAL.pkl: refused: .*_codecs.encode with the codec 'rot13'"):
        SmplBody("smpl", "neutral", tmp_path)


@needs_smplx
@pytest.mark.hostile
def test_npz_object_members_are_never_unpickled(npz_root, tmp_path):
    """An object member (as SMPL-X's joint2num is) is skipped, so its payload never runs;
    one where an array belongs leaves the model incomplete: one clear line."""
    marker = tmp_path / "MARKER"
    evil = _payloads(marker)["system"]()
    data = dict(np.load(npz_root / "smpl" / "SMPL_NEUTRAL.npz"))
    (tmp_path / "extra" / "smpl").mkdir(parents=True)
    np.savez(tmp_path / "extra" / "smpl" / "SMPL_NEUTRAL.npz", **data, joint2num=np.array([evil], dtype=object))
    body = SmplBody("smpl", "neutral", tmp_path / "extra")
    assert body.forward(*_pose()).vertices.shape == (2, 6890, 3)
    data["shapedirs"] = np.array([evil], dtype=object)
    (tmp_path / "bad" / "smpl").mkdir(parents=True)
    np.savez(tmp_path / "bad" / "smpl" / "SMPL_NEUTRAL.npz", **data)
    with pytest.raises(BodyModelError, match="SMPL_NEUTRAL.npz: not a usable SMPL model file"):
        SmplBody("smpl", "neutral", tmp_path / "bad")
    assert not marker.exists()


@pytest.mark.hostile
def test_npz_member_claiming_a_huge_array_is_refused(tmp_path):
    """A member whose header claims 8 TB is refused before any of it is read."""
    import zipfile

    (tmp_path / "smpl").mkdir()
    path = tmp_path / "smpl" / "SMPL_NEUTRAL.npz"
    header = {"descr": "<f8", "fortran_order": False, "shape": (10 ** 6, 10 ** 6)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z, z.open("v_template.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(b"\0" * 4096)
    with pytest.raises(BodyModelError, match=r"SMPL_NEUTRAL.npz: not a usable SMPL model file \(v_template"):
        SmplBody("smpl", "neutral", tmp_path)


@needs_smplx
@pytest.mark.hostile
def test_pickle_payload_through_the_cli(tmp_path, monkeypatch, npz_root):
    """`render` of a scene with an SMPL body whose model file is a hostile pickle."""
    marker = tmp_path / "MARKER"
    (tmp_path / "models" / "smpl").mkdir(parents=True)
    pkl = tmp_path / "models" / "smpl" / "SMPL_NEUTRAL.pkl"
    evil = _payloads(marker)["system"]()
    pkl.write_bytes(_dumps_with_fake_chumpy(_evil_model(npz_root, evil, "inside_chumpy_array"), 2, monkeypatch))
    scene = starter_scene()
    scene.people[0].body = BodySpec(model="smpl")
    save_scene(scene, tmp_path / "scene.json")
    r = run_cli("render", str(tmp_path / "scene.json"), "--out", str(tmp_path / "out"), "--frames", "0",
                "--size", "64x64", "--quiet", "--processes", "1",
                env={"POSEBOOTH_SMPL_DIR": str(tmp_path / "models"), "HOME": str(tmp_path)})
    assert_clear_error(r, str(pkl), "refused", "posix.system")
    assert not marker.exists()
