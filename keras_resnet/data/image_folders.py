"""ImageNet-style data: a folder per class of JPEG/PNG images (`DIR/train/<class>/*.jpg`,
`DIR/val/<class>/*.jpg`), with the paper's augmentation (Section 3.4): shorter side random
in [256, 480], random 224 crop, horizontal flip, AlexNet's PCA colour augmentation. Mean
subtraction is the model's first layer (`PixelMean`), as for CIFAR."""

from __future__ import annotations

import errno
import mmap
import os
import zlib
from pathlib import Path

import numpy as np

from keras_resnet.core.arguments import display_path, file_problem
from keras_resnet.data.stream import element_seeds, shuffled_epochs

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Pillow's default decompression-bomb limit (PIL.Image.MAX_IMAGE_PIXELS): a larger image is
# refused before decoding, as a few hundred KB of PNG can declare gigabytes of pixels.
MAX_PIXELS = 89_478_485
# The most bytes a file of W x H pixels can need: 16 a pixel (a raw 16-bit RGBA PNG takes 8, a JPEG of
# noise at quality 100 under 8) and 64 MiB of metadata (ICC profiles, EXIF, embedded previews). A larger
# file is refused from its header, unread: a sparse 2 GiB file would otherwise be read whole first.
BYTES_PER_PIXEL = 16
METADATA_BYTES = 64 * 2**20
# A file's holes (a sparse file: disk blocks never written, read as zeros) beyond this are refused: they make a file
# of a few KB on disk as costly to read as gigabytes, and an encoder writes every byte (`cp` may leave a hole where
# a file holds 4 KB of zeros, as in the padding of some metadata).
UNWRITTEN_BYTES = 2**20
JPEG_RATIOS = (8, 4, 2, 1)  # libjpeg's DCT scalings, largest first (Pillow's draft mode)
# a JPEG is decoded at least this many times its resized size (Pillow's `reducing_gap` in `thumbnail`): the
# resize then antialiases from enough pixels, and an ImageNet-sized photo (under 512 a side) is decoded whole
REDUCING_GAP = 2
MAX_NAMED = 10  # bad files named one by one in a refusal; the rest are counted
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the whole IEND chunk: length 0, type, CRC
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}  # colour type: bit depths
_JPEG_FRAMES = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOFn markers (C4 DHT, C8 JPG, CC DAC are not)
SCALE_RANGE = (256, 480)
CROP = 224
EVAL_SIZE = 256  # shorter side before the centre 224 crop
# the longest side kept, in shorter sides, before resizing to a shorter side (a panorama is 2-4): the centre 224 crop
# and the scales of fully-convolutional testing use less; a longer image is cropped about its centre first
MAX_ASPECT = 4
# Krizhevsky et al. (2012) colour augmentation: eigen-decomposition of the ImageNet RGB
# covariance (pixels in [0, 1]); each image is shifted by eigvec @ (alpha * eigval), alpha ~ N(0, 0.1).
PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
PCA_EIGVEC = ((-0.5675, 0.7192, 0.4009), (-0.5808, -0.0045, -0.8140), (-0.5836, -0.6948, 0.4203))
PCA_STD = 0.1
# the ImageNet training images' RGB mean and standard deviation (pixels in [0, 1]): torchvision's
# normalisation, keras.applications' "torch" mode, timm's and keras-hub's ResNets'
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def list_images(directory: str | os.PathLike) -> tuple[list[str], np.ndarray, list[str]]:
    """(image paths, int64 labels, class names): classes are the sorted sub-folder names.
    Checked before any training, as tf.data would only fail on them mid-epoch: a class folder
    without images, and each file that `image_problem` finds cannot be decoded, are refused."""
    directory = Path(directory)
    classes = sorted(p.name for p in directory.iterdir() if p.is_dir()) if directory.is_dir() else []
    paths, labels, empty = [], [], []
    for label, name in enumerate(classes):
        files = sorted(p for p in (directory / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += [str(p) for p in files]
        labels += [label] * len(files)
        empty += [] if files else [name]
    if not paths:
        raise ValueError(
            f"`data_dir` folder {display_path(directory)} has no class sub-folders with {'/'.join(IMAGE_SUFFIXES)} "
            "images (expected DIR/train/<class>/*.jpg and DIR/val/<class>/*.jpg)."
        )
    if empty:
        raise ValueError(
            f"`data_dir` folder {display_path(directory)} has class folders without {'/'.join(IMAGE_SUFFIXES)} "
            f"images: {', '.join(map(display_path, empty))}; every class folder needs images (remove the empty "
            "ones from train/ and val/ alike)."
        )
    bad = [f"{display_path(path)} ({problem})" for path in paths if (problem := image_problem(path))]
    if bad:
        more = f" and {len(bad) - MAX_NAMED} more" if len(bad) > MAX_NAMED else ""
        raise ValueError(f"`data_dir` folder {display_path(directory)} has {len(bad)} image file(s) that cannot be "
                         f"decoded: {'; '.join(bad[:MAX_NAMED])}{more}.")
    return paths, np.asarray(labels, np.int64), classes


def image_problem(path: str | os.PathLike) -> str | None:
    """Why the file is not a JPEG or PNG that decodes within MAX_PIXELS, or None. Sound and
    cheap, for every file of an ImageNet-sized folder: it reads the header and searches back
    from the end for the end marker (a few pages of a good file), never decoding pixels."""
    try:
        if problem := file_problem(path):
            return problem
        with open(path, "rb") as f:
            return _mapped_problem(f, os.fstat(f.fileno()).st_size)[0]
    except OSError as e:
        return f"cannot be read: {e.strerror or e}"


def _mapped_problem(f, size: int) -> tuple[str | None, tuple[int, int]]:
    """`_encoded_problem` of the open file's first `size` bytes, mapped rather than read; the file
    is left at its start (counting holes moves it)."""
    if not size:
        return "empty", (0, 0)
    unwritten = _unwritten_bytes(f.fileno(), size)
    f.seek(0)
    with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as data:
        return _encoded_problem(data, unwritten)


def _unwritten_bytes(fd: int, size: int) -> int:
    """The bytes in the file's holes, counted until they pass UNWRITTEN_BYTES (0 where the system
    cannot tell): a sparse file declares bytes no program wrote, and takes no disk for what it costs read."""
    holes, position = 0, 0
    try:
        while holes <= UNWRITTEN_BYTES and (hole := os.lseek(fd, position, os.SEEK_HOLE)) < size:
            try:
                position = os.lseek(fd, hole, os.SEEK_DATA)
            except OSError as e:  # ENXIO: no data after the hole
                if e.errno != errno.ENXIO:
                    raise
                position = size
            holes += position - hole
    except (AttributeError, OSError):  # no SEEK_HOLE (Windows), or a file system without it
        return 0
    return holes


def _encoded_problem(data: bytes | mmap.mmap, unwritten: int) -> tuple[str | None, tuple[int, int]]:
    """(`image_problem` of the file's bytes, the (width, height) its header declares), `unwritten`
    of them in holes. The end marker is searched for last, once the size is known to fit the
    pixels and the bytes to be on disk: the search reads the file back from its end."""
    if data[:8] == PNG_SIGNATURE:
        header, end, end_name = _png_header, _PNG_IEND, "PNG IEND chunk"
    elif data[:2] == b"\xff\xd8":
        header, end, end_name = _jpeg_header, b"\xff\xd9", "JPEG end marker FF D9"
    else:
        return f"not a JPEG or PNG file: it starts with {bytes(data[:8]).hex(' ')}", (0, 0)
    try:
        width, height, body = header(data)
    except ValueError as e:
        return str(e), (0, 0)
    if width < 1 or height < 1:
        return f"it declares {width} x {height} pixels", (width, height)
    if width * height > MAX_PIXELS:
        return (f"{width} x {height} pixels, above the limit of {MAX_PIXELS:,} pixels (MAX_PIXELS, Pillow's "
                "decompression-bomb limit)"), (width, height)
    if len(data) > (most := BYTES_PER_PIXEL * width * height + METADATA_BYTES):
        return (f"{len(data):,} bytes, more than its {width} x {height} pixels can need ({most:,} at most: "
                f"{BYTES_PER_PIXEL} bytes a pixel and {METADATA_BYTES >> 20} MiB of metadata)"), (width, height)
    if unwritten > UNWRITTEN_BYTES:
        return (f"a sparse file: of its {len(data):,} bytes, {unwritten:,} or more are holes that no program wrote "
                f"(at most {UNWRITTEN_BYTES >> 20} MiB are accepted, UNWRITTEN_BYTES)"), (width, height)
    if data.rfind(end, body) < 0:  # trailing bytes after the marker decode fine, as in TensorFlow
        return f"cut short: no {end_name} after its image data", (width, height)
    return None, (width, height)


def _png_header(data: bytes | mmap.mmap) -> tuple[int, int, int]:
    """(width, height, end of header) from the IHDR chunk, which must come first and be valid."""
    ihdr = bytes(data[8:33])
    if len(ihdr) < 25 or ihdr[:8] != b"\x00\x00\x00\x0dIHDR":
        raise ValueError("a PNG without its IHDR header chunk")
    if zlib.crc32(ihdr[4:21]) != int.from_bytes(ihdr[21:25], "big"):
        raise ValueError("a PNG whose IHDR header chunk fails its CRC")
    depth, colour, compression, filtering, interlace = ihdr[16:21]
    if depth not in _PNG_DEPTHS.get(colour, ()) or compression or filtering or interlace > 1:
        raise ValueError(f"a PNG with an invalid IHDR (bit depth {depth}, colour type {colour}, compression "
                         f"{compression}, filter {filtering}, interlace {interlace})")
    return int.from_bytes(ihdr[8:12], "big"), int.from_bytes(ihdr[12:16], "big"), 33


def _jpeg_header(data: bytes | mmap.mmap) -> tuple[int, int, int]:
    """(width, height, end of the frame header) from the first SOFn segment, walking the
    segments before it by their lengths."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"a JPEG with no marker at byte {pos}, where its next segment should start")
        marker = data[pos + 1]
        if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD7:  # fill byte, or a marker without a length
            pos += 1 if marker == 0xFF else 2
            continue
        if marker in (0xD8, 0xD9, 0xDA):
            raise ValueError(f"a JPEG with marker FF {marker:02X} before its frame header (SOF)")
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker in _JPEG_FRAMES and length >= 8 and pos + 9 <= len(data):
            height, width = int.from_bytes(data[pos + 5:pos + 7], "big"), int.from_bytes(data[pos + 7:pos + 9], "big")
            return width, height, pos + 2 + length
        if length < 2:
            raise ValueError(f"a JPEG with a segment of length {length} at byte {pos}")
        pos += 2 + length
    raise ValueError("cut short: a JPEG that ends before its frame header (SOF)")


def decode_file(path: str | os.PathLike, at_least: tuple[int, int] | None = None):
    """The image file as a uint8 RGB tensor (H x W x 3), or a ValueError naming it: a file that
    is not a complete JPEG or PNG, declares more than MAX_PIXELS pixels, or is larger than they
    can need is refused from its header and end, before it is read. With `at_least` (height,
    width), the size it is resized to next, a JPEG is decoded at the smallest DCT scale (1/8,
    1/4, 1/2) that keeps both sides REDUCING_GAP times that (a 12-megapixel photo for a 224
    crop: 2.3 MB, not 36); a PNG has no such scale."""
    import tensorflow as tf

    if file_problem(path):
        raise refusal(path, "missing")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            problem, (width, height) = _mapped_problem(f, size)
            encoded = f.read(size) if problem is None else b""  # the bytes checked, whatever is appended since
    except OSError as e:
        raise ValueError(f"image file {display_path(path)} cannot be read: {e.strerror or e}.") from None
    if problem is None:
        try:
            if encoded[:2] == b"\xff\xd8":
                return tf.io.decode_jpeg(encoded, channels=3, ratio=_jpeg_ratio(width, height, at_least))
            return tf.io.decode_png(encoded, channels=3)
        except tf.errors.InvalidArgumentError as e:  # damaged inside: a CRC, the compressed data
            problem = e.message.strip().splitlines()[-1][:200]
    raise refusal(path, problem)


def refusal(path: str | os.PathLike, problem: str) -> ValueError:
    """The ValueError for an image file that `image_problem` or its decoder finds fault with."""
    if problem in ("missing", "not a regular file"):
        return ValueError(f"image file {display_path(path)} does not exist or is not a regular file.")
    return ValueError(f"image file {display_path(path)} is not a readable JPEG or PNG image: {problem}.")


def check_image_files(paths) -> None:
    """Each file checked from its header and end (`image_problem`) before any is decoded: a bad
    last file of many is refused at once, not after the others' work."""
    for path in paths:
        if problem := image_problem(path):
            raise refusal(path, problem)


def _jpeg_ratio(width: int, height: int, at_least: tuple[int, int] | None) -> int:
    """The largest DCT scaling whose image (libjpeg rounds its sides up) keeps REDUCING_GAP x `at_least`."""
    if at_least is None:
        return 1
    low, narrow = (REDUCING_GAP * side for side in at_least)
    return next((r for r in JPEG_RATIOS if -(-height // r) >= low and -(-width // r) >= narrow), 1)


def load_resized(path: str | os.PathLike, size: tuple[int, int]) -> np.ndarray:
    """The image file as a float32 0-255 RGB array of `size` (H, W): resized from uint8 (antialiased,
    aspect not kept) where its size differs, so that no full-size float copy is made."""
    import tensorflow as tf

    image = decode_file(path, size)
    if tuple(image.shape[:2]) != tuple(size):
        image = tf.image.resize(image, size, antialias=True)
    return np.asarray(image, np.float32)


def load_for_evaluation(path: str | os.PathLike) -> np.ndarray:
    """The image file as `eval_transform` brings it, a float32 224 x 224 x 3 array (`decode_file`
    at EVAL_SIZE: a large JPEG decoded at a DCT scale)."""
    return np.asarray(eval_transform(decode_file(path, (EVAL_SIZE, EVAL_SIZE))))


def load_shorter(path: str | os.PathLike, side: int) -> np.ndarray:
    """The image file with its shorter side resized to `side` (`resize_shorter`), float32 0-255
    RGB: for a model that crops its input itself."""
    return np.asarray(resize_shorter(decode_file(path, (side, side)), side), np.float32)


def decode(path):
    """A JPEG/PNG file (checked by `list_images`) as a uint8 RGB image: the transforms resize it to
    float32, so no full-size float32 copy is made (4 bytes a pixel a channel, 1 GB at MAX_PIXELS)."""
    import tensorflow as tf

    return tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)


def resize_shorter(image, side):
    """Resize so that the shorter side is `side` (aspect kept), the longer side first cropped about
    its centre to MAX_ASPECT times the shorter: the resized image is bounded by `side`, not by the
    input's shape (a 16 x 100000 PNG of a few KB resized whole took 5.3 GB)."""
    import tensorflow as tf

    shape = tf.shape(image)[:2]
    longest = MAX_ASPECT * tf.reduce_min(shape)
    image = tf.image.resize_with_crop_or_pad(image, tf.minimum(shape[0], longest), tf.minimum(shape[1], longest))
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(side, tf.float32) / tf.reduce_min(shape)
    size = tf.cast(tf.round(shape * scale), tf.int32)
    return tf.image.resize(image, tf.maximum(size, side), antialias=True)


def centre_crop(image, size: int = CROP):
    import tensorflow as tf

    return tf.image.resize_with_crop_or_pad(image, size, size)


def colour_augment(image, seed):
    """AlexNet's PCA lighting noise on a 0-255 RGB image (`seed`: a stateless-op seed pair)."""
    import tensorflow as tf

    alpha = tf.random.stateless_normal([3], seed, stddev=PCA_STD)
    shift = tf.linalg.matvec(tf.constant(PCA_EIGVEC), alpha * tf.constant(PCA_EIGVAL))
    return image + 255.0 * shift


def train_transform(image, seeds):
    """Scale, crop, flip and colour augmentation, drawn from `seeds` (4 stateless-op seed pairs)."""
    import tensorflow as tf

    side = tf.random.stateless_uniform([], seeds[0], SCALE_RANGE[0], SCALE_RANGE[1] + 1, dtype=tf.int32)
    image = tf.image.stateless_random_crop(resize_shorter(image, side), [CROP, CROP, 3], seeds[1])
    image = tf.image.stateless_random_flip_left_right(image, seeds[2])
    return tf.clip_by_value(colour_augment(image, seeds[3]), 0.0, 255.0)


def eval_transform(image):
    """The shorter-side-256 image's centre 224 crop, float32 (from uint8 too: the resize casts)."""
    return centre_crop(resize_shorter(image, EVAL_SIZE))


def pipeline(paths, labels, batch_size: int, *, training: bool, seed: int = 0, start: int = 0):
    """(float32 0-255 images, labels) batches: for training endless, reshuffled every epoch,
    augmented 224 crops, from image `start` of the stream on (a resumed run); for evaluation
    centre crops of the shorter-side-256 image."""
    import tensorflow as tf

    paths, labels = np.asarray([os.fsencode(p) for p in paths]), np.asarray(labels)  # any file name's bytes
    if training:
        files = shuffled_epochs(paths, labels, seed=seed, start=start).enumerate(start)
        ds = files.map(lambda position, example: (train_transform(decode(example[0]), element_seeds(seed, position, 4)),
                                                  example[1]), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        files = tf.data.Dataset.from_tensor_slices((paths, labels))
        ds = files.map(lambda p, y: (eval_transform(decode(p)), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


def mean_image(paths, limit: int = 10_000, seed: int = 0) -> np.ndarray:
    """Per-pixel mean (224 x 224 x 3, 0-255) of the evaluation crops of up to `limit` randomly
    chosen training images: the paper's per-pixel mean, estimated."""
    chosen = np.random.default_rng(seed).permutation(len(paths))[:limit]
    total, count = np.zeros((CROP, CROP, 3), np.float64), 0
    for batch, _ in pipeline([paths[i] for i in chosen], np.zeros(len(chosen), np.int64), 64, training=False):
        total += batch.numpy().sum(axis=0)
        count += len(batch)
    return (total / count).astype(np.float32)
