"""Explaining a classifier's decisions: Grad-CAM class activation maps, and pictures of them."""

from keras_resnet.explain.gradcam import find_layer, grad_cam, overlay

__all__ = ["find_layer", "grad_cam", "overlay"]
