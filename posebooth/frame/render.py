"""The one frame pipeline: posed people -> render meshes -> passes ->
annotations -> control images (-> a generation request, frame.request).

Everything that shows or writes a frame goes through `render_frame`: the
viewport's pass overlays, the interactive preview, the GUI export,
`posebooth render` and its helper processes. They differ only in the
renderer they hand in (the Qt widget's or a headless one) and in which
outputs they ask for; the camera, the meshes and the maths are these.

A `RenderedFrame` computes its annotations and control images on first use
and keeps them, so an exporter can ask for them on its writer threads while
the next frame renders, and a caller that needs neither pays for neither.
"""
from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from posebooth.frame.annotations import FrameAnnotations, annotate_frame
from posebooth.frame.controls import control_images, passes_for_controls
from posebooth.scene.camera import Camera
from posebooth.viewport.renderer import RenderMesh, RenderPasses

# Annotations (visibility, boxes, OpenPose) are computed from these two.
ANNOTATION_PASSES = ("depth", "instance")
_ORDER = ("rgb", "depth", "normal", "parts", "instance")


def render_meshes(people, props=()) -> list[RenderMesh]:
    """The meshes the renderer draws for posed people (assets.posing's
    PosedPerson): instance id = person index + 1, the person's colour; then
    the props (assets.props.PropMesh), with their own ids after the people's."""
    return ([RenderMesh(p.vertices, p.faces, p.part_labels, p.index + 1, p.color) for p in people]
            + [RenderMesh(q.vertices, q.faces, q.part_labels, q.instance_id, q.color) for q in props])


def renderer_passes(passes: Sequence[str] = (), controls: Sequence[str] = (), annotate: bool = True
                    ) -> tuple[str, ...]:
    """Renderer passes needed for these renderer `passes` (rgb, depth,
    normal, parts, instance), these control kinds, and the annotations."""
    need = set(passes) | set(passes_for_controls(controls))
    if annotate:
        need |= set(ANNOTATION_PASSES)
    return tuple(p for p in _ORDER if p in need)


@dataclass
class RenderedFrame:
    """One frame of posed people seen by one camera, rendered once."""

    frame: int
    camera: Camera
    people: tuple                     # assets.posing.PosedPerson, in scene order
    passes: RenderPasses
    props: tuple = ()                 # assets.props.PropMesh, in scene order
    # Depth without the props left out of the depth control (`in_depth`
    # false); None when no prop is left out: the control uses passes.depth.
    control_depth: np.ndarray | None = None
    openpose: str = "body"            # parts of the openpose control (frame.controls.OPENPOSE_PARTS)
    _annotations: FrameAnnotations | None = field(default=None, repr=False)
    _controls: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def annotations(self) -> FrameAnnotations:
        """The frame's ground truth (frame.annotations), computed once."""
        with self._lock:
            if self._annotations is None:
                self._annotations = annotate_frame(list(self.people), self.camera, self.passes.depth,
                                                   self.passes.instance, self.frame)
            return self._annotations

    def controls(self, kinds: Sequence[str]) -> dict[str, np.ndarray]:
        """kind -> the conditioning image a model gets (frame.controls), each
        made once."""
        missing = [k for k in kinds if k not in self._controls]
        if missing:
            ann = self.annotations() if "openpose" in missing else None
            passes = self.passes
            if self.control_depth is not None and "depth" in missing:
                passes = dataclasses.replace(passes, depth=self.control_depth)
            made = control_images(missing, passes, ann, self.openpose)
            with self._lock:
                self._controls.update(made)
        return {k: self._controls[k] for k in kinds}


def render_frame(renderer, people, camera: Camera, frame: int, *, passes: Sequence[str] = (),
                 controls: Sequence[str] = (), annotate: bool = True, props=(), openpose: str = "body"
                 ) -> RenderedFrame:
    """Render posed `people` and placed `props` (assets.props.scene_props)
    through `camera` with `renderer` (anything with viewport.renderer.Renderer's
    `render`), with every pass that `passes`, the control kinds `controls`
    and (when `annotate`) the annotations need. Props occlude in every pass;
    a prop with `in_depth` false is left out of the depth control only (a
    second, depth-only draw without it: FORMAT.md "props")."""
    people, props = tuple(people), tuple(props)
    rp = renderer.render(render_meshes(people, props), camera, renderer_passes(passes, controls, annotate))
    control_depth = None
    # Whoever asks for depth may make a depth control from it (the export
    # writer does, from its passes), so this draw follows the depth pass.
    if rp.depth is not None and any(not q.in_depth for q in props):
        shown = [q for q in props if q.in_depth]
        control_depth = renderer.render(render_meshes(people, shown), camera, ("depth",)).depth
    return RenderedFrame(int(frame), camera, people, rp, props, control_depth, openpose)
