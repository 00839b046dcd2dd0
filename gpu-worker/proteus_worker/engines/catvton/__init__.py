"""
The `catvton` engine: our own CatVTON pipeline on diffusers components (docs/CATVTON.md).
The runtime needs `CatVTONEngine.load(load_catvton_settings())` and, for `auto`, `catvton_available`.
"""

from proteus_worker.engines.catvton.engine import CatVTONEngine
from proteus_worker.engines.catvton.loading import (
    CatVTONWeightsError,
    catvton_available,
    load_pipeline,
    unavailable_reason,
)
from proteus_worker.engines.catvton.pipeline import CatVTONPipeline
from proteus_worker.engines.catvton.settings import CatVTONSettings, CatVTONSettingsError, load_catvton_settings

__all__ = [
    "CatVTONEngine",
    "CatVTONPipeline",
    "CatVTONSettings",
    "CatVTONSettingsError",
    "CatVTONWeightsError",
    "catvton_available",
    "load_catvton_settings",
    "load_pipeline",
    "unavailable_reason",
]
