"""`examples/cifar10.py` really trains: ResNet-20 with the paper's recipe (batch 128, lr 0.1,
/10 at 1/2 and 3/4 of the run, augmentation, weight decay), shortened to a few epochs on
the shared CIFAR-10 subset, gets well below the 90% error of an untrained net."""

import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_cifar10_example_learns(shared, tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "cifar10.py"), "--data-dir", str(shared / "cifar-10-batches-py"),
         "--depth", "20", "--epochs", "4", "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=900, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["model"] == "cifar_resnet20" and results["batch_size"] == 128
    assert results["test_error"] < 0.75, results  # untrained: 0.9
    assert "test error" in result.stdout
    assert (tmp_path / "curves.png").stat().st_size > 10_000 and (tmp_path / "best.keras").is_file()


def test_imagenet_example_trains_and_tests_by_the_papers_three_methods(image_folder, tmp_path):
    """One step of ResNet-18 on a tiny folder tree, then centre, 10-crop and multi-scale testing."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "imagenet.py"), "--data-dir", str(image_folder), "--depth", "18",
         "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "2", "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=900, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    tested = json.loads((tmp_path / "test.json").read_text())
    assert [tested[m]["images"] for m in ("centre", "ten-crop", "multiscale")] == [6, 6, 6]
    assert json.loads((tmp_path / "classes.json").read_text()) == ["cat", "ship"]
