"""One generic builder over the architecture table, and the public entries: ResNet18-152,
PlainNet18-152, CifarResNet20-1202, CifarPlainNet20-110 (by depth, as the paper and the CLI
name them), CifarResNet(n), CifarPlainNet(n), with the keras.applications signature."""

from __future__ import annotations

import sys
import warnings
from typing import Callable

import keras
from keras import layers

from keras_resnet import pretrained, registry
from keras_resnet.architectures import (
    CIFAR_PLAIN_DEPTHS,
    CIFAR_RESNET_DEPTHS,
    IMAGENET,
    SHORTCUTS,
    VARIANTS,
    Architecture,
    cifar,
    cifar_by_depth,
)
from keras_resnet.blocks import block, conv_bn
from keras_resnet.preprocessing import CROP_FRACTION, MODES, CentreCrop, ImageNormalization
from keras_resnet.validation import check_activation, check_choice, check_classes, check_input_shape

POOLINGS = (None, "avg", "max")


def build_resnet(
    arch: Architecture,
    *,
    residual: bool = True,
    shortcut: str | None = None,
    variant: str = "v1",
    include_top: bool = True,
    weights: str | None = None,
    input_tensor=None,
    input_shape: tuple | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    classifier_activation: str | Callable | None = "softmax",
    name: str | None = None,
    include_preprocessing: bool | str | layers.Layer | None = None,
) -> keras.Model:
    """Build any network of the paper from its architecture row.

    `shortcut=None` takes the paper's choice: option A on CIFAR, option B on ImageNet.
    Plain nets have no shortcut, so they accept only `shortcut=None`.
    `include_preprocessing`: True bakes the pretrained weights' input normalisation (and, for
    ImageNet nets, a centre crop to the default size from images of any size) into the model,
    so it takes raw RGB 0-255 images; a mode ("caffe", "torch", "tf") chooses it by hand;
    a layer (e.g. `PixelMean`, the paper's training normalisation) is applied as given.
    None (the default) is True for the registry's CIFAR-10 weights, whose users feed raw
    images (a normalisation missed there gives chance accuracy and fine-tuning that diverges),
    and False otherwise: ImageNet weights take `preprocess_input`-ed images, as in
    keras.applications, so its users are not normalised twice.
    """
    model_id = registry.model_id(arch, residual)
    if residual:
        shortcut = shortcut if shortcut is not None else ("A" if arch.stem == "cifar" else "B")
        check_choice("shortcut", shortcut, SHORTCUTS)
    elif shortcut is not None:
        raise ValueError(f"Plain nets have no shortcuts: `shortcut` must be None; received {shortcut!r}.")
    check_choice("variant", variant, VARIANTS)
    check_choice("include_top", include_top, (True, False))  # "False" from a config file is truthy
    check_choice("pooling", pooling, POOLINGS)
    check_activation("classifier_activation", classifier_activation)
    classes = check_classes(arch.default_classes if classes is None else classes)
    if input_tensor is not None and not keras.backend.is_keras_tensor(input_tensor):
        raise ValueError(  # keras.Input(tensor=...) takes only Keras tensors
            "`input_tensor` must be None or a Keras tensor (e.g. keras.Input(shape=(224, 224, 3))); "
            f"received input_tensor of type {type(input_tensor).__name__}."
        )
    if input_shape is None and input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    weights_source = registry.resolve(weights, model_id, variant=variant, shortcut=shortcut, kind=arch.kind)
    custom = include_preprocessing if isinstance(include_preprocessing, layers.Layer) else None
    preprocessing = None if custom else _preprocessing(include_preprocessing, weights_source, arch)
    crop = preprocessing is not None and arch.stem == "imagenet"  # raw images of any size
    input_shape = check_input_shape(input_shape, arch.default_size, include_top and not crop)
    if preprocessing is not None and input_shape[2] != 3:
        raise ValueError(
            f"include_preprocessing={include_preprocessing!r} normalises RGB images: the input must have 3 "
            f"channels; received input_shape={input_shape!r}."
        )
    network_shape = (arch.default_size, arch.default_size, input_shape[2]) if crop else input_shape
    if isinstance(weights_source, dict):  # a registry entry; a user's own file is checked on loading
        registry.check_compatible(weights_source, include_top=include_top, classes=classes, input_shape=network_shape)

    inputs = layers.Input(shape=input_shape) if input_tensor is None else input_tensor

    x = inputs if custom is None else custom(inputs)
    if crop:
        x = CentreCrop(arch.default_size, preprocessing.get("crop_fraction", CROP_FRACTION), name="preprocessing_crop")(x)
    if preprocessing is not None:
        x = ImageNormalization(preprocessing["mode"], name="preprocessing_normalization")(x)
    x = _stem(x, arch)
    for stage, (blocks, filters) in enumerate(zip(arch.blocks, arch.filters), start=2):
        for index in range(1, blocks + 1):
            x = block(
                x,
                filters,
                kind=arch.kind,
                stride=2 if index == 1 and stage > 2 else 1,
                shortcut=shortcut,
                variant=variant,
                residual=residual,
                name=f"conv{stage}_block{index}",
            )

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        # Under a mixed-precision policy the classifier (and its softmax) stays float32.
        head_dtype = "float32" if keras.config.dtype_policy().name.startswith("mixed") else None
        x = layers.Dense(classes, activation=classifier_activation, name="predictions", dtype=head_dtype)(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)

    model_inputs = inputs if input_tensor is None else keras.utils.get_source_inputs(input_tensor)
    _allow_graph_depth(8 * sum(arch.blocks))  # <= 7 layers a block, plus stem and head
    model = keras.Model(model_inputs, x, name=name or model_id)
    if weights_source is not None:
        pretrained.load(model, weights_source, include_top=include_top)
    return model


def build_by_id(model: str, **kwargs) -> keras.Model:
    """Build from a registry id: resnet50, plainnet34, cifar_resnet20, cifar_plainnet56, ..."""
    arch, residual = registry.parse_model_id(model)
    return build_resnet(arch, residual=residual, **kwargs)


def _preprocessing(include_preprocessing: bool | str | None, weights_source, arch: Architecture) -> dict | None:
    """{mode, crop_fraction} to bake in: the registry weights' own for True (and for None with
    CIFAR-10 registry weights), or a named mode."""
    if include_preprocessing is not None and not isinstance(include_preprocessing, bool) and include_preprocessing not in MODES:
        raise ValueError(
            f"`include_preprocessing` must be one of {[None, False, True, *MODES]} or a keras Layer; "
            f"received include_preprocessing={include_preprocessing!r}."
        )
    if include_preprocessing is None:
        include_preprocessing = isinstance(weights_source, dict) and arch.stem == "cifar"
    if include_preprocessing is False:
        return None
    if include_preprocessing is True:
        if not isinstance(weights_source, dict):
            raise ValueError(
                "include_preprocessing=True uses the normalisation of registry weights; with "
                f"weights={weights_source if weights_source is None else str(weights_source)!r} "
                f"pass the mode instead: include_preprocessing one of {list(MODES)}."
            )
        return weights_source["preprocessing"]
    return {"mode": include_preprocessing}


def _allow_graph_depth(layers_count: int) -> None:
    """Keras walks functional graphs recursively (building, cloning, `load_model`): the
    1202-layer net (4,210 layers) needs more than Python's default stack depth of 1,000.
    Raised for the process, never lowered, so the built model can also be saved and reloaded."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 2 * layers_count + 1000))


def _stem(x, arch: Architecture):
    if arch.stem == "imagenet":  # 7x7/2 conv, 3x3/2 max-pool (ReLU output >= 0, so zero-pad = -inf pad)
        x = layers.Activation("relu", name="conv1_relu")(conv_bn(x, 64, 7, 2, "conv1"))
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
        return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    return layers.Activation("relu", name="conv1_relu")(conv_bn(x, arch.filters[0], 3, 1, "conv1"))


def _depth_builder(arch: Architecture, residual: bool, family: str, doc: str) -> Callable[..., keras.Model]:
    """A public entry for one depth (ResNet50, CifarResNet20, ...): the keras.applications
    signature, plus `shortcut`, `variant` and `include_preprocessing`."""

    def builder(
        include_top: bool = True,
        weights: str | None = None,
        input_tensor=None,
        input_shape: tuple | None = None,
        pooling: str | None = None,
        classes: int = arch.default_classes,
        classifier_activation: str | Callable | None = "softmax",
        name: str | None = None,
        shortcut: str | None = None,
        variant: str = "v1",
        include_preprocessing: bool | str | None = None,
    ) -> keras.Model:
        return build_resnet(
            arch,
            residual=residual,
            shortcut=shortcut,
            variant=variant,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
            name=name,
            include_preprocessing=include_preprocessing,
        )

    builder.__name__ = builder.__qualname__ = f"{family}{arch.depth}"
    builder.__doc__ = doc
    return builder


def _imagenet_builder(depth: int, residual: bool) -> Callable[..., keras.Model]:
    arch = IMAGENET[depth]
    family = "ResNet" if residual else "PlainNet"
    return _depth_builder(arch, residual, family, (
        f"{family}-{depth} for ImageNet ({arch.kind} blocks {list(arch.blocks)}"
        f"{'' if residual else ', no shortcuts'}), keras.applications signature.\n\n"
        "`variant`: \"v1\" (paper: a bottleneck strides in its first 1x1 conv) or \"v1.5\" "
        "(torchvision/timm: in the 3x3).\n"
        + ("`shortcut`: \"A\", \"B\" (default) or \"C\".\n" if residual else "")
    ))


def _cifar_depth_builder(depth: int, residual: bool) -> Callable[..., keras.Model]:
    arch = cifar_by_depth(depth)
    family = "CifarResNet" if residual else "CifarPlainNet"
    return _depth_builder(arch, residual, family, (
        f"The {depth}-layer CIFAR-10 {'ResNet' if residual else 'plain net'} of Section 4.2 "
        f"(= {family}(n={arch.blocks[0]})), keras.applications signature; model name "
        f"{registry.model_id(arch, residual)!r}.\n\n"
        "`variant` is accepted for a uniform signature: basic blocks are the same in v1 and v1.5.\n"
        + ("`shortcut`: \"A\" (paper, default), \"B\" or \"C\".\n" if residual else "")
    ))


def _cifar_builder(residual: bool) -> Callable[..., keras.Model]:
    family = "CifarResNet" if residual else "CifarPlainNet"
    depths = CIFAR_RESNET_DEPTHS if residual else CIFAR_PLAIN_DEPTHS

    def builder(
        n: int,
        include_top: bool = True,
        weights: str | None = None,
        input_tensor=None,
        input_shape: tuple | None = None,
        pooling: str | None = None,
        classes: int = 10,
        classifier_activation: str | Callable | None = "softmax",
        name: str | None = None,
        shortcut: str | None = None,
        include_preprocessing: bool | str | None = None,
    ) -> keras.Model:
        arch = cifar(n)
        if n in depths:  # legal, but most likely a depth passed as n (the CLI takes depths)
            warnings.warn(
                f"{family}(n={n}) builds the {arch.depth}-layer net (6n+2 layers); the {n}-layer net "
                f"is {family}{n}() or {family}({(n - 2) // 6}).",
                stacklevel=2,
            )
        return build_resnet(
            arch,
            residual=residual,
            shortcut=shortcut,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
            name=name,
            include_preprocessing=include_preprocessing,
        )

    builder.__name__ = builder.__qualname__ = family
    builder.__doc__ = (
        f"The 6n+2-layer CIFAR-10 {'ResNet' if residual else 'plain net'} of Section 4.2: 3x3 conv 16, "
        "three stages of n basic blocks on 32/16/8 maps with 16/32/64 filters, global average "
        "pool, 10-way classifier. Any n >= 1 (n=200 is the 1202-layer net); the model's name "
        f"gives the depth ({'cifar_resnet' if residual else 'cifar_plainnet'}20 for n=3). "
        f"By depth: {family}20, {family}32, ...\n"
        + ("`shortcut`: \"A\" (paper, default), \"B\" or \"C\".\n" if residual else "")
    )
    return builder


ResNet18, ResNet34, ResNet50, ResNet101, ResNet152 = (_imagenet_builder(d, True) for d in IMAGENET)
PlainNet18, PlainNet34, PlainNet50, PlainNet101, PlainNet152 = (_imagenet_builder(d, False) for d in IMAGENET)
CifarResNet = _cifar_builder(True)
CifarPlainNet = _cifar_builder(False)
CifarResNet20, CifarResNet32, CifarResNet44, CifarResNet56, CifarResNet110, CifarResNet1202 = (
    _cifar_depth_builder(d, True) for d in CIFAR_RESNET_DEPTHS
)
CifarPlainNet20, CifarPlainNet32, CifarPlainNet44, CifarPlainNet56, CifarPlainNet110 = (
    _cifar_depth_builder(d, False) for d in CIFAR_PLAIN_DEPTHS
)
