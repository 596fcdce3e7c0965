"""By hand: every timm architecture built here against timm itself, each net whole (CI checks one
of each stem and shortcut kind through `hf://`, tests/pretrained/test_hub.py::test_outputs_equal_timms).

For each id, timm's environment makes `timm.create_model(id, pretrained=False)` with its BN
statistics and affine parameters randomised (a residual branch's last BN scaled down, as in trained
nets, so that 200-layer logits stay O(1-10)), and saves its `model.safetensors` and its logits for
one random 1x3x64x64 input; this interpreter loads the file with `kr.build_by_id(id, weights=...)`
and prints the largest logit difference, the logits' scale and their ratio (OK: <= 1e-4).

    .venv/bin/python scripts/timm_parity.py [ID ...]    # default: timm_configs.supported_architectures()

timm's interpreter: $KERAS_RESNET_TIMM_PYTHON, else .venv-timm (scripts/setup-references.sh).
All 33 take about 5 minutes on 2 cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZE = 64


def timm_side(model_id: str, work: Path) -> None:
    import numpy as np
    import timm
    import torch
    from safetensors.torch import save_file
    from timm.models.resnet import BasicBlock, Bottleneck

    torch.manual_seed(0)
    model = timm.create_model(model_id, pretrained=False).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
        for m in model.modules():
            last = m.bn3 if isinstance(m, Bottleneck) else m.bn2 if isinstance(m, BasicBlock) else None
            if last is not None:
                last.weight.uniform_(0.1, 0.4)
        x = np.random.default_rng(0).normal(size=(1, 3, SIZE, SIZE)).astype("float32")
        logits = model(torch.from_numpy(x)).numpy()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(work / "model.safetensors"))
    np.savez(work / "timm.npz", x=x, logits=logits)


def our_side(model_id: str, work: Path) -> str:
    import numpy as np

    import keras_resnet as kr

    ref = np.load(work / "timm.npz")
    model = kr.build_by_id(model_id, weights=str(work / "model.safetensors"), input_shape=(SIZE, SIZE, 3),
                           classifier_activation=None)
    ours = model.predict(ref["x"].transpose(0, 2, 3, 1), verbose=0)
    diff, scale = float(np.abs(ours - ref["logits"]).max()), float(np.abs(ref["logits"]).max())
    return f"{model_id}\t{diff:.3g}\t{scale:.3g}\t{diff / scale:.2g}\t{'OK' if diff <= 1e-4 * scale else 'FAIL'}"


def main(ids: list[str]) -> int:
    from keras_resnet.pretrained.timm_configs import supported_architectures

    timm_python = os.environ.get("KERAS_RESNET_TIMM_PYTHON") or str(REPO / ".venv-timm" / "bin" / "python")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    print("id\tmax|diff|\tmax|logit|\trelative\tOK: <= 1e-4")
    failed = 0
    for model_id in ids or supported_architectures():
        with tempfile.TemporaryDirectory() as work:
            subprocess.run([timm_python, __file__, "timm", model_id, work], check=True, env=env)
            line = subprocess.run([sys.executable, __file__, "ours", model_id, work], check=True, env=env,
                                  capture_output=True, text=True).stdout.strip().splitlines()[-1]
        print(line, flush=True)
        failed += line.endswith("FAIL")
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["timm"]:
        timm_side(sys.argv[2], Path(sys.argv[3]))
    elif sys.argv[1:2] == ["ours"]:
        print(our_side(sys.argv[2], Path(sys.argv[3])))
    else:
        sys.exit(main(sys.argv[1:]))
