"""
Where the catvton engine's weights come from and how they become a pipeline: each of the
three sources (SD 1.5 inpainting base, CatVTON attention, VAE) is a Hugging Face hub id or a
local folder. A folder is read with local_files_only; a hub id is fetched only when downloads
are allowed. bf16 on CUDA, fp32 on CPU, SDPA attention, optional torch.compile of the UNet.

The weights are licensed by their authors (CatVTON: CC BY-NC-SA 4.0, non-commercial);
see docs/CATVTON.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from huggingface_hub import constants as hub_constants
from huggingface_hub import hf_hub_download, try_to_load_from_cache
from safetensors.torch import load_file

from proteus_worker.engines.catvton.attention import AttentionWeightsError, load_attention_weights
from proteus_worker.engines.catvton.pipeline import CatVTONPipeline
from proteus_worker.engines.catvton.settings import CatVTONSettings
from proteus_worker.log import Logger

ATTENTION_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
SCHEDULER_FILE = "scheduler_config.json"
MODEL_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


class CatVTONWeightsError(RuntimeError):
    """A weight source cannot be used; the message names the setting and the path or hub id."""


@dataclass(frozen=True)
class Source:
    """One weight set: a local folder (`folder`) or a hub id (`folder` None)."""

    what: str
    value: str
    folder: Path | None


def resolve(what: str, value: str) -> Source:
    """A local folder when `value` is one or looks like a path; otherwise a hub id."""
    path = Path(value).expanduser()
    if path.is_dir():
        return Source(what, value, path.resolve())
    looks_like_path = value.startswith(("/", ".", "~")) or "\\" in value or value.count("/") > 1
    if path.exists():
        raise CatVTONWeightsError(f"{what}: {path} is not a folder")
    if looks_like_path:
        raise CatVTONWeightsError(f"{what}: local folder {path} does not exist")
    if not _HUB_ID.match(value):
        raise CatVTONWeightsError(f"{what}: {value!r} is neither a local folder nor a hub id (owner/name)")
    return Source(what, value, None)


def sources(settings: CatVTONSettings) -> tuple[Source, Source, Source]:
    """(base, attention, vae), each checked."""
    return (
        resolve("base model (WORKER_CATVTON_BASE)", settings.base),
        resolve("attention weights (WORKER_CATVTON_ATTENTION)", settings.attention),
        resolve("VAE (WORKER_CATVTON_VAE)", settings.vae),
    )


def _attention_folder(source: Source, subfolder: str) -> Path:
    """In a local folder: its `subfolder` when present (a snapshot of the CatVTON repository), else itself."""
    assert source.folder is not None
    nested = source.folder / subfolder if subfolder else source.folder
    return nested if nested.is_dir() else source.folder


def _local_attention_file(source: Source, subfolder: str) -> Path:
    folder = _attention_folder(source, subfolder)
    named = folder / ATTENTION_FILE
    if named.is_file():
        return named
    candidates = sorted(folder.glob("*.safetensors"))
    if len(candidates) == 1:
        return candidates[0]
    raise CatVTONWeightsError(
        f"{source.what}: no {ATTENTION_FILE} in {folder}"
        + (f" (and {len(candidates)} other .safetensors files, which is ambiguous)" if candidates else "")
    )


def _missing_locally(source: Source, files: list[tuple[str, ...]], cache_dir: str | None) -> str | None:
    """Which required file is absent from the folder or the hub cache (None: all there).
    Each entry lists alternatives, of which one is enough."""
    for alternatives in files:
        found = False
        for name in alternatives:
            if source.folder is not None:
                found = (source.folder / name).is_file()
            else:
                found = isinstance(try_to_load_from_cache(source.value, name, cache_dir=cache_dir), str)
            if found:
                break
        if not found:
            where = str(source.folder) if source.folder is not None else f"the hub cache for {source.value}"
            return f"{source.what}: {' or '.join(alternatives)} not in {where}"
    return None


def downloads_allowed(settings: CatVTONSettings) -> bool:
    """WORKER_CATVTON_ALLOW_DOWNLOAD, unless huggingface_hub is told to stay offline (HF_HUB_OFFLINE)."""
    return settings.allow_download and not hub_constants.HF_HUB_OFFLINE


def unavailable_reason(settings: CatVTONSettings) -> str | None:
    """Why the engine cannot run here (None: CUDA is present and every weight set is reachable)."""
    if not torch.cuda.is_available():
        return "no CUDA device"
    return weights_unavailable_reason(settings)


def weights_unavailable_reason(settings: CatVTONSettings) -> str | None:
    """Why a weight set cannot be had without asking (None: all local, cached, or downloads allowed)."""
    try:
        base, attention, vae = sources(settings)
        if attention.folder is not None:
            _local_attention_file(attention, settings.attention_subfolder)
    except CatVTONWeightsError as error:
        return str(error)
    checks: list[tuple[Source, list[tuple[str, ...]]]] = [
        (base, [(f"unet/{CONFIG_FILE}",), tuple(f"unet/{m}" for m in MODEL_FILES), (f"scheduler/{SCHEDULER_FILE}",)]),
        (vae, [(CONFIG_FILE,), MODEL_FILES]),
    ]
    if attention.folder is None:
        subfolder = settings.attention_subfolder.strip("/")
        checks.append((attention, [(f"{subfolder}/{ATTENTION_FILE}" if subfolder else ATTENTION_FILE,)]))
    for source, files in checks:
        if source.folder is None and downloads_allowed(settings):
            continue
        missing = _missing_locally(source, files, settings.cache_dir)
        if missing:
            return missing
    return None


def catvton_available(settings: CatVTONSettings) -> bool:
    """For the runtime's `auto`: CUDA is present and the weights are local, cached or may be downloaded."""
    return unavailable_reason(settings) is None


def pick_device(settings: CatVTONSettings) -> torch.device:
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise CatVTONWeightsError("WORKER_CATVTON_DEVICE is cuda but no CUDA device is present")
    if settings.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(settings.device)


def _attention_state(source: Source, settings: CatVTONSettings) -> dict[str, torch.Tensor]:
    if source.folder is not None:
        path = _local_attention_file(source, settings.attention_subfolder)
    else:
        path = Path(
            str(
                hf_hub_download(
                    source.value,
                    ATTENTION_FILE,
                    subfolder=settings.attention_subfolder.strip("/") or None,
                    cache_dir=settings.cache_dir,
                    local_files_only=not downloads_allowed(settings),
                )
            )
        )
    return load_file(str(path))


def load_pipeline(settings: CatVTONSettings, log: Logger | None = None) -> CatVTONPipeline:
    """The pipeline with every weight set loaded onto the chosen device; CatVTONWeightsError names what failed."""
    base, attention, vae_source = sources(settings)
    device = pick_device(settings)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32

    def options(source: Source) -> dict[str, object]:
        return {
            "local_files_only": source.folder is not None or not downloads_allowed(settings),
            "cache_dir": settings.cache_dir,
        }

    def where(source: Source) -> str:
        return str(source.folder) if source.folder is not None else source.value

    try:
        unet = UNet2DConditionModel.from_pretrained(
            where(base), subfolder="unet", torch_dtype=dtype, **options(base)
        )
    except (OSError, ValueError) as error:
        raise CatVTONWeightsError(f"{base.what}: cannot load the UNet from {where(base)}: {error}") from error
    try:
        scheduler = DDIMScheduler.from_pretrained(where(base), subfolder="scheduler", **options(base))
    except (OSError, ValueError) as error:
        raise CatVTONWeightsError(f"{base.what}: cannot load the scheduler from {where(base)}: {error}") from error
    try:
        vae = AutoencoderKL.from_pretrained(where(vae_source), torch_dtype=dtype, **options(vae_source))
    except (OSError, ValueError) as error:
        raise CatVTONWeightsError(f"{vae_source.what}: cannot load from {where(vae_source)}: {error}") from error
    try:
        state = _attention_state(attention, settings)
        count = load_attention_weights(unet, state)
    except (OSError, ValueError) as error:
        # AttentionWeightsError is a ValueError; a missing hub file raises an OSError subclass
        kind = "do not fit the UNet" if isinstance(error, AttentionWeightsError) else "cannot be read"
        raise CatVTONWeightsError(f"{attention.what}: {where(attention)} {kind}: {error}") from error
    unet.to(device).eval()
    vae.to(device).eval()
    pipeline = CatVTONPipeline(unet=unet, vae=vae, scheduler=scheduler)
    if settings.compile:
        pipeline.compile_unet()
    if log is not None:
        log.info(
            "catvton pipeline loaded",
            device=str(device),
            dtype=str(dtype),
            attentionParameters=count,
            compile=settings.compile,
            sources={"base": where(base), "attention": where(attention), "vae": where(vae_source)},
        )
    return pipeline
