"""
How CatVTON changes the SD 1.5 inpainting UNet: cross-attention is skipped (there is no text
encoder; the garment reaches the person through self-attention over the concatenated
latents) and the self-attention weights are replaced by CatVTON's trained ones.

The weights file (`mix-48k-1024/attention/model.safetensors`) was written from a list of every
UNet module whose name contains `attn1`, in registration order (down blocks, up blocks, mid
block). Each self-attention takes eight places in that list: the attention itself, to_q, to_k,
to_v, to_out, to_out.0, to_out.1 (dropout) and its processor. A key is `<place>.<parameter>`,
so one weight may appear under several places (`8.to_q.weight` is `9.weight`); we accept any
of them, and also full UNet parameter names, and insist that every self-attention parameter
is given with its exact shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

PLACES_PER_ATTENTION = 8
# where each of the eight places sits relative to the attention module
_PLACE_PREFIX = ("", "to_q.", "to_k.", "to_v.", "to_out.", "to_out.0.", "to_out.1.", "processor.")
_BLOCK_ORDER = ("down_blocks", "up_blocks", "mid_block")


class AttentionWeightsError(ValueError):
    """A CatVTON attention state dict does not fit this UNet; the message says which key and why."""


class SkipCrossAttention:
    """An attention processor that returns its (normalised) input: the transformer block then adds it
    to its residual, exactly as CatVTON was trained."""

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        return hidden_states


def use_catvton_processors(unet: UNet2DConditionModel) -> None:
    """Self-attention through PyTorch's scaled_dot_product_attention, cross-attention skipped."""
    processors: dict[str, Any] = {}
    for name in unet.attn_processors:
        processors[name] = AttnProcessor2_0() if name.endswith("attn1.processor") else SkipCrossAttention()
    unet.set_attn_processor(processors)


def skips_cross_attention(unet: UNet2DConditionModel) -> bool:
    return all(
        isinstance(processor, SkipCrossAttention)
        for name, processor in unet.attn_processors.items()
        if name.endswith("attn2.processor")
    )


def self_attentions(unet: UNet2DConditionModel) -> list[tuple[str, Attention]]:
    """Every self-attention (attn1) of the UNet, in the order CatVTON's weights file numbers them."""
    found = [(name, module) for name, module in unet.named_modules() if name.endswith("attn1")]

    def order(item: tuple[str, Attention]) -> int:
        return _BLOCK_ORDER.index(item[0].split(".", 1)[0])

    # sorted() is stable: within a block group the registration order stays
    return sorted(found, key=order)


def catvton_attention_state_dict(unet: UNet2DConditionModel) -> dict[str, torch.Tensor]:
    """The UNet's self-attention weights in the layout of CatVTON's file (each under its first place)."""
    state: dict[str, torch.Tensor] = {}
    for index, (_, module) in enumerate(self_attentions(unet)):
        for name, parameter in module.named_parameters():
            state[f"{index * PLACES_PER_ATTENTION}.{name}"] = parameter.detach().clone().contiguous()
    return state


_PLACE_KEY = re.compile(r"^(\d+)\.(.+)$")


def _target(key: str, attentions: list[tuple[str, Attention]]) -> tuple[int, str]:
    """(which self-attention, parameter name inside it) for one key of the file."""
    match = _PLACE_KEY.match(key)
    if match:
        place = int(match.group(1))
        index, offset = divmod(place, PLACES_PER_ATTENTION)
        if index >= len(attentions):
            raise AttentionWeightsError(
                f"key {key!r}: place {place} is beyond this UNet's {len(attentions)} self-attentions"
            )
        return index, _PLACE_PREFIX[offset] + match.group(2)
    for index, (name, _) in enumerate(attentions):
        if key.startswith(f"{name}."):
            return index, key[len(name) + 1 :]
    raise AttentionWeightsError(f"key {key!r} names no self-attention of this UNet")


def load_attention_weights(unet: UNet2DConditionModel, state: Mapping[str, torch.Tensor]) -> int:
    """Copy CatVTON's self-attention weights into `unet`; the number of parameters set.
    Nothing is changed unless every key fits and every self-attention parameter is given."""
    attentions = self_attentions(unet)
    if not attentions:
        raise AttentionWeightsError("this UNet has no self-attention (attn1) modules")
    parameters = [dict(module.named_parameters()) for _, module in attentions]
    chosen: dict[tuple[int, str], torch.Tensor] = {}
    for key, tensor in state.items():
        index, name = _target(key, attentions)
        target = parameters[index].get(name)
        if target is None:
            raise AttentionWeightsError(f"key {key!r}: {attentions[index][0]} has no parameter {name!r}")
        if tuple(tensor.shape) != tuple(target.shape):
            raise AttentionWeightsError(
                f"key {key!r}: shape {tuple(tensor.shape)} does not fit {attentions[index][0]}.{name} "
                f"of shape {tuple(target.shape)}"
            )
        chosen[(index, name)] = tensor
    missing = [
        f"{attentions[index][0]}.{name}"
        for index, named in enumerate(parameters)
        for name in named
        if (index, name) not in chosen
    ]
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise AttentionWeightsError(f"the attention weights lack {shown}")
    with torch.no_grad():
        for (index, name), tensor in chosen.items():
            target = parameters[index][name]
            target.copy_(tensor.to(device=target.device, dtype=target.dtype))
    return len(chosen)
