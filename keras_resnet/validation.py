"""Argument checks shared by the builders: each error names the argument and what is accepted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keras_resnet.architectures import MIN_INPUT_SIZE


def check_choice(argument: str, value: Any, accepted: Sequence[Any]) -> None:
    if value not in accepted:
        raise ValueError(f"`{argument}` must be one of {list(accepted)}; received {argument}={value!r}.")


def check_classes(classes: Any) -> int:
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"`classes` must be a positive integer; received classes={classes!r}.")
    return classes


def check_top(top: Any, classes: int) -> int:
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= classes:
        raise ValueError(f"`top` must be an integer in [1, {classes}]; received top={top!r}.")
    return top


def check_input_shape(input_shape: Any, default_size: int, include_top: bool) -> tuple:
    """Resolve the (height, width, channels) input shape, channels-last, as keras.applications:
    a fixed default size with the classifier, any size (None) without it."""
    if input_shape is None:
        size = default_size if include_top else None
        return (size, size, 3)
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(d is None or (isinstance(d, int) and d > 0) for d in shape):
        raise ValueError(
            "`input_shape` must be (height, width, channels) with positive integers or None "
            f"for height and width (channels last); received input_shape={input_shape!r}."
        )
    if shape[2] is None:
        raise ValueError(f"`input_shape` must give the number of channels; received {input_shape!r}.")
    if any(d is not None and d < MIN_INPUT_SIZE for d in shape[:2]):
        raise ValueError(
            f"Input size must be at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} (five stride-2 "
            f"stages need it); received input_shape={input_shape!r}."
        )
    return shape
