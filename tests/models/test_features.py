"""C2-C5 feature taps line up with keras.applications' stage outputs."""

import keras
import numpy as np
import pytest

import keras_resnet as kr

SIZE = 96  # a multiple of 32: C2-C5 are 24, 12, 6 and 3 pixels across


@pytest.mark.parametrize("builder", [kr.ResNet18, kr.ResNet50, kr.PlainNet34], ids=lambda b: b.__name__)
def test_pyramid_levels(builder):
    model = builder(include_top=False, input_shape=(SIZE, SIZE, 3))
    features = kr.feature_extractor(model)
    width = 4 if "50" in builder.__name__ else 1
    shapes = {k: tuple(v.shape) for k, v in features.output.items()}
    assert shapes == {f"C{s}": (None, SIZE // 2**s, SIZE // 2**s, 64 * 2 ** (s - 2) * width) for s in (2, 3, 4, 5)}
    out = features.predict(np.zeros((1, SIZE, SIZE, 3), "float32"), verbose=0)
    assert out["C5"].shape == (1, SIZE // 32, SIZE // 32, 512 * width)


def test_same_taps_as_keras_applications():
    theirs = keras.applications.ResNet50(weights=None, include_top=False)
    model = kr.ResNet50(include_top=False)
    ours = kr.pyramid_outputs(model)
    for level, name in {"C2": "conv2_block3_out", "C3": "conv3_block4_out", "C4": "conv4_block6_out",
                        "C5": "conv5_block3_out"}.items():
        assert ours[level] is model.get_layer(name).output
        assert ours[level].shape == theirs.get_layer(name).output.shape


def test_level_selection_and_errors():
    model = kr.CifarResNet(3, include_top=False)
    assert list(kr.feature_extractor(model, ("C3", "C4")).output) == ["C3", "C4"]
    with pytest.raises(ValueError, match=r"`levels` must be among \['C2', 'C3', 'C4'\]"):
        kr.feature_extractor(model, ("C5",))
    with pytest.raises(ValueError, match="not built by keras_resnet"):
        kr.feature_extractor(keras.applications.MobileNetV3Small(weights=None, include_top=False))
