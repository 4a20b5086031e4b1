"""Live preview pacing: previews that follow a drag at the rate the device sustains.

While the user drags a joint, every mouse move edits the pose. A preview per
move would queue behind the mouse (60 moves a second, a preview takes longer
than 1/60 s), so the pacer keeps at most `depth` previews outstanding (from
the snapshot until the result, a cancel or an error). An edit while they run
only marks the scene dirty; when one finishes, the newest state is requested.
So the device is never idle while the user drags, no pose waits in a queue,
and the last pose is always generated.

Every request carries the sequence number of the edit it was snapshotted
after. A result is shown only if no newer one has been shown (`accept`), so a
result of a stale pose never replaces a newer image, whatever order the
results arrive in. Qt-free and not thread-safe: one thread (the GUI's) calls it.
"""

from __future__ import annotations

import math

# Above this many steps a preview is not "live": edits are debounced and a newer
# preview interrupts the running one (it would take too long to be worth finishing).
LIVE_MAX_STEPS = 8


class LivePacer:
    def __init__(self, depth: int = 1):
        self.depth = max(1, int(depth))
        self.edits = 0                         # edits seen so far (the sequence of the newest state)
        self.shown = -1                        # sequence of the newest result shown
        self._outstanding: dict[str, int] = {}  # request id -> sequence it was snapshotted at
        self._dirty = False                    # an edit no outstanding request has seen

    def edit(self) -> bool:
        """Record an edit; True when a request of the current state should start now."""
        self.edits += 1
        self._dirty = True
        return len(self._outstanding) < self.depth

    def started(self, request_id: str) -> int:
        """A request of the current state was made; returns its sequence number."""
        self._outstanding[request_id] = self.edits
        self._dirty = False
        return self.edits

    def finished(self, request_id: str) -> bool:
        """The request ended (result, cancel, error). True when the newest state has not
        been requested yet and there is room: request it now."""
        if self._outstanding.pop(request_id, None) is None:
            return False
        return self._dirty and len(self._outstanding) < self.depth

    def accept(self, request_id: str) -> bool:
        """Show this result (call before `finished`)? Only if it is of a newer state than
        the image shown: a stale pose's result never replaces a newer image."""
        seq = self._outstanding.get(request_id)
        if seq is None or seq <= self.shown:
            return False
        self.shown = seq
        return True

    def owns(self, request_id: str) -> bool:
        return request_id in self._outstanding

    @property
    def outstanding(self) -> int:
        return len(self._outstanding)

    @property
    def dirty(self) -> bool:
        return self._dirty

    def reset(self) -> None:
        """Forget outstanding requests (model unloaded, panel closed): the next edit starts one."""
        self._outstanding.clear()
        self._dirty = False


def img2img_steps(steps: int, strength: float) -> int:
    """Scheduler steps for an img2img request that should run `steps` denoising steps:
    diffusers runs int(n * strength) of n (SD-Turbo's card: 2 steps at strength 0.5 = 1)."""
    n = max(1, math.ceil(steps / strength))
    while int(n * strength) < steps:
        n += 1
    return n
