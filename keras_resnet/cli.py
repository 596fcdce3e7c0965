"""`keras-resnet` command line: `table` (the paper's Table 1 from the built models, and the
family beside its references), `weights` (the registry), `convert` (published weights),
`train`, `evaluate`, `predict`, `export` and `explain`."""

# The arguments are parsed before Keras or TensorFlow is imported (seconds), so that --help and
# mistakes answer at once: the modules imported here and the constants they give stay free of both.

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from keras_resnet.core.architectures import (
    FAMILY,
    IMAGENET,
    PAPER_CIFAR10,
    PAPER_GFLOPS,
    PAPER_PREACT_CIFAR10,
    REFERENCES,
    VARIANTS,
    cifar,
    parse_model_id,
)
from keras_resnet.deploy.artefacts import (
    EXPORT_FORMATS,
    MAX_ACCURACY_DROP,
    MIN_AGREEMENT,
    QUANTIZE_MODES,
    TOLERANCE,
    check_quantize,
    output_format,
    stderr_held_back,
    verification_images,
)
from keras_resnet.pretrained import download, registry
from keras_resnet.training.config import DATASET_NAMES, SCHEDULES, STRATEGIES, TrainConfig, default_output

FLOAT_COUNT = 100  # images an export is verified on by default
INT8_COUNT = 1000  # with --quantize: enough that a 1-point accuracy budget is 10 images


def table(variant: str, plain: bool, cifar_n: Sequence[int], family: bool = False) -> list[dict]:
    """One row per model: layers, trainable parameters, multiply-adds, the paper's numbers;
    with `family`, the family's nets beside their references' published numbers."""
    from keras_resnet.models.builder import build_resnet  # deferred: imports Keras and a backend
    from keras_resnet.models.flops import count_flops, count_trainable_params

    def row(model, arch, paper_gmacs=None, paper_params=None, reference=None) -> dict:
        return {
            "model": model.name,
            "layers": arch.depth,
            "stages": f"{list(arch.blocks)} x {arch.kind}",
            "params": count_trainable_params(model),
            "gmacs": count_flops(model) / 1e9,
            "paper_gmacs": paper_gmacs,
            "paper_params_m": paper_params,
            "reference": reference,
        }

    rows = []
    for residual in (True, False) if plain else (True,):
        for depth, arch in IMAGENET.items():
            model = build_resnet(arch, residual=residual, variant=variant)
            rows.append(row(model, arch, PAPER_GFLOPS[depth] if residual else None))
    for n in cifar_n:
        arch = cifar(n)
        model = build_resnet(arch)
        rows.append(row(model, arch, None, PAPER_CIFAR10.get(n, {}).get("params_m")))
    for name in (*FAMILY, *PAPER_PREACT_CIFAR10) if family else ():
        arch, _ = parse_model_id(name)
        ref = REFERENCES.get(name)
        reference = f"{ref['params']:,} {ref['source']}" if ref else "He et al. 2016"
        rows.append(row(build_resnet(arch), arch, ref and ref["gmacs"], PAPER_PREACT_CIFAR10.get(name), reference))
    return rows


def weights_listing(model: str | None) -> list[dict]:
    """One row per registry entry: what `weights=` to pass for which model, where it comes
    from, its licence, size (of the file here, if any), published accuracy and whether it is
    already here (shipped, or in the cache or $KERAS_RESNET_WEIGHTS_DIR: no download needed)."""
    rows = []
    for e in registry.entries():
        if model is not None and e.model != model:
            continue
        here, results = download.local_copy(e.file), e.accuracy.results
        error = results.get("top1_error_percent")  # the CIFAR checkpoints publish their error
        rows.append({
            "weights": e.name, "model": e.model, "variant": e.variant, "license": e.license,
            "size_mb": here.stat().st_size / 1e6 if here else None,
            "top1": results.get("top1_accuracy_percent", None if error is None else 100 - error),
            "top5": results.get("top5_accuracy_percent"),
            "here": "shipped" if e.file.url is None else "cached" if here else "no",
            "source": e.source.split(" (")[0].split(";")[0],
        })
    return rows


def _format_weights(rows: list[dict]) -> str:
    head = (f"{'weights':<12}{'model':<18}{'variant':<8}{'license':<14}{'MB':>7}{'top-1':>8}{'top-5':>8}  "
            f"{'here':<8}source")
    lines = [head, "-" * len(head)]
    for r in rows:
        size = f"{r['size_mb']:.1f}" if r["size_mb"] is not None else "-"
        top1, top5 = (f"{v:.2f}" if v is not None else "-" for v in (r["top1"], r["top5"]))
        lines.append(f"{r['weights']:<12}{r['model']:<18}{r['variant']:<8}{r['license']:<14}{size:>7}{top1:>8}"
                     f"{top5:>8}  {r['here']:<8}{r['source']}")
    return "\n".join(lines)


def _format(rows: list[dict]) -> str:
    head = f"{'model':<29}{'layers':>7}  {'stages':<28}{'params':>13}{'GMACs':>9}{'paper':>9}"
    head += "  reference" if any(r["reference"] for r in rows) else ""
    lines = [head, "-" * len(head)]
    for r in rows:
        paper = (
            f"{r['paper_gmacs']:g}" if r["paper_gmacs"] is not None
            else f"{r['paper_params_m']}M" if r["paper_params_m"] is not None else "-"
        )
        gmacs = f"{r['gmacs']:.3f}" if r["gmacs"] >= 0.1 else f"{r['gmacs']:.4f}"
        line = f"{r['model']:<29}{r['layers']:>7}  {r['stages']:<28}{r['params']:>13,}{gmacs:>9}{paper:>9}"
        lines.append(f"{line}  {r['reference']}" if r["reference"] else line)
    return "\n".join(lines)


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


def _at_least_one(text: str) -> int:
    """An argparse type: refused while parsing, before Keras loads."""
    if int(text) < 1:
        raise argparse.ArgumentTypeError(f"N must be >= 1; received {text}")
    return int(text)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model of `evaluate`, `predict` and `export`: a .keras file, or a model id with weights."""
    parser.add_argument("model", help="a .keras file (e.g. from train) or a model id such as cifar_resnet20")
    parser.add_argument("--weights", default=None,
                        help="for a model id: registry weights (e.g. cifar10, imagenet; their input normalisation "
                             "is built in, so the model takes raw 0-255 RGB images) or a weights file")


def config_from_args(args: argparse.Namespace, model: str, dataset: str) -> TrainConfig:
    fields = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    return TrainConfig(**{**fields, "model": model, "dataset": dataset, "output": args.output or default_output(model)})


def quiet_tensorflow(verbose: bool) -> None:
    """Unless `verbose`, keep TensorFlow's C++ and absl logs (the oneDNN notice, CPU features,
    converter passes) off stderr: TF_CPP_MIN_LOG_LEVEL=3 (a value the user set is kept) before
    TensorFlow loads, and what its import writes regardless of that level held back."""
    if verbose or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with stderr_held_back():
            importlib.import_module("tensorflow")
    except ImportError:  # a Keras backend without TensorFlow: the commands that need it say so
        return
    from absl import logging as absl_logging  # TensorFlow's Python logs (the TFLite converter's)

    absl_logging.set_verbosity(absl_logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keras-resnet", description=__doc__)
    verbose = argparse.ArgumentParser(add_help=False)  # also after the command, without resetting it there
    for each, default in ((parser, False), (verbose, argparse.SUPPRESS)):
        each.add_argument("--verbose", action="store_true", default=default,
                          help="show TensorFlow's own log lines (hidden by default)")
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("table", parents=[verbose],
                            help="layers, parameters and multiply-adds of every model (Table 1)")
    t.add_argument("--variant", choices=VARIANTS, default="v1", help="bottleneck stride placement")
    t.add_argument("--plain", action="store_true", help="add the plain (no-shortcut) twins")
    t.add_argument("--cifar", type=_at_least_one, nargs="*", default=[], metavar="N",
                   help="add CifarResNet(N) rows (6N+2 layers, 32x32 input), e.g. --cifar 3 5 7 9 18")
    t.add_argument("--family", action="store_true",
                   help="add V2, ResNeXt, Wide ResNet, ResNet-D and pre-activation CIFAR rows beside their references")
    w = commands.add_parser("weights", parents=[verbose],
                            help="the pretrained weights: name, model, licence, size, accuracy, whether here")
    w.add_argument("--model", default=None, help="only this model's, e.g. resnet50, resnext50_32x4d")
    c = commands.add_parser("convert", parents=[verbose],
                            help="convert published weights into a keras_resnet weights file")
    c.add_argument("source", help="keras.applications .h5, torchvision/timm .safetensors or .pth, CIFAR .th")
    c.add_argument("output", help="weights file to write (.h5, layer-name keyed)")
    c.add_argument("--model", required=True, help="e.g. resnet50, resnet18, cifar_resnet20")
    c.add_argument("--variant", choices=VARIANTS, default=None,
                   help="bottleneck stride placement (default: the source's, v1 keras.applications, v1.5 torch)")
    c.add_argument("--shortcut", default=None, help="shortcut option of the source (default: the paper's)")
    c.add_argument("--classes", type=int, default=None, help="default: the source classifier's")
    tr = commands.add_parser("train", parents=[verbose],
                             help="train a model as in the paper (resumes a killed run)")
    tr.add_argument("--model", required=True, help="e.g. cifar_resnet20, cifar_plainnet56, resnet50")
    tr.add_argument("--dataset", choices=DATASET_NAMES, default="cifar10")
    add_training_arguments(tr)
    ev = commands.add_parser("evaluate", parents=[verbose],
                             help="error of a trained model (.keras) or a model id with --weights on a dataset")
    add_model_arguments(ev)
    ev.add_argument("--dataset", choices=DATASET_NAMES, default="cifar10")
    ev.add_argument("--data-dir", default=None, help="as for train; ImageNet: the folder holding val/")
    ev.add_argument("--method", choices=("centre", "ten-crop", "multiscale"), default="centre",
                    help="ImageNet testing: centre crop, 10-crop, or fully-convolutional multi-scale")
    ev.add_argument("--limit", type=int, default=None, help="only the first N images")
    pr = commands.add_parser("predict", parents=[verbose],
                             help="top classes of image files (JPEG/PNG) by a trained model or pretrained weights")
    add_model_arguments(pr)
    pr.add_argument("images", nargs="+", help="JPEG/PNG files, any size (resized as the model's evaluation does)")
    pr.add_argument("--top", type=int, default=3, metavar="K", help="how many classes to print per image, best first")
    ex = commands.add_parser("export", parents=[verbose],
                             help="SavedModel, ONNX or TFLite, verified against the Keras model")
    add_model_arguments(ex)
    ex.add_argument("output", help="SavedModel directory, .onnx or .tflite file to write")
    ex.add_argument("--format", choices=EXPORT_FORMATS, default=None,
                    help="default: by the output's name (.onnx, .tflite; no suffix: savedmodel)")
    ex.add_argument("--no-preprocessing", dest="preprocessing", action="store_false",
                    help="with registry --weights: leave their normalisation (and an ImageNet model's centre "
                         "crop, which ONNX and TFLite cannot express) out; the export then takes preprocessed input")
    ex.add_argument("--fold-batchnorm", action="store_true", help="fold BN into the convolutions first")
    ex.add_argument("--images", default=None,
                    help="images to verify on: a CIFAR-10 directory or a folder of JPEG/PNG files "
                         "(default: random images)")
    ex.add_argument("--count", type=int, default=None,
                    help=f"how many verification images (default {FLOAT_COUNT}; {INT8_COUNT} with --quantize)")
    ex.add_argument("--tolerance", type=float, default=TOLERANCE, help="largest output difference accepted")
    ex.add_argument("--quantize", choices=QUANTIZE_MODES, default=None,
                    help="full-integer tflite or onnx, BN folded, calibrated on --calibration and kept only "
                         "within the accuracy budget on --images")
    ex.add_argument("--calibration", default=None, metavar="DIR",
                    help="with --quantize: training images to calibrate on (a CIFAR-10 directory: its "
                         "data_batch_*; or a folder of JPEG/PNG files), never the --images ones")
    ex.add_argument("--max-accuracy-drop", type=float, default=MAX_ACCURACY_DROP, metavar="POINTS",
                    help="with --quantize: largest top-1 accuracy drop accepted, in percentage points, on "
                         "labelled --images (a CIFAR-10 directory's test batch, or DIR/<class>/*.jpg)")
    ex.add_argument("--min-agreement", type=float, default=MIN_AGREEMENT, metavar="SHARE",
                    help="with --quantize: smallest share of --images whose top class must stay the Keras model's")
    xp = commands.add_parser("explain", parents=[verbose],
                             help="Grad-CAM heat maps of image files: where the model looked for a class")
    add_model_arguments(xp)
    xp.add_argument("images", nargs="+", help="JPEG/PNG files, any size (resized as the model's evaluation does)")
    xp.add_argument("--output", required=True, metavar="DIR",
                    help="directory for one PNG per image: the image under its heat map, with the top 3 classes")
    xp.add_argument("--class", dest="class_name", default=None, metavar="NAME",
                    help="the class to explain (default: each image's top class)")
    args = parser.parse_args(argv)
    quiet_tensorflow(args.verbose)
    if hasattr(sys.stdout, "reconfigure"):  # file names that are not UTF-8 print as their own bytes
        sys.stdout.reconfigure(errors="surrogateescape")
    try:
        return _run(args, parser)
    except ValueError as e:  # bad input, found before anything was written
        _fail(parser, args.command, 2, e)
    except (OSError, ImportError) as e:  # the machine: disk, network, permissions, a missing package
        after = (" Every file of the run holds its last finished epoch (none is written in place); fix the "
                 "cause and run the command again to resume.") if _run_started(args) else ""
        _fail(parser, args.command, 1, e, after)
    except KeyboardInterrupt:  # Ctrl-C: what is kept and how to go on, not a traceback
        kept = (f"every file of {_run_output(args)} holds its last finished epoch; run the same command again to "
                "resume" if _run_started(args) else "nothing was written (outputs are replaced only when complete)")
        _fail(parser, args.command, 130, f"interrupted; {kept}.")


def _run_output(args: argparse.Namespace) -> Path:
    return Path(args.output or default_output(args.model))


def _run_started(args: argparse.Namespace) -> bool:
    """A `train` run that wrote its config.json (a run that never started leaves nothing)."""
    return args.command == "train" and (_run_output(args) / "config.json").is_file()


def _fail(parser: argparse.ArgumentParser, command: str, status: int, error: BaseException | str,
          after: str = "") -> None:
    """Exit with `status` and one line on stderr: the error's own text, never a traceback."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__
    if after:
        text = f"{text.rstrip('.')}.{after}"
    parser.exit(status, f"keras-resnet {command}: error: {text}\n")


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "convert":
        from keras_resnet.deploy.conversion import convert_file

        digest = convert_file(
            args.source, args.output, args.model, variant=args.variant, shortcut=args.shortcut, classes=args.classes
        )
        print(f"wrote {args.output}  sha256 {digest}")
    elif args.command == "table":
        print(f"ImageNet models at 224x224 (variant {args.variant}); GMACs = 10^9 multiply-adds; "
              "paper = Table 1 GMACs (ImageNet) or Table 6 params (CIFAR-10).")
        print(_format(table(args.variant, args.plain, args.cifar, args.family)))
    elif args.command == "weights":
        models = sorted({e.model for e in registry.entries()})
        if args.model is not None and args.model not in models:
            _fail(parser, args.command, 2, f"--model must be one of {', '.join(models)}; received {args.model!r}.")
        print(_format_weights(weights_listing(args.model)))
        print("Pass `weights=<weights>` to the model's builder (where a name has both variants, `variant=\"v1.5\"` "
              "picks torchvision's); accuracy on ImageNet-1k validation or CIFAR-10 test as published (`source`).")
    elif args.command == "train":
        from keras_resnet.training.callbacks import TrainingDiverged
        from keras_resnet.training.run import train

        try:
            _, results = train(config_from_args(args, args.model, args.dataset))
        except TrainingDiverged as e:  # its message says how to resume
            _fail(parser, args.command, 1, e)
        print(f"test error {100 * results['test_error']:.2f}%  ({results['iterations']} iterations)")
    elif args.command == "evaluate":
        from keras_resnet.evaluation.datasets import evaluate

        result = evaluate(args.model, args.dataset, args.data_dir, args.method, args.limit, weights=args.weights)
        print("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items()))
    elif args.command == "predict":
        from keras_resnet.evaluation.predict import predict_files

        for path, top in zip(args.images, predict_files(args.model, args.images, args.top, weights=args.weights)):
            print(path + "  " + "  ".join(f"{name} {score:.3f}" for name, score in top))
    elif args.command == "export":
        from keras_resnet.deploy.export import export_model
        from keras_resnet.evaluation.predict import model_from

        format = output_format(args.output, args.format)
        if args.quantize is not None:
            return _export_int8(args, format)
        if args.calibration is not None:
            raise ValueError("`--calibration` is for --quantize int8 exports; add --quantize int8 or leave it out.")
        model = model_from(args.model, args.weights, preprocessing=args.preprocessing)
        if args.fold_batchnorm:
            from keras_resnet.deploy.folding import fold_batchnorm

            model = fold_batchnorm(model)
        images = verification_images(args.images, model.input_shape[1:], args.count or FLOAT_COUNT)
        check = export_model(model, args.output, format, images, tolerance=args.tolerance)
        print(f"wrote {args.output} ({format}): max abs output difference {check['max_abs_diff']:.2e} "
              f"on {check['images']} images, top-1 agreement {check['top1_agreement']:.0%}")
    elif args.command == "explain":
        from keras_resnet.evaluation.predict import model_inputs, named_classifier
        from keras_resnet.explain.pictures import write_explanations

        model, names = named_classifier(args.model, args.weights)
        images = model_inputs(model, args.images)
        for path, picture in zip(args.images, write_explanations(model, images, args.images, names, args.output,
                                                                 args.class_name)):
            print(f"{path} -> {picture}")
    return 0


def _export_int8(args: argparse.Namespace, format: str) -> int:
    """`export --quantize int8`: its arguments checked before the model is loaded."""
    check_quantize(args.quantize, format)
    if args.calibration is None or args.images is None:
        raise ValueError("`--quantize int8` needs --calibration DIR (training images to calibrate on) and --images "
                         "DIR (others, labelled if possible, to verify on; one CIFAR-10 directory serves both: "
                         "training batches to calibrate, test batch to verify).")
    from keras_resnet.deploy.export import export_model
    from keras_resnet.deploy.quantize import calibration_images, check_separate, labelled_images
    from keras_resnet.evaluation.predict import model_from

    check_separate(args.calibration, args.images)
    model = model_from(args.model, args.weights, preprocessing=args.preprocessing)
    shape = model.input_shape[1:]
    images, labels = labelled_images(args.images, shape, args.count or INT8_COUNT)
    check = export_model(model, args.output, format, images, quantize=args.quantize,
                         calibration=calibration_images(args.calibration, shape), labels=labels,
                         max_accuracy_drop=args.max_accuracy_drop, min_agreement=args.min_agreement)
    accuracy = (f"top-1 accuracy Keras {check['keras_accuracy']:.2%}, int8 {check['int8_accuracy']:.2%}, "
                if labels is not None else "")
    print(f"wrote {args.output} (int8 {format}, {check['int8_bytes'] / check['float_bytes']:.2f}x the float "
          f"file's size): {accuracy}top-1 agreement {check['top1_agreement']:.1%} on {check['images']} images, "
          f"calibrated on {check['calibration_images']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
