"""Bad arguments raise ValueError naming the argument and what is accepted."""

import numpy as np
import pytest

import keras_resnet as kr


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: kr.ResNet50(shortcut="D"), r"`shortcut` must be one of \['A', 'B', 'C'\]"),
        (lambda: kr.CifarResNet(3, shortcut="b"), r"`shortcut` must be one of"),
        (lambda: kr.PlainNet34(shortcut="B"), r"Plain nets have no shortcuts"),
        (lambda: kr.ResNet50(variant="v2"), r"`variant` must be one of \['v1', 'v1.5'\]"),
        (lambda: kr.CifarResNet(0), r"`n` must be an integer >= 1"),
        (lambda: kr.CifarPlainNet(-2), r"`n` must be an integer >= 1"),
        (lambda: kr.CifarResNet(2.5), r"`n` must be an integer >= 1"),
        (lambda: kr.CifarResNet(True), r"`n` must be an integer >= 1"),
        (lambda: kr.ResNet18(input_shape=(31, 64, 3), include_top=False), r"at least 32x32"),
        (lambda: kr.CifarResNet(3, input_shape=(16, 16, 3)), r"at least 32x32"),
        (lambda: kr.ResNet18(input_shape=(64, 64)), r"`input_shape` must be \(height, width, channels\)"),
        (lambda: kr.ResNet18(input_shape=(64, 64, None)), r"number of channels"),
        (lambda: kr.ResNet18(pooling="mean", include_top=False), r"`pooling` must be one of \[None, 'avg', 'max'\]"),
        (lambda: kr.ResNet18(classes=0), r"`classes` must be a positive integer"),
        (lambda: kr.ResNet18(weights="imagenet21k"),
         r"`weights` must be None, a registry name \(cifar10, imagenet, imagenet_v2\)"),
        (lambda: kr.ResNet18(weights="/no/such/file.h5"), r"`weights` must be None"),
        (lambda: kr.ResNet18(weights="cifar10"), r"weights='cifar10' exist for .*cifar_resnet20.*not for 'resnet18'"),
        (lambda: kr.CifarResNet(3, weights="cifar10", input_shape=(32, 32, 1)), r"must have 3 channels"),
        (lambda: kr.CifarResNet(3, weights="cifar10", classes=100), r"need classes=10; received classes=100"),
        (lambda: kr.CifarResNet(3, weights="cifar10", shortcut="B"),
         r"weights='cifar10' for cifar_resnet20 exist with variant='v1' shortcut='A'; "
         r"received variant=None, shortcut='B'"),
        (lambda: kr.CifarResNet110(weights="cifar10"),
         r"weights='cifar10' exist for .*cifar_resnet56.*not for 'cifar_resnet110'"),
        (lambda: kr.CifarPlainNet20(weights="cifar10"), r"weights='cifar10' exist for .*not for 'cifar_plainnet20'"),
        (lambda: kr.CifarResNet20(variant="v2"), r"`variant` must be one of \['v1', 'v1.5'\]"),
        (lambda: kr.ResNet18(input_shape=(64, 64, 1), include_preprocessing="torch"),
         r"include_preprocessing='torch' normalises RGB images: the input must have 3 channels"),
        (lambda: kr.build_by_id("resnet51"), r"`model` must be"),
        (lambda: kr.build_by_id("resnet018"), r"`model` must be"),
        (lambda: kr.build_by_id("resnet\u0665\u0660"), r"`model` must be"),  # Arabic-Indic 50
        (lambda: kr.ResNet50(weights="imagenet_v2", variant="v1"),
         r"weights='imagenet_v2' for resnet50 exist with variant='v1.5' shortcut='B'; received variant='v1'"),
        (lambda: kr.ResNet152(weights="imagenet_v2", variant="v1.5"),
         r"weights='imagenet_v2' exist for \['resnet101', 'resnet50', 'resnext101_32x8d', .*\], not for 'resnet152'"),
        (lambda: kr.ResNet50(weights="imagenet", shortcut="C"),
         r"exist with variant='v1' shortcut='B', variant='v1.5' shortcut='B'; received variant=None, shortcut='C'"),
        (lambda: kr.ResNet18(weights="imagenet", classes=10),
         r"weights='imagenet' with include_top=True need classes=1000; received classes=10"),
    ],
)
def test_bad_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_pretrained_allows_new_head_and_grey_input_without_weights():
    """The same arguments are fine where no pretrained weights constrain them."""
    assert kr.CifarResNet(3, weights="cifar10", include_top=False, classes=100).output.shape[-1] == 64
    assert kr.CifarResNet(3, input_shape=(32, 32, 1), classes=100).output.shape == (None, 100)


def test_input_tensor():
    import keras

    tensor = keras.Input((48, 48, 3))
    model = kr.ResNet18(input_tensor=tensor, include_top=False, pooling="max")
    assert model.inputs[0] is tensor
    assert model.predict(np.zeros((1, 48, 48, 3), "float32"), verbose=0).shape == (1, 512)


@pytest.mark.parametrize("typed, meant", [
    ("resnext50", "resnext50_32x4d"), ("resnet5O", "resnet50"), ("cifar_resnet2O", "cifar_resnet20"),
    ("resnet56", "cifar_resnet56"),  # the CIFAR net first: it holds what was typed (resnet20: timm's resnet200)
    ("cifar_resnet21", "cifar_resnet20"), ("CifarResNet20", "cifar_resnet20"), ("cifar-resnet20", "cifar_resnet20"),
])
def test_a_misspelt_model_id_gets_the_named_models_it_resembles_best_first(typed, meant):
    """Up to three ids, best first: the one spelt the same but for case and "_", else those that
    hold what was typed, then the closest (a tie to the longer common start)."""
    with pytest.raises(ValueError, match=rf"received model='{typed}'\. Did you mean '{meant}'(\?|, '[a-z0-9_]+' or "
                                         r"'[a-z0-9_]+'\?)$"):
        kr.build_by_id(typed)


@pytest.mark.parametrize("model", ["cifar_resnet120002", "cifar_plainnet1208", "cifar_preact_resnet1208"])
def test_a_model_id_deeper_than_the_papers_deepest_is_refused_before_building(model):
    """An id is text from anywhere (`export cifar_resnet120002` once built for 10 minutes up to
    12 GB): deeper than ResNet-1202 is refused at once; the builders still build any depth."""
    with pytest.raises(ValueError, match=rf"at most 1202 layers .*received model='{model}'.*CifarResNet\(n\)"):
        kr.build_by_id(model)
