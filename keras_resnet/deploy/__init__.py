"""After training: BatchNorm folded into the convolutions, verified export (SavedModel, ONNX, TFLite),
int8 TFLite and ONNX held to an accuracy budget, and timm's Hub layout, back to PyTorch."""
