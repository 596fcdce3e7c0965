"""Find a registry file, verified against its published hash: shipped in `weights/`, in a
local directory (offline machines), or downloaded once into the Keras cache. The end of a
`weights=` request: it reads no registry, only the `WeightsFile` it is given.

A file reaches its cache name only after its hash has been checked, and is hashed again on
every load, so an interrupted or tampered download never passes for a good one. Where the
publisher gives only a hash prefix, the full SHA-256 of the first file that matches it is pinned
in the cache (trust on first use, SECURITY.md) and every later copy must match that. A download
never hangs and never grows past the size a file for the model can have: it fails once the
server sends no byte for `$KERAS_RESNET_DOWNLOAD_TIMEOUT` seconds, or more bytes than the bound.
Processes downloading the same file take turns (a lock beside it); different files download at
once."""

from __future__ import annotations

import glob
import hashlib
import math
import os
import time
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from keras_resnet.core.atomic import CAN_LOCK, NotALock, same_file, take_lock, write_text

WEIGHTS_DIR_ENV = "KERAS_RESNET_WEIGHTS_DIR"
TIMEOUT_ENV = "KERAS_RESNET_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 86400.0  # a day of silence is a hang (and ~1e10 s overflows the socket timeout)
CACHE_SUBDIR = "keras_resnet"
CHUNK = 1 << 20
# A process waiting for another's download of the same file gives up once the holder has
# made no progress (no byte received) for this many timeouts: the holder's own wait on one
# connection and on the response headers (and a redirect's) each last up to one timeout.
WAIT_TIMEOUTS = 4
MIN_PREFIX = 8  # torch.hub's: a file name's "-0676ba61" is the first 8 hex digits of its SHA-256
PINS_SUBDIR = "pinned-sha256"  # in the cache: one file per prefix-only weights file, its full hash


class FirstUsePinned(UserWarning):
    """A prefix-only registry file was verified by its prefix and its full hash pinned."""


@dataclass(frozen=True)
class WeightsFile:
    """One published file: its name here, where it is published (None: shipped in `weights/`)
    and the hash that proves a copy is that file: in full, or where the publisher gives only
    the first hex digits (torchvision's and timm's file names, checked so by torch.hub's
    `check_hash`) that prefix, at least `MIN_PREFIX` digits."""

    name: str
    url: str | None
    hash_algorithm: str
    hash: str

    def __post_init__(self):
        full = hashlib.new(self.hash_algorithm).digest_size * 2
        if not (MIN_PREFIX <= len(self.hash) <= full and all(c in "0123456789abcdef" for c in self.hash)):
            raise ValueError(f"Weights file {self.name!r}: `hash` must be {MIN_PREFIX} to {full} lower-case hex "
                             f"digits of its {self.hash_algorithm}; received {self.hash!r}.")

    def matches(self, digest: str) -> bool:
        return digest.startswith(self.hash) if self.is_prefix else digest == self.hash

    @property
    def is_prefix(self) -> bool:
        return len(self.hash) < hashlib.new(self.hash_algorithm).digest_size * 2

    @property
    def expected(self) -> str:
        return f"{self.hash}... (the published prefix)" if self.is_prefix else self.hash

    @property
    def verification(self) -> str:
        """How a copy is verified, as the weights listing and SECURITY.md say it."""
        if self.is_prefix:
            return f"{self.hash_algorithm} prefix only ({len(self.hash)} hex digits), full hash pinned on first use"
        only = " (the only hash its publisher gives)" if self.hash_algorithm == "md5" else ""
        return f"full {self.hash_algorithm}{only}"


def weights_dir() -> Path:
    """`weights/` (registry and shipped files) is installed inside the package; in a source
    checkout it sits beside it."""
    package = Path(__file__).parent.parent
    installed = package / "weights"
    return installed if installed.is_dir() else package.parent / "weights"


def hash_file(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256(path: str | os.PathLike) -> str:
    return hash_file(path, "sha256")


def cache_dir() -> Path:
    """`$KERAS_HOME` (read now, not at import) or `~/.keras`, as `keras.utils.get_file`."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def download_timeout() -> float:
    """Seconds without a byte from the server after which a download fails (also the
    connect timeout): `$KERAS_RESNET_DOWNLOAD_TIMEOUT`, read now, or 60."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_TIMEOUT
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_TIMEOUT:  # also refuses NaN
        raise ValueError(
            f"${TIMEOUT_ENV} must be a number of seconds above 0 and at most {MAX_TIMEOUT:g} "
            f"(default {DEFAULT_TIMEOUT:g}); received {raw!r}."
        )
    return value


def _how_to_place(spec: WeightsFile) -> str:
    return (
        f"On a machine without internet, download {spec.url} elsewhere, check that its "
        f"{spec.hash_algorithm} is {spec.expected}, and put it as {spec.name} in a "
        f"directory named by ${WEIGHTS_DIR_ENV} (or in {cache_dir() / CACHE_SUBDIR})."
    )


def _verified(path: Path, spec: WeightsFile, what: str, max_bytes: int | None = None) -> Path:
    _check_size(path, spec, max_bytes)
    actual = hash_file(path, spec.hash_algorithm)
    if not _holds(spec, actual):
        raise ValueError(
            f"{what} {path} has {spec.hash_algorithm} {actual}, expected {_expected(spec)} "
            f"(source {spec.url or 'shipped with keras-resnet'}). " + (
                "The installed file is damaged: reinstall keras-resnet." if spec.url is None
                else "Replace it with the published file. " + _how_to_place(spec)
            )
        )
    _pin(spec, actual)
    return path


def _check_size(path: Path, spec: WeightsFile, max_bytes: int | None) -> None:
    """Refuse, before reading a byte, a file larger than any file for the model can be."""
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise ValueError(f"Weights file {path} has {size:,} bytes, more than the {max_bytes:,} a file of "
                         f"{spec.name}'s model can hold: it is not the published file. " + _how_to_place(spec))


def _holds(spec: WeightsFile, actual: str) -> bool:
    """`actual` is the published hash (or has its prefix), and the pinned one where there is one."""
    return spec.matches(actual) and pinned(spec) in (None, actual)


def _expected(spec: WeightsFile) -> str:
    pin = pinned(spec)
    return spec.expected if pin is None else f"{pin} (pinned on first use in {_pin_path(spec)})"


def _pin_path(spec: WeightsFile) -> Path:
    return cache_dir() / CACHE_SUBDIR / PINS_SUBDIR / f"{spec.name}.{spec.hash_algorithm}"


def pinned(spec: WeightsFile) -> str | None:
    """The full hash pinned for a prefix-only file, or None (a full-hash entry, or not yet
    pinned). A pin that is not a full lower-case hex digest matching the prefix is refused."""
    path = _pin_path(spec)
    if not spec.is_prefix or not path.is_file():
        return None
    pin = path.read_text(encoding="ascii", errors="replace").strip()
    full = hashlib.new(spec.hash_algorithm).digest_size * 2
    if len(pin) != full or not all(c in "0123456789abcdef" for c in pin) or not spec.matches(pin):
        raise ValueError(f"The pinned hash {path} of {spec.name} is not a {spec.hash_algorithm} starting "
                         f"{spec.hash}: remove it to pin the next verified copy.")
    return pin


def _pin(spec: WeightsFile, actual: str) -> None:
    """Pin the full hash of the first copy of a prefix-only file that matched its prefix, and
    say so once: later copies must match it. Where the cache is not writable, it only says so."""
    if not spec.is_prefix or pinned(spec) is not None:
        return
    path = _pin_path(spec)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, actual + "\n")
        where = f"now pinned in {path}: every later copy must have it"
    except OSError as e:
        where = f"not pinned ({path}: {e.strerror or e})"
    warnings.warn(
        f"{spec.name} is published with only the first {len(spec.hash)} hex digits of its {spec.hash_algorithm}, "
        f"which this file matches. Its full {spec.hash_algorithm} is {actual}; compare it with a source you trust. "
        f"It is {where} (SECURITY.md).", FirstUsePinned, stacklevel=2,
    )


def local_copy(spec: WeightsFile) -> tuple[Path | None, bool]:
    """Where `fetch` would find the file without downloading it (or None), and whether it is
    verified: its hash (and pin) hold. A copy is never pinned here: listing trusts nothing new."""
    places = [weights_dir()] if spec.url is None else [
        *([Path(os.environ[WEIGHTS_DIR_ENV])] if os.environ.get(WEIGHTS_DIR_ENV) else []), cache_dir() / CACHE_SUBDIR
    ]
    path = next((place / spec.name for place in places if (place / spec.name).is_file()), None)
    if path is None:
        return None, False
    try:
        return path, _holds(spec, hash_file(path, spec.hash_algorithm))
    except (OSError, ValueError):  # unreadable, or a damaged pin
        return path, False


def fetch(spec: WeightsFile, directory: str | os.PathLike | None = None, max_bytes: int | None = None) -> Path:
    """Path of the verified file `spec` describes, refused (or its download stopped) once
    larger than `max_bytes` (the most a file of its model can hold; None: no bound).

    Looks in order: the package's `weights/` (files shipped with `url: null`); `directory`
    or `$KERAS_RESNET_WEIGHTS_DIR` if given (never downloads then); the Keras cache; the URL.
    """
    if spec.url is None:
        return _verified(weights_dir() / spec.name, spec, "Shipped weights file")
    named = f"`directory` {directory!r}" if directory else f"${WEIGHTS_DIR_ENV}={os.environ.get(WEIGHTS_DIR_ENV)!r}"
    directory = directory or os.environ.get(WEIGHTS_DIR_ENV)
    if directory:
        if not Path(directory).is_dir():
            raise ValueError(
                f"{named} must name an existing directory holding the weights files; it is "
                f"{'a file' if Path(directory).exists() else 'missing'}. " + _how_to_place(spec)
            )
        path = Path(directory) / spec.name
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found (weights directory {directory!r}). " + _how_to_place(spec))
        return _verified(path, spec, "Weights file", max_bytes)
    timeout = download_timeout()
    target = cache_dir() / CACHE_SUBDIR / spec.name
    if _cached(target, spec, max_bytes):  # hashed on every load, not only after the download
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _unwritable(target.parent, e, spec) from None
    with _exclusive(target.parent / f".{spec.name}.lock", timeout * WAIT_TIMEOUTS, spec) as progress:
        if _cached(target, spec, max_bytes):  # another process downloaded it while this one waited
            return target
        target.unlink(missing_ok=True)  # damaged by hand or by a writer outside this module: fetch again
        for stale in target.parent.glob(_part_name(glob.escape(spec.name), "[0-9a-f]" * 32)):  # killed downloads'
            stale.unlink()  # this process holds the file's lock, so their writers are gone
        return _download(spec, target, timeout, progress, max_bytes)


def _cached(target: Path, spec: WeightsFile, max_bytes: int | None) -> bool:
    """The cache holds a verified copy (pinned now if it is the first of a prefix-only file)."""
    if not target.is_file() or (max_bytes is not None and target.stat().st_size > max_bytes):
        return False
    actual = hash_file(target, spec.hash_algorithm)
    if not _holds(spec, actual):
        return False
    _pin(spec, actual)
    return True


def _part_name(name: str, unique: str) -> str:
    """A download's temporary name: hidden, unique, never taken for a cached file."""
    return f".{name}.{unique}.part"


def _unwritable(directory: Path, error: OSError, spec: WeightsFile) -> OSError:
    return OSError(
        f"Cannot write the download cache {directory} ({error.strerror or error}): set KERAS_HOME "
        f"to a writable directory, or place the file by hand. " + _how_to_place(spec)
    )


@contextmanager
def _exclusive(path: Path, patience: float, spec: WeightsFile) -> Iterator[Callable[[], None]]:
    """Hold an exclusive lock on `path`, a lock file beside the file to download: processes
    fetching the same file take turns, so the others wait and then find it; other files are
    not held up. The OS drops the lock of a killed process. Yields the function to call on
    each byte received: a waiter gives up with an OSError once the holder has received nothing
    for `patience` seconds (a stopped process; a running one fails on its own stall first).
    Where `fcntl` is missing (Windows) downloads are not serialised, but each still writes its
    own temporary file and renames it atomically."""
    if not CAN_LOCK:
        yield lambda: None
        return
    fd = _lock(path, patience, spec)  # holds our pid, named by a waiter that gives up
    try:
        yield lambda: os.utime(fd)  # the modification time is what waiters watch
    finally:
        if same_file(fd, path):  # while still locked: a waiter on this inode sees it gone and retries
            path.unlink()
        os.close(fd)


def _lock(path: Path, patience: float, spec: WeightsFile) -> int:
    """`atomic.take_lock` of the download's lock: waiting while its holder receives bytes, giving up
    (TimeoutError, an OSError) once it has received nothing for `patience` seconds."""
    started = time.time()

    def wait(descriptor: int, holder: str) -> None:
        idle = time.time() - max(os.fstat(descriptor).st_mtime, started)
        if idle > patience:
            raise TimeoutError(f"Gave up waiting for process {holder}, which is downloading {spec.url} (lock "
                               f"{path}) and has received nothing for {idle:.0f} s: stop it or try again. "
                               + _how_to_place(spec))
        time.sleep(0.1)

    try:
        descriptor = take_lock(path, wait)[0]
    except NotALock:
        raise _not_ours(path, spec) from None
    except TimeoutError:
        raise
    except OSError as e:  # the cache directory cannot be written
        raise _unwritable(path.parent, e, spec) from None
    os.utime(descriptor)
    return descriptor


def _not_ours(path: Path, spec: WeightsFile) -> OSError:
    return OSError(f"{path} is not a download lock of keras-resnet (a link, or a file with other content): "
                   f"it is left as it is. Remove it, or place the file by hand. " + _how_to_place(spec))


def _download(spec: WeightsFile, target: Path, timeout: float, progress: Callable[[], None],
              max_bytes: int | None) -> Path:
    """Stream the URL into a unique temporary name beside `target` while hashing it; only a
    complete file with the published hash is made durable and renamed to `target`. On any
    failure, a `timeout`-second stall included, the temporary file is removed."""
    url = spec.url
    partial = target.parent / _part_name(spec.name, uuid.uuid4().hex)
    try:
        actual = _transfer(url, partial, spec.hash_algorithm, timeout, progress, max_bytes)
        if not _holds(spec, actual):
            raise ValueError(
                f"Download of {url} failed verification: {spec.hash_algorithm} {actual}, "
                f"expected {_expected(spec)}. Nothing was kept. " + _how_to_place(spec)
            )
        os.replace(partial, target)
        _pin(spec, actual)
    except BaseException as e:
        partial.unlink(missing_ok=True)
        if isinstance(e, TimeoutError) or isinstance(getattr(e, "reason", None), TimeoutError):
            raise OSError(
                f"Could not download {url}: the server sent nothing for {timeout:g} s "
                f"(${TIMEOUT_ENV}). " + _how_to_place(spec)
            ) from None
        if isinstance(e, Exception) and not isinstance(e, ValueError):
            raise OSError(f"Could not download {url} ({e}). " + _how_to_place(spec)) from e
        raise  # the failed verification; KeyboardInterrupt, SystemExit
    return target


def _transfer(url: str, partial: Path, algorithm: str, timeout: float, progress: Callable[[], None],
              max_bytes: int | None) -> str:
    """Write what `url` serves (redirects followed, HTTP errors raised) to `partial`, durably;
    its hash. `timeout` bounds the connection and each wait for a byte, `max_bytes` the size."""
    digest = hashlib.new(algorithm)
    received = 0
    with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "xb") as f:
        while chunk := response.read1(CHUNK):
            progress()
            received += len(chunk)
            if max_bytes is not None and received > max_bytes:
                raise ValueError(f"Download of {url} stopped: the server sent more than {max_bytes:,} bytes, the most "
                                 f"a file of this model can hold. Nothing was kept.")
            f.write(chunk)
            digest.update(chunk)
        if response.length:  # http.client returns b"" when the connection closes early
            raise OSError(f"the connection closed {response.length} bytes before the announced end")
        f.flush()
        os.fsync(f.fileno())
    return digest.hexdigest()
