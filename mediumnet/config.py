"""Typed settings and named presets.

A :class:`Config` is a tree of dataclasses, one section per concern (``data``, ``synth``,
``composition``, ``texture``, ``effnet``, ``train``, ``ensemble``). Presets are data: a
preset is a set of overrides on the defaults, and any field can be overridden again from the
command line with ``--set section.field=value``.

Presets
-------
``seed``
    The research settings the project grows out of: composition view 320 px, texture tiles
    320 px at native resolution, EfficientNetB6 at 528 px, learning rate decayed from 0.005 to
    0.001. The defaults of every dataclass are this preset.
``demo``
    Small enough that the whole pipeline runs in minutes on 2 CPU cores.
``tiny``
    Seconds per step: 60 works of 320x240 and toy models, for tests and smoke runs (its models
    are not meant to be good).
``full``
    Larger inputs, more tiles and epochs, EfficientNetB7: for a real data set on accelerators.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from mediumnet.downloads import MAX_IMAGE_BYTES
from mediumnet.errors import ConfigError
from mediumnet.labels import MEDIUMS


@dataclass
class DataConfig:
    """How images become the two views the branches see, and how the data set is split."""

    composition_size: int = 320
    """Side of the letterboxed whole-image (composition) view, in pixels."""
    texture_tile: int = 320
    """Side of one native-resolution texture tile, in pixels."""
    tiles_per_image_train: int = 4
    """Random texture tiles cut from each image per training epoch."""
    tiles_per_image_eval: int = 9
    """Texture tiles on the fixed evaluation grid of each image."""
    cache_long_edge: int = 2400
    """Long edge of the bounded-resolution copy that random tiles are cut from."""
    blank_tile_std: float = 0.0
    """Reject tiles whose grey-level standard deviation is below this (0 keeps all)."""
    val_fraction: float = 0.15
    """Share of works in the validation split."""
    test_fraction: float = 0.15
    """Share of works in the test split."""
    split_seed: int = 0
    """Seed of the grouped, stratified split."""
    min_groups: int = 3
    """Artist groups a medium needs to be split (one each for train, val and test)."""


@dataclass
class SynthConfig:
    """The procedural data set of ``mediumnet synth``."""

    per_class: int = 200
    """Images per medium."""
    width: int = 1600
    """Image width in pixels."""
    height: int = 1200
    """Image height in pixels."""
    seed: int = 0
    """Seed: the same seed gives byte-identical images."""
    jpeg_quality: int = 90
    """JPEG quality of the written images."""
    disagree_share: float = 0.2
    """Share of images whose composition and texture cues point to different mediums."""
    artists_per_class: int = 0
    """Fake artists per medium (0: one artist per five works)."""
    workers: int = 0
    """Processes that draw images (0: one per CPU core)."""
    mediums: tuple[str, ...] = MEDIUMS
    """The mediums to draw (a subset gives the same works of those mediums as the full set)."""


@dataclass
class HarvestConfig:
    """How ``mediumnet harvest`` talks to collection APIs and checks what it downloads."""

    api_rate: float = 0.0
    """Requests per second to the API (0: the source's polite default: Artsy 5, Met 3,
    AIC 1)."""
    image_rate: float = 0.0
    """Image downloads per second (0: the source's default)."""
    workers: int = 4
    """Parallel image downloads."""
    retries: int = 5
    """Retries of one request on 429, 5xx, timeouts and connection resets."""
    backoff: float = 1.0
    """First back-off delay in seconds; it doubles on every retry, with jitter."""
    max_backoff: float = 60.0
    """Longest wait between two tries, Retry-After included."""
    timeout: float = 30.0
    """Seconds to wait for a server to answer."""
    max_image_bytes: int = MAX_IMAGE_BYTES
    """Larger images are refused (and counted) rather than downloaded."""
    max_depth_ratio: float = 0.15
    """Works whose depth exceeds this share of their larger side are three-dimensional."""
    phash_distance: int = 4
    """Images whose perceptual hashes differ in at most this many bits are near-duplicates."""
    page_size: int = 100
    """Records per listing page."""


@dataclass
class CompositionConfig:
    """The composition CNN on the whole image (research: 3 blocks of 10x10 convolutions)."""

    filters: tuple[int, ...] = (32, 64, 128)
    kernel_size: int = 10
    dense_units: int = 128
    dropout: float = 0.3
    head: str = "flatten"
    """``flatten`` (the research) or ``gap`` (global average pooling, far fewer parameters)."""
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 0.005
    final_learning_rate: float = 0.001


@dataclass
class TextureConfig:
    """The shallow texture CNN on native-resolution tiles (research: 2 blocks of 5x5)."""

    backbone: str = "cnn"
    """``cnn`` (the research's shallow CNN) or ``effnet``: the tiles through an EfficientNet
    backbone (variant and weights of the ``effnet`` section; the seed study's next step)."""
    filters: tuple[int, ...] = (32, 64)
    kernel_size: int = 5
    dense_units: int = 128
    dropout: float = 0.3
    head: str = "flatten"
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 0.005
    final_learning_rate: float = 0.001


@dataclass
class EffnetConfig:
    """EfficientNet transfer learning with staged unfreezing."""

    variant: str = "B6"
    """One of B0 … B7."""
    image_size: int = 528
    weights: str = "imagenet"
    """``imagenet``, ``none`` (random initialisation) or a path to a local weights file."""
    batch_size: int = 16
    dropout: float = 0.3
    stage_epochs: tuple[int, ...] = (5, 5, 5)
    """Epochs of stage 1 (head only), 2 (top half unfrozen) and 3 (all unfrozen)."""
    stage_learning_rates: tuple[float, ...] = (0.005, 0.001, 0.0001)


@dataclass
class TrainConfig:
    """What every branch's training shares."""

    class_weights: bool = True
    """Penalise errors on rare classes more (balanced class weights from the training split)."""
    mixed_precision: str = "auto"
    """``auto`` (on when a GPU is present), ``on`` or ``off``."""
    strategy: str = "auto"
    """``auto`` (MirroredStrategy on several GPUs, else default), ``mirrored``,
    ``multiworker`` (from TF_CONFIG) or ``default``."""
    early_stopping_patience: int = 5
    early_stopping_start: int = 2
    """Epochs before early stopping may act (a noisy validation set must not stop epoch 1)."""
    monitor: str = "val_macro_f1"
    """What early stopping and checkpoints watch: ``val_macro_f1`` or ``val_loss``."""
    schedule: str = "linear"
    """``linear`` (the research: learning_rate → final_learning_rate) or ``cosine``."""
    warmup_epochs: int = 1
    """Epochs of linear learning-rate warm-up from a tenth of the rate."""
    label_smoothing: float = 0.0
    augmentation: str = "medium_preserving"
    """``medium_preserving``, ``randaugment`` or ``none``."""
    batch_mix: str = "none"
    """Mix training batches: ``mixup``, ``cutmix`` (Keras core layers, images and labels) or
    ``none``."""
    seed: int = 0


@dataclass
class EnsembleConfig:
    """The stacking meta-learner over branch outputs."""

    meta_learner: str = "auto"
    """``logistic`` (multinomial, balanced class weights), ``boosting``, or ``auto``: both
    searched, the better kept by grouped cross-validation (the features branch too)."""
    use_features: bool = True
    """Add the features branch: a classifier on the visual features (texture descriptors
    included) of :mod:`mediumnet.features`, fit on the training split."""
    meta_features: bool = False
    """The meta-learner also takes the visual features themselves (scaled), besides the
    features branch's probabilities. Off by default: on real works (peopleart-mediums) the
    ~100 raw values overfit a validation split of 130 works (stack test macro-F1 0.73 with
    them, 0.79 without)."""
    keep: str = "better"
    """What ``mediumnet stack`` registers: ``better`` (the stack, or the features-only
    ensemble when it scores higher on the validation works), ``stack`` or ``features``."""
    cv_folds: int = 5


@dataclass
class Config:
    """All settings of a mediumnet run; build one with :func:`load_config`."""

    preset: str = "seed"
    data: DataConfig = field(default_factory=DataConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    harvest: HarvestConfig = field(default_factory=HarvestConfig)
    composition: CompositionConfig = field(default_factory=CompositionConfig)
    texture: TextureConfig = field(default_factory=TextureConfig)
    effnet: EffnetConfig = field(default_factory=EffnetConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as nested plain dicts (tuples become lists)."""
        def plain(value: Any) -> Any:
            if isinstance(value, tuple):
                return list(value)
            return value

        return {
            f.name: (
                {k: plain(v) for k, v in dataclasses.asdict(getattr(self, f.name)).items()}
                if dataclasses.is_dataclass(getattr(self, f.name))
                else getattr(self, f.name)
            )
            for f in dataclasses.fields(self)
        }

    def flat(self) -> dict[str, Any]:
        """Return ``{"section.field": value}`` for every setting (MLflow params)."""
        out: dict[str, Any] = {}
        for section, values in self.to_dict().items():
            if isinstance(values, dict):
                for name, value in values.items():
                    out[f"{section}.{name}"] = value
            else:
                out[section] = values
        return out

    def to_yaml(self) -> str:
        """Return the settings as YAML text (the artifact logged with every run)."""
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)


PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "seed": {},
    "demo": {
        "data": {
            "composition_size": 96,
            "texture_tile": 64,
            "tiles_per_image_train": 4,
            "tiles_per_image_eval": 4,
            "cache_long_edge": 800,
        },
        "synth": {"per_class": 40, "width": 640, "height": 480},
        "composition": {"filters": (8, 16, 32), "kernel_size": 5, "dense_units": 32,
                        "head": "gap", "epochs": 6, "batch_size": 16},
        "texture": {"filters": (16, 32), "dense_units": 32, "head": "gap", "epochs": 6,
                    "batch_size": 32},
        "effnet": {"variant": "B0", "image_size": 96, "weights": "none", "batch_size": 16,
                   "stage_epochs": (1, 1, 1)},
        "train": {"early_stopping_patience": 3},
        "ensemble": {"cv_folds": 3},
    },
    "tiny": {
        "data": {"composition_size": 48, "texture_tile": 32, "tiles_per_image_train": 2,
                 "tiles_per_image_eval": 2, "cache_long_edge": 400, "val_fraction": 0.25,
                 "test_fraction": 0.25},
        "synth": {"per_class": 12, "width": 320, "height": 240, "artists_per_class": 6},
        "composition": {"filters": (4, 8, 8), "kernel_size": 5, "dense_units": 8,
                        "head": "gap", "epochs": 2, "batch_size": 16},
        "texture": {"filters": (4, 8), "dense_units": 8, "head": "gap", "epochs": 2,
                    "batch_size": 32},
        "effnet": {"variant": "B0", "image_size": 32, "weights": "none", "batch_size": 16,
                   "stage_epochs": (1, 1, 1)},
        "train": {"warmup_epochs": 0},
        "ensemble": {"cv_folds": 2},
    },
    "full": {
        "data": {"composition_size": 512, "tiles_per_image_train": 8,
                 "tiles_per_image_eval": 16, "cache_long_edge": 3000},
        "synth": {"per_class": 1000},
        "composition": {"epochs": 60},
        "texture": {"epochs": 60},
        "effnet": {"variant": "B7", "image_size": 600, "batch_size": 8,
                   "stage_epochs": (5, 10, 10)},
        "train": {"early_stopping_patience": 8},
    },
}
"""Named presets: overrides on the defaults (the defaults are the ``seed`` preset)."""

_CHOICES: dict[str, tuple[str, ...]] = {
    "composition.head": ("flatten", "gap"),
    "texture.head": ("flatten", "gap"),
    "texture.backbone": ("cnn", "effnet"),
    "effnet.variant": tuple(f"B{i}" for i in range(8)),
    "train.mixed_precision": ("auto", "on", "off"),
    "train.strategy": ("auto", "mirrored", "multiworker", "default"),
    "train.monitor": ("val_macro_f1", "val_loss"),
    "train.schedule": ("linear", "cosine"),
    "train.augmentation": ("medium_preserving", "randaugment", "none"),
    "train.batch_mix": ("none", "mixup", "cutmix"),
    "ensemble.meta_learner": ("auto", "logistic", "boosting"),
    "ensemble.keep": ("better", "stack", "features"),
}


def _section_types(section: Any) -> dict[str, Any]:
    return typing.get_type_hints(type(section))


def _coerce(text: str, hint: Any, key: str) -> Any:
    """Turn the text of a ``--set`` value into the type of the field it sets."""
    origin = typing.get_origin(hint)
    try:
        if hint is bool:
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
        if hint is str:
            return text
        if origin is tuple:
            (item_type, _) = typing.get_args(hint)
            parts = [p for p in text.replace("(", "").replace(")", "").split(",") if p.strip()]
            return tuple(item_type(p.strip()) for p in parts)
    except ValueError:
        pass
    names = {int: "an integer", float: "a number", bool: "true or false"}
    wanted = names.get(hint, "a comma-separated list such as 32,64" if origin is tuple else "")
    raise ConfigError(f"--set {key}={text}: the value must be {wanted}")


def apply_override(config: Config, assignment: str) -> None:
    """Apply one ``section.field=value`` override to ``config`` in place.

    Raises
    ------
    ConfigError
        If the assignment is malformed, names an unknown setting or has a value of the wrong
        type.
    """
    key, sep, value = assignment.partition("=")
    key = key.strip()
    if not sep or "." not in key:
        raise ConfigError(
            f"malformed --set {assignment!r}: write section.field=value, "
            "e.g. --set data.composition_size=256"
        )
    section_name, _, field_name = key.partition(".")
    section = getattr(config, section_name, None)
    if section is None or not dataclasses.is_dataclass(section):
        sections = ", ".join(f.name for f in dataclasses.fields(config) if f.name != "preset")
        raise ConfigError(f"--set {key}: unknown section {section_name!r}; sections: {sections}")
    hints = _section_types(section)
    if field_name not in hints:
        raise ConfigError(
            f"--set {key}: unknown setting {field_name!r} in {section_name}; "
            f"settings: {', '.join(hints)}"
        )
    setattr(section, field_name, _coerce(value.strip(), hints[field_name], key))


def validate(config: Config) -> Config:
    """Check that the settings make sense together; return ``config``.

    Raises
    ------
    ConfigError
        Naming the first setting that is out of range.
    """
    flat = config.flat()
    for key, choices in _CHOICES.items():
        if flat[key] not in choices:
            raise ConfigError(f"{key}={flat[key]!r} is not valid: choose one of "
                              f"{', '.join(choices)}")
    for key, value in flat.items():
        if isinstance(value, bool) or key in ("preset", "effnet.weights"):
            continue
        if isinstance(value, int | float) and value < 0:
            raise ConfigError(f"{key}={value} must not be negative")
        if isinstance(value, list) and any(not isinstance(v, str) and v <= 0 for v in value):
            raise ConfigError(f"{key}={value}: every entry must be positive")
    positive = ("data.composition_size", "data.texture_tile", "data.tiles_per_image_train",
                "data.tiles_per_image_eval", "data.cache_long_edge", "effnet.image_size",
                "composition.kernel_size", "texture.kernel_size", "composition.batch_size",
                "texture.batch_size", "effnet.batch_size", "synth.jpeg_quality",
                "data.min_groups")
    for key in positive:
        if flat[key] <= 0:
            raise ConfigError(f"{key}={flat[key]} must be positive")
    d = config.data
    if d.val_fraction + d.test_fraction >= 1:
        raise ConfigError(
            f"data.val_fraction + data.test_fraction = {d.val_fraction + d.test_fraction} "
            "leaves nothing to train on: keep their sum below 1"
        )
    if d.cache_long_edge < d.texture_tile:
        raise ConfigError(f"data.cache_long_edge={d.cache_long_edge} is smaller than "
                          f"data.texture_tile={d.texture_tile}: raise it")
    if not 1 <= config.synth.jpeg_quality <= 100:
        raise ConfigError(f"synth.jpeg_quality={config.synth.jpeg_quality}: use 1 to 100")
    if not 0 <= config.synth.disagree_share <= 1:
        raise ConfigError(f"synth.disagree_share={config.synth.disagree_share}: use 0 to 1")
    e = config.effnet
    if len(e.stage_epochs) != 3 or len(e.stage_learning_rates) != 3:
        raise ConfigError("effnet.stage_epochs and effnet.stage_learning_rates need three "
                          "values each (head only, top half, all layers)")
    return config


def load_config(preset: str = "seed", overrides: typing.Iterable[str] = ()) -> Config:
    """Build the settings of a named preset, with ``section.field=value`` overrides applied.

    Parameters
    ----------
    preset : str
        One of :data:`PRESETS` (``seed``, ``demo``, ``full``).
    overrides : iterable of str
        Assignments such as ``"data.composition_size=256"`` or ``"composition.filters=16,32"``,
        applied in order after the preset.

    Returns
    -------
    Config
        The resolved, validated settings.

    Raises
    ------
    ConfigError
        On an unknown preset, a malformed or unknown override, or settings out of range.
    """
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    config = Config(preset=preset)
    for section_name, values in PRESETS[preset].items():
        section = getattr(config, section_name)
        for name, value in values.items():
            setattr(section, name, value)
    for assignment in overrides:
        apply_override(config, assignment)
    return validate(config)
