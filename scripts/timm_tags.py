"""Regenerate the `tags` of weights/timm_tags.json from timm itself and timm's published results;
its `source` and `refused` are kept as written. A tag is listed when its architecture is one of
timm's resnet.py nets that the table does not refuse (tests/pretrained/test_timm_tags.py checks that
each is a model id of ours and that every value still equals timm's).

Run with a Python that has timm 1.0.29, from the repository root:

    url=https://raw.githubusercontent.com/huggingface/pytorch-image-models/0173a139a2c66db3a41ebfe1d8ac4fb02483642e
    curl -sSLo /tmp/results-imagenet.csv $url/results/results-imagenet.csv
    PYTHONPATH=. /tmp/timmvenv/bin/python scripts/timm_tags.py /tmp/results-imagenet.csv
"""

from __future__ import annotations

import csv
import json
import sys

import timm
from timm.models import get_pretrained_cfg

from keras_resnet.core.atomic import write_text
from keras_resnet.pretrained.download import weights_dir
from keras_resnet.pretrained.timm_tags import refusal


def entry(name: str, results: dict[str, dict]) -> dict:
    """One tag: its handle, our model id, timm's eval transform and licence, its published top-1."""
    cfg = get_pretrained_cfg(name).to_dict()
    _, height, width = cfg["input_size"]
    assert height == width, (name, cfg["input_size"])
    row = results.get(name)
    return {
        "handle": f"hf://{cfg['hf_hub_id']}", "model": cfg["architecture"], "classes": cfg["num_classes"],
        "input_size": height, "crop_pct": cfg["crop_pct"], "interpolation": cfg["interpolation"],
        "mean": list(cfg["mean"]), "std": list(cfg["std"]), "license": cfg.get("license"),
        "top1": None if row is None else float(row["top1"]),
        "top1_img_size": None if row is None else int(row["img_size"]),
        "top1_crop_pct": None if row is None else float(row["crop_pct"]),
    }


def main(results_csv: str) -> None:
    assert timm.__version__ == "1.0.29", timm.__version__
    with open(results_csv, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    results = {row["model"]: row for row in rows}
    assert len(results) == len(rows), "a model with two rows"
    ours = {arch for arch in timm.list_models(module="resnet") if refusal(arch) is None}
    tags = [entry(name, results) for name in timm.list_pretrained() if name.split(".")[0] in ours]
    path = weights_dir() / "timm_tags.json"
    with open(path, encoding="utf-8") as f:
        table = json.load(f)
    text = json.dumps({**table, "tags": []}, indent=2)  # one line per tag: a readable, diffable table
    listed = "[\n" + ",\n".join(f"    {json.dumps(tag)}" for tag in tags) + "\n  ]"
    write_text(path, text.replace('"tags": []', f'"tags": {listed}', 1) + "\n")
    print(f"{path}: {len(tags)} tags, {sum(t['top1'] is not None for t in tags)} with a published top-1")


if __name__ == "__main__":
    main(*sys.argv[1:])
