"""The main window: the viewport in the centre, panels docked around it.

Default layout (an artist's first minute): prompt and generation on the
left, outliner and the Pose / Shape / Camera panels on the right (full
height), the timeline under the viewport. Layout, geometry, recent files
and preferences persist in QSettings.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (QApplication, QDialog, QDockWidget, QLabel, QMainWindow, QMessageBox, QTabWidget,
                               QToolBar, QUndoView, QVBoxLayout)

from posebooth import __version__
from posebooth.scene.io import SceneError, load_scene
from posebooth.ui import actions as actions_mod
from posebooth.ui import dialogs
from posebooth.edits import key_ops
from posebooth.ui.viewport import host as viewport_host
from posebooth.ui.autosave import Autosaver, find_orphans
from posebooth.ui.camera_panel import CameraPanel
from posebooth.ui.document import SceneDocument
from posebooth.ui.file_controller import FileController
from posebooth.ui.generation.dock import GenerationDock
from posebooth.ui.icons import icon
from posebooth.ui.outliner import OutlinerPanel, joint_label
from posebooth.ui import props_menu
from posebooth.ui.pose_panel import PosePanel
from posebooth.ui.preferences_dialog import PreferencesDialog
from posebooth.ui.prompt_panel import PromptPanel
from posebooth.ui.quick_start import after_first_paint
from posebooth.ui import settings as settings_mod
from posebooth.ui.settings import Preferences, RecentFiles, app_settings
from posebooth.ui.shape_panel import ShapePanel
from posebooth.ui.shortcuts_dialog import ShortcutsDialog
from posebooth.ui.timeline_dock import TimelinePanel
from posebooth.ui.widgets import LazyPanel

# Written into QMainWindow::saveState's header and checked before restoreState (settings.load_layout,
# which also checks the dock names): bump when the layout changes meaning, so an old one is ignored.
STATE_VERSION = 1


class MainWindow(QMainWindow):
    def __init__(self, doc: SceneDocument | None = None, settings=None, viewport_factory=None,
                 autosave_dir=None):
        super().__init__()
        self.setObjectName("mainWindow")
        self.doc = doc or SceneDocument()
        if self.doc.parent() is None:
            # The window owns the document: it outlives every slot connected here
            # (a stack deleted first would emit into half-dead widgets).
            self.doc.setParent(self)
        self.settings = settings or app_settings()
        self.prefs = Preferences.load(self.settings)
        self.doc.auto_key = self.prefs.auto_key
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setTabPosition(Qt.DockWidgetArea.AllDockWidgetAreas, QTabWidget.TabPosition.North)

        self.viewport = (viewport_factory or viewport_host.create_viewport)(self.doc, self)
        self.setCentralWidget(self.viewport)
        self.files = FileController(self, self.doc, RecentFiles(self.settings), before_write=self.flush_edits)
        self._build_panels()
        self.action_map = actions_mod.build(self)
        props_menu.install(self)
        self.outliner.action_map = self.action_map
        self.timeline.add_transport(self.action_map)
        self.action_map["auto_key"].setChecked(self.prefs.auto_key)
        self._build_status_bar()
        self._wire()
        self._build_panels_menu()
        self._update_recent_menu()
        self._default_state = self.saveState(STATE_VERSION)
        self._sized = self._restored = False
        self._restore_layout()

        self.autosaver = Autosaver(self.doc, self.prefs.autosave_seconds, autosave_dir, self)
        self.autosaver.failed.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self._update_title()
        self._update_undo_actions()
        self._update_status()
        # Values dropped from the settings file (also logged): say so once, never fail over them.
        self.settings_notes = settings_mod.take_notes()
        if self.settings_notes:
            more = len(self.settings_notes) - 1
            self.statusBar().showMessage(self.settings_notes[0] + (f" (and {more} more in the log)" if more else ""),
                                         20000)

    # ---- building ---------------------------------------------------------------
    def _dock(self, title: str, name: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    @property
    def hand_panel(self):
        return self._hands.panel()

    @property
    def face_panel(self):
        return self._face.panel()

    def _make_hand_panel(self):
        from posebooth.ui.hand_panel import HandPanel
        return HandPanel(self.doc)

    def _make_face_panel(self):
        from posebooth.ui.face_panel import FacePanel
        return FacePanel(self.doc)

    def _build_panels(self):
        L, R, B = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                   Qt.DockWidgetArea.BottomDockWidgetArea)
        self.outliner = OutlinerPanel(self.doc)
        self.pose_panel = PosePanel(self.doc)
        self.shape_panel = ShapePanel(self.doc)
        self.camera_panel = CameraPanel(self.doc, self.viewport)
        self.prompt_panel = PromptPanel(self.doc)
        self.timeline = TimelinePanel(self.doc)

        self.outliner_dock = self._dock("Outliner", "outlinerDock", self.outliner, R)
        self.pose_dock = self._dock("Pose", "poseDock", self.pose_panel, R)
        self.shape_dock = self._dock("Shape", "shapeDock", self.shape_panel, R)
        self.camera_dock = self._dock("Camera", "cameraDock", self.camera_panel, R)
        # Behind the Pose tab at start: built when first shown (52 face sliders, 20 finger ones).
        self._hands, self._face = LazyPanel(self._make_hand_panel), LazyPanel(self._make_face_panel)
        self.hand_dock = self._dock("Hands", "handDock", self._hands, R)
        self.face_dock = self._dock("Face", "faceDock", self._face, R)
        self._hands.build_when_in_front(self.hand_dock)
        self._face.build_when_in_front(self.face_dock)
        self.splitDockWidget(self.outliner_dock, self.pose_dock, Qt.Orientation.Vertical)
        self.tabifyDockWidget(self.pose_dock, self.hand_dock)
        self.tabifyDockWidget(self.hand_dock, self.face_dock)
        self.tabifyDockWidget(self.face_dock, self.shape_dock)
        self.tabifyDockWidget(self.shape_dock, self.camera_dock)
        self.pose_dock.raise_()

        self.prompt_dock = self._dock("Prompt", "promptDock", self.prompt_panel, L)
        self.generation_dock = GenerationDock(self.doc, self)
        self.addDockWidget(L, self.generation_dock)
        self.splitDockWidget(self.prompt_dock, self.generation_dock, Qt.Orientation.Vertical)
        self._install_generation_panel()
        self.timeline_dock = self._dock("Timeline", "timelineDock", self.timeline, B)


    def _default_sizes(self):
        """Dock sizes of the default layout; they only stick once the window has
        its real size, hence applied at the first show (and by Reset Layout)."""
        self.resizeDocks([self.prompt_dock, self.outliner_dock], [300, 380], Qt.Orientation.Horizontal)
        self.resizeDocks([self.outliner_dock, self.pose_dock], [300, 600], Qt.Orientation.Vertical)
        self.resizeDocks([self.prompt_dock, self.generation_dock], [230, 600], Qt.Orientation.Vertical)
        self.resizeDocks([self.timeline_dock], [170], Qt.Orientation.Vertical)

    def showEvent(self, event):
        super().showEvent(event)
        if not self._sized:
            self._sized = True
            if not self._restored:  # after the first layout pass, or the sizes do not stick
                QTimer.singleShot(0, self._default_sizes)
            after_first_paint(self, self._after_first_frame)

    def _after_first_frame(self):
        """Start-up work that can wait until the first frame is on screen: the
        model list (it imports huggingface_hub to read its cache) and the
        generation worker's imports. When the body model is still building
        (a start on a kept frame, ui.quick_start) they wait for it too: the
        threads share one GIL, and the window comes first."""
        if getattr(self.doc, "body_pending", False):
            self.doc.bodyReady.connect(self._start_generation)
        else:
            self._start_generation()

    def _start_generation(self):
        """Once: the first frame is reported once, and bodyReady emitted once."""
        self.generation_panel.refresh_models()
        from posebooth.ui.generation.bridge import GenerationBridge
        GenerationBridge.warm_up()

    def _build_panels_menu(self):
        for dock in (self.outliner_dock, self.pose_dock, self.hand_dock, self.face_dock, self.shape_dock,
                     self.camera_dock, self.prompt_dock, self.generation_dock, self.timeline_dock):
            self.panels_menu.addAction(dock.toggleViewAction())
        self.panels_menu.addAction(self.toolbar.toggleViewAction())

    def _build_status_bar(self):
        bar = self.statusBar()
        self.hint_label = QLabel()
        self.selection_label = QLabel()
        self.selection_label.setObjectName("statusSelection")
        self.frame_label = QLabel()
        self.frame_label.setObjectName("statusFrame")
        bar.addWidget(self.hint_label, 1)
        bar.addPermanentWidget(self.selection_label)
        bar.addPermanentWidget(self.frame_label)

    def _wire(self):
        d, stack = self.doc, self.doc.undo_stack
        stack.cleanChanged.connect(self._update_title)
        stack.indexChanged.connect(self._update_undo_actions)
        d.pathChanged.connect(self._update_title)
        for sig in (d.selectionChanged, d.frameChanged, d.sceneReplaced, d.timelineChanged):
            sig.connect(self._update_status)
        self.files.recentChanged.connect(self._update_recent_menu)
        self.files.message.connect(lambda m: self.statusBar().showMessage(m, 4000))
        self.pose_panel.spaceChanged.connect(self.set_space)
        self.timeline.playback.playingChanged.connect(
            lambda on: self.action_map["play"].setIcon(icon("pause" if on else "play")))
        self.timeline.loop_box.toggled.connect(self.action_map["loop"].setChecked)
        actions_mod.connect_enabled(self)  # grey out what needs a selection, a person or a key
        self._wire_viewport()

    def _wire_viewport(self):
        """Keep actions in step with state the viewport changes itself (its own
        keys, gizmo clicks); each signal is optional so any viewport works."""
        vp, acts = self.viewport, self.action_map
        hooks = {
            "lookThroughChanged": lambda on: acts["view_camera"].setChecked(bool(on)),
            "ikEnabledChanged": lambda on: acts["ik"].setChecked(bool(on)),
            "gizmoSpaceChanged": self.set_space,
            "overlayChanged": lambda name: acts[f"overlay_{name or 'shaded'}"].setChecked(True),
            "statusMessage": lambda m: self.statusBar().showMessage(m, 3000),
        }
        for signal, slot in hooks.items():
            if hasattr(vp, signal):
                getattr(vp, signal).connect(slot)

    # ---- layout persistence ---------------------------------------------------------
    def _layout_objects(self) -> list[str]:
        """Object names saveState records (docks and toolbars): part of what a saved layout must match."""
        direct = Qt.FindChildOption.FindDirectChildrenOnly
        return [w.objectName() for kind in (QDockWidget, QToolBar) for w in self.findChildren(kind, options=direct)]

    def _restore_layout(self):
        saved = settings_mod.load_layout(self.settings, self._layout_objects(), STATE_VERSION)
        if saved is None or not self.restoreGeometry(QByteArray(saved[0])):
            screen = QGuiApplication.primaryScreen()
            avail = screen.availableGeometry() if screen else None
            w, h = (1600, 1000) if avail is None else (min(1600, avail.width() - 40), min(1000, avail.height() - 60))
            self.resize(w, h)
        if saved is not None:
            self._restored = self.restoreState(QByteArray(saved[1]), STATE_VERSION)

    def save_layout(self):
        settings_mod.save_layout(self.settings, self.saveGeometry(), self.saveState(STATE_VERSION),
                                 self._layout_objects(), STATE_VERSION, __version__)

    def reset_layout(self):
        self.restoreState(self._default_state, STATE_VERSION)
        for dock in self.findChildren(QDockWidget):
            dock.setFloating(False)
            dock.show()
        self.pose_dock.raise_()
        self._default_sizes()

    # ---- titles and status ------------------------------------------------------------
    def _update_title(self, *args):
        star = "*" if self.doc.is_modified() else ""
        self.setWindowTitle(f"{self.files.display_name()}{star} — PoseBooth")

    def _update_undo_actions(self, *args):
        stack = self.doc.undo_stack
        for name, can, text in (("undo", stack.canUndo(), stack.undoText()),
                                ("redo", stack.canRedo(), stack.redoText())):
            act = self.action_map[name]
            act.setEnabled(can)
            act.setText(f"&{name.capitalize()} {text}".rstrip())

    def _update_status(self, *args):
        d = self.doc
        tl = d.scene.timeline
        self.frame_label.setText(f"Frame {d.frame}  ({tl.start}–{tl.end} @ {tl.fps:g} fps)")
        i, j = d.selected_person, d.selected_joint
        q = getattr(d, "selected_prop", None)
        if q is not None and q < len(d.scene.props):
            self.selection_label.setText(f"Prop › {d.scene.props[q].name}")
            self.hint_label.setText("Drag a ring to rotate · Shift+drag or G move · S scale · Delete remove")
            return
        if i is None or i >= len(d.scene.people):
            self.selection_label.setText("Nothing selected")
            self.hint_label.setText("Shift+A adds a person · Ctrl+O opens a scene")
            return
        from posebooth.assets.smpl_skeleton import JOINT_NAMES
        name = d.scene.people[i].name
        if j is None:
            self.selection_label.setText(name)
            self.hint_label.setText("Pick a joint in the outliner or viewport · I insert key · "
                                    "Ctrl+M mirror · X delete person")
        else:
            self.selection_label.setText(f"{name} › {joint_label(JOINT_NAMES[j])}")
            self.hint_label.setText("Drag the X/Y/Z sliders to rotate · I insert key · Alt+R reset joint · "
                                    "Space play")

    def _update_recent_menu(self):
        menu = self.recent_menu
        menu.clear()
        paths = self.files.recent.paths()
        for n, path in enumerate(paths, start=1):
            act = menu.addAction(f"&{n % 10}  {Path(path).name}")
            act.setToolTip(path)
            act.setStatusTip(path)
            act.triggered.connect(lambda _=False, p=path: self.files.open_recent(p))
        if paths:
            menu.addSeparator()
            menu.addAction("Clear Recent Files", lambda: (self.files.recent.clear(), self._update_recent_menu()))
        menu.setEnabled(bool(paths))

    def _install_generation_panel(self):
        # The panel owns its own HeadlessRenderer: it renders conditioning images
        # on background threads, where the viewport's GL context must not be used.
        from posebooth.ui.generation.panel import GenerationPanel
        self.generation_panel = GenerationPanel(self.doc, parent=self, start_up=False)
        self.generation_dock.set_panel(self.generation_panel)
        self.generation_panel.statusMessage.connect(lambda m: self.statusBar().showMessage(m, 5000))
        self.generation_panel.before_request = self.flush_edits  # Generate sees the prompt just typed

    # ---- commands used by actions ---------------------------------------------------------
    def flush_edits(self):
        """Push edits still pending in widgets (prompt typing) into the document."""
        self.prompt_panel.flush()

    def undo(self):
        self.flush_edits()
        self.doc.undo_stack.undo()

    def redo(self):
        self.flush_edits()
        self.doc.undo_stack.redo()

    def viewport_supports(self, name: str) -> bool:
        vp = self.viewport
        return callable(getattr(vp, name, None)) or callable(getattr(vp, f"set_{name}", None)) \
            or (hasattr(vp, name) and not callable(getattr(vp, name)))

    def viewport_call(self, name: str, *args) -> bool:
        ok = viewport_host.call(self.viewport, name, *args)
        if not ok:
            self.statusBar().showMessage("This needs the 3D viewport.", 3000)
        return ok

    def viewport_flag(self, name: str, value) -> bool:
        ok = viewport_host.set_flag(self.viewport, name, value)
        if not ok:
            self.statusBar().showMessage("This needs the 3D viewport.", 3000)
        return ok

    def set_space(self, space: str):
        """Local / global rotation axes: pose panel sliders and the viewport gizmo."""
        self.pose_panel.set_space(space)
        act = self.action_map["gizmo_space"]
        if act.isChecked() != (space == "global"):
            act.setChecked(space == "global")
        viewport_host.set_flag(self.viewport, "gizmo_space", space)

    def set_auto_key(self, on: bool):
        self.doc.auto_key = self.prefs.auto_key = bool(on)
        self.prefs.save(self.settings)

    def duplicate_person(self):
        if self.doc.selected_person is not None:
            self.doc.duplicate_person(self.doc.selected_person)

    def delete_person(self):
        if self.doc.selected_person is not None and self.doc.scene.people:
            self.doc.delete_person(self.doc.selected_person)

    def key_camera(self):
        key_ops.insert_camera_key(self.doc)
        self.statusBar().showMessage(f"Camera keyed at frame {self.doc.frame}", 3000)

    def show_shortcuts(self):
        ShortcutsDialog(self.menuBar(), self).exec()

    def show_undo_history(self):
        dlg = QDialog(self)
        dlg.setWindowTitle("Undo History")
        lay = QVBoxLayout(dlg)
        view = QUndoView(self.doc.undo_stack)
        view.setEmptyLabel("Opened scene")
        lay.addWidget(view)
        dlg.resize(320, 420)
        dlg.show()

    def show_about(self):
        QMessageBox.about(self, "About PoseBooth",
                          f"<b>PoseBooth {__version__}</b><p>Pose and animate 3D human bodies and turn them into "
                          "exactly annotated images with depth-conditioned diffusion.</p>")

    def show_preferences(self):
        dlg = PreferencesDialog(self.prefs, self)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        self.apply_preferences(dlg.preferences())

    def apply_preferences(self, prefs: Preferences):
        from posebooth.ui.theme import apply_theme
        theme_changed = prefs.theme != self.prefs.theme
        self.prefs = prefs
        prefs.save(self.settings)
        self.autosaver.set_interval(prefs.autosave_seconds)
        self.action_map["auto_key"].setChecked(prefs.auto_key)
        self.doc.auto_key = prefs.auto_key
        if theme_changed and QApplication.instance() is not None:
            apply_theme(QApplication.instance(), prefs.theme)
            actions_mod.refresh_icons(self.action_map)
            if self.timeline.playback.playing:
                self.action_map["play"].setIcon(icon("pause"))
            self.timeline.view.apply_palette()

    # ---- crash recovery --------------------------------------------------------------------
    def offer_recovery(self) -> bool:
        """Offer the autosaves of sessions that died; True when one was recovered."""
        orphans = find_orphans(self.autosaver.directory)
        recovered = False
        for orphan in orphans:
            if recovered:
                orphan.lock.unlock()  # keep it for the next start
                continue
            if not dialogs.ask_recover(self, orphan.describe()):
                orphan.discard()
                continue
            try:
                scene = load_scene(orphan.scene_path)
            except SceneError as e:
                dialogs.show_error(self, "Cannot recover", str(e))
                orphan.discard()
                continue
            original = Path(orphan.original_path) if orphan.original_path else None
            self.doc.replace_scene(scene, original)
            self.doc.undo_stack.resetClean()  # recovered work is unsaved work
            self.autosaver.save_now(force=True)
            orphan.discard()
            recovered = True
            self.statusBar().showMessage("Recovered unsaved work from the autosave", 6000)
        self._update_title()
        return recovered

    # ---- closing ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent):
        self.timeline.playback.stop()
        if not self.files.maybe_save():
            event.ignore()
            return
        self.save_layout()
        self.autosaver.stop()
        self.autosaver.discard()
        job = getattr(self, "maps_job", None)   # File → Export Maps… (ui.map_export)
        if job is not None:
            job.cancel()
            job.wait(10)
        self.generation_panel.shutdown()
        event.accept()
