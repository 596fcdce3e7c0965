"""Downloads of registry weights, against an HTTP server on 127.0.0.1 (never the internet):
verified into the Keras cache once, tampered or cut-off files refused with nothing kept, and a
local directory for offline machines."""

import hashlib
import http.server
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import keras_resnet as kr
from keras_resnet import download, pretrained, registry


class Handler(http.server.SimpleHTTPRequestHandler):
    requests: list = []
    sent: int = 0  # bytes of /slow/ files written so far

    def do_GET(self):
        Handler.requests.append(self.path)
        if self.path.startswith(("/cut/", "/slow/")):
            data = (self.server.root / self.path.split("/", 2)[2]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.path.startswith("/cut/"):  # announces the whole file, sends half of it
                self.wfile.write(data[: len(data) // 2])
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
    Handler.requests, Handler.sent = [], 0
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def publish(root, base, model, name, algorithm="sha256"):
    """Serve `model`'s weights as `name`; the spec a registry entry would hold for it."""
    pretrained.save_weights(model, root / name)
    digest = hashlib.new(algorithm, (root / name).read_bytes()).hexdigest()
    return {"name": name, "url": f"{base}/{name}", "hash_algorithm": algorithm, "hash": digest}


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
    entry = {
        **next(e for e in registry.registry() if e["model"] == "cifar_resnet20"),
        "weights": "mirror",
        "file": publish(root, base, source, "full.h5"),
        "notop": publish(root, base, headless, "notop.h5"),
    }
    monkeypatch.setattr(registry, "registry", lambda: (entry,))
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
    for part in (spec["url"], spec["hash"], actual, download.WEIGHTS_DIR_ENV, "Nothing was kept"):
        assert part in message
    assert cache_files(tmp_path) == []


def test_cut_off_and_failed_downloads_leave_nothing(server, tmp_path):
    root, base = server
    spec = publish(root, base, kr.CifarResNet(3), "w.h5")
    with pytest.raises(OSError, match=r"Could not download http://127\.0\.0\.1:\d+/cut/w\.h5.*KERAS_RESNET_WEIGHTS_DIR"):
        download.fetch({**spec, "url": f"{base}/cut/w.h5"})
    with pytest.raises(OSError, match=r"Could not download .*/missing\.h5.*404"):
        download.fetch({**spec, "url": f"{base}/missing.h5"})
    assert cache_files(tmp_path) == []


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
        download.fetch({**spec, "name": "other.h5", "url": f"{base}/other.h5"})
    (root / "w.h5").write_bytes(b"not the published file")
    with pytest.raises(ValueError, match=rf"has sha256 {hashlib.sha256(b'not the published file').hexdigest()}, expected {spec['hash']}"):
        download.fetch(spec)
    assert Handler.requests == [] and cache_files(tmp_path) == []


def test_damaged_shipped_file_is_reported(tmp_path, monkeypatch):
    entry = next(e for e in registry.registry() if e["model"] == "cifar_resnet20")
    (tmp_path / entry["file"]["name"]).write_bytes(b"\x89HDF\r\n")
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


def _fetch_in_process(spec: dict, tmp_path) -> subprocess.Popen:
    """`download.fetch(spec)` in another Python process sharing the test's Keras cache."""
    code = f"from keras_resnet import download; print(download.fetch({spec!r}))"
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras_home"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def test_two_processes_downloading_at_once_end_with_one_correct_file(server, tmp_path):
    root, base = server
    spec = publish(root, base, kr.CifarResNet(3), "w.h5")
    spec = {**spec, "url": f"{base}/slow/w.h5"}  # ~1 s transfer: the two overlap
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
    spec = {**spec, "url": f"{base}/slow/w.h5"}
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
