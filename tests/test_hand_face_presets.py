"""Hand and face presets (resources/*.json) and `posebooth scene new --hands
--expression` / `posebooth scene presets`.

Truth: the preset files read here as plain JSON, the mirror rule written
here, anny's own list of facial actions."""
import json
from importlib import resources

import numpy as np
import pytest

from posebooth.assets.face_presets import FACE_PRESETS, FACIAL_ACTIONS, face_preset, parse_face_presets
from posebooth.assets.hand_presets import HAND_PRESETS, hand_preset, parse_hand_presets
from posebooth.cli.main import main
from posebooth.scene import load_scene

MANO = [f"{f}{k}" for f in ("index", "middle", "pinky", "ring", "thumb") for k in (1, 2, 3)]


def _resource(name):
    return json.loads(resources.files("posebooth").joinpath("resources", name).read_text())


def test_hand_presets_are_the_files_right_hands_and_their_mirrors():
    assert HAND_PRESETS == ("relaxed", "fist", "open", "point", "pinch", "grip", "v", "thumbs-up", "ok")
    entries = {p["name"]: p for p in _resource("hand_presets.json")["presets"]}
    assert set(entries) == set(HAND_PRESETS)
    for name in HAND_PRESETS:
        right = np.zeros((15, 3))
        for joint, rv in entries[name]["right"].items():
            right[MANO.index(joint)] = rv
        np.testing.assert_array_equal(hand_preset(name, "right"), right)
        np.testing.assert_array_equal(hand_preset(name, "left"), right * [1.0, -1.0, -1.0])
        assert hand_preset(name, "left").shape == (15, 3)
    assert not hand_preset("open", "left").any()     # open is the flat hand
    assert hand_preset("fist", "right")[MANO.index("middle2"), 2] > 1.0   # curled: about +Z on the right
    hand_preset("fist", "left")[0] = 99.0             # a fresh copy each time
    assert hand_preset("fist", "left")[0, 0] != 99.0
    with pytest.raises(KeyError, match="unknown hand preset 'claw'.*fist"):
        hand_preset("claw", "left")
    with pytest.raises(ValueError, match="left.*right"):
        hand_preset("fist", "both")


def test_face_presets_use_annys_facial_actions():
    from posebooth.assets.anny_body import import_anny
    import_anny()   # anny without TorchDynamo, as the app imports it
    from anny.models.facial_actions import FACIAL_ACTION_LABELS
    assert FACIAL_ACTIONS == tuple(FACIAL_ACTION_LABELS)
    assert FACE_PRESETS == ("neutral", "smile", "laugh", "surprise", "anger", "sadness", "eyes-closed", "wink")
    entries = {p["name"]: p["weights"] for p in _resource("face_presets.json")["presets"]}
    for name in FACE_PRESETS:
        assert face_preset(name) == {k: v for k, v in entries[name].items() if v}
        assert set(face_preset(name)) <= set(FACIAL_ACTION_LABELS)
    assert face_preset("neutral") == {}
    assert face_preset("eyes-closed") == {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}


@pytest.mark.hostile
@pytest.mark.parametrize("parse, text, where", [
    (parse_hand_presets, '{"format": "posebooth-hand-presets", "version": 1, "presets": '
                         '[{"name": "x", "label": "X", "description": "", "right": {"index4": [0, 0, 0]}}]}',
     "presets[0].right.index4"),
    (parse_hand_presets, '{"format": "posebooth-hand-presets", "version": 1, "presets": '
                         '[{"name": "x", "label": "X", "description": "", "right": {"index1": [0, 0, 1e400]}}]}',
     "too large"),
    (parse_face_presets, '{"format": "posebooth-face-presets", "version": 1, "presets": '
                         '[{"name": "x", "label": "X", "weights": {"jawOpen": 2.0}}]}', "presets[0].weights.jawOpen"),
    (parse_face_presets, '{"format": "posebooth-face-presets", "version": 1, "presets": '
                         '[{"name": "x", "label": "X", "weights": {"smileBig": 0.5}}]}', "presets[0].weights.smileBig"),
])
def test_bad_preset_files_name_file_and_field(parse, text, where):
    with pytest.raises(ValueError) as err:
        parse(text, "mine.json")
    msg = str(err.value)
    assert msg.startswith("mine.json") and where in msg and "\n" not in msg, msg


def test_cli_new_with_hands_and_expression(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["scene", "new", str(out), "--people", "2", "--preset", "standing", "--hands", "fist",
                 "--expression", "smile"]) == 0
    scene = load_scene(out)
    for person in scene.people:
        key = person.keys[0]
        np.testing.assert_allclose(np.reshape(key.left_hand_pose, (15, 3)), hand_preset("fist", "left"))
        np.testing.assert_allclose(np.reshape(key.right_hand_pose, (15, 3)), hand_preset("fist", "right"))
        assert key.expression == face_preset("smile")
        assert person.on_ground
    assert main(["scene", "new", str(out), "--force", "--hands", "claw"]) == 2
    err = capsys.readouterr().err
    assert "claw" in err and "fist" in err and "Traceback" not in err


def test_cli_lists_body_hand_and_face_presets(capsys):
    from posebooth.assets.presets import list_presets
    assert main(["scene", "presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "body presets (--preset): " + ", ".join(list_presets())
    assert lines[1] == "hand presets (--hands): " + ", ".join(HAND_PRESETS)
    assert lines[2] == "face presets (--expression): " + ", ".join(FACE_PRESETS)
    assert main(["scene", "presets", "--kind", "hands"]) == 0
    assert capsys.readouterr().out.split() == list(HAND_PRESETS)
