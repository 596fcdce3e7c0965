"""Files that are never half-written: written under a temporary sibling name, made durable,
then renamed into place, so a reader (or a resumed run) sees the old content or the new,
even after a kill (SIGKILL included) or a failure mid-write."""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: files are not locked (SECURITY.md)
    fcntl = None

TEMP_PREFIX = ".tmp-"
# what `temporary` names: the writer's pid and a random token (8 hex digits before 0.3), then the final name
_OWN_TEMPORARY = re.compile(rf"{re.escape(TEMP_PREFIX)}(\d+)-[0-9a-f]{{8,32}}-(.+)", re.DOTALL)  # pid, final name
CAN_LOCK = fcntl is not None
NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)  # Windows has no symbolic links to refuse this way
LOCK_BYTES = 32  # a lock file holds its holder's pid: anything longer is not a lock


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
def replacing(path: str | os.PathLike, *, exclusive: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`, with the same suffixes (Keras picks formats by
    them), to write; then fsync it and rename it to `path`. On an exception it is deleted;
    after a kill it is left for `remove_temporaries`. `exclusive`: a file at `path` (one that
    appeared since it was checked, say) is kept and FileExistsError raised."""
    clear_stale(path)
    tmp = temporary(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if exclusive:
            _link(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _link(tmp: Path, path: Path) -> None:
    """`tmp` renamed to `path` unless `path` exists (FileExistsError): a hard link, which the OS
    refuses atomically where os.replace would overwrite; on a filesystem without them (FAT), a
    check, then the rename."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)) from None
        os.replace(tmp, path)
    else:
        tmp.unlink()


def temporary(path: str | os.PathLike) -> Path:
    """A new empty file beside `path`, ending in its name, that only this process owns: named
    with its pid and a random token, and created with O_EXCL, so it is never a file that was
    there (a user's, or a symbolic link to one) and `remove_temporaries` can tell it apart."""
    path = Path(path)
    tmp = path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}-{path.name}")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NO_FOLLOW, 0o666))
    return tmp


@contextmanager
def work_directory(path: str | os.PathLike) -> Iterator[Path]:
    """A new directory beside `path`, named as `temporary` names files (its maker's pid, a random
    token, `path`'s name), for work whose result is moved to `path`; deleted afterwards, or after a
    kill by the next writer of `path` (`clear_stale`)."""
    path = Path(path)
    clear_stale(path)
    work = path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}-{path.name}")
    work.mkdir()
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def clear_stale(path: str | os.PathLike) -> int:
    """Remove what killed writers of `path` left beside it: temporary files and work directories
    named for `path` by a process that is gone. A live writer's, a link and anything not named
    so are left alone. Returns how many."""
    path = Path(path)
    stale = 0
    for candidate in path.parent.glob(f"{TEMP_PREFIX}*") if path.parent.is_dir() else ():
        match = _OWN_TEMPORARY.fullmatch(candidate.name)
        if match is None or match[2] != path.name or candidate.is_symlink() or _alive(int(match[1])):
            continue
        shutil.rmtree(candidate) if candidate.is_dir() else candidate.unlink(missing_ok=True)
        stale += 1
    return stale


def _alive(pid: int) -> bool:
    """Whether a process `pid` runs (another user's counts: its files are not ours to remove)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def is_own_temporary(path: Path) -> bool:
    """Whether `path` is a regular file named as `temporary` names them (a link is not)."""
    try:
        return bool(_OWN_TEMPORARY.fullmatch(path.name)) and stat.S_ISREG(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def no_follow(path: str | os.PathLike, flags: int) -> int:
    """An `open(..., opener=no_follow)` that refuses (ELOOP) a symbolic link at `path` itself."""
    return os.open(path, flags | NO_FOLLOW)


def write_text(path: str | os.PathLike, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """One plain write of `data`, atomically: files made in memory (HDF5 images) go to disk this
    way, as on a full disk HDF5's own writes fail in its destructors, where Python cannot catch them."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def remove_temporaries(*directories: str | os.PathLike) -> int:
    """Delete what killed writers left in `directories`; returns how many files. Only the files
    `temporary` made are: a user's `.tmp-notes` (or a link named like ours) is left alone."""
    stale = [p for d in directories for p in Path(d).glob(f"{TEMP_PREFIX}*") if is_own_temporary(p)]
    for path in stale:
        path.unlink()
    return len(stale)


class NotALock(OSError):
    """The file at a lock's path is someone else's (a symbolic link, a directory, a file with other
    content or another name): it is left as it is. `why` says which."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


def take_lock(path: Path, on_held: Callable[[int, str], None]) -> tuple[int, bool]:
    """A descriptor of the lock file at `path`, locked (`try_lock`), and whether this call created
    the file. While another process holds it, `on_held(descriptor, holder pid)` runs: it raises to
    give up, or returns (after waiting) to try again. The file is opened through no symbolic link
    and must be one `is_lock` accepts, else `NotALock`; a lock taken on a file that its holder
    removed meanwhile (holders remove the files they created) is taken again on the one there now."""
    while True:
        opened = _open_lock(path)
        if opened is None:
            continue
        descriptor, created = opened
        try:
            while (holder := try_lock(descriptor)) is not None:
                on_held(descriptor, holder)
            if same_file(descriptor, path):
                return descriptor, created
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)


def _open_lock(path: Path) -> tuple[int, bool] | None:
    """The lock file at `path` and whether this call created it; None where it vanished between the two opens."""
    flags = os.O_RDWR | NO_FOLLOW | getattr(os, "O_CLOEXEC", 0)
    with suppress(FileExistsError):  # a link or a directory there exists too (O_EXCL)
        return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644), True
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as e:  # ELOOP: a symbolic link; EISDIR
        raise NotALock(e.strerror) from None
    if not is_lock(descriptor):
        os.close(descriptor)
        raise NotALock("it holds more than a pid, or is linked to another file")
    return descriptor, False


def same_file(descriptor: int, path: Path) -> bool:
    """Whether the open file is the one at `path` now (not through a link)."""
    try:
        return os.path.samestat(os.fstat(descriptor), path.lstat())
    except FileNotFoundError:
        return False


def is_lock(descriptor: int) -> bool:
    """Whether an open file is a lock as `try_lock` writes them: a lone regular file (no hard
    link to another) holding a pid or nothing. Anything else is someone else's, not to be written."""
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_size > LOCK_BYTES:
        return False
    content = os.pread(descriptor, LOCK_BYTES, 0).strip()
    return content.isdigit() or not content


def try_lock(descriptor: int) -> str | None:
    """Take an exclusive `flock` on an open lock file without waiting and write this process's
    pid into it: None once held, else the pid its holder wrote ("unknown" before it has). The OS
    drops the lock when the descriptor is closed or its process ends, SIGKILL included. Only
    where `CAN_LOCK`, and on a file `is_lock` accepts (the pid replaces its content)."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, str(os.getpid()).encode(), 0)
    return None
