"""Cross-frame attention for clips: every frame's self-attention attends to the first
frame's keys and values, which keeps appearance (clothes, colours, background)
consistent across frames.

This is Text2Video-Zero's CrossFrameAttnProcessor (diffusers,
pipelines/text_to_video_synthesis/pipeline_text_to_video_zero.py), which batches
all frames and replaces each frame's self-attention K/V with frame 0's. Here frames
are generated one after another (memory does not grow with the clip length): while
frame 0 is generated each self-attention layer records its input hidden states per
call (= per denoising step); for later frames the same layer, at the same step,
computes K/V from the recorded frame-0 states. Queries stay the frame's own.
Cost: one stored (batch, tokens, channels) tensor per self-attention layer and
step, about 40 MB per step for SD1.5 at 512x512 in fp16 with guidance.
Cross-attention (text) layers are untouched.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F


class FrameAnchor:
    """Shared switch for all processors: 'off', 'record' (frame 0) or 'replay' (later frames)."""

    def __init__(self) -> None:
        self.mode = "off"
        self.processors: list[CrossFrameAttnProcessor] = []

    def start_frame(self, mode: str) -> None:
        self.mode = mode
        for p in self.processors:
            p.calls = 0
            if mode == "record":
                p.cache.clear()

    def clear(self) -> None:
        for p in self.processors:
            p.cache.clear()


class CrossFrameAttnProcessor:
    def __init__(self, anchor: FrameAnchor):
        self.anchor = anchor
        self.cache: list[torch.Tensor] = []
        self.calls = 0
        anchor.processors.append(self)

    def _context(self, hidden_states: torch.Tensor) -> torch.Tensor:
        i, self.calls = self.calls, self.calls + 1
        if self.anchor.mode == "record":
            self.cache.append(hidden_states)  # a fresh tensor each call; never modified in place
        elif self.anchor.mode == "replay" and i < len(self.cache) and self.cache[i].shape == hidden_states.shape:
            return self.cache[i]
        return hidden_states

    def __call__(
        self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, *args, **kwargs
    ):
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            b, c, h, w = hidden_states.shape
            hidden_states = hidden_states.view(b, c, h * w).transpose(1, 2)
        batch = hidden_states.shape[0]
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        if encoder_hidden_states is None:  # self-attention: K/V from frame 0 when replaying
            context = self._context(hidden_states)
        else:
            context = (
                attn.norm_encoder_hidden_states(encoder_hidden_states) if attn.norm_cross else encoder_hidden_states
            )
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, context.shape[1], batch)
            attention_mask = attention_mask.view(batch, attn.heads, -1, attention_mask.shape[-1])

        query, key, value = attn.to_q(hidden_states), attn.to_k(context), attn.to_v(context)
        head_dim = key.shape[-1] // attn.heads
        query, key, value = (t.view(batch, -1, attn.heads, head_dim).transpose(1, 2) for t in (query, key, value))
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        out = F.scaled_dot_product_attention(
            query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False
        )
        out = out.transpose(1, 2).reshape(batch, -1, attn.heads * head_dim).to(query.dtype)
        out = attn.to_out[1](attn.to_out[0](out))
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(b, c, h, w)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


@contextmanager
def installed(unet, anchor: FrameAnchor, processors: dict | None = None):
    """The UNet's self-attention layers use `anchor`'s cross-frame processors
    inside the block (the same processor objects on every entry, so what
    frame 0 recorded is there for the later frames); restored on exit."""
    original = dict(unet.attn_processors)
    if processors is None:
        processors = {name: CrossFrameAttnProcessor(anchor) if name.endswith("attn1.processor") else proc
                      for name, proc in original.items()}
    unet.set_attn_processor(dict(processors))
    try:
        yield processors
    finally:
        unet.set_attn_processor(original)


@contextmanager
def cross_frame_attention(unet):
    """Install cross-frame processors on the UNet's self-attention layers; restore on exit."""
    anchor = FrameAnchor()
    try:
        with installed(unet, anchor):
            yield anchor
    finally:
        anchor.clear()
