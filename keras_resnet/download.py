"""Find a registry file, verified against its published hash: shipped in `weights/`, in a
local directory (offline machines), or downloaded once into the Keras cache.

A file reaches its cache name only after its hash has been checked, and is hashed again on
every load, so an interrupted or tampered download never passes for a good one; processes
sharing the cache download one at a time (a lock on the cache directory)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import keras

from keras_resnet.registry import weights_dir

WEIGHTS_DIR_ENV = "KERAS_RESNET_WEIGHTS_DIR"
CACHE_SUBDIR = "keras_resnet"


def hash_file(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256(path: str | os.PathLike) -> str:
    return hash_file(path, "sha256")


def cache_dir() -> Path:
    """`$KERAS_HOME` (read now, not at import) or `~/.keras`, as `keras.utils.get_file`."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def _how_to_place(spec: dict) -> str:
    return (
        f"On a machine without internet, download {spec['url']} elsewhere, check that its "
        f"{spec['hash_algorithm']} is {spec['hash']}, and put it as {spec['name']} in a "
        f"directory named by ${WEIGHTS_DIR_ENV} (or in {cache_dir() / CACHE_SUBDIR})."
    )


def _verified(path: Path, spec: dict, what: str) -> Path:
    actual = hash_file(path, spec["hash_algorithm"])
    if actual != spec["hash"]:
        raise ValueError(
            f"{what} {path} has {spec['hash_algorithm']} {actual}, expected {spec['hash']} "
            f"(source {spec['url'] or 'shipped with keras-resnet'}). " + (
                "The installed file is damaged: reinstall keras-resnet." if spec["url"] is None
                else "Replace it with the published file. " + _how_to_place(spec)
            )
        )
    return path


def fetch(spec: dict, directory: str | os.PathLike | None = None) -> Path:
    """Path of the verified file `spec` ({name, url, hash_algorithm, hash}) describes.

    Looks in order: the package's `weights/` (files shipped with `url: null`); `directory`
    or `$KERAS_RESNET_WEIGHTS_DIR` if given (never downloads then); the Keras cache; the URL.
    """
    if spec["url"] is None:
        return _verified(weights_dir() / spec["name"], spec, "Shipped weights file")
    directory = directory or os.environ.get(WEIGHTS_DIR_ENV)
    if directory:
        path = Path(directory) / spec["name"]
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found (weights directory {directory!r}). " + _how_to_place(spec))
        return _verified(path, spec, "Weights file")
    target = cache_dir() / CACHE_SUBDIR / spec["name"]
    if _cached(target, spec):  # hashed on every load, not only after the download
        return target
    target.parent.mkdir(parents=True, exist_ok=True)  # else get_file falls back to /tmp/.keras
    with _exclusive(target.parent):
        if _cached(target, spec):  # another process downloaded it while this one waited
            return target
        target.unlink(missing_ok=True)  # damaged by hand or by a writer outside this module: fetch again
        for stale in target.parent.glob(f".{spec['name']}.*.part"):  # a killed download's; its writer is gone
            stale.unlink()
        return _download(spec, target)


def _cached(target: Path, spec: dict) -> bool:
    return target.is_file() and hash_file(target, spec["hash_algorithm"]) == spec["hash"]


@contextmanager
def _exclusive(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on the cache directory: one download at a time among processes
    sharing the cache, so the others wait and then find the file. The OS drops the lock of a
    killed process. Where `fcntl` is missing (Windows) downloads are not serialised, but each
    still writes its own temporary file and renames it atomically."""
    if fcntl is None:
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _download(spec: dict, target: Path) -> Path:
    """keras.utils.get_file into a unique temporary name (it verifies the hash), then an
    atomic rename to the cache name; on any failure the temporary file is removed."""
    part = f".{spec['name']}.{uuid.uuid4().hex}.part"
    partial = target.parent / part
    try:
        partial = Path(keras.utils.get_file(
            part, spec["url"], file_hash=spec["hash"], hash_algorithm=spec["hash_algorithm"],
            cache_dir=str(cache_dir()), cache_subdir=CACHE_SUBDIR,
        ))
    except BaseException as e:
        # get_file removes what it wrote on a failed transfer, but keeps a file whose hash
        # does not match (and raises ValueError): a file here means a complete, wrong one.
        actual = hash_file(partial, spec["hash_algorithm"]) if partial.is_file() else None
        partial.unlink(missing_ok=True)
        if actual is not None and actual != spec["hash"]:
            raise ValueError(
                f"Download of {spec['url']} failed verification: {spec['hash_algorithm']} {actual}, "
                f"expected {spec['hash']}. Nothing was kept. " + _how_to_place(spec)
            ) from None
        if isinstance(e, Exception):
            raise OSError(f"Could not download {spec['url']} ({e}). " + _how_to_place(spec)) from e
        raise  # KeyboardInterrupt, SystemExit
    os.replace(partial, target)
    return target
