"""Argument checks shared across the package: each error names the argument and what is accepted.
Free of Keras at import, as the command line's modules use it before Keras loads."""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def display_path(path: str | bytes | os.PathLike) -> str:
    """A path quoted for a one-line message: a file name that is not UTF-8 (which Python holds
    as surrogate escapes) is shown escaped, where printing it raw raises UnicodeEncodeError."""
    return repr(os.fsdecode(path))


def file_problem(path: str | os.PathLike) -> str | None:
    """Why `path` is not a file to read ("missing", "not a regular file"), or None. Only a
    regular file is read: a FIFO would wait for a writer, a device (`/dev/zero`) never end."""
    if Path(path).is_file():
        return None
    return "not a regular file" if os.path.lexists(path) else "missing"


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
