"""
The catvton engine's own configuration (WORKER_CATVTON_* variables): where its three weight
sets come from, how it samples and how big it renders. Kept apart from the runtime's
WorkerSettings so the engine can be built, tested and benchmarked without Redis or storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from proteus_worker.settings import GivenValuesOnly

ENV_PREFIX = "WORKER_CATVTON_"

# The pixel size must make a whole number of latent cells at the UNet's deepest level:
# VAE factor 8 times three UNet downsamplings.
SIZE_MULTIPLE = 64


class CatVTONSettingsError(ValueError):
    """The environment does not configure the engine; the message names each bad variable."""


class CatVTONSettings(BaseSettings):
    """Each field reads WORKER_CATVTON_<FIELD> (upper case)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore", frozen=True)

    base: str = Field(default="booksforcharlie/stable-diffusion-inpainting", min_length=1)
    """SD 1.5 inpainting (9-channel UNet in `unet/`, scheduler in `scheduler/`): hub id or local folder"""
    attention: str = Field(default="zhengchong/CatVTON", min_length=1)
    """CatVTON's self-attention weights: hub id or local folder (a snapshot of that repository)"""
    attention_subfolder: str = "mix-48k-1024/attention"
    vae: str = Field(default="stabilityai/sd-vae-ft-mse", min_length=1)
    """AutoencoderKL: hub id or local folder"""
    allow_download: bool = True
    """hub ids may be fetched into the Hugging Face cache; false: only what is cached already"""
    cache_dir: str | None = None
    """Hugging Face cache folder (default: huggingface_hub's, i.e. HF_HUB_CACHE)"""
    device: Literal["auto", "cuda", "cpu"] = "auto"
    compile: bool = False
    """torch.compile the UNet (the first batch of each new shape pays for compiling)"""
    steps: int = Field(default=50, ge=1, le=1000)
    guidance_scale: float = Field(default=2.5, ge=0, le=20, allow_inf_nan=False)
    """classifier-free guidance against a zeroed garment; at most 1 turns it off (half the UNet work)"""
    eta: float = Field(default=1.0, ge=0, le=1, allow_inf_nan=False)
    """DDIM stochasticity (1.0 as the CatVTON authors sample; 0 is deterministic DDIM)"""
    long_side: int = Field(default=1024, ge=SIZE_MULTIPLE, le=4096)
    degraded_long_side: int = Field(default=512, ge=SIZE_MULTIPLE, le=4096)

    @field_validator("long_side", "degraded_long_side")
    @classmethod
    def _multiple(cls, value: int) -> int:
        if value % SIZE_MULTIPLE:
            raise ValueError(f"not a multiple of {SIZE_MULTIPLE}")
        return value


class _GivenEnv(GivenValuesOnly, CatVTONSettings):
    """CatVTONSettings from the values passed in only, not mixed with os.environ."""


_EXPECTS = {
    "allow_download": "true or false",
    "compile": "true or false",
    "device": "one of auto, cuda, cpu",
    "steps": "an integer from 1 to 1000",
    "guidance_scale": "a number from 0 to 20",
    "eta": "a number from 0 to 1",
    "long_side": f"a multiple of {SIZE_MULTIPLE} from {SIZE_MULTIPLE} to 4096",
    "degraded_long_side": f"a multiple of {SIZE_MULTIPLE} from {SIZE_MULTIPLE} to 4096",
}


def load_catvton_settings(env: Mapping[str, str] | None = None) -> CatVTONSettings:
    """Settings from `env` (default: the process environment), or CatVTONSettingsError naming each bad variable."""
    try:
        if env is None:
            return CatVTONSettings()
        values: dict[str, Any] = {
            name: env[f"{ENV_PREFIX}{name.upper()}"]
            for name in CatVTONSettings.model_fields
            if env.get(f"{ENV_PREFIX}{name.upper()}")
        }
        return _GivenEnv(**values)
    except ValidationError as error:
        lines = []
        for field in dict.fromkeys(str(e["loc"][0]) for e in error.errors() if e["loc"]):
            variable = f"{ENV_PREFIX}{field.upper()}"
            lines.append(f"{variable}: {_EXPECTS.get(field, 'a non-empty string')}")
        raise CatVTONSettingsError("\n".join(lines)) from None
