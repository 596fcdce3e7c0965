"""The `keras-resnet` command (`main`), and the training options it shares with the examples'
own scripts. Nothing imported here loads Keras or TensorFlow: arguments are parsed first."""

from keras_resnet.cli.options import add_training_arguments, cifar_depth, config_from_args
from keras_resnet.cli.program import main, refuse

__all__ = ["add_training_arguments", "cifar_depth", "config_from_args", "main", "refuse"]
