"""The Generation panel: choose and load a model, the model settings, Generate /
Cancel, auto-preview while posing, the image with its step previews, the
session's history, and Export frame / clip with the loaded model.

Threads (DESIGN.md): the GUI thread only snapshots the scene; the
conditioning images are rendered and the request built on a background
thread (generation_conditioning), the model runs on the generation worker
(generation_bridge), exports run on their own thread (generation_export).
Results come back as queued Qt signals; stale ones are dropped by request id.

For the main window: `statusMessage(str)` carries short messages for the
status bar; `generate_action` (Ctrl+Return) and `cancel_action` can go in a
menu; set `before_request` to the window's flush of pending typing (the
prompt panel) so a request never misses the last keystrokes; `device` /
`dtype` feed the next Load; `shutdown()` stops exports, the worker and the
renderer (also done on QApplication.aboutToQuit).
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QMenu,
                               QMessageBox, QProgressBar, QPushButton, QScrollArea, QSplitter, QToolButton,
                               QVBoxLayout, QWidget)
from superqt.utils import QSignalDebouncer

from posebooth.frame.controls import usable_kinds
from posebooth.frame.sizes import camera_at_size, generation_size
from posebooth.frame.request import new_request_id
from posebooth.pipeline.live import LIVE_MAX_STEPS, LivePacer
from posebooth.scene.tracks import camera_at
from posebooth.ui.generation import export as generation_export
from posebooth.ui.generation.bridge import GenerationBridge
from posebooth.ui.generation.requests import RequestBuilder, Snapshot
from posebooth.ui.generation.export import ExportJob, ExportProgress
from posebooth.ui.generation.preview import PreviewPane
from posebooth.ui.generation.settings import GenerationSettings, random_seed
from posebooth.ui.generation.fidelity_controls import FidelityControls
from posebooth.ui.generation.history import HistoryStrip, describe, summary
from posebooth.ui.generation.scoring import ResultScorer
from posebooth.ui.widgets import button, compact_combo, hint_label

DEBOUNCE_MS = 150
PREVIEW_SCALES = (("Preview 1/1", 1.0), ("Preview 1/2", 0.5), ("Preview 1/4", 0.25))


def notify_error(parent, title: str, text: str) -> None:
    """A message box for errors of explicit actions; non-blocking (module attribute: tests replace it)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text.splitlines()[0], QMessageBox.StandardButton.Ok, parent)
    if "\n" in text:
        box.setInformativeText("\n".join(text.splitlines()[1:12]))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()


def ask_model_path(parent, folder: bool) -> str | None:
    """A diffusers folder or a .safetensors file (module attribute: tests replace it)."""
    if folder:
        return QFileDialog.getExistingDirectory(parent, "Diffusers model folder") or None
    path, _ = QFileDialog.getOpenFileName(parent, "Single-file checkpoint", "", "Checkpoints (*.safetensors)")
    return path or None


class GenerationPanel(QWidget):
    statusMessage = Signal(str)

    def __init__(self, doc, renderer_provider=None, parent=None, bridge: GenerationBridge | None = None,
                 start_up: bool = True):
        super().__init__(parent)
        self.setObjectName("generationPanel")
        self.doc = doc
        self.bridge = bridge or GenerationBridge(self)
        self.device, self.dtype = "auto", "auto"    # LoadOptions; the window may set them from preferences
        self.before_request = None                  # e.g. MainWindow.flush_edits (prompt typing)
        self._renderer_provider = renderer_provider
        self._own_renderer = None
        self._renderer_lock = threading.Lock()
        self.builder = RequestBuilder(self.renderer, self.bridge.submit, self)
        self.scorer = ResultScorer(self.bridge, self)    # fidelity scores, on the worker (ui.generation.scoring)
        self.builder.on_truth = self.scorer.remember
        self._shown = None                    # the result on show (newest, or a history entry)
        self._current: str | None = None     # the request whose steps / image are shown
        self._pending: set[str] = set()       # requests made here and not finished
        self._finals: set[str] = set()        # Generate (not preview) requests: they go to the history
        self.pacer = LivePacer()              # live previews of fast models follow the drag (pipeline.live)
        self._live_image = None               # the last live preview shown (img2img start of the next)
        self._explicit_load = False
        self._loading_source: str | None = None
        self.export_job: ExportJob | None = None
        self._presets: dict = {}
        self._build()
        self._wire()
        self._refresh_size()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        # After the window is up: listing the models checks the Hugging Face
        # cache, and the worker's warm-up imports torch's diffusion stack.
        # start_up=False: the owner calls these itself (the main window, after
        # its first frame: see MainWindow._after_first_frame).
        if start_up:
            QTimer.singleShot(0, self.refresh_models)
            QTimer.singleShot(0, GenerationBridge.warm_up)

    # ---- layout -------------------------------------------------------------------------
    def _build(self) -> None:
        self.model_combo = compact_combo(QComboBox(), 12)
        self.model_combo.setObjectName("modelCombo")
        self.browse_btn = QToolButton()
        self.browse_btn.setText("Browse…")
        self.browse_btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.browse_btn)
        menu.addAction("Diffusers folder…", lambda: self._browse(True))
        menu.addAction("Single .safetensors file…", lambda: self._browse(False))
        self.browse_btn.setMenu(menu)
        self.load_btn = button("Load", "Load the chosen model on the generation worker (kept warm)")
        self.load_btn.setObjectName("loadModel")
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_combo, 1)
        model_row.addWidget(self.browse_btn)
        model_row.addWidget(self.load_btn)
        self.load_bar = QProgressBar()
        self.load_bar.setObjectName("modelLoading")
        self.load_bar.setRange(0, 1000)
        self.load_bar.setMaximumHeight(14)
        self.load_bar.hide()
        self.model_label = hint_label("No model loaded")
        self.model_label.setObjectName("modelState")

        self.settings = GenerationSettings(self.doc)
        self.size_label = QLabel()
        self.size_label.setObjectName("generationSize")
        self.preview_scale = compact_combo(QComboBox(), 8)
        for text, scale in PREVIEW_SCALES:
            self.preview_scale.addItem(text, scale)
        self.preview_scale.setCurrentIndex(1)
        self.preview_scale.setToolTip("Size of the auto-preview images relative to the camera's (Generate "
                                      "always uses the full size)")
        self.auto_preview = QCheckBox("Auto-preview while posing")
        self.auto_preview.setObjectName("autoPreview")
        self.auto_preview.setToolTip("After each pose, camera or frame change, generate a quick preview "
                                     "(the newest one replaces any still running)")
        self.from_previous = QCheckBox("Start from the previous preview")
        self.from_previous.setObjectName("previewFromPrevious")
        self.from_previous.setToolTip("Live previews (models of at most %d steps) start from the last one "
                                      "(img2img, strength 0.5): steadier images while dragging" % LIVE_MAX_STEPS)
        size_row = QHBoxLayout()
        size_row.addWidget(self.size_label, 1)
        size_row.addWidget(self.preview_scale)

        self.generate_action = QAction("Generate", self)
        self.generate_action.setShortcut(QKeySequence("Ctrl+Return"))
        self.generate_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.cancel_action = QAction("Cancel generation", self)
        self.addActions([self.generate_action, self.cancel_action])
        self.generate_btn = QPushButton("Generate")
        self.generate_btn.setObjectName("generateButton")
        self.generate_btn.setToolTip("Generate an image of the current frame (Ctrl+Return)")
        self.generate_btn.setDefault(True)
        self.cancel_btn = button("Cancel", "Stop the running generation (within one step)")
        self.cancel_btn.setObjectName("cancelGeneration")
        self.cancel_btn.setEnabled(False)
        run_row = QHBoxLayout()
        run_row.addWidget(self.generate_btn, 1)
        run_row.addWidget(self.cancel_btn)

        self.preview = PreviewPane()
        self.info = hint_label()
        self.info.setObjectName("generationInfo")
        self.message = QLabel()
        self.message.setObjectName("generationMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.history = HistoryStrip()
        self.export_frame_btn = button("Export frame…", "Write this frame as a dataset (rgb, passes, "
                                                         "annotations) with the loaded model")
        self.export_clip_btn = button("Export clip…", "Write the timeline range as a dataset with the "
                                                       "loaded model and the clip strategy")
        export_row = QHBoxLayout()
        export_row.addWidget(self.export_frame_btn)
        export_row.addWidget(self.export_clip_btn)

        model_box = QGroupBox("Model")
        mlay = QVBoxLayout(model_box)
        mlay.addLayout(model_row)
        mlay.addWidget(self.load_bar)
        mlay.addWidget(self.model_label)
        settings_box = QGroupBox("Settings")
        slay = QVBoxLayout(settings_box)
        slay.addWidget(self.settings)
        slay.addLayout(size_row)
        slay.addWidget(self.auto_preview)
        slay.addWidget(self.from_previous)
        self.fidelity = FidelityControls()
        slay.addWidget(self.fidelity)
        # Settings above, the image below, a splitter between: the image gets the room
        # the user gives it, the settings scroll when squeezed.
        top = QWidget()
        tlay = QVBoxLayout(top)
        tlay.setContentsMargins(0, 0, 0, 0)
        tlay.addWidget(model_box)
        tlay.addWidget(settings_box)
        tlay.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(top)
        # The dock may not squeeze the settings sideways (there is no horizontal scroll bar).
        scroll.setMinimumWidth(top.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        self._settings_area = scroll
        bottom = QWidget()
        blay = QVBoxLayout(bottom)
        blay.setContentsMargins(0, 0, 0, 0)
        blay.addLayout(run_row)
        blay.addWidget(self.preview, 1)
        blay.addWidget(self.info)
        blay.addWidget(self.message)
        blay.addWidget(self.history)
        blay.addLayout(export_row)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("generationSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(bottom)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 6)
        lay.addWidget(self.splitter)
        self._sized = False

        self._debounce = QSignalDebouncer(parent=self)   # auto-preview once edits pause
        self._debounce.setTimeout(DEBOUNCE_MS)

    def _wire(self) -> None:
        b, d = self.bridge, self.doc
        b.loading.connect(self._on_loading)
        b.modelLoaded.connect(self._on_model_loaded)
        b.progress.connect(self._on_progress)
        b.preview.connect(self._on_preview)
        b.result.connect(self._on_result)
        b.error.connect(self._on_error)
        b.cancelled.connect(self._on_cancelled)
        self.builder.failed.connect(self._on_error)
        self.fidelity.changed.connect(self._fidelity_changed)
        self._fidelity_changed()
        self.scorer.scored.connect(self._on_scored)
        self.scorer.failed.connect(self._on_score_failed)
        self.preview.overlay.toggled.connect(self._redisplay)
        self.builder.dropped.connect(self._on_cancelled)
        self.model_combo.activated.connect(self._on_model_chosen)
        self.load_btn.clicked.connect(lambda: self.load_model(explicit=True))
        self.generate_btn.clicked.connect(self.generate)
        self.generate_action.triggered.connect(self.generate)
        self.cancel_btn.clicked.connect(self.cancel)
        self.cancel_action.triggered.connect(self.cancel)
        self.history.entryActivated.connect(self.show_result)
        self.export_frame_btn.clicked.connect(self.export_frame)
        self.export_clip_btn.clicked.connect(self.export_clip)
        self._debounce.triggered.connect(self._auto_preview_now)
        self.auto_preview.toggled.connect(self._scene_edited)
        self.preview_scale.currentIndexChanged.connect(self._refresh_size)
        for sig in (d.personChanged, d.cameraChanged, d.frameChanged, d.sceneReplaced):
            sig.connect(self._scene_edited)
        d.sceneReplaced.connect(self.refresh_models)
        d.cameraChanged.connect(self._refresh_size)
        d.sceneReplaced.connect(self._refresh_size)

    def showEvent(self, event):
        super().showEvent(event)
        if not self._sized:   # first show: the settings as tall as they need, at most 60 %
            self._sized = True
            total = max(1, self.splitter.height())
            top = min(self._settings_area.widget().sizeHint().height() + 4, int(total * 0.6))
            self.splitter.setSizes([top, total - top])

    # ---- renderer ---------------------------------------------------------------------------
    def renderer(self):
        """The renderer for conditioning images and exports (any thread): the provider's, or a
        HeadlessRenderer of our own (EGL on its own thread; never a context on the GUI thread)."""
        if self._renderer_provider is not None:
            return self._renderer_provider()
        with self._renderer_lock:
            if self._own_renderer is None:
                from posebooth.viewport.headless import HeadlessRenderer

                self._own_renderer = HeadlessRenderer()
            return self._own_renderer

    # ---- models -----------------------------------------------------------------------------
    def refresh_models(self, *args) -> None:
        from posebooth.pipeline.presets import list_presets

        current = self.doc.scene.generation.model
        self.model_combo.clear()
        try:
            statuses = list_presets()
        except Exception as exc:  # the user's presets file is broken: say so, keep the scene's model
            statuses = []
            self._say(str(exc))
        for st in statuses:
            p = st.preset
            self.model_combo.addItem(p.name + ("" if st.available else "  (not downloaded)"), p.name)
            tip = p.label + ("" if st.available else "\nMissing:\n  " + "\n  ".join(st.missing))
            self.model_combo.setItemData(self.model_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        if self.model_combo.findData(current) < 0:
            self.model_combo.addItem(Path(current).name or current, current)
            self.model_combo.setItemData(self.model_combo.count() - 1, current, Qt.ItemDataRole.ToolTipRole)
        self.model_combo.setCurrentIndex(self.model_combo.findData(current))
        self._presets = {st.preset.name: st.preset for st in statuses}

    def _on_model_chosen(self, index: int) -> None:
        self._set_model(self.model_combo.itemData(index))

    def _browse(self, folder: bool) -> None:
        path = ask_model_path(self, folder)
        if path:
            self._set_model(path)

    def _set_model(self, source: str) -> None:
        if not source or source == self.doc.scene.generation.model:
            return
        preset = self._presets.get(source)

        def mutate(scene):
            scene.generation.model = source
            if preset is not None:   # the preset's recommended steps / guidance come with it
                scene.generation.steps, scene.generation.guidance = preset.steps, preset.guidance
        self.doc.edit_scene(mutate, f"Model: {Path(source).name or source}")

    def load_model(self, explicit: bool = False) -> None:
        """Load the scene's model on the worker (explicit: failures also get a message box)."""
        source = self.doc.scene.generation.model
        self._explicit_load = explicit
        self._loading_source = source
        self.load_bar.setValue(0)
        self.load_bar.show()
        self.model_label.setText(f"Loading {source}…")
        self.bridge.load(source, {"device": self.device, "dtype": self.dtype})

    def _model_ready(self) -> bool:
        return self.bridge.model is not None and self.bridge.model["source"] == self.doc.scene.generation.model

    def _on_loading(self, progress: float, message: str) -> None:
        if self._loading_source is None:   # the backend's warnings, already shown with the model
            return
        self.load_bar.setValue(int(progress * 1000))
        self.model_label.setText(message)

    def _on_model_loaded(self, info: dict | None) -> None:
        self._loading_source = None
        self.load_bar.hide()
        if info is None:   # the load failed after the previous model was freed (error follows)
            self.model_label.setText("No model loaded")
            self.settings.set_model_kinds(None)
            return
        name = Path(info["label"]).name or info["label"]
        warnings = info.get("warnings") or []
        self.model_label.setText(f"Loaded: {name} · {info['pipeline']} · {info['device']} {info['dtype']}"
                                 + (" ⚠" if warnings else ""))
        self.model_label.setToolTip("\n".join([info["source"], f"scheduler {info['scheduler']}, controls: "
                                               f"{', '.join(info['control_kinds']) or 'depth (in the UNet)'}",
                                               *warnings]))
        self.settings.set_model_kinds(info["control_kinds"])
        self.statusMessage.emit(f"Model ready: {name}" + (f". {warnings[0]}" if warnings else ""))

    # ---- requests ---------------------------------------------------------------------------
    def _flush(self) -> None:
        if self.before_request is not None:
            self.before_request()

    def generate(self) -> None:
        """Generate the current frame at full size (Ctrl+Return); goes to the history."""
        self._flush()
        gen = self.doc.scene.generation
        if not self._model_ready() and self._loading_source != gen.model:
            self.load_model(explicit=True)
        seed = gen.seed if gen.seed_locked else random_seed()
        self._request(preview=False, seed=seed)

    def _scene_edited(self, *args) -> None:
        if not (self.auto_preview.isChecked() and self._model_ready()):
            return
        if self.doc.scene.generation.steps <= LIVE_MAX_STEPS:   # a fast model: follow the drag
            if self.pacer.edit():
                self._live_preview_now()
        else:   # a slow one: wait until the edits pause, then interrupt any running preview
            self._debounce.throttle()

    def _live_preview_now(self) -> None:
        rid = self._request(preview=True, seed=self.doc.scene.generation.seed, live=True)
        if rid is not None:
            self.pacer.started(rid)

    def _live_done(self, rid: str) -> None:
        """A live preview ended: request the newest state if edits came in meanwhile."""
        if self.pacer.finished(rid) and self.auto_preview.isChecked() and self._model_ready():
            self._live_preview_now()

    def _auto_preview_now(self) -> None:
        if self.auto_preview.isChecked() and self._model_ready():
            self._request(preview=True, seed=self.doc.scene.generation.seed)

    def _request(self, preview: bool, seed: int, live: bool = False) -> str | None:
        gen = self.doc.scene.generation.model_copy(deep=True)
        model = self.bridge.model if self._model_ready() else None
        kinds = usable_kinds(gen, model["control_kinds"] if model else None)
        spec = self.doc.scene.camera
        scale = self.preview_scale.currentData() if preview else 1.0
        w, h = generation_size(spec.width, spec.height, scale)
        try:
            camera = camera_at_size(camera_at(spec, self.doc.frame), w, h)
            people = tuple(self.doc.posed())
            props = tuple(self.doc.placed_props())   # a bad mesh file is said here, like a bad body
        except Exception as exc:  # a body model that cannot be built, a degenerate camera
            self._show_error(None, f"Cannot pose the scene: {exc}", explicit=not preview)
            return None
        ref, ref_init = spec.reference, None
        if not live and ref is not None and ref.init_image:
            from posebooth.assets.reference_image import ReferenceImageError, reference_init_image
            try:
                ref_init = reference_init_image(ref, w, h)
            except ReferenceImageError as exc:
                self._show_error(None, str(exc), explicit=not preview)
                return None
        rid = new_request_id()
        self._current = rid
        self._pending.add(rid)
        if not preview:
            self._finals.add(rid)
        self.cancel_btn.setEnabled(True)
        self.message.hide()
        init = self._live_image if live and self.from_previous.isChecked() else None
        if init is not None and init.shape[:2] != (h, w):
            init = None
        strength = 0.5
        if init is None and ref_init is not None:   # img2img from the camera's reference image
            init, strength = ref_init, gen.img2img_strength
        if not live:
            self.preview.busy("preview…" if preview else "rendering the conditioning…")
        self.builder.request(Snapshot(rid, people, camera, gen, kinds, int(seed), self.doc.frame, preview,
                                      live=live, init_image=init, props=props, strength=strength,
                                      score=self.scorer.enabled and not live))
        return rid

    def cancel(self) -> None:
        """Cancel this panel's requests (not an export: its dialog has its own Cancel)."""
        self.pacer.reset()   # a drag in progress does not restart them
        for rid in list(self._pending):
            self.builder.cancel(rid)
            self.bridge.cancel(rid)

    # ---- results (GUI thread, queued from the worker) -----------------------------------------
    def _on_progress(self, rid: str, step: int, total: int) -> None:
        if rid == self._current:
            self.preview.set_step(step, total)

    def _on_preview(self, rid: str, step: int, image) -> None:
        if rid == self._current and not self.pacer.owns(rid):   # live: only final images
            self.preview.view.set_image(image, aspect=self._aspect())

    def _on_result(self, result) -> None:
        rid = result.request_id
        if self.pacer.owns(rid):
            self._on_live_result(result)
            return
        self._finish(rid)
        if rid in self._finals:
            self._finals.discard(rid)
            self.history.add_result(result)
        self.scorer.device = self.device   # the estimators go where the diffusion model went
        scoring = self.scorer.score(result)
        if rid == self._current:
            self.show_result(result)
            secs = result.timings.get("total", 0.0)
            self.preview.done(f"done in {secs:.1f} s (seed {result.seed})" + (" · scoring…" if scoring else ""))
            if not result.settings.get("preview"):
                self.statusMessage.emit(f"Generated in {secs:.1f} s, seed {result.seed}")

    def _on_live_result(self, result) -> None:
        rid = result.request_id
        self._finish(rid)
        # Shown only if no newer one is (stale poses never replace newer images) and no
        # Generate was asked for since.
        if self.pacer.accept(rid) and (self._current is None or self.pacer.owns(self._current)):
            self.show_result(result)
            self._live_image = result.image
            self.preview.done(f"live preview in {result.timings.get('total', 0.0) * 1000:.0f} ms")
        self._live_done(rid)

    def show_result(self, result) -> None:
        """Show a result (the newest, or one clicked in the history) with its settings and score."""
        self._shown = result
        self._redisplay()

    def _redisplay(self, *args) -> None:
        """The shown result's image (with the fidelity overlay when asked) and its summary line."""
        result = self._shown
        if result is None:
            return
        scored = self.scorer.results.get(result.request_id)
        self.preview.overlay.setEnabled(scored is not None)
        image = result.image
        if scored is not None and self.preview.overlay.isChecked():
            from posebooth.export.fidelity_overlay import draw_fidelity_overlay

            s = scored.scores
            image = draw_fidelity_overlay(np.asarray(result.image), scored.coco17, scored.bbox, s.keypoints,
                                          s.estimated, scored.colors or ((1.0, 0.8, 0.2),))
        self.preview.view.set_image(image)
        self.info.setText(summary(result) + (f" · {scored.text()}" if scored is not None else ""))
        self.info.setToolTip(describe(result) + (f"\n{scored.text()}" if scored is not None else ""))

    # ---- fidelity scores (ui.generation.scoring) ------------------------------------------------
    def _fidelity_changed(self) -> None:
        self.scorer.configure(*self.fidelity.values())
        self.scorer.device = self.device

    def _on_scored(self, rid: str, scored) -> None:
        self.scorer.results[rid] = scored
        self.history.set_score(rid, scored)
        if self._shown is not None and self._shown.request_id == rid:
            self._redisplay()
            if rid == self._current:
                self.preview.done(scored.text())

    def _on_score_failed(self, rid: str, message: str) -> None:
        self.message.setText(f"⚠ {message}")
        self.message.show()
        self.statusMessage.emit(message)
        if rid == self._current:
            self.preview.done("not scored")

    def _on_error(self, rid, message: str) -> None:
        if rid is not None and rid == self.bridge.load_id:
            self.load_bar.hide()
            self._loading_source = None
            self.model_label.setText("Model not loaded")
            self._show_error("Model not loaded", message, explicit=self._explicit_load)
            # The requests that waited on this load failed with it: they read "failed", and
            # their own "no model" errors must not hide the load's message.
            self._failed_with_load = set(self._pending)
            self.cancel()   # requests queued behind the load would run on no (or the old) model
            return
        if rid is not None and rid not in self._pending:
            return  # a stale request's failure
        if rid in getattr(self, "_failed_with_load", ()):
            self._on_cancelled(rid)
            return
        explicit = rid in self._finals
        self._finish(rid)
        self._finals.discard(rid)
        self._show_error("Generation failed", message, explicit=explicit)
        self._live_done(rid)

    def _on_cancelled(self, rid: str) -> None:
        if rid not in self._pending:
            return
        self._finish(rid)
        self._finals.discard(rid)
        if rid == self._current:
            failed = rid in getattr(self, "_failed_with_load", ())
            self.preview.reset_steps("failed" if failed else "cancelled")
        getattr(self, "_failed_with_load", set()).discard(rid)
        self._live_done(rid)

    def _finish(self, rid) -> None:
        self._pending.discard(rid)
        self.cancel_btn.setEnabled(bool(self._pending))

    def _show_error(self, title: str | None, message: str, explicit: bool) -> None:
        self.message.setText(f"⚠ {message}")
        self.message.show()
        self.preview.reset_steps("failed")
        self.statusMessage.emit(message.splitlines()[0])
        if explicit:
            notify_error(self, title or "Generation", message)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()
        self.statusMessage.emit(text.splitlines()[0])

    # ---- size ---------------------------------------------------------------------------------
    def _aspect(self) -> float:
        spec = self.doc.scene.camera
        return spec.width / spec.height

    def _refresh_size(self, *args) -> None:
        spec = self.doc.scene.camera
        w, h = generation_size(spec.width, spec.height)
        note = "" if (w, h) == (spec.width, spec.height) else f" (camera {spec.width}×{spec.height})"
        pw, ph = generation_size(spec.width, spec.height, self.preview_scale.currentData())
        self.size_label.setText(f"Size {w}×{h}{note}")
        self.size_label.setToolTip(f"From the scene camera; auto-previews at {pw}×{ph}")

    # ---- export -------------------------------------------------------------------------------
    def export_frame(self) -> ExportJob | None:
        return self._export([self.doc.frame], "Export frame")

    def export_clip(self) -> ExportJob | None:
        return self._export(list(self.doc.scene.timeline.frames), "Export clip")

    def _export(self, frames, title: str) -> ExportJob | None:
        if self.export_job is not None:
            notify_error(self, title, "An export is already running.")
            return None
        if self.bridge.model is None or self._loading_source is not None:
            notify_error(self, title, "Load a model first (and let it finish loading): the export "
                                      "generates every frame with it. File → Export Maps… (Ctrl+Shift+E) "
                                      "writes the depth, OpenPose and other maps without a model.")
            return None
        folder = generation_export.ask_export_folder(self, title)
        if not folder:
            return None
        self._flush()
        gen = self.doc.scene.generation
        job = ExportJob(self.bridge, self.doc.scene, folder, frames, model=self.bridge.model,
                        renderer_provider=self.renderer, body_for=self.doc.body_model,
                        seed=gen.seed if gen.seed_locked else random_seed(), parent=self)
        job.finished.connect(self._export_finished)
        job.failed.connect(self._export_failed)
        job.cancelled.connect(self._export_cancelled)
        self.export_job = job
        self._progress = ExportProgress(job, title, self)
        self._progress.show()
        job.start()
        return job

    def _export_finished(self, manifest: dict) -> None:
        job, self.export_job = self.export_job, None
        state = "complete" if manifest.get("complete") else "incomplete"
        self._say(f"Exported {len(manifest.get('frames', []))} frame(s) to {job.out_dir} ({state})")

    def _export_failed(self, message: str) -> None:
        self.export_job = None
        self._show_error("Export failed", message, explicit=True)

    def _export_cancelled(self) -> None:
        job, self.export_job = self.export_job, None
        self._say(f"Export cancelled; the finished frames are in {job.out_dir} (export again to resume)")

    # ---- lifetime -----------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop exports and generation and free the renderer (window close, app quit)."""
        if self.export_job is not None:
            self.export_job.cancel()
            self.export_job.wait(10)
        self._debounce.cancel()
        self.builder.shutdown()
        self.scorer.shutdown()
        self.bridge.shutdown()
        with self._renderer_lock:
            renderer, self._own_renderer = self._own_renderer, None
        if renderer is not None:
            renderer.close()
