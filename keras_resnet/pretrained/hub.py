"""Weights on the Hugging Face Hub, `weights="hf://<owner>/<repo>[@<revision>]"`: a timm model
repository's `config.json` (data, read by `timm_configs`) and `model.safetensors`, never its
`pytorch_model.bin` (unpickling runs code), fetched with the real `huggingface_hub` client, so its
cache, revisions, tokens and HF_HUB_OFFLINE / HF_ENDPOINT work as they do for timm.

Free of Keras, and of `huggingface_hub` (the `hub` extra) until a file is fetched: the command
line checks a handle at once. HF_ENDPOINT, HF_HUB_OFFLINE and the cache's place (HF_HUB_CACHE,
HF_HOME) are read at each fetch, where huggingface_hub reads them once, at its import.

Each file is sized by a HEAD request and refused above its bound before any byte of it is
downloaded. huggingface_hub downloads into a process-unique `.incomplete` file, renamed into the
cache only once it holds the size announced, so a download that fails or is killed leaves
nothing that passes for the file. The client retries a server it cannot reach with backoff
(~23 s); here one HEAD that fails falls back to the cache at once, and to a one-line error
saying what to do where the cache has no copy."""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

HANDLE_PREFIX = "hf://"
HANDLE_FORM = "'hf://<owner>/<repo>' or 'hf://<owner>/<repo>@<revision>', e.g. 'hf://timm/resnet50.a1_in1k'"
INSTALL = 'pip install "keras3-resnet[hub]"'
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
PICKLE_FILE = "pytorch_model.bin"  # never loaded: named where a repository has only it
MAX_CONFIG_BYTES = 1 << 20  # timm's config.json is ~1 KB
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"  # the Hub's owner and repository names
_HANDLE = re.compile(rf"hf://(?P<repo>{_NAME}/{_NAME})(?:@(?P<revision>[A-Za-z0-9][A-Za-z0-9._/-]{{0,254}}))?")
_COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Handle:
    """A Hub model repository as `weights=` names it: `text` as given (for messages), the
    repository id and the revision (a branch, tag or commit; None: main)."""

    text: str
    repo_id: str
    revision: str | None

    @property
    def pinned(self) -> bool:
        """A commit hash: its files never change, so a cached copy is used without asking the server."""
        return self.revision is not None and _COMMIT.fullmatch(self.revision) is not None


def is_handle(weights) -> bool:
    return isinstance(weights, str) and weights.startswith(HANDLE_PREFIX)


def parse_handle(weights: str) -> Handle:
    """The repository and revision of `weights`; anything but the accepted form (a path in the
    repository, a dataset, a name the Hub refuses) is refused naming it."""
    m = _HANDLE.fullmatch(weights) if isinstance(weights, str) else None
    if m is None or ".." in weights or "--" in m["repo"] or (m["revision"] or "").endswith(("/", ".")):
        raise ValueError(f"`weights` {weights!r} is not a Hugging Face Hub model handle; the accepted form is "
                         f"{HANDLE_FORM}.")
    return Handle(weights, m["repo"], m["revision"])


def fetch_config(handle: Handle) -> dict:
    """The repository's config.json (at most `MAX_CONFIG_BYTES`), parsed: a JSON object."""
    path = _fetch(handle, CONFIG_FILE, MAX_CONFIG_BYTES)
    try:
        config = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise ValueError(f"weights={handle.text!r}: its {CONFIG_FILE} is not UTF-8 JSON ({type(e).__name__}: "
                         f"{_line(e)}); not a timm model repository.") from None
    if not isinstance(config, dict):
        raise ValueError(f"weights={handle.text!r}: its {CONFIG_FILE} holds a JSON {type(config).__name__}, "
                         "where timm writes an object; not a timm model repository.")
    return config


def fetch_weights(handle: Handle, max_bytes: int) -> Path:
    """The repository's model.safetensors in the Hugging Face cache (at most `max_bytes`). A
    repository with only pytorch_model.bin is refused: a pickle is never loaded."""
    try:
        return _fetch(handle, WEIGHTS_FILE, max_bytes)
    except _NoSuchFile:
        if _on_server(handle, PICKLE_FILE):
            raise ValueError(
                f"weights={handle.text!r}: the repository holds its weights only as {PICKLE_FILE}, a pickle, which "
                f"keras_resnet never loads (unpickling runs code); convert it to {WEIGHTS_FILE} "
                "(safetensors.torch.save_file) where you trust it, and load that file."
            ) from None
        raise


def fetch_files(handle: Handle, bounds: Mapping[str, int], required: Collection[str]) -> Path:
    """The folder of the Hugging Face cache holding the repository's files `bounds` names (each
    refused unread above its bound) at one revision: a keras-hub preset's. Those not `required`
    are fetched where the repository has them (offline: where the cache has them)."""
    folders = set()
    for filename, max_bytes in bounds.items():
        try:
            folders.add(_fetch(handle, filename, max_bytes).parent)
        except (_NoSuchFile, OSError) as e:
            if filename in required or not (isinstance(e, _NoSuchFile) or _offline(_client())):
                raise
    if len(folders) != 1:
        raise OSError(f"weights={handle.text!r}: the repository changed while its files were downloaded "
                      f"({len(folders)} revisions); run again.")
    return folders.pop()


class _NoSuchFile(ValueError):
    """The repository exists at that revision but lacks the file."""


class _NotAHub(OSError):
    """The server does not answer as a Hugging Face Hub."""


def _client():
    """huggingface_hub, imported on first use (the `hub` extra), with the submodules read here."""
    try:
        hf = importlib.import_module("huggingface_hub")
        for module in ("huggingface_hub.constants", "huggingface_hub.errors"):
            importlib.import_module(module)
        return hf
    except ImportError:
        raise ImportError(f"Weights from the Hugging Face Hub (weights='hf://...') need huggingface_hub: {INSTALL}.") \
            from None


def cache_dir() -> Path:
    """huggingface_hub's cache folder as its constants compute it, read now: HF_HUB_CACHE (or
    the older HUGGINGFACE_HUB_CACHE), else HF_HOME/hub, else $XDG_CACHE_HOME or
    ~/.cache, /huggingface/hub."""
    env = os.environ
    folder = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if not folder:
        home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"),
                                                  "huggingface")
        folder = os.path.join(home, "hub")
    return Path(os.path.expandvars(os.path.expanduser(folder)))


def _endpoint() -> str | None:
    """HF_ENDPOINT, read now (None: huggingface_hub's own, https://huggingface.co)."""
    return (os.environ.get("HF_ENDPOINT") or "").rstrip("/") or None


def _fetch(handle: Handle, filename: str, max_bytes: int) -> Path:
    """`filename` of the repository through the Hugging Face cache (`_locate`), refused unread
    above `max_bytes`; every failure one line naming the handle and what to do."""
    hf = _client()
    endpoint, cache = _endpoint(), cache_dir()
    where = _Where(handle, filename, endpoint or hf.constants.ENDPOINT, cache)
    download = partial(hf.hf_hub_download, handle.repo_id, filename, revision=handle.revision, cache_dir=cache,
                       endpoint=endpoint, library_name="keras_resnet")
    offline = _offline(hf)
    try:
        path, cause = _locate(hf, where, partial(_head, hf, handle, filename), download, max_bytes, offline)
    except _NotAHub:
        raise
    except (_http(hf).HTTPError, OSError) as e:
        raise where.refusal(hf, e) from e
    return where.checked(path, max_bytes, offline=offline, cause=cause)


def _locate(hf, where: _Where, head, download, max_bytes: int,
            offline: bool) -> tuple[str | None, BaseException | None]:
    """(path, None), or (None, why the server could not be asked): a pinned commit's or, offline,
    the revision's cached copy as it is; else one HEAD for the file's size (refused above
    `max_bytes` before a byte of it is downloaded), then huggingface_hub's download (nothing
    when the cache has it). Where the server cannot be reached (network down, a redirect loop, a
    server error), the cached copy, as huggingface_hub's own fallback gives it."""
    handle, filename = where.handle, where.filename
    if offline or handle.pinned:
        cached = _cached(hf, download)
        if cached is not None or offline:
            return cached, None
    try:
        size = head().size
    except (_http(hf).HTTPError, OSError) as e:
        if not _unreachable(hf, e):
            raise
        return _cached(hf, download), e
    if size is None:
        raise _NotAHub(f"weights={handle.text!r}: {where.endpoint} does not give the size of its {filename}, as a "
                      "Hugging Face Hub does; refused before downloading (check HF_ENDPOINT).")
    if size > max_bytes:
        raise ValueError(f"weights={handle.text!r}: its {filename} is {size:,} bytes, more than the {max_bytes:,} "
                         "bytes such a file can hold; refused before downloading.")
    return download(), None


def _head(hf, handle: Handle, filename: str):
    """The file's metadata (size, commit) from one HEAD request, never retried."""
    url = hf.hf_hub_url(handle.repo_id, filename, revision=handle.revision, endpoint=_endpoint())
    return hf.get_hf_file_metadata(url)


def _offline(hf) -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) as set now, or when huggingface_hub was imported."""
    return hf.constants.HF_HUB_OFFLINE or any(
        (os.environ.get(name) or "").upper() in hf.constants.ENV_VARS_TRUE_VALUES
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _cached(hf, download) -> str | None:
    try:
        return download(local_files_only=True)
    except hf.errors.LocalEntryNotFoundError:
        return None


RETRIED_STATUS = (408, 429, 500, 502, 503, 504)  # huggingface_hub's: the server is busy or down, not the request wrong


def _unreachable(hf, e: BaseException) -> bool:
    """Whether `e` says the server is out of reach, not that the repository lacks something: no
    connection or no answer, a redirect loop, a busy or failing server."""
    http = _http(hf)
    if isinstance(e, (http.TransportError, http.TooManyRedirects, hf.errors.OfflineModeIsEnabled)):
        return True
    return getattr(getattr(e, "response", None), "status_code", None) in RETRIED_STATUS


def _http(hf):
    """The HTTP library huggingface_hub speaks (httpx for 1.x, httpx2 for 2.x): its errors' base."""
    base = next(b for b in hf.errors.HfHubHTTPError.__bases__ if b is not OSError)
    return importlib.import_module(base.__module__.split(".")[0])


def _line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:300] + ("..." if len(text) > 300 else "")


@dataclass(frozen=True)
class _Where:
    """One fetch: what the messages name."""

    handle: Handle
    filename: str
    endpoint: str
    cache: Path

    def checked(self, path: str | None, max_bytes: int, *, offline: bool, cause: BaseException | None) -> Path:
        """The file found, refused unread above `max_bytes`; None (not cached) refused saying why."""
        h = f"weights={self.handle.text!r}"
        if path is None and offline:
            raise OSError(f"{h}: its {self.filename} is not in the Hugging Face cache ({self.cache}) and "
                          "HF_HUB_OFFLINE is set: run once with the network (HF_HUB_OFFLINE unset) to download it.")
        if path is None:
            raise self._not_cached(cause)
        size = os.path.getsize(path)
        if size > max_bytes:
            raise ValueError(f"{h}: its {self.filename} in the Hugging Face cache ({path}) is {size:,} bytes, more "
                             f"than the {max_bytes:,} bytes such a file can hold; refused unread.")
        return Path(path)

    def _not_cached(self, cause: BaseException) -> OSError:
        """The server could not be asked (`cause`), and the cache has no copy."""
        status = getattr(getattr(cause, "response", None), "status_code", None)
        if type(cause).__name__ == "TooManyRedirects":
            failure, advice = f"{self.endpoint} redirected in a loop resolving {self.filename}", "check HF_ENDPOINT"
        elif status is not None:
            failure, advice = f"{self.endpoint} answered HTTP {status} for {self.filename}", "try again later"
        else:
            failure = f"cannot reach {self.endpoint} ({type(cause).__name__}: {_line(cause)})"
            advice = "connect to the network (check HF_ENDPOINT and any proxy settings) and try again"
        return OSError(f"weights={self.handle.text!r}: {failure}, and its {self.filename} is not in the Hugging Face "
                       f"cache ({self.cache}): {advice}.")

    def refusal(self, hf, e: BaseException) -> Exception:
        """huggingface_hub's exception as one line naming the handle and what to do: ValueError
        for what the handle names wrongly, OSError for the network, the server and the disk."""
        errors, h, repo = hf.errors, f"weights={self.handle.text!r}", self.handle.repo_id
        revision = self.handle.revision or "main"
        if isinstance(e, errors.LocalEntryNotFoundError) and e.__cause__ is not None:
            e = e.__cause__  # the client's fallback to the cache found nothing: why it fell back
        if isinstance(e, errors.GatedRepoError):
            return ValueError(f"{h}: {repo} is gated on {self.endpoint}: accept its conditions on its page, then log "
                              "in (`hf auth login`, or set HF_TOKEN).")
        if isinstance(e, errors.RepositoryNotFoundError):
            return ValueError(f"{h}: {self.endpoint} has no model repository {repo!r} (or it is private: log in with "
                              f"`hf auth login`, or set HF_TOKEN); the form is {HANDLE_FORM}.")
        if isinstance(e, errors.RevisionNotFoundError):
            return ValueError(f"{h}: the repository {repo!r} has no revision {revision!r} (a branch, tag or commit); "
                              f"leave out '@{revision}' for its main branch.")
        if isinstance(e, errors.RemoteEntryNotFoundError):
            return _NoSuchFile(f"{h}: the repository {repo!r} has no {self.filename} at {revision!r}; a timm model "
                               f"repository holds {CONFIG_FILE} and {WEIGHTS_FILE}, a keras-hub preset {CONFIG_FILE} "
                               "and model.weights.h5.")
        if isinstance(e, errors.FileMetadataError):
            return _NotAHub(f"{h}: {self.endpoint} does not answer as a Hugging Face Hub ({_line(e)}); check "
                           "HF_ENDPOINT.")
        if _unreachable(hf, e) or isinstance(e, errors.LocalEntryNotFoundError):
            return self._not_cached(e)
        if isinstance(e, errors.HfHubHTTPError):
            return OSError(f"{h}: {self.endpoint} answered HTTP {e.response.status_code} for {self.filename} "
                           f"({_line(e)}); check HF_TOKEN and HF_ENDPOINT.")
        return OSError(f"{h}: fetching {self.filename} failed ({type(e).__name__}: {_line(e)}); nothing of it was "
                       f"kept in the cache ({self.cache}): fix the cause and try again.")


def _on_server(handle: Handle, filename: str) -> bool:
    """Whether the repository has `filename` (one HEAD; False where that cannot be told)."""
    hf = _client()
    try:
        _head(hf, handle, filename)
        return True
    except (_http(hf).HTTPError, OSError):
        return False
