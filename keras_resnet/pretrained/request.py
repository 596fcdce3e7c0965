"""A `weights=` value resolved once into the one record that the builder reads and the loader
takes, as torchvision resolves a weights argument into its `Weights` entry: a registry name
becomes its typed entry, a user's file is opened here, once, for everything the build needs
(format, stride placement, declared layout), and stays open until its data is assigned."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import keras

from keras_resnet.core.names import CLASSIFIER
from keras_resnet.pretrained import download, formats, registry
from keras_resnet.pretrained.loading import assign, load_weights
from keras_resnet.pretrained.registry import Preprocessing, Weights


@dataclass(frozen=True)
class WeightsSource:
    """Pretrained weights as the builder needs them: `argument` as given (for messages), the
    stride placement they were trained with (None: unknown), the input they expect (registry
    weights; None for a user's file), and either the registry `entry` (fetched on loading) or
    the user's file, `opened`."""

    argument: str
    variant: str | None
    preprocessing: Preprocessing | None
    entry: Weights | None = None
    opened: formats.OpenedWeights | None = None

    def check_fits(self, *, include_top: bool, classes: int, input_shape: tuple) -> None:
        """Refuse, before building, what registry weights cannot serve; a user's file is checked
        layer by layer on loading."""
        if self.entry is not None:
            self.entry.check_fits(include_top=include_top, classes=classes, input_shape=input_shape)

    def load_into(self, model: keras.Model, *, include_top: bool) -> None:
        """All or nothing (`loading.assign`); without the top, the weights' classifier is left out.
        Registry weights come from the file their entry names for `include_top`, fetched and
        hash-checked."""
        skip = () if include_top else (CLASSIFIER,)
        if self.opened is not None:
            assign(model, self.opened.layers, source=self.argument, skip=skip)
        else:
            path = download.fetch(self.entry.file_for(include_top), max_bytes=file_size_bound(model))
            load_weights(model, path, skip=skip, fmt=self.entry.format)


def file_size_bound(model: keras.Model) -> int:
    """The most bytes a published weights file for `model` can hold: its values as float32,
    doubled (a classifier the headless model lacks, float64 copies, the container's own
    structure), plus 16 MiB. A file or download beyond it is refused before it is read whole."""
    return 2 * 4 * model.count_params() + (16 << 20)


@contextmanager
def resolve_weights(weights, model: str, *, variant: str | None, shortcut: str | None,
                    kind: str) -> Iterator[WeightsSource | None]:
    """What `weights=` names for `model`: None, a registry entry (`registry.entry_for`), or a
    local file, open for the duration of the build."""
    named = registry.check_weights(weights)
    if named is None:
        yield None
    elif named == "registry":
        entry = registry.entry_for(weights, model, variant=variant, shortcut=shortcut, kind=kind)
        yield WeightsSource(weights, entry.variant, entry.preprocessing, entry=entry)
    else:
        with formats.open_weights(weights) as opened:
            yield WeightsSource(str(weights), opened.variant, None, opened=opened)
