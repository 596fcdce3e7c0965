"""Argument checks shared across the package: each error names the argument and what is accepted.
Free of Keras at import, as the command line's modules use it before Keras loads."""

from __future__ import annotations

import difflib
import numbers
import os
import re
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


def check_limit(limit: int | None) -> None:
    """`limit` images of a dataset are used: a positive integer, or None for all (0 would report
    the error of no images)."""
    if limit is not None and (not is_integer(limit) or limit < 1):
        raise ValueError(f"`limit` must be a positive integer or None (all images); received limit={limit!r}.")


def did_you_mean(value: Any, accepted: Sequence[str], most: int = 3) -> str:
    """" Did you mean 'a', 'b' or 'c'?": the `accepted` values that `value` most likely
    misspells, or "" if none is close: the one spelt the same but for case, "-" and "_"
    (CifarResNet20), else those that hold it (resnext50, resnet20), then the closest by
    `difflib`'s ratio (resnet5O; a tie goes to the longer common start: cifar_resnet21 is
    cifar_resnet20 before cifar_resnet32)."""
    if not isinstance(value, str) or not value:
        return ""
    typed = value.lower()

    def likeness(candidate: str) -> tuple[float, int]:
        low = candidate.lower()
        return difflib.SequenceMatcher(None, typed, low).ratio(), len(os.path.commonprefix([typed, low]))

    same = [a for a in accepted if re.sub(r"[-_ ]", "", a.lower()) == re.sub(r"[-_ ]", "", typed)]
    ranked = sorted(accepted, key=likeness, reverse=True)
    holding = [a for a in ranked if typed in a.lower()]
    close = [a for a in ranked if likeness(a)[0] >= 0.6]
    found = [repr(a) for a in dict.fromkeys(same or [*holding, *close]) if a != value][:most]
    if not found:
        return ""
    return f" Did you mean {' or '.join([', '.join(found[:-1]), found[-1]] if len(found) > 1 else found)}?"
