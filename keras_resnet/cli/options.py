"""Options that more than one parser takes: a training run's (`train`, and the examples' own
scripts), and the model and image files of the commands that load one."""

from __future__ import annotations

import argparse

from keras_resnet.core.architectures import cifar_by_depth
from keras_resnet.training.config import SCHEDULES, STRATEGIES, TrainConfig, default_output
from keras_resnet.training.datasets import check_arguments


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a training run (all of `TrainConfig` but model and dataset)."""
    default = TrainConfig()
    parser.add_argument("--data-dir", default=None,
                        help="CIFAR-10 python batches (default: download via keras.datasets); "
                             "ImageNet: a folder with train/ and val/ class sub-folders")
    parser.add_argument("--output", default=None,
                        help=f"run directory (default: {default_output('MODEL')}); re-running resumes")
    parser.add_argument("--epochs", type=int, default=None, help="default: the paper's 64k (CIFAR) / 600k iterations")
    parser.add_argument("--batch-size", type=int, default=None, help="global batch (default: 128 CIFAR, 256 ImageNet)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="default: 0.1 x batch / paper batch (linear scaling)")
    parser.add_argument("--schedule", choices=SCHEDULES, default=None,
                        help="cifar: /10 at 1/2 and 3/4 of the run; plateau: /10 when val error stalls "
                             "(ImageNet default); step: /10 every --step-epochs")
    parser.add_argument("--step-epochs", type=int, default=default.step_epochs)
    parser.add_argument("--patience", type=int, default=default.patience, help="plateau: epochs without improvement")
    parser.add_argument("--min-delta", type=float, default=default.min_delta, help="plateau: smallest improvement")
    parser.add_argument("--min-lr", type=float, default=default.min_lr, help="plateau: lowest learning rate")
    parser.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=None,
                        help="lr/10 until training error < 80%% (default: on for CIFAR nets of >= 110 layers)")
    parser.add_argument("--validation-fraction", type=float, default=default.validation_fraction,
                        help="CIFAR: held-out share of the training images (0.1 = 45k/5k; 0 = validate on test)")
    parser.add_argument("--steps-per-epoch", type=int, default=None)
    parser.add_argument("--no-augment", dest="augment", action="store_false", help="CIFAR: no pad/crop/flip")
    parser.add_argument("--strategy", choices=STRATEGIES, default="default")
    parser.add_argument("--mixed-precision", action="store_true", help="bfloat16 on CPU, float16 on GPU")
    parser.add_argument("--seed", type=int, default=default.seed)
    parser.add_argument("--no-plot", dest="plot", action="store_false", help="no curves.png")


def config_from_args(args: argparse.Namespace, model: str, dataset: str) -> TrainConfig:
    """The run that `add_training_arguments`' options describe, of `model` on `dataset`, its
    values and data arguments checked (`training.datasets.check_arguments`: no data read, no
    Keras loaded), so that a mistake is answered at once."""
    fields = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    config = TrainConfig(**{**fields, "model": model, "dataset": dataset,
                            "output": args.output or default_output(model)})
    check_arguments(config)
    return config


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model of `evaluate`, `predict`, `export` and `explain`: a .keras file, or a model id with weights."""
    parser.add_argument("model", metavar="MODEL",
                        help="a .keras file (e.g. RUN/best.keras from train) or a model id such as cifar_resnet20")
    parser.add_argument("--weights", default=None,
                        help="for a model id: registry weights (e.g. cifar10, imagenet) or a timm repository on the "
                             "Hugging Face Hub (hf://timm/resnet50.a1_in1k): their input normalisation is built in, "
                             "so the model takes raw 0-255 RGB images; or a weights file")


def add_image_arguments(parser: argparse.ArgumentParser) -> None:
    """The image files of `predict` and `explain`."""
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="JPEG/PNG files, any size (resized as the model's evaluation does)")


def cifar_depth(text: str) -> int:
    """An argparse type: a CIFAR-10 net's depth, 6n+2 layers."""
    try:
        return cifar_by_depth(int(text)).depth
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 6n+2 for an integer n >= 1 (20, 32, 44, 56, 110, 1202, ...); "
                                         f"received {text!r}") from None
