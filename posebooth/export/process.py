"""Settings of a process whose whole job is one long export (`posebooth
render` and its helper processes)."""
from __future__ import annotations

import gc
import multiprocessing as mp
import os
import threading
import time


def prepare_export_process(with_model: bool) -> None:
    """Everything alive now (torch, anny, the model) lives to the end: freeze
    it out of the cyclic collector, which would otherwise re-scan those
    millions of objects every few hundred frames. Without a model, torch only
    poses bodies in a background thread, in parallel with rendering and
    writing: one intra-op thread does the same work with ~30% less CPU than
    two that spin-wait against the rasteriser."""
    gc.freeze()
    if not with_model:
        import torch

        torch.set_num_threads(1)


EXIT_PARENT_GONE = 3


def exit_with_parent(poll_s: float = 1.0) -> None:
    """Start a daemon thread that ends this process (os._exit) as soon as
    the process that started it dies. Checks in the job loop are not enough:
    when the parent is killed, a writer thread can block for ever on the
    full pipe of frame reports (nobody reads it, and this process holds both
    of its ends, so no EPIPE comes) while the loop waits for that thread.
    The frames in flight are lost, as they are in the killed parent; files
    are only ever renamed into place whole (export.files)."""
    from multiprocessing.connection import wait

    parent = mp.parent_process()
    sentinel = parent.sentinel if parent is not None else None   # readable once the parent is gone
    ppid = os.getppid()

    def watch():
        while True:
            if sentinel is not None:
                if wait([sentinel], timeout=poll_s):
                    break
            else:
                time.sleep(poll_s)
            if os.getppid() != ppid:   # re-parented: the parent died
                break
        os._exit(EXIT_PARENT_GONE)

    threading.Thread(target=watch, name="posebooth-parent-watch", daemon=True).start()
