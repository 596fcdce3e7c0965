"""weights/timm_tags.json, the timm Hub checkpoints listed beside the registry, against timm itself:
its pretrained_cfg values, its resnet.py architectures (each listed or refused, none missing) and
the published top-1 beside them. timm runs in its own Python, `$KERAS_RESNET_TIMM_PYTHON` (timm
1.0.29, the version the table was made from); where it is unset the timm tests skip, except in CI or
scripts/test.sh, where they fail."""

import json
import subprocess
from fnmatch import fnmatchcase

import pytest

from keras_resnet.core.architectures import parse_model_id
from keras_resnet.pretrained.download import weights_dir
from keras_resnet.pretrained.timm_tags import hub_tags, refusal

# The model ids issue 28 adds to keras_resnet/core/architectures.py in a parallel change: not
# parseable in this tree yet. Remove once they are.

# timm's own answers, printed as JSON: its version, every architecture, those of resnet.py, and the
# pretrained_cfg of every resnet.py tag
PROBE = """
import json, timm
from timm.models import get_pretrained_cfg
resnet_py = timm.list_models(module="resnet")
cfgs = {name: get_pretrained_cfg(name).to_dict() for name in timm.list_pretrained() if name.split(".")[0] in resnet_py}
print(json.dumps({"version": timm.__version__, "architectures": timm.list_models(), "resnet_py": resnet_py,
                  "cfgs": cfgs}))
"""


def is_our_id(model: str) -> bool:
    try:
        parse_model_id(model)
    except ValueError:
        return False
    return True


def name(tag) -> str:
    """timm's name of a tag, "<arch>.<tag>"."""
    return tag.handle.removeprefix("hf://timm/")


@pytest.fixture(scope="module")
def timm_facts(timm_python) -> dict:
    python = timm_python
    done = subprocess.run([python, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts["version"] == "1.0.29", f"the table was made from timm 1.0.29; {python} has {facts['version']}"
    return facts


def test_every_model_is_one_of_our_ids():
    models = {tag.model for tag in hub_tags()}
    assert models and all(is_our_id(model) for model in models), sorted(m for m in models if not is_our_id(m))
    for model in models:
        assert {tag.model for tag in hub_tags(model)} == {model}


def test_hub_tags_of_a_model_and_refusals():
    assert hub_tags("cifar_resnet20") == ()  # one of our ids, no timm checkpoint
    with pytest.raises(ValueError, match="model='resnet50_gn'"):
        hub_tags("resnet50_gn")
    assert refusal("resnet50") is None
    assert "GroupNorm" in refusal("resnet50_gn")
    assert "ECA" in refusal("ecaresnet50d_pruned") and "pruned" in refusal("ecaresnet50d_pruned")


def test_published_top1_names_where_it_was_measured():
    for tag in hub_tags():
        measured = (tag.top1, tag.top1_img_size, tag.top1_crop_pct)
        if tag.top1 is None:
            assert measured == (None, None, None), tag
        else:
            assert 50 < tag.top1 < 100 and isinstance(tag.top1_img_size, int) and 0 < tag.top1_crop_pct <= 1, tag
    assert sum(tag.top1 is not None for tag in hub_tags()) > 0.9 * len(hub_tags())


def test_values_are_timms(timm_facts):
    for tag in hub_tags():
        cfg = timm_facts["cfgs"][name(tag)]
        assert (tag.handle, tag.model, tag.classes, (3, tag.input_size, tag.input_size), tag.crop_pct,
                tag.interpolation, list(tag.mean), list(tag.std), tag.license) == (
            f"hf://{cfg['hf_hub_id']}", cfg["architecture"], cfg["num_classes"], tuple(cfg["input_size"]),
            cfg["crop_pct"], cfg["interpolation"], cfg["mean"], cfg["std"], cfg.get("license")), name(tag)
        if tag.top1 is not None:  # the published results were measured at timm's eval or test transform
            transforms = {(cfg["input_size"][1], cfg["crop_pct"])}
            if "test_input_size" in cfg:
                transforms.add((cfg["test_input_size"][1], cfg["test_crop_pct"]))
            assert (tag.top1_img_size, tag.top1_crop_pct) in transforms, name(tag)


def test_every_timm_tag_of_a_net_we_build_is_listed(timm_facts):
    built = {tag_name for tag_name in timm_facts["cfgs"] if refusal(tag_name.split(".")[0]) is None}
    assert {name(tag) for tag in hub_tags()} == built
    for arch in timm_facts["resnet_py"]:  # each resnet.py net is one of ours or refused, never both
        assert is_our_id(arch) != (refusal(arch) is not None), (arch, refusal(arch))


def test_refused_patterns_match_timm_nets_and_none_of_ours(timm_facts):
    with open(weights_dir() / "timm_tags.json", encoding="utf-8") as f:
        refused = json.load(f)["refused"]
    listed = {tag.model for tag in hub_tags()}
    for entry in refused:
        matched = [arch for arch in timm_facts["architectures"]
                   if (fnmatchcase(arch, entry["pattern"]) if "pattern" in entry else arch == entry["architecture"])]
        assert matched, entry
        assert not [arch for arch in matched if arch in listed or is_our_id(arch)], entry
        assert all(entry["reason"] in refusal(arch) for arch in matched), entry
