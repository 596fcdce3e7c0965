"""`examples/cifar10.py` really trains: the 8-layer net (n=1) with the paper's recipe (batch 128, lr 0.1,
/10 at 1/2 and 3/4 of the run, augmentation, weight decay), shortened to a few epochs on
the shared CIFAR-10 subset, gets well below the 90% error of an untrained net. The examples
that default to the shared data find it from any working directory, and say in one line when
it is missing. Every example answers --help and a mistyped flag before TensorFlow or Keras loads."""

import json
import re
import subprocess
import sys

import pytest
from conftest import REPO

EXAMPLES = REPO / "examples"
# what TensorFlow's import printed in every example, whatever TF_CPP_MIN_LOG_LEVEL said (issue 27)
TENSORFLOW_STARTUP = re.compile(r"absl::InitializeLog|oneDNN custom operations|cpu_feature_guard")


@pytest.mark.slow
def test_cifar10_example_learns(shared, tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "cifar10.py"), "--data-dir", str(shared / "cifar-10-batches-py"),
         "--depth", "8", "--epochs", "3", "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=900, env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert not TENSORFLOW_STARTUP.search(result.stderr), result.stderr[-3000:]  # as quiet as `keras-resnet`
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["model"] == "cifar_resnet8" and results["batch_size"] == 128
    assert results["test_error"] < 0.75, results  # untrained: 0.9; here 0.67
    assert "test error" in result.stdout
    assert (tmp_path / "curves.png").stat().st_size > 10_000 and (tmp_path / "best.keras").is_file()


@pytest.mark.slow
def test_imagenet_example_trains_and_tests_by_the_papers_three_methods(image_folder, tmp_path):
    """One step of ResNet-18 on a tiny folder tree, then centre, 10-crop and multi-scale testing."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "imagenet.py"), "--data-dir", str(image_folder), "--depth", "18",
         "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "2", "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=900, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert not TENSORFLOW_STARTUP.search(result.stderr), result.stderr[-3000:]
    tested = json.loads((tmp_path / "test.json").read_text())
    assert [tested[m]["images"] for m in ("centre", "ten-crop", "multiscale")] == [6, 6, 6]
    assert json.loads((tmp_path / "classes.json").read_text()) == ["cat", "ship"]


def _example(name: str):
    """An example script as a module, for in-process calls of its `main`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_finetune_example_finds_the_shared_data_from_any_directory_and_shows_progress(shared, tmp_path,
                                                                                       monkeypatch, capsys):
    """Run from elsewhere with its default --data-dir (resolved from the script's location, not
    the working directory), shortened: both nets train, one progress line per epoch, and an
    accuracy each."""
    finetune = _example("finetune_cifar10")
    if finetune.SHARED_CIFAR10 != shared / "cifar-10-batches-py":
        pytest.skip("the shared data is not beside the clone (KERAS_RESNET_SHARED)")
    monkeypatch.chdir(tmp_path)
    result = finetune.main(["--train-images", "16", "--epochs", "2"])
    assert set(result) == {"scratch", "fine-tuned"} and all(0 <= a <= 1 for a in result.values())
    out = capsys.readouterr().out
    assert out.count("Epoch 2/2") == 2 and out.count("test accuracy") == 2, out


def test_explain_example_draws_the_grid_and_measures_the_maps(shared, tmp_path, monkeypatch, capsys):
    """Shortened to 64 test images: the grid PNG of 16 images beside their maps, and both measures."""
    monkeypatch.setattr(sys, "argv", ["explain_cifar10.py", "--data-dir", str(shared / "cifar-10-batches-py"),
                                      "--count", "64", "--output", str(tmp_path / "grid.png")])
    _example("explain_cifar10").main()
    out = capsys.readouterr().out
    share = re.search(r"correctly \(([\d.]+)%; 64 test images\)", out)
    rho = re.search(r"mean Spearman rank correlation (-?[\d.]+) ", out)
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG" and share and rho, out
    assert float(share[1]) >= 80 and float(rho[1]) < 0.5, out


@pytest.mark.parametrize("name", ["finetune_cifar10", "classify_cifar10", "explain_cifar10"])
def test_examples_without_data_say_so_in_one_line_naming_data_dir(name, tmp_path, monkeypatch, capsys):
    example = _example(name)
    monkeypatch.setattr(sys, "argv", [f"{name}.py", "--data-dir", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_:
        example.main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1, err
    assert (err.startswith(f"{name}.py: error: `data_dir` {str(tmp_path)!r} is not a CIFAR-10")
            and "--data-dir DIR" in err)


# an example run as `python examples/NAME.py ARGS...` would (sys.argv, __main__), then how it exited
# and which of Keras and its backends it imported, as JSON on the last line
RUN_AND_LIST_IMPORTS = """
import json, runpy, sys
sys.argv = sys.argv[1:]
code = None
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as e:
    code = e.code
print(json.dumps({"code": code, "loaded": [m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules]}))
"""
POSITIONALS = {"predict.py": ["model.keras", "cat.png"]}  # so that the flag, not a missing argument, is refused


def _run_example(name: str, *argv: str) -> tuple[int | None, list[str], str, str]:
    """(exit code, Keras and backends imported, stdout before the JSON line, stderr) of an example."""
    result = subprocess.run([sys.executable, "-c", RUN_AND_LIST_IMPORTS, str(EXAMPLES / name), *argv],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]  # the example raised, past its own argument checks
    *printed, last = result.stdout.splitlines(keepends=True)
    state = json.loads(last)
    return state["code"], state["loaded"], "".join(printed), result.stderr


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_examples_answer_help_and_a_mistyped_flag_before_tensorflow_or_keras_loads(name):
    """Each example parses its arguments before TensorFlow, Keras or a backend (seconds) load:
    --help and a mistyped flag answer at once, as `keras-resnet` does."""
    code, loaded, out, err = _run_example(name, "--help")
    assert (code, loaded) == (0, []) and out.startswith(f"usage: {name} "), (out, err)
    code, loaded, out, err = _run_example(name, *POSITIONALS.get(name, []), "--no-such-flag")
    assert (code, loaded) == (2, []) and f"{name}: error: unrecognized arguments: --no-such-flag" in err, (out, err)


@pytest.mark.parametrize(("name", "argv", "named"), [
    ("cifar10.py", ["--depth", "21"], "argument --depth: must be 6n+2"),
    ("cifar10.py", ["--epochs", "0"], "--epochs must be a positive integer"),
    ("degradation.py", ["--depths", "20", "21"], "argument --depths: must be 6n+2"),
    ("degradation.py", ["--batch-size", "0"], "--batch-size must be a positive integer"),
])
def test_examples_refuse_a_bad_value_naming_the_flag_before_tensorflow_loads(name, argv, named):
    code, loaded, out, err = _run_example(name, *argv)
    assert (code, loaded) == (2, []) and f"{name}: error: {named}" in err, (out, err)
