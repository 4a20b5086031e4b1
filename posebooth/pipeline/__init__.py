"""Diffusion generation layer (Qt-free): model presets and loading, backends over the
diffusers pipelines, the generation worker thread, and clip strategies. Requests and
results are frame.request's; the conditioning images are frame.controls'.

Importing this package is cheap; torch/diffusers are imported by the modules that need them.
    presets.py      shipped + user-editable model presets, list_presets()
    models.py       source (preset, HF id, folder, single file) -> ModelSpec
    loading.py      LoadOptions, load_backend()
    backends.py     ControlNetBackend (SD1.5/SDXL, txt2img + img2img), Depth2ImgBackend (SD2-depth)
    worker.py       GenerationWorker (latest-wins previews, cancel within one step, call())
    clips.py        fixed-seed / previous-frame / cross-frame-attention clips, a step at a time
Tiny random-weight pipelines for tests and benchmarks live in tests/fixtures/, not here.
"""
