"""`posebooth gui SCENE` with a scene that cannot be opened: the window still
opens, with a new scene and one message naming the file; and starting the
window imports no diffusion library.

Each case runs the real start-up (ui.app.run_app: body warm-up, window,
start-up scene, show) in a subprocess with the fake body; POSEBOOTH_STARTUP_PROBE
makes the app quit by itself once its window is shown and responsive.
"""
import json
import os

import pytest

from posebooth.assets.starter import starter_scene
from posebooth.scene.io import scene_to_json
from ui_process import run_gui

pytestmark = pytest.mark.gui

START = """
from posebooth.assets.starter import starter_scene
from posebooth.ui.app import run_app
made = []

def factory():
    made.append(fake_window())
    return made[-1]
rc = run_app(sys.argv[1], window_factory=factory, build_body=lambda: None)
w = made[0]
print("RESULT", json.dumps({"rc": rc, "path": str(w.doc.path) if w.doc.path else None,
                            "new_scene": w.doc.scene.model_dump() == starter_scene().model_dump(),
                            "title": w.windowTitle()}), flush=True)
"""


def start(tmp_path, scene_arg: str, prelude: str = ""):
    run = run_gui(prelude + START, scene_arg, settings_dir=tmp_path / "settings",
                  env={"POSEBOOTH_STARTUP_PROBE": "1"})
    run.assert_clean_exit()
    assert "posebooth-startup responsive" in run.stderr, run.describe()  # the window was shown and usable
    return run


def assert_new_scene_and_one_message(run, name: str) -> str:
    result = run.result
    assert result["rc"] == 0
    assert result["path"] is None and result["new_scene"], result
    assert result["title"].startswith("Untitled"), result
    errors = [args for kind, args in run.dialogs if kind == "show_error"]
    assert len(errors) == 1, run.describe()
    title, text = errors[0]
    assert title == "Cannot open scene" and name in text, errors
    return text


def test_a_good_start_scene_opens(tmp_path):
    path = tmp_path / "good.json"
    path.write_text(scene_to_json(starter_scene(people=3)))
    run = start(tmp_path, str(path))
    assert run.result["path"] == str(path) and not run.result["new_scene"]
    assert run.dialogs == [] and "Traceback" not in run.stderr


def _fifo(tmp_path):
    path = tmp_path / "pipe.json"
    os.mkfifo(path)   # opening it for reading would block until a writer comes
    return path


def _directory(tmp_path):
    path = tmp_path / "folder.json"
    path.mkdir()
    return path


def _not_utf8(tmp_path):
    path = tmp_path / "latin.json"
    path.write_bytes(b'{"format": "posebooth-scene", "name": "caf\xe9 \xff\xfe"}')
    return path


def _missing(tmp_path):
    return tmp_path / "nowhere.json"


HOSTILE_FILES = {"fifo": _fifo, "directory": _directory, "not_utf8": _not_utf8, "missing": _missing}


@pytest.mark.hostile
@pytest.mark.parametrize("kind", HOSTILE_FILES)
def test_unopenable_start_scene_gives_a_message_and_a_new_scene(tmp_path, kind):
    path = HOSTILE_FILES[kind](tmp_path)
    run = start(tmp_path, str(path))
    assert_new_scene_and_one_message(run, path.name)
    assert "Traceback" not in run.stderr, run.describe()


@pytest.mark.hostile
def test_huge_numbers_in_the_start_scene_still_open_a_window(tmp_path):
    data = json.loads(scene_to_json(starter_scene()))
    data["people"][0]["keys"][0]["transl"] = [1e308, -1e308, 1e308]
    data["camera"]["keys"][0]["position"] = [1e308, 1e308, 1e308]
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(data))
    run = start(tmp_path, str(path))
    # The loader may refuse the file (a message and a new scene) or open it; either way the
    # window came up (checked by start) and said no more than one thing about it.
    if run.result["path"] is None:
        assert_new_scene_and_one_message(run, path.name)
    else:
        assert run.result["path"] == str(path) and not run.dialogs


@pytest.mark.hostile
def test_an_unexpected_error_while_opening_still_opens_the_window(tmp_path):
    path = tmp_path / "fine.json"
    path.write_text(scene_to_json(starter_scene(people=2)))
    boom = ("import posebooth.ui.document as _doc\n"
            "def _boom(path):\n"
            "    raise RuntimeError('disk on fire')\n"
            "_doc.load_scene = _boom\n")
    run = start(tmp_path, str(path), prelude=boom)
    text = assert_new_scene_and_one_message(run, path.name)
    assert "RuntimeError" in text and "disk on fire" in text and "\n" not in text


IMPORTS = """
from PySide6.QtWidgets import QApplication
app = QApplication([])
w = fake_window()
w.show()
import threading, time
def warm_up_thread():
    return next((t for t in threading.enumerate() if t.name == "posebooth-warm-up"), None)
deadline = time.monotonic() + 60
while warm_up_thread() is None and time.monotonic() < deadline:  # it starts after the first frame
    app.processEvents()
    time.sleep(0.01)
thread = warm_up_thread()
if thread is not None:  # the generation panel's background import of torch and its worker
    thread.join(60)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("diffusers", "transformers", "accelerate"))
print("RESULT", json.dumps({"heavy": heavy, "warmed_up": thread is not None}), flush=True)
w.close()
"""


def test_building_the_window_imports_no_diffusion_library(tmp_path):
    run = run_gui(IMPORTS, settings_dir=tmp_path / "settings", warm_up=True)
    run.assert_clean_exit()
    assert run.result["warmed_up"] and run.result["heavy"] == [], run.result
