"""Errors the generation layer reports to its callers (the worker turns them into messages)."""


class PipelineError(Exception):
    """Base class: every error raised on purpose by posebooth.pipeline."""


class ModelNotFoundError(PipelineError):
    """Weights or configs are not where they must be; the message names what to get and where."""


class GenerationError(PipelineError):
    """A generation failed for a reason the user can act on (out of memory, bad input)."""


class GenerationCancelled(PipelineError):
    """Raised from inside the denoising loop to stop it at the end of a step."""
