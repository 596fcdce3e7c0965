"""After training: BatchNorm folded into the convolutions, and verified export (SavedModel, ONNX, TFLite)."""
