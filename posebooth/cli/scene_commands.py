"""`posebooth scene new|check|schema|presets|import-motion` (export-motion, export-mesh: cli.scene_exports)."""
from __future__ import annotations

import json
from pathlib import Path

from posebooth.cli.errors import CliError
from posebooth.cli.output import write_output_file


def read_scene(path: str):
    """Every command that reads a scene goes through here, so a bad file is
    rejected the same way everywhere."""
    from posebooth.scene.io import SceneError, load_scene
    try:
        return load_scene(path)
    except SceneError as e:
        raise CliError(str(e)) from None


def write_scene(scene, out: str) -> Path:
    from posebooth.scene.io import scene_to_json
    return write_output_file(out, scene_to_json(scene).encode("utf-8"), "scene")


def _cmd_new(args) -> int:
    from posebooth.assets.starter import starter_scene
    from posebooth.scene.model import MAX_FRAME, MAX_PEOPLE
    if not 1 <= args.people <= MAX_PEOPLE:
        raise CliError(f"--people {args.people}: must be between 1 and {MAX_PEOPLE}")
    if not 1 <= args.frames <= MAX_FRAME + 1:
        raise CliError(f"--frames {args.frames}: must be between 1 and {MAX_FRAME + 1}")
    try:
        scene = starter_scene(people=args.people, preset=args.preset, frames=args.frames)
        scene = _with_hands_and_face(scene, args.hands, args.expression)
    except (ValueError, KeyError) as e:
        raise CliError(str(e).strip("'\"")) from None
    if Path(args.out).is_file() and not args.force:   # never replace the user's work unasked
        raise CliError(f"{args.out}: already exists; pass --force to replace it")
    out = write_scene(scene, args.out)
    print(f"wrote {out} ({len(scene.people)} people, {len(scene.timeline.frames)} frames)")
    return 0


def _with_hands_and_face(scene, hands: str | None, expression: str | None):
    """Every person's keys with both hands in the hand preset and the face preset."""
    if hands is None and expression is None:
        return scene
    from posebooth.assets.face_presets import face_preset
    from posebooth.assets.hand_presets import hand_preset
    update = {}
    if hands is not None:
        update["left_hand_pose"] = hand_preset(hands, "left").reshape(-1).tolist()
        update["right_hand_pose"] = hand_preset(hands, "right").reshape(-1).tolist()
    if expression is not None:
        update["expression"] = face_preset(expression)
    people = [p.model_copy(update={"keys": [k.model_copy(update=update) for k in p.keys]}) for p in scene.people]
    return scene.model_copy(update={"people": people})


def _cmd_check(args) -> int:
    scene = read_scene(args.scene)
    keys = sum(len(p.keys) for p in scene.people)
    print(f"{args.scene}: valid scene v{scene.version}: {len(scene.people)} people, {keys} pose keys, "
          f"frames {scene.timeline.start}..{scene.timeline.end} at {scene.timeline.fps:g} fps")
    return 0


def _cmd_schema(args) -> int:
    from posebooth.scene.io import scene_schema
    print(json.dumps(scene_schema(), indent=1))
    return 0


def _cmd_presets(args) -> int:
    from posebooth.assets.face_presets import FACE_PRESETS
    from posebooth.assets.hand_presets import HAND_PRESETS
    from posebooth.assets.presets import list_presets
    kinds = {"body": list_presets(), "hands": list(HAND_PRESETS), "face": list(FACE_PRESETS)}
    if args.kind:   # one kind: bare names, one a line (for scripts)
        print("\n".join(kinds[args.kind]))
        return 0
    for kind, label, option in (("body", "body", "--preset"), ("hands", "hand", "--hands"),
                                ("face", "face", "--expression")):
        print(f"{label} presets ({option}): {', '.join(kinds[kind])}")
    return 0


def _cmd_import_motion(args) -> int:
    from posebooth.assets.motion import MotionError, import_motion
    from posebooth.scene.model import MAX_FRAME
    scene = read_scene(args.scene)
    n = len(scene.people)
    if not 1 <= args.person <= n:   # the option is 1-based, as the outliner numbers people
        raise CliError(f"--person {args.person}: people are numbered 1..{n} in {args.scene}" if n
                       else f"{args.scene}: the scene has no people to import a motion into")
    if args.start is not None and not 0 <= args.start <= MAX_FRAME:
        raise CliError(f"--start {args.start}: must be between 0 and {MAX_FRAME}")
    if args.max_frames is not None and args.max_frames < 1:
        raise CliError(f"--max-frames {args.max_frames}: must be at least 1")
    try:
        scene = import_motion(scene, args.motion, person_index=args.person - 1,
                              start_frame=args.start, max_frames=args.max_frames)
    except MotionError as e:
        raise CliError(str(e)) from None
    out = write_scene(scene, args.out or args.scene)
    p = scene.people[args.person - 1]
    print(f"imported {len(p.keys)} frames into {p.name!r}; wrote {out}")
    return 0


def add_scene_arguments(sub) -> None:
    scene = sub.add_parser("scene", help="create, check and edit scene files")
    ssub = scene.add_subparsers(dest="scene_command", required=True)
    p = ssub.add_parser("new", help="write a valid starter scene")
    p.add_argument("out", metavar="OUT.json")
    p.add_argument("--people", type=int, default=1)
    p.add_argument("--preset", default=None, help="pose preset name (see `posebooth scene presets`)")
    p.add_argument("--frames", type=int, default=1)
    p.add_argument("--hands", default=None, help="hand preset for both hands (see `posebooth scene presets`)")
    p.add_argument("--expression", default=None, help="face preset (see `posebooth scene presets`)")
    p.add_argument("--force", action="store_true", help="replace OUT.json if it exists")
    p.set_defaults(func=_cmd_new)
    p = ssub.add_parser("check", help="validate a scene file (exit 0 when valid)")
    p.add_argument("scene")
    p.set_defaults(func=_cmd_check)
    p = ssub.add_parser("schema", help="print the scene JSON schema")
    p.set_defaults(func=_cmd_schema)
    p = ssub.add_parser("presets", help="list the body, hand and face presets")
    p.add_argument("--kind", choices=("body", "hands", "face"), default=None,
                   help="list only this kind, one name a line")
    p.set_defaults(func=_cmd_presets)
    p = ssub.add_parser("import-motion", help="import a motion (AMASS .npz or .bvh) into a person's keys")
    p.add_argument("scene")
    p.add_argument("motion")
    p.add_argument("--person", type=int, default=1, help="1-based person index")
    p.add_argument("--start", type=int, default=None, help="first frame (default: timeline start)")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--out", default=None, help="write here instead of overwriting SCENE")
    p.set_defaults(func=_cmd_import_motion)
    from posebooth.cli.scene_exports import add_export_arguments
    add_export_arguments(ssub)
