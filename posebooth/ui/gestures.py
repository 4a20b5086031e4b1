"""Keys and mouse gestures that are not menu actions (they act on the widget
under the mouse), listed by Help → Keyboard Shortcuts next to the menus'
shortcuts. Keep in step with ui/viewport/input.py and ui/timeline_view.py,
whose docstrings describe the same gestures."""
from __future__ import annotations

# (group, what it does, the keys or the gesture)
GESTURES: tuple[tuple[str, str, str], ...] = (
    ("Viewport", "Orbit the view", "Middle-drag  or  Alt+left-drag"),
    ("Viewport", "Pan the view", "Shift+middle-drag  or  Alt+Shift+left-drag"),
    ("Viewport", "Zoom", "Wheel  or  Ctrl+middle-drag"),
    ("Viewport", "Select a joint, body part, person or prop", "Left-click"),
    ("Viewport", "Rotate the selected joint", "Left-drag on a gizmo ring (inside it: trackball)"),
    ("Viewport", "Move a body on the ground", "Shift+left-drag on its pelvis"),
    ("Viewport", "Move the selected body or prop (click to confirm)", "G"),
    ("Viewport", "Scale the selected prop (click to confirm)", "S"),
    ("Viewport", "Drag a hand, foot or the head with IK", "Ctrl+left-drag"),
    ("Viewport", "Cancel the drag in progress", "Esc  or  right-click"),
    ("Viewport", "Orbit in 15° steps", "2  4  6  8"),
    ("Timeline strip", "Set the frame (scrub)", "Left-click or left-drag on empty space"),
    ("Timeline strip", "Select a key / add or remove one", "Click a key  /  Shift+click or Ctrl+click"),
    ("Timeline strip", "Select keys in a rubber band", "Shift+drag or Ctrl+drag on empty space"),
    ("Timeline strip", "Retime the selected keys (one undo step)", "Drag a key"),
    ("Timeline strip", "Delete the selected keys", "Delete (the strip focused)"),
    ("Timeline strip", "Interpolation or deletion of a key", "Right-click a key"),
    ("Timeline strip", "Zoom / pan the frame axis", "Wheel  /  middle-drag"),
)
