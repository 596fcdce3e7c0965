"""Argument checks shared by the builders: each error names the argument and what is accepted."""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from typing import Any

import keras

from keras_resnet.architectures import MIN_INPUT_SIZE


def display_path(path: str | bytes | os.PathLike) -> str:
    """A path quoted for a one-line message: a file name that is not UTF-8 (which Python holds
    as surrogate escapes) is shown escaped, where printing it raw raises UnicodeEncodeError."""
    return repr(os.fsdecode(path))


def is_integer(value: Any) -> bool:
    """Python and numpy integers (`labels.max() + 1`), but not bools, which Python counts as ints."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_choice(argument: str, value: Any, accepted: Sequence[Any]) -> None:
    if value not in accepted:
        raise ValueError(f"`{argument}` must be one of {list(accepted)}; received {argument}={value!r}.")


def check_classes(classes: Any) -> int:
    if not is_integer(classes) or classes < 1:
        raise ValueError(f"`classes` must be a positive integer; received classes={classes!r}.")
    return int(classes)


def check_top(top: Any, classes: int) -> int:
    if not is_integer(top) or not 1 <= top <= classes:
        raise ValueError(f"`top` must be an integer in [1, {classes}]; received top={top!r}.")
    return int(top)


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
    """Resolve the (height, width, channels) input shape, channels-last, as keras.applications:
    a fixed default size with the classifier, any size (None) without it."""
    if input_shape is None:
        size = default_size if include_top else None
        return (size, size, 3)
    try:  # a string or bytes iterates too, into characters or small ints
        shape = () if isinstance(input_shape, (str, bytes)) else tuple(input_shape)
    except TypeError:  # not iterable: an int, a float
        shape = ()
    if len(shape) != 3 or not all(d is None or (is_integer(d) and d > 0) for d in shape):
        raise ValueError(
            "`input_shape` must be (height, width, channels) with positive integers or None "
            f"for height and width (channels last); received input_shape={input_shape!r}."
        )
    if shape[2] is None:
        raise ValueError(f"`input_shape` must give the number of channels; received input_shape={input_shape!r}.")
    if any(d is not None and d < MIN_INPUT_SIZE for d in shape[:2]):
        raise ValueError(
            f"`input_shape` must be at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} (height x width); "
            f"received input_shape={input_shape!r}."
        )
    return tuple(None if d is None else int(d) for d in shape)
