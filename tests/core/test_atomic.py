"""What killed writers leave: `core.atomic`'s temporaries are removed by the next write of the
same file once their maker is gone, and nothing else is (a live writer's, a link, the user's)."""

import os
import subprocess
import sys

import keras_resnet as kr
from keras_resnet.pretrained.loading import save_weights


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    """As a `convert` or `save_weights` killed mid-write leaves it: `.tmp-PID-TOKEN-w.h5` of a
    process that is gone. The next write of w.h5 removes it; the rest stays byte for byte."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    stale = tmp_path / f".tmp-{dead}-{'ab' * 16}-w.h5"
    stale.write_bytes(b"half a file")
    kept = {
        tmp_path / f".tmp-{os.getppid()}-{'cd' * 16}-w.h5": b"a live writer's",
        tmp_path / f".tmp-{dead}-{'ef' * 16}-other.h5": b"another file's, left for its own next write",
        tmp_path / ".tmp-notes": b"the user's",
    }
    for path, data in kept.items():
        path.write_bytes(data)
    link = tmp_path / f".tmp-{dead}-{'01' * 16}-w.h5"
    link.symlink_to(tmp_path / ".tmp-notes")
    save_weights(kr.CifarResNet(1), tmp_path / "w.h5")
    assert not stale.exists() and link.is_symlink()
    assert {path: path.read_bytes() for path in kept} == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*(p.name for p in kept), link.name, "w.h5"])
