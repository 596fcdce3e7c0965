"""A `weights=` value resolved once into the one record that the builder reads and the loader
takes, as torchvision resolves a weights argument into its `Weights` entry: a registry name
becomes its typed entry, a user's file (or keras-hub preset) is opened here, once, for everything
the build needs (format, stride placement, declared layout), and stays open until its data is
assigned; a Hugging Face Hub handle's config.json is fetched here (the network it names, its classes
and preprocessing), its weights once the model is built, bounded by the model's size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import keras

from keras_resnet.core.architectures import parse_model_id
from keras_resnet.core.names import CLASSIFIER
from keras_resnet.pretrained import download, formats, hub, keras_hub_presets, registry, timm_configs
from keras_resnet.pretrained.loading import assign, load_weights
from keras_resnet.pretrained.registry import Preprocessing, Weights


@dataclass(frozen=True)
class WeightsSource:
    """Pretrained weights as the builder needs them: `argument` as given (for messages), the
    stride placement they were trained with (None: unknown), the input they expect (registry
    weights, Hub weights, a keras-hub preset's image converter; None for a user's file), and either
    the registry `entry` (fetched on loading), the user's file, `opened` (for a keras-hub preset,
    its weights, the `preset` telling what they fit), or a timm repository on the Hub (`handle`,
    fetched on loading) with the model id and classes its config names."""

    argument: str
    variant: str | None
    preprocessing: Preprocessing | None
    entry: Weights | None = None
    opened: formats.OpenedWeights | None = None
    preset: keras_hub_presets.KerasHubPreset | None = None
    handle: hub.Handle | None = None
    model: str | None = None  # the network the weights say they are (a Hub config's architecture)
    classes: int | None = None

    def check_fits(self, *, include_top: bool, classes: int, input_shape: tuple) -> None:
        """Refuse, before building, what registry, Hub or preset weights cannot serve; a user's file
        is checked layer by layer on loading."""
        if self.entry is not None:
            self.entry.check_fits(include_top=include_top, classes=classes, input_shape=input_shape)
        elif self.handle is not None:
            registry.check_serves(self.argument, self.classes, include_top=include_top, classes=classes,
                                  input_shape=input_shape)
        elif self.preset is not None:
            self.preset.check_fits(include_top=include_top, classes=classes)

    def load_into(self, model: keras.Model, *, include_top: bool) -> None:
        """All or nothing (`loading.assign`); without the top, the weights' classifier is left out.
        Registry weights come from the file their entry names for `include_top`, fetched and
        hash-checked."""
        skip = () if include_top else (CLASSIFIER,)
        if self.opened is not None:
            assign(model, self.opened.layers, source=self.argument, skip=skip)
        elif self.handle is not None:
            path = hub.fetch_weights(self.handle, max_bytes=file_size_bound(model))
            try:
                with formats.open_weights(path, "torch") as opened:
                    assign(model, opened.layers, source=f"weights={self.argument!r}", skip=skip)
            except ValueError as e:  # the file's own refusals name its path in the cache, not the handle
                if str(e).startswith(f"weights={self.argument!r}"):
                    raise
                raise ValueError(f"weights={self.argument!r}: {e}") from None
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
    """What `weights=` names for `model`: None, a registry entry (`registry.entry_for`), a Hub
    repository (`hub_source`), or a local file or keras-hub preset (a directory, or a `kaggle://`
    handle downloaded into one), open for the duration of the build."""
    named = registry.check_weights(weights)
    if named is None:
        yield None
    elif named == "registry":
        entry = registry.entry_for(weights, model, variant=variant, shortcut=shortcut, kind=kind)
        yield WeightsSource(weights, entry.variant, entry.preprocessing, entry=entry)
    elif named == "hub":
        handle = hub.parse_handle(weights)
        config = hub.fetch_config(handle)
        if keras_hub_presets.is_preset(config):
            directory = hub.fetch_files(handle, keras_hub_presets.FILES, keras_hub_presets.REQUIRED)
            with _preset_source(directory, weights, model, shortcut) as source:
                yield source
        else:
            yield hub_source(handle, config, model, variant=variant, shortcut=shortcut, kind=kind)
    elif named == "file":
        with formats.open_weights(weights) as opened:
            yield WeightsSource(str(weights), opened.variant, None, opened=opened)
    else:
        directory = keras_hub_presets.kaggle_directory(weights) if named == "kaggle" else weights
        with _preset_source(directory, str(weights), model, shortcut) as source:
            yield source


@contextmanager
def _preset_source(directory, weights: str, model: str, shortcut: str | None) -> Iterator[WeightsSource]:
    """A keras-hub preset's folder (`keras_hub_presets`), open for the build."""
    with keras_hub_presets.open_preset(directory, weights) as preset:
        preset.check_builds(model, shortcut)
        yield WeightsSource(weights, preset.variant, preset.preprocessing, preset=preset,
                            opened=formats.OpenedWeights("keras_hub", preset.variant, preset.layers))


def hub_source(handle: hub.Handle, config: dict, model: str, *, variant: str | None, shortcut: str | None,
               kind: str) -> WeightsSource:
    """A timm repository on the Hub: its config.json checked (`timm_configs`), for the network it
    names (the builder refuses another), its classes and its evaluation transform. timm's nets
    stride in the 3x3 (v1.5) and take their published shortcut; arguments that contradict them are
    refused."""
    weights = handle.text
    timm = timm_configs.parse_config(config, f"weights={weights!r}")
    if timm.model == model:
        published = parse_model_id(model)[0].default_shortcut
        if (kind == "bottleneck" and variant not in (None, "v1.5")) or shortcut not in (None, published):
            raise ValueError(f"weights={weights!r} are timm's {model}, variant='v1.5' and shortcut={published!r}; "
                             f"received variant={variant!r}, shortcut={shortcut!r}.")
    return WeightsSource(weights, "v1.5", timm.preprocessing, handle=handle, model=timm.model, classes=timm.classes)
