"""The README's fine-tuning snippet, run as written on real CIFAR-10 images: the documented
path must train (the loss falls and stays finite), not diverge silently."""

import re

import numpy as np
from conftest import REPO

README = REPO / "README.md"


def python_blocks(text: str, containing: str) -> list[str]:
    """The README's ```python blocks that contain `containing`."""
    return [block for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL) if containing in block]


def test_finetuning_snippet_runs_as_written(cifar_test):
    """The README defines nothing but the model: `images` (raw RGB 0-255) and `labels` are the
    reader's, here 320 real CIFAR-10 test images and their labels."""
    images, labels = cifar_test
    blocks = python_blocks(README.read_text(encoding="utf-8"), "freeze_batchnorm(")
    assert len(blocks) == 1, f"README.md must hold one ```python block with freeze_batchnorm(; found {len(blocks)}"
    (snippet,) = blocks
    namespace = {"images": images[:320], "labels": labels[:320].astype("int64")}
    exec(compile(snippet, str(README), "exec"), namespace)
    losses = namespace["history"].history["loss"]
    assert len(losses) >= 2 and np.isfinite(losses).all(), losses
    assert losses[-1] < 0.8 * losses[0], losses
