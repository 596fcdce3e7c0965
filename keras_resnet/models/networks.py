"""The public entries, written out as keras.applications writes its own: one function per
network of the paper, each a single call to the one builder (`builder.build_resnet`), which
it hands its arguments as they are (`**locals()`, its first statement: exactly its signature's).
Each entry's docstring gets the shared text of every argument it takes, the `weights=` names
the registry holds for its model and a short example (`_documented`), as keras.applications
appends its shared docstring.

The CIFAR-10 nets are named by depth as the paper and the command line name them
(CifarResNet20 = CifarResNet(n=3), model name "cifar_resnet20"); `CifarResNet(n)` and
`CifarPlainNet(n)` take the paper's n of 6n+2 layers, any n >= 1.

The family (`core.architectures.FAMILY`) takes the keras.applications arguments, `shortcut` among
those its published net accepts and `include_preprocessing`; its stride placement is the
published one. ResNet50V2/101V2/152V2 are keras.applications' (pre-activation, He et al.
2016); ResNeXt and Wide ResNet torchvision's; ResNet50D timm's (deep stem, average-pool
shortcut, shortcut="D"), and the other nets of timm's with ImageNet weights in common use (its
ResNets by Bag of Tricks letter, ResNeXt-101 32x4d and 32x16d; every timm net built here has a
model id, `build_by_id`); `CifarPreActResNet(n, bottleneck)` the Identity Mappings paper's
CIFAR-10 nets (ResNet-164: n=18, ResNet-1001: n=111, ResNet-110: n=18 and bottleneck=False).
"""

from __future__ import annotations

import inspect
import textwrap
import warnings

import keras

from keras_resnet.core.architectures import (
    CIFAR_PLAIN_DEPTHS,
    CIFAR_RESNET_DEPTHS,
    FAMILY,
    IMAGENET,
    cifar,
    cifar_by_depth,
    cifar_preact,
)
from keras_resnet.models.builder import Activation, InputPreprocessing, build_resnet
from keras_resnet.pretrained.registry import entries

ARGUMENTS = {
    "n": "blocks per stage: the 6n+2-layer net (n=3: ResNet-20, n=200: the 1202-layer net); any n >= 1.",
    "bottleneck": "True: bottleneck blocks, 9n+2 layers (ResNet-164: n=18); False: basic blocks, 6n+2.",
    "include_top": "whether to end in the global average pool and the `classes`-way classifier (`predictions`).",
    "weights": "None (random He initialisation), a registry name (below; `keras_resnet.list_weights()`), the "
               "path to a weights file: ours or keras.applications' `.h5`, a torchvision/timm `.safetensors` or "
               "`.pth` state dict, or a timm repository on the Hugging Face Hub, 'hf://<owner>/<repo>[@<revision>]' "
               "(the `hub` extra). Registry files are downloaded once and verified by SHA-256.",
    "input_tensor": "optional Keras tensor (the output of `keras.Input()`) to use as the model's input.",
    "input_shape": "optional (height, width, channels), or (channels, height, width) under channels_first "
                   "(`keras.config.image_data_format()`); at least 32x32; height and width may be None with "
                   "include_top=False or include_preprocessing. Default: the network's (224 or 32) with 3 channels.",
    "pooling": "with include_top=False: None (the last stage's 4-D feature map), 'avg' or 'max' (global pooling "
               "to a 2-D tensor).",
    "classes": "the classifier's number of classes; registry weights with include_top=True need theirs.",
    "classifier_activation": "the classifier's activation: a Keras activation name ('softmax', 'linear'), a "
                             "callable, or None for logits.",
    "name": "the model's name; default: its model id (e.g. 'resnet50', 'cifar_resnet20').",
    "shortcut": "'A' (zero-padded identity), 'B' (projection where the shape changes), 'C' (projections "
                "everywhere), 'D' (ResNet-D's average-pool projection) among those the network accepts; None: the "
                "paper's or the published net's (A on CIFAR, B on ImageNet). Plain nets accept only None.",
    "variant": "where a bottleneck strides: 'v1' (the paper's: its first 1x1 conv) or 'v1.5' (torchvision's and "
               "timm's: its 3x3); None: the weights' own, else 'v1'. Basic blocks are the same in both.",
    "include_preprocessing": "True: bake the pretrained weights' input normalisation (and, on ImageNet nets, a "
                             "centre crop from any size) into the model, which then takes raw RGB 0-255 images; "
                             "a mode ('caffe', 'torch', 'tf') chooses it by hand; a Keras layer is applied as "
                             "given; None: True for the registry's CIFAR-10 weights, else False.",
}


ENTRIES: dict[str, str] = {}  # model id: the name of its entry (`_documented` fills it), for messages


def _documented(model: str, first: str = ""):
    """Append the shared text of the entry's arguments, its model's registry weights and a
    three-line example to its docstring, so that `help(keras_resnet.ResNet50)` says it all.
    `first`: the leading positional arguments of the example's call (CifarResNet's n)."""

    def document(entry):
        ENTRIES[model] = entry.__name__
        arguments = "\n".join(textwrap.fill(f"{a}: {ARGUMENTS[a]}", 100, initial_indent="    ",
                                             subsequent_indent="        ") for a in inspect.signature(entry).parameters)
        offered = {e.name: e for e in entries() if e.model == model}
        described = sorted(f"{e.name!r} ({e.variant}, {e.source.split(' (')[0]})"
                           for e in entries() if e.model == model)
        call = f"keras_resnet.{entry.__name__}({first}{', ' if first else ''}"
        if offered:
            name = min(offered)
            dataset = "cifar10" if offered[name].class_names == "cifar10" else "imagenet"
            example = (f"model = {call}weights={name!r}, include_preprocessing=True)  # takes RGB 0-255\n"
                       f"scores = model.predict(images)\n"
                       f"print(keras_resnet.decode_predictions(scores, top=3, dataset={dataset!r}))")
        else:
            example = (f"model = {call}classes=10)\n"
                       f'model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])\n'
                       f"model.fit(images, labels, epochs=1)")
        entry.__doc__ = (f"{entry.__doc__}\n\nArgs:\n{arguments}\n\nRegistry weights for {model}: "
                         f"{'; '.join(described) or 'none published (train it, or load a file)'}.\n\n"
                         f"Example:\n{textwrap.indent(example, '    ')}\n\nReturns:\n    A `keras.Model`.")
        return entry

    return document


@_documented("resnet18")
def ResNet18(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 18-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[18], residual=True, **locals())


@_documented("resnet34")
def ResNet34(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 34-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[34], residual=True, **locals())


@_documented("resnet50")
def ResNet50(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 50-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[50], residual=True, **locals())


@_documented("resnet101")
def ResNet101(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 101-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[101], residual=True, **locals())


@_documented("resnet152")
def ResNet152(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 152-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[152], residual=True, **locals())


@_documented("plainnet18")
def PlainNet18(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 18-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[18], residual=False, **locals())


@_documented("plainnet34")
def PlainNet34(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 34-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[34], residual=False, **locals())


@_documented("plainnet50")
def PlainNet50(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 50-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[50], residual=False, **locals())


@_documented("plainnet101")
def PlainNet101(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 101-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[101], residual=False, **locals())


@_documented("plainnet152")
def PlainNet152(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 152-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[152], residual=False, **locals())


@_documented("cifar_resnet20")
def CifarResNet20(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 20-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(20), residual=True, **locals())


@_documented("cifar_resnet32")
def CifarResNet32(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 32-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(32), residual=True, **locals())


@_documented("cifar_resnet44")
def CifarResNet44(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 44-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(44), residual=True, **locals())


@_documented("cifar_resnet56")
def CifarResNet56(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 56-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(56), residual=True, **locals())


@_documented("cifar_resnet110")
def CifarResNet110(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 110-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(110), residual=True, **locals())


@_documented("cifar_resnet1202")
def CifarResNet1202(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 1202-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(1202), residual=True, **locals())


@_documented("cifar_plainnet20")
def CifarPlainNet20(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 20-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(20), residual=False, **locals())


@_documented("cifar_plainnet32")
def CifarPlainNet32(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 32-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(32), residual=False, **locals())


@_documented("cifar_plainnet44")
def CifarPlainNet44(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 44-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(44), residual=False, **locals())


@_documented("cifar_plainnet56")
def CifarPlainNet56(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 56-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(56), residual=False, **locals())


@_documented("cifar_plainnet110")
def CifarPlainNet110(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 110-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(110), residual=False, **locals())


@_documented("resnet50v2")
def ResNet50V2(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """keras.applications' ResNet50V2: the 50-layer net with pre-activation blocks (He et al. 2016)."""
    return build_resnet(FAMILY["resnet50v2"], residual=True, **locals())


@_documented("resnet101v2")
def ResNet101V2(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """keras.applications' ResNet101V2: the 101-layer net with pre-activation blocks."""
    return build_resnet(FAMILY["resnet101v2"], residual=True, **locals())


@_documented("resnet152v2")
def ResNet152V2(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """keras.applications' ResNet152V2: the 152-layer net with pre-activation blocks."""
    return build_resnet(FAMILY["resnet152v2"], residual=True, **locals())


@_documented("resnext50_32x4d")
def ResNeXt50_32x4d(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNeXt-50 (32x4d), torchvision's: ResNet-50 with its 3x3 convs in 32 groups of width 4 per 64 filters."""
    return build_resnet(FAMILY["resnext50_32x4d"], residual=True, **locals())


@_documented("resnext101_32x8d")
def ResNeXt101_32x8d(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNeXt-101 (32x8d), torchvision's: 32 groups of width 8 per 64 filters."""
    return build_resnet(FAMILY["resnext101_32x8d"], residual=True, **locals())


@_documented("resnext101_64x4d")
def ResNeXt101_64x4d(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNeXt-101 (64x4d), torchvision's: 64 groups of width 4 per 64 filters."""
    return build_resnet(FAMILY["resnext101_64x4d"], residual=True, **locals())


@_documented("wide_resnet50_2")
def WideResNet50_2(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """Wide ResNet-50-2, torchvision's: ResNet-50 with twice the inner (3x3) width."""
    return build_resnet(FAMILY["wide_resnet50_2"], residual=True, **locals())


@_documented("wide_resnet101_2")
def WideResNet101_2(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """Wide ResNet-101-2, torchvision's: ResNet-101 with twice the inner (3x3) width."""
    return build_resnet(FAMILY["wide_resnet101_2"], residual=True, **locals())


@_documented("resnet50d")
def ResNet50D(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNet-50-D, timm's resnet50d (Bag of Tricks, He et al. 2019): deep 3x3 stem, average-pool shortcut."""
    return build_resnet(FAMILY["resnet50d"], residual=True, **locals())


@_documented("resnet18d")
def ResNet18D(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNet-18-D, timm's resnet18d: ResNet-18 with ResNet-50-D's deep stem and average-pool shortcut."""
    return build_resnet(FAMILY["resnet18d"], residual=True, **locals())


@_documented("resnet34d")
def ResNet34D(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNet-34-D, timm's resnet34d: ResNet-34 with ResNet-50-D's deep stem and average-pool shortcut."""
    return build_resnet(FAMILY["resnet34d"], residual=True, **locals())


@_documented("resnet26")
def ResNet26(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNet-26, timm's resnet26: two bottleneck blocks a stage, the stride in the 3x3 (v1.5)."""
    return build_resnet(FAMILY["resnet26"], residual=True, **locals())


@_documented("resnet26d")
def ResNet26D(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNet-26-D, timm's resnet26d: ResNet-26 with a deep stem and average-pool shortcut."""
    return build_resnet(FAMILY["resnet26d"], residual=True, **locals())


@_documented("resnet101d")
def ResNet101D(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNet-101-D, timm's resnet101d: deep 3x3 stem, average-pool shortcut."""
    return build_resnet(FAMILY["resnet101d"], residual=True, **locals())


@_documented("resnet152d")
def ResNet152D(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNet-152-D, timm's resnet152d: deep 3x3 stem, average-pool shortcut."""
    return build_resnet(FAMILY["resnet152d"], residual=True, **locals())


@_documented("resnet200d")
def ResNet200D(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNet-200-D, timm's resnet200d: 3, 24, 36 and 3 bottlenecks, deep stem, average-pool shortcut."""
    return build_resnet(FAMILY["resnet200d"], residual=True, **locals())


@_documented("resnet10t")
def ResNet10T(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNet-10-T, timm's resnet10t: one basic block a stage, a tiered deep stem (24, 32, 64),
    average-pool shortcut."""
    return build_resnet(FAMILY["resnet10t"], residual=True, **locals())


@_documented("resnet26t")
def ResNet26T(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNet-26-T, timm's resnet26t: ResNet-26 with a tiered deep stem (24, 32, 64) and average-pool shortcut."""
    return build_resnet(FAMILY["resnet26t"], residual=True, **locals())


@_documented("resnext101_32x4d")
def ResNeXt101_32x4d(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNeXt-101 (32x4d), timm's: 32 groups of width 4 per 64 filters."""
    return build_resnet(FAMILY["resnext101_32x4d"], residual=True, **locals())


@_documented("resnext101_32x16d")
def ResNeXt101_32x16d(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNeXt-101 (32x16d), timm's (Facebook's weakly supervised nets): 32 groups of width 16 per 64 filters."""
    return build_resnet(FAMILY["resnext101_32x16d"], residual=True, **locals())


@_documented("resnet50c")
def ResNet50C(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNet-50-C, timm's resnet50c: ResNet-50 (v1.5) with the deep 3x3 stem (32, 32, 64) and projection shortcuts."""
    return build_resnet(FAMILY["resnet50c"], residual=True, **locals())


@_documented("resnet50s")
def ResNet50S(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNet-50-S, timm's resnet50s: ResNet-50 (v1.5) with a deep stem twice as wide (64, 64, 128) and
    projection shortcuts."""
    return build_resnet(FAMILY["resnet50s"], residual=True, **locals())


@_documented("cifar_preact_resnet164", "18")
def CifarPreActResNet(
    n: int, bottleneck: bool = True, include_top: bool = True, weights: str | None = None, input_tensor=None,
    input_shape: tuple | None = None, pooling: str | None = None, classes: int = 10,
    classifier_activation: Activation = "softmax", name: str | None = None, shortcut: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The pre-activation CIFAR-10 ResNet of He et al. (2016): 3x3 conv 16, three stages of n
    blocks (BN-ReLU-conv) on 32/16/8 maps, BN-ReLU, global average pool, 10-way classifier;
    bottleneck blocks (16/32/64 x 4 channels) give 9n+2 layers (ResNet-164: n=18, ResNet-1001:
    n=111), basic blocks 6n+2 (ResNet-110: n=18). Model name cifar_preact_resnet164, ...,
    cifar_preact_resnet110_basic."""
    kwargs = {k: v for k, v in locals().items() if k not in ("n", "bottleneck")}
    return build_resnet(cifar_preact(n, bottleneck), residual=True, **kwargs)


@_documented("cifar_resnet20", "3")
def CifarResNet(
    n: int, include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 6n+2-layer CIFAR-10 ResNet of Section 4.2: 3x3 conv 16, three stages of n basic
    blocks on 32/16/8 maps with 16/32/64 filters, global average pool, 10-way classifier. Any
    n >= 1 (n=200 is the 1202-layer net); the model's name gives the depth (cifar_resnet20 for
    n=3). By depth: CifarResNet20, CifarResNet32, ..."""
    return _by_n("CifarResNet", True, **locals())


@_documented("cifar_plainnet20", "3")
def CifarPlainNet(
    n: int, include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """`CifarResNet(n)` without shortcuts (model name cifar_plainnet{6n+2}); by depth: CifarPlainNet20, ..."""
    return _by_n("CifarPlainNet", False, **locals())


def _by_n(entry: str, residual: bool, n: int, **kwargs) -> keras.Model:
    """The 6n+2-layer net, with a warning where `n` is more likely a depth (the CLI takes depths)."""
    arch = cifar(n)
    if n in (CIFAR_RESNET_DEPTHS if residual else CIFAR_PLAIN_DEPTHS):
        warnings.warn(
            f"{entry}(n={n}) builds the {arch.depth}-layer net (6n+2 layers); the {n}-layer net "
            f"is {entry}{n}() or {entry}({(n - 2) // 6}).",
            stacklevel=3,
        )
    return build_resnet(arch, residual=residual, **kwargs)
