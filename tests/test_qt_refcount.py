"""The pinned Qt binding keeps Python's reference counts: PySide6 6.12.0 lost
one reference to True/False per bool signal delivered to a Python slot,
so a long session (every toggle and click) ended in a fatal bool_dealloc
crash. pyproject pins below it; this guards an upgrade."""
from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    flag = Signal(bool)


def test_a_bool_signal_to_a_python_slot_keeps_the_refcount_of_true(qapp):
    emitter, seen = _Emitter(), []
    emitter.flag.connect(lambda value: seen.append(value))
    seen.append(True)   # one reference held, then dropped, outside the measured loop
    seen.clear()
    before = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(200):
        emitter.flag.emit(i % 2 == 0)
    seen.clear()
    assert (sys.getrefcount(True), sys.getrefcount(False)) == before
