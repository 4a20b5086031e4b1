"""One identity: a reference image through a real IP-Adapter load (diffusers'
load_ip_adapter from a folder in h94/IP-Adapter's layout, tiny random weights),
stored with the scene as path + sha256, combined with the clip strategies."""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline_fixtures import control_image
from posebooth.frame.identity import IdentityError, identity_problem, load_identity, make_identity_reference
from posebooth.frame.request import Control, GenerationRequest, Identity, build_request
from posebooth.pipeline.errors import GenerationError, ModelNotFoundError
from posebooth.pipeline.loading import LoadOptions, backend_for_pipeline
from posebooth.scene.io import load_scene, save_scene
from posebooth.scene.model import Scene

from fixtures import tiny_models as tm
from fixtures.tiny_ip_adapter import save_tiny_ip_adapter

S = 32  # the IP-Adapter path does not depend on the size: small keeps the suite fast


def face(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((40, 48, 3)) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    torch.set_num_threads(1)
    pipe = tm.tiny_controlnet_pipeline()
    root = save_tiny_ip_adapter(tmp_path_factory.mktemp("ip"), pipe.unet)
    return backend_for_pipeline(pipe, "sd15-controlnet", {"depth": pipe.controlnet},
                                LoadOptions(device="cpu", ip_adapter=str(root), preview_decoder="none"))


def request(seed=0, identity=None, **kw):
    return GenerationRequest(prompt="a person", controls=(Control("depth", control_image("depth", w=S, h=S)),),
                             seed=seed, steps=2, width=S, height=S, identity=identity, **kw)


def test_the_reference_changes_the_image_and_scale_zero_is_the_plain_model(backend):
    plain = backend.generate(request(seed=1)).image  # before the adapter is loaded
    assert not backend.identity_adapter.loaded
    a = backend.generate(request(seed=1, identity=Identity(face(0), 1.0, "a" * 64)))
    assert backend.identity_adapter.loaded
    assert type(backend.pipe.image_encoder).__name__ == "CLIPVisionModelWithProjection"
    assert not np.array_equal(a.image, plain)
    again = backend.generate(request(seed=1, identity=Identity(face(0), 1.0, "a" * 64)))
    assert np.array_equal(a.image, again.image)  # same seed, same identity: same image
    other = backend.generate(request(seed=1, identity=Identity(face(1), 1.0, "b" * 64)))
    assert not np.array_equal(a.image, other.image)  # the picture itself matters, not only the adapter
    assert a.settings["identity"] == {"sha256": "a" * 64, "scale": 1.0}
    # adapter loaded, no identity: IP attention * 0, i.e. the plain model's image
    after = backend.generate(request(seed=1)).image
    assert np.abs(after.astype(int) - plain.astype(int)).max() <= 1


@pytest.mark.parametrize("strategy", ["cross-frame-attention", "previous-frame"])
def test_identity_combines_with_clip_strategies(backend, strategy):
    from posebooth.pipeline.clips import ClipOptions, generate_clip

    ident = Identity(face(2), 0.8, "c" * 64)
    frames = [request(seed=7, identity=ident), request(seed=7, identity=ident)]
    with_id = generate_clip(backend, frames, ClipOptions(strategy, strength=0.5))
    without = generate_clip(backend, [dataclasses.replace(f, identity=None) for f in frames],
                            ClipOptions(strategy, strength=0.5))
    for a, b in zip(with_id, without):
        assert a.settings["identity"]["sha256"] == "c" * 64 and a.settings["clip_strategy"] == strategy
        assert not np.array_equal(a.image, b.image)
    # the cross-frame processors are gone after the clip, the IP-Adapter ones stay
    names = {type(p).__name__ for p in backend.pipe.unet.attn_processors.values()}
    assert "CrossFrameAttnProcessor" not in names and "IPAdapterAttnProcessor2_0" in names


def test_reference_round_trips_with_the_scene(tmp_path):
    img = face(3)
    path = tmp_path / "hero.png"
    Image.fromarray(img).save(path)
    scene = Scene()
    scene = scene.model_copy(update={"generation": scene.generation.model_copy(
        update={"identity": make_identity_reference(path, scale=0.7)})})
    save_scene(scene, tmp_path / "s.json")
    back = load_scene(tmp_path / "s.json")
    assert back.generation.identity == scene.generation.identity
    assert back.generation.identity.image.sha256 == __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    req = build_request(back.generation, {"depth": control_image("depth", w=S, h=S)}, seed=0, width=S, height=S)
    assert req.identity.scale == 0.7
    assert np.array_equal(req.identity.image, np.asarray(Image.open(path).convert("RGB")))


@pytest.mark.hostile
def test_missing_or_changed_reference_is_one_line_and_the_scene_opens(tmp_path):
    path = tmp_path / "hero.png"
    Image.fromarray(face(4)).save(path)
    gen = Scene().generation.model_copy(update={"identity": make_identity_reference(path)})
    scene_file = tmp_path / "s.json"
    save_scene(Scene(generation=gen), scene_file)
    Image.fromarray(face(5)).save(path)  # changed
    problem = identity_problem(load_scene(scene_file).generation)
    assert problem and "\n" not in problem and str(path) in problem and "changed" in problem
    path.unlink()  # missing
    scene = load_scene(scene_file)  # still opens
    problem = identity_problem(scene.generation)
    assert problem and "\n" not in problem and str(path) in problem
    with pytest.raises(IdentityError):
        load_identity(scene.generation.identity)
    with pytest.raises(IdentityError):
        make_identity_reference(tmp_path / "nothing.png")


@pytest.mark.hostile
def test_models_without_ip_adapter_and_missing_adapter_files_say_so(backend, tmp_path, monkeypatch):
    from huggingface_hub import constants

    from pipeline_fixtures import make_backend

    ident = Identity(face(0), 1.0, "d" * 64)
    sd2 = make_backend("sd2")
    with pytest.raises(GenerationError, match="takes no identity reference"):
        sd2.generate(dataclasses.replace(request(identity=ident), width=24, height=32,
                                         controls=(Control("depth", control_image("depth")),)))
    # the default adapter (h94/IP-Adapter) is not cached and HF_HUB_OFFLINE is set: one line, what to get
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    pipe = tm.tiny_controlnet_pipeline()
    fresh = backend_for_pipeline(pipe, "sd15-controlnet", {"depth": pipe.controlnet},
                                 LoadOptions(device="cpu", preview_decoder="none"))
    with pytest.raises(ModelNotFoundError) as info:
        fresh.generate(request(identity=ident))
    assert "h94/IP-Adapter" in str(info.value) and "\n" not in str(info.value)
    bad = backend_for_pipeline(pipe, "sd15-controlnet", {"depth": pipe.controlnet},
                               LoadOptions(device="cpu", preview_decoder="none", ip_adapter=str(tmp_path)))
    with pytest.raises(ModelNotFoundError, match="ip-adapter_sd15.safetensors"):
        bad.generate(request(identity=ident))


def test_a_recipe_identity_is_every_samples_reference(tmp_path):
    """The recipe's [generation.identity] (relative to the recipe) becomes the scene's reference."""
    import hashlib

    from posebooth.dataset.recipe import parse_recipe
    from posebooth.dataset.sampling import _identity

    Image.fromarray(face(6)).save(tmp_path / "hero.png")
    recipe = parse_recipe('[generation.identity]\nimage = "hero.png"\nscale = 0.9', "r.toml", tmp_path)
    ref = _identity(recipe.generation.identity)
    assert ref.image.path == str(tmp_path / "hero.png") and ref.scale == 0.9
    assert ref.image.sha256 == hashlib.sha256((tmp_path / "hero.png").read_bytes()).hexdigest()
    assert _identity(None) is None
