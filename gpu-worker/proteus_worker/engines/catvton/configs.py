"""
Model architectures written out, so components can be built without any download: the
full-size SD 1.5 inpainting UNet and sd-vae-ft-mse (the GPU benchmark runs them with random
weights: the same compute as CatVTON) and tiny ones for the tests and CPU benchmarks,
built with fixed seeds in diffusers' fast-test style.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel

# unet/config.json of booksforcharlie/stable-diffusion-inpainting (= runwayml's SD 1.5 inpainting)
SD15_INPAINT_UNET: dict[str, Any] = {
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 9,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-5,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}

# config.json of stabilityai/sd-vae-ft-mse
SD_VAE_FT_MSE: dict[str, Any] = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 256,
    "scaling_factor": 0.18215,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}

# scheduler/scheduler_config.json of the SD 1.5 inpainting repository, read by DDIMScheduler
SD15_SCHEDULER: dict[str, Any] = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "steps_offset": 1,
}

# diffusers' fast-test components: a 9-channel UNet with one self- and one cross-attention
# level, and a VAE that halves the size (so a 64x48 image is a 32x24 latent).
TINY_UNET: dict[str, Any] = {
    "block_out_channels": [32, 64],
    "layers_per_block": 2,
    "sample_size": 32,
    "in_channels": 9,
    "out_channels": 4,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
    "cross_attention_dim": 32,
}

TINY_VAE: dict[str, Any] = {
    "block_out_channels": [32, 64],
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
    "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
    "latent_channels": 4,
}


@dataclass(frozen=True)
class Components:
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    scheduler: DDIMScheduler


def build_components(
    unet_config: dict[str, Any],
    vae_config: dict[str, Any],
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
) -> Components:
    """Randomly initialised components of the given architectures (weights from `seed`), in eval mode.
    They are created on `device` directly: initialising the full-size UNet on CPU alone takes long."""
    with torch.device(device):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(**unet_config).eval()
        torch.manual_seed(seed + 1)
        vae = AutoencoderKL(**vae_config).eval()
    if dtype != torch.float32:
        unet.to(dtype=dtype)
        vae.to(dtype=dtype)
    scheduler = DDIMScheduler(**SD15_SCHEDULER)
    return Components(unet=unet, vae=vae, scheduler=scheduler)


def tiny_components(seed: int = 0) -> Components:
    return build_components(TINY_UNET, TINY_VAE, seed)


def full_size_components(seed: int = 0, dtype: torch.dtype = torch.bfloat16, device: str = "cuda") -> Components:
    return build_components(SD15_INPAINT_UNET, SD_VAE_FT_MSE, seed, dtype, device)
