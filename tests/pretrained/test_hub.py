"""`weights="hf://<owner>/<repo>[@<revision>]"`: timm repositories on the Hugging Face Hub, fetched
with the real huggingface_hub client from a Hub-compatible server on 127.0.0.1 (its protocol as
huggingface_hub 1.x speaks it: HEAD/GET /<repo>/resolve/<revision>/<file>, X-Repo-Commit, ETag,
X-Error-Code), serving repositories made here: timm-layout state dicts of random nets of ours with
random BN statistics (`conftest.torch_state_dict`) and config.json files as timm's `save_for_hf`
writes them. Every bad handle, repository and network state is refused in one line naming the
handle; a cut or killed download leaves nothing in the cache that passes for the file.

Parity with timm itself (its own `save_for_hf` repositories, its eval transform) runs where
$KERAS_RESNET_TIMM_PYTHON names a Python with timm (`test_outputs_equal_timms`)."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import REPO, keras_resnet_main, randomise_batchnorm, torch_state_dict
from hub_server import commit_of, serving
from references import assert_same_outputs, shapes_only
from safetensors.numpy import save_file

import keras_resnet as kr
from keras_resnet.models.preprocessing import MAX_RESIZED_SIDE
from keras_resnet.pretrained import hub, timm_configs
from keras_resnet.pretrained.registry import Preprocessing
from keras_resnet.pretrained.request import resolve_weights

hf_constants = pytest.importorskip("huggingface_hub.constants")

SIZE = 64
ROOT: list[Path] = []  # the server's
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


# ---------------------------------------------------------------------------------------------
# The Hub


def timm_config(arch: str, classes: int = 1000, *, flat: bool = False, **cfg) -> dict:
    """config.json as timm's `save_for_hf` writes it (nested `pretrained_cfg`; research notes, its
    resnet18.a1_in1k file) or as older repositories hold it (`flat`: the cfg is the file)."""
    pretrained_cfg = {"tag": "a1_in1k", "custom_load": False, "input_size": [3, 224, 224],
                      "test_input_size": [3, 288, 288], "fixed_input_size": False, "interpolation": "bicubic",
                      "crop_pct": 0.95, "test_crop_pct": 1.0, "crop_mode": "center", "mean": IMAGENET_MEAN,
                      "std": IMAGENET_STD, "num_classes": classes, "pool_size": [7, 7], "first_conv": "conv1",
                      "classifier": "fc", "license": "apache-2.0",
                      "origin_url": "https://github.com/huggingface/pytorch-image-models",
                      "paper_ids": "arXiv:2110.00476", **cfg}
    if flat:
        return {"architecture": arch, **pretrained_cfg}
    features = 512 if arch in ("resnet18", "resnet34") else 2048
    return {"architecture": arch, "num_classes": classes, "num_features": features, "pretrained_cfg": pretrained_cfg}


def write_repo(root: Path, repo: str, revision: str = "main", *, config=None, weights=None, **files) -> None:
    folder = root / repo / revision
    folder.mkdir(parents=True)
    if config is not None:
        (folder / "config.json").write_text(config if isinstance(config, str) else json.dumps(config, indent=2))
    if weights is not None:
        save_file(weights, folder / "model.safetensors")
    for name, data in files.items():
        (folder / name.replace("__", ".")).write_bytes(data)


def timm_layout(model) -> dict[str, np.ndarray]:
    """As timm saves it: with each BN's num_batches_tracked (int64)."""
    state = torch_state_dict(model)
    state.update({k.replace("running_var", "num_batches_tracked"): np.array(7, np.int64)
                  for k in list(state) if k.endswith("running_var")})
    return state


def made_up(model_id: str, value=np.zeros) -> dict[str, np.ndarray]:
    """The timm-layout state dict of `model_id`, of made-up values, without building its weights."""
    net = shapes_only(kr.build_by_id, model_id, input_shape=(SIZE, SIZE, 3))
    return torch_state_dict(net, value=lambda v: value(v.shape, np.float32))


@pytest.fixture(scope="module")
def sources() -> dict[str, keras.Model]:
    """The nets whose weights the repositories hold: ResNet-18s, random weights and BN statistics."""
    return {seed: randomise_batchnorm(kr.ResNet18(input_shape=(SIZE, SIZE, 3), name=f"source{seed}"), seed)
            for seed in (0, 1)}


@pytest.fixture(scope="module")
def server(sources, tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    resnet18 = timm_layout(sources[0])
    write_repo(root, "timm/resnet18.a1_in1k", config=timm_config("resnet18"), weights=resnet18)
    # a second revision, in the legacy flat form, with other weights and timm's other preprocessing
    write_repo(root, "timm/resnet18.a1_in1k", "v1", weights=timm_layout(sources[1]), config=timm_config(
        "resnet18", flat=True, input_size=[3, SIZE, SIZE], crop_pct=1.0, interpolation="bilinear",
        mean=[0.5, 0.4, 0.3], std=[0.2, 0.25, 0.3]))
    for repo in ("timm/resnet18.cut", "timm/resnet18.stall", "timm/resnet18.loop", "timm/resnet18.offline"):
        write_repo(root, repo, config=timm_config("resnet18"), weights=resnet18)
    write_repo(root, "timm/resnet18.in10", config=timm_config("resnet18", classes=10), weights=resnet18)
    write_repo(root, "timm/resnet50d.ra2_in1k", config=timm_config("resnet50d"), weights=resnet18)
    write_repo(root, "timm/resnet50.with34", config=timm_config("resnet50"), weights=made_up("resnet34"))
    # resnetaa50's state dict has resnet50's keys and shapes: only its config tells it apart
    write_repo(root, "timm/resnetaa50.a1h_in1k", config=timm_config("resnetaa50"), weights=made_up("resnet50"))
    write_repo(root, "timm/seresnet50.a1_in1k", config=timm_config("seresnet50"),
               weights={**made_up("resnet18"), "layer1.0.se.fc1.weight": np.zeros((16, 256, 1, 1), np.float32)})
    write_repo(root, "timm/resnet18.pickle", config=timm_config("resnet18"), pytorch_model__bin=b"PK\x03\x04")
    write_repo(root, "timm/resnet18.noweights", config=timm_config("resnet18"))
    write_repo(root, "timm/resnet18.noconfig", weights=resnet18)
    write_repo(root, "timm/resnet18.huge", weights=resnet18,
               config=json.dumps({**timm_config("resnet18"), "label_names": ["x" * 1000] * 1100}))
    write_repo(root, "timm/resnet18.notjson", config='{"architecture": "resnet18",', weights=resnet18)
    write_repo(root, "timm/resnet18.array", config="[1, 2, 3]", weights=resnet18)
    ROOT[:] = [root]
    with serving(root, tmp_path_factory.mktemp("hf_cache")) as hub_server:
        yield hub_server


@pytest.fixture
def cold_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cold"))
    return tmp_path / "cold"


def images(seed: int = 0, size=(SIZE, SIZE)) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (2, *size, 3)).astype(np.float32)


def fetch(handle: str) -> tuple[dict, bytes]:
    """What a build fetches: the config, and the weights file's bytes."""
    parsed = hub.parse_handle(handle)
    return hub.fetch_config(parsed), hub.fetch_weights(parsed, 1 << 30).read_bytes()


def served(repo: str, revision: str = "main") -> bytes:
    return (ROOT[0] / repo / revision / "model.safetensors").read_bytes()


def blobs(repo: str) -> list[Path]:
    folder = hub.cache_dir() / f"models--{repo.replace('/', '--')}" / "blobs"
    return sorted(folder.iterdir()) if folder.is_dir() else []


# ---------------------------------------------------------------------------------------------
# Loading, the cache, revisions


def test_a_timm_repository_loads_as_its_weights(server, sources):
    model = kr.ResNet18(weights="hf://timm/resnet18.a1_in1k", input_shape=(SIZE, SIZE, 3))
    assert_same_outputs(model.predict(images(), verbose=0), sources[0].predict(images(), verbose=0))
    # what the builder reads: timm's network, classes and eval transform (input_size, not test_input_size)
    with resolve_weights("hf://timm/resnet18.a1_in1k", "resnet18", variant=None, shortcut="B", kind="basic") as source:
        assert (source.model, source.classes, source.variant) == ("resnet18", 1000, "v1.5")
        assert source.preprocessing == Preprocessing("torch", 224, 0.95, "bicubic", tuple(IMAGENET_MEAN),
                                                     tuple(IMAGENET_STD), resize_first=True)


def test_a_cached_revision_is_not_downloaded_again_and_a_pinned_commit_asks_nothing(server):
    fetch("hf://timm/resnet18.a1_in1k")
    before = len(server.log)
    assert fetch("hf://timm/resnet18.a1_in1k")[1] == served("timm/resnet18.a1_in1k")
    assert {method for method, _ in server.log[before:]} == {"HEAD"}  # is main still that commit? Yes: no GET
    commit = commit_of(server.root / "timm/resnet18.a1_in1k/main")
    before = len(server.log)
    assert fetch(f"hf://timm/resnet18.a1_in1k@{commit}")[1] == served("timm/resnet18.a1_in1k")
    assert server.log[before:] == []


def test_a_revision_loads_its_own_files_and_preprocessing(server, sources):
    """@v1 holds other weights and a legacy flat config.json: its input size becomes the model's,
    and include_preprocessing=True applies its mean and std to raw 0-255 images."""
    handle = "hf://timm/resnet18.a1_in1k@v1"
    model = kr.ResNet18(weights=handle)
    assert model.input_shape == (None, SIZE, SIZE, 3)
    x = images(1)
    assert_same_outputs(model.predict(x, verbose=0), sources[1].predict(x, verbose=0))
    baked = kr.ResNet18(weights=handle, include_preprocessing=True)  # crop_pct 1.0 at 64: the images as they are
    normalised = (x / 255 - np.array([0.5, 0.4, 0.3])) / np.array([0.2, 0.25, 0.3])
    assert_same_outputs(baked.predict(x, verbose=0), sources[1].predict(normalised.astype(np.float32), verbose=0))


def test_the_command_line_takes_a_handle(server, capsys, tmp_path):
    """`predict --weights hf://...` classifies with the repository's weights and preprocessing; a
    malformed handle is refused before anything loads, naming the flag and the form."""
    picture = tmp_path / "picture.png"
    keras.utils.save_img(picture, images(3, (90, 120))[0])
    done = keras_resnet_main(capsys, "predict", "resnet18", "--weights", "hf://timm/resnet18.a1_in1k", picture)
    assert done.returncode == 0 and done.stdout.startswith(f"{picture}  "), done.stderr
    done = keras_resnet_main(capsys, "predict", "resnet18", "--weights", "hf://timm", str(REPO / "README.md"))
    assert done.returncode == 2 and "--weights 'hf://timm' is not a Hugging Face Hub model handle" in done.stderr
    assert "hf://<owner>/<repo>@<revision>" in done.stderr


# ---------------------------------------------------------------------------------------------
# What is refused: one line naming the handle


def refused(error, match: str, **build) -> str:
    with pytest.raises(error, match=match) as raised:
        kr.ResNet18(**{"input_shape": (SIZE, SIZE, 3), **build})
    message = str(raised.value)
    assert "\n" not in message and build["weights"] in message, message
    return message


@pytest.mark.parametrize("handle", ["hf://timm", "hf://timm/resnet18/model.safetensors", "hf://datasets/a/b",
                                    "hf://timm/resnet18@", "hf://timm/re--snet18", "hf://timm/resnet18@v1/..",
                                    "hf://timm/resnet18 "])
def test_a_malformed_handle_is_refused_naming_the_form(handle):
    with pytest.raises(ValueError, match=r"is not a Hugging Face Hub model handle; the accepted form is 'hf://"):
        kr.ResNet18(weights=handle)


def test_an_unknown_repository_a_revision_or_a_file_missing(server):
    refused(ValueError, r"has no model repository 'timm/nope' \(or it is private", weights="hf://timm/nope")
    refused(ValueError, r"has no revision 'v9' .* leave out '@v9'", weights="hf://timm/resnet18.a1_in1k@v9")
    refused(ValueError, r"has no config.json at 'main'", weights="hf://timm/resnet18.noconfig")
    refused(ValueError, r"has no model.safetensors at 'main'", weights="hf://timm/resnet18.noweights")


def test_a_repository_with_only_a_pickle_is_refused(server):
    refused(ValueError, r"holds its weights only as pytorch_model.bin, a pickle, which keras_resnet never loads",
            weights="hf://timm/resnet18.pickle")
    assert ("GET", "/timm/resnet18.pickle/resolve/main/pytorch_model.bin") not in server.log


@pytest.mark.parametrize("arch, feature", [("seresnet50", "squeeze-and-excitation"),
                                           ("resnetaa50", "anti-aliased")])
def test_an_architecture_we_do_not_build_is_refused_by_its_config(server, arch, feature):
    """resnetaa50's model.safetensors has resnet50's keys and shapes: only the config tells; it
    is never downloaded."""
    repo = f"timm/{arch}.{'a1h_in1k' if arch == 'resnetaa50' else 'a1_in1k'}"
    with pytest.raises(ValueError, match=rf"names architecture {arch!r}: it has {feature}.*builds: .*resnet18, ") as e:
        kr.ResNet50(weights=f"hf://{repo}", input_shape=(SIZE, SIZE, 3))
    assert "\n" not in str(e.value) and "resnext50_32x4d, " in str(e.value)
    assert not any(path.endswith("model.safetensors") for _, path in server.requests(repo))


def test_weights_of_another_network_name_its_builder(server):
    with pytest.raises(ValueError, match=r"are for resnet50d, not resnet50: build it with keras_resnet.ResNet50D\("
                                         r"weights=...\) or keras_resnet.build_by_id\('resnet50d', weights=...\)"):
        kr.ResNet50(weights="hf://timm/resnet50d.ra2_in1k")
    refused(ValueError, r"with include_top=True need classes=10; received classes=1000",
            weights="hf://timm/resnet18.in10")
    refused(ValueError, r"are timm's resnet18, variant='v1.5' and shortcut='B'; received .*shortcut='C'",
            weights="hf://timm/resnet18.a1_in1k", shortcut="C")


def test_a_state_dict_that_disagrees_with_its_config_is_refused_naming_the_handle(server):
    """Checked by shape before a value is read (so the model needs no weight memory)."""
    with pytest.raises(ValueError, match=r"^weights='hf://timm/resnet50.with34': weight 'conv2_block1_1_conv/kernel' "
                                         r"has shape \(3, 3, 64, 64\) there, \(1, 1, 64, 64\) in the model"):
        shapes_only(kr.ResNet50, weights="hf://timm/resnet50.with34", input_shape=(SIZE, SIZE, 3))


def test_a_huge_or_malformed_config_is_refused(server):
    refused(ValueError, r"its config.json is 1,1\d\d,\d\d\d bytes, more than the 1,048,576 .*refused before "
                        "downloading", weights="hf://timm/resnet18.huge")
    assert ("GET", "/timm/resnet18.huge/resolve/main/config.json") not in server.log
    refused(ValueError, r"its config.json is not UTF-8 JSON \(JSONDecodeError", weights="hf://timm/resnet18.notjson")
    refused(ValueError, r"its config.json holds a JSON list, where timm writes an object",
            weights="hf://timm/resnet18.array")


@pytest.mark.parametrize("change, message", [
    ({"crop_pct": 0}, r"`pretrained_cfg.crop_pct` must be a number from 0.5 to 1; received 0"),
    ({"crop_pct": float("nan")}, r"`pretrained_cfg.crop_pct` must be a number from 0.5 to 1; received nan"),
    ({"input_size": [3, 10**9, 10**9]}, r"`pretrained_cfg.input_size` must be \[3, size, size\] with a size from 32 "
                                        r"to 512"),
    ({"input_size": [3, 224, 160]}, r"`pretrained_cfg.input_size` must be .*received \[3, 224, 160\]"),
    ({"mean": [0.5, 0.5]}, r"`pretrained_cfg.mean` must be 3 finite numbers, one a channel; received \[0.5, 0.5\]"),
    ({"std": [0.2, 0.0, 0.2]}, r"`pretrained_cfg.std` must be 3 finite numbers above 0"),
    ({"interpolation": "lanczos"}, r"`pretrained_cfg.interpolation` must be one of \['bilinear', 'bicubic', 'nearest'"),
    ({"crop_mode": "squash"}, r"`pretrained_cfg.crop_mode` must be 'center'"),
    ({"num_classes": 10**9}, r"`pretrained_cfg.num_classes` must be an integer from 1 to 100,000; received 1000000000"),
])
def test_a_forged_config_field_is_refused_naming_it(change, message):
    config = timm_config("resnet18", **change)
    del config["num_classes"]  # the cfg's own then counts
    with pytest.raises(ValueError, match=r"^weights='hf://x/y': config.json's " + message):
        timm_configs.parse_config(config, "weights='hf://x/y'")


@pytest.mark.parametrize("config, message", [
    ({"architecture": "resnet18", "num_features": 2048}, r"`num_features` must be 512 for resnet18; received 2048"),
    ({"architecture": "resnet18", "global_pool": "catavgmax"}, r"`global_pool` must be 'avg'"),
    ({"architecture": "resnet18", "model_args": {"stem_type": "deep", "drop_rate": 0.1}},
     r"`model_args` change the network timm builds \(stem_type\)"),
    ({"architecture": "resnet18", "pretrained_cfg": [1]}, r"`pretrained_cfg` must be an object"),
    ({"architecture": 18}, r"`architecture` must name a timm architecture"),
    ({"architecture": "resnet50_gn"}, r"names architecture 'resnet50_gn': it has GroupNorm"),
    ({"architecture": "ecaresnet50d_pruned"},
     r"it has ECA channel attention in every block; pruned: per-layer channel counts"),
    ({"architecture": "resnetv2_50"}, r"it has timm's pre-activation ResNetV2"),
    ({"architecture": "resnetrs50"}, r"it has ResNet-RS: squeeze-and-excitation in every block"),
    ({"architecture": "resnetblur50"}, r"it has blur-pool downsampling"),
    ({"architecture": "resnet50v2"}, r"'resnet50v2': keras_resnet does not build it"),
])
def test_a_config_that_names_another_network_is_refused(config, message):
    with pytest.raises(ValueError, match=r"^weights='hf://x/y': .*" + message):
        timm_configs.parse_config(config, "weights='hf://x/y'")


def test_what_a_config_may_ask_the_crop_takes():
    """The largest input and smallest crop a config may give resize to what CentreCrop takes."""
    biggest = math.floor(timm_configs.MAX_INPUT_SIZE / timm_configs.MIN_CROP_PCT)
    assert biggest <= MAX_RESIZED_SIDE
    kr.CentreCrop(timm_configs.MAX_INPUT_SIZE, timm_configs.MIN_CROP_PCT, resize_first=True)


def test_both_config_forms_and_timms_defaults():
    """Nested and flat forms read alike; what a cfg leaves out takes timm's defaults."""
    nested = timm_configs.parse_config(timm_config("resnet50", classes=11821), "x")
    flat = timm_configs.parse_config(timm_config("resnet50", classes=11821, flat=True), "x")
    assert nested == flat and (nested.model, nested.classes) == ("resnet50", 11821)
    bare = timm_configs.parse_config({"architecture": "wide_resnet50_2"}, "x").preprocessing
    assert (bare.size, bare.crop_fraction, bare.interpolation, bare.mean, bare.std) == (
        224, 0.875, "bicubic", tuple(IMAGENET_MEAN), tuple(IMAGENET_STD))


# ---------------------------------------------------------------------------------------------
# The network and the cache: offline, down, looping, cut, killed


def test_offline_a_warm_cache_serves_and_a_cold_one_says_to_go_online(server, monkeypatch, tmp_path):
    fetch("hf://timm/resnet18.offline")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = len(server.log)
    assert fetch("hf://timm/resnet18.offline")[1] == served("timm/resnet18.offline")
    assert server.log[before:] == []
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cold"))
    refused(OSError, r"its config.json is not in the Hugging Face cache \(.*cold\) and HF_HUB_OFFLINE is set: run once "
                     "with the network", weights="hf://timm/resnet18.offline")
    assert server.log[before:] == []


def test_with_the_network_down_a_warm_cache_serves_at_once_and_a_cold_one_fails_fast(server, monkeypatch, tmp_path):
    fetch("hf://timm/resnet18.a1_in1k")
    with socket.socket() as s:  # a port nothing listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", down)
    start = time.monotonic()
    assert fetch("hf://timm/resnet18.a1_in1k")[1] == served("timm/resnet18.a1_in1k")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cold"))
    message = refused(OSError, rf"cannot reach {down} \(ConnectError: .*\), and its config.json is not in the Hugging "
                               r"Face cache .*: connect to the network", weights="hf://timm/resnet18.a1_in1k")
    assert time.monotonic() - start < 10, "huggingface_hub's backoff (~23 s) was not avoided"
    assert "HF_ENDPOINT" in message


def test_a_redirect_loop_is_refused(server, cold_cache):
    server.faults[("timm/resnet18.loop", "config.json")] = "loop"
    refused(OSError, r"redirected in a loop resolving config.json, and its config.json is not in the Hugging Face "
                     "cache", weights="hf://timm/resnet18.loop")


def test_a_server_that_is_not_a_hub_is_named(server, cold_cache, tmp_path, monkeypatch):
    """A plain web server holding the file: no X-Repo-Commit, no ETag a Hub would give."""
    (tmp_path / "timm/plain/resolve/main").mkdir(parents=True)
    (tmp_path / "timm/plain/resolve/main/config.json").write_text(json.dumps(timm_config("resnet18")))

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    plain = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{plain.server_address[1]}")
    try:
        refused(OSError, r"http://127.0.0.1:\d+ does not answer as a Hugging Face Hub \(.*\); check HF_ENDPOINT",
                weights="hf://timm/plain")
    finally:
        plain.shutdown()
        plain.server_close()


def test_a_cut_download_leaves_nothing_in_the_cache(server, cold_cache):
    repo, key = "timm/resnet18.cut", ("timm/resnet18.cut", "model.safetensors")
    server.faults[key] = "cut"
    refused(OSError, r"answered HTTP 500 for model.safetensors", weights=f"hf://{repo}")
    assert [b.name for b in blobs(repo) if b.stat().st_size > 5000] == []  # only config.json's blob
    assert not list(cold_cache.rglob("*.incomplete")) and not list(cold_cache.rglob("model.safetensors"))
    del server.faults[key]
    assert fetch(f"hf://{repo}")[1] == served(repo)


def test_a_killed_download_is_not_taken_for_the_file(server, cold_cache):
    """A process killed mid-download leaves its own `.incomplete` file; the next fetch downloads
    the file whole and the cache then holds exactly the served bytes."""
    repo = "timm/resnet18.stall"
    server.faults[(repo, "model.safetensors")] = "stall"
    fetch = (f"from keras_resnet.pretrained import hub; hub.fetch_weights(hub.parse_handle('hf://{repo}'), 1 << 30)")
    process = subprocess.Popen([sys.executable, "-c", fetch], env=os.environ.copy(), stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not [p for p in cold_cache.rglob("*.incomplete") if p.stat().st_size] and time.monotonic() < deadline:
            time.sleep(0.05)
        partial = list(cold_cache.rglob("*.incomplete"))
        assert partial and process.poll() is None
    finally:
        process.kill()
        process.wait()
    del server.faults[(repo, "model.safetensors")]
    path = hub.fetch_weights(hub.parse_handle(f"hf://{repo}"), 1 << 30)
    assert path.read_bytes() == served(repo) and path.name == "model.safetensors"
    assert all(p.stat().st_size < len(served(repo)) for p in partial)  # the killed one's, never renamed into place


def test_without_huggingface_hub_the_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ImportError, match=r"need huggingface_hub: pip install \"keras3-resnet\[hub\]\"\.$"):
        kr.ResNet18(weights="hf://timm/resnet18.a1_in1k")


def test_keras_own_hub_loading_takes_our_models(server, tmp_path):
    """Keras' own `hf://` saving writes a model as an unzipped .keras folder, and
    `keras.saving.load_model("hf://<owner>/<repo>")` reads it back through huggingface_hub: our
    models, stock layers, go through it unchanged (the upload itself needs the Hub's write API)."""
    model = kr.ResNet18(input_shape=(SIZE, SIZE, 3), classes=3, include_preprocessing="torch")
    keras.saving.save_model(model, server.root / "user" / "my-resnet18" / "main", zipped=False)
    loaded = keras.saving.load_model("hf://user/my-resnet18")
    x = images(5)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Against timm itself


# timm's checkpoints compared: the list, one of each stem and shortcut kind, a tv_ and an a1_ tag
TIMM_TAGS = ("resnet18.a1_in1k", "resnet50.tv_in1k", "resnet50d.ra2_in1k", "resnet101d.ra2_in1k",
             "resnext50_32x4d.a1h_in1k", "wide_resnet50_2.racm_in1k", "resnet10t.c3_in1k")
BAKED = ("resnet18.a1_in1k", "resnet50.tv_in1k")  # bicubic at crop 0.95, bilinear at 0.875
TIMM_SCRIPT = """
import sys, numpy as np, torch, timm
from PIL import Image
from timm.data import create_transform, resolve_data_config
out, images = sys.argv[1], np.load(sys.argv[2])
for seed, name in enumerate(sys.argv[3:]):
    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False).eval()  # the tag's pretrained_cfg, random weights
    for m in model.modules():  # BN statistics and affine parameters far from their initial 0/1
        if isinstance(m, torch.nn.BatchNorm2d):
            for t, lo, hi in ((m.running_mean, -0.2, 0.2), (m.running_var, 0.5, 2.0), (m.weight, 0.5, 1.5),
                              (m.bias, -0.2, 0.2)):
                t.data.uniform_(lo, hi)
    timm.models.save_for_hf(model, f"{out}/timm-made/{name}/main", safe_serialization=True)
    transform = create_transform(**resolve_data_config({}, model=model))
    x = torch.stack([transform(Image.fromarray(image)) for image in images])
    with torch.no_grad():
        np.savez(f"{out}/{name}.npz", inputs=x.permute(0, 2, 3, 1).numpy(), logits=model(x).numpy())
"""


@pytest.mark.slow
def test_outputs_equal_timms(server, tmp_path, timm_python):
    """timm's own repositories (`save_for_hf` of random nets with random BN statistics, each with
    its tag's config.json; under an owner of their own, apart from the repositories of the other
    tests, which the cache holds) load by their handles into the same networks: logits to float32
    round-off on timm's inputs. include_preprocessing=True gives timm's eval transform (PIL
    resize of the shorter side to floor(size / crop_pct), centre crop, mean/std) to within PIL's
    uint8 rounding and its resampling kernel."""
    pictures = np.stack([np.asarray(keras.ops.convert_to_numpy(keras.ops.image.resize(  # smooth, natural-like
        np.random.default_rng(i).uniform(0, 255, (1, 12, 16, 3)), (150, 200), interpolation="bicubic")))[0]
        for i in range(3)]).clip(0, 255).astype(np.uint8)
    np.save(tmp_path / "images.npy", pictures)
    subprocess.run([timm_python, "-c", TIMM_SCRIPT, str(server.root), str(tmp_path / "images.npy"), *TIMM_TAGS],
                   check=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    for name in TIMM_TAGS:
        timm, arch = np.load(server.root / f"{name}.npz"), name.split(".")[0]
        plain = kr.build_by_id(arch, weights=f"hf://timm-made/{name}", classifier_activation=None)
        assert_same_outputs(plain.predict(timm["inputs"], verbose=0), timm["logits"])
        if name not in BAKED:
            continue
        baked = kr.build_by_id(arch, weights=f"hf://timm-made/{name}", classifier_activation=None,
                               include_preprocessing=True)
        inputs = keras.Model(baked.inputs, baked.get_layer("preprocessing_normalization").output)
        gap = np.abs(inputs.predict(pictures.astype(np.float32), verbose=0) - timm["inputs"])
        print(f"{name}: preprocessing vs timm's, in normalised units: max {gap.max():.4f}, mean {gap.mean():.5f}")
        assert gap.mean() < 0.01 and gap.max() < 0.05  # PIL's uint8 rounding: 0.5 / 255 / std = 0.009
        logits = baked.predict(pictures.astype(np.float32), verbose=0)
        assert (logits.argmax(1) == timm["logits"].argmax(1)).all()
