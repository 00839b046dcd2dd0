"""Loading the catvton weights from local folders (written here with save_pretrained), CatVTON's
attention file layout, the engine's settings and the `auto` availability check. Nothing is downloaded:
every hub id below runs with downloads off against an empty cache."""

from __future__ import annotations


from pathlib import Path

import pytest
import torch
from diffusers import UNet2DConditionModel
from huggingface_hub import constants as hub_constants
from safetensors.torch import save_file

from proteus_worker.engines.catvton import loading
from proteus_worker.engines.catvton.attention import (
    AttentionWeightsError,
    catvton_attention_state_dict,
    load_attention_weights,
    self_attentions,
    skips_cross_attention,
)
from proteus_worker.engines.catvton.configs import tiny_components
from proteus_worker.engines.catvton.loading import (
    CatVTONWeightsError,
    catvton_available,
    load_pipeline,
    unavailable_reason,
    weights_unavailable_reason,
)
from proteus_worker.engines.catvton.pipeline import CatVTONPipeline
from proteus_worker.engines.catvton.settings import CatVTONSettings, CatVTONSettingsError, load_catvton_settings
from tests.torch_threads import one_torch_thread  # noqa: F401  (an autouse fixture: one thread here)

SUBFOLDER = "mix-48k-1024/attention"


def write_weights(root: Path) -> dict[str, Path]:
    """Local folders laid out as the three hub repositories: base (seed 0), CatVTON attention from
    another UNet (seed 5), VAE (seed 0)."""
    base = tiny_components(seed=0)
    trained = tiny_components(seed=5)
    base.unet.save_pretrained(root / "base" / "unet")
    base.scheduler.save_pretrained(root / "base" / "scheduler")
    base.vae.save_pretrained(root / "vae")
    (root / "catvton" / SUBFOLDER).mkdir(parents=True)
    save_file(catvton_attention_state_dict(trained.unet), str(root / "catvton" / SUBFOLDER / "model.safetensors"))
    return {"base": root / "base", "vae": root / "vae", "attention": root / "catvton"}


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_weights(tmp_path_factory.mktemp("weights"))


def local_settings(weights: dict[str, Path], **changes: object) -> CatVTONSettings:
    values: dict[str, object] = {
        "base": str(weights["base"]),
        "attention": str(weights["attention"]),
        "vae": str(weights["vae"]),
        "allow_download": False,
        "device": "cpu",
    }
    values.update(changes)
    return CatVTONSettings.model_validate(values)


def test_a_pipeline_loads_from_local_folders_with_catvton_attention_on_top(weights: dict[str, Path]) -> None:
    pipeline = load_pipeline(local_settings(weights))
    base = tiny_components(seed=0).unet
    trained = tiny_components(seed=5).unet
    loaded = dict(pipeline.unet.named_parameters())
    for name, parameter in trained.named_parameters():
        if ".attn1." in name:
            assert torch.equal(loaded[name], parameter), name
    for name, parameter in base.named_parameters():
        if ".attn1." not in name:
            assert torch.equal(loaded[name], parameter), name
    assert skips_cross_attention(pipeline.unet)
    assert pipeline.unet.dtype == torch.float32 and pipeline.device.type == "cpu"

    # and it renders exactly as the same components built in memory
    parts = tiny_components(seed=0)
    load_attention_weights(parts.unet, catvton_attention_state_dict(trained))
    in_memory = CatVTONPipeline(parts.unet, parts.vae, parts.scheduler)
    person = torch.rand(1, 3, 32, 24, generator=torch.Generator().manual_seed(0)) * 2 - 1
    mask = torch.ones(1, 1, 32, 24)
    args = {"person": person, "garment": person.flip(-1), "mask": mask, "steps": 2}
    a = pipeline(generators=[torch.Generator().manual_seed(1)], **args)  # type: ignore[arg-type]
    b = in_memory(generators=[torch.Generator().manual_seed(1)], **args)  # type: ignore[arg-type]
    assert torch.equal(a, b)


def test_the_attention_folder_itself_may_be_given(weights: dict[str, Path]) -> None:
    pipeline = load_pipeline(local_settings(weights, attention=str(weights["attention"] / SUBFOLDER)))
    assert skips_cross_attention(pipeline.unet)


@pytest.mark.parametrize("which", ["base", "attention", "vae"])
def test_a_missing_local_folder_is_named(weights: dict[str, Path], tmp_path: Path, which: str) -> None:
    missing = tmp_path / "nowhere" / which
    settings = local_settings(weights, **{which: str(missing)})
    with pytest.raises(CatVTONWeightsError) as error:
        load_pipeline(settings)
    assert f"local folder {missing} does not exist" in str(error.value)
    assert f"WORKER_CATVTON_{which.upper()}" in str(error.value)
    assert weights_unavailable_reason(settings) == str(error.value)


def test_a_folder_without_a_unet_is_named(weights: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(CatVTONWeightsError, match=f"cannot load the UNet from {tmp_path}"):
        load_pipeline(local_settings(weights, base=str(tmp_path)))
    assert f"unet/config.json not in {tmp_path}" in str(weights_unavailable_reason(local_settings(weights, base=str(tmp_path))))


# diffusers passes huggingface_hub an argument it has deprecated; not ours to fix
@pytest.mark.filterwarnings("ignore:The `local_dir_use_symlinks` argument is deprecated:UserWarning")
def test_a_hub_id_is_not_downloaded_when_downloads_are_off(
    weights: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = local_settings(weights, vae="stabilityai/sd-vae-ft-mse", cache_dir=str(tmp_path))
    with pytest.raises(CatVTONWeightsError, match="cannot load from stabilityai/sd-vae-ft-mse"):
        load_pipeline(settings)
    assert weights_unavailable_reason(settings) == (
        f"VAE (WORKER_CATVTON_VAE): config.json not in the hub cache for stabilityai/sd-vae-ft-mse"
    )
    attention = local_settings(weights, attention="zhengchong/CatVTON", cache_dir=str(tmp_path))
    with pytest.raises(CatVTONWeightsError, match="zhengchong/CatVTON cannot be read"):
        load_pipeline(attention)
    # allowed downloads count as available without asking the network, unless the hub is told to stay offline
    allowed = local_settings(weights, vae="stabilityai/sd-vae-ft-mse", allow_download=True, cache_dir=str(tmp_path))
    assert weights_unavailable_reason(allowed) is None
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    assert "not in the hub cache for stabilityai/sd-vae-ft-mse" in str(weights_unavailable_reason(allowed))


def test_auto_needs_cuda_and_the_weights(weights: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not catvton_available(local_settings(weights))
    assert unavailable_reason(local_settings(weights)) == "no CUDA device"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert catvton_available(local_settings(weights))
    assert not catvton_available(local_settings(weights, vae="/nonexistent/vae"))


def test_a_cuda_device_that_is_not_there_is_refused(weights: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(CatVTONWeightsError, match="WORKER_CATVTON_DEVICE is cuda but no CUDA device"):
        load_pipeline(local_settings(weights, device="cuda"))


def unet() -> UNet2DConditionModel:
    return tiny_components(seed=0).unet


def test_attention_weights_load_under_any_of_their_places_and_by_full_name() -> None:
    source = tiny_components(seed=3).unet
    canonical = catvton_attention_state_dict(source)
    # CatVTON's list holds to_q again at place +1 and to_out.0 at +4 and +5: '0.to_q.weight' is '1.weight'
    aliased = {}
    for key, tensor in canonical.items():
        place, name = key.split(".", 1)
        aliases = {"to_q.weight": "1.weight", "to_out.0.weight": "5.weight", "to_out.0.bias": "4.0.bias"}
        if name in aliases:
            offset, rest = aliases[name].split(".", 1)
            aliased[f"{int(place) + int(offset)}.{rest}"] = tensor
        else:
            aliased[key] = tensor
    target = unet()
    assert load_attention_weights(target, aliased) == len(canonical)
    for (_, mine), (_, theirs) in zip(self_attentions(target), self_attentions(source), strict=True):
        for (name, a), (_, b) in zip(mine.named_parameters(), theirs.named_parameters(), strict=True):
            assert torch.equal(a, b), name
    full = {f"{n}.{p}": t for n, m in self_attentions(source) for p, t in m.named_parameters()}
    assert load_attention_weights(unet(), full) == len(canonical)


def test_self_attentions_are_numbered_down_up_mid() -> None:
    names = [name.split(".")[0] for name, _ in self_attentions(unet())]
    assert names == sorted(names, key=("down_blocks", "up_blocks", "mid_block").index)
    assert names[-1] == "mid_block"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("0.to_k.weight"), "lack down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_k.weight"),
        (lambda s: s.update({"0.to_k.weight": torch.zeros(3, 3)}), "shape (3, 3) does not fit"),
        (lambda s: s.update({"999.to_q.weight": torch.zeros(1)}), "place 999 is beyond this UNet's 6 self-attentions"),
        (lambda s: s.update({"0.nope.weight": torch.zeros(1)}), "has no parameter 'nope.weight'"),
        (lambda s: s.update({"conv_in.weight": torch.zeros(1)}), "'conv_in.weight' names no self-attention"),
    ],
)
def test_attention_weights_that_do_not_fit_are_refused_and_change_nothing(edit: object, message: str) -> None:
    state = catvton_attention_state_dict(tiny_components(seed=3).unet)
    edit(state)  # type: ignore[operator]
    target = unet()
    before = {n: p.clone() for n, p in target.named_parameters()}
    with pytest.raises(AttentionWeightsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_attention_weights(target, state)
    assert all(torch.equal(before[n], p) for n, p in target.named_parameters())


def test_a_bad_attention_file_is_named(weights: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "attention"
    folder.mkdir()
    save_file({"0.to_q.weight": torch.zeros(2, 2)}, str(folder / "model.safetensors"))
    with pytest.raises(CatVTONWeightsError, match=f"{folder} do not fit the UNet"):
        load_pipeline(local_settings(weights, attention=str(folder)))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CatVTONWeightsError, match=f"no model.safetensors in {empty}"):
        load_pipeline(local_settings(weights, attention=str(empty)))


def test_settings_come_from_the_environment_and_bad_ones_are_named() -> None:
    settings = load_catvton_settings(
        {"WORKER_CATVTON_STEPS": "25", "WORKER_CATVTON_COMPILE": "true", "WORKER_CATVTON_BASE": "/models/sd"}
    )
    assert (settings.steps, settings.compile, settings.base) == (25, True, "/models/sd")
    assert settings.guidance_scale == 2.5 and settings.long_side == 1024 and settings.degraded_long_side == 512
    with pytest.raises(CatVTONSettingsError) as error:
        load_catvton_settings({"WORKER_CATVTON_LONG_SIDE": "1000", "WORKER_CATVTON_ETA": "2"})
    assert str(error.value).splitlines() == [
        "WORKER_CATVTON_ETA: a number from 0 to 1",
        "WORKER_CATVTON_LONG_SIDE: a multiple of 64 from 64 to 4096",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [("owner/name/extra/more", "does not exist"), ("bad id!", "neither a local folder nor a hub id")],
)
def test_a_source_that_is_neither_folder_nor_hub_id_is_named(value: str, message: str) -> None:
    with pytest.raises(CatVTONWeightsError, match=message):
        loading.resolve("VAE (WORKER_CATVTON_VAE)", value)


def test_env_example_lists_every_catvton_variable() -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    listed = {line.split("=", 1)[0] for line in example.read_text().splitlines() if "=" in line and not line.startswith("#")}
    names = {f"WORKER_CATVTON_{name.upper()}" for name in CatVTONSettings.model_fields}
    assert sorted(names - listed) == []
