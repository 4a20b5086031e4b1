"""`posebooth dataset new|check|run|info`: recipes and the datasets they make."""
from __future__ import annotations

import json
from pathlib import Path

from posebooth.cli.errors import EXIT_INCOMPLETE, EXIT_OK, CliError

MAX_WORKERS = 256


def _load(path: str):
    from posebooth.dataset.recipe import RecipeError, load_recipe
    try:
        return load_recipe(path)
    except RecipeError as e:
        raise CliError(str(e)) from None


def _cmd_new(args) -> int:
    from posebooth.cli.output import write_output_file
    from posebooth.dataset.recipe import starter_text

    out = Path(args.out)
    if out.is_file() and not args.force:
        raise CliError(f"{out}: already exists; pass --force to replace it")
    write_output_file(out, starter_text().encode("utf-8"), "recipe")
    print(f"wrote {out}: a commented starter recipe (check it with `posebooth dataset check {out}`)")
    return EXIT_OK


def _library_check(recipe) -> int:
    """Load every pose source now, so a missing or bad file is reported before a run."""
    from posebooth.assets.motion import MotionError
    from posebooth.dataset.poses import PoseLibrary
    from posebooth.scene.io import SceneError

    try:
        lib = PoseLibrary(recipe)
    except (MotionError, SceneError, ValueError, OSError) as e:
        raise CliError(str(e)) from None
    return sum(len(s.items) for s in lib.sources)


def _model_check(recipe) -> None:
    """Check the recipe's model files now (without torch), so a broken source is
    one line before any worker starts or anything is written."""
    if not recipe.generation.model:
        return
    from posebooth.dataset.work import model_options
    from posebooth.pipeline.errors import PipelineError
    from posebooth.pipeline.source_checks import check_source

    try:
        check_source(recipe.generation.model, model_options(recipe))
    except PipelineError as e:
        raise CliError(f"generation.model: {' '.join(str(e).split())}") from None


def _cmd_check(args) -> int:
    recipe = _load(args.recipe)
    poses = _library_check(recipe)
    lo, hi = recipe.people.count
    print(f"{args.recipe}: valid recipe v{recipe.version}: {recipe.samples} samples of {recipe.clip_frames} "
          f"frame(s), {lo}-{hi} people, {poses} poses in {len(recipe.poses)} source(s), "
          f"{recipe.camera.size[0]}x{recipe.camera.size[1]}, model: {recipe.generation.model or 'none'}")
    return EXIT_OK


def _overrides(recipe, args):
    from posebooth.cli.render import parse_size

    update = {}
    if args.samples is not None:
        if not 1 <= args.samples <= 100_000_000:
            raise CliError(f"--samples {args.samples}: must be between 1 and 100000000")
        update["samples"] = args.samples
    if args.seed is not None:
        if not 0 <= args.seed < 2 ** 63:
            raise CliError(f"--seed {args.seed}: must be a non-negative 64-bit integer")
        update["seed"] = args.seed
    if args.size is not None:
        update["camera"] = recipe.camera.model_copy(update={"size": parse_size(args.size)})
    return recipe.model_copy(update=update) if update else recipe


def _cmd_run(args) -> int:
    from posebooth.assets.body import BodyModelError
    from posebooth.dataset.run import run_recipe
    from posebooth.export.files import ExportError
    from posebooth.pipeline.errors import PipelineError
    from posebooth.viewport.renderer import RenderError

    recipe = _overrides(_load(args.recipe), args)
    if not 1 <= args.workers <= MAX_WORKERS:
        raise CliError(f"--workers {args.workers}: must be between 1 and {MAX_WORKERS}")
    if recipe.generation.model and args.workers > 1:
        raise CliError("--workers: with a diffusion model each worker would load its own copy; run one "
                       "local worker (the model uses the GPU), or --ray with a GPU per task")
    _library_check(recipe)
    _model_check(recipe)
    try:
        manifest = run_recipe(recipe, args.out, workers=args.workers, use_ray=args.ray is not None,
                              ray_address=args.ray or None, progress=not args.quiet,
                              gpus_per_task=args.gpus_per_task,
                              recipe_text=Path(args.recipe).read_text(encoding="utf-8"))
    except (ExportError, RenderError, BodyModelError, PipelineError, ValueError) as e:
        raise CliError(str(e)) from None
    s = manifest["stats"]
    print(f"wrote {s['samples_done']} of {manifest['samples']} sample(s) to {args.out} "
          f"({'complete' if manifest['complete'] else 'INCOMPLETE'}; placement rejection rate "
          f"{s['placement_rejection_rate']:.1%})")
    return EXIT_OK if manifest["complete"] else EXIT_INCOMPLETE


def _cmd_info(args) -> int:
    from posebooth.dataset.info import dataset_info

    try:
        info = dataset_info(args.dir)
    except ValueError as e:
        raise CliError(str(e)) from None
    if args.json:
        print(json.dumps(info, indent=1))
        return EXIT_OK
    print(f"{args.dir}: {info['done']} of {info['samples']} samples done ({info['percent']:.1f}%), "
          f"{info['left']} left; {'complete' if info['complete'] else 'not complete'}")
    if info.get("rate"):
        print(f"  rate: {info['rate']:.2f} samples/s since the run started")
    if info.get("placement_rejection_rate") is not None:
        print(f"  placement rejection rate: {info['placement_rejection_rate']:.1%}")
    print(f"  shards assembled: {len(info['shards_assembled'])} of {info['shards']}")
    return EXIT_OK


def _cmd_export(args) -> int:
    from posebooth.assets.body import BodyModelError
    from posebooth.dataset.exports import export_dataset
    from posebooth.dataset.exports.source import SourceError
    from posebooth.export.files import ExportError

    try:
        meta = export_dataset(args.dir, args.format, args.out, allow_incomplete=args.allow_incomplete)
    except (SourceError, ExportError, BodyModelError) as e:
        raise CliError(str(e)) from None
    print(f"wrote {args.format} export of {args.dir} to {args.out}: {meta['rows']} row(s), {meta['images']} "
          f"image(s), {len(meta['files'])} file(s){'' if meta['source_complete'] else ' (INCOMPLETE dataset)'}")
    return EXIT_OK


def _cmd_fit_smpl(args) -> int:
    from posebooth.assets.body import BodyModelError
    from posebooth.dataset.fit_smpl import FitError, fit_dataset
    from posebooth.dataset.smpl_fitter import FitSettings
    from posebooth.export.files import ExportError

    for name, value, lo, hi in (("--points", args.points, 16, 100_000), ("--rounds", args.rounds, 0, 1000),
                                ("--batch", args.batch, 1, 100_000)):
        if value is not None and not lo <= value <= hi:
            raise CliError(f"{name} {value}: must be between {lo} and {hi}")
    if args.model_dir is not None and not Path(args.model_dir).expanduser().is_dir():
        raise CliError(f"--model-dir {args.model_dir}: no such folder; give the folder that holds your licensed "
                       f"model files as {args.model}/{args.model.upper()}_{args.gender.upper()}.npz (or .pkl)")
    if args.device == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise CliError("--device cuda: no CUDA device is available here; use --device cpu (slower)")
    settings = FitSettings(**{k: v for k, v in (("points", args.points), ("rounds", args.rounds)) if v is not None})
    try:
        s = fit_dataset(args.dir, args.model, args.gender, args.model_dir, settings,
                        device=None if args.device == "auto" else args.device, batch=args.batch,
                        force=args.force, progress=not args.quiet)
    except (FitError, BodyModelError, ExportError) as e:
        raise CliError(str(e)) from None
    f, j = s["fit_error_mm"], s["joint_error_mm"]
    print(f"{args.dir}: {s['model'].upper()} ({s['gender']}) fitted to {s['bodies']} bodies in {s['shards']} "
          f"shard(s) ({s['shards_fitted_now']} fitted now, on {s['device']}); surface error mean {f['mean']:.1f} mm, "
          f"median {f['median']:.1f}, 95th {f['p95']:.1f}; joint error mean {j['mean']:.1f} mm, median "
          f"{j['median']:.1f}, 95th {j['p95']:.1f} (in each shard's smpl_fit.npz, summary in dataset.json)")
    return EXIT_OK

def add_dataset_arguments(sub) -> None:
    ds = sub.add_parser("dataset", help="recipes: make varied, annotated datasets")
    dsub = ds.add_subparsers(dest="dataset_command", required=True)
    p = dsub.add_parser("new", help="write a commented starter recipe")
    p.add_argument("out", metavar="RECIPE.toml")
    p.add_argument("--force", action="store_true", help="replace RECIPE.toml if it exists")
    p.set_defaults(func=_cmd_new)
    p = dsub.add_parser("check", help="validate a recipe and load its pose sources")
    p.add_argument("recipe", metavar="RECIPE.toml")
    p.set_defaults(func=_cmd_check)
    p = dsub.add_parser("run", help="make (or resume) the dataset of a recipe")
    p.add_argument("recipe", metavar="RECIPE.toml")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--samples", type=int, default=None, help="override the recipe's sample count")
    p.add_argument("--seed", type=int, default=None, help="override the recipe's seed")
    p.add_argument("--size", default=None, metavar="WxH", help="override the image size")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on Ray: a cluster's address, or none for a local Ray")
    p.add_argument("--gpus-per-task", type=float, default=None,
                   help="with --ray and a model: GPUs each diffusion actor takes (default 1; "
                        "0: no actors, every task runs the model on its CPU)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_run)
    p = dsub.add_parser("info", help="progress, rates, rejections and what is left of a dataset")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_info)
    p = dsub.add_parser("fit-smpl", help="fit your SMPL / SMPL-X model to every body of a finished dataset")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--model", required=True, choices=("smpl", "smplh", "smplx"))
    p.add_argument("--gender", default="neutral", choices=("neutral", "male", "female"))
    p.add_argument("--model-dir", default=None, metavar="PATH",
                   help="the folder of your licensed model files (default: $POSEBOOTH_SMPL_DIR)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="default: cuda when there is one")
    p.add_argument("--batch", type=int, default=None, help="bodies fitted at once (default 128 on cuda, 8 on cpu)")
    p.add_argument("--points", type=int, default=None, help="sampled vertices per mesh in the surface term")
    p.add_argument("--rounds", type=int, default=None, help="nearest-point rounds with the surface term")
    p.add_argument("--force", action="store_true", help="fit again shards already fitted with these settings")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_fit_smpl)
    p = dsub.add_parser("export", help="write a dataset in another tool's layout (bedlam, hmr2, coco, anny, "
                        "coco-wholebody)")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--format", required=True, metavar="FORMAT", help="bedlam, hmr2, coco, anny or coco-wholebody")
    p.add_argument("--out", required=True, metavar="X", help="the folder to export into (new or empty)")
    p.add_argument("--allow-incomplete", action="store_true", help="export the assembled shards of an "
                   "unfinished dataset")
    p.set_defaults(func=_cmd_export)
