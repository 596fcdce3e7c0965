"""Every data and image input refuses a damaged, hostile or oversized file with a ValueError
naming it, before it costs minutes or gigabytes: CIFAR-10 batches (types checked before any
conversion), image files (checked from their bytes, before decoding or training), a run's
classes.json, and `evaluate`'s limit. The faults are injected into real files: the real
CIFAR-10 test batch and real JPEG/PNG images."""

import os
import pickle
import re
import resource
import shutil
import signal
import struct
import zlib
from contextlib import contextmanager

import numpy as np
import pytest
from conftest import run_python

from keras_resnet.data import cifar10 as data
from keras_resnet.data import image_folders as folders
from keras_resnet.evaluation import methods as evaluation
from keras_resnet.evaluation.datasets import evaluate
from keras_resnet.evaluation.predict import class_names_for

MIB = 2**20


@contextmanager
def bounded(seconds: int = 5, mib: int = 300):
    """The block must end within `seconds` (a hang fails instead of holding CI) and raise the
    process's peak memory by less than `mib` MiB."""
    def expire(*_):
        raise TimeoutError(f"still running after {seconds} s")

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak < mib * MIB


# --- CIFAR-10 batches ---------------------------------------------------------------------------------------------

def nested_list(levels: int = 30) -> list:
    """A list 2**levels leaves wide that pickles to a few hundred bytes (memo sharing)."""
    value = [0]
    for _ in range(levels):
        value = [value, value]
    return value


def array_pickle(shape: tuple, dtype: str, raw: bytes = b"\0\0\0", called: str = "_reconstruct") -> bytes:
    """A hand-written protocol-2 pickle of {b'data': array, b'labels': [0]}: the array as numpy
    pickles it (`_reconstruct` then its state), but declaring `shape`, or `numpy.ndarray`
    called with `shape` directly."""
    def text(s: str) -> bytes:
        return b"X" + struct.pack("<I", len(s)) + s.encode()

    def shape_tuple() -> bytes:
        return b"(" + b"".join(b"J" + struct.pack("<i", d) for d in shape) + b"t"

    if called == "ndarray":  # numpy.ndarray(shape, "O")
        array = b"cnumpy\nndarray\n" + shape_tuple() + text(dtype) + b"\x86R"
    else:
        dtype_obj = b"cnumpy\ndtype\n" + text(dtype) + b"\x89\x88\x87R"
        array = (b"cnumpy._core.multiarray\n_reconstruct\ncnumpy\nndarray\n(K\x00t" + b"C\x01b" + b"\x87R"
                 + b"(K\x01" + shape_tuple() + dtype_obj + b"\x89C" + bytes([len(raw)]) + raw + b"tb")
    return b"\x80\x02}(C\x04data" + array + b"C\x06labels]K\x00au."


BATCH_FAULTS = {
    "float labels": lambda b: pickle.dumps({**b, b"labels": [3.7] * len(b[b"labels"])}),
    "bool labels": lambda b: pickle.dumps({**b, b"labels": [True] * len(b[b"labels"])}),
    "None label": lambda b: pickle.dumps({**b, b"labels": [*b[b"labels"][:-1], None]}),
    "string labels": lambda b: pickle.dumps({**b, b"labels": ["3"] * len(b[b"labels"])}),
    "float label array": lambda b: pickle.dumps({**b, b"labels": np.asarray(b[b"labels"], np.float64)}),
    "bool label array": lambda b: pickle.dumps({**b, b"labels": np.ones(len(b[b"labels"]), bool)}),
    "2-D label array": lambda b: pickle.dumps({**b, b"labels": np.asarray(b[b"labels"])[:, None]}),
    "labels a dict": lambda b: pickle.dumps({**b, b"labels": {0: 1}}),
    "nested list labels (2**30 leaves)": lambda b: pickle.dumps({b"data": b[b"data"][:1], b"labels": nested_list()},
                                                                protocol=2),
    "float data": lambda b: pickle.dumps({**b, b"data": b[b"data"].astype(np.float32)}),
    "data a list": lambda b: pickle.dumps({**b, b"data": nested_list()}, protocol=2),
    "one label short": lambda b: pickle.dumps({**b, b"labels": b[b"labels"][:-1]}),
    "no images": lambda b: pickle.dumps({**b, b"data": b[b"data"][:0], b"labels": []}),
    "not a dict": lambda b: pickle.dumps([b[b"data"], b[b"labels"]]),
    "no labels key": lambda b: pickle.dumps({b"data": b[b"data"]}),
    "array declaring 10**9 objects": lambda b: array_pickle((10**9,), "O"),
    "array declaring 10**18 bytes": lambda b: array_pickle((10**9, 10**9), "u1"),
    "numpy.ndarray called for 10**9 objects": lambda b: array_pickle((10**9,), "O", called="ndarray"),
    "numpy.ndarray called for 2 GB": lambda b: array_pickle((2 * 10**9,), "u1", called="ndarray"),
    "_codecs.encode other than latin1": lambda b: pickle.dumps({**b, b"data": b[b"data"][:1]}, protocol=2).replace(
        b"latin1", b"zlib__"),
}


@pytest.fixture(scope="module")
def cifar_copy(shared, tmp_path_factory):
    """A copy of the real batches and the real test batch, unpickled by the standard pickle."""
    directory = tmp_path_factory.mktemp("cifar") / "cifar"
    shutil.copytree(shared / "cifar-10-batches-py", directory)
    real = (directory / "test_batch").read_bytes()
    return directory, real, pickle.loads(real, encoding="bytes")


def test_a_sparse_2_gib_batch_is_refused_from_its_size(tmp_path):
    """A sparse test_batch of 2 GiB (no disk taken) is refused from its size, naming it and
    MAX_BATCH_BYTES, before a byte is read: in a fresh process, under 300 MiB above the
    baseline (read whole first, it took 2 GiB)."""
    with open(tmp_path / "test_batch", "wb") as f:
        f.truncate(2 << 30)
    out = run_python(f"""
import resource
from keras_resnet.data import cifar10
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
try:
    cifar10.load_cifar10({str(tmp_path)!r}, "test")
except ValueError as e:
    print(e)
else:
    raise AssertionError("not refused")
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base) / 2**20)
""")
    refusal, peak = out.splitlines()[-2:]
    assert re.fullmatch(r"`data_dir` file '.*test_batch' is not a CIFAR-10 python batch: it is 2,147,483,648 bytes, "
                        r"more than the 67,108,864 \(MAX_BATCH_BYTES\) .*; refused before reading it\.", refusal), out
    assert float(peak) < 300, out


@pytest.mark.parametrize("fault", BATCH_FAULTS)
def test_batches_with_wrong_types_or_declared_sizes_are_refused_at_once(cifar_copy, fault):
    """Types are judged before any conversion: a few hundred bytes of nested lists would make
    np.asarray spin for minutes, a declared array would allocate gigabytes. The refusal
    names the file and what was found, within 5 s and 300 MiB."""
    directory, real, batch = cifar_copy
    hostile = BATCH_FAULTS[fault](batch)
    (directory / "test_batch").write_bytes(hostile)
    try:
        with bounded(), pytest.raises(ValueError, match=r"^`data_dir` file '.*test_batch' is not a CIFAR-10 python "
                                                         r"batch: (expected|it holds no images|it declares|it calls|it "
                                                         r"asks)") as refused:
            data.load_cifar10(directory, "test")
    finally:
        (directory / "test_batch").write_bytes(real)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 400, str(refused.value)
    if "nested" in fault:
        assert len(hostile) < 8000  # one image and 2**30 label references in a few KB


def test_batches_as_python_3_writes_them_still_load(cifar_copy, tmp_path):
    """What is refused is only what no batch holds: the real batch re-pickled by Python 3
    (protocol 2, which writes bytes through _codecs.encode, and the default), labels as a
    list of ints or an integer array, loads to the same images and labels."""
    directory, _, batch = cifar_copy
    images, labels = data.load_cifar10(directory, "test")
    for protocol, batch_labels in ((2, batch[b"labels"]), (pickle.DEFAULT_PROTOCOL, np.asarray(batch[b"labels"],
                                                                                                 np.uint8))):
        copy = tmp_path / f"p{protocol}"
        copy.mkdir()
        (copy / "test_batch").write_bytes(pickle.dumps({**batch, b"labels": batch_labels}, protocol=protocol))
        again = data.load_cifar10(copy, "test")
        assert np.array_equal(again[0], images) and np.array_equal(again[1], labels) and again[1].dtype == np.int64


# --- image files ----------------------------------------------------------------------------------------------------

def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int = 16000) -> bytes:
    """A valid greyscale PNG of side x side black pixels: ~250 KB of zlib for 256 M pixels."""
    row, compressor = b"\0" * (1 + side), zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def with_ihdr(png: bytes, **fields) -> bytes:
    """The PNG with IHDR fields (width, height, depth, colour) replaced and its CRC recomputed."""
    values = dict(zip(("width", "height", "depth", "colour", "compression", "filter", "interlace"),
                      struct.unpack(">IIBBBBB", png[16:29])))
    return png[:8] + chunk(b"IHDR", struct.pack(">IIBBBBB", *{**values, **fields}.values())) + png[33:]


def with_jpeg_size(jpeg: bytes, height: int, width: int = 400) -> bytes:
    """The JPEG with its frame header (SOF0) declaring height x width."""
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[:sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9:]


# name: (file bytes from (jpeg, png), words of the reason)
IMAGE_FAULTS = {
    "empty.jpg": (lambda j, p: b"", "empty"),
    "notes.jpg": (lambda j, p: b"the user's notes, not an image", "not a JPEG or PNG file"),
    "gif.png": (lambda j, p: b"GIF89a" + p[6:], "not a JPEG or PNG file"),
    "half.jpg": (lambda j, p: j[: len(j) // 2], "no JPEG end marker FF D9"),
    "no-eoi.jpg": (lambda j, p: j[:-2], "no JPEG end marker FF D9"),
    "header-only.jpg": (lambda j, p: j[:30], "ends before its frame header"),
    "zero-height.jpg": (lambda j, p: with_jpeg_size(j, 0), "declares 400 x 0 pixels"),
    "no-sof.jpg": (lambda j, p: j[:2] + b"\xff\xda" + j[2:], "FF DA before its frame header"),
    "half.png": (lambda j, p: p[: len(p) // 2], "no PNG IEND chunk"),
    "no-iend.png": (lambda j, p: p[:-12], "no PNG IEND chunk"),
    "bad-crc.png": (lambda j, p: p[:29] + bytes([p[29] ^ 1]) + p[30:], "fails its CRC"),
    "zero-width.png": (lambda j, p: with_ihdr(p, width=0), "declares 0 x 300 pixels"),
    "bad-depth.png": (lambda j, p: with_ihdr(p, depth=3), "invalid IHDR (bit depth 3"),
    "no-ihdr.png": (lambda j, p: p[:8] + p[33:], "without its IHDR"),
    "bomb.png": (lambda j, p: png_bomb(), "16000 x 16000 pixels, above the limit of 89,478,485 pixels (MAX_PIXELS"),
    "declared-bomb.jpg": (lambda j, p: with_jpeg_size(j, 60000, 60000), "60000 x 60000 pixels, above the limit"),
}


@pytest.fixture(scope="module")
def originals(image_folder):
    """A real JPEG and a real PNG (CIFAR images upscaled to 300 x 400)."""
    paths, _, _ = folders.list_images(image_folder / "train")
    return (next(open(p, "rb").read() for p in paths if p.endswith(".jpg")),
            next(open(p, "rb").read() for p in paths if p.endswith(".png")))


@pytest.mark.parametrize("name", IMAGE_FAULTS)
def test_bad_image_files_are_refused_from_their_bytes(originals, tmp_path, name):
    """Each fault: `decode_file` refuses it naming the file and why, within 5 s and 300 MiB
    (the bomb would take 768 MB decoded, 3 GB as float32); and the check is sound: where it
    refuses a small file, TensorFlow's decoder fails on it too."""
    import tensorflow as tf

    make, reason = IMAGE_FAULTS[name]
    encoded = make(*originals)
    path = tmp_path / name
    path.write_bytes(encoded)
    with bounded(), pytest.raises(ValueError) as refused:
        folders.decode_file(path)
    assert str(refused.value).startswith(f"image file '{path}' is not a readable JPEG or PNG image: ")
    assert reason in str(refused.value) and folders.image_problem(path) in str(refused.value)
    if "bomb" not in name:
        with pytest.raises(tf.errors.InvalidArgumentError):
            tf.io.decode_image(encoded, channels=3, expand_animations=False)


@pytest.mark.parametrize("variant", ["trailing bytes", "zero padding", "EXIF thumbnail before the frame"])
def test_unusual_but_decodable_images_are_accepted(originals, tmp_path, variant):
    """No false refusal: bytes after the end marker (as cameras pad, or append data) and an
    embedded thumbnail's end marker before the frame decode in TensorFlow, and pass."""
    import tensorflow as tf

    jpeg, png = originals
    extra = {"trailing bytes": b"appended data" * 100, "zero padding": bytes(4096)}.get(variant)
    for original in (jpeg, png):
        if extra is not None:
            encoded = original + extra
        elif original is jpeg:
            thumbnail = b"Exif\0\0" + jpeg[:64] + b"\xff\xd9"
            encoded = jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(thumbnail) + 2) + thumbnail + jpeg[2:]
        else:
            continue
        path = tmp_path / ("x.jpg" if original is jpeg else "x.png")
        path.write_bytes(encoded)
        assert folders.image_problem(path) is None
        expected = tf.io.decode_image(original, channels=3, expand_animations=False)
        np.testing.assert_array_equal(folders.decode_file(path).numpy(), expected.numpy().astype(np.float32))


def copy_folder(image_folder, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(image_folder, root)
    return root


def test_every_bad_image_of_a_folder_is_named_before_training(image_folder, originals, tmp_path):
    """`list_images` (which `train` calls for train/ and val/ before any epoch) names each
    bad file, up to MAX_NAMED, and counts the rest; also a directory or FIFO named .jpg, and
    a file name that is not UTF-8; the good files are untouched."""
    root = copy_folder(image_folder, tmp_path)
    bad = root / "train" / "cat"
    for name, (make, _) in IMAGE_FAULTS.items():
        (bad / name).write_bytes(make(*originals))
    (bad / "folder.jpg").mkdir()
    os.mkfifo(bad / "pipe.jpg")
    open(os.fsencode(bad) + b"/cut-\xfe.jpg", "wb").write(originals[0][:100])
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    with bounded(), pytest.raises(ValueError) as refused:
        folders.list_images(root / "train")
    message = str(refused.value)
    count = len(IMAGE_FAULTS) + 3
    assert message.startswith(
        f"`data_dir` folder '{root / 'train'}' has {count} image file(s) that cannot be decoded: ")
    named = sorted([*IMAGE_FAULTS, "folder.jpg", "pipe.jpg", "cut-\udcfe.jpg"])[:folders.MAX_NAMED]
    assert all(f"{str(bad / name)!r} (" in message for name in named), message
    assert message.endswith(f" and {count - folders.MAX_NAMED} more.") and "\n" not in message
    message.encode("utf-8")  # printable: the non-UTF-8 name is escaped
    assert "'" + str(bad / "cut-\\udcfe.jpg") + "' (cut short" in message
    assert folders.image_problem(bad / "pipe.jpg") == "not a regular file"
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("split", ["train", "val"])
def test_an_empty_class_folder_is_refused_in_train_and_val_alike(image_folder, tmp_path, split):
    root = copy_folder(image_folder, tmp_path)
    (root / split / "dog").mkdir()
    (root / split / "dog" / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match=rf"^`data_dir` folder '{root / split}' has class folders without "
                                         r"\.jpg/\.jpeg/\.png images: 'dog'; every class folder needs images"):
        folders.list_images(root / split)


def test_a_file_name_that_is_not_utf8_trains_and_evaluates(image_folder, originals, tmp_path):
    """tf.data gets each path's own bytes, so a non-UTF-8 name (legal on Linux) is read."""
    root = copy_folder(image_folder, tmp_path)
    open(os.fsencode(root / "val" / "cat") + b"/\xff.jpg", "wb").write(originals[0])
    paths, labels, _ = folders.list_images(root / "val")
    images, batch_labels = next(iter(folders.pipeline(paths, labels, len(paths), training=False)))
    assert len(paths) == 7 and images.shape == (7, 224, 224, 3) and list(batch_labels.numpy()) == list(labels)


def test_a_png_bomb_stays_within_300_mib_of_the_baseline(tmp_path):
    """A fresh process: peak memory after imports is the baseline; refusing the 250 KB PNG of
    16000 x 16000 pixels through `decode_file` and through `list_images` adds under 300 MiB
    (decoded, it takes 4.4 GB in `predict`)."""
    bomb = tmp_path / "data" / "cat" / "bomb.png"
    bomb.parent.mkdir(parents=True)
    bomb.write_bytes(png_bomb())
    assert len(bomb.read_bytes()) < 300_000
    out = run_python(f"""
import resource, tensorflow
from keras_resnet.data import image_folders as folders
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
for check in (lambda: folders.decode_file({str(bomb)!r}), lambda: folders.list_images({str(bomb.parent.parent)!r})):
    try:
        check()
    except ValueError as e:
        assert "16000 x 16000 pixels, above the limit" in str(e), e
    else:
        raise AssertionError("not refused")
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base) / 2**20)
""")
    assert float(out.split()[-1]) < 300, out


# --- memory that does not grow with the input ----------------------------------------------------------------------

def solid_png(side: int, colour: tuple = (200, 30, 60), height: int | None = None) -> bytes:
    """A valid RGB PNG of side x side pixels (side x `height`) of one colour: 258 KB of zlib at 9000 x 9000."""
    height = side if height is None else height
    row, compressor = b"\0" + bytes(colour) * side, zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def photo(path, height: int = 3000, width: int = 4000) -> None:
    """A 12-megapixel JPEG (smooth colours, as a camera's; 2.9 MB): 36 MB decoded, 146 MB as float32."""
    import tensorflow as tf

    coarse = np.random.default_rng(0).uniform(0, 255, (height // 10, width // 10, 3))
    path.write_bytes(tf.io.encode_jpeg(tf.cast(tf.image.resize(coarse, (height, width)), tf.uint8), quality=90).numpy())


# peak resident memory (VmHWM) in MiB above the resident memory at `reset()`, read in a fresh process
PEAK = """
from pathlib import Path
import numpy as np
def status(field):
    line = next(x for x in Path('/proc/self/status').read_text().splitlines() if x.startswith(field + ':'))
    return int(line.split()[1]) / 1024
def reset():
    global base
    Path('/proc/self/clear_refs').write_text('5')  # VmHWM back to VmRSS
    base = status('VmRSS')
def above():
    return status('VmHWM') - base
"""


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_sparse_2_gib_image_is_refused_from_its_header_unread(originals, tmp_path, suffix):
    """A real image followed by 2 GiB of holes is more than its 300 x 400 pixels can need: refused
    from its header by `decode_file` and `image_problem`, within 5 s and 300 MiB, never read."""
    jpeg, png = originals
    path = tmp_path / f"sparse{suffix}"
    path.write_bytes(png if suffix == ".png" else jpeg)
    with open(path, "r+b") as f:
        f.truncate(2 << 30)
    reason = "2,147,483,648 bytes, more than its 400 x 300 pixels can need (69,028,864 at most: 16 bytes a pixel"
    with bounded(), pytest.raises(ValueError, match=f"^image file '{path}' is not a readable JPEG or PNG image: "):
        folders.decode_file(path)
    with bounded():
        assert folders.image_problem(path).startswith(reason)


def sparse_png(path, hole: int, side: int = 9000) -> bool:
    """A valid side x side PNG whose private ancillary chunk holds `hole` zero bytes left unwritten
    (seeked over: a hole, on a file system that keeps them); whether the file came out sparse."""
    whole = solid_png(side)
    pixels_end = len(whole) - 12  # before IEND
    padding = struct.pack(">I", hole) + b"prIv"
    with open(path, "wb") as f:
        f.write(whole[:pixels_end] + padding)
        f.seek(hole, os.SEEK_CUR)
        f.write(struct.pack(">I", zlib.crc32(b"\0" * hole, zlib.crc32(b"prIv"))) + whole[pixels_end:])
    return os.stat(path).st_blocks * 512 < os.stat(path).st_size - hole // 2


def test_a_sparse_image_within_its_size_bound_is_refused_unread(tmp_path):
    """A 258 KB PNG of 9000 x 9000 pixels made 1 GB long by a hole (within the 1.3 GB its pixels
    may take, and 258 KB on disk) is refused by `decode_file` and `image_problem` within 300 MiB
    of a fresh process's baseline; read whole, it took 4.8 GB. A hole of 64 KB (`cp` makes one of
    4 KB of zeros) in a 1000 x 1000 PNG decodes as the same file written whole."""
    big, small, whole = tmp_path / "sparse.png", tmp_path / "padded.png", tmp_path / "whole.png"
    if not (sparse_png(big, 10**9) and sparse_png(small, 1 << 16, 1000)):
        pytest.skip(f"the file system of {tmp_path} keeps no holes")
    whole.write_bytes(small.read_bytes())
    out = run_python(PEAK + f"""
import tensorflow
from keras_resnet.data import image_folders as folders
reset()
try:
    folders.decode_file({str(big)!r}, (32, 32))
except ValueError as e:
    print(e)
print(folders.image_problem({str(big)!r}))
print(above())
small, whole = (folders.decode_file(p, (32, 32)).numpy() for p in ({str(small)!r}, {str(whole)!r}))
print("same", (small == whole).all(), small.shape)
""")
    reason = "a sparse file: of its 1,000,258,647 bytes, "
    refusal, problem, peak, same = out.splitlines()[-4:]
    assert refusal.startswith(f"image file '{big}' is not a readable JPEG or PNG image: {reason}"), out
    assert problem.startswith(reason) and "UNWRITTEN_BYTES" in problem, out
    assert float(peak) < 300 and same == "same True (1000, 1000, 3)", out


def test_ordinary_images_are_read_as_before(image_folder):
    """An ImageNet-sized image (under 512 a side) is decoded whole, as before: its evaluation crop
    equals the full-size float32 image's bit for bit; resized to 32 x 32, so does a PNG's, and a
    JPEG decoded at 1/4 differs by under 2 levels in the mean."""
    import tensorflow as tf

    for path in folders.list_images(image_folder / "train")[0]:
        full = folders.decode_file(path)
        np.testing.assert_array_equal(folders.load_for_evaluation(path), folders.eval_transform(full).numpy())
        small, before = folders.load_resized(path, (32, 32)), tf.image.resize(full, (32, 32), antialias=True).numpy()
        if path.endswith(".png"):
            np.testing.assert_array_equal(small, before)
        else:
            assert np.abs(small - before).mean() < 2


def test_a_long_thin_image_is_brought_to_the_input_within_300_mib(tmp_path):
    """A 100000 x 16 PNG of one colour (a few KB) goes to a 224 input and to an open one (which
    gets the same crop, the size its .keras was checked at) within 300 MiB of a fresh process's
    baseline, as that colour; resized to shorter side 256 whole, it took 5.3 GB."""
    thin = tmp_path / "thin.png"
    thin.write_bytes(solid_png(100_000, height=16))
    assert thin.stat().st_size < 20_000
    out = run_python(PEAK + f"""
import keras, tensorflow
from keras_resnet.evaluation.predict import model_inputs
for side in (224, None):
    model = keras.Sequential([keras.Input((side, side, 3)), keras.layers.GlobalAveragePooling2D()])
    reset()
    image = next(model_inputs(model, [{str(thin)!r}]))
    print(image.shape, np.abs(image - [200, 30, 60]).max(), above())
""")
    for line in out.splitlines()[-2:]:
        shape, difference, peak = line.rsplit(" ", 2)
        assert shape == "(224, 224, 3)" and float(difference) < 1e-3 and float(peak) < 300, out


def test_only_an_image_longer_than_max_aspect_is_cropped_before_resizing():
    """Up to MAX_ASPECT (4) sides to one, `resize_shorter` is the plain antialiased resize bit for
    bit; a 10:1 image keeps its centre: the centre 224 crop differs from the uncropped resize's
    only where the resampling grid moves, by under 1 level in the mean."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for width in (120, 160):  # 3:1 and 4:1 of 40 rows
        image = tf.constant(rng.uniform(0, 255, (40, width, 3)), tf.float32)
        expected = tf.image.resize(image, (256, round(width * 256 / 40)), antialias=True)
        np.testing.assert_array_equal(folders.resize_shorter(image, 256).numpy(), expected.numpy())
    coarse = tf.image.resize(rng.uniform(0, 255, (4, 40, 3)), (40, 400)).numpy()  # smooth, as a photo
    cropped = folders.eval_transform(tf.constant(coarse, tf.float32)).numpy()
    whole = folders.centre_crop(tf.image.resize(coarse, (256, 2560), antialias=True)).numpy()
    assert folders.resize_shorter(coarse, 256).shape == (256, 1024, 3) and np.abs(cropped - whole).mean() < 1


def test_evaluate_batches_a_costly_model_within_its_budget(shared, tmp_path):
    """A .keras of 50 MiB of activations an image (within ACTIVATION_BUDGET, so accepted) is
    evaluated on 24 real CIFAR-10 test images within 300 MiB of a fresh process's baseline, as
    the same model scores them one at a time; in batches of 256 it held them all at once (64
    images: +3.2 GB, 50 MiB each)."""
    path = tmp_path / "upsampling.keras"
    out = run_python(PEAK + f"""
import keras
from keras_resnet.data.cifar10 import load_cifar10
from keras_resnet.evaluation.datasets import evaluate
from keras_resnet.pretrained.formats import peak_activations
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.UpSampling2D(64),
                          keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax")])
model.save({str(path)!r})
images, labels = load_cifar10({str(shared / "cifar-10-batches-py")!r}, "test")
one_by_one = np.mean([np.argmax(model.predict_on_batch(x[None])) != y for x, y in zip(images[:24], labels)])
reset()
result = evaluate({str(path)!r}, "cifar10", {str(shared / "cifar-10-batches-py")!r}, limit=24)
print(4 * peak_activations(model).peak >> 20, result["top1_error"] == one_by_one, above())
""")
    activations, same, peak = out.split()[-3:]
    assert int(activations) >= 48 and same == "True" and float(peak) < 300, out


def test_the_papers_testing_methods_hold_a_costly_model_within_budget(image_folder, tmp_path):
    """A fully-convolutional .keras of 38 MiB of activations at 224 x 224 (accepted): ten-crop
    testing (2 images) runs its crops as many at a time as fit ACTIVATION_BUDGET, within 300 MiB of a fresh
    process's baseline (all ten at once: +403 MiB), scoring as the crops do one by one;
    multiscale testing, where it would hold 1.2 GB on a 640 x 2560 image, is refused before any
    image is read, naming the method and the budget."""
    path = tmp_path / "upsampling.keras"
    out = run_python(PEAK + f"""
import keras
from keras_resnet.data.image_folders import decode_file, list_images
from keras_resnet.evaluation import methods
from keras_resnet.evaluation.datasets import evaluate
keras.utils.set_random_seed(0)
keras.Sequential([keras.Input((None, None, 3)), keras.layers.UpSampling2D(8), keras.layers.GlobalAveragePooling2D(),
                  keras.layers.Dense(2, activation="softmax")]).save({str(path)!r})
model = keras.models.load_model({str(path)!r})
paths, labels, _ = list_images({str(image_folder / "val")!r})
one_by_one = [methods.predict_image(model, decode_file(p), "ten-crop", batch=1) for p in paths[:2]]
expected = np.mean(np.argmax(one_by_one, axis=1) != labels[:2])
reset()
print(evaluate({str(path)!r}, "imagenet", {str(image_folder)!r}, "ten-crop", 2)["top1_error"] == expected, above())
try:
    evaluate({str(path)!r}, "imagenet", {str(image_folder)!r}, "multiscale")
except ValueError as e:
    print(e)
""")
    same, peak = out.splitlines()[-2].split()
    assert same == "True" and float(peak) < 300, out
    assert re.fullmatch(r"method='multiscale' runs this model on images up to 640 x 2560, where it would hold "
                        r"1,2[\d,]+ bytes of activations at once, more than MULTISCALE_BUDGET \(1,073,741,824\); "
                        r"use method 'centre' or 'ten-crop'\.", out.splitlines()[-1]), out


def test_a_jpeg_is_decoded_at_the_smallest_scale_that_holds_the_input(tmp_path):
    """A 4000 x 3000 photo is decoded at the smallest DCT scale that keeps twice the size it is
    resized to: 1/8 for a 32 x 32 input, 1/4 for a 224 crop (shorter side 256: 750 >= 512), 1/2
    past shorter side 375; its 224 crop is the full decode's to 2 levels in the mean (a wrong
    scale: tens)."""
    path = tmp_path / "photo.jpg"
    photo(path)
    assert folders.decode_file(path, (32, 32)).shape == (375, 500, 3)
    assert folders.decode_file(path, (256, 256)).shape == (750, 1000, 3)
    assert folders.decode_file(path, (375, 375)).shape == (750, 1000, 3)
    assert folders.decode_file(path, (376, 376)).shape == (1500, 2000, 3)
    assert folders.decode_file(path).shape == (3000, 4000, 3)
    full = folders.eval_transform(folders.decode_file(path)).numpy()
    assert np.abs(folders.load_for_evaluation(path) - full).mean() < 2


def test_a_huge_png_is_predicted_within_300_mib_of_the_baseline(tmp_path):
    """A fresh process: cifar_resnet20 built and a 32 x 32 PNG predicted is the baseline; a 258 KB
    PNG of 9000 x 9000 pixels of one colour (972 MB as float32, as it was decoded before) then goes
    through `predict`'s `model_inputs` and the model within 300 MiB of it, scored as the small one."""
    big, small = tmp_path / "big.png", tmp_path / "small.png"
    big.write_bytes(solid_png(9000))
    small.write_bytes(solid_png(32))
    out = run_python(PEAK + f"""
from keras_resnet.evaluation.predict import classifier, model_inputs
model = classifier("cifar_resnet20", "cifar10")
small = np.asarray(model.predict_on_batch(next(model_inputs(model, [{str(small)!r}]))[None]))
reset()
big = np.asarray(model.predict_on_batch(next(model_inputs(model, [{str(big)!r}]))[None]))
print(np.abs(big - small).max(), above())
""")
    difference, peak = map(float, out.split()[-2:])
    assert difference < 1e-4 and peak < 300, out


@pytest.mark.slow
def test_memory_is_flat_in_the_number_of_photos(tmp_path):
    """A fresh process, 12-megapixel photos: `predict_files` on 40 peaks within 10 MiB of its peak
    on 4 (each photo held whole would add 34 MiB, as float32 146). An int8 ONNX export of a small
    model at 224 x 224, calibrated on 256 PNG files of 300 x 300 pixels and verified on 256 others
    (`calibration_images`, `verification_images`), peaks less than 50 MiB above the same export on
    64 and 64 (after one to warm up), and within 300 MiB of the baseline: every pass (the overlap
    check, the Keras model, the calibration, the runtime) reads a batch at a time. The 192 more
    images of each kind held as float32 would add 2 x 110 MiB (before: 113 MiB on 64, 565 on 256)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    photo(photos / "0.jpg")
    for i in range(1, 40):
        os.link(photos / "0.jpg", photos / f"{i}.jpg")
    paths = sorted(map(str, photos.iterdir()))
    for kind, colour in (("calibration", (200, 30, 60)), ("verification", (20, 90, 160))):
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "0.png").write_bytes(solid_png(300, colour))
        for i in range(1, 256):
            os.link(tmp_path / kind / "0.png", tmp_path / kind / f"{i}.png")
    out = run_python(PEAK + f"""
import keras
from keras_resnet.deploy.artefacts import verification_images
from keras_resnet.deploy.export import export_model
from keras_resnet.deploy.quantize import calibration_images
from keras_resnet.evaluation.predict import predict_files
paths = {paths!r}
predict_files("cifar_resnet20", paths[:1], weights="cifar10")
peaks = []
for count in (4, 40):
    reset()
    assert len(predict_files("cifar_resnet20", paths[:count], weights="cifar10")) == count
    peaks.append(above())
inputs = keras.Input((224, 224, 3))
features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3)(keras.layers.AveragePooling2D(8)(inputs)))
model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(features))
def export(count):
    calibration = calibration_images({str(tmp_path / "calibration")!r}, (224, 224, 3), count)
    images = verification_images({str(tmp_path / "verification")!r}, (224, 224, 3), count)
    check = export_model(model, {str(tmp_path / "m.onnx")!r}, "onnx", images, quantize="int8",
                         calibration=calibration, min_agreement=0)
    assert check["images"] == check["calibration_images"] == count
export(64)  # the converters, the runtime and the batch shapes warmed up
for count in (64, 256):
    reset()
    export(count)
    peaks.append(above())
print(*peaks)
""")
    four, forty, export_64, export_256 = map(float, out.split()[-4:])
    assert forty - four < 10 and export_256 - export_64 < 50, out
    assert max(four, forty, export_64, export_256) < 300, out


# --- classes.json and evaluate's limit ------------------------------------------------------------------------------

CLASSES_FAULTS = {
    "not JSON": b'["cat", ',
    "not UTF-8": b'["cat", "\xff\xfe"]',
    "a dict": b'{"0": "cat", "1": "ship"}',
    "not strings": b"[0, 1]",
    "too few": b'["cat"]',
    "too many": b'["cat", "ship", "dog"]',
    "100,000 levels deep": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("fault", CLASSES_FAULTS)
def test_a_damaged_classes_json_is_refused(tmp_path, fault):
    (tmp_path / "classes.json").write_bytes(CLASSES_FAULTS[fault])
    with pytest.raises(ValueError, match=rf"^`classes.json` '{tmp_path / 'classes.json'}' beside the model must be a "
                                         r"JSON list of the model's 2 class names \(strings\), as `train` writes it; "
                                         r"it (is not UTF-8 JSON|holds a )"):
        class_names_for(tmp_path / "model.keras", 2)
    (tmp_path / "classes.json").write_text('["cat", "ship"]')
    assert class_names_for(tmp_path / "model.keras", 2) == ["cat", "ship"]


@pytest.mark.parametrize("limit", [0, -5, 2.5, True, "3"])
def test_evaluate_refuses_a_limit_that_is_not_a_positive_integer(image_folder, tmp_path, limit):
    """Refused before the model or any image is read (the model file here does not exist)."""
    message = rf"^`limit` must be a positive integer or None \(all images\); received limit={re.escape(repr(limit))}\.$"
    with pytest.raises(ValueError, match=message):
        evaluate(tmp_path / "missing.keras", limit=limit)
    with pytest.raises(ValueError, match=message):
        evaluation.evaluate_folder(None, image_folder / "val", limit=limit)
