"""Files that are never half-written: written under a temporary sibling name, made durable,
then renamed into place, so a reader (or a resumed run) sees the old content or the new,
even after a kill (SIGKILL included) or a failure mid-write."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: files are not locked (SECURITY.md)
    fcntl = None

TEMP_PREFIX = ".tmp-"
CAN_LOCK = fcntl is not None


def check_replaceable(path: str | os.PathLike, kind: str, is_own: Callable[[Path], bool]) -> None:
    """An output is written only where nothing of the user's is lost: `path` must not exist, or
    `is_own(path)` must say it is an earlier output of the same kind (which the write replaces).
    Anything else (a directory of other files, a file of another format) is a ValueError naming
    the path and `kind`, and nothing is touched."""
    path = Path(path)
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ValueError(f"cannot write {kind} {str(path)!r}: {str(parent)!r} is a file, not a directory")
    if path.is_symlink():
        raise ValueError(
            f"{str(path)!r} is a symbolic link; a {kind} is written only over a regular earlier one "
            "(choose another path or remove the link)"
        )
    if path.exists() and not is_own(path):
        what = "a directory" if path.is_dir() else "a file"
        raise ValueError(
            f"{str(path)!r} exists and is {what} that is not a {kind}; it is replaced only when it "
            f"is an earlier {kind} (choose another path or remove it)"
        )


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`, with the same suffixes (Keras picks formats by
    them), to write; then fsync it and rename it to `path`. On an exception it is deleted;
    after a kill it is left for `remove_temporaries`."""
    path = Path(path)
    tmp = path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """One plain write of `data`, atomically: files made in memory (HDF5 images) go to disk this
    way, as on a full disk HDF5's own writes fail in its destructors, where Python cannot catch them."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def remove_temporaries(*directories: str | os.PathLike) -> int:
    """Delete what killed writers left in `directories`; returns how many files."""
    stale = [p for d in directories for p in Path(d).glob(f"{TEMP_PREFIX}*")]
    for path in stale:
        path.unlink()
    return len(stale)


def try_lock(descriptor: int) -> str | None:
    """Take an exclusive `flock` on an open lock file without waiting and write this process's
    pid into it: None once held, else the pid its holder wrote ("unknown" before it has). The OS
    drops the lock when the descriptor is closed or its process ends, SIGKILL included. Only
    where `CAN_LOCK`."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, str(os.getpid()).encode(), 0)
    return None
