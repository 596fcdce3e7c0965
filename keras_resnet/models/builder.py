"""The one builder: any network of the paper or its family from its architecture row, in named steps
(arguments, weights, input and its preprocessing, stem, stages, head, weights loaded). The
public entries (`networks`) and the model ids (`build_by_id`) are single calls to it."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import keras
from keras import layers

from keras_resnet.core.architectures import (
    MIN_INPUT_SIZE,
    VARIANTS,
    Architecture,
    model_id,
    parse_model_id,
)
from keras_resnet.core.arguments import check_choice, check_classes, is_integer
from keras_resnet.core.names import CLASSIFIER, POST, RELU, STEM, block_name
from keras_resnet.models.blocks import block, bn_relu, conv, conv_bn
from keras_resnet.models.layers import channel_axis, graph_depth, use_fast_kernels
from keras_resnet.models.preprocessing import CROP_FRACTION, MODES, CentreCrop, normalize
from keras_resnet.pretrained.registry import Preprocessing
from keras_resnet.pretrained.request import WeightsSource, resolve_weights

POOLINGS = (None, "avg", "max")
Activation = str | Callable | None
InputPreprocessing = bool | str | layers.Layer | None


def build_resnet(
    arch: Architecture,
    *,
    residual: bool = True,
    shortcut: str | None = None,
    variant: str | None = None,
    include_top: bool = True,
    weights: str | None = None,
    input_tensor=None,
    input_shape: tuple | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    classifier_activation: Activation = "softmax",
    name: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """Build any network of the paper or its family from its architecture row.

    `shortcut=None` takes the network's choice: the paper's option A on CIFAR, option B on
    ImageNet, B for V2, ResNeXt and Wide ResNet, D for ResNet-D. Plain nets have no shortcut,
    so they accept only `shortcut=None`. `variant=None` is the published net's stride
    placement (v1.5 for the family), else the paper's "v1".
    `include_preprocessing`: True bakes the pretrained weights' input normalisation (and, for
    ImageNet nets, a centre crop to the default size from images of any size) into the model,
    so it takes raw RGB 0-255 images; a mode ("caffe", "torch", "tf") chooses it by hand;
    a layer (e.g. `PixelMean`, the paper's training normalisation) is applied as given.
    None (the default) is True for the registry's CIFAR-10 weights, whose users feed raw
    images (a normalisation missed there gives chance accuracy and fine-tuning that diverges),
    and False otherwise: ImageNet weights take `preprocess_input`-ed images, as in
    keras.applications, so its users are not normalised twice.
    """
    default_name = model_id(arch, residual)  # refuses a plain twin of the family's nets
    shortcut = _shortcut(arch, residual, shortcut)
    variant = _variant(arch, variant)
    classes = _check_arguments(arch, include_top, pooling, classifier_activation, classes, input_tensor)
    with (resolve_weights(weights, default_name, variant=variant, shortcut=shortcut, kind=arch.kind) as source,
          graph_depth(14 * sum(arch.blocks))):  # <= 13 layers a block, plus stem and head
        _check_weights_network(source, default_name)
        variant = _weights_variant(arch, variant, source)
        custom = include_preprocessing if isinstance(include_preprocessing, layers.Layer) else None
        preprocessing = _preprocessing(include_preprocessing, source, arch) if custom is None else None
        if input_shape is None and input_tensor is not None:
            input_shape = tuple(input_tensor.shape[1:])
        input_shape = _input_shape(arch, input_shape, source, preprocessing, include_preprocessing, include_top,
                                   classes)
        inputs = layers.Input(shape=input_shape) if input_tensor is None else input_tensor
        x = _preprocess(inputs, preprocessing) if custom is None else custom(inputs)
        x = _stages(_stem(x, arch), arch, residual, shortcut, variant)
        if arch.preact:  # the last block's addition is not yet normalised (keras' V2 `post_bn`)
            x = bn_relu(x, POST)
        x = _head(x, include_top, pooling, classes, classifier_activation)

        model_inputs = inputs if input_tensor is None else keras.utils.get_source_inputs(input_tensor)
        model = keras.Model(model_inputs, x, name=name or default_name)
        if source is not None:
            source.load_into(model, include_top=include_top)
        return use_fast_kernels(model)


def build_by_id(model: str, **kwargs) -> keras.Model:
    """Build from a registry id: resnet50, plainnet34, cifar_resnet20, cifar_plainnet56, ..."""
    arch, residual = parse_model_id(model)
    return build_resnet(arch, residual=residual, **kwargs)


def _shortcut(arch: Architecture, residual: bool, shortcut: str | None) -> str | None:
    """The network's option (A on CIFAR, B on ImageNet, the family's own) unless one is chosen
    among those it accepts."""
    if not residual:
        if shortcut is not None:
            raise ValueError(f"Plain nets have no shortcuts: `shortcut` must be None; received {shortcut!r}.")
        return None
    accepted = arch.accepted_shortcuts()
    shortcut = shortcut if shortcut is not None else arch.default_shortcut
    if shortcut not in accepted:
        raise ValueError(
            f"`shortcut` must be one of {accepted} for {model_id(arch)}"
            f"{' (the published net has only these)' if arch.shortcuts else ''}; received shortcut={shortcut!r}."
        )
    return shortcut


def _variant(arch: Architecture, variant: str | None) -> str | None:
    """The published net's stride placement (the family's), else the one asked for (None: the
    weights')."""
    if variant is not None:
        check_choice("variant", variant, VARIANTS)
    if arch.variant is not None and variant not in (None, arch.variant):
        raise ValueError(
            f"{model_id(arch)} strides as published, in its 3x3 convs: `variant` must be None or "
            f"{arch.variant!r}; received variant={variant!r}."
        )
    return arch.variant or variant


def _check_weights_network(source: WeightsSource | None, model: str) -> None:
    """Weights that say which network they are (a timm config's architecture) build that one
    only: refused naming its builder."""
    if source is None or source.model in (None, model):
        return
    from keras_resnet.models.networks import ENTRIES  # networks is built on this module

    entry = f"keras_resnet.{ENTRIES[source.model]}(weights=...) or " if source.model in ENTRIES else ""
    raise ValueError(f"weights={source.argument!r} are for {source.model}, not {model}: build it with "
                     f"{entry}keras_resnet.build_by_id({source.model!r}, weights=...).")


def _weights_variant(arch: Architecture, variant: str | None, source: WeightsSource | None) -> str:
    """The stride placement the weights were trained with, where it matters (bottlenecks): a
    registry entry's (`entry_for` refused one that contradicts `variant`) or a file's layout's;
    else the one asked for, else the paper's v1. A file asked into the other placement loads
    (the shapes are the same) but computes another function: warned. The family's nets stride
    as published (`_variant`)."""
    known = source.variant if source is not None else None
    if arch.kind == "bottleneck" and arch.variant is None and variant is not None and known not in (None, variant):
        warnings.warn(
            f"weights={source.argument!r} are laid out for variant={known!r} (a bottleneck strides in its "
            f"{'first 1x1' if known == 'v1' else '3x3'} conv), but variant={variant!r} was asked: the weights "
            f"load, but the network differs from theirs and so do its outputs. Pass variant={known!r} or None.",
            stacklevel=4,
        )
    return variant or known or "v1"


def _check_arguments(arch: Architecture, include_top: bool, pooling: str | None,
                     classifier_activation: Activation, classes: int | None, input_tensor) -> int:
    """Refuse what the Keras layers would take silently or fail on late; the number of classes."""
    check_choice("include_top", include_top, (True, False))  # "False" from a config file is truthy
    check_choice("pooling", pooling, POOLINGS)
    check_activation("classifier_activation", classifier_activation)
    classes = check_classes(arch.default_classes if classes is None else classes)
    if input_tensor is not None and not keras.backend.is_keras_tensor(input_tensor):
        raise ValueError(  # keras.Input(tensor=...) takes only Keras tensors
            "`input_tensor` must be None or a Keras tensor (e.g. keras.Input(shape=(224, 224, 3))); "
            f"received input_tensor of type {type(input_tensor).__name__}."
        )
    return classes


def _preprocessing(include_preprocessing: bool | str | None, source: WeightsSource | None,
                   arch: Architecture) -> Preprocessing | None:
    """The input preprocessing to bake in: the registry weights' own for True (and for None
    with CIFAR-10 registry weights), or a named mode (with the family's evaluation crop)."""
    named = isinstance(include_preprocessing, bool) or include_preprocessing in MODES
    if include_preprocessing is not None and not named:
        raise ValueError(
            f"`include_preprocessing` must be one of {[None, False, True, *MODES]} or a keras Layer; "
            f"received include_preprocessing={include_preprocessing!r}."
        )
    if include_preprocessing is None:
        include_preprocessing = source is not None and source.preprocessing is not None and arch.family == "cifar"
    if include_preprocessing is False:
        return None
    if include_preprocessing is True:
        if source is None or source.preprocessing is None:
            raise ValueError(
                "include_preprocessing=True uses the normalisation of registry weights; with "
                f"weights={source if source is None else source.argument!r} "
                f"pass the mode instead: include_preprocessing one of {list(MODES)}."
            )
        return source.preprocessing
    crop_fraction = CROP_FRACTION if arch.family == "imagenet" else None
    return Preprocessing(include_preprocessing, arch.default_size, crop_fraction)


def _input_shape(arch: Architecture, input_shape: tuple | None, source: WeightsSource | None,
                 preprocessing: Preprocessing | None, include_preprocessing: InputPreprocessing,
                 include_top: bool, classes: int) -> tuple:
    """The model's input shape, checked: images of any size where the model crops them, and
    the network behind the crop fit for the registry weights."""
    crop = preprocessing is not None and preprocessing.crop_fraction is not None
    trained = source.preprocessing if source is not None and source.preprocessing is not None else None
    default_size = arch.default_size if trained is None else trained.size  # a timm config's input_size
    input_shape = check_input_shape(input_shape, default_size, include_top and not crop)
    channels = input_shape[0 if channel_axis() == 1 else -1]
    if preprocessing is not None and channels != 3:
        raise ValueError(
            f"include_preprocessing={include_preprocessing!r} normalises RGB images: the input must have 3 "
            f"channels; received input_shape={input_shape!r} ({keras.config.image_data_format()})."
        )
    if source is not None:
        network_shape = (preprocessing.size, preprocessing.size, channels) if crop else _channels_last(input_shape)
        source.check_fits(include_top=include_top, classes=classes, input_shape=network_shape)
    return input_shape


def _channels_last(shape: tuple) -> tuple:
    return shape[1:] + shape[:1] if channel_axis() == 1 else shape


def _preprocess(x, preprocessing: Preprocessing | None):
    """Raw RGB 0-255 images into what the network expects: centre-cropped (ImageNet, any size;
    `CentreCrop` says why that one is the package's layer) and normalised (stock layers); for a
    timm config, as `timm.data.create_transform` evaluates."""
    if preprocessing is None:
        return x
    if preprocessing.crop_fraction is not None:
        x = CentreCrop(preprocessing.size, preprocessing.crop_fraction, preprocessing.interpolation,
                       resize_first=preprocessing.resize_first, name="preprocessing_crop")(x)
    return normalize(x, preprocessing.mode, "preprocessing_normalization", preprocessing.mean, preprocessing.std)


def _stem(x, arch: Architecture):
    """The paper's (conv-BN-ReLU), or for pre-activation nets a conv alone (with a bias, as
    keras' V2), whose BN-ReLU the first block applies."""
    if arch.stem == "deep":  # timm's ResNet-C/D/S/T: three 3x3 convs of the row's widths, the first strided
        for i, filters in enumerate(arch.stem_widths, start=1):
            unit = f"{STEM}_{i}"
            x = layers.Activation("relu", name=unit + RELU)(conv_bn(x, filters, 3, 2 if i == 1 else 1, unit))
    elif arch.preact:
        x = conv(x, *((64, 7, 2) if arch.stem == "imagenet" else (arch.filters[0], 3, 1)), STEM, use_bias=True)
    elif arch.stem == "imagenet":
        x = layers.Activation("relu", name=f"{STEM}{RELU}")(conv_bn(x, 64, 7, 2, STEM))
    else:
        return layers.Activation("relu", name=f"{STEM}{RELU}")(conv_bn(x, arch.filters[0], 3, 1, STEM))
    if arch.stem == "cifar":
        return x
    # 3x3/2 max-pool; its zero padding is -inf padding after a ReLU, and keras' V2 pads so too
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _stages(x, arch: Architecture, residual: bool, shortcut: str | None, variant: str):
    """conv2_x to conv5_x (conv4_x on CIFAR): each stage but the first halves the size, in its
    first block (keras' V2: each stage but the last, in its last block)."""
    last_stage = len(arch.blocks) + 1
    for stage, (blocks, filters, width) in enumerate(zip(arch.blocks, arch.filters, arch.width), start=2):
        if arch.downsample == "first":
            strided = 1 if stage > 2 else None
        else:
            strided = blocks if stage < last_stage else None
        for index in range(1, blocks + 1):
            x = block(
                x,
                filters,
                kind=arch.kind,
                stride=2 if index == strided else 1,
                shortcut=shortcut,
                variant=variant,
                residual=residual,
                preact=arch.preact,
                width=width,
                groups=arch.groups,
                name=block_name(stage, index),
            )
    return x


def _head(x, include_top: bool, pooling: str | None, classes: int, classifier_activation: Activation):
    """Global average pool and the classifier, or the feature map, pooled as asked."""
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        # Under a mixed-precision policy the classifier (and its softmax) stays float32.
        head_dtype = "float32" if keras.config.dtype_policy().name.startswith("mixed") else None
        return layers.Dense(classes, activation=classifier_activation, name=CLASSIFIER, dtype=head_dtype)(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def check_activation(argument: str, activation: Any) -> None:
    """Resolved here so that a typo fails at once, naming the argument, not inside Keras."""
    try:
        keras.activations.get(activation)
    except (ValueError, TypeError):
        raise ValueError(
            f"`{argument}` must be None, a callable or the name of a Keras activation "
            f"(e.g. 'softmax', 'linear'); received {argument}={activation!r}."
        ) from None


def check_input_shape(input_shape: Any, default_size: int, include_top: bool) -> tuple:
    """Resolve the input shape in `keras.config.image_data_format()`'s layout, as
    keras.applications: (height, width, channels) or (channels, height, width); a fixed
    default size with the classifier, any size (None) without it."""
    first = channel_axis() == 1
    layout = "(channels, height, width), channels_first" if first else "(height, width, channels), channels_last"
    if input_shape is None:
        size = default_size if include_top else None
        return (3, size, size) if first else (size, size, 3)
    try:  # a string or bytes iterates too, into characters or small ints
        shape = () if isinstance(input_shape, (str, bytes)) else tuple(input_shape)
    except TypeError:  # not iterable: an int, a float
        shape = ()
    if len(shape) != 3 or not all(d is None or (is_integer(d) and d > 0) for d in shape):
        raise ValueError(
            f"`input_shape` must be {layout} (keras.config.image_data_format()), with positive integers or "
            f"None for height and width; received input_shape={input_shape!r}."
        )
    channels, size = (shape[0], shape[1:]) if first else (shape[2], shape[:2])
    if channels is None:
        raise ValueError(
            f"`input_shape` must give the number of channels, {layout}; received input_shape={input_shape!r}."
        )
    if any(d is not None and d < MIN_INPUT_SIZE for d in size):
        raise ValueError(
            f"`input_shape` must be at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} (height x width), read as {layout}; "
            f"received input_shape={input_shape!r}."
        )
    return tuple(None if d is None else int(d) for d in shape)
