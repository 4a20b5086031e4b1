"""`posebooth models list [--json]`: the model presets, what each needs and
whether it is present locally (nothing is downloaded, torch is not imported).

posebooth.cli.main calls `add_models_arguments(sub)`; errors (an unreadable
presets file) are a CliError (one line on stderr, exit status 2).
"""
from __future__ import annotations

import json

from posebooth.cli.errors import CliError


def add_models_arguments(subparsers) -> None:
    p = subparsers.add_parser("models", help="diffusion model presets and whether their weights are here")
    msub = p.add_subparsers(dest="models_command", required=True)
    lst = msub.add_parser("list", help="list the presets, their sources and what is present locally")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(func=run_models_list)


def presets_report() -> dict:
    """Everything `models list` shows, as plain data."""
    from posebooth.pipeline import hub
    from posebooth.pipeline.presets import preset_statuses, read_library, source_available

    library = read_library()   # a config folder that cannot be written: the built-in presets, with a note
    default = library.default
    presets = []
    for status in preset_statuses(library.presets):
        p = status.preset
        sources = [{"role": role, "source": src, "present": source_available(src, kind)}
                   for role, src, kind in p.sources()]
        if p.preview_decoder:
            sources.append({"role": "preview decoder (optional)", "source": p.preview_decoder,
                            "present": status.preview_decoder_available})
        presets.append({"name": p.name, "label": p.label, "pipeline": p.pipeline, "available": status.available,
                        "missing": list(status.missing), "sources": sources, "steps": p.steps,
                        "guidance": p.guidance, "size": list(p.size), "default": p.name == default})
    return {"presets_file": str(library.path), "presets_file_note": library.note, "hf_cache": hub.cache_dir(),
            "offline": hub.is_offline(), "presets": presets}


def _print_text(report: dict) -> None:
    for p in report["presets"]:
        state = "available" if p["available"] else "not downloaded"
        default = " (default)" if p["default"] else ""
        print(f"{p['name']}{default}: {state}")
        print(f"  {p['label']} [{p['pipeline']}, {p['steps']} steps, guidance {p['guidance']:g}, "
              f"{p['size'][0]}x{p['size'][1]}]")
        for s in p["sources"]:
            print(f"    {'present' if s['present'] else 'missing'}  {s['role']}: {s['source']}")
    if report["presets_file_note"]:
        print(f"presets file: {report['presets_file_note']}")
    else:
        print(f"presets file: {report['presets_file']} (edit it to add your own)")
    print(f"Hugging Face cache: {report['hf_cache']}" + (" (offline)" if report["offline"] else ""))
    if not all(p["available"] for p in report["presets"]):
        print("A missing model is downloaded when first loaded online, or use a local diffusers "
              "folder or a .safetensors file: posebooth render --model PATH")


def run_models_list(args) -> int:
    from posebooth.pipeline.errors import PipelineError

    try:
        report = presets_report()
    except PipelineError as e:  # e.g. the user's presets file is not valid JSON
        raise CliError(str(e)) from None
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        _print_text(report)
    return 0
