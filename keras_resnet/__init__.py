"""Deep residual networks (He, Zhang, Ren, Sun, 2015) for Keras 3.

The public names load on first use (PEP 562): `import keras_resnet` imports neither Keras nor
a backend, so the `keras-resnet` command answers at once however it is started, and
`from keras_resnet import ResNet50` loads only what ResNet50 needs."""

from __future__ import annotations

import importlib

from keras_resnet._distribution import check_no_old_distribution
from keras_resnet.onednn import enable_onednn

check_no_old_distribution()  # the old keras-resnet's files would shadow these modules
enable_onednn()  # before anything imports TensorFlow: the one environment change (docs/backends.md)

__version__ = "0.2.0"

_ENTRIES = (
    "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152",
    "PlainNet18", "PlainNet34", "PlainNet50", "PlainNet101", "PlainNet152",
    "CifarResNet", "CifarResNet20", "CifarResNet32", "CifarResNet44", "CifarResNet56", "CifarResNet110",
    "CifarResNet1202", "CifarPlainNet", "CifarPlainNet20", "CifarPlainNet32", "CifarPlainNet44",
    "CifarPlainNet56", "CifarPlainNet110", "CifarPreActResNet",
    "ResNet50V2", "ResNet101V2", "ResNet152V2", "ResNeXt50_32x4d", "ResNeXt101_32x8d", "ResNeXt101_64x4d",
    "WideResNet50_2", "WideResNet101_2", "ResNet50D",
    "ResNet18D", "ResNet34D", "ResNet26", "ResNet26D", "ResNet101D", "ResNet152D", "ResNet200D", "ResNet10T",
    "ResNet26T", "ResNeXt101_32x4d", "ResNeXt101_32x16d", "ResNet50C", "ResNet50S",
)
# public name -> the module that defines it
_HOMES = {
    **dict.fromkeys(_ENTRIES, "keras_resnet.models.networks"),
    "Architecture": "keras_resnet.core.architectures",
    "list_models": "keras_resnet.core.architectures",
    "list_weights": "keras_resnet.pretrained.registry",
    "build_resnet": "keras_resnet.models.builder",
    "build_by_id": "keras_resnet.models.builder",
    "preprocess_input": "keras_resnet.models.preprocessing",
    "decode_predictions": "keras_resnet.models.preprocessing",
    "CentreCrop": "keras_resnet.models.preprocessing",
    "PixelMean": "keras_resnet.models.preprocessing",
    "feature_extractor": "keras_resnet.models.features",
    "pyramid_outputs": "keras_resnet.models.features",
    "count_flops": "keras_resnet.models.flops",
    "count_trainable_params": "keras_resnet.models.flops",
    "freeze_batchnorm": "keras_resnet.training.finetune",
    "fold_batchnorm": "keras_resnet.deploy.folding",
    "use_fast_kernels": "keras_resnet.models.layers",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    """Import the defining module of a public name on first use, then keep the name here."""
    if name not in _HOMES:
        raise AttributeError(f"module 'keras_resnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
