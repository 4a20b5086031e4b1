"""Small building blocks shared by the panels."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy,
                               QVBoxLayout, QWidget)
from superqt import QLabeledDoubleSlider
from superqt.utils import QSignalDebouncer


class EditBurst(QObject):
    """Merge token for edits that arrive in bursts (a slider drag, spin-box
    arrows held down, the mouse wheel): every edit in the burst carries the
    same token so the undo stack merges them into one step.

    `press()` / `release()` bracket a mouse drag; outside a drag the token
    lives until `quiet_ms` pass without an edit.
    """

    def __init__(self, quiet_ms: int = 700, parent=None):
        super().__init__(parent)
        self._token: object | None = None
        self._pressed = False
        self._quiet = QSignalDebouncer(parent=self)
        self._quiet.setTimeout(quiet_ms)
        self._quiet.triggered.connect(self._expire)

    @property
    def dragging(self) -> bool:
        return self._pressed

    def press(self):
        if not self._pressed:
            self._pressed, self._token = True, object()

    def release(self):
        self._pressed, self._token = False, None

    def token(self) -> object:
        if self._token is None:
            self._token = object()
        if not self._pressed:
            self._quiet.throttle()
        return self._token

    def _expire(self):
        if not self._pressed:
            self._token = None


def button(text: str, tip: str = "") -> QPushButton:
    """A push button that may shrink to its text (Fusion's default minimum
    width is ~80 px, too wide for three buttons in a side panel)."""
    b = QPushButton(text)
    b.setMinimumWidth(b.fontMetrics().horizontalAdvance(text) + 16)
    if tip:
        b.setToolTip(tip)
    return b


def compact_combo(combo: QComboBox, chars: int = 8) -> QComboBox:
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)
    return combo


class _PressWatcher(QObject):
    """Opens the burst at the mouse press itself: Qt's slider jumps to the
    click (emitting valueChanged) before it emits sliderPressed, and a click
    that does not grab the handle never emits sliderReleased."""

    def __init__(self, burst: EditBurst, on_release, parent=None):
        super().__init__(parent)
        self.burst, self.on_release = burst, on_release

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self.burst.press()
        elif event.type() == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
            QTimer.singleShot(0, self.release)  # after the slider handled the release
        return False

    def release(self):
        if self.burst.dragging:
            self.burst.release()
            self.on_release()


def bind_drag(labeled_slider, burst: EditBurst, on_release) -> None:
    """One undo step per mouse drag on `labeled_slider` (see EditBurst)."""
    watcher = _PressWatcher(burst, on_release, labeled_slider)
    getattr(labeled_slider, "_slider", labeled_slider).installEventFilter(watcher)
    labeled_slider.sliderPressed.connect(burst.press)
    labeled_slider.sliderReleased.connect(watcher.release)


def hint_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("panelHint")
    label.setWordWrap(True)
    pal = label.palette()
    pal.setColor(QPalette.ColorRole.WindowText, pal.color(QPalette.ColorRole.PlaceholderText))
    label.setPalette(pal)
    return label


def title_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("panelTitle")
    # a long person name must not widen the panel: the title is clipped instead
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label


def slider(minimum: float, maximum: float, decimals: int = 1) -> QLabeledDoubleSlider:
    s = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    s.setRange(minimum, maximum)
    s.setDecimals(decimals)
    s.setSingleStep(10 ** -decimals)
    return s


def spin(minimum: float, maximum: float, decimals: int = 3, step: float = 0.05, suffix: str = "") -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setRange(minimum, maximum)
    s.setDecimals(decimals)
    s.setSingleStep(step)
    s.setKeyboardTracking(False)  # one edit on Enter, not one per digit typed
    s.setAccelerated(True)
    if suffix:
        s.setSuffix(suffix)
    return s


def vertical_scroll(panel: QWidget, inner: QWidget) -> QScrollArea:
    """Put `inner` in a vertical-only scroll area filling `panel`; the panel
    never gets narrower than the content, so nothing is clipped on the right."""
    scroll = QScrollArea(panel)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setWidget(inner)
    bar = scroll.verticalScrollBar().sizeHint().width()
    scroll.setMinimumWidth(inner.minimumSizeHint().width() + bar)
    outer = QVBoxLayout(panel)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
    return scroll


def set_quietly(widget, value) -> None:
    """Set a widget's value without emitting its change signals."""
    was = widget.blockSignals(True)
    try:
        widget.setValue(value)
    finally:
        widget.blockSignals(was)


class Vec3Edit(QWidget):
    """Three spin boxes (x, y, z); `edited(list)` on any change by the user."""

    edited = Signal(list)

    def __init__(self, minimum=-100.0, maximum=100.0, decimals=3, step=0.05, suffix=" m", parent=None):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        self.boxes = []
        for axis in "xyz":
            box = spin(minimum, maximum, decimals, step, suffix)
            box.setToolTip(axis.upper())
            box.setMinimumWidth(40)
            box.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            box.valueChanged.connect(lambda *_: self.edited.emit(self.value()))
            lay.addWidget(box)
            self.boxes.append(box)

    def value(self) -> list[float]:
        return [b.value() for b in self.boxes]

    def set_value(self, values) -> None:
        for box, v in zip(self.boxes, values):
            if not box.hasFocus() or abs(box.value() - v) > 1e-9:
                set_quietly(box, float(v))


def preset_row(form, items, object_name: str, tip: str, on_apply):
    """A preset chooser and its Apply button as the form's "Preset" row;
    items: (label, name) pairs. Returns (combo, button)."""
    combo = compact_combo(QComboBox(), 10)
    combo.setObjectName(f"{object_name}PresetCombo")
    for label, name in items:
        combo.addItem(label, name)
    apply = button("Apply", tip)
    apply.setObjectName(f"apply{object_name[:1].upper()}{object_name[1:]}Preset")
    apply.clicked.connect(on_apply)
    row = QHBoxLayout()
    row.addWidget(combo, 1)
    row.addWidget(apply)
    form.addRow("Preset", row)
    return combo, apply


def follow_selected_person(doc, refresh) -> None:
    """Call refresh when the scene, the selection, the frame or the selected person changes."""
    for sig in (doc.sceneReplaced, doc.selectionChanged, doc.frameChanged):
        sig.connect(refresh)
    doc.personChanged.connect(lambda i: i == doc.selected_person and refresh())


class LazyPanel(QWidget):
    """A panel built the first time its dock's tab is in front, or when asked
    for (`panel()`): docks that start behind another tab cost nothing at
    start-up. (Qt shows every tabbed dock's contents, even the ones behind,
    so a show event does not tell; the dock's visibilityChanged does.)"""

    def __init__(self, factory, parent=None):
        super().__init__(parent)
        self._factory, self._panel = factory, None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

    def panel(self) -> QWidget:
        if self._panel is None:
            self._panel = self._factory()
            self.layout().addWidget(self._panel)
        return self._panel

    def build_when_in_front(self, dock) -> None:
        dock.visibilityChanged.connect(lambda visible: visible and self.panel())
