"""Every builder argument gets an answer: a model of the right shapes, or a ValueError that
names a wrong argument; never another exception.

The expected answer is worked out here from the documented rules, not from the package:
each stride-2 step maps a size s to ceil(s / 2) (ImageNet: 7x7/2 conv, 3x3/2 max-pool and
three strided stages; CIFAR: two strided stages), the last stage has 512 (basic blocks),
2048 (bottleneck) or 64 (CIFAR) channels, inputs are at least 32x32 (keras.applications),
and pretrained weights exist only for the published configurations.
"""

import re

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import keras_resnet as kr

# Reproducible in CI; a model build takes 0.2 s (CIFAR n=1) to 4 s (ResNet-152) on 2 cores.
FIXED = dict(derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])

IMAGENET_CHANNELS = {18: 512, 34: 512, 50: 2048, 101: 2048, 152: 2048}
TIMM_DEPTHS = (26, 200)  # timm's resnet26 and resnet200: residual only (no plain twins)
IMAGENET_BUILDERS = [(getattr(kr, f"{family}{depth}"), depth, family == "ResNet")
                     for depth in IMAGENET_CHANNELS for family in ("ResNet", "PlainNet")]
CIFAR10_N = (3, 5, 7, 9)  # the shipped cifar10 weights: ResNet-20/32/44/56, shortcut A
MIN_SIZE = 32
VALID_ACTIVATIONS = (None, "softmax", "sigmoid", "linear", keras.activations.relu)

# Valid values, and values of any kind (valid or not) that may replace them.
sizes = st.one_of(st.none(), st.integers(MIN_SIZE, 80), st.integers(81, 10**6))
any_size = st.one_of(sizes, st.integers(-2, MIN_SIZE - 1), st.integers(MIN_SIZE, 64).map(np.int64), st.booleans(),
                     st.floats(allow_nan=True), st.text(max_size=2))
any_channels = st.one_of(st.integers(-1, 4), st.none(), st.booleans(), st.just(3.0), st.just(np.int32(3)), st.just("3"))
any_input_shape = st.one_of(
    st.tuples(any_size, any_size, any_channels),
    st.tuples(any_size, any_size, any_channels).map(list),
    st.lists(st.one_of(any_size, any_channels), max_size=5).map(tuple),  # any length
    st.lists(st.integers(0, 80), min_size=3, max_size=3).map(np.array),  # numpy ints
    st.integers(-5, 300), st.floats(), st.text(max_size=4), st.binary(max_size=3),  # no sequence
)
any_classes = st.one_of(st.integers(-3, 12), st.none(), st.booleans(), st.floats(allow_nan=True),
                        st.just(np.int64(5)), st.just("10"))
ANYTHING = {
    "n": st.one_of(st.integers(-3, 3), st.booleans(), st.floats(), st.none(), st.text(max_size=2),
                   st.just(np.int64(2))),
    "shortcut": st.sampled_from([None, "A", "B", "C", "D", "b", "", 1]),
    "variant": st.sampled_from(["v1", "v1.5", "v2", "V1", "", 1.5, None]),
    "include_top": st.sampled_from([True, False, None, "yes", "False"]),
    "pooling": st.sampled_from([None, "avg", "max", "mean", "AVG", "", 0]),
    "classes": any_classes,
    "input_shape": any_input_shape,
    "classifier_activation": st.sampled_from([*VALID_ACTIVATIONS, "softmaxx", "", 3]),
    "weights": st.sampled_from([None, "cifar10", "imagenet21k", "", "CIFAR10", "no/such/file.h5"]),
}


def is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def shape_ok(shape) -> bool:
    if shape is None:
        return True
    if not isinstance(shape, (tuple, list, np.ndarray)) or len(shape) != 3:
        return False
    height, width, channels = shape
    sizes_ok = all(s is None or (is_int(s) and s >= MIN_SIZE) for s in (height, width))
    return sizes_ok and is_int(channels) and channels >= 1


def wrong_arguments(kw: dict, residual: bool) -> set[str]:
    """The arguments that are wrong on their own (weights are judged by the caller)."""
    shortcuts = (None, "A", "B", "C") if residual else (None,)
    wrong = {
        "shortcut": kw["shortcut"] not in shortcuts,
        "variant": kw.get("variant", "v1") not in ("v1", "v1.5"),
        "include_top": kw["include_top"] is not True and kw["include_top"] is not False,
        "pooling": kw["pooling"] not in (None, "avg", "max"),
        "classes": kw["classes"] is not None and not (is_int(kw["classes"]) and kw["classes"] >= 1),
        "input_shape": not shape_ok(kw["input_shape"]),
        "classifier_activation": not any(kw["classifier_activation"] is a or kw["classifier_activation"] == a
                                         for a in VALID_ACTIVATIONS),
    }
    return {name for name, bad in wrong.items() if bad}


def ceil_halve(size, steps: int):
    for _ in range(steps):
        size = None if size is None else -(-size // 2)
    return size


def expected_shapes(kw: dict, *, steps: int, channels: int, size: int, classes: int) -> tuple[tuple, tuple]:
    """(input shape, output shape) of a valid call."""
    if kw["input_shape"] is None:
        side = size if kw["include_top"] else None
        shape = (side, side, 3)
    else:
        shape = tuple(None if d is None else int(d) for d in kw["input_shape"])
    if kw["include_top"]:
        output = (None, classes if kw["classes"] is None else kw["classes"])
    elif kw["pooling"] is not None:
        output = (None, channels)
    else:
        output = (None, ceil_halve(shape[0], steps), ceil_halve(shape[1], steps), channels)
    return (None, *shape), output


def check(build, wrong: set[str], shapes: tuple[tuple, tuple] | None = None) -> None:
    """No `wrong` argument: builds, with `shapes`; else a ValueError naming one of them."""
    event("refused" if wrong else "built")  # the mix, in --hypothesis-show-statistics
    if wrong:
        with pytest.raises(ValueError) as error:
            build()
        assert re.search("|".join(rf"`{name}`|\b{name}=" for name in wrong), str(error.value)), (wrong, error.value)
    else:
        model = build()
        assert (model.input_shape, model.output_shape) == shapes


def draw_arguments(draw, names: list[str], valid: dict) -> dict:
    """Valid values, then up to two arguments replaced by anything: about a third of the
    calls are valid and build (the costly part), the rest probe the checks."""
    kw = {name: draw(valid[name]) for name in names}
    for name in draw(st.sets(st.sampled_from(names), max_size=2)):
        kw[name] = draw(ANYTHING[name])
    return kw


@st.composite
def cifar_calls(draw, residual=st.booleans(), **valid_for_weights):
    residual = draw(residual)
    valid = {
        "n": st.integers(1, 2),
        "shortcut": st.sampled_from([None, "A", "B", "C"] if residual else [None]),
        "include_top": st.booleans(),
        "pooling": st.sampled_from([None, "avg", "max"]),
        "classes": st.one_of(st.none(), st.integers(1, 12)),
        "input_shape": st.one_of(st.none(), st.tuples(sizes, sizes, st.integers(1, 4))),
        "classifier_activation": st.sampled_from(VALID_ACTIVATIONS),
        "weights": st.sampled_from([None, None, "cifar10"]),
        **valid_for_weights,
    }
    return residual, draw_arguments(draw, list(valid), valid)


def cifar_wrong(residual: bool, kw: dict) -> set[str]:
    wrong = wrong_arguments(kw, residual)
    n = kw["n"]
    if not (is_int(n) and n >= 1):
        wrong.add("n")
    if kw["weights"] is not None:
        channels = kw["input_shape"][2] if shape_ok(kw["input_shape"]) and kw["input_shape"] is not None else 3
        if kw["weights"] != "cifar10" or not residual or n not in CIFAR10_N:
            wrong.add("weights")
        elif kw["shortcut"] not in (None, "A"):
            wrong |= {"weights", "shortcut"}
        elif channels != 3:
            wrong |= {"weights", "input_shape"}
        elif kw["include_top"] is True and kw["classes"] not in (None, 10):
            wrong |= {"weights", "classes"}
    return wrong


def cifar_shapes(kw: dict) -> tuple[tuple, tuple]:
    return expected_shapes(kw, steps=2, channels=64, size=32, classes=10)


def build_cifar(residual: bool, kw: dict):
    builder = kr.CifarResNet if residual else kr.CifarPlainNet
    return lambda: builder(kw["n"], **{k: v for k, v in kw.items() if k != "n"})


@settings(max_examples=80, **FIXED)
@given(cifar_calls())
@example((True, dict(n=1, shortcut=None, include_top=False, pooling=None, classes=None, input_shape=5,
                     classifier_activation=None, weights=None)))  # no sequence: a ValueError, not a TypeError
@example((True, dict(n=1, shortcut=None, include_top=True, pooling=None, classes=None, input_shape=(32, 32, True),
                     classifier_activation="softmax", weights=None)))  # True is no channel count
@example((True, dict(n=np.int64(1), shortcut="A", include_top=True, pooling=None, classes=np.int64(7),
                     input_shape=np.array([40, 33, 3]), classifier_activation="softmax", weights=None)))
def test_cifar_builders(call):
    residual, kw = call
    wrong = cifar_wrong(residual, kw)
    check(build_cifar(residual, kw), wrong, None if wrong else cifar_shapes(kw))


@settings(max_examples=20, **FIXED)
@given(cifar_calls(
    residual=st.sampled_from([True, True, True, False]), n=st.sampled_from(CIFAR10_N), weights=st.just("cifar10"),
    shortcut=st.sampled_from([None, "A"]), classes=st.sampled_from([None, 10]),
    input_shape=st.one_of(st.none(), st.tuples(sizes, sizes, st.just(3))),
))
def test_cifar_pretrained(call):
    """The shipped weights (offline): only for ResNet-20/32/44/56, shortcut A, RGB, 10 classes
    with the classifier; any input size and a new head are fine."""
    residual, kw = call
    wrong = cifar_wrong(residual, kw)
    check(build_cifar(residual, kw), wrong, None if wrong else cifar_shapes(kw))


@st.composite
def imagenet_calls(draw):
    builder, depth, residual = draw(st.sampled_from(IMAGENET_BUILDERS))
    valid = {
        "shortcut": st.sampled_from([None, "A", "B", "C"] if residual else [None]),
        "variant": st.sampled_from(["v1", "v1.5"]),
        "include_top": st.booleans(),
        "pooling": st.sampled_from([None, "avg", "max"]),
        "classes": st.one_of(st.none(), st.integers(1, 12)),
        "input_shape": st.one_of(st.none(), st.tuples(sizes, sizes, st.integers(1, 4))),
        "classifier_activation": st.sampled_from(VALID_ACTIVATIONS),
        "weights": st.just(None),
    }
    return builder, depth, residual, draw_arguments(draw, list(valid), valid)


@settings(max_examples=20, **FIXED)
@given(imagenet_calls())
@example((kr.ResNet50, 50, True, dict(shortcut="C", variant="v1.5", include_top=False, pooling=None, classes=None,
                                      input_shape=(33, 225, 2), classifier_activation=None, weights=None)))
def test_imagenet_builders(call):
    builder, depth, residual, kw = call
    # weights drawn here (cifar10, unknown names, missing files) are all wrong for an ImageNet net
    wrong = wrong_arguments(kw, residual) | ({"weights"} if kw["weights"] is not None else set())
    check(lambda: builder(**kw), wrong,
          None if wrong else expected_shapes(kw, steps=5, channels=IMAGENET_CHANNELS[depth], size=224, classes=1000))


@st.composite
def imagenet_pretrained_mismatches(draw):
    """A request for ImageNet weights with one thing they cannot serve; weights exist only for
    residual nets with projection shortcuts (B), RGB input and, with the classifier, 1000 classes."""
    builder, _, residual = draw(st.sampled_from(IMAGENET_BUILDERS))
    kw = dict(weights=draw(st.sampled_from(["imagenet", "imagenet_v2"])), variant=draw(st.sampled_from(["v1", "v1.5"])),
              input_shape=draw(st.sampled_from([None, (224, 224, 3), (64, 96, 3)])))
    mismatches = ["channels", "classes"] + (["shortcut"] if residual else ["plain"])
    mismatch = draw(st.sampled_from(mismatches))
    if mismatch == "channels":
        kw["input_shape"] = (224, 224, draw(st.sampled_from([1, 4])))
        return builder, kw, {"weights", "input_shape"}
    if mismatch == "classes":
        kw.update(include_top=True, classes=draw(st.sampled_from([1, 10, 999, 1001])))
        return builder, kw, {"weights", "classes"}
    if mismatch == "shortcut":
        kw["shortcut"] = draw(st.sampled_from(["A", "C"]))
        return builder, kw, {"weights", "shortcut"}
    return builder, kw, {"weights"}


@settings(max_examples=40, **FIXED)
@given(imagenet_pretrained_mismatches())
def test_imagenet_weights_refused_before_download(call):
    """Refused before anything is built or downloaded: offline, a download would fail with
    an OSError, and a build would take seconds per example."""
    builder, kw, wrong = call
    check(lambda: builder(**kw), wrong)


cifar_depths = st.one_of(st.integers(-10, 1300), st.integers(1190, 10**6), st.booleans(), st.floats(), st.none(),
                         st.text("abcxyz-_. ", max_size=3))
imagenet_depths = st.one_of(st.sampled_from([*IMAGENET_CHANNELS, *TIMM_DEPTHS]), cifar_depths)


@settings(max_examples=150, **FIXED)
@given(st.one_of(
    st.tuples(st.sampled_from(["resnet", "plainnet"]), imagenet_depths),
    st.tuples(st.sampled_from(["cifar_resnet", "cifar_plainnet"]), cifar_depths),
    st.tuples(st.just(None), st.one_of(st.none(), st.integers(), st.floats())),  # no string at all
))
def test_model_ids(family_depth):
    """`build_by_id` takes exactly resnet|plainnet{18,34,50,101,152}, timm's resnet{26,200} and
    cifar_resnet|cifar_plainnet{6n+2, n >= 1} up to the paper's 1202 layers (an id is text from
    anywhere: a deeper one would build for minutes). A bad `pooling` makes every call fail before
    building: a valid id is then refused for its pooling, an invalid one for itself."""
    family, depth = family_depth
    model = depth if family is None else f"{family}{depth}"
    if family in ("resnet", "plainnet"):
        valid = is_int(depth) and (depth in IMAGENET_CHANNELS or family == "resnet" and depth in TIMM_DEPTHS)
    else:
        valid = family is not None and is_int(depth) and 8 <= depth <= 1202 and (depth - 2) % 6 == 0
    with pytest.raises(ValueError, match="`pooling`" if valid else "`model`"):
        kr.build_by_id(model, include_top=False, pooling="mean")


def test_input_tensor_must_be_a_keras_tensor():
    """keras.Input(tensor=...) takes only Keras tensors: an array or an int is a ValueError
    naming `input_tensor`."""
    for tensor in (3, np.zeros((1, 32, 32, 3), "float32")):
        with pytest.raises(ValueError, match=r"`input_tensor` must be None or a Keras tensor"):
            kr.CifarResNet(1, input_tensor=tensor)
