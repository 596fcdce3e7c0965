"""What an export is and how it is checked, shared by the float exports (`export`) and the int8
ones (`quantize`): the formats and their names, each format's writer and runtime, the images
an export is verified on (`Images`: a batch at a time, so memory does not grow with their number),
and the verified build itself.

Every export is checked before it is kept: the written artefact is loaded in its own
runtime, run on the given images, and compared with the Keras model. The artefact is built in
a temporary folder beside the output and moved into place only when it passes, so a failed
export or a kill leaves an existing output untouched and nothing half-written. An existing
output is replaced only when it is an earlier export of the same format (checked before
converting and again before the move), so no file or folder of the user's (a training run) is
ever lost; the timm folder (`timm_export`), written as it is and not run here, is kept the same way.
Kept free of Keras: the command line reads its choices from here before Keras loads.
"""


from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from keras_resnet.core.arguments import check_choice, is_integer
from keras_resnet.core.atomic import check_replaceable, work_directory
from keras_resnet.core.quiet import stderr_held_back
from keras_resnet.data.cifar10 import load_cifar10
from keras_resnet.data.image_folders import CROP, IMAGE_SUFFIXES, check_image_files, load_resized

EXPORT_FORMATS = ("savedmodel", "onnx", "tflite")
SUFFIXES = {".onnx": "onnx", ".tflite": "tflite"}  # a SavedModel is a directory: no suffix
# timm's Hub layout (`timm_export`): the weights for PyTorch, written as they are (nothing to run here), in a
# directory of the files timm's `save_for_hf(safe_serialization=True)` writes
TIMM = "timm"
TIMM_FILES = ("config.json", "model.safetensors")
DIRECTORY_FORMATS = ("savedmodel", TIMM)
TOLERANCE = 1e-4  # largest absolute difference of (softmax) outputs accepted
ONNX_OPSET = 17
RUN_BATCH = 32  # images an exported model runs on at once while it is verified
INSTALL = "pip install tf2onnx onnxruntime (the keras3-resnet [export] extra)"
REQUIRES = {"onnx": ("tf2onnx", "onnxruntime")}  # packages beyond TensorFlow, by format
# what `model.export` (tf.saved_model.save) writes at the top of a SavedModel directory
SAVEDMODEL_ENTRIES = {"saved_model.pb", "variables", "assets", "assets.extra", "fingerprint.pb", "keras_metadata.pb"}
TFLITE_IDENTIFIER = b"TFL3"  # the FlatBuffer file identifier, bytes 4-8 of a .tflite file
# int8 exports (quantize.py): the accuracy budget, in top-1 percentage points on labelled images, and the
# share of images whose top class must stay the Keras model's. 8-bit rounding moves the top class only
# where the two best scores nearly tie: 98-99% of CIFAR-10 test images keep it (BENCHMARKS.md); under 95%
# the calibration is wrong (other images, other preprocessing), whatever the accuracy says.
MAX_ACCURACY_DROP = 1.0
MIN_AGREEMENT = 0.95
QUANTIZE_MODES = ("int8",)
QUANTIZE_FORMATS = ("tflite", "onnx")  # a SavedModel keeps float weights


def check_backend(format: str) -> None:
    """SavedModel, TFLite and ONNX (through tf2onnx) are written from TensorFlow graphs of the
    model: export runs under the TensorFlow backend only. A `.keras` file loads on every
    backend, so a model trained elsewhere is exported by loading it under TensorFlow."""
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"format={format!r}: export needs the TensorFlow backend (the exporters read TensorFlow graphs); "
            f"received the {keras.backend.backend()!r} backend. Save the model (model.save('m.keras')) and "
            "export it with KERAS_BACKEND=tensorflow: `keras-resnet export m.keras ...`."
        )


def check_quantize(quantize: str, format: str) -> None:
    """`quantize` is a mode this package writes, in a format that holds it."""
    check_choice("quantize", quantize, QUANTIZE_MODES)
    if format not in QUANTIZE_FORMATS:
        raise ValueError(f"`quantize` {quantize!r} needs `format` one of {list(QUANTIZE_FORMATS)}; received "
                         f"format={format!r} (a SavedModel keeps float weights).")


class Images:
    """Images an export is verified or calibrated on, of `shape` (N, H, W, C), given a batch at a
    time and again on every pass (the Keras model's, the runtime's, the overlap check's):
    `load(start, stop)` makes those images as float32 (an array's slice, files decoded, seeded
    noise), so a pass holds one batch, whatever `--count`."""

    def __init__(self, shape: tuple[int, ...], load: Callable[[int, int], np.ndarray], batch: int = RUN_BATCH):
        self.shape, self.load, self.batch = tuple(shape), load, batch

    @classmethod
    def of(cls, images: Images | np.ndarray) -> Images:
        """`images` as they are, or an array (a list) held as given and cast a batch at a time: a
        uint8 CIFAR-10 batch is not copied whole to float32."""
        if isinstance(images, Images):
            return images
        array = np.asarray(images)
        if array.dtype.kind not in "uif":  # anything but numbers: converted (or refused by numpy) here, not later
            array = array.astype(np.float32)
        return cls(array.shape, lambda start, stop: np.asarray(array[start:stop], np.float32))

    @classmethod
    def files(cls, paths: Sequence[str | os.PathLike], shape: tuple) -> Images:
        """Image files at `shape` (H, W, C; None sizes become 224), every one checked from its header
        now (a damaged file: a ValueError naming it, before any work), then each batch read one file
        at a time straight to that size (`load_resized`: a JPEG at its smallest DCT scale that holds
        it, resized from uint8): only input-sized images are held, a batch of them."""
        size, paths = input_size(shape), list(paths)
        check_image_files(paths)

        def load(start: int, stop: int) -> np.ndarray:
            batch = np.empty((stop - start, *size, 3), np.float32)
            for i, path in enumerate(paths[start:stop]):
                batch[i] = load_resized(path, size)
            return batch

        return cls((len(paths), *size, 3), load)

    def __len__(self) -> int:
        return self.shape[0]

    def batches(self, size: int | None = None) -> Iterator[np.ndarray]:
        """The images in order, `size` (default: `batch`) at a time: a runtime's activations are a batch's too."""
        size = size or self.batch
        for start in range(0, len(self), size):
            yield self.load(start, min(start + size, len(self)))


def model_images(model, images: Images | np.ndarray, argument: str) -> Images:
    """`images` (`Images.of`) in batches of RUN_BATCH, fewer where `model`'s activations would pass
    `formats.ACTIVATION_BUDGET` (`batch_for`); refused (naming `argument`) unless of the shape `model` takes."""
    from keras_resnet.pretrained.formats import batch_for  # imports Keras: not while the command line is parsed

    images = Images.of(images)
    expected_shape = tuple(model.input_shape[1:])
    if len(images.shape) != 4 or any(e is not None and e != s for e, s in zip(expected_shape, images.shape[1:])):
        raise ValueError(f"`{argument}` must be a batch of shape (N, {', '.join(map(str, expected_shape))}) "
                         f"for this model; received shape {images.shape}.")
    return Images(images.shape, images.load, batch_for(model, RUN_BATCH))


def build_verified(model, path: str | os.PathLike, format: str, images: Images,
                   write: Callable[[object, Path, Path], None],
                   verify: Callable[[np.ndarray, np.ndarray], dict]) -> dict:
    """The artefact `write(model, artefact, work)` makes, built in a temporary folder beside
    `path`, run in `format`'s runtime on `images` and moved to `path` only when
    `verify(its outputs, the Keras model's)` returns its check rather than raising. Both models
    run a batch at a time; only their outputs (N x classes) are kept whole."""
    for module in REQUIRES.get(format, ()):  # import errors before any work
        _require(module, format)
    path = Path(path)
    check_output(path, format)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path.parent).close()
    except OSError as e:
        raise ValueError(f"the {format} export {str(path)!r} cannot be written: {e}.") from e
    expected = np.concatenate([np.asarray(model.predict_on_batch(batch)) for batch in images.batches()])
    with work_directory(path) as work:  # a killed export's is removed by the next export to `path`
        artefact = work / path.name
        try:
            write(model, artefact, work)
            got = np.asarray(RUNTIMES[format].run(artefact, images))
        except Exception as e:  # converters' and runtimes' own error types
            _raise_if_environment(e, format, path, work)
            raise ValueError(
                f"the {format} conversion failed ({type(e).__name__}: {str(e).strip().splitlines()[0][:300]}); "
                f"nothing was written to {str(path)!r}." + _crop_hint(model, format)
            ) from e
        check = verify(got, expected)
        check_output(path, format)  # again: the conversion took a while
        move_into_place(artefact, path, work)
    return check


def _crop_hint(model, format: str) -> str:
    """The one known cause named only where it is present: the antialiased resize of an
    ImageNet model's built-in centre crop, which ONNX and TFLite lack."""
    if format == "savedmodel" or not any(type(layer).__name__ == "CentreCrop" for layer in model.layers):
        return ""
    return (" Its built-in centre crop (include_preprocessing) resizes with antialiasing, which the format "
            "lacks: export with `keras-resnet export --no-preprocessing`.")


def output_format(path: str | os.PathLike, format: str | None = None) -> str:
    """The format of an export to `path`: `format` if given, else told by the suffix (.onnx,
    .tflite; none: a SavedModel directory). A `format` the suffix contradicts is refused, so
    that no file is named as another format."""
    suffix = Path(path).suffix.lower()
    named = SUFFIXES.get(suffix, "savedmodel" if not suffix else None)
    if format is None:
        if named is None:
            raise ValueError(f"`format` cannot be told from the output {str(path)!r}: name it .onnx, .tflite or "
                             "without a suffix (a SavedModel directory), or give `format`, one of "
                             f"{list(EXPORT_FORMATS)}.")
        return named
    if format in SUFFIXES.values() and suffix != f".{format}" or format in DIRECTORY_FORMATS and suffix in SUFFIXES:
        raise ValueError(f"`format` {format!r} does not match the output {str(path)!r}: onnx exports are named "
                         "*.onnx, tflite *.tflite, savedmodel and timm ones are directories without those suffixes; "
                         "rename the output, or leave `format` out to follow its name.")
    return format


def check_output(path: str | os.PathLike, format: str) -> None:
    """Nothing of the user's is replaced: `path` must not exist or be an earlier export of `format`."""
    check_replaceable(Path(path), f"{format} export", IS_EXPORT[format])


def _is_savedmodel(path: Path) -> bool:
    """A directory of only the entries a SavedModel holds, saved_model.pb among them (or empty)."""
    if not path.is_dir():
        return False
    entries = {p.name for p in path.iterdir()}
    return not entries or ("saved_model.pb" in entries and entries <= SAVEDMODEL_ENTRIES)


def _is_onnx(path: Path) -> bool:
    """A file that parses as an ONNX ModelProto with an IR version and a graph of nodes. The
    first byte is the tag of field 1 (ir_version), which every serializer writes first; it is
    checked before parsing so that a large file of another kind is not read whole."""
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        if f.read(1) != b"\x08":
            return False
    import onnx

    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception:  # protobuf's DecodeError and onnx's own
        return False
    return model.ir_version > 0 and len(model.graph.node) > 0


def _is_tflite(path: Path) -> bool:
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        return f.read(8)[4:] == TFLITE_IDENTIFIER


def _is_timm_export(path: Path) -> bool:
    """A directory of only `TIMM_FILES` (or empty), its config.json a small JSON object naming an
    `architecture`: a timm folder (`timm_export.save_timm`, timm's `save_for_hf`)."""
    if not path.is_dir():
        return False
    entries = {p.name for p in path.iterdir()}
    config = path / "config.json"
    if not entries:
        return True
    if not entries <= set(TIMM_FILES) or not config.is_file() or config.stat().st_size > 1 << 20:
        return False
    try:
        found = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):  # JSONDecodeError is a ValueError
        return False
    return isinstance(found, dict) and "architecture" in found


IS_EXPORT = {"savedmodel": _is_savedmodel, "onnx": _is_onnx, "tflite": _is_tflite, TIMM: _is_timm_export}


def _raise_if_environment(error: Exception, format: str, path: Path, work: Path) -> None:
    """A full or read-only disk, or a permission, is the machine's fault, not a conversion's:
    an OSError saying so. TensorFlow reports such write failures as its own error types (not
    OSError), so the disk itself is asked too."""
    cause = next((e for e in _chain(error) if isinstance(e, OSError) and e.errno is not None), None)
    if cause is None and shutil.disk_usage(work).free < 2**20:
        cause = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if cause is not None:
        raise OSError(cause.errno, f"writing the {format} export {str(path)!r} failed: {os.strerror(cause.errno)}; "
                                   "nothing was written") from error


def _chain(error: BaseException):
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


def move_into_place(artefact: Path, path: Path, work: Path) -> None:
    """Rename (atomic on one filesystem); an earlier SavedModel directory is first moved aside
    into `work`, which is deleted afterwards."""
    if path.is_dir():
        os.replace(path, work / "previous")
    os.replace(artefact, path)


class SavedModelRuntime:
    @staticmethod
    def write(model, path: Path, work: Path) -> None:
        """`serve` takes one float32 batch, whatever structure the model's inputs were saved with
        (`train`'s models list their one input: Keras' default signature would then want a list)."""
        import tensorflow as tf

        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name=OnnxRuntime.INPUT)
        model.export(str(path), format="tf_saved_model", verbose=False, input_signature=[spec])

    @staticmethod
    def run(path: Path, images: Images | np.ndarray) -> np.ndarray:
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))  # kept referenced: `serve` uses its variables
        return np.concatenate([loaded.serve(batch).numpy() for batch in Images.of(images).batches()])


class OnnxRuntime:
    INPUT = "images"  # the input's name in the graph

    @staticmethod
    def write(model, path: Path, work: Path) -> None:
        import tensorflow as tf
        import tf2onnx

        spec = (tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name=OnnxRuntime.INPUT),)
        tf2onnx.convert.from_keras(model, input_signature=spec, opset=ONNX_OPSET, output_path=str(path))

    @staticmethod
    def run(path: Path, images: Images | np.ndarray) -> np.ndarray:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return np.concatenate([session.run(None, {name: batch})[0] for batch in Images.of(images).batches()])


class TFLiteRuntime:
    @staticmethod
    def write(model, path: Path, work: Path, configure: Callable[[object], None] | None = None) -> None:
        """Through a SavedModel; `configure(converter)` sets the converter's options (int8) first."""
        import tensorflow as tf

        saved = work / "savedmodel"
        SavedModelRuntime.write(model, saved, work)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        if configure is not None:
            configure(converter)
        # the converter prints its settings natively ("fully_quantize: 0, ..."): held back as TF's logs are
        with stderr_held_back() if _quiet() else nullcontext():
            path.write_bytes(converter.convert())
        shutil.rmtree(saved)

    @staticmethod
    def run(path: Path, images: Images | np.ndarray) -> np.ndarray:
        interpreter = tflite_interpreter(str(path))
        (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()
        got, allocated = [], None
        for batch in Images.of(images).batches():
            if batch.shape != allocated:  # the first batch, and a shorter last one
                interpreter.resize_tensor_input(inputs["index"], batch.shape)
                # its INFO line ("Created TensorFlow Lite XNNPACK delegate") obeys no log level: held back
                with stderr_held_back() if _quiet() else nullcontext():
                    interpreter.allocate_tensors()
                allocated = batch.shape
            interpreter.set_tensor(inputs["index"], batch)
            interpreter.invoke()
            got.append(interpreter.get_tensor(outputs["index"]))
        return np.concatenate(got)


def _quiet() -> bool:
    """TensorFlow's logs are turned down (TF_CPP_MIN_LOG_LEVEL), so native chatter is too."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") not in ("", "0")


def tflite_interpreter(path: str):
    """LiteRT's interpreter (ai-edge-litert) where installed, else TensorFlow's own (deprecated
    since TF 2.20, still shipped)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tf.lite.Interpreter(model_path=path)
    return Interpreter(model_path=path)


def _require(module: str, format: str) -> None:
    try:
        __import__(module)
    except ImportError as e:
        raise ValueError(f"format={format!r} needs the {module} package ({e}); install it: {INSTALL}") from None


RUNTIMES = {"savedmodel": SavedModelRuntime, "onnx": OnnxRuntime, "tflite": TFLiteRuntime}


def verification_images(source: str | os.PathLike | None, shape: tuple, count: int = 100, seed: int = 0) -> Images:
    """`count` images of `shape` (H, W, C; None sizes become 224) to verify an export on: the
    CIFAR-10 test batch of a directory holding one, JPEG/PNG files under a folder (resized),
    or, with no source, seeded random 0-255 images (each from its own seed, made when its
    batch is)."""
    check_count(count)
    if source is None:
        size, channels = input_size(shape), shape[2]

        def noise(start: int, stop: int) -> np.ndarray:
            batch = np.empty((stop - start, *size, channels), np.float32)
            for i in range(start, stop):
                batch[i - start] = np.random.default_rng((seed, i)).uniform(0, 255, batch.shape[1:])
            return batch

        return Images((count, *size, channels), noise)
    source = Path(source)
    if (source / "test_batch").is_file():
        return Images.of(load_cifar10(source, "test")[0][:count])
    files = image_files(source)
    if not files:
        raise ValueError(f"`images` {str(source)!r} must be a CIFAR-10 directory (with test_batch) or a "
                         f"folder of {'/'.join(IMAGE_SUFFIXES)} images.")
    return Images.files(files[:count], shape)


def check_count(count: int) -> None:
    """How many images to read: an integer >= 1, where a slice would read a negative `count` as
    all but that many, and 0 as none."""
    if not is_integer(count) or count < 1:
        raise ValueError(f"`count` must be an integer >= 1; received count={count!r}.")


def image_files(source: Path) -> list[Path]:
    """The JPEG/PNG files under the folder `source`, sorted (none if it is not a folder)."""
    return sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if source.is_dir() else []


def input_size(shape: tuple) -> tuple[int, int]:
    """(H, W) of a model's input `shape` (H, W, C), a None size (any) taken as the ImageNet crop, 224."""
    return tuple(CROP if s is None else s for s in shape[:2])
