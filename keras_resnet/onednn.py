"""TensorFlow's oneDNN kernels, switched on when keras_resnet is imported before TensorFlow.

TensorFlow turns them on by itself only on recent Intel CPUs; elsewhere (the AMD EPYC
machines of our CI, older Intel) its default kernels are far slower for convolutions
(BENCHMARKS.md: 1.9x for CifarResNet(3) training). The switch is an environment variable that
TensorFlow reads once, when it loads, so it can only be set before that; a value the user
set (TF_ENABLE_ONEDNN_OPTS=0 turns the kernels off) is left alone, and a TensorFlow already
loaded with the kernels off on a CPU-only machine gets a warning saying how to turn them on.
Setting it is the one global change `import keras_resnet` makes: logged once at INFO on the
`keras_resnet` logger (README's first screen, docs/backends.md), printed never.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def enable_onednn() -> bool:
    """Set TF_ENABLE_ONEDNN_OPTS=1 unless it is set or TensorFlow is loaded; True if set here."""
    if VARIABLE in os.environ:
        return False
    if "tensorflow" in sys.modules:
        _warn_if_off()
        return False
    os.environ[VARIABLE] = "1"
    logging.getLogger("keras_resnet").info(
        "keras_resnet set TF_ENABLE_ONEDNN_OPTS=1 (TensorFlow's oneDNN CPU kernels: 1.9x faster ResNet training on "
        "CPUs where TensorFlow leaves them off). Set TF_ENABLE_ONEDNN_OPTS=0 before importing keras_resnet to opt out."
    )
    return True


def _warn_if_off() -> None:
    try:
        import tensorflow as tf
        from tensorflow.python.util._pywrap_util_port import IsMklEnabled
    except ImportError:  # a TensorFlow without the switch
        return
    if not IsMklEnabled() and not tf.config.list_physical_devices("GPU"):
        warnings.warn(
            "TensorFlow was imported before keras_resnet, with its oneDNN CPU kernels off: ResNet training "
            "and inference on this CPU can be much faster with them. Set TF_ENABLE_ONEDNN_OPTS=1 before "
            "TensorFlow is imported (or import keras_resnet first); TF_ENABLE_ONEDNN_OPTS=0 silences this.",
            stacklevel=3,
        )
