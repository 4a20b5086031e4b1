"""A damaged or hand-edited settings file never stops the window from opening:
each bad value is dropped with a note (status bar and log).

The saved window layout is the dangerous value: Qt's restoreState aborts the
process (SIGABRT) or hangs on a corrupted state. Those cases run the window in
a subprocess (a crash would kill pytest) and check that it exits cleanly.
The recent-files and preference cases run in-process with pytest-qt.
"""
import random
import shutil

import pytest
from PySide6.QtCore import QByteArray, QSettings

from posebooth.ui import settings as settings_mod
from ui_process import run_gui
from ui_support import dialogs, make_window, ui_env  # noqa: F401 - fixtures

pytestmark = pytest.mark.gui


def ini_path(settings_dir):
    return settings_dir / "PoseBooth" / "PoseBooth.ini"


def write_ini(settings_dir, text: str | bytes):
    path = ini_path(settings_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("latin-1"))
    return path


# ---- recent files and preferences (in-process) ----------------------------------------------
RECENT = {
    "rect": "[files]\nrecent=@Rect(1 2 3 4)\n",
    "bytes": "[files]\nrecent=@ByteArray(\\xff\\xfe\\0)\n",
    "mixed_list": "[files]\nrecent=/tmp/a.json, @Size(1 2), /tmp/b.json\n",
    "huge_list": "[files]\nrecent=" + ", ".join(f"/tmp/s{i}.json" for i in range(20000)) + "\n",
    "long_path": "[files]\nrecent=/tmp/" + "x" * 10000 + ".json\n",
    "variant_garbage": "[files]\nrecent=@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x5\\xde\\xad\\xbe\\xef)\n",
}


@pytest.mark.hostile
@pytest.mark.parametrize("case", RECENT)
def test_bad_recent_files_are_dropped_and_the_window_opens(make_window, ui_env, case):
    path = write_ini(ui_env / "settings", RECENT[case])
    win = make_window()   # waits until the window is exposed
    paths = win.files.recent.paths()
    assert all(isinstance(p, str) and len(p) < 5000 for p in paths) and len(paths) <= 10
    if case == "mixed_list":
        assert paths == ["/tmp/a.json", "/tmp/b.json"]   # the good entries are kept
    if case == "huge_list":
        assert paths == [f"/tmp/s{i}.json" for i in range(10)]
    notes = [n for n in win.settings_notes if "[files/recent]" in n]
    assert len(notes) == 1 and str(path) in notes[0], win.settings_notes
    assert "[files/recent]" in win.statusBar().currentMessage()
    menu = [a.toolTip() for a in win.recent_menu.actions() if a.toolTip().startswith("/tmp/")]
    assert menu == paths[:len(menu)] and len(menu) == len(paths)
    win.files.recent.add(ui_env / "new.json")   # and the list works again afterwards
    assert win.files.recent.paths()[0].endswith("new.json")


PREFERENCES = {
    "theme": ("[preferences]\ntheme=@Rect(1 2 3 4)\n", "theme", "system"),
    "theme_unknown": ("[preferences]\ntheme=neon\n", "theme", "system"),
    "autosave_huge": ("[preferences]\nautosave_seconds=1e999\n", "autosave_seconds", 60),
    "autosave_negative": ("[preferences]\nautosave_seconds=-5\n", "autosave_seconds", 60),
    "auto_key_word": ("[preferences]\nauto_key=perhaps\n", "auto_key", True),
    "auto_key_list": ("[preferences]\nauto_key=true, false\n", "auto_key", True),
}


@pytest.mark.hostile
@pytest.mark.parametrize("case", PREFERENCES)
def test_bad_preferences_fall_back_to_defaults(make_window, ui_env, case):
    text, field, default = PREFERENCES[case]
    write_ini(ui_env / "settings", text)
    win = make_window()
    assert getattr(win.prefs, field) == default
    assert any(f"[preferences/{field}]" in n for n in win.settings_notes), win.settings_notes


@pytest.mark.hostile
def test_an_oversized_settings_file_is_set_aside(make_window, ui_env):
    big = "[files]\nrecent=" + "/tmp/x.json, " * 200_000 + "\n"   # ~2.6 MB
    path = write_ini(ui_env / "settings", big)
    win = make_window()
    assert win.files.recent.paths() == []
    aside = path.with_name(path.name + ".bad")
    assert aside.read_text(encoding="latin-1") == big   # kept for the user, not deleted
    assert any("over the" in n and str(path) in n for n in win.settings_notes), win.settings_notes


@pytest.mark.hostile
def test_random_bytes_as_the_settings_file(make_window, ui_env):
    write_ini(ui_env / "settings", random.Random(7).randbytes(5000))
    win = make_window()
    assert win.isVisible() and win.prefs == settings_mod.Preferences()


# ---- window layout (subprocess: Qt aborts on a bad state) ----------------------------------
SHOW = """
from PySide6.QtWidgets import QApplication
app = QApplication([])
w = fake_window()
w.show()
for _ in range(10):
    app.processEvents()
print("RESULT", json.dumps({"shown": w.isVisible(), "restored": w._restored, "notes": w.settings_notes}),
      flush=True)
w.close()   # saves a fresh layout
"""


@pytest.fixture(scope="module")
def saved_layout(tmp_path_factory):
    """A settings file holding a real layout, saved by the window on close."""
    settings_dir = tmp_path_factory.mktemp("layout") / "settings"
    run = run_gui(SHOW, settings_dir=settings_dir)
    run.assert_clean_exit()
    return ini_path(settings_dir)


def _layout(path) -> dict:
    s = QSettings(str(path), QSettings.Format.IniFormat)
    return {k: s.value(f"window/{k}") for k in ("schema", "state_version", "objects", "geometry", "state",
                                                 "digest")}


def _set(path, **values):
    s = QSettings(str(path), QSettings.Format.IniFormat)
    for key, value in values.items():
        if value is None:
            s.remove(f"window/{key}")
        else:
            s.setValue(f"window/{key}", value)
    s.sync()


def _digest(geometry, state) -> str:
    return settings_mod._digest(bytes(geometry), bytes(state))


def _flipped(state: bytes) -> bytes:
    b = bytearray(state)
    for i in range(20, min(len(b), 60), 3):   # Qt's header (8 bytes) intact, the dock areas scrambled
        b[i] ^= 0x5A
    return bytes(b)


def _with_header_version(state: bytes, version: int) -> bytes:
    return state[:4] + version.to_bytes(4, "big") + state[8:]


def _mutations(real: dict) -> dict:
    g, s = bytes(real["geometry"]), bytes(real["state"])
    rnd = random.Random(11).randbytes(300)
    return {
        "random_state": dict(state=QByteArray(rnd)),
        "random_state_with_digest": dict(state=QByteArray(rnd), digest=_digest(g, rnd)),
        "truncated_state": dict(state=QByteArray(s[:len(s) // 2])),
        "flipped_state": dict(state=QByteArray(_flipped(s))),
        "other_layout_version": dict(state=QByteArray(_with_header_version(s, 7)),
                                     digest=_digest(g, _with_header_version(s, 7))),
        "state_text": dict(state="not a layout"),
        "state_list": dict(state=["1", "2", "3"]),
        "geometry_number": dict(geometry=42),
        "renamed_docks": dict(objects="oldOutlinerDock mainToolBar"),
        "newer_schema": dict(schema=99),
        "unversioned_old_file": dict(schema=None, state_version=None, objects=None, digest=None),
        "huge_state": dict(state=QByteArray(b"\0\0\0\xff\0\0\0\x01" + bytes(100_000)),
                           digest=_digest(g, b"\0\0\0\xff\0\0\0\x01" + bytes(100_000))),
    }


def test_a_saved_layout_is_restored(saved_layout, tmp_path):
    settings_dir = tmp_path / "settings"
    shutil.copytree(saved_layout.parents[1], settings_dir)
    run = run_gui(SHOW, settings_dir=settings_dir)
    run.assert_clean_exit()
    assert run.result == {"shown": True, "restored": True, "notes": []}


MUTATIONS = ["random_state", "random_state_with_digest", "truncated_state", "flipped_state",
             "other_layout_version", "state_text", "state_list", "geometry_number", "renamed_docks",
             "newer_schema", "unversioned_old_file", "huge_state"]


@pytest.mark.hostile
@pytest.mark.parametrize("case", MUTATIONS)
def test_a_damaged_layout_is_dropped_and_the_window_opens(saved_layout, tmp_path, case):
    settings_dir = tmp_path / "settings"
    shutil.copytree(saved_layout.parents[1], settings_dir)
    path = ini_path(settings_dir)
    real = _layout(path)
    assert set(_mutations(real)) == set(MUTATIONS)
    _set(path, **_mutations(real)[case])
    run = run_gui(SHOW, settings_dir=settings_dir)
    run.assert_clean_exit()   # not SIGABRT (-6), not a hang
    result = run.result
    assert result["shown"] and not result["restored"], result
    assert len(result["notes"]) == 1 and "[window]" in result["notes"][0] and str(path) in result["notes"][0]
    after = _layout(path)   # the window saved a good layout again on close
    assert str(after["schema"]) == str(settings_mod.LAYOUT_SCHEMA)
    assert after["digest"] == _digest(after["geometry"], after["state"])


@pytest.mark.hostile
def test_random_bytes_as_the_whole_file_in_a_real_process(tmp_path):
    settings_dir = tmp_path / "settings"
    write_ini(settings_dir, random.Random(3).randbytes(20000))
    run = run_gui(SHOW, settings_dir=settings_dir)
    run.assert_clean_exit()
    assert run.result["shown"] and not run.result["restored"]
