"""keras.applications.resnet50's names (ResNet50, preprocess_input, decode_predictions), which
are keras.applications.resnet's, as there: `from keras.applications.resnet50 import ...` becomes
`from keras_resnet.resnet50 import ...`."""

from keras_resnet.resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["ResNet50", "decode_predictions", "preprocess_input"]
