"""`curves.png` shows every run, down to a single epoch (real matplotlib, Agg backend)."""

import numpy as np
import pytest

from keras_resnet.training.plots import plot_error_curves

plt = pytest.importorskip("matplotlib.pyplot")
mpimg = pytest.importorskip("matplotlib.image")


def _colour_pixels(png, colour: str, columns: slice) -> int:
    """Pixels within 0.1 (per RGB channel, 0-1) of `colour` in `columns` of the image at `png`."""
    image = mpimg.imread(png)[:, columns, :3]
    target = np.array(plt.matplotlib.colors.to_rgb(colour))
    return int((np.abs(image - target) < 0.1).all(axis=-1).sum())


def test_a_one_epoch_run_is_drawn(tmp_path):
    """One log row gives lines of one point each: they must still appear. The check looks at
    the middle tenth of the image, where the point lies (x = epoch 1, centred in 0.5 to 1.5)
    and the legend, which shows the colour too, does not ("best" puts it in a corner)."""
    path = tmp_path / "curves.png"
    rows = [{"epoch": 0.0, "error": 0.62, "val_error": 0.55}]
    assert plot_error_curves({"resnet20": {"": rows}}, path)
    colour = plt.rcParams["axes.prop_cycle"].by_key()["color"][0]
    width = mpimg.imread(path).shape[1]
    assert _colour_pixels(path, colour, slice(int(0.45 * width), int(0.55 * width))) > 20


def test_iterations_on_the_x_axis(tmp_path):
    """With `steps_per_epoch`, as the paper's Figure 6 draws it, epoch e sits at e x steps
    iterations on an axis from 0: two epochs of 100 steps start the (flat) test-error line at
    100 of 0-200, the middle of the plot; on the epoch axis (0.5-2.5) it starts at a quarter.
    Looked for in the band of the image where that line lies (the legend sits above it)."""
    rows = [{"epoch": 0.0, "error": 0.62, "val_error": 0.55}, {"epoch": 1.0, "error": 0.62, "val_error": 0.55}]
    colour = plt.matplotlib.colors.to_rgb(plt.rcParams["axes.prop_cycle"].by_key()["color"][0])
    starts = {}
    for steps in (None, 100):
        path = tmp_path / f"curves{steps}.png"
        assert plot_error_curves({"resnet20": {"": rows}}, path, steps_per_epoch=steps)
        image = mpimg.imread(path)[:, :, :3]
        height, width = image.shape[:2]
        band = image[int(0.7 * height):int(0.9 * height)]
        starts[steps] = np.flatnonzero((np.abs(band - colour) < 0.1).all(axis=-1).any(axis=0)).min() / width
    assert starts[None] < 0.4 < 0.45 < starts[100] < 0.6, starts
