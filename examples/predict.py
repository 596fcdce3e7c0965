"""Classify image files with a model trained by `examples/cifar10.py`, `examples/imagenet.py`
or `keras-resnet train`, using the class names saved with the run:

    python examples/predict.py runs/cifar_resnet20/best.keras cat.png ship.jpg --top 3
"""

import argparse

from keras_resnet.cli import refuse
from keras_resnet.core.quiet import quiet_tensorflow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_file")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--top", type=int, default=3, help="classes shown per image, most likely first (default: 3)")
    args = parser.parse_args()
    quiet_tensorflow()  # after parsing, so --help and a mistyped flag answer before TensorFlow loads
    from keras_resnet.evaluation.predict import predict_files

    try:
        predictions = predict_files(args.model_file, args.images, args.top)
    except ValueError as e:
        refuse(parser, e)
    for path, top in zip(args.images, predictions):
        print(path)
        for name, score in top:
            print(f"  {score:6.1%}  {name}")


if __name__ == "__main__":
    main()
