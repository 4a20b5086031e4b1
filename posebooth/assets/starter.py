"""A valid starter scene: N people side by side, facing a framing camera."""
from __future__ import annotations

import math

from posebooth.scene.model import CameraKey, CameraSpec, Person, PoseKey, Scene, Timeline

PERSON_SPACING = 0.9  # metres between neighbours along X
PALETTE = ([0.78, 0.70, 0.62], [0.55, 0.66, 0.80], [0.62, 0.78, 0.58], [0.82, 0.60, 0.60])


def framing_camera_key(num_people: int, width: int, height: int, focal_mm: float = 50.0,
                       sensor_width_mm: float = 36.0) -> CameraKey:
    """A camera in front (+Z) that fits a standing group of `num_people`."""
    half_w = 0.5 * PERSON_SPACING * (num_people - 1) + 0.6
    half_h = 1.05
    fov_x = 2 * math.atan(sensor_width_mm / (2 * focal_mm))
    fov_y = 2 * math.atan(math.tan(fov_x / 2) * height / width)
    dist = max(half_w / math.tan(fov_x / 2), half_h / math.tan(fov_y / 2)) * 1.05
    return CameraKey(frame=0, position=[0.0, 1.0, dist], target=[0.0, 0.9, 0.0], focal_mm=focal_mm)


def starter_scene(people: int = 1, preset: str | None = None, frames: int = 1,
                  width: int = 512, height: int = 512) -> Scene:
    if not 1 <= people <= 16:
        raise ValueError("--people must be between 1 and 16")
    if frames < 1:
        raise ValueError("--frames must be at least 1")
    fields, grounded = {}, True
    if preset:
        from posebooth.assets.presets import get_preset, preset_info
        fields = get_preset(preset).to_key_fields()
        grounded = preset_info(preset).contact != "air"   # a jump stays in the air
    persons = []
    for i in range(people):
        key = PoseKey(frame=0, **fields)
        x = (i - (people - 1) / 2) * PERSON_SPACING
        key.transl = [key.transl[0] + x, key.transl[1], key.transl[2]]
        persons.append(Person(name=f"Person {i + 1}", color=PALETTE[i % len(PALETTE)], keys=[key],
                              on_ground=grounded))
    camera = CameraSpec(width=width, height=height, keys=[framing_camera_key(people, width, height)])
    props = []
    if preset:   # what the pose rests on (the seat of "sitting"), under each person
        from posebooth.assets.presets import preset_props
        for person in persons:
            t = person.keys[0].transl
            props += preset_props(preset, (t[0] - fields["transl"][0], t[2] - fields["transl"][2]))
    return Scene(people=persons, camera=camera, timeline=Timeline(start=0, end=frames - 1), props=props)
