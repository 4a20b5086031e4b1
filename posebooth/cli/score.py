"""`posebooth score DIR`: fidelity scores for any scene export (FORMAT.md,
"Fidelity scores"), and the `--score` options of `posebooth render`.

Scores the generated images (rgb/), or the body renders (render/) when no
model ran, with a pose model (ViTPose) and a depth model (Depth Anything)
against the exact annotations; annotations.npz gains `fidelity`,
`fidelity_pck`, `fidelity_depth` (a recipe dataset's shards: one score per
row), dataset.json a `fidelity` summary.
A missing model is bad input (exit 2) naming what to download.
"""
from __future__ import annotations

import sys

from posebooth.cli.errors import EXIT_OK, CliError

NONE = "none"   # --pose-model none / --depth-model none: leave that score out


def _model_arguments(g) -> None:
    from posebooth.pipeline.estimators import DEFAULT_DEPTH_MODEL, DEFAULT_POSE_MODEL

    g.add_argument("--pose-model", default=DEFAULT_POSE_MODEL, metavar="ID|PATH",
                   help=f"ViTPose Hugging Face id or folder, or '{NONE}' (default: %(default)s)")
    g.add_argument("--depth-model", default=DEFAULT_DEPTH_MODEL, metavar="ID|PATH",
                   help=f"Depth Anything Hugging Face id or folder, or '{NONE}' (default: %(default)s)")


def add_score_arguments(sub) -> None:
    p = sub.add_parser("score", help="fidelity scores of an export's images (pose and depth models)")
    p.add_argument("dir", metavar="DIR", help="a folder `posebooth render` or `posebooth dataset run` wrote")
    _model_arguments(p)
    p.add_argument("--device", default="auto", metavar="auto|cpu|cuda[:N]|mps", help="default: CUDA > MPS > CPU")
    p.add_argument("--dtype", choices=("auto", "fp16", "bf16", "fp32"), default="auto",
                   help="default: fp16 on GPUs, fp32 on CPU")
    p.add_argument("--overlays", action="store_true",
                   help="also write DIR/fidelity/<frame>.png: true keypoints and the pose model's, joined "
                        "(scene exports)")
    p.add_argument("--quiet", action="store_true", help="no progress")
    p.set_defaults(func=run_score)


def add_render_scoring_arguments(parser) -> None:
    """`posebooth render --score [--pose-model --depth-model --min-fidelity --retries]`."""
    g = parser.add_argument_group("fidelity", "score each generated frame (needs --model)")
    g.add_argument("--score", action="store_true", help="score every generated frame (FORMAT.md)")
    _model_arguments(g)
    g.add_argument("--min-fidelity", type=float, default=None, metavar="X",
                   help="regenerate a frame whose worst person scores below X (0..1), with a new seed")
    g.add_argument("--retries", type=int, default=None, metavar="N",
                   help="at most N regenerations per frame (default 2 with --min-fidelity)")


def _source(text: str | None) -> str | None:
    return None if text is None or text.strip().lower() == NONE else text


def load_estimators_for(args):
    """The estimators these arguments ask for; CliError (one line) when missing."""
    from posebooth.pipeline.errors import PipelineError
    from posebooth.pipeline.estimators import load_estimators

    pose, depth = _source(args.pose_model), _source(args.depth_model)
    if pose is None and depth is None:
        raise CliError("--pose-model and --depth-model are both 'none': nothing to score with")
    if not getattr(args, "quiet", False):
        print(f"loading estimators {pose or '-'} / {depth or '-'} ...", file=sys.stderr, flush=True)
    try:
        return load_estimators(pose, depth, device=getattr(args, "device", "auto"),
                               dtype=getattr(args, "dtype", "auto"))
    except PipelineError as e:
        raise CliError(str(e)) from None


def check_render_scoring(args) -> None:
    """Bad --score / --min-fidelity / --retries combinations, before anything loads."""
    if args.min_fidelity is not None or args.retries is not None:
        if not args.score:
            raise CliError("--min-fidelity and --retries need --score")
    if args.score and getattr(args, "model", None) is None:
        raise CliError("--score needs --model (it scores generated images; `posebooth score DIR` scores "
                       "an export's renders)")
    if args.min_fidelity is not None and not 0.0 <= args.min_fidelity <= 1.0:
        raise CliError("--min-fidelity must be between 0 and 1")
    if args.retries is not None and not 0 <= args.retries <= 100:
        raise CliError("--retries must be between 0 and 100")
    if args.retries is not None and args.min_fidelity is None:
        raise CliError("--retries needs --min-fidelity (the threshold that triggers a retry)")
    if args.score:   # a missing estimator is told before the diffusion model loads
        _check_sources(args)


def _check_sources(args) -> None:
    from posebooth.pipeline.errors import PipelineError
    from posebooth.pipeline.estimators import check_sources

    try:
        check_sources(_source(args.pose_model), _source(args.depth_model))
    except PipelineError as e:
        raise CliError(str(e)) from None


def scoring_generator(args, generator):
    """`generator` wrapped to score (and retry) each frame when --score, else as is."""
    if not getattr(args, "score", False) or generator is None:
        return generator
    from posebooth.export.scoring import ScoringGenerator, record_writer

    estimators = load_estimators_for(args)
    retries = (2 if args.retries is None else args.retries) if args.min_fidelity is not None else 0
    return ScoringGenerator(generator, estimators, min_fidelity=args.min_fidelity, retries=retries,
                            on_scored=record_writer(args.out))


def finish_scoring(args, generator) -> None:
    """After the export: write the recorded scores into annotations.npz / dataset.json."""
    from posebooth.export.scoring import ScoringGenerator, score_export

    if not isinstance(generator, ScoringGenerator):
        return
    fid = generator.settings["fidelity"]
    summary = score_export(args.out, generator.estimators, use_records=True,
                           settings={"min_fidelity": fid["min_fidelity"], "retries": fid["retries"]})
    if not args.quiet:
        print(_summary_line(summary), file=sys.stderr, flush=True)


def _summary_line(summary: dict) -> str:
    f = summary["fidelity"]
    if not f["scored"]:
        return "fidelity: no person could be scored"
    retried = len({a["frame"] for a in summary["attempts"] if not a["kept"]})
    tail = f", {retried} frame(s) regenerated" if summary["attempts"] else ""
    below = f", {len(summary['frames_below'])} frame(s) still below {summary['min_fidelity']}" \
        if summary.get("min_fidelity") is not None else ""
    return (f"fidelity: mean {f['mean']:.3f}, min {f['min']:.3f} over {f['scored']} person-frame(s)"
            f"{tail}{below}")


def run_score(args) -> int:
    from posebooth.export.files import ExportError
    from posebooth.export.scoring import open_export, score_export

    recipe = _is_recipe_dataset(args.dir)
    if not recipe:
        try:
            open_export(args.dir)   # a bad folder is told before any model loads
        except ExportError as e:
            raise CliError(str(e)) from None
    estimators = load_estimators_for(args)

    def progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"\rscored {done}/{total} frame(s)", end="" if done < total else "\n", file=sys.stderr,
                  flush=True)
    try:
        if recipe:
            from posebooth.dataset.scoring import score_recipe_dataset

            summary = score_recipe_dataset(args.dir, estimators, progress=progress)
        else:
            summary = score_export(args.dir, estimators, overlays=args.overlays, progress=progress)
    except ExportError as e:
        raise CliError(str(e)) from None
    print(_summary_line(summary))
    return EXIT_OK


def _is_recipe_dataset(folder) -> bool:
    """DIR/dataset.json says it is a `posebooth dataset run` folder (anything
    else is checked, and refused with one line, as a scene export)."""
    import json
    from pathlib import Path

    from posebooth.files.safe_read import UserFileError, read_user_file

    try:
        manifest = json.loads(read_user_file(Path(folder).expanduser() / "dataset.json", "dataset manifest", 1 << 26))
    except (UserFileError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == "posebooth-recipe-dataset"
