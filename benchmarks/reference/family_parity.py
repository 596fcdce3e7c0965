"""keras_resnet's family nets against their reference implementations: torchvision's ResNeXt and
Wide ResNet, timm's ResNet-D. Each reference net gets random weights and random BatchNorm
statistics (so no BN is the identity); keras_resnet loads its state dict, from `.pth` and from
`.safetensors`, and must give the same logits on the same input.

`export` needs torch, torchvision, timm and safetensors (no Keras); `compare` needs keras_resnet
(and torch, for the `.pth` files):

    python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1 timm safetensors numpy
    /tmp/tv/bin/python benchmarks/reference/family_parity.py export --out /tmp/parity
    .venv/bin/python benchmarks/reference/family_parity.py compare --dir /tmp/parity

Result (torch 2.14.1, torchvision 0.29.1, timm 1.0.31; Keras 3.15.1 on TensorFlow 2.21):
benchmarks/results/reference/family_parity.txt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

MODELS = ("resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
          "resnet50d")
SIZES = {"resnext50_32x4d": (64, 224)}  # input sizes; 64 for the others
FILE_TYPES = (".pth", ".safetensors")
TOLERANCE = 1e-4  # max |diff| / max |logits|


def reference(model_id: str) -> torch.nn.Module:
    """The reference net with random weights and random BatchNorm parameters and statistics, in eval mode."""
    import timm
    import torch
    import torchvision

    torch.manual_seed(0)
    if model_id == "resnet50d":
        model = timm.create_model("resnet50d", pretrained=False)
    else:
        model = getattr(torchvision.models, model_id)(weights=None)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def export(out: Path) -> None:
    import safetensors.torch
    import timm
    import torch
    import torchvision

    out.mkdir(parents=True, exist_ok=True)
    versions = {"torch": torch.__version__, "torchvision": torchvision.__version__, "timm": timm.__version__}
    for model_id in MODELS:
        model = reference(model_id)
        arrays = {f"version_{name}": np.array(version) for name, version in versions.items()}
        for size in SIZES.get(model_id, (64,)):
            x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(size))
            with torch.no_grad():
                arrays[f"logits_{size}"] = model(x).numpy()
            arrays[f"x_{size}"] = x.numpy()
        state = {key: value.contiguous() for key, value in model.state_dict().items()}
        torch.save(state, out / f"{model_id}.pth")
        safetensors.torch.save_file(state, str(out / f"{model_id}.safetensors"))
        np.savez(out / f"{model_id}.npz", **arrays)
        print(f"{model_id}: {', '.join(f'{k} {v.shape}' for k, v in arrays.items() if k.startswith('logits'))}")


def compare(directory: Path) -> bool:
    """Print one line per (model, input size, file type); whether all passed."""
    import keras
    import tensorflow as tf

    import keras_resnet

    meta = np.load(directory / f"{MODELS[0]}.npz")
    reference_versions = ", ".join(f"{name} {meta[f'version_{name}']}" for name in ("torch", "torchvision", "timm"))
    print(f"reference: {reference_versions}; keras {keras.__version__} ({keras.backend.backend()}), "
          f"tensorflow {tf.__version__}")
    print(f"{'model':<18} {'input':>5} {'file':<12} {'max |diff|':>10} {'relative':>9} {'top-1':>5}  result")
    passed = True
    for model_id in MODELS:
        data = np.load(directory / f"{model_id}.npz")
        for size in sorted(int(key.removeprefix("x_")) for key in data.files if key.startswith("x_")):
            x, expected = data[f"x_{size}"].transpose(0, 2, 3, 1), data[f"logits_{size}"]
            for suffix in FILE_TYPES:
                row = f"{model_id:<18} {size:>5} {suffix:<12}"
                try:
                    model = keras_resnet.build_by_id(model_id, weights=str(directory / f"{model_id}{suffix}"),
                                                     input_shape=(size, size, 3), classifier_activation=None)
                except ValueError as e:
                    print(f"{row} FAIL ({e})")
                    passed = False
                    continue
                logits = keras.ops.convert_to_numpy(model(x, training=False))
                diff = float(np.abs(logits - expected).max())
                relative = diff / float(np.abs(expected).max())
                top1 = int((logits.argmax(axis=1) == expected.argmax(axis=1)).sum())
                ok = relative <= TOLERANCE and top1 == len(x)
                passed &= ok
                print(f"{row} {diff:>10.3e} {relative:>9.2e} {top1:>3}/{len(x)}  {'PASS' if ok else 'FAIL'}")
                keras.backend.clear_session()
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("export", help="reference nets' weights and logits (torch)").add_argument(
        "--out", type=Path, required=True)
    commands.add_parser("compare", help="keras_resnet's logits from those weights").add_argument(
        "--dir", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "export":
        export(args.out)
    elif not compare(args.dir):
        sys.exit(1)


if __name__ == "__main__":
    main()
