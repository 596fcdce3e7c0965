"""timm itself, as the tests' reference for its layout: run with the interpreter of a timm
environment ($KERAS_RESNET_TIMM_PYTHON; scripts/setup-references.sh makes `.venv-timm`: timm needs a torch that
cannot share .venv), never imported by the tests. Commands:

  make-repo ARCH TAG DIR [CLASSES [SEED]]   timm.create_model(ARCH) with random weights and BatchNorm
                                            (statistics and affine, seeded), saved by timm's own Hub
                                            writer with the pretrained_cfg of ARCH.TAG
  logits DIR IMAGES.npy OUT.npy             the logits of the model in DIR (loaded by timm as a Hub folder,
                                            `local-dir:`) for float NCHW images
  transform DIR IMAGE OUT.npy               timm's eval transform for DIR's config applied to an image file
                                            (PIL), CHW float32; answers the data config it resolved
  is-model NAME...                          whether timm registers each NAME as an architecture
  serve                                     one command a line on stdin, {"command": ..., "args": [...]},
                                            each answered on a line of stdout: torch and timm import once
                                            for a test module, which gives timm's folders to the model under
                                            test and the other way round

Each command prints its answer as one JSON line ({"error": ...} where it failed, when serving). Nothing
here needs the network (a Hub folder is read from disk); the tests run it with HF_HUB_OFFLINE=1 all the
same."""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from pathlib import Path

import numpy as np
import timm
import torch
from timm.models._hub import save_for_hf


def make_repo(arch: str, tag: str, directory: str, classes: int | str = 1000, seed: int | str = 0) -> dict:
    torch.manual_seed(int(seed))
    model = timm.create_model(f"{arch}.{tag}", pretrained=False, num_classes=int(classes))
    generator = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(0.5 + torch.rand(n, generator=generator))
                module.bias.copy_(0.2 * torch.randn(n, generator=generator))
                module.running_mean.copy_(0.2 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=generator))
    save_for_hf(model, directory, safe_serialization=True)
    return {"directory": directory, "keys": len(model.state_dict())}


def _load(directory: str) -> torch.nn.Module:
    return timm.create_model(f"local-dir:{Path(directory).absolute()}", pretrained=True).eval()


def logits(directory: str, images: str, out: str) -> dict:
    model = _load(directory)
    with torch.no_grad():
        result = model(torch.from_numpy(np.load(images).astype(np.float32))).numpy()
    np.save(out, result)
    return {"architecture": model.pretrained_cfg.get("architecture"), "shape": list(result.shape)}


def transform(directory: str, image: str, out: str) -> dict:
    from PIL import Image

    config = timm.data.resolve_data_config({}, model=_load(directory))
    with Image.open(image) as picture:
        tensor = timm.data.create_transform(**config)(picture.convert("RGB"))
    np.save(out, tensor.numpy())
    return {key: list(value) if isinstance(value, tuple) else value for key, value in config.items()}


def is_model(*names: str) -> dict:
    return {name: timm.is_model(name) for name in names}


COMMANDS = {"make-repo": make_repo, "logits": logits, "transform": transform, "is-model": is_model}


def run(command: str, args: list) -> dict:
    if command not in COMMANDS:
        raise SystemExit(f"unknown command {command!r}; one of {', '.join(COMMANDS)} or serve")
    return COMMANDS[command](*args)


def serve() -> None:
    answers = sys.stdout
    for line in sys.stdin:
        job = json.loads(line)
        try:
            with contextlib.redirect_stdout(sys.stderr):  # what a library prints stays off the answers
                answer = run(job["command"], job["args"])
        except Exception:  # answered, so the test shows timm's own error
            answer = {"error": traceback.format_exc()}
        print(json.dumps(answer), file=answers, flush=True)


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(__doc__)
    if argv == ["serve"]:
        serve()
    else:
        print(json.dumps(run(argv[0], argv[1:])))


if __name__ == "__main__":
    main(sys.argv[1:])
