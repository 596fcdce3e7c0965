"""The installed `keras-resnet` console script: its tables, and every failure as one line
(exit 2 for bad input, 1 for the machine, 130 for Ctrl-C), never a traceback."""

import json
import os
import pickle
import re
import signal
import subprocess
import time

import numpy as np
import pytest
from conftest import keras_resnet_cli, keras_resnet_exe, keras_resnet_main, run_python

from keras_resnet import cli
from keras_resnet.pretrained import registry, timm_tags

PAPER = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6, "resnet152": 11.3}


def test_table_prints_paper_table_1(capsys):
    result = keras_resnet_main(capsys, "table", "--plain", "--cifar", "3")
    assert result.returncode == 0, result.stderr
    rows = {m[0]: m[1:]
            for m in re.findall(r"^(\w+)\s+(\d+)\s+\[.*?\] x \w+\s+([\d,]+)\s+([\d.]+)", result.stdout, re.M)}
    assert set(rows) == {*PAPER, "plainnet18", "plainnet34", "plainnet50", "plainnet101", "plainnet152",
                         "cifar_resnet20"}
    for name, paper_gmacs in PAPER.items():
        layers, params, gmacs = rows[name]
        assert int(layers) == int(name[6:])
        assert abs(float(gmacs) - paper_gmacs) <= 0.1
    assert rows["resnet50"][1] == "25,557,032"
    assert rows["cifar_resnet20"][:2] == ("20", "269,722")


def test_weights_lists_the_registry(capsys):
    result = keras_resnet_main(capsys, "weights")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = [line.split() for line in lines[2:next(i for i, line in enumerate(lines) if line.startswith("Pass"))]]
    listed = [tuple(r[:3]) for r in rows]
    assert [(name, model) for name, model, _ in listed] == [(e.name, e.model) for e in registry.entries()]
    assert {model: variant for _, model, variant in listed if model.endswith("v2")} == dict.fromkeys(
        ["resnet50v2", "resnet101v2", "resnet152v2"], "v2")  # the pre-activation nets were listed "v1.5"
    assert {variant for _, model, variant in listed if not model.endswith("v2")} == {"v1", "v1.5"}
    shipped = next(r for r in rows if r[1] == "cifar_resnet20")
    assert shipped[4:9] == ["1.2", "91.73", "-", "sha256", "shipped"]  # 8.27% error published with the checkpoint
    assert next(r for r in rows if r[1] == "resnext50_32x4d")[5:9] == ["77.62", "93.70", "sha256[:8]+pin", "no"]
    assert lines[-1] == (f"And {len(timm_tags.hub_tags())} timm checkpoints on the Hugging Face Hub "
                         "(weights=\"hf://timm/...\"): `keras-resnet weights --model ID` lists a model's.")
    result = keras_resnet_main(capsys, "weights", "--model", "resnet50")  # beside the registry, timm's on the Hub
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0]: line.split()[-2:] for line in result.stdout.splitlines() if line.startswith("hf://")}
    assert listed == {t.handle: [f"{t.top1:.2f}", f"{t.top1_img_size}/{t.top1_crop_pct:g}"]
                      for t in timm_tags.hub_tags("resnet50")}
    assert listed["hf://timm/resnet50.a1h_in1k"] == ["80.68", "224/1"]  # timm's results-imagenet.csv: 80.676
    result = keras_resnet_main(capsys, "weights", "--model", "resnet10t")  # only on the Hub
    assert result.returncode == 0 and "hf://timm/resnet10t.c3_in1k" in result.stdout, result.stderr
    result = keras_resnet_main(capsys, "weights", "--model", "resnet51")
    assert result.returncode == 2 and "--model must be one of cifar_resnet20" in result.stderr
    assert result.stderr.endswith("received --model 'resnet51'. Did you mean 'resnet50', 'resnet18' or 'resnet50c'?\n")


def test_bad_arguments_are_reported():
    result = keras_resnet_cli("table", "--variant", "v3")
    assert result.returncode == 2 and "invalid choice: 'v3'" in result.stderr
    result = keras_resnet_cli("table", "--cifar", "0")
    assert result.returncode == 2 and "argument --cifar: must be an integer >= 1; received '0'" in result.stderr


@pytest.mark.parametrize("argv", [
    ["export", "m.keras", "m.onnx", "--count", "0"],  # was read as the default, 100 images
    ["export", "m.keras", "m.onnx", "--count", "-5"],  # was all but the last 5 (1,012 of 1,017)
    ["export", "m.keras", "m.tflite", "--quantize", "int8", "--count", "0"],
    ["export", "m.keras", "m.onnx", "--count", "2.5"],
    ["predict", "m.keras", "x.png", "--top", "0"],
    ["predict", "m.keras", "x.png", "--top", "-1"],
    ["evaluate", "m.keras", "--limit", "0"],  # was the error of no images, after loading the model
    ["evaluate", "m.keras", "--limit", "-5"],
])
def test_counts_below_one_are_refused_naming_the_option(capsys, tmp_path, argv):
    """Refused while parsing, before a model is read: the option as typed and what it accepts."""
    result = keras_resnet_main(capsys, *argv[:1], *(tmp_path / a if "." in a else a for a in argv[1:3]), *argv[3:])
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"keras-resnet {argv[0]}: error: argument {argv[-2]}: must be an integer >= 1; received {argv[-1]!r}")
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_keras_backend_is_one_line_naming_the_variable(tmp_path):
    """KERAS_BACKEND=bogus was a traceback from inside TensorFlow's import (which loads Keras);
    a keras.json naming a bogus backend likewise (Keras' own error, after what TensorFlow logged in
    the failed import: `stderr_held_back` shows it)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "bogus"}
    result = subprocess.run([keras_resnet_exe(), "table"], capture_output=True, text=True, env=env, timeout=300)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr[-3000:]
    assert result.stderr == ("keras-resnet table: error: the environment variable KERAS_BACKEND must be one of "
                             "tensorflow, jax, torch, numpy, openvino (or unset); received KERAS_BACKEND='bogus'.\n")
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "bogus"}))
    env = {**env, "KERAS_BACKEND": "", "KERAS_HOME": str(tmp_path)}
    result = subprocess.run([keras_resnet_exe(), "table"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.splitlines()[-1] == "keras-resnet table: error: Unable to import backend : bogus"


# --- every failure is one line, never a traceback ---------------------------------------------------------





@pytest.fixture(scope="module")
def files(shared, tmp_path_factory, cifar_test):
    """A trained-model file with its classes.json, real CIFAR images as PNGs, and broken inputs."""
    import keras
    import tensorflow as tf

    import keras_resnet as kr

    root = tmp_path_factory.mktemp("cli")
    kr.CifarResNet(1).save(root / "model.keras")
    (root / "png").mkdir()
    for i in range(3):
        (root / "png" / f"{i}.png").write_bytes(tf.io.encode_png(cifar_test[0][i]).numpy())
    (root / "bad_images").mkdir()
    (root / "bad_images" / "0.png").write_bytes((root / "png" / "0.png").read_bytes())
    (root / "bad_images" / "cut.png").write_bytes((root / "png" / "1.png").read_bytes()[:40])
    empty = root / "empty_batches"
    empty.mkdir()
    with open(empty / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((0, 3072), np.uint8), b"labels": []}, f)
    (root / "user_files").mkdir()
    (root / "user_files" / "notes.txt").write_text("the user's own file")
    (root / "not_onnx.onnx").write_text("the user's own file")
    (root / "a_file").write_text("not a directory")
    keras.backend.clear_session()
    return root


def run_cli(capsys, *argv) -> tuple[int, str]:
    """`keras-resnet ARGV` in this process: (exit status, stderr)."""
    with pytest.raises(SystemExit) as exited:
        cli.main([str(a) for a in argv])
    return exited.value.code, capsys.readouterr().err


def failures(shared, files, tmp_path):
    """(argv, environment, status, words in the message) of each failure: bad input and faults of the machine."""
    data = shared / "cifar-10-batches-py"
    checkpoint = shared / "pretrained" / "akamaster-cifar10" / "resnet20-12fca82f.th"
    model = files / "model.keras"
    train = ["train", "--model", "cifar_resnet8", "--data-dir", data, "--output", tmp_path / "run", "--epochs", "1"]
    listed_run = tmp_path / "listed"
    listed_run.mkdir()
    (listed_run / "config.json").write_text("[]")
    imagenet = tmp_path / "imagenet"
    for split in ("train", "val"):
        (imagenet / split / "cat").mkdir(parents=True)
        for name in ("0.png", "cut.png"):
            (imagenet / split / "cat" / name).write_bytes((files / "bad_images" / name).read_bytes())
        (imagenet / split / "dog").mkdir()
        (imagenet / split / "dog" / "1.png").write_bytes((files / "png" / "1.png").read_bytes())
    classes = tmp_path / "classes"
    classes.mkdir()
    (classes / "model.keras").write_bytes(model.read_bytes())
    (classes / "classes.json").write_text('["cat", ')
    run = tmp_path / "runs" / "r20"  # a training run's directory given for its model file
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "best.keras").write_bytes(model.read_bytes())
    png = files / "png" / "0.png"
    return [
        (["convert", checkpoint, files / "user_files", "--model", "cifar_resnet20"], {}, 2, ["user_files"]),
        (["convert", checkpoint, files / "a_file" / "out.h5", "--model", "cifar_resnet20"], {}, 2, ["a_file"]),
        (["export", model, files / "user_files", "--format", "savedmodel", "--count", "2"], {}, 2, ["user_files"]),
        (["export", model, files / "not_onnx.onnx", "--format", "onnx", "--count", "2"], {}, 2, ["not_onnx.onnx"]),
        (["export", model, tmp_path / "m.onnx", "--format", "onnx", "--images", files / "bad_images"], {}, 2,
         ["cut.png"]),
        (["export", "resnet50", tmp_path / "r.onnx", "--format", "onnx", "--weights", "imagenet"],
         {"KERAS_RESNET_WEIGHTS_DIR": str(files / "a_file")}, 2, ["KERAS_RESNET_WEIGHTS_DIR"]),
        (["export", "resnet50", tmp_path / "r.onnx", "--format", "onnx", "--weights", "imagenet"],
         {"KERAS_HOME": str(tmp_path / "keras_home")}, 1, ["https://"]),
        (["predict", classes / "model.keras", files / "png" / "0.png"], {}, 2, ["classes.json"]),
        (["predict", model, png, "--weights", "cifar10"], {}, 2, ["--weights applies", "model.keras"]),
        (["predict", "cifar_resnet20", png], {}, 2, ["MODEL must be", "with --weights"]),
        (["predict", tmp_path / "missing.keras", png], {}, 2, ["MODEL", "missing.keras' does not exist"]),
        (["predict", "cifar_resnt20", png, "--weights", "cifar10"], {}, 2,
         ["received MODEL 'cifar_resnt20'. Did you mean 'cifar_resnet20'"]),
        (["predict", run, png], {}, 2, [f"MODEL '{run}' is a training run's directory", f"'{run / 'best.keras'}'"]),
        (["predict", "cifar_resnet20", png, "--weights", "cifar"], {}, 2,
         ["received --weights 'cifar'. Did you mean 'cifar10'?"]),
        (["explain", "resnet50", png, "--weights", "cifar10", "--output", tmp_path / "maps"], {}, 2,
         ["--weights 'cifar10' exist for ['cifar_resnet20'", "not for 'resnet50'"]),
        (["evaluate", "cifar_resnet20", "--data-dir", data], {}, 2, ["MODEL must be", "with --weights"]),
        (["evaluate", "cifar_resnet20", "--weights", "cifar10", "--data-dir", files / "png"], {}, 2,
         ["--data-dir", "missing ['test_batch']"]),
        (["evaluate", "cifar_resnet20", "--weights", "cifar10", "--method", "ten-crop"], {}, 2,
         ["--method must be one of ['centre']; received --method 'ten-crop'"]),
        (["export", "cifar_resnet20", tmp_path / "x.onnx", "--format", "tflite"], {}, 2,
         ["--format 'tflite'", "x.onnx", "leave --format out"]),
        (["export", "cifar_resnet20", tmp_path / "x.bin"], {}, 2, ["--format cannot", "x.bin", "give --format, one"]),
        (["evaluate", model, "--data-dir", files / "empty_batches"], {}, 2, ["test_batch"]),
        (["train", "--model", "cifar_resnet8", "--data-dir", data, "--output", listed_run], {}, 2,
         ["--output file", "config.json"]),
        (["train", "--model", "resnet18", "--dataset", "imagenet", "--data-dir", imagenet, "--output",
          tmp_path / "imagenet_run"], {}, 2, ["cut.png"]),
        (["train", "--model", "resnet18", "--dataset", "imagenet"], {}, 2,
         ["--dataset 'imagenet' needs --data-dir"]),
        (["train", "--model", "cifar_resnet8", "--data-dir", files / "png"], {}, 2, ["--data-dir", "data_batch_1"]),
        ([*train, "--step-epochs", "0"], {}, 2, ["--step-epochs must be", "received --step-epochs 0"]),
        ([*train, "--patience", "-1"], {}, 2, ["--patience"]),
        ([*train, "--min-lr", "-1"], {}, 2, ["--min-lr"]),
        ([*train, "--min-delta", "nan"], {}, 2, ["--min-delta"]),
        ([*train, "--validation-fraction", "1"], {}, 2, ["--validation-fraction must be in [0, 1)"]),
        (train, {"TF_CONFIG": "{not json"}, 2, ["TF_CONFIG"]),
        (train, {"TF_CONFIG": json.dumps([1, 2])}, 2, ["TF_CONFIG"]),
    ]


def parameter_spellings(argv) -> re.Pattern:
    """The library's spellings of the arguments of `keras-resnet ARGV` (`data_dir`, weights='x',
    limit=0: each argument's Python name, and `model_file`), which its messages must not show."""
    names = "|".join({*vars(cli.program.build_parser().parse_args([str(a) for a in argv])), "model_file"})
    return re.compile(rf"`({names})`|(?<![\w'\"/.=-])({names})=")


def test_every_failure_is_one_line_naming_the_cause(shared, files, tmp_path, capsys, monkeypatch):
    """Each failure of the list: exit 2 (bad input) or 1 (the machine), one line
    `keras-resnet CMD: error: ...` naming what is wrong, no traceback, the user's files untouched."""
    before = {p: p.read_bytes() for p in files.rglob("*") if p.is_file()}
    for argv, env, status, words in failures(shared, files, tmp_path):
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            code, err = run_cli(capsys, *argv)
        lines = err.strip().splitlines()
        assert (code, len(lines)) == (status, 1), (argv, env, code, err[-3000:])
        assert lines[0].startswith(f"keras-resnet {argv[0]}: error: "), (argv, err)
        assert all(w in lines[0] for w in words), (argv, env, lines[0])
        assert not parameter_spellings(argv).search(lines[0]), (argv, env, lines[0])  # the flag as typed
    assert {p: p.read_bytes() for p in files.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_ctrl_c_says_how_to_resume_and_the_run_resumes(shared, tmp_path):
    """SIGINT mid-run: one line saying what is kept and how to go on (no KeyboardInterrupt
    traceback), exit 130; the same command then resumes after the last finished epoch."""
    command = [keras_resnet_exe(), "train", "--model", "cifar_resnet8", "--data-dir",
               str(shared / "cifar-10-batches-py"), "--output", str(tmp_path / "run"), "--epochs", "3",
               "--steps-per-epoch", "40", "--batch-size", "16", "--no-plot"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    # as a terminal's Ctrl-C finds it: a run started in the background of a shell without job
    # control (`cmd &` in a script, CI) inherits SIGINT ignored, and then rightly trains on
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    backup = tmp_path / "run" / "backup" / "training_metadata.json"
    while not backup.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # inside the second epoch
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in err, err[-3000:]
    assert err.strip().splitlines()[-1] == (
        f"keras-resnet train: error: interrupted; every file of {tmp_path / 'run'} holds its last finished epoch; "
        "run the same command again to resume."), err
    resumed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0 and "Epoch 1/3" not in resumed.stdout and "Epoch 3/3" in resumed.stdout, (
        resumed.stdout + resumed.stderr[-3000:])


@pytest.mark.slow
def test_file_names_that_are_not_utf8(files, tmp_path):
    """A file name of arbitrary bytes (legal on Linux) is printed as its own bytes, and named
    in an error, never a UnicodeEncodeError."""
    good, cut = os.fsencode(tmp_path) + b"/ok-\xff.png", os.fsencode(tmp_path) + b"/cut-\xfe.png"
    open(good, "wb").write((files / "png" / "0.png").read_bytes())
    open(cut, "wb").write((files / "bad_images" / "cut.png").read_bytes())
    exe, model = os.fsencode(keras_resnet_exe()), os.fsencode(files / "model.keras")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([exe, b"predict", model, good], capture_output=True, env=env, timeout=300)
    assert result.returncode == 0 and result.stdout.startswith(good + b"  "), result.stderr[-3000:]
    result = subprocess.run([exe, b"predict", model, cut], capture_output=True, env=env, timeout=300)
    err = result.stderr.decode()
    assert result.returncode == 2 and "Traceback" not in err and "cut-\\udcfe.png" in err, err[-3000:]


# --- a fast, quiet command line ------------------------------------------------------------------------------------


def test_help_and_parsing_do_not_import_keras_or_tensorflow():
    """--help answers at once: the command parses its arguments before Keras and TensorFlow
    (seconds) load. Python's own import log (-X importtime) of the real console script shows it."""
    for argv in (["--help"], ["train", "--help"], ["predict", "--help"], ["explain", "--help"], ["table", "--help"],
                 ["table", "--cifar", "0"]):
        result = _imports_of(*argv)
        assert "keras_resnet" in result.imported and not result.imported & BACKENDS, argv
    assert "argument --cifar: must be an integer >= 1" in result.stderr


BACKENDS = {"keras", "tensorflow", "jax", "torch"}


def _imports_of(*argv) -> subprocess.CompletedProcess:
    """The real console script run with Python's own import log (-X importtime): its result, and
    the top-level modules it imported (`imported`)."""
    result = subprocess.run([keras_resnet_exe(), *map(str, argv)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    result.imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                       if line.startswith("import time:")}
    result.stderr = "".join(line + "\n" for line in result.stderr.splitlines() if not line.startswith("import time:"))
    return result


def test_mistakes_are_answered_before_keras_or_tensorflow_load(tmp_path):
    """A missing image, a wrong model id, a wrong format, a training run's directory as MODEL,
    data that is not there: each refused by the command's check, which runs before Keras and
    TensorFlow are imported (seconds); `weights`, which only reads the registry, imports neither."""
    (tmp_path / "runs" / "r20").mkdir(parents=True)
    (tmp_path / "runs" / "r20" / "best.keras").write_bytes(b"PK")
    for argv, said in [
        (["predict", "cifar_resnet20", "--weights", "cifar10", tmp_path / "nothere.png"], "nothere.png' does not"),
        (["predict", "cifar_resnt20", "--weights", "cifar10", "cat.png"], "Did you mean 'cifar_resnet20'"),
        (["export", "cifar_resnet20", tmp_path / "m.bin", "--weights", "cifar10"], "--format cannot be told"),
        (["export", "plainnet18", tmp_path / "t", "--format", "timm"], "MODEL must be a model id that timm builds"),
        (["export", "resnet18", tmp_path / "t", "--format", "timm", "--quantize", "int8"],
         "--quantize: not for --format timm"),
        (["explain", tmp_path / "runs" / "r20", "cat.png", "--output", tmp_path], "give its model file"),
        (["evaluate", "cifar_resnet20", "--weights", "imagenet"], "not for 'cifar_resnet20'"),
        (["train", "--model", "cifar_resnet8", "--data-dir", tmp_path], "missing ['data_batch_1'"),
        (["convert", "x.pth", "y.h5", "--model", "resnet_50"], "Did you mean 'resnet50'"),
        (["weights", "--model", "resnet51"], "Did you mean 'resnet50'"),
    ]:
        result = _imports_of(*argv)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and said in result.stderr, (argv,
                                                                                                    result.stderr)
        assert not result.imported & BACKENDS, (argv, result.imported & BACKENDS)
    result = _imports_of("weights")
    assert result.returncode == 0 and "cifar_resnet20" in result.stdout and not result.imported & BACKENDS
    assert list(tmp_path.iterdir()) == [tmp_path / "runs"]


@pytest.mark.parametrize("module", ["keras_resnet", "keras_resnet.cli"])
def test_python_m_is_the_command_and_answers_help_without_keras(module):
    """`python -m keras_resnet` and `python -m keras_resnet.cli` run the same `main`: --help
    prints its usage, with neither Keras nor TensorFlow (nor another backend) imported."""
    out = run_python(f"""
import runpy, sys
sys.argv = [{module!r}, "--help"]
try:
    runpy.run_module({module!r}, run_name="__main__", alter_sys=True)
except SystemExit as e:
    print("exit", e.code, sorted({{"keras", "tensorflow", "jax", "torch"}} & set(sys.modules)))
""")
    assert out.startswith("usage: keras-resnet [-h] [--verbose]") and "{table,weights,convert,train," in out, out
    assert out.strip().splitlines()[-1] == "exit 0 []", out


def _without_log_level(*argv) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([keras_resnet_exe(), *argv], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
def test_commands_print_only_their_own_lines_unless_verbose(tmp_path):
    """TensorFlow's import notices (oneDNN, absl) and C++ logs stay off stderr; --verbose shows them."""
    result = _without_log_level("table")
    assert result.returncode == 0 and "resnet152" in result.stdout and result.stderr == ""
    damaged = tmp_path / "damaged.keras"  # refused once Keras has loaded: its archive is read
    damaged.write_text("not a zip archive")
    own = f"keras-resnet evaluate: error: MODEL {str(damaged)!r} "
    result = _without_log_level("evaluate", str(damaged))
    assert result.returncode == 2 and result.stderr.startswith(own) and len(result.stderr.splitlines()) == 1, (
        result.stderr)
    result = _without_log_level("evaluate", str(damaged), "--verbose")
    assert result.returncode == 2 and own in result.stderr and len(result.stderr.splitlines()) > 1, result.stderr


def test_offline_without_data_dir_is_one_line_naming_the_fix_and_leaves_nothing(shared, tmp_path):
    """No network (an unreachable proxy, an empty Keras cache): `train` and `evaluate` without
    --data-dir say the download failed and name --data-dir; `train` removes what it made."""
    existing = tmp_path / "existing"
    existing.mkdir()
    out = run_python(f"""
import contextlib, io, json
from keras_resnet import cli
results = []
for argv in (["train", "--model", "cifar_resnet8", "--epochs", "1", "--output", {str(tmp_path / "new" / "run")!r}],
             ["train", "--model", "cifar_resnet8", "--epochs", "1", "--output", {str(existing)!r}],
             ["evaluate", "cifar_resnet20", "--weights", "cifar10"]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            cli.main(argv)
        except SystemExit as e:
            results.append([e.code, err.getvalue()])
print(json.dumps(results))
""", KERAS_HOME=str(tmp_path / "keras_home"), https_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
        KERAS_RESNET_WEIGHTS_DIR=None)
    for (code, err), command in zip(json.loads(out.strip().splitlines()[-1]), ("train", "train", "evaluate")):
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"keras-resnet {command}: error: downloading CIFAR-10 (keras.datasets) failed: "), err
        assert "pass --data-dir: the folder" in err and "data_dir" not in err and "resume" not in err, err
    assert not (tmp_path / "new").exists() and list(existing.iterdir()) == []


def test_a_model_file_that_is_not_a_classifier_is_one_line_naming_it(tmp_path, capsys):
    """A .keras model of 4-D softmax output (scores per pixel) was a traceback in `predict` and
    `explain`: refused naming the file and the (batch, classes) output they need."""
    import keras
    import tensorflow as tf

    inputs = keras.Input((32, 32, 3))
    keras.Model(inputs, keras.layers.Conv2D(10, 1, activation="softmax")(inputs)).save(tmp_path / "maps.keras")
    (tmp_path / "x.png").write_bytes(tf.io.encode_png(np.zeros((32, 32, 3), np.uint8)).numpy())
    keras.backend.clear_session()
    for argv in (["predict", tmp_path / "maps.keras", tmp_path / "x.png"],
                 ["explain", tmp_path / "maps.keras", tmp_path / "x.png", "--output", tmp_path / "out"]):
        result = keras_resnet_main(capsys, *argv)
        assert result.returncode == 2 and result.stdout == "", result.stderr
        assert result.stderr == (f"keras-resnet {argv[0]}: error: MODEL {str(tmp_path / 'maps.keras')!r} must be a "
                                 "classifier of one output of shape (batch, classes); its output shape is "
                                 "(None, 32, 32, 10).\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maps.keras", "x.png"]
