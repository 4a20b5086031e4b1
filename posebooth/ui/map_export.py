"""File → Export Maps… and Copy Map: the frame's maps with no diffusion model.

"Export Maps…" writes the current frame or a frame range as a dataset
folder (FORMAT.md): render, depth, normals, parts, mask and the control
images (depth, OpenPose, normals) exactly as ControlNets take them. It is
export.driver.export_scene with no generator, the code `posebooth render`
runs, on a plain thread with the Generation panel's headless renderer, a
progress dialog and Cancel (the frames written so far stay; exporting
again resumes).

"Copy Map" puts one map of the current frame on the clipboard: a control
image as exported (depth, OpenPose, normals), the shaded render, the body
parts in the viewport's palette, or the people's mask in white.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLineEdit, QMenu, QPushButton, QRadioButton, QSpinBox, QVBoxLayout)

from posebooth.frame.controls import CONTROL_KINDS, openpose_parts
from posebooth.ui.generation.export import ThreadedExport

# What an "Export Maps…" may write (export.passes.PASSES less the mesh files).
MAP_PASSES = ("render", "depth", "normal", "parts", "mask", "control", "overlay")
DEFAULT_MAP_PASSES = ("render", "depth", "normal", "parts", "mask", "control")
# Copy Map's choices: (name, menu text).
CLIPBOARD_MAPS = (("depth", "&Depth (ControlNet)"), ("openpose", "&OpenPose (ControlNet)"),
                  ("normal", "&Normals (ControlNet)"), ("render", "&Shaded Render"), ("parts", "Body &Parts"),
                  ("mask", "&Mask"))


@dataclass
class MapsExport:
    folder: str
    frames: list[int]
    passes: tuple[str, ...] = DEFAULT_MAP_PASSES
    control_kinds: tuple[str, ...] = CONTROL_KINDS


class _Cancelled(Exception):
    pass


class MapsExportJob(ThreadedExport):
    """export_scene with no model on its own thread; `cancel` stops after the frame in flight."""

    thread_name = "posebooth-export-maps"

    def __init__(self, scene, settings: MapsExport, *, renderer_provider, body_for, parent=None):
        super().__init__(settings.folder, settings.frames, parent)
        self.scene = with_control_kinds(scene, settings.control_kinds)   # a snapshot: later edits stay out
        self.passes = tuple(settings.passes)
        self.size = (self.scene.camera.width, self.scene.camera.height)
        self.resized = False
        self.renderer_provider, self.body_for = renderer_provider, body_for

    def _frame_written(self, frame) -> None:
        super()._frame_written(frame)
        if self._cancel.is_set():
            raise _Cancelled()

    def _run(self) -> None:
        from posebooth.export.driver import export_scene

        try:
            if self._cancel.is_set():
                raise _Cancelled()
            manifest = export_scene(self.scene, self.out_dir, frames=self.frames, passes=self.passes,
                                    renderer=self.renderer_provider(), body_for=self.body_for,
                                    progress=False, on_frame=self._frame_written)
        except _Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # export errors (folder, disk, GL): a message
            self.failed.emit(str(exc) or type(exc).__name__)
        else:
            self.finished.emit(manifest)


def with_control_kinds(scene, kinds):
    """A copy of `scene` whose generation asks for control `kinds` (the
    scene's own settings kept for kinds it has): the export writes those."""
    from posebooth.scene.model import ControlSetting

    scene = scene.model_copy(deep=True)
    have = {c.kind: c for c in scene.generation.controls}
    if tuple(dict.fromkeys(c.kind for c in scene.generation.controls)) != tuple(kinds):
        scene.generation.controls = [have.get(k) or ControlSetting(kind=k) for k in kinds]
    return scene


class MapsExportDialog(QDialog):
    """Folder, frames (this one or a range), passes and control kinds."""

    def __init__(self, doc, parent=None, folder: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Export Maps")
        tl = doc.scene.timeline
        self.folder = QLineEdit(folder)
        self.folder.setObjectName("mapsFolder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        self.this_frame = QRadioButton(f"Current frame ({doc.frame})")
        self.range = QRadioButton("Frames")
        self.this_frame.setChecked(True)
        self.first, self.last = QSpinBox(), QSpinBox()
        for box, value in ((self.first, tl.start), (self.last, tl.end)):
            box.setRange(tl.start, tl.end)
            box.setValue(value)
        self.doc_frame = doc.frame
        frames = QHBoxLayout()
        for w in (self.this_frame, self.range, self.first, self.last):
            frames.addWidget(w)
        self.pass_boxes = {p: QCheckBox(p) for p in MAP_PASSES}
        self.kind_boxes = {k: QCheckBox(k) for k in CONTROL_KINDS}
        passes, kinds = QHBoxLayout(), QHBoxLayout()
        for name, box in self.pass_boxes.items():
            box.setChecked(name in DEFAULT_MAP_PASSES)
            box.setEnabled(name != "render")          # always written (FORMAT.md)
            passes.addWidget(box)
        for box in self.kind_boxes.values():
            box.setChecked(True)
            kinds.addWidget(box)
        form = QFormLayout()
        form.addRow("Folder", row)
        form.addRow("Frames", frames)
        form.addRow("Maps", passes)
        form.addRow("Controls", kinds)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(buttons)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for the maps", self.folder.text())
        if path:
            self.folder.setText(path)

    def settings(self) -> MapsExport | None:
        folder = self.folder.text().strip()
        if not folder:
            return None
        if self.this_frame.isChecked():
            frames = [self.doc_frame]
        else:
            a, b = sorted((self.first.value(), self.last.value()))
            frames = list(range(a, b + 1))
        passes = tuple(p for p, box in self.pass_boxes.items() if box.isChecked())
        kinds = tuple(k for k, box in self.kind_boxes.items() if box.isChecked()) or ("depth",)
        return MapsExport(folder, frames, passes, kinds)


def ask_maps_export(parent, doc) -> MapsExport | None:
    """The user's choice (module attribute: tests replace it)."""
    dlg = MapsExportDialog(doc, parent)
    if dlg.exec() != QDialog.DialogCode.Accepted:
        return None
    return dlg.settings()


def export_maps(window) -> MapsExportJob | None:
    """File → Export Maps…: no model needed."""
    from posebooth.ui.generation.export import ExportProgress

    bar = window.statusBar()
    if getattr(window, "maps_job", None) is not None:
        bar.showMessage("An export of maps is already running.", 5000)
        return None
    window.flush_edits()
    choice = ask_maps_export(window, window.doc)
    if choice is None or not choice.frames:
        return None
    job = MapsExportJob(window.doc.scene, choice, renderer_provider=window.generation_panel.renderer,
                        body_for=window.doc.body_model, parent=window)
    window.maps_job = job

    def ended(message: str) -> None:
        window.maps_job = None
        bar.showMessage(message, 8000)

    job.finished.connect(lambda m: ended(f"Exported {len(m.get('frames', []))} frame(s) of maps to {job.out_dir}"
                                         f" ({'complete' if m.get('complete') else 'incomplete'})"))
    job.failed.connect(lambda msg: (ended("Export of maps failed"), _show_error(window, msg)))
    job.cancelled.connect(lambda: ended(f"Export cancelled; the finished frames are in {job.out_dir} "
                                        f"(export again to resume)"))
    window.maps_progress = progress = ExportProgress(job, "Export Maps", window)
    progress.setLabelText(f"Writing {len(job.frames)} frame(s) of maps into {job.out_dir}…")
    progress.show()
    job.start()
    return job


def _show_error(window, message: str) -> None:
    from posebooth.ui import dialogs

    dialogs.show_error(window, "Export of maps failed", message)


# ---- clipboard --------------------------------------------------------------------------------

def _scene_props(scene):
    """The scene's placed props, where this build has them (assets.props)."""
    try:
        from posebooth.assets.props import scene_props
    except ImportError:
        return ()
    return tuple(scene_props(scene))


def current_map(doc, renderer, name: str) -> np.ndarray:
    """(H, W, 3) uint8: map `name` (CLIPBOARD_MAPS) of the document's current
    frame, through the one frame pipeline at the camera's size."""
    from posebooth.frame.pass_images import PART_PALETTE
    from posebooth.frame.render import render_frame
    from posebooth.scene.tracks import camera_at

    camera = camera_at(doc.scene.camera, doc.frame)
    controls = (name,) if name in CONTROL_KINDS else ()
    passes = {"render": ("rgb",), "parts": ("parts",), "mask": ("instance",)}.get(name, ())
    props = _scene_props(doc.scene)
    extra = {"props": props} if props else {}
    rendered = render_frame(renderer, doc.posed(), camera, doc.frame, passes=passes, controls=controls,
                            annotate=name == "openpose", openpose=openpose_parts(doc.scene.generation), **extra)
    if name in CONTROL_KINDS:
        return rendered.controls([name])[name]
    rp = rendered.passes
    if name == "render":
        return np.asarray(rp.rgb, np.uint8)
    if name == "parts":
        return PART_PALETTE[rp.parts]
    people = (rp.instance > 0) & (rp.instance <= len(doc.scene.people))
    return np.repeat((people * 255).astype(np.uint8)[..., None], 3, axis=2)


def to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()   # copy: owns its pixels


def copy_map(window, name: str) -> bool:
    """Put map `name` of the current frame on the clipboard."""
    bar = window.statusBar()
    try:
        image = current_map(window.doc, window.generation_panel.renderer(), name)
    except Exception as exc:  # no GL, a body that cannot be posed: say so, never crash a menu action
        bar.showMessage(f"Cannot copy the {name} map: {exc}", 8000)
        return False
    QGuiApplication.clipboard().setImage(to_qimage(image))
    h, w = image.shape[:2]
    bar.showMessage(f"Copied the {name} map of frame {window.doc.frame} ({w}×{h}) to the clipboard", 4000)
    return True


def fill_copy_menu(window, menu: QMenu, actions: dict) -> None:
    """File → Copy Map: one action per map (actions named copy_map_<name>)."""
    for name, text in CLIPBOARD_MAPS:
        act = menu.addAction(text)
        act.setObjectName(f"action_copy_map_{name}")
        act.setStatusTip(f"Copy the current frame's {name} map to the clipboard")
        act.triggered.connect(lambda _=False, n=name: copy_map(window, n))
        actions[f"copy_map_{name}"] = act

