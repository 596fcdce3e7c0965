"""Grad-CAM of the shipped CIFAR-10 ResNet-20 on real test images: a grid of 16 images beside
their heat maps (results/explain_cifar10.png), and two measures of whether the maps are worth
looking at, over the test images:

- localisation: each image pasted into one quadrant (in turn) of a 64x64 canvas of the mean
  colour (the net is fully convolutional); of the canvases still classified correctly, the
  share whose map peaks in the pasted quadrant;
- model randomisation (Adebayo et al., 2018): the mean Spearman rank correlation between the
  maps of the trained net and of the same net with re-initialised weights, for the same class;
  near 1 would mean the maps show the input, not what the network learned.

    python examples/explain_cifar10.py     # data: ../shared/data/cifar-10-batches-py beside the clone
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import keras_resnet as kr
from keras_resnet.core.atomic import replacing
from keras_resnet.core.quiet import quiet_tensorflow
from keras_resnet.data.cifar10 import load_cifar10

if TYPE_CHECKING:
    import keras

SHARED_CIFAR10 = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar-10-batches-py"
FIGURE = Path(__file__).resolve().parent / "results" / "explain_cifar10.png"
GRID = 16
SIDE = 32  # CIFAR image side; the canvas is twice as wide and high


def quadrant_share(images: np.ndarray, labels: np.ndarray, fill: np.ndarray) -> tuple[int, int]:
    """(canvases classified correctly, of them those whose map peaks in the pasted quadrant)."""
    from keras_resnet.explain import grad_cam

    model = kr.CifarResNet20(weights="cifar10", input_shape=(2 * SIDE, 2 * SIDE, 3))
    canvas = np.empty((len(images), 2 * SIDE, 2 * SIDE, 3), "float32")
    canvas[:] = fill
    quadrant = np.arange(len(images)) % 4
    top, left = SIDE * (quadrant // 2), SIDE * (quadrant % 2)
    for each, image, y, x in zip(canvas, images, top, left):
        each[y:y + SIDE, x:x + SIDE] = image
    correct = np.concatenate([np.asarray(model.predict_on_batch(canvas[i:i + 256])).argmax(-1)
                              for i in range(0, len(canvas), 256)]) == labels
    peaks = grad_cam(model, canvas[correct]).reshape(correct.sum(), -1).argmax(-1)
    found = (peaks // (2 * SIDE) // SIDE) * 2 + (peaks % (2 * SIDE)) // SIDE == quadrant[correct]
    return int(correct.sum()), int(found.sum())


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, tied values sharing the mean of their ranks (as scipy.stats.rankdata)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)
    return ranks


def randomisation_correlation(model: keras.Model, images: np.ndarray) -> tuple[float, int]:
    """(mean Spearman correlation between trained and re-initialised maps, maps left out as
    constant: a re-initialised net can give an all-zero map, which has no ranks)."""
    import keras

    from keras_resnet.explain import grad_cam

    keras.utils.set_random_seed(0)
    randomised = keras.models.clone_model(model)  # the same layers with freshly initialised weights
    classes = np.asarray(model.predict_on_batch(images)).argmax(-1)
    trained, random = grad_cam(model, images, classes), grad_cam(randomised, images, classes)
    rho = [np.corrcoef(average_ranks(a.ravel()), average_ranks(b.ravel()))[0, 1]
           for a, b in zip(trained, random) if b.max() > b.min()]
    return float(np.mean(rho)), len(images) - len(rho)


def draw_grid(images: np.ndarray, maps: np.ndarray, titles: list[str], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from keras_resnet.explain import overlay

    figure = Figure(figsize=(16, 8.6), dpi=80)
    FigureCanvasAgg(figure)
    pictures = overlay(images, maps)
    for i, (image, picture, title) in enumerate(zip(images.astype("uint8"), pictures, titles)):
        for k, shown in enumerate((image, picture)):
            axes = figure.add_subplot(4, 8, 2 * i + k + 1)
            axes.imshow(shown, interpolation="nearest")
            axes.set_axis_off()
            axes.set_title(title if k == 0 else "Grad-CAM", fontsize=10)
    figure.suptitle("Grad-CAM of the shipped CIFAR-10 ResNet-20 (conv4_block3_out) on real test images; "
                    "titles: true -> predicted", fontsize=13)
    figure.tight_layout(rect=(0, 0, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        figure.savefig(tmp, format="png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(SHARED_CIFAR10),
                        help="CIFAR-10 python batches, the official download or a subset (default: %(default)s)")
    parser.add_argument("--count", type=int, default=None, help="test images measured (default: all)")
    parser.add_argument("--output", default=str(FIGURE), help="the grid PNG (default: %(default)s)")
    args = parser.parse_args()
    try:
        images, labels = load_cifar10(args.data_dir, "test")
        train, _ = load_cifar10(args.data_dir, "train")
    except ValueError as e:
        parser.exit(2, f"{parser.prog}: error: {e} Pass --data-dir DIR, a folder of CIFAR-10 python batches.\n")
    quiet_tensorflow()  # after the data loads, so --help, a mistyped flag and a bad --data-dir answer before TensorFlow
    from keras_resnet.explain import grad_cam
    from keras_resnet.models.preprocessing import class_names

    images, labels = images[:args.count].astype("float32"), labels[:args.count]
    model = kr.CifarResNet20(weights="cifar10")
    names = [name for _, name in class_names("cifar10")]
    predicted = np.asarray(model.predict_on_batch(images[:GRID])).argmax(-1)
    draw_grid(images[:GRID], grad_cam(model, images[:GRID]),
              [f"{names[t]} -> {names[p]}" for t, p in zip(labels, predicted)], Path(args.output))
    print(f"wrote {args.output}")
    correct, found = quadrant_share(images, labels, train.mean(axis=(0, 1, 2)))
    print(f"localisation: the map peaks in the pasted quadrant for {found} of the {correct} canvases classified "
          f"correctly ({100 * found / correct:.1f}%; {len(images)} test images)")
    rho, constant = randomisation_correlation(model, images)
    print(f"model randomisation: mean Spearman rank correlation {rho:.3f} between the trained and the "
          f"re-initialised net's maps ({len(images) - constant} images; {constant} constant maps left out)")


if __name__ == "__main__":
    main()
