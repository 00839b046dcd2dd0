"""
CatVTON's try-on as one diffusers-style pipeline on ready-made components (an SD 1.5
inpainting UNet, an AutoencoderKL, a DDIM scheduler): no text encoder, no downloads, no
device default, no global torch flags. Loading lives in loading.py, images in images.py.

The person (masked) and the garment are encoded separately and stacked on the height axis,
person on top; the UNet sees [noisy latent, mask, masked latent] (4 + 1 + 4 channels) and its
self-attention carries the garment over to the person. Classifier-free guidance compares
against the same input with the garment half zeroed. Every job draws its noise from its own
generator, so its image does not depend on the batch it ran in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel

from proteus_worker.engines.catvton.attention import use_catvton_processors

ProgressCallback = Callable[[int, int], None]

HEIGHT_AXIS = -2


class CatVTONPipeline:
    def __init__(self, unet: UNet2DConditionModel, vae: AutoencoderKL, scheduler: DDIMScheduler) -> None:
        if unet.config.in_channels != 2 * vae.config.latent_channels + 1:
            raise ValueError(
                f"the UNet takes {unet.config.in_channels} channels; an inpainting UNet for this VAE takes "
                f"{2 * vae.config.latent_channels + 1} (latent, mask, masked latent)"
            )
        use_catvton_processors(unet)
        self.unet = unet
        self.vae = vae
        self.scheduler = scheduler
        self._denoise: Callable[..., Any] = unet

    def compile_unet(self, **options: Any) -> None:
        """Run the UNet through torch.compile (options as torch.compile takes them)."""
        self._denoise = torch.compile(self.unet, **options)

    @property
    def device(self) -> torch.device:
        device: torch.device = next(self.unet.parameters()).device
        return device

    @property
    def vae_scale_factor(self) -> int:
        return int(2 ** (len(self.vae.config.block_out_channels) - 1))

    @property
    def size_multiple(self) -> int:
        """Pixel sizes must divide by this: the VAE's factor times the UNet's downsamplings."""
        return self.vae_scale_factor * int(2 ** (len(self.unet.config.block_out_channels) - 1))

    def check_inputs(
        self,
        person: torch.Tensor,
        garment: torch.Tensor,
        mask: torch.Tensor,
        generators: Sequence[torch.Generator],
        steps: int,
        guidance_scale: float,
        eta: float,
    ) -> None:
        if person.ndim != 4 or person.shape[1] != 3:
            raise ValueError(f"person must be a (batch, 3, height, width) tensor, got shape {tuple(person.shape)}")
        batch, _, height, width = person.shape
        if batch < 1:
            raise ValueError("the batch is empty")
        if tuple(garment.shape) != tuple(person.shape):
            raise ValueError(f"garment has shape {tuple(garment.shape)}, person {tuple(person.shape)}: they must match")
        if tuple(mask.shape) != (batch, 1, height, width):
            raise ValueError(f"mask has shape {tuple(mask.shape)}, expected {(batch, 1, height, width)}")
        multiple = self.size_multiple
        if height % multiple or width % multiple:
            raise ValueError(f"width {width} and height {height} must both be multiples of {multiple}")
        if len(generators) != batch:
            raise ValueError(f"{len(generators)} generators for a batch of {batch}: one per job")
        limit = int(self.scheduler.config.num_train_timesteps)
        if not 1 <= steps <= limit:
            raise ValueError(f"steps must be from 1 to {limit}, got {steps}")
        if guidance_scale < 0:
            raise ValueError(f"guidance_scale must be at least 0, got {guidance_scale}")
        if not 0 <= eta <= 1:
            raise ValueError(f"eta must be from 0 to 1, got {eta}")

    def _encode(self, images: torch.Tensor) -> torch.Tensor:
        """Scaled latents: the posterior's mean, so encoding adds no randomness of its own."""
        posterior = self.vae.encode(images.to(self.vae.dtype)).latent_dist
        mean: torch.Tensor = posterior.mode()
        return mean.float() * float(self.vae.config.scaling_factor)

    @staticmethod
    def _noise(shape: Sequence[int], generators: Sequence[torch.Generator], device: torch.device) -> torch.Tensor:
        """One draw per job from that job's own generator, on the generator's device (CUDA generators
        keep the loop free of host round trips; a seed gives the same draw on every device of one kind)."""
        draws = [torch.randn(tuple(shape), generator=g, device=g.device, dtype=torch.float32) for g in generators]
        return torch.stack(draws).to(device)

    @torch.inference_mode()
    def __call__(
        self,
        person: torch.Tensor,
        garment: torch.Tensor,
        mask: torch.Tensor,
        generators: Sequence[torch.Generator],
        steps: int,
        guidance_scale: float = 2.5,
        eta: float = 1.0,
        on_progress: ProgressCallback | None = None,
        progress_every: int = 1,
    ) -> torch.Tensor:
        """Try-on images (batch, 3, height, width) in [0, 1], float32.

        person, garment: (batch, 3, height, width) in [-1, 1]; mask: (batch, 1, height, width),
        1 where the garment goes; one generator per job (on CPU or the pipeline's device)."""
        # 1. Check the inputs.
        self.check_inputs(person, garment, mask, generators, steps, guidance_scale, eta)
        if progress_every < 1:
            raise ValueError(f"progress_every must be at least 1, got {progress_every}")
        device = self.device
        unet_dtype = self.unet.dtype
        mask = (mask.to(device) >= 0.5).float()
        person = person.to(device).float()
        garment = garment.to(device).float()
        batch = person.shape[0]

        # 2. Encode the masked person and the garment in one pass.
        latents_in = self._encode(torch.cat([person * (1 - mask), garment]))
        person_latent, garment_latent = latents_in[:batch], latents_in[batch:]

        # 3. Stack them on the height axis; the mask covers the person half only.
        masked_latent = torch.cat([person_latent, garment_latent], dim=HEIGHT_AXIS)
        mask_latent = F.interpolate(mask, size=person_latent.shape[-2:], mode="nearest")
        mask_latent = torch.cat([mask_latent, torch.zeros_like(mask_latent)], dim=HEIGHT_AXIS)

        # 4. Guidance: the unconditional half sees the garment latent zeroed.
        guided = guidance_scale > 1.0
        if guided:
            unconditional = torch.cat([person_latent, torch.zeros_like(garment_latent)], dim=HEIGHT_AXIS)
            masked_latent = torch.cat([unconditional, masked_latent])
            mask_latent = torch.cat([mask_latent, mask_latent])
        conditioning = torch.cat([mask_latent, masked_latent], dim=1).to(unet_dtype)

        # 5. Start from each job's own noise.
        scheduler = DDIMScheduler.from_config(self.scheduler.config)
        scheduler.set_timesteps(steps, device=device)
        latent_shape = tuple(person_latent.shape[1:-2]) + (2 * person_latent.shape[-2], person_latent.shape[-1])
        latents = self._noise(latent_shape, generators, device) * float(scheduler.init_noise_sigma)

        # 6. Denoise. The UNet gets the timestep as a device tensor (no copy, no recompile per step),
        # the scheduler as an int (its tables are on CPU; a device index would wait for the GPU).
        for index, (timestep, step_at) in enumerate(zip(scheduler.timesteps, scheduler.timesteps.tolist(), strict=True)):
            model_input = torch.cat([latents, latents]) if guided else latents
            model_input = scheduler.scale_model_input(model_input, timestep)
            model_input = torch.cat([model_input.to(unet_dtype), conditioning], dim=1)
            prediction = self._denoise(model_input, timestep, encoder_hidden_states=None, return_dict=False)[0]
            prediction = prediction.float()
            if guided:
                without, with_garment = prediction.chunk(2)
                prediction = without + guidance_scale * (with_garment - without)
            variance_noise = self._noise(latent_shape, generators, device) if eta > 0 else None
            latents = scheduler.step(
                prediction, int(step_at), latents, eta=eta, variance_noise=variance_noise, return_dict=False
            )[0]
            done = index + 1
            if on_progress is not None and (done % progress_every == 0 or done == steps):
                on_progress(done, steps)

        # 7. Keep the person half and decode it.
        person_half = latents[..., : person_latent.shape[-2], :]
        decoded: torch.Tensor = self.vae.decode(
            (person_half / float(self.vae.config.scaling_factor)).to(self.vae.dtype), return_dict=False
        )[0]
        return (decoded.float() / 2 + 0.5).clamp(0, 1)
