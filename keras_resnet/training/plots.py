"""Error curves in the style of the paper's Figures 4 and 6: dashed training error, bold
validation/test error, one colour per network, one panel per group of networks.
Needs matplotlib (`pip install matplotlib`, the keras3-resnet [train] extra)."""

from __future__ import annotations

import os
from pathlib import Path

from keras_resnet.core.atomic import check_replaceable, replacing
from keras_resnet.data.image_folders import PNG_SIGNATURE

# Runs this short get a point per epoch: a 1-epoch line is only its point, and a long run's
# points would blur into the line.
MARKED_EPOCHS = 30


def _is_png(path: Path) -> bool:
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        return f.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE


def plot_error_curves(
    panels: dict[str, dict[str, list[dict]]], path: str | os.PathLike, val_label: str = "validation",
    steps_per_epoch: int | None = None,
) -> bool:
    """Draw `panels` (title -> {label -> log rows, see `callbacks.read_log`}) side by side to
    a PNG at `path`, atomically; an existing `path` is replaced only if it is a PNG image.
    With `steps_per_epoch` the x axis counts iterations, as the paper's figures do, else epochs.
    Returns False, drawing nothing, without matplotlib."""
    check_replaceable(path, "PNG image", _is_png)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4), dpi=120, squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (title, runs) in zip(axes[0], panels.items()):
        for (label, rows), colour in zip(runs.items(), colours * 4):
            epochs = [(row["epoch"] + 1) * (steps_per_epoch or 1) for row in rows]
            marker = "o" if len(rows) <= MARKED_EPOCHS else None
            ax.plot(epochs, [100 * row["error"] for row in rows], "--", color=colour, linewidth=1, marker=marker,
                    markersize=3, label=f"{label} train".strip())
            ax.plot(epochs, [100 * row["val_error"] for row in rows], "-", color=colour, linewidth=2, marker=marker,
                    markersize=4, label=f"{label} {val_label}".strip())
        ax.set(xlabel="iterations" if steps_per_epoch else "epochs", ylabel="error (%)", title=title)
        last = max((row["epoch"] + 1 for rows in runs.values() for row in rows), default=1)
        if steps_per_epoch:
            ax.set_xlim(0, last * steps_per_epoch)
        else:
            ax.set_xlim(0.5, last + 0.5)  # whole epochs; autoscaling gives 1 epoch 0.945 to 1.055
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    with replacing(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return True
