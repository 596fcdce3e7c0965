"""Deep residual networks (He, Zhang, Ren, Sun, 2015) for Keras 3."""

from keras_resnet._distribution import check_no_old_distribution

check_no_old_distribution()  # first: the old keras-resnet's files would shadow these modules

from keras_resnet.onednn import enable_onednn  # noqa: E402

enable_onednn()  # before anything imports TensorFlow

# ruff: noqa: E402

import os
import sys

# The `keras-resnet` command parses its arguments before it loads Keras and TensorFlow (seconds,
# and their log lines), importing the submodules each command needs; everyone else gets the
# public names at once, and with them the custom layers registered for `keras.models.load_model`.
if os.path.basename(sys.argv[0]) != "keras-resnet":
    from keras_resnet.deploy.folding import fold_batchnorm
    from keras_resnet.models.architectures import FAMILY, IMAGENET, Architecture, cifar, cifar_preact
    from keras_resnet.models.builder import build_by_id, build_resnet
    from keras_resnet.models.features import feature_extractor, pyramid_outputs
    from keras_resnet.models.flops import count_flops, count_trainable_params
    from keras_resnet.models.layers import BatchNormalization, ZeroPadShortcut
    from keras_resnet.models.preprocessing import (
        CentreCrop,
        ImageNormalization,
        PixelMean,
        decode_predictions,
        preprocess_input,
    )
    from keras_resnet.models.resnet import (
        CifarPlainNet,
        CifarPlainNet20,
        CifarPlainNet32,
        CifarPlainNet44,
        CifarPlainNet56,
        CifarPlainNet110,
        CifarPreActResNet,
        CifarResNet,
        CifarResNet20,
        CifarResNet32,
        CifarResNet44,
        CifarResNet56,
        CifarResNet110,
        CifarResNet1202,
        PlainNet18,
        PlainNet34,
        PlainNet50,
        PlainNet101,
        PlainNet152,
        ResNet18,
        ResNet34,
        ResNet50,
        ResNet50D,
        ResNet50V2,
        ResNet101,
        ResNet101V2,
        ResNet152,
        ResNet152V2,
        ResNeXt50_32x4d,
        ResNeXt101_32x8d,
        ResNeXt101_64x4d,
        WideResNet50_2,
        WideResNet101_2,
    )
    from keras_resnet.training.finetune import freeze_batchnorm
    from keras_resnet.training.recipe import ErrorRate

__version__ = "0.1.0"

__all__ = [
    "FAMILY",
    "IMAGENET",
    "Architecture",
    "BatchNormalization",
    "CentreCrop",
    "CifarPlainNet",
    "CifarPlainNet20",
    "CifarPlainNet32",
    "CifarPlainNet44",
    "CifarPlainNet56",
    "CifarPlainNet110",
    "CifarPreActResNet",
    "CifarResNet",
    "CifarResNet20",
    "CifarResNet32",
    "CifarResNet44",
    "CifarResNet56",
    "CifarResNet110",
    "CifarResNet1202",
    "ErrorRate",
    "ImageNormalization",
    "PixelMean",
    "PlainNet18",
    "PlainNet34",
    "PlainNet50",
    "PlainNet101",
    "PlainNet152",
    "ResNet18",
    "ResNet34",
    "ResNet50",
    "ResNet101",
    "ResNet50D",
    "ResNet50V2",
    "ResNet101V2",
    "ResNet152",
    "ResNet152V2",
    "ResNeXt50_32x4d",
    "ResNeXt101_32x8d",
    "ResNeXt101_64x4d",
    "WideResNet50_2",
    "WideResNet101_2",
    "ZeroPadShortcut",
    "build_by_id",
    "build_resnet",
    "cifar",
    "cifar_preact",
    "count_flops",
    "count_trainable_params",
    "decode_predictions",
    "feature_extractor",
    "fold_batchnorm",
    "freeze_batchnorm",
    "preprocess_input",
    "pyramid_outputs",
]
