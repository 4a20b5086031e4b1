"""An OpenPose JSON as a 2D reference over the camera view (File → Import
OpenPose JSON…): each person's skeleton drawn in the render camera's output
frame, so the body can be posed to match it by eye. Fitting the body to it
is not done.

The keypoints are pixels of the image the JSON came from: its canvas size
when the file gives one (the ControlNet editors' files), else the render
camera's size. That image is placed in the output frame aspect kept and
centred ("fit"), like a reference image.

The overlay is a transparent child widget of the viewport (QPainter, no GL),
seen only through the render camera; importing one looks through it.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from posebooth.assets.openpose_reader import HAND_LIMBS, LIMBS, OpenPoseError, OpenPoseFile, read_openpose
from posebooth.frame.conditioning import OPENPOSE_COLORS

OPACITY = 200          # of 255: the bodies stay visible under the reference
LINE_WIDTH = 3.0
HAND_COLOR, FACE_COLOR = QColor(80, 160, 255, OPACITY), QColor(255, 255, 255, OPACITY)


def image_to_widget(frame_rect, image_size, dpr: float = 1.0):
    """(scale, dx, dy): widget = (image pixel) * scale + (dx, dy), for an
    image of `image_size` (w, h) fitted into `frame_rect` (x0, y0, x1, y1 in
    framebuffer pixels) and widget coordinates `dpr` times smaller."""
    x0, y0, x1, y1 = (float(v) / dpr for v in frame_rect)
    w, h = image_size
    s = min((x1 - x0) / w, (y1 - y0) / h)
    return s, x0 + ((x1 - x0) - w * s) / 2.0, y0 + ((y1 - y0) - h * s) / 2.0


class OpenPoseOverlay(QWidget):
    """Draws `reference` (an OpenPoseFile) over `viewport` (the Qt viewport:
    look_through, output_frame_rect(), devicePixelRatioF())."""

    def __init__(self, viewport, reference: OpenPoseFile, fallback_size: tuple[int, int]):
        super().__init__(viewport)
        self.setObjectName("openposeReference")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.viewport, self.reference = viewport, reference
        self.image_size = reference.canvas or fallback_size
        viewport.installEventFilter(self)
        for name in ("viewChanged", "lookThroughChanged"):
            if hasattr(viewport, name):
                getattr(viewport, name).connect(self.update)
        self.setGeometry(viewport.rect())
        self.show()
        self.raise_()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.viewport and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.viewport.rect())
        return False

    def mapping(self):
        return image_to_widget(self.viewport.output_frame_rect(), self.image_size,
                               self.viewport.devicePixelRatioF())

    def paintEvent(self, event) -> None:
        if not getattr(self.viewport, "look_through", False):
            return
        s, dx, dy = self.mapping()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)

        def pt(p):
            return QPointF(p[0] * s + dx, p[1] * s + dy)

        def draw(points, limbs, colour_of, radius):
            for i, (a, b) in enumerate(limbs):
                if points[a, 2] > 0 and points[b, 2] > 0:
                    painter.setPen(QPen(colour_of(i), LINE_WIDTH, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
                    painter.drawLine(pt(points[a]), pt(points[b]))
            painter.setPen(Qt.PenStyle.NoPen)
            for i, p in enumerate(points):
                if p[2] > 0:
                    painter.setBrush(colour_of(i))
                    painter.drawEllipse(pt(p), radius, radius)

        body_colour = lambda i: QColor(*OPENPOSE_COLORS[i % len(OPENPOSE_COLORS)], OPACITY)  # noqa: E731
        for person in self.reference.people:
            draw(person.body, LIMBS[person.layout], body_colour, 3.5)
            for hand in (person.hand_left, person.hand_right):
                if hand is not None:
                    draw(hand, HAND_LIMBS, lambda i: HAND_COLOR, 2.0)
            if person.face is not None:
                draw(person.face, (), lambda i: FACE_COLOR, 1.5)
        painter.end()

    def remove(self) -> None:
        self.viewport.removeEventFilter(self)
        self.hide()
        self.deleteLater()


def show_reference(window, reference: OpenPoseFile) -> OpenPoseOverlay | None:
    """Replace the window's OpenPose reference; looks through the render camera."""
    clear_reference(window)
    vp = window.viewport
    if not hasattr(vp, "output_frame_rect"):
        window.statusBar().showMessage("An OpenPose reference needs the 3D viewport.", 5000)
        return None
    cam = window.doc.scene.camera
    window.openpose_overlay = OpenPoseOverlay(vp, reference, (cam.width, cam.height))
    window.viewport_flag("look_through", True)
    return window.openpose_overlay


def clear_reference(window) -> None:
    overlay = getattr(window, "openpose_overlay", None)
    if overlay is not None:
        overlay.remove()
    window.openpose_overlay = None


def import_reference(window) -> OpenPoseOverlay | None:
    """File → Import OpenPose JSON…"""
    from posebooth.ui import dialogs

    path = dialogs.get_open_path(window, "Import OpenPose JSON", "", "OpenPose JSON (*.json);;All files (*)")
    if not path:
        return None
    try:
        reference = read_openpose(path)
    except OpenPoseError as e:
        dialogs.show_error(window, "Cannot import the OpenPose JSON", str(e))
        return None
    overlay = show_reference(window, reference)
    if overlay is not None:
        n = len(reference.people)
        window.statusBar().showMessage(f"OpenPose reference: {n} {'person' if n == 1 else 'people'} from {path}",
                                       6000)
    return overlay
