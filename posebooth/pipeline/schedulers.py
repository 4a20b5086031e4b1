"""Scheduler names (short aliases or diffusers class names) -> scheduler instances."""

from __future__ import annotations

from typing import Any

# alias -> (diffusers class name, extra config)
ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    "ddim": ("DDIMScheduler", {}),
    "ddpm": ("DDPMScheduler", {}),
    "pndm": ("PNDMScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler-a": ("EulerAncestralDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
    "dpm++2m": ("DPMSolverMultistepScheduler", {}),
    "dpm++2m-karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "lcm": ("LCMScheduler", {}),
    # Few-step distilled models (Turbo, Lightning, Hyper-SD) are sampled at the trailing
    # timesteps, the ones they were distilled on (their model cards).
    "euler-trailing": ("EulerDiscreteScheduler", {"timestep_spacing": "trailing"}),
    "euler-a-trailing": ("EulerAncestralDiscreteScheduler", {"timestep_spacing": "trailing"}),
    "ddim-trailing": ("DDIMScheduler", {"timestep_spacing": "trailing"}),
    "tcd": ("TCDScheduler", {}),
}


def scheduler_names() -> list[str]:
    return list(ALIASES)


def make_scheduler(name: str, base: Any):
    """A new scheduler of kind `name`, keeping the model's training config
    (betas, prediction type). base: the model's scheduler (or its config).
    A flow-matching model (FLUX, SD3.5) and a noise-prediction one (SD1.5,
    SDXL) each take only their own kind: the other would run and give noise,
    or fail deep inside the pipeline."""
    import diffusers

    cls_name, extra = ALIASES.get(name.lower(), (name, {}))
    cls = getattr(diffusers, cls_name, None)
    if cls is None or not cls_name.endswith("Scheduler"):
        raise ValueError(
            f"unknown scheduler {name!r}; use one of {', '.join(ALIASES)} or a diffusers scheduler class name"
        )
    if hasattr(base, "config"):
        model_cls = type(base).__name__
        flow = _flow_matching(model_cls)
        if flow != _flow_matching(cls_name):
            kind, fits = (("a flow-matching model", "FlowMatchEulerDiscreteScheduler") if flow
                          else ("a noise-prediction model", ", ".join(ALIASES)))
            raise ValueError(f"scheduler {name!r} does not fit this model: it is {kind} ({model_cls}); use {fits}")
        base = base.config
    return cls.from_config(base, **extra)


def _flow_matching(cls_name: str) -> bool:
    return cls_name.startswith("FlowMatch")


def scheduler_label(scheduler: Any) -> str:
    cls_name = type(scheduler).__name__
    karras = bool(getattr(scheduler.config, "use_karras_sigmas", False))
    trailing = getattr(scheduler.config, "timestep_spacing", None) == "trailing"
    for alias, (name, extra) in ALIASES.items():
        if (name == cls_name and bool(extra.get("use_karras_sigmas", False)) == karras
                and (extra.get("timestep_spacing") == "trailing") == trailing):
            return alias
    return cls_name
