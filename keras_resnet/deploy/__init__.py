"""After training: BatchNorm folded into the convolutions, verified export (SavedModel, ONNX, TFLite), and
int8 TFLite and ONNX held to an accuracy budget."""
