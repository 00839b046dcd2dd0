"""Exports a SegFormer semantic-segmentation model to ONNX in the Hugging Face hub layout the
segment function loads (transformers.js, offline):

    <out>/<model id>/config.json
    <out>/<model id>/preprocessor_config.json
    <out>/<model id>/onnx/model.onnx             fp32
    <out>/<model id>/onnx/model_quantized.onnx   int8 (onnxruntime quantize_dynamic)

with input `pixel_values` [batch, 3, height, width] and output `logits`
[batch, 18, height/4, width/4], like the hub's Xenova/segformer_b2_clothes export.

Why it exists: no test or dev machine may download weights. `--size tiny` builds the small
random model whose artifacts are committed for the tests (same code path as the real one);
`--size b2` builds the full-size SegFormer-B2 architecture with random weights for the
benchmark (the compute equals the real model's); `--from-pretrained DIR` exports real weights
that an operator already has on disk (e.g. mattmdjaga/segformer_b2_clothes).

Run it through tools/segment-py.sh, which makes the virtualenv on demand.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import torch
from transformers import SegformerConfig, SegformerForSemanticSegmentation

# expected and harmless here: the legacy (TorchScript) exporter is chosen on purpose, the traced
# shape checks hold for every input size, and quantize_dynamic's advice is about static quantization
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
logging.getLogger().setLevel(logging.ERROR)

# the 18 labels of mattmdjaga/segformer_b2_clothes (ATR), in its order
LABELS = [
    "Background", "Hat", "Hair", "Sunglasses", "Upper-clothes", "Skirt", "Pants", "Dress", "Belt",
    "Left-shoe", "Right-shoe", "Face", "Left-leg", "Right-leg", "Left-arm", "Right-arm", "Bag", "Scarf",
]  # fmt: skip

# the hub model's preprocessor_config.json, field for field
PREPROCESSOR = {
    "do_normalize": True,
    "do_reduce_labels": False,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.485, 0.456, 0.406],
    "image_processor_type": "SegformerImageProcessor",
    "image_std": [0.229, 0.224, 0.225],
    "resample": 2,
    "rescale_factor": 0.00392156862745098,
    "size": {"height": 512, "width": 512},
}

SIZES = {
    # mit-b2: what segformer_b2_clothes is built on
    "b2": dict(
        depths=[3, 4, 6, 3],
        hidden_sizes=[64, 128, 320, 512],
        num_attention_heads=[1, 2, 5, 8],
        decoder_hidden_size=768,
    ),
    # a few thousand parameters: every stage and op of the real one, tiny widths
    "tiny": dict(
        depths=[1, 1, 1, 1],
        hidden_sizes=[8, 8, 16, 16],
        num_attention_heads=[1, 1, 2, 2],
        mlp_ratios=[2, 2, 2, 2],
        decoder_hidden_size=8,
    ),
}


class FoldedLogits(torch.nn.Module):
    """The same logits with the decode head's 1x1 fuse convolution folded into each stage's MLP.

    The head projects every stage to 768 channels, upsamples them to 1/4 of the input, concatenates
    them and mixes them with a 1x1 convolution (768 x 3072 per pixel at 128x128 for a 512 input:
    38.6 GMAC, most of SegFormer-B2's compute). Per-pixel linear maps and bilinear upsampling
    commute, and upsampling keeps constants, so the fuse weights can be applied to each stage
    before upsampling, composed with its MLP: the same function, a fraction of the work.
    """

    def __init__(self, model: SegformerForSemanticSegmentation) -> None:
        super().__init__()
        head = model.decode_head
        self.segformer = model.segformer
        fuse = head.linear_fuse.weight[:, :, 0, 0]  # [decoder, stages * decoder]
        assert head.linear_fuse.bias is None
        width = model.config.decoder_hidden_size
        stages = len(head.linear_projections)
        self.projections = torch.nn.ModuleList()
        for stage, mlp in enumerate(head.linear_projections):
            # the head concatenates the stages last first
            block = fuse[:, (stages - 1 - stage) * width : (stages - stage) * width]
            folded = torch.nn.Linear(mlp.proj.in_features, width)
            with torch.no_grad():
                folded.weight.copy_(block @ mlp.proj.weight)
                folded.bias.copy_(block @ mlp.proj.bias)
            self.projections.append(folded)
        self.batch_norm = head.batch_norm
        self.activation = head.activation
        self.classifier = head.classifier

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        states = self.segformer(pixel_values, output_hidden_states=True).hidden_states
        size = states[0].shape[2:]
        total = None
        for state, projection in zip(states, self.projections):
            batch, _, height, width = state.shape
            mixed = projection(state.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(batch, -1, height, width)
            if mixed.shape[2:] != size:
                mixed = torch.nn.functional.interpolate(mixed, size=size, mode="bilinear", align_corners=False)
            total = mixed if total is None else total + mixed
        return self.classifier(self.activation(self.batch_norm(total)))


class LogitsOnly(torch.nn.Module):
    """The exported graph: pixel_values in, logits out (the hub export's names)."""

    def __init__(self, model: SegformerForSemanticSegmentation) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).logits


def build(size: str, seed: int) -> SegformerForSemanticSegmentation:
    """A randomly initialised SegFormer of the given size, the same for the same seed."""
    torch.manual_seed(seed)
    config = SegformerConfig(
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
        **SIZES[size],
    )
    model = SegformerForSemanticSegmentation(config)
    if size == "tiny":
        # random init gives near-constant logits; a wider classifier makes the label map follow
        # the image, so the tests see several classes and real edges
        with torch.no_grad():
            model.decode_head.classifier.weight.normal_(0.0, 2.0)
    return model.eval()


def to_json(value: object, indent: str = "") -> str:
    """JSON as the repo's formatter (Biome) writes it: objects one key a line, short arrays inline."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(k))}: {to_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value:
        flat = "[" + ", ".join(to_json(v, inner) for v in value) + "]"
        if "\n" not in flat and len(inner) + len(flat) <= 120:
            return flat
        return "[\n" + ",\n".join(inner + to_json(v, inner) for v in value) + "\n" + indent + "]"
    if isinstance(value, float):
        # 1e-06 -> 1e-6, 1e+20 -> 1e20
        return re.sub(r"e\+?(-?)0*(\d)", r"e\1\2", json.dumps(value))
    return json.dumps(value)


def write_json(path: Path, value: object) -> None:
    path.write_text(to_json(value) + "\n")


def compact_names(path: Path) -> None:
    """Renames every inner tensor and node to a short id: the exporter's long scope names are most
    of a tiny model's bytes. Inputs and outputs keep their names; the graph is unchanged."""
    import onnx

    model = onnx.load(str(path))
    keep = {v.name for v in model.graph.input} | {v.name for v in model.graph.output}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        if not name or name in keep:
            return name
        return names.setdefault(name, f"t{len(names)}")

    for tensor in model.graph.initializer:
        tensor.name = short(tensor.name)
    for index, node in enumerate(model.graph.node):
        node.name = f"n{index}"
        node.doc_string = ""
        node.input[:] = [short(n) for n in node.input]
        node.output[:] = [short(n) for n in node.output]
    for info in model.graph.value_info:
        info.name = short(info.name)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def export(model: SegformerForSemanticSegmentation, target: Path, quantize: bool, image_size: int, fold: bool) -> dict[str, float]:
    onnx_dir = target / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(target)
    write_json(target / "config.json", json.loads((target / "config.json").read_text()))
    write_json(target / "preprocessor_config.json", dict(PREPROCESSOR, size={"height": image_size, "width": image_size}))

    fp32 = onnx_dir / "model.onnx"
    dummy = torch.zeros(1, 3, image_size, image_size)
    graph: torch.nn.Module = FoldedLogits(model) if fold else LogitsOnly(model)
    check: dict[str, float] = {}
    with torch.no_grad():
        if fold:
            # the folded graph must give the model's own logits
            probe = torch.randn(1, 3, image_size, image_size, generator=torch.Generator().manual_seed(1))
            plain, folded = LogitsOnly(model)(probe), graph(probe)
            check = {
                "foldMaxAbsDiff": float((plain - folded).abs().max()),
                "foldArgmaxAgreement": float((plain.argmax(1) == folded.argmax(1)).float().mean()),
            }
            if not torch.allclose(plain, folded, rtol=1e-3, atol=1e-3 * float(plain.abs().max())):
                raise SystemExit(f"the folded decode head does not reproduce the logits: {check}")
        torch.onnx.export(
            graph,
            (dummy,),
            str(fp32),
            input_names=["pixel_values"],
            output_names=["logits"],
            dynamic_axes={
                "pixel_values": {0: "batch_size", 2: "height", 3: "width"},
                "logits": {0: "batch_size", 2: "height_4", 3: "width_4"},
            },
            opset_version=17,
            dynamo=False,
        )
    compact_names(fp32)
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # 8-bit weights per output channel, activations quantized at run time; only the matrix
        # products: ONNX Runtime's int8 convolutions (ConvInteger) are slower than its fp32 ones here
        quantize_dynamic(
            str(fp32),
            str(onnx_dir / "model_quantized.onnx"),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            extra_options={"MatMulConstBOnly": True},
        )
        compact_names(onnx_dir / "model_quantized.onnx")
    return check


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="the local model folder (transformers.js localModelPath)")
    parser.add_argument("--model-id", required=True, help="subfolder, e.g. Xenova/segformer_b2_clothes")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--from-pretrained", type=Path, help="a local folder with real weights (config.json + weights)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=512, help="the preprocessor's square input size")
    parser.add_argument("--no-quantize", action="store_true")
    parser.add_argument(
        "--fold-decode-head",
        action="store_true",
        help="fold the decode head's 1x1 fuse convolution into the stage MLPs (same logits, far less compute)",
    )
    args = parser.parse_args(argv)

    if args.from_pretrained:
        model = SegformerForSemanticSegmentation.from_pretrained(args.from_pretrained, local_files_only=True).eval()
    else:
        model = build(args.size, args.seed)
    target = args.out / args.model_id
    # written aside and moved in whole: a reader never sees half a model
    with tempfile.TemporaryDirectory(dir=args.out.parent if args.out.exists() else None) as scratch:
        staged = Path(scratch) / "model"
        check = export(model, staged, not args.no_quantize, args.image_size, args.fold_decode_head)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staged), str(target))
    params = sum(p.numel() for p in model.parameters())
    files = {p.relative_to(target).as_posix(): p.stat().st_size for p in sorted(target.rglob("*")) if p.is_file()}
    print(json.dumps({"modelId": args.model_id, "dir": str(target), "parameters": params, "files": files, **check}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
