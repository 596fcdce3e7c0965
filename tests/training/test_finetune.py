"""Fine-tuning: a pretrained headless base with a new head of any size, BatchNorm frozen."""

import keras
import numpy as np

import keras_resnet as kr


def test_frozen_batchnorm_keeps_pretrained_statistics(cifar_test):
    images, labels = cifar_test
    base = kr.CifarResNet20(weights="cifar10", include_top=False, pooling="avg")  # raw images in, by default
    pretrained = {w.path: np.array(w) for w in base.weights}
    outputs = keras.layers.Dense(2, activation="softmax")(base.output)
    model = keras.Sequential([keras.Model(base.input, outputs)])  # nested, as users wrap bases
    assert kr.freeze_batchnorm(model) == 19  # conv1_bn + 9 blocks x 2
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy")
    model.fit(images[:128], (labels[:128] >= 2).astype("int64"), batch_size=32, epochs=1, verbose=0)
    bn_weights = [w for w in base.weights if "_bn/" in w.path]  # gamma, beta, moving mean/variance
    assert len(bn_weights) == 19 * 4
    for w in bn_weights:
        np.testing.assert_array_equal(np.array(w), pretrained[w.path], err_msg=w.path)
    assert not np.array_equal(np.array(base.get_layer("conv4_block3_2_conv").kernel),
                              pretrained["conv4_block3_2_conv/kernel"])
    assert model.predict(images[:3], verbose=0).shape == (3, 2)
