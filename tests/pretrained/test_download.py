"""Downloads of registry weights, against an HTTP server on 127.0.0.1 (never the internet):
verified into the Keras cache once, tampered, cut-off or stalled transfers refused with nothing
kept and nothing left hanging, one lock per file, and a local directory for offline machines."""

import hashlib
import http.server
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import replace

import numpy as np
import pytest
from conftest import in_namespace
from references import shapes_only

import keras_resnet as kr
from keras_resnet.pretrained import download, registry
from keras_resnet.pretrained import loading as pretrained
from keras_resnet.pretrained.download import WeightsFile
from keras_resnet.pretrained.request import file_size_bound


class Handler(http.server.SimpleHTTPRequestHandler):
    requests: list = []
    sent: int = 0  # bytes of /slow/ files written so far
    release = threading.Event()  # ends the /stall/ responses' wait

    def do_GET(self):
        Handler.requests.append(self.path)
        if self.path.startswith("/redirect/"):  # /redirect/URL: a 302 to URL
            self.send_response(302)
            self.send_header("Location", self.path.split("/", 2)[2])
            self.end_headers()
            return
        if self.path.startswith("/endless/"):  # bytes without end, no length announced
            self.send_response(200)
            self.end_headers()
            try:
                while not Handler.release.is_set():
                    self.wfile.write(bytes(SLOW_CHUNK))
            except OSError:  # the client hung up
                pass
            return
        if self.path.startswith(("/cut/", "/slow/", "/stall/")):
            data = (self.server.root / self.path.split("/", 2)[2]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.path.startswith(("/cut/", "/stall/")):  # announces the whole file, sends half of it
                self.wfile.write(data[: len(data) // 2])
                if self.path.startswith("/stall/"):  # and keeps the connection open, silent
                    Handler.release.wait(120)
                return
            for start in range(0, len(data), SLOW_CHUNK):  # about 1 MB/s: slow enough to overlap or kill
                self.wfile.write(data[start : start + SLOW_CHUNK])
                Handler.sent += SLOW_CHUNK
                time.sleep(0.05)
            return
        super().do_GET()

    def translate_path(self, path):
        return str(self.server.root / path.lstrip("/"))

    def log_message(self, *args):
        pass


SLOW_CHUNK = 1 << 16


@pytest.fixture
def server(tmp_path, monkeypatch):
    """(directory served, base URL); the Keras cache moved into tmp_path."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv(download.WEIGHTS_DIR_ENV, raising=False)
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.root = root
    Handler.requests, Handler.sent, Handler.release = [], 0, threading.Event()
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()  # quick to shut down
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    Handler.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def silent():
    """Base URL of a server that accepts connections (the kernel completes them) and never
    sends a byte."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def refused() -> str:
    """Base URL of a port where nothing listens (as an offline machine's connection fails)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def publish(root, base, model, name, algorithm="sha256"):
    """Serve `model`'s weights as `name`; the spec a registry entry would hold for it."""
    pretrained.save_weights(model, root / name)
    digest = hashlib.new(algorithm, (root / name).read_bytes()).hexdigest()
    return WeightsFile(name, f"{base}/{name}", algorithm, digest)


def cache_files(tmp_path):
    folder = tmp_path / "keras_home" / download.CACHE_SUBDIR
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def assert_same_weights(a, b):
    for x, y in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_download_once_verified_then_cached(server, tmp_path, algorithm):
    root, base = server
    spec = publish(root, base, kr.CifarResNet(3), "w.h5", algorithm)
    path = download.fetch(spec)
    assert path == tmp_path / "keras_home" / download.CACHE_SUBDIR / "w.h5"
    assert path.read_bytes() == (root / "w.h5").read_bytes()
    assert download.fetch(spec) == path
    assert Handler.requests == ["/w.h5"]  # the second call used the cache
    assert cache_files(tmp_path) == ["w.h5"]


def test_builder_downloads_registry_weights(server, tmp_path, monkeypatch):
    """weights="<name>" end to end: registry entry -> download -> verify -> load; the
    headless file where the entry publishes one."""
    root, base = server
    source = kr.CifarResNet(3, weights="cifar10")
    headless = kr.CifarResNet(3, weights="cifar10", include_top=False)
    entry = replace(
        next(e for e in registry.entries() if e.model == "cifar_resnet20"),
        name="mirror",
        file=publish(root, base, source, "full.h5"),
        notop=publish(root, base, headless, "notop.h5"),
    )
    monkeypatch.setattr(registry, "entries", lambda: (entry,))
    assert_same_weights(kr.CifarResNet(3, weights="mirror"), source)
    assert_same_weights(kr.CifarResNet(3, weights="mirror", include_top=False), headless)
    assert Handler.requests == ["/full.h5", "/notop.h5"]


def test_tampered_download_is_refused_and_not_kept(server, tmp_path):
    root, base = server
    spec = publish(root, base, kr.CifarResNet(3), "w.h5")
    pretrained.save_weights(kr.CifarResNet(3), root / "w.h5")  # the server now has other bytes
    actual = hashlib.sha256((root / "w.h5").read_bytes()).hexdigest()
    with pytest.raises(ValueError) as error:
        download.fetch(spec)
    message = str(error.value)
    for part in (spec.url, spec.hash, actual, download.WEIGHTS_DIR_ENV, "Nothing was kept"):
        assert part in message
    assert cache_files(tmp_path) == []


STALLED = r"the server sent nothing for 1 s \(\$KERAS_RESNET_DOWNLOAD_TIMEOUT\)"
FAILURES = {  # case: (URL path on the base it names, the message after "Could not download URL")
    "cut_off": ("server", "/cut/w.h5", r" \(the connection closed \d+ bytes before the announced end\)"),
    "missing": ("server", "/missing.h5", r" \(HTTP Error 404: File not found\)"),
    "refused": ("refused", "/w.h5", r" \(<urlopen error \[Errno \d+\] Connection refused>\)"),
    "silent": ("silent", "/w.h5", ": " + STALLED),
    "stalled_mid_body": ("server", "/stall/w.h5", ": " + STALLED),
    "redirect_to_silent": ("server", "/redirect/{silent}/w.h5", ": " + STALLED),
}


@pytest.mark.parametrize("case", FAILURES)
def test_failed_download_leaves_nothing(server, silent, tmp_path, monkeypatch, case):
    """Each failure, a stall of the 1 s timeout included, is an OSError naming the URL and how
    to place the file by hand, within seconds; no file, temporary or lock is left."""
    root, base = server
    spec = publish(root, base, kr.CifarResNet(3), "w.h5")
    where, path, message = FAILURES[case]
    url = {"server": base, "silent": silent, "refused": refused()}[where] + path.format(silent=silent)
    monkeypatch.setenv(download.TIMEOUT_ENV, "1")
    start = time.monotonic()
    with pytest.raises(OSError) as error:
        download.fetch(replace(spec, url=url))
    assert time.monotonic() - start < 30  # not the default 60 s timeout (bounds for a busy machine)
    assert re.fullmatch(f"Could not download {re.escape(url)}{message}. On a machine without internet, "
                        f"download {re.escape(url)} elsewhere, .* named by \\$KERAS_RESNET_WEIGHTS_DIR .*",
                        str(error.value)), str(error.value)
    assert cache_files(tmp_path) == []


def test_redirect_is_followed(server, tmp_path):
    """Published URLs (GitHub releases, storage buckets) answer with a redirect."""
    root, base = server
    spec = publish(root, base, kr.CifarResNet(3), "w.h5")
    path = download.fetch(replace(spec, url=f"{base}/redirect/{base}/w.h5"))
    assert path.read_bytes() == (root / "w.h5").read_bytes()
    assert Handler.requests == [f"/redirect/{base}/w.h5", "/w.h5"] and cache_files(tmp_path) == ["w.h5"]


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e9", "ten", "5s"])
def test_bad_download_timeout_is_refused_before_any_request(server, tmp_path, monkeypatch, value):
    monkeypatch.setenv(download.TIMEOUT_ENV, value)
    spec = WeightsFile("w.h5", f"{server[1]}/w.h5", "sha256", "0" * 64)
    with pytest.raises(ValueError, match=rf"^\$KERAS_RESNET_DOWNLOAD_TIMEOUT must be a number of seconds above 0 "
                                         rf"and at most 86400 \(default 60\); received '{re.escape(value)}'\.$"):
        download.fetch(spec)
    assert Handler.requests == [] and cache_files(tmp_path) == []


@pytest.mark.parametrize("value, seconds", [(None, 60), ("", 60), (" 2.5 ", 2.5), ("86400", 86400)])
def test_download_timeout_values(monkeypatch, value, seconds):
    if value is None:
        monkeypatch.delenv(download.TIMEOUT_ENV, raising=False)
    else:
        monkeypatch.setenv(download.TIMEOUT_ENV, value)
    assert download.download_timeout() == seconds


def test_damaged_cache_file_is_fetched_again(server, tmp_path):
    root, base = server
    spec = publish(root, base, kr.CifarResNet(3), "w.h5")
    path = download.fetch(spec)
    path.write_bytes(path.read_bytes()[:1000])  # e.g. a disk error, or a copy cut short
    assert download.fetch(spec).read_bytes() == (root / "w.h5").read_bytes()
    assert Handler.requests == ["/w.h5", "/w.h5"]


def test_local_directory_for_offline_machines(server, tmp_path, monkeypatch):
    root, base = server
    spec = publish(root, base, kr.CifarResNet(3), "w.h5")
    monkeypatch.setenv(download.WEIGHTS_DIR_ENV, str(root))
    assert download.fetch(spec) == root / "w.h5"
    with pytest.raises(FileNotFoundError, match=r"other\.h5 not found .*download http://127\.0\.0\.1:\d+/other\.h5"):
        download.fetch(replace(spec, name="other.h5", url=f"{base}/other.h5"))
    (root / "w.h5").write_bytes(b"not the published file")
    wrong = hashlib.sha256(b"not the published file").hexdigest()
    with pytest.raises(ValueError, match=rf"has sha256 {wrong}, expected {spec.hash}"):
        download.fetch(spec)
    for directory, state in ((root / "w.h5", "a file"), (root / "gone", "missing")):
        monkeypatch.setenv(download.WEIGHTS_DIR_ENV, str(directory))
        with pytest.raises(ValueError, match=rf"^\$KERAS_RESNET_WEIGHTS_DIR='{re.escape(str(directory))}' must name "
                                             rf"an existing directory holding the weights files; it is {state}\. "):
            download.fetch(spec)
    assert Handler.requests == [] and cache_files(tmp_path) == []


def test_unwritable_cache_is_reported(server, tmp_path):
    """KERAS_HOME a file, a read-only disk, a read-only cache folder (a tmpfs remounted
    read-only, in a user and mount namespace: root ignores file modes): one OSError naming the
    folder and the ways out; nothing requested."""
    spec = WeightsFile("w.h5", f"{server[1]}/w.h5", "sha256", "0" * 64)
    homes = [tmp_path / "file", tmp_path / "ro", tmp_path / "ro_cache"]
    homes[0].write_bytes(b"")
    homes[1].mkdir(), homes[2].mkdir()
    code = (f"import os\nfrom keras_resnet.pretrained.download import WeightsFile, fetch\n"
            f"for home in {list(map(str, homes))!r}:\n"
            f"    os.environ['KERAS_HOME'] = home\n    try: fetch({spec!r})\n"
            f"    except OSError as e: print(e)\n")
    result = in_namespace(f"mount -t tmpfs -o ro tmpfs {homes[1]} && mount -t tmpfs tmpfs {homes[2]} && "
                          f"mkdir {homes[2]}/keras_resnet && mount -o remount,ro {homes[2]} && "
                          f"'{sys.executable}' -c \"$0\"", code)
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout + result.stderr[-3000:]
    for home, line, reason in zip(homes, lines, ["Not a directory", "Read-only file system", "Read-only file system"]):
        assert line.startswith(f"Cannot write the download cache {home}/keras_resnet ({reason}): set KERAS_HOME "
                               f"to a writable directory, or place the file by hand. "), line
        assert download.WEIGHTS_DIR_ENV in line
    assert Handler.requests == []


def test_damaged_shipped_file_is_reported(tmp_path, monkeypatch):
    entry = next(e for e in registry.entries() if e.model == "cifar_resnet20")
    (tmp_path / entry.file.name).write_bytes(b"\x89HDF\r\n")
    monkeypatch.setattr(download, "weights_dir", lambda: tmp_path)
    with pytest.raises(ValueError, match="Shipped weights file .* expected b744c0.*reinstall keras-resnet"):
        kr.CifarResNet(3, weights="cifar10")


def test_every_load_from_the_cache_is_hashed(server, tmp_path):
    """One flipped byte (same size, same timestamp) in a cached file is found on the next load."""
    root, base = server
    spec = publish(root, base, kr.CifarResNet(3), "w.h5")
    path = download.fetch(spec)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert download.fetch(spec).read_bytes() == (root / "w.h5").read_bytes()
    assert Handler.requests == ["/w.h5", "/w.h5"]


def _fetch_in_process(spec: WeightsFile, tmp_path) -> subprocess.Popen:
    """`download.fetch(spec)` in another Python process sharing the test's Keras cache."""
    code = f"from keras_resnet.pretrained.download import WeightsFile, fetch; print(fetch({spec!r}))"
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras_home"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop(download.TIMEOUT_ENV, None)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def test_two_processes_downloading_at_once_end_with_one_correct_file(server, tmp_path):
    root, base = server
    spec = publish(root, base, kr.CifarResNet(3), "w.h5")
    spec = replace(spec, url=f"{base}/slow/w.h5")  # ~1 s transfer: the two overlap
    processes = [_fetch_in_process(spec, tmp_path) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    target = tmp_path / "keras_home" / download.CACHE_SUBDIR / "w.h5"
    assert [out.strip().splitlines()[-1] for out, _ in outputs] == [str(target)] * 2
    assert target.read_bytes() == (root / "w.h5").read_bytes()
    assert cache_files(tmp_path) == ["w.h5"]
    assert Handler.requests == ["/slow/w.h5"]  # the second process waited for the first's file


def test_download_killed_half_way_never_passes_for_complete(server, tmp_path):
    root, base = server
    spec = publish(root, base, kr.CifarResNet(3), "w.h5")
    spec = replace(spec, url=f"{base}/slow/w.h5")
    size = (root / "w.h5").stat().st_size
    process = _fetch_in_process(spec, tmp_path)
    deadline = time.monotonic() + 120
    while Handler.sent < size // 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert size // 3 <= Handler.sent < size, "the kill must land mid-transfer"
    assert "w.h5" not in cache_files(tmp_path)  # only the killed writer's temporary file, if any
    path = download.fetch(spec)  # downloads again, verified, and clears what the kill left
    assert path.read_bytes() == (root / "w.h5").read_bytes()
    assert cache_files(tmp_path) == ["w.h5"] and len(Handler.requests) == 2


def test_a_stalled_download_holds_up_no_other_file(server, silent, tmp_path, monkeypatch):
    """Another process is stuck downloading x.h5 from a server that never answers: this one
    downloads y.h5 meanwhile without waiting (one lock per file), and one that wants x.h5 too
    gives up once the holder has received nothing for 4 timeouts, naming it."""
    root, base = server
    y = publish(root, base, kr.CifarResNet(3), "y.h5")
    x = WeightsFile("x.h5", f"{silent}/x.h5", "sha256", "0" * 64)
    stuck = _fetch_in_process(x, tmp_path)  # the default timeout, 60 s: stuck for this whole test
    try:
        lock = tmp_path / "keras_home" / download.CACHE_SUBDIR / ".x.h5.lock"
        deadline = time.monotonic() + 120
        while not (lock.is_file() and lock.read_text() == str(stuck.pid)):  # written once it holds the lock
            assert stuck.poll() is None and time.monotonic() < deadline, stuck.communicate()
            time.sleep(0.05)
        start = time.monotonic()
        assert download.fetch(y).read_bytes() == (root / "y.h5").read_bytes()
        assert time.monotonic() - start < 30  # not behind x's holder, stuck for 60 s
        monkeypatch.setenv(download.TIMEOUT_ENV, "0.5")
        start = time.monotonic()
        with pytest.raises(OSError, match=rf"^Gave up waiting for process {stuck.pid}, which is downloading "
                                          rf"{re.escape(x.url)} \(lock {re.escape(str(lock))}\) and has received "
                                          rf"nothing for 2 s: stop it or try again\. On a machine without internet"):
            download.fetch(x)
        assert 2 <= time.monotonic() - start < 30 and stuck.poll() is None
    finally:
        stuck.kill()
        stuck.wait()
    assert cache_files(tmp_path) == [".x.h5.lock", "y.h5"]  # the killed holder's lock file: reused, then removed


def test_published_hash_prefix_verifies_as_torch_hub(server, tmp_path):
    """torchvision and timm publish only a SHA-256 prefix (in the file name); a download is
    kept only when its hash starts with it, and a prefix under 8 digits is refused outright."""
    root, base = server
    spec = publish(root, base, kr.CifarResNet(3), "w-prefix.h5")
    prefixed = replace(spec, hash=spec.hash[:8])
    with pytest.warns(download.FirstUsePinned, match=spec.hash):
        assert download.fetch(prefixed).read_bytes() == (root / "w-prefix.h5").read_bytes()
    other = replace(spec, name="other.h5", url=f"{base}/w-prefix.h5", hash=f"{int(spec.hash[:8], 16) ^ 1:08x}")
    with pytest.raises(ValueError, match=rf"expected {other.hash}\.\.\. \(the published prefix\)"):
        download.fetch(other)
    assert cache_files(tmp_path) == [download.PINS_SUBDIR, "w-prefix.h5"]
    for bad in ("", spec.hash[:7], spec.hash.upper(), spec.hash + "0"):
        with pytest.raises(ValueError, match="`hash` must be 8 to 64 lower-case hex digits"):
            replace(spec, hash=bad)


def _pin_file(tmp_path, spec: WeightsFile):
    return tmp_path / "keras_home" / download.CACHE_SUBDIR / download.PINS_SUBDIR / f"{spec.name}.sha256"


def test_prefix_only_file_is_pinned_on_first_use(server, tmp_path, monkeypatch):
    """A file matching the publisher's 8-digit prefix (32 bits: forged in minutes) is trusted
    once: its full SHA-256 is shown and pinned, and every later copy, from the cache, a weights
    directory or a new download, must have that hash, not only the prefix. A pin is never
    made by listing, and a damaged pin is refused, not trusted."""
    root, base = server
    spec = publish(root, base, kr.CifarResNet(1), "w-1234abcd.h5")
    prefixed = replace(spec, hash=spec.hash[:8])
    # an earlier copy with the same prefix (a forgery, or the true file if this one is forged) was pinned
    forged_pin = spec.hash[:8] + hashlib.sha256(b"another file").hexdigest()[8:]
    _pin_file(tmp_path, spec).parent.mkdir(parents=True)
    _pin_file(tmp_path, spec).write_text(forged_pin + "\n")
    with pytest.raises(ValueError, match=rf"expected {forged_pin} \(pinned on first use in "):
        download.fetch(prefixed)
    assert cache_files(tmp_path) == [download.PINS_SUBDIR]  # nothing kept
    local = tmp_path / "local"
    local.mkdir()
    (local / spec.name).write_bytes((root / spec.name).read_bytes())
    monkeypatch.setenv(download.WEIGHTS_DIR_ENV, str(local))
    with pytest.raises(ValueError, match="pinned on first use"):
        download.fetch(prefixed)
    assert [r["here"] for r in _listed(prefixed)] == ["damaged"]
    _pin_file(tmp_path, spec).write_text("1234abcd")  # not a full hash: refused, never taken for one
    with pytest.raises(ValueError, match="is not a sha256 starting"):
        download.fetch(prefixed)
    _pin_file(tmp_path, spec).unlink()  # the user removes it: the next verified copy is pinned
    assert [r["here"] for r in _listed(prefixed)] == ["cached"] and not _pin_file(tmp_path, spec).exists()
    with pytest.warns(download.FirstUsePinned, match=f"full sha256 is {spec.hash}"):
        download.fetch(prefixed)
    assert _pin_file(tmp_path, spec).read_text().strip() == spec.hash
    monkeypatch.delenv(download.WEIGHTS_DIR_ENV)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pinned already: said once, not again
        assert download.fetch(prefixed).read_bytes() == (root / spec.name).read_bytes()


def _listed(spec: WeightsFile) -> list[dict]:
    """`list_weights` rows for a registry whose one entry has the file `spec`."""
    entry = replace(registry.entries()[0], file=spec, notop=None)
    registry.entries.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as m:
            m.setattr(registry, "entries", lambda: (entry,))
            return registry.list_weights()
    finally:
        registry.entries.cache_clear()


@pytest.mark.parametrize("planted", ["random file", "link to /etc/passwd", "truncated copy"])
def test_listing_calls_a_file_cached_only_once_its_hash_holds(server, tmp_path, monkeypatch, planted):
    """`keras-resnet weights` hashes each copy it finds: anything else under the file's name, in
    the cache or the weights directory, is listed "damaged", never "cached" or with a size."""
    root, base = server
    spec = publish(root, base, kr.CifarResNet(1), "w.h5")
    local = tmp_path / "local"
    local.mkdir()
    monkeypatch.setenv(download.WEIGHTS_DIR_ENV, str(local))
    good = (root / "w.h5").read_bytes()
    (local / "w.h5").write_bytes(good)
    assert [(r["here"], r["size_mb"], r["check"]) for r in _listed(spec)] == [("cached", len(good) / 1e6, "sha256")]
    (local / "w.h5").unlink()
    if planted == "link to /etc/passwd":
        (local / "w.h5").symlink_to("/etc/passwd")
    else:
        (local / "w.h5").write_bytes(os.urandom(1000) if planted == "random file" else good[:-1])
    assert [(r["here"], r["size_mb"]) for r in _listed(spec)] == [("damaged", None)]
    assert [r["check"] for r in _listed(replace(spec, hash=spec.hash[:8]))] == ["sha256[:8]+pin"]


def test_download_stops_at_the_most_a_file_of_the_model_can_hold(server, tmp_path):
    """A server that sends more than the bound (a file twice too large, or bytes without end) is
    cut off there, nothing kept; a local copy over the bound is refused unread."""
    root, base = server
    spec = publish(root, base, kr.CifarResNet(1), "w.h5")
    size = (root / "w.h5").stat().st_size
    with pytest.raises(ValueError, match=f"more than {size // 2:,} bytes.*Nothing was kept"):
        download.fetch(spec, max_bytes=size // 2)
    with pytest.raises(ValueError, match=f"more than {size:,} bytes.*Nothing was kept"):
        download.fetch(replace(spec, url=f"{base}/endless/w.h5"), max_bytes=size)
    assert cache_files(tmp_path) == []
    local = tmp_path / "local"
    local.mkdir()
    (local / "w.h5").write_bytes((root / "w.h5").read_bytes())
    with pytest.raises(ValueError, match=f"has {size:,} bytes, more than the {size - 1:,}"):
        download.fetch(spec, directory=local, max_bytes=size - 1)
    assert download.fetch(spec, max_bytes=size) == tmp_path / "keras_home" / download.CACHE_SUBDIR / "w.h5"


def test_the_bound_is_above_every_published_file():
    """`request.file_size_bound` against the sizes of real files: the shipped CIFAR nets, and
    the published ImageNet files' sizes (torchvision's docs give ResNet-50 as 97.781 MB)."""
    for entry in [e for e in registry.entries() if e.file.url is None]:
        model = kr.build_by_id(entry.model, weights=None)
        assert (download.weights_dir() / entry.file.name).stat().st_size < file_size_bound(model)
    assert 97.781 * 2**20 < file_size_bound(shapes_only(kr.ResNet50, weights=None))


@pytest.mark.parametrize("lock", ["symbolic link", "hard link", "foreign file"])
def test_a_lock_that_is_not_ours_is_never_written(server, tmp_path, lock):
    """The download lock beside a file is opened without following links and only when it is a
    lone file holding at most a pid: a link to the user's file, or their own file of that name,
    is refused with a message naming it, and left byte for byte."""
    root, base = server
    spec = publish(root, base, kr.CifarResNet(1), "w.h5")
    folder = tmp_path / "keras_home" / download.CACHE_SUBDIR
    folder.mkdir(parents=True)
    users = tmp_path / "notes.txt"
    users.write_text("the user's notes")
    path = folder / ".w.h5.lock"
    if lock == "symbolic link":
        path.symlink_to(users)
    elif lock == "hard link":
        os.link(users, path)
    else:
        path.write_text("not a pid: the user's own file")
    before = path.read_bytes()
    with pytest.raises(OSError, match=r"\.w\.h5\.lock is not a download lock of keras-resnet"):
        download.fetch(spec)
    assert users.read_text() == "the user's notes" and path.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [".w.h5.lock"]
