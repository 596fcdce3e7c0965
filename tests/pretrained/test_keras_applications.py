"""keras.applications ResNet50/101/152 weight files (the paper authors' weights, v1) load into
our bias-free v1 models, and its ResNet50V2/101V2/152V2 files into our pre-activation nets, and
give the same outputs, from both legacy HDF5 layouts."""

import h5py
import keras
import numpy as np
import pytest
from conftest import keras_resnet_main
from references import (
    NETS,
    SIZE,
    assert_same_outputs,
    keras_applications,
    random_keras_applications,
    write_keras2_weights,
)

import keras_resnet as kr
from keras_resnet.pretrained import formats


@pytest.mark.parametrize(
    ("net", "include_top"),
    [pytest.param(net, top, marks=pytest.mark.slow) if net.startswith("ResNet152") else (net, top)
     for net, top in [*((net, top) for net in NETS[:4] for top in (True, False)), ("ResNet101V2", True),
                      ("ResNet152V2", False)]],
)
@pytest.mark.filterwarnings("error")  # a V2 file is V2's own layout: no variant warning
def test_published_layout_gives_keras_applications_outputs(tmp_path, net, include_top):
    theirs = random_keras_applications(net, include_top, seed=NETS.index(net))
    write_keras2_weights(theirs, tmp_path / "keras2.h5")
    # the file is what keras.applications itself loads
    check = keras_applications(net, include_top)
    check.load_weights(tmp_path / "keras2.h5")
    x = np.random.default_rng(0).uniform(-1, 1, (2, SIZE, SIZE, 3)).astype("float32")
    expected = run(theirs, x)
    np.testing.assert_array_equal(run(check, x), expected)

    ours = getattr(kr, net)(
        weights=str(tmp_path / "keras2.h5"), include_top=include_top, input_shape=(SIZE, SIZE, 3),
        classifier_activation=None,
    )
    assert_same_outputs(run(ours, x), expected)


def run(model, x) -> np.ndarray:
    """The model's outputs on the batch `x`, in inference mode (called eagerly: `predict` would
    first trace a graph of each net, seconds for a ResNet-152)."""
    return keras.ops.convert_to_numpy(model(x, training=False))


def test_keras3_legacy_writer_and_converter(tmp_path, capsys):
    """Keras 3's legacy HDF5 writer (`model.save("*.h5")`: no `:0`, under `model_weights`),
    converted by `keras-resnet convert` into our format, loads with the same outputs."""
    theirs = random_keras_applications("ResNet50", True, seed=1)
    theirs.save(tmp_path / "keras3.h5")
    with h5py.File(tmp_path / "keras3.h5") as f:
        names = [getattr(n, "decode", lambda: n)() for n in f["model_weights/conv1_conv"].attrs["weight_names"]]
    assert names == ["conv1_conv/kernel", "conv1_conv/bias"]
    result = keras_resnet_main(capsys, "convert", tmp_path / "keras3.h5", tmp_path / "ours.h5", "--model", "resnet50")
    assert result.returncode == 0, result.stderr
    with formats.open_weights(tmp_path / "ours.h5") as opened:
        assert opened.format == "keras_resnet"
    ours = kr.ResNet50(weights=str(tmp_path / "ours.h5"), input_shape=(SIZE, SIZE, 3), classifier_activation=None)
    x = np.random.default_rng(0).uniform(-1, 1, (2, SIZE, SIZE, 3)).astype("float32")
    assert_same_outputs(run(ours, x), run(theirs, x))


def test_other_architecture_names_first_mismatched_layer(tmp_path):
    theirs = random_keras_applications("ResNet50", False, seed=2)
    write_keras2_weights(theirs, tmp_path / "w.h5")
    with pytest.raises(ValueError,
                       match=r"weight 'conv2_block1_1_conv/kernel' has shape \(1, 1, 64, 64\) there, \(3, 3, 64, 64\)"):
        kr.ResNet34(weights=str(tmp_path / "w.h5"), include_top=False)


def test_keras_applications_file_builds_the_papers_variant(tmp_path):
    """keras.applications' files are the paper authors' v1: variant=None builds v1, and v1.5
    asked for explicitly warns that the network differs from the file's."""
    write_keras2_weights(random_keras_applications("ResNet50", False, seed=3), tmp_path / "w.h5")
    ours = kr.ResNet50(weights=str(tmp_path / "w.h5"), include_top=False, input_shape=(SIZE, SIZE, 3))
    assert ours.get_layer("conv3_block1_1_conv").strides == (2, 2)
    with pytest.warns(UserWarning, match=r"laid out for variant='v1' \(a bottleneck strides in its first 1x1 conv\)"):
        kr.ResNet50(weights=str(tmp_path / "w.h5"), variant="v1.5", include_top=False, input_shape=(SIZE, SIZE, 3))
