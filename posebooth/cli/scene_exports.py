"""`posebooth scene export-motion SCENE OUT.bvh` and `posebooth scene
export-mesh SCENE OUT.glb`: a scene's animation for other tools (Blender,
game engines, mocap tools)."""
from __future__ import annotations

from pathlib import Path

from posebooth.cli.errors import CliError
from posebooth.cli.output import check_writable, write_output_file


def _person(args, scene) -> int:
    n = len(scene.people)
    if not n:
        raise CliError(f"{args.scene}: the scene has no people to export")
    if not 1 <= args.person <= n:   # 1-based, as the outliner numbers people
        raise CliError(f"--person {args.person}: people are numbered 1..{n} in {args.scene}")
    return args.person - 1


def _cmd_export_motion(args) -> int:
    from posebooth.assets.body import BodyModelError
    from posebooth.cli.scene_commands import read_scene
    from posebooth.export.motion_bvh import scene_motion_bvh

    scene = read_scene(args.scene)
    i = _person(args, scene)
    check_writable(Path(args.out), "BVH")     # before the body is built (it grounds the person)
    try:
        text = scene_motion_bvh(scene, i)
    except (BodyModelError, ValueError) as e:
        raise CliError(f"{args.scene}: {e}") from None
    out = write_output_file(args.out, text.encode("ascii"), "BVH")
    tl = scene.timeline
    print(f"wrote {out} ({scene.people[i].name!r}, {len(tl.frames)} frames at {tl.fps:g} fps, SMPL-24, "
          f"Y up, centimetres)")
    return 0


def _cmd_export_mesh(args) -> int:
    from posebooth.assets.body import BodyModelError
    from posebooth.cli.scene_commands import read_scene
    from posebooth.export.skinned_gltf import GltfExportError, scene_glb

    scene = read_scene(args.scene)
    if not scene.people:
        raise CliError(f"{args.scene}: the scene has no people to export")
    check_writable(Path(args.out), "glTF binary (.glb)")     # before the body is built
    try:
        data = scene_glb(scene)
    except (GltfExportError, BodyModelError, ValueError) as e:
        raise CliError(f"{args.scene}: {e}") from None
    out = write_output_file(args.out, data, "glTF binary (.glb)")
    tl = scene.timeline
    print(f"wrote {out} ({len(scene.people)} skinned {'body' if len(scene.people) == 1 else 'bodies'}, "
          f"{len(tl.frames)} frames at {tl.fps:g} fps)")
    return 0


def add_export_arguments(ssub) -> None:
    p = ssub.add_parser("export-motion", help="write a person's animation as BVH (SMPL-24, Y up, centimetres)")
    p.add_argument("scene")
    p.add_argument("out", metavar="OUT.bvh")
    p.add_argument("--person", type=int, default=1, help="1-based person index")
    p.set_defaults(func=_cmd_export_motion)
    p = ssub.add_parser("export-mesh", help="write the posed, animated bodies as binary glTF 2.0 (skinned)")
    p.add_argument("scene")
    p.add_argument("out", metavar="OUT.glb")
    p.set_defaults(func=_cmd_export_mesh)
