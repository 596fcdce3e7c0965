"""TensorFlow's start-up lines (the absl notice, oneDNN, CPU features), which no log level
hides, kept off stderr: for the command line and the examples, which print only their own lines."""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stderr_held_back() -> Iterator[None]:
    """What native code (TensorFlow's C++, TFLite) writes to stderr in the block, which no
    Python log level reaches, is kept back, and shown only if the block fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as held:
            os.dup2(held.fileno(), 2)
            try:
                yield
            except BaseException:
                sys.stderr.flush()
                os.dup2(saved, 2)
                held.seek(0)
                os.write(2, held.read())
                raise
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def quiet_tensorflow(verbose: bool = False) -> None:
    """Unless `verbose`, keep TensorFlow's C++ and absl logs (the oneDNN notice, CPU features,
    converter passes) off stderr: TF_CPP_MIN_LOG_LEVEL=3 (a value the user set is kept) before
    TensorFlow loads, and what its import writes regardless of that level held back."""
    if verbose or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with stderr_held_back():
            importlib.import_module("tensorflow")
    except ImportError:  # a Keras backend without TensorFlow: the commands that need it say so
        return
    from absl import logging as absl_logging  # TensorFlow's Python logs (the TFLite converter's)

    absl_logging.set_verbosity(absl_logging.ERROR)
