"""The commands: for each, the function that adds its options to its parser, the one that
checks them and the one that runs it, and `COMMANDS`, the table `keras-resnet` is built and
dispatched from. A check imports no Keras: it calls the library's own checks, from modules
free of Keras, before Keras and TensorFlow load (seconds), so that a mistake is answered at
once. A command's heavy modules (Keras, a backend, TensorFlow) are imported inside its run."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from keras_resnet.cli.formatting import format_hub_tags, format_table, format_weights
from keras_resnet.cli.options import (
    add_image_arguments,
    add_model_arguments,
    add_training_arguments,
    config_from_args,
)
from keras_resnet.core.architectures import VARIANTS, parse_model_id
from keras_resnet.core.arguments import did_you_mean
from keras_resnet.data.image_folders import check_image_files
from keras_resnet.deploy.artefacts import (
    EXPORT_FORMATS,
    MAX_ACCURACY_DROP,
    MIN_AGREEMENT,
    QUANTIZE_MODES,
    TIMM,
    TOLERANCE,
    check_output,
    check_quantize,
    output_format,
    verification_images,
)
from keras_resnet.deploy.timm_export import timm_architecture
from keras_resnet.evaluation.sources import is_model_file
from keras_resnet.training.config import DATASET_NAMES, default_output

FLOAT_COUNT = 100  # images an export is verified on by default
INT8_COUNT = 1000  # with --quantize: enough that a 1-point accuracy budget is 10 images


class CommandFailed(Exception):
    """A failure whose exit status the command chooses (a RuntimeError of the library, say),
    reported as one line like the others."""

    def __init__(self, status: int, error: BaseException | str):
        super().__init__(error)
        self.status, self.error = status, error


def _at_least_one(text: str) -> int:
    """An argparse type for counts: refused while parsing, before Keras loads, where `int` alone
    would let 0 or a negative through (a count of 0 read as the default, -5 as all but 5).
    argparse names the option: "argument --count: must be an integer >= 1; received '0'"."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; received {text!r}")
    return number


def table_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", choices=VARIANTS, default="v1", help="bottleneck stride placement")
    parser.add_argument("--plain", action="store_true", help="add the plain (no-shortcut) twins")
    parser.add_argument("--cifar", type=_at_least_one, nargs="*", default=[], metavar="N",
                        help="add CifarResNet(N) rows (6N+2 layers, 32x32 input), e.g. --cifar 3 5 7 9 18")
    parser.add_argument("--family", action="store_true",
                        help="add V2, ResNeXt, Wide ResNet, ResNet-D and pre-activation CIFAR rows beside their "
                             "references")


def run_table(args: argparse.Namespace) -> None:
    from keras_resnet.models.table import paper_table  # builds every model: Keras and a backend

    print(f"ImageNet models at 224x224 (variant {args.variant}); GMACs = 10^9 multiply-adds; "
          "paper = Table 1 GMACs (ImageNet) or Table 6 params (CIFAR-10).")
    print(format_table(paper_table(args.variant, args.plain, args.cifar, args.family)))


def weights_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="only this model's, e.g. resnet50, resnext50_32x4d")


def weights_check(args: argparse.Namespace) -> None:
    from keras_resnet.pretrained.registry import entries
    from keras_resnet.pretrained.timm_tags import hub_tags

    models = sorted({e.model for e in entries()} | {t.model for t in hub_tags()})
    if args.model is not None and args.model not in models:  # refused naming the models that have weights
        raise ValueError(f"`model` must be one of {', '.join(models)}; received model={args.model!r}."
                         + did_you_mean(args.model, models))


def run_weights(args: argparse.Namespace) -> None:
    from keras_resnet.pretrained.registry import list_weights
    from keras_resnet.pretrained.timm_tags import hub_tags

    rows, tags = list_weights(args.model), hub_tags(args.model)
    if rows:
        print(format_weights(rows))
        print("Pass `weights=<weights>` to the model's builder (where a name has both variants, `variant=\"v1.5\"` "
              "picks torchvision's); accuracy on ImageNet-1k validation or CIFAR-10 test as published (`source`).")
    if args.model is None:
        print(f"\nAnd {len(tags)} timm checkpoints on the Hugging Face Hub (weights=\"hf://timm/...\"): "
              "`keras-resnet weights --model ID` lists a model's.")
    elif tags:
        print(f"{chr(10) if rows else ''}timm's checkpoints of {args.model} on the Hugging Face Hub (the `hub` extra; "
              "downloaded on first use, no hash of ours; timm's eval transform with include_preprocessing=True):")
        print(format_hub_tags(tags))
        print("top-1: timm's published ImageNet-1k accuracy (results-imagenet.csv), at image size/crop `at`.")


def convert_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE",
                        help="keras.applications .h5, torchvision/timm .safetensors or .pth, CIFAR .th")
    parser.add_argument("output", metavar="OUTPUT", help="weights file to write (.h5, layer-name keyed)")
    parser.add_argument("--model", required=True, help="e.g. resnet50, resnet18, cifar_resnet20")
    parser.add_argument("--variant", choices=VARIANTS, default=None,
                        help="bottleneck stride placement (default: the source's, v1 keras.applications, v1.5 torch)")
    parser.add_argument("--shortcut", default=None, help="shortcut option of the source (default: the paper's)")
    parser.add_argument("--classes", type=int, default=None, help="default: the source classifier's")


def convert_check(args: argparse.Namespace) -> None:
    parse_model_id(args.model)


def run_convert(args: argparse.Namespace) -> None:
    from keras_resnet.deploy.conversion import convert_file

    digest = convert_file(
        args.source, args.output, args.model, variant=args.variant, shortcut=args.shortcut, classes=args.classes
    )
    print(f"wrote {args.output}  sha256 {digest}")


def train_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="e.g. cifar_resnet20, cifar_plainnet56, resnet50")
    parser.add_argument("--dataset", choices=DATASET_NAMES, default="cifar10")
    add_training_arguments(parser)


def train_check(args: argparse.Namespace) -> None:
    config_from_args(args, args.model, args.dataset)


def run_train(args: argparse.Namespace) -> None:
    from keras_resnet.training.callbacks import TrainingDiverged
    from keras_resnet.training.run import train

    try:
        _, results = train(config_from_args(args, args.model, args.dataset))
    except TrainingDiverged as e:  # its message says how to resume
        raise CommandFailed(1, e) from e
    if results["resumed_from_epoch"] == results["epochs"]:
        print(f"{args.output or default_output(args.model)} had already finished its {results['epochs']} epochs: "
              "nothing was trained; its final model was tested again.")
    print(f"test error {100 * results['test_error']:.2f}%  ({results['iterations']} iterations)")


def evaluate_options(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--dataset", choices=DATASET_NAMES, default="cifar10")
    parser.add_argument("--data-dir", default=None, help="as for train; ImageNet: the folder holding val/")
    parser.add_argument("--method", choices=("centre", "ten-crop", "multiscale"), default="centre",
                        help="ImageNet testing: centre crop, 10-crop, or fully-convolutional multi-scale")
    parser.add_argument("--limit", type=_at_least_one, default=None, metavar="N", help="only the first N images")


def evaluate_check(args: argparse.Namespace) -> None:
    from keras_resnet.evaluation.datasets import check_evaluation

    check_evaluation(args.model, args.dataset, args.data_dir, args.method, args.limit, weights=args.weights)


def run_evaluate(args: argparse.Namespace) -> None:
    from keras_resnet.evaluation.datasets import evaluate

    result = evaluate(args.model, args.dataset, args.data_dir, args.method, args.limit, weights=args.weights)
    print("  ".join(f"{k} {100 * v:.2f}%" if k.endswith("_error") else f"{k} {v}" for k, v in result.items()))


def predict_options(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_image_arguments(parser)
    parser.add_argument("--top", type=_at_least_one, default=3, metavar="K",
                        help="how many classes to print per image, best first")


def classify_check(args: argparse.Namespace) -> None:
    """`predict` and `explain`: a classifier (`sources.check_model`) and image files to read."""
    from keras_resnet.evaluation.sources import check_model

    check_model(args.model, args.weights, classify=True)
    check_image_files(args.images)


def run_predict(args: argparse.Namespace) -> None:
    from keras_resnet.evaluation.predict import predict_files

    for path, top in zip(args.images, predict_files(args.model, args.images, args.top, weights=args.weights)):
        print(path + "  " + "  ".join(f"{name} {score:.3f}" for name, score in top))


def export_options(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("output", metavar="OUTPUT",
                        help="SavedModel directory, .onnx or .tflite file, or timm folder to write")
    parser.add_argument("--format", choices=(*EXPORT_FORMATS, TIMM), default=None,
                        help="default: by the output's name (.onnx, .tflite; no suffix: savedmodel); timm: a folder "
                             "timm loads (model.safetensors, config.json), written as it is, not run")
    parser.add_argument("--no-preprocessing", dest="preprocessing", action="store_false",
                        help="with registry --weights: leave their normalisation (and an ImageNet model's centre "
                             "crop, which ONNX and TFLite cannot express) out; the export then takes preprocessed "
                             "input")
    parser.add_argument("--fold-batchnorm", action="store_true", help="fold BN into the convolutions first")
    parser.add_argument("--images", default=None,
                        help="images to verify on: a CIFAR-10 directory or a folder of JPEG/PNG files "
                             "(default: random images)")
    parser.add_argument("--count", type=_at_least_one, default=None,
                        help=f"how many verification images (default {FLOAT_COUNT}; {INT8_COUNT} with --quantize)")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE, help="largest output difference accepted")
    parser.add_argument("--quantize", choices=QUANTIZE_MODES, default=None,
                        help="full-integer tflite or onnx, BN folded, calibrated on --calibration and kept only "
                             "within the accuracy budget on --images")
    parser.add_argument("--calibration", default=None, metavar="DIR",
                        help="with --quantize: training images to calibrate on (a CIFAR-10 directory: its "
                             "data_batch_*; or a folder of JPEG/PNG files), never the --images ones")
    parser.add_argument("--max-accuracy-drop", type=float, default=MAX_ACCURACY_DROP, metavar="POINTS",
                        help="with --quantize: largest top-1 accuracy drop accepted, in percentage points, on "
                             "labelled --images (a CIFAR-10 directory's test batch, or DIR/<class>/*.jpg)")
    parser.add_argument("--min-agreement", type=float, default=MIN_AGREEMENT, metavar="SHARE",
                        help="with --quantize: smallest share of --images whose top class must stay the Keras "
                             "model's")


def export_check(args: argparse.Namespace) -> None:
    """The format, the quantization's folders and the output, then the model (last: an int8
    export's own mistakes are named whatever the model)."""
    from keras_resnet.deploy.quantize import check_separate
    from keras_resnet.evaluation.sources import check_model

    format = output_format(args.output, args.format)
    if format == TIMM:
        _timm_check(args)
    elif args.quantize is not None:
        check_quantize(args.quantize, format)
        if args.calibration is None or args.images is None:
            raise ValueError("`--quantize int8` needs --calibration DIR (training images to calibrate on) and "
                             "--images DIR (others, labelled if possible, to verify on; one CIFAR-10 directory serves "
                             "both: training batches to calibrate, test batch to verify).")
        check_separate(args.calibration, args.images)
    elif args.calibration is not None:
        raise ValueError("`--calibration` is for --quantize int8 exports; add --quantize int8 or leave it out.")
    check_output(args.output, format)
    check_model(args.model, args.weights)


def _timm_check(args: argparse.Namespace) -> None:
    """A timm folder holds the weights as they are and is not run here: the options of a verified
    or int8 export are refused; a model id must be one timm builds."""
    given = {"--quantize": args.quantize is not None, "--calibration": args.calibration is not None,
             "--fold-batchnorm": args.fold_batchnorm, "--images": args.images is not None,
             "--count": args.count is not None, "--tolerance": args.tolerance != TOLERANCE}
    unused = [flag for flag, present in given.items() if present]
    if unused:
        raise ValueError(f"{', '.join(unused)}: not for --format timm, whose folder holds the weights as they are "
                         "(BatchNorm unfolded, float32) and is not run here; leave them out.")
    if not is_model_file(args.model):
        timm_architecture(args.model)


def run_export(args: argparse.Namespace) -> None:
    """A float export, or with --quantize an int8 one (`export_check` passed)."""
    from keras_resnet.deploy.export import export_model
    from keras_resnet.evaluation.predict import model_from

    format = output_format(args.output, args.format)
    if format == TIMM:
        _export_timm(args)
        return
    if args.quantize is not None:
        _export_int8(args, format)
        return
    model = model_from(args.model, args.weights, preprocessing=args.preprocessing)
    if args.fold_batchnorm:
        from keras_resnet.deploy.folding import fold_batchnorm

        model = fold_batchnorm(model)
    images = verification_images(args.images, model.input_shape[1:], FLOAT_COUNT if args.count is None else args.count)
    check = export_model(model, args.output, format, images, tolerance=args.tolerance)
    print(f"wrote {args.output} ({format}): max abs output difference {check['max_abs_diff']:.2e} "
          f"on {check['images']} images, top-1 agreement {check['top1_agreement']:.0%}")


def _export_int8(args: argparse.Namespace, format: str) -> None:
    """`export --quantize int8` (`export_check` passed)."""
    from keras_resnet.deploy.export import export_model
    from keras_resnet.deploy.quantize import calibration_images, labelled_images
    from keras_resnet.evaluation.predict import model_from

    model = model_from(args.model, args.weights, preprocessing=args.preprocessing)
    shape = model.input_shape[1:]
    images, labels = labelled_images(args.images, shape, INT8_COUNT if args.count is None else args.count)
    check = export_model(model, args.output, format, images, quantize=args.quantize,
                         calibration=calibration_images(args.calibration, shape), labels=labels,
                         max_accuracy_drop=args.max_accuracy_drop, min_agreement=args.min_agreement)
    accuracy = (f"top-1 accuracy Keras {check['keras_accuracy']:.2%}, int8 {check['int8_accuracy']:.2%}, "
                if labels is not None else "")
    print(f"wrote {args.output} (int8 {format}, {check['int8_bytes'] / check['float_bytes']:.2f}x the float "
          f"file's size): {accuracy}top-1 agreement {check['top1_agreement']:.1%} on {check['images']} images, "
          f"calibrated on {check['calibration_images']}")


def _export_timm(args: argparse.Namespace) -> None:
    """`export --format timm` (`export_check` passed): a model id without weights or with registry
    weights is built as timm's net, variant v1.5 (which picks torchvision's weights where a name has
    both); weights from a file keep the placement they were trained with, which `save_timm` checks."""
    from keras_resnet.deploy.timm_export import save_timm
    from keras_resnet.evaluation.predict import model_from
    from keras_resnet.pretrained.registry import check_weights

    model_id = None if is_model_file(args.model) else args.model
    as_timm = model_id is not None and check_weights(args.weights) in (None, "registry")
    model = model_from(args.model, args.weights, preprocessing=args.preprocessing, variant="v1.5" if as_timm else None)
    save_timm(model, args.output, architecture=model_id)
    print(f"wrote {args.output} (timm: config.json, model.safetensors); in PyTorch: "
          f"timm.create_model('local-dir:{args.output}', pretrained=True)")


def explain_options(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_image_arguments(parser)
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="directory for one PNG per image: the image under its heat map, with the top 3 classes")
    parser.add_argument("--class", dest="class_name", default=None, metavar="NAME",
                        help="the class to explain (default: each image's top class)")


def run_explain(args: argparse.Namespace) -> None:
    from keras_resnet.evaluation.predict import model_inputs, named_classifier
    from keras_resnet.explain.pictures import write_explanations

    model, names = named_classifier(args.model, args.weights)
    images = model_inputs(model, args.images, own_crop=False)  # the pictures show what was given
    pictures = write_explanations(model, images, args.images, names, args.output, args.class_name)
    for path, picture in zip(args.images, pictures):
        print(f"{path} -> {picture}")


def nothing_to_check(args: argparse.Namespace) -> None:
    """A command whose arguments are all checked while parsing."""


@dataclass(frozen=True)
class Command:
    help: str  # the line of `keras-resnet --help`
    options: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], None]  # once `check` has passed
    # every refusal that needs no model (arguments, files, ids, formats), run before Keras or TensorFlow is
    # imported: it calls the library's checks from modules free of Keras
    check: Callable[[argparse.Namespace], None] = nothing_to_check
    keras: bool = True  # whether `run` imports Keras (TensorFlow is then imported first, its logs quieted)


COMMANDS = {  # in the order `keras-resnet --help` lists them
    "table": Command("layers, parameters and multiply-adds of every model (Table 1)", table_options, run_table),
    "weights": Command("the pretrained weights: name, model, licence, size, accuracy, whether here",
                       weights_options, run_weights, weights_check, keras=False),
    "convert": Command("convert published weights into a keras_resnet weights file", convert_options, run_convert,
                       convert_check),
    "train": Command("train a model as in the paper (resumes a killed run)", train_options, run_train, train_check),
    "evaluate": Command("error of a trained model (.keras) or a model id with --weights on a dataset",
                        evaluate_options, run_evaluate, evaluate_check),
    "predict": Command("top classes of image files (JPEG/PNG) by a trained model or pretrained weights",
                       predict_options, run_predict, classify_check),
    "export": Command("SavedModel, ONNX or TFLite, verified against the Keras model; or a timm folder",
                      export_options, run_export, export_check),
    "explain": Command("Grad-CAM heat maps of image files: where the model looked for a class",
                       explain_options, run_explain, classify_check),
}
