"""keras3-resnet: the deep residual networks of He et al. (2015) for Keras 3.

All metadata lives in pyproject.toml; this shim keeps `python setup.py sdist` and older
tools working."""

from setuptools import setup

setup()
