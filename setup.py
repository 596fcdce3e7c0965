"""keras-resnet: the deep residual networks of He et al. (2015) for Keras 3."""

import re
from pathlib import Path

from setuptools import setup

here = Path(__file__).parent
version = re.search(r'__version__ = "([^"]+)"', (here / "keras_resnet" / "__init__.py").read_text())[1]

setup(
    name="keras-resnet",
    version=version,
    description="Reference Keras 3 implementation of deep residual networks (He et al., 2015)",
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    # weights/ (registry and shipped weight files) is installed as keras_resnet/weights.
    packages=["keras_resnet", "keras_resnet.weights"],
    package_dir={"keras_resnet.weights": "weights"},
    package_data={"keras_resnet.weights": ["*.json", "*.h5", "LICENSE-*", "README.md"]},
    # keras 3.14: safe_mode holds against the known .keras/.h5 bypasses (CVE-2025-1550, -8747,
    # -9905, -9906, CVE-2026-1462); torch 2.6: weights_only=True holds (CVE-2025-32434). SECURITY.md.
    install_requires=["keras>=3.14", "numpy", "h5py", "safetensors"],
    extras_require={
        "tensorflow": ["tensorflow>=2.16"],
        "tensorflow-cpu": ["tensorflow-cpu>=2.16"],
        "torch": ["torch>=2.6"],
        "train": ["matplotlib"],  # curves.png of training runs
        "export": ["tf2onnx", "onnxruntime"],  # ONNX export and its check (SavedModel, TFLite: TensorFlow)
        "test": ["pytest", "hypothesis"],
    },
    entry_points={"console_scripts": ["keras-resnet=keras_resnet.cli:main"]},
)
