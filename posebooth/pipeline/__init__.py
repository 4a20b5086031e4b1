"""Diffusion generation layer (Qt-free): model presets and loading, backends over the
diffusers pipelines, the generation worker thread, and clip strategies. Requests and
results are frame.request's; the conditioning images are frame.controls'.

Importing this package is cheap; torch/diffusers are imported by the modules that need them.
    presets.py      shipped + user-editable model presets, list_presets()
    models.py       source (preset, HF id, folder, single file) -> ModelSpec
    source_checks.py  LoadOptions, check_source(): every file check of a source, without torch
    loading.py      load_backend(): checks, builds and places a pipeline
    backends.py     ControlNetBackend (SD1.5/SDXL, txt2img + img2img), Depth2ImgBackend (SD2-depth)
    modern.py       ModernBackend: SDXL ControlNet Union, FLUX.1 ControlNet, SD3.5 ControlNet
    identity.py     a request's identity image through an IP-Adapter (SD1.5 / SDXL)
    worker.py       GenerationWorker (latest-wins previews, cancel within one step, call())
    clips.py        fixed-seed / previous-frame / cross-frame-attention clips, a step at a time
    estimators.py   ViTPose and Depth Anything for the fidelity score (frame.fidelity)
    live.py         LivePacer: live previews that follow a drag (one outstanding, newest wins)
Tiny random-weight pipelines for tests and benchmarks live in tests/fixtures/, not here.
"""
