"""The CatVTON pipeline end to end on CPU with tiny random components (nothing downloaded)."""

from __future__ import annotations


from typing import Any

import pytest
import torch

from proteus_worker.engines.catvton.attention import skips_cross_attention
from proteus_worker.engines.catvton.configs import TINY_UNET, TINY_VAE, build_components, tiny_components
from proteus_worker.engines.catvton.pipeline import CatVTONPipeline
from tests.torch_threads import one_torch_thread  # noqa: F401  (an autouse fixture: one thread here)

HEIGHT, WIDTH, STEPS = 64, 48, 2

# Batch invariance tolerance, on pixels in [0, 1]. Each job's noise comes from its own
# generator, and nothing in the pipeline mixes samples, so the maths is identical; but fp32
# GEMMs and convolutions may block and sum differently for another batch size (measured:
# about 1e-6). 1e-4 is 100x that and still 1/40 of one 8-bit level.
BATCH_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def pipeline() -> CatVTONPipeline:
    parts = tiny_components(seed=0)
    return CatVTONPipeline(parts.unet, parts.vae, parts.scheduler)


def inputs(batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random person and garment in [-1, 1] and a mask over the torso, per sample different."""
    generator = torch.Generator().manual_seed(seed)
    person = torch.rand(batch, 3, HEIGHT, WIDTH, generator=generator) * 2 - 1
    garment = torch.rand(batch, 3, HEIGHT, WIDTH, generator=generator) * 2 - 1
    mask = torch.zeros(batch, 1, HEIGHT, WIDTH)
    mask[:, :, 16:48, 12:36] = 1
    return person, garment, mask


def seeds(*values: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(v) for v in values]


def test_output_is_the_person_size_in_unit_range(pipeline: CatVTONPipeline) -> None:
    person, garment, mask = inputs(2)
    out = pipeline(person, garment, mask, seeds(1, 2), steps=STEPS)
    assert out.shape == (2, 3, HEIGHT, WIDTH)
    assert out.dtype == torch.float32
    assert bool(torch.isfinite(out).all())
    assert out.min().item() >= 0.0 and out.max().item() <= 1.0
    assert out.std().item() > 0.01  # a picture, not a constant


def test_a_job_gives_the_same_image_alone_and_inside_a_batch_of_4(pipeline: CatVTONPipeline) -> None:
    person, garment, mask = inputs(4, seed=3)
    batch = pipeline(person, garment, mask, seeds(10, 11, 12, 13), steps=STEPS)
    alone = pipeline(person[2:3], garment[2:3], mask[2:3], seeds(12), steps=STEPS)
    difference = (batch[2] - alone[0]).abs().max().item()
    assert difference <= BATCH_TOLERANCE, f"max pixel difference {difference}"
    # and the neighbours really are different jobs
    assert (batch[1] - batch[2]).abs().mean().item() > 0.01


def test_different_seeds_give_different_images(pipeline: CatVTONPipeline) -> None:
    person, garment, mask = inputs(1)
    both = pipeline(person.repeat(2, 1, 1, 1), garment.repeat(2, 1, 1, 1), mask.repeat(2, 1, 1, 1), seeds(1, 2), steps=STEPS)
    again = pipeline(person, garment, mask, seeds(1), steps=STEPS)
    assert (both[0] - both[1]).abs().mean().item() > 1e-3
    assert (both[0] - again[0]).abs().max().item() <= BATCH_TOLERANCE


def test_guidance_changes_the_output(pipeline: CatVTONPipeline) -> None:
    person, garment, mask = inputs(1)
    guided = pipeline(person, garment, mask, seeds(5), steps=STEPS, guidance_scale=2.5)
    plain = pipeline(person, garment, mask, seeds(5), steps=STEPS, guidance_scale=1.0)
    assert (guided - plain).abs().mean().item() > 1e-4


class Spy:
    """Records the shapes a wrapped callable is called with."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, sample: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        self.shapes.append(tuple(sample.shape))
        return self.target(sample, *args, **kwargs)


def test_latents_stack_on_height_guidance_doubles_the_unet_batch_and_the_person_half_is_decoded(
    pipeline: CatVTONPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    unet_spy = Spy(pipeline.unet)
    decode_spy = Spy(pipeline.vae.decode)
    monkeypatch.setattr(pipeline, "_denoise", unet_spy)
    monkeypatch.setattr(pipeline.vae, "decode", decode_spy)
    person, garment, mask = inputs(3)
    out = pipeline(person, garment, mask, seeds(1, 2, 3), steps=STEPS, guidance_scale=2.5)
    factor = pipeline.vae_scale_factor
    latent_h, latent_w = HEIGHT // factor, WIDTH // factor
    # noisy latent 4 + mask 1 + masked latent 4, person over garment, unconditional + conditional
    assert unet_spy.shapes == [(6, 9, 2 * latent_h, latent_w)] * STEPS
    assert decode_spy.shapes == [(3, 4, latent_h, latent_w)]
    assert out.shape == (3, 3, HEIGHT, WIDTH)


def test_cross_attention_is_skipped(pipeline: CatVTONPipeline) -> None:
    assert skips_cross_attention(pipeline.unet)
    person, garment, mask = inputs(1)
    before = pipeline(person, garment, mask, seeds(4), steps=STEPS)
    saved = {n: p.detach().clone() for n, p in pipeline.unet.named_parameters() if ".attn2." in n}
    assert saved, "the tiny UNet has cross-attention layers"
    try:
        with torch.no_grad():
            for name, parameter in pipeline.unet.named_parameters():
                if ".attn2." in name:
                    parameter.add_(torch.randn_like(parameter))
        after = pipeline(person, garment, mask, seeds(4), steps=STEPS)
    finally:
        with torch.no_grad():
            for name, parameter in pipeline.unet.named_parameters():
                if name in saved:
                    parameter.copy_(saved[name])
    assert torch.equal(before, after)


def test_progress_is_reported_every_few_steps_and_at_the_end(pipeline: CatVTONPipeline) -> None:
    person, garment, mask = inputs(1)
    calls: list[tuple[int, int]] = []
    pipeline(
        person, garment, mask, seeds(1), steps=3, on_progress=lambda s, n: calls.append((s, n)), progress_every=2
    )
    assert calls == [(2, 3), (3, 3)]


def test_deterministic_ddim_without_eta_is_reproducible(pipeline: CatVTONPipeline) -> None:
    person, garment, mask = inputs(1)
    first = pipeline(person, garment, mask, seeds(9), steps=STEPS, eta=0.0)
    second = pipeline(person, garment, mask, seeds(9), steps=STEPS, eta=0.0)
    stochastic = pipeline(person, garment, mask, seeds(9), steps=STEPS, eta=1.0)
    assert torch.equal(first, second)
    assert (first - stochastic).abs().mean().item() > 1e-5


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"person": torch.zeros(1, 3, 60, 48)}, "garment has shape"),
        ({"height": 62}, "multiples of 4"),
        ({"generators": []}, "0 generators for a batch of 1"),
        ({"steps": 0}, "steps must be from 1 to 1000, got 0"),
        ({"mask": torch.zeros(1, 3, HEIGHT, WIDTH)}, "mask has shape (1, 3, 64, 48)"),
        ({"eta": 1.5}, "eta must be from 0 to 1, got 1.5"),
    ],
)
def test_bad_inputs_are_named(pipeline: CatVTONPipeline, change: dict[str, Any], message: str) -> None:
    person, garment, mask = inputs(1)
    if "height" in change:
        person, garment, mask = person[:, :, : change["height"]], garment[:, :, : change["height"]], mask[:, :, : change["height"]]
    arguments: dict[str, Any] = {
        "person": person,
        "garment": garment,
        "mask": mask,
        "generators": seeds(1),
        "steps": STEPS,
        "eta": 1.0,
    }
    arguments.update({k: v for k, v in change.items() if k != "height"})
    with pytest.raises(ValueError) as error:
        pipeline(**arguments)
    assert message in str(error.value)


def test_a_unet_without_nine_input_channels_is_refused() -> None:
    parts = build_components({**TINY_UNET, "in_channels": 4}, TINY_VAE)
    with pytest.raises(ValueError, match="takes 4 channels; an inpainting UNet for this VAE takes 9"):
        CatVTONPipeline(parts.unet, parts.vae, parts.scheduler)
