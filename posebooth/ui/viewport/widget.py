"""The interactive 3D viewport: a QOpenGLWidget hosting the one `Renderer`
(the same shaded mesh as the export) plus moderngl overlays.

Choice: plain moderngl in Qt's GL context, no vispy. The bodies must come
from `renderer.Renderer` anyway (DESIGN.md: one renderer), and the overlays
are a few hundred lines of GL, so a second scene graph would add nothing.

The widget reads everything from the `SceneDocument` at paint time and edits
only through it (set_pose with a drag token: one undo step per drag). Input
handling lives in `qt_input.ViewportInput`; the math is Qt-free (orbit,
gizmo, drags, picking, assets.ik).
"""
from __future__ import annotations

import logging

import moderngl
import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QSurfaceFormat
from PySide6.QtOpenGLWidgets import QOpenGLWidget

from posebooth.assets.smpl_skeleton import PARENTS
from posebooth.scene.camera import Camera
from posebooth.scene.tracks import camera_key_at
from posebooth.viewport import overlay_geometry as geo
from posebooth.viewport.drags import GizmoDrag, joint_axes
from posebooth.viewport.gizmo import Gizmo
from posebooth.viewport.orbit import OrbitView, fit_camera
from posebooth.viewport.overlays import Overlays
from posebooth.frame.pass_images import PASSES, render_overlay
from posebooth.frame.render import render_meshes
from posebooth.ui.viewport.finger_input import FingerInput
from posebooth.ui.viewport.input import ViewportInput
from posebooth.viewport.prop_drags import PropRotateDrag, prop_axes
from posebooth.viewport.reference_layer import ReferenceLayer
from posebooth.viewport.renderer import BACKGROUND_RGB, Renderer

logger = logging.getLogger(__name__)

GIZMO_RADIUS_PX = 80.0     # logical pixels; scaled by the device pixel ratio
MARKER_PX = 9.0
PICK_RADIUS_PX = 12.0
FRUSTUM_DEPTH = 0.5        # metres: the render camera's pyramid (and its reference image) in the view


def surface_format() -> QSurfaceFormat:
    """3.3 core (Mesa gives 4.5 core, macOS 4.1 core), 24-bit depth, no MSAA
    (the body image must match the export's passes pixel for pixel)."""
    fmt = QSurfaceFormat()
    fmt.setRenderableType(QSurfaceFormat.RenderableType.OpenGL)
    fmt.setVersion(3, 3)
    fmt.setProfile(QSurfaceFormat.OpenGLContextProfile.CoreProfile)
    fmt.setDepthBufferSize(24)
    fmt.setStencilBufferSize(8)
    return fmt


class ViewportWidget(FingerInput, ViewportInput, QOpenGLWidget):
    viewChanged = Signal()                  # the view camera moved (orbit, pan, zoom, view keys)
    lookThroughChanged = Signal(bool)
    overlayChanged = Signal(object)         # str in PASSES, or None
    gizmoSpaceChanged = Signal(str)
    ikEnabledChanged = Signal(bool)
    statusMessage = Signal(str)             # short hints during drags (angle, target)

    def __init__(self, doc, parent=None):
        QOpenGLWidget.__init__(self, parent)
        self.setFormat(surface_format())
        self.doc = doc
        self.view = OrbitView()
        self._look_through = False
        self.frame_fill = 0.9               # output frame size in look-through mode (wheel zooms it)
        self._gizmo_space = "local"
        self._ik_enabled = False
        self._overlay: str | None = None
        self.show_grid = self.show_skeleton = self.show_gizmo = self.show_frustum = True
        self.gl_error: str | None = None    # no usable OpenGL, or a paint failed (logged)
        self.pose_error: str | None = None  # the bodies could not be posed (nothing drawn)
        self.prop_error: str | None = None  # a prop's mesh file is unusable (that prop not drawn)
        self.reference_error: str | None = None   # the reference image cannot be shown
        self._ctx = self._renderer = self._overlays = self._reference = None
        self._pass_cache: tuple | None = None
        self._bg: tuple | None = None       # (key, framebuffer, texture) of the cached background layer
        self._framed_once = False
        self._init_input()
        for sig in (doc.sceneReplaced, doc.personChanged, doc.peopleChanged, doc.cameraChanged,
                    doc.frameChanged, doc.selectionChanged, doc.bodyReady):
            sig.connect(self._doc_changed)
        for sig in (doc.sceneReplaced, doc.peopleChanged, doc.frameChanged):
            sig.connect(self.end_drag_on_external_change)
        self.setMinimumSize(160, 120)

    # ---- properties the main window wires to actions -------------------------
    @property
    def limits_enabled(self) -> bool:
        """Joint limits during gizmo and IK drags: the document's switch (Pose > Joint Limits)."""
        return getattr(self.doc, "joint_limits", True)

    @limits_enabled.setter
    def limits_enabled(self, on: bool) -> None:
        self.doc.joint_limits = bool(on)

    @property
    def gizmo_space(self) -> str:
        return self._gizmo_space

    @gizmo_space.setter
    def gizmo_space(self, space: str) -> None:
        if space not in ("local", "global"):
            raise ValueError("gizmo_space is 'local' or 'global'")
        if space != self._gizmo_space:
            self._gizmo_space = space
            self.gizmoSpaceChanged.emit(space)
            self.update()

    def toggle_gizmo_space(self) -> None:
        self.gizmo_space = "global" if self._gizmo_space == "local" else "local"

    @property
    def ik_enabled(self) -> bool:
        return self._ik_enabled

    @ik_enabled.setter
    def ik_enabled(self, on: bool) -> None:
        if bool(on) != self._ik_enabled:
            self._ik_enabled = bool(on)
            self.ikEnabledChanged.emit(self._ik_enabled)

    def set_ik_enabled(self, on: bool) -> None:
        self.ik_enabled = on

    @property
    def look_through(self) -> bool:
        return self._look_through

    def set_look_through(self, on: bool) -> None:
        if bool(on) != self._look_through:
            self._look_through = bool(on)
            if not on and self._overlay is not None:   # passes are only seen through the render camera
                self._overlay = None
                self.overlayChanged.emit(None)
            self.lookThroughChanged.emit(self._look_through)
            self.viewChanged.emit()
            self.update()

    def toggle_look_through(self) -> None:
        self.set_look_through(not self._look_through)

    @property
    def overlay(self) -> str | None:
        return self._overlay

    def set_overlay(self, name: str | None) -> None:
        """Show a pass 'exactly as exported' ('depth', 'normal', 'parts',
        'openpose') through the render camera, or None for the shaded view.
        A pass is seen through the render camera, so this looks through it."""
        if name is not None and name not in PASSES:
            raise ValueError(f"unknown overlay {name!r}; choose from {PASSES}")
        if name != self._overlay:
            self._overlay = name
            self.overlayChanged.emit(name)
        if name is not None:
            self.set_look_through(True)
        self.update()

    # ---- views ------------------------------------------------------------
    def device_size(self) -> tuple[int, int]:
        dpr = self.devicePixelRatioF()
        return max(1, round(self.width() * dpr)), max(1, round(self.height() * dpr))

    def render_camera(self) -> Camera:
        return self.doc.camera()

    def view_camera(self) -> Camera:
        """The camera the widget draws with, in framebuffer (device) pixels."""
        W, H = self.device_size()
        if self._look_through:
            return fit_camera(self.render_camera(), W, H, self.frame_fill)[0]
        return self.view.camera(W, H)

    def output_frame_rect(self) -> tuple[float, float, float, float]:
        """Look-through mode: the output image's rectangle in framebuffer pixels."""
        return fit_camera(self.render_camera(), *self.device_size(), self.frame_fill)[1]

    def project_to_widget(self, points) -> np.ndarray:
        """World points -> widget (logical) coordinates, for tests and tooltips."""
        xy, _ = self.view_camera().project(np.asarray(points, float))
        return xy / self.devicePixelRatioF()

    def _leave_look_through(self) -> None:
        """Orbit/pan from the render camera (Blender leaves camera view the same way)."""
        if not self._look_through:
            return
        key = camera_key_at(self.doc.scene.camera, self.doc.frame)
        dist = float(np.linalg.norm(np.subtract(key.target, key.position)))
        self.view = OrbitView.from_camera(self.render_camera(), distance=dist)
        self.set_look_through(False)

    def set_view(self, name: str) -> None:
        """'front', 'back', 'right', 'left', 'top', 'bottom' (numpad 1/3/7, ctrl for the opposite)."""
        self._leave_look_through()
        self.view.set_view(name)
        self._view_moved()

    def frame_all(self) -> None:
        pts = [p.vertices[::7] for p in self._posed()]
        if pts:
            self._leave_look_through()
            self.view.frame_points(np.concatenate(pts), *self.device_size())
            self._view_moved()

    def frame_selected(self) -> None:
        """F: frame the selected joint with its bones, else the selected person, else all."""
        posed = self._posed()
        p, j = self.doc.selected_person, self.doc.selected_joint
        if p is None or p >= len(posed):
            return self.frame_all()
        if j is None:
            pts = posed[p].vertices[::7]
        else:
            near = [j, *[c for c, par in enumerate(PARENTS) if par == j]]
            if PARENTS[j] >= 0:
                near.append(PARENTS[j])
            c = posed[p].joints[j]
            pts = np.concatenate([posed[p].joints[near], c + 0.25 * np.eye(3), c - 0.25 * np.eye(3)])
        self._leave_look_through()
        self.view.frame_points(pts, *self.device_size())
        self._view_moved()

    def set_render_camera_from_view(self) -> None:
        """Key the render camera at the current view (position and target, no roll)."""
        if self._look_through:
            return
        self.doc.set_camera_key(text="Camera from view", position=[float(v) for v in self.view.position],
                                target=[float(v) for v in self.view.target], roll=0.0)

    def _view_moved(self) -> None:
        self.viewChanged.emit()
        self.update()

    # ---- document -----------------------------------------------------------
    def _doc_changed(self, *args) -> None:
        self.update()

    def _posed(self):
        try:
            posed = self.doc.posed()
            self.pose_error = None
            return posed
        except Exception as exc:  # a body that fails to build must not kill painting
            if self.pose_error != str(exc):
                logger.exception("posing the scene failed")
            self.pose_error = str(exc)
            return []

    def _report(self, attr: str, message: str | None) -> None:
        """Keep the latest problem of a kind; a new one goes to the status bar once."""
        if message is not None and message != getattr(self, attr):
            logger.warning(message)
            self.statusMessage.emit(message)
        setattr(self, attr, message)

    def _props(self):
        """The scene's props placed in the world; one with an unusable mesh
        file is left out and reported."""
        errors = []
        props = self.doc.placed_props(on_error=errors.append)
        self._report("prop_error", errors[0] if errors else None)
        return props

    def _reference_image(self):
        """(image, ImageReference) of the render camera's reference, or None."""
        ref = self.doc.scene.camera.reference
        if ref is None:
            self._report("reference_error", None)
            return None
        from posebooth.assets.reference_image import ReferenceImageError, load_reference
        try:
            image = load_reference(ref)
        except ReferenceImageError as exc:
            self._report("reference_error", str(exc))
            return None
        self._report("reference_error", None)
        return image, ref

    def gizmo(self) -> Gizmo | None:
        """The rotate gizmo as drawn now (framebuffer pixels), or None."""
        return self._gizmo(self.view_camera())

    def _prop_gizmo(self, camera: Camera) -> Gizmo | None:
        i = self.doc.selected_prop
        if not self.show_gizmo or i is None or i >= len(self.doc.scene.props):
            return None
        prop = self.doc.scene.props[i]
        axes = prop_axes(prop, self._gizmo_space)
        if isinstance(self._drag, PropRotateDrag):   # the rings stay put while dragging
            axes = self._drag.rot.gizmo.axes
        radius = min(GIZMO_RADIUS_PX * self.devicePixelRatioF(), 0.3 * min(camera.width, camera.height))
        return Gizmo.at(camera, prop.position, axes, radius)

    def _gizmo(self, camera: Camera) -> Gizmo | None:
        if self.doc.selected_prop is not None:
            return self._prop_gizmo(camera)
        if self._finger_selection() is not None:
            return self._finger_gizmo(camera)
        p, j = self.doc.selected_person, self.doc.selected_joint
        posed = self._posed()
        if not self.show_gizmo or p is None or j is None or p >= len(posed):
            return None
        axes = joint_axes(posed[p].pose, j, self._gizmo_space)
        if isinstance(self._drag, GizmoDrag):   # the rings stay put while dragging
            axes = self._drag.rot.gizmo.axes
        radius = min(GIZMO_RADIUS_PX * self.devicePixelRatioF(), 0.3 * min(camera.width, camera.height))
        return Gizmo.at(camera, posed[p].joints[j], axes, radius)

    # ---- GL -----------------------------------------------------------------
    def initializeGL(self) -> None:
        try:
            self._ctx = moderngl.create_context(require=330)
            self._renderer = Renderer(self._ctx)
            self._overlays = Overlays(self._ctx)
            self._reference = ReferenceLayer(self._ctx)
            self.gl_error = None
        except Exception as exc:  # too old a GL, broken driver
            self.gl_error = f"OpenGL 3.3 is needed for the viewport: {exc}"
            logger.error(self.gl_error)
            self._ctx = self._renderer = self._overlays = self._reference = None
            return
        self.context().aboutToBeDestroyed.connect(self._release_gl)

    def resizeGL(self, w: int, h: int) -> None:
        if not self._framed_once:   # first size known: frame everyone, like opening a file in Blender
            self._framed_once = True
            self.frame_all()

    def _release_gl(self) -> None:
        """Qt is about to drop the context (e.g. re-parenting): free our objects."""
        self.makeCurrent()
        try:
            self._release_background()
            if self._overlays is not None:
                self._overlays.release()
            if self._reference is not None:
                self._reference.release()
            if self._renderer is not None:
                self._renderer.release()
        finally:
            self._ctx = self._renderer = self._overlays = self._reference = None
            self._pass_cache = None
            self.doneCurrent()

    def paintGL(self) -> None:
        # An exception escaping a C++ virtual override can take PySide down
        # (seen with grabFramebuffer): report it and keep the app alive.
        if self._ctx is None:
            return
        try:
            self._paint()
            self.gl_error = None
        except Exception as exc:
            logger.exception("viewport paint failed")
            self.gl_error = f"viewport paint failed: {exc}"

    def _paint(self) -> None:
        fbo = self._ctx.detect_framebuffer(self.defaultFramebufferObject())
        camera = self.view_camera()
        posed = self._posed()
        props = self._props()
        meshes = render_meshes(posed, props)
        bg = tuple(c / 255.0 for c in BACKGROUND_RGB)
        fbo.use()
        fbo.clear(*bg, 1.0, depth=1.0)
        ov = self._overlays
        if self._look_through and self._overlay is not None:
            image = self._pass_image(posed, props)
            fbo.use()
            ov.begin(camera)
            ov.image(image, self.output_frame_rect())
            geo.draw_frame(ov, self.output_frame_rect(), self.device_size(), self.devicePixelRatioF())
            return
        self._draw_background(fbo, camera)
        ref = self._reference_image()
        if ref is not None:   # behind the bodies: they are drawn over it
            fbo.use()
            if self._look_through:
                self._reference.draw(ref[0], self.output_frame_rect(), self.device_size(), ref[1].opacity,
                                     ref[1].fit)
            elif self.show_frustum:   # in the frustum, where the frame is drawn
                self._reference.draw_in_frustum(ref[0], self.render_camera(), camera, FRUSTUM_DEPTH,
                                                ref[1].opacity, ref[1].fit)
        self._renderer.draw_into(fbo, meshes, camera, clear=False)
        ov.begin(camera)
        dpr = self.devicePixelRatioF()
        if self.show_frustum and not self._look_through:
            render = self.render_camera()
            ov.lines(geo.frustum_segments(render, FRUSTUM_DEPTH), width=1.5 * dpr, depth_test=False)
        q = self.doc.selected_prop
        if q is not None:
            for m in props:
                if m.index == q:
                    geo.draw_box(ov, m.vertices.min(0), m.vertices.max(0), width=1.5 * dpr)
        p = self.doc.selected_person
        if self.show_skeleton and p is not None and p < len(posed):
            geo.draw_skeleton(ov, posed[p].joints, self.doc.selected_joint, MARKER_PX * dpr, dpr)
            self._draw_fingers(ov, posed[p], camera, dpr)
        g = self._gizmo(camera)
        if g is not None and self._drag_kind not in ("move", "ik"):
            geo.draw_gizmo(ov, g, camera, self._hover, self._active_handle(), scale=dpr)
        if self._drag_kind == "ik" and self._drag is not None:
            t = self._drag.target
            ov.points(geo.vertices(t[None], (1.0, 0.85, 0.2, 1.0), 7.0 * dpr))
        if self._look_through:
            geo.draw_frame(ov, self.output_frame_rect(), self.device_size(), dpr)

    def _draw_background(self, fbo, camera: Camera) -> None:
        """Background colour and ground grid, rendered once per view and blitted
        after that: while posing the view stands still, and on a software
        rasteriser the grid's long lines cost more than the body. The grid
        sits behind the bodies (it is the floor they stand on)."""
        size = (camera.width, camera.height)
        key = (camera.extrinsic.tobytes(), camera.K.tobytes(), size, self.show_grid, self._look_through,
               tuple(np.round(self.view.target, 6)))
        if self._bg is None or self._bg[0] != key:
            if self._bg is None or self._bg[1].size != size:
                self._release_background()
                tex = self._ctx.texture(size, 4, dtype="f1")
                self._bg = (None, self._ctx.framebuffer([tex]), tex)
            layer = self._bg[1]
            layer.use()
            layer.clear(*(c / 255.0 for c in BACKGROUND_RGB), 1.0)
            if self.show_grid:
                self._overlays.begin(camera)
                geo.draw_grid(self._overlays, camera.position if self._look_through else self.view.target)
            self._bg = (key, layer, self._bg[2])
        fbo.use()
        self._ctx.copy_framebuffer(fbo, self._bg[1])

    def _release_background(self) -> None:
        if self._bg is not None:
            self._bg[1].release()
            self._bg[2].release()
            self._bg = None

    def _pass_image(self, posed, props=()) -> np.ndarray:
        """The overlay pass through the render camera at the output size,
        cached until the scene, the camera or the overlay changes."""
        render = self.render_camera()
        key = (self.doc.revision, self._overlay, render.extrinsic.tobytes(), render.K.tobytes(),
               render.width, render.height)
        if self._pass_cache is None or self._pass_cache[0] != key:
            image = render_overlay(self._overlay, self._renderer, posed, render, self.doc.frame, props)
            self._pass_cache = (key, image)
        return self._pass_cache[1]
