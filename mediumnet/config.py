"""Typed settings and named presets.

A :class:`Config` is a tree of dataclasses, one section per concern: the shared sections of
:mod:`mediumnet.settings` (``data``, ``synth``, ``harvest``, ``train``, ``ensemble``) and one
section per branch that has settings, brought by the branch itself (:mod:`mediumnet.branches`:
``composition``, ``texture``, ``effnet`` …). Presets are data: a preset is a set of overrides
on the defaults (the shared ones below, each branch's in its module), and any field can be
overridden again from the command line with ``--set section.field=value``.

Presets
-------
``seed``
    The research settings the project grows out of: composition view 320 px, texture tiles
    320 px at native resolution, learning rate decayed from 0.005 to 0.001; its transfer
    learning fine-tunes EfficientNet-Lite0 at 384 px (ImageNet weights offline, from the
    package index) instead of B6 at 528 px (``--set effnet.variant=B6
    effnet.image_size=528``: weights from the internet). Written for a GPU. The defaults of
    every dataclass are this preset.
``demo``
    Small enough that the whole pipeline runs in minutes on 2 CPU cores.
``tiny``
    Seconds per step: 60 works of 320x240 and toy models, for tests and smoke runs (its models
    are not meant to be good).
``full``
    Larger inputs, more tiles and epochs, EfficientNet-Lite2 at 384 px: for a real data set on
    accelerators.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import field
from typing import Any

from mediumnet.branches import BRANCHES, standalone_names
from mediumnet.errors import ConfigError
from mediumnet.settings import (
    DataConfig,
    EnsembleConfig,
    HarvestConfig,
    SynthConfig,
    TrainConfig,
)

__all__ = ["PRESETS", "Config", "DataConfig", "EnsembleConfig", "HarvestConfig", "SynthConfig",
           "TrainConfig", "apply_override", "load_config", "validate"]


class _Settings:
    """What every :class:`Config` can do, whatever sections its branches bring."""

    def sections(self) -> dict[str, Any]:
        """Return ``{name: section}`` for every settings section, in order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if dataclasses.is_dataclass(getattr(self, f.name))}

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as nested plain dicts (tuples become lists)."""
        def plain(value: Any) -> Any:
            return list(value) if isinstance(value, tuple) else value

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


def _section(kind: type) -> Any:
    return field(default_factory=kind)


def _config_class() -> type:
    """Build :class:`Config`: the shared sections with each branch's section in between."""
    fields: list[tuple[str, Any, Any]] = [
        ("preset", str, field(default="seed")),
        ("data", DataConfig, _section(DataConfig)),
        ("synth", SynthConfig, _section(SynthConfig)),
        ("harvest", HarvestConfig, _section(HarvestConfig))]
    fields += [(b.name, b.settings, _section(b.settings)) for b in BRANCHES.values()
               if b.settings is not None]
    fields += [("train", TrainConfig, _section(TrainConfig)),
               ("ensemble", EnsembleConfig, _section(EnsembleConfig))]
    cls = dataclasses.make_dataclass("Config", fields, bases=(_Settings,))
    cls.__module__ = __name__
    cls.__doc__ = ("All settings of a mediumnet run; build one with :func:`load_config`. "
                   "Sections: " + ", ".join(name for name, _, _ in fields[1:]) + ".")
    return cls


Config = _config_class()

_SHARED_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
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
        "train": {"early_stopping_patience": 3},
        "ensemble": {"cv_folds": 3},
    },
    "tiny": {
        "data": {"composition_size": 48, "texture_tile": 32, "tiles_per_image_train": 2,
                 "tiles_per_image_eval": 2, "cache_long_edge": 400, "val_fraction": 0.25,
                 "test_fraction": 0.25},
        "synth": {"per_class": 12, "width": 320, "height": 240, "artists_per_class": 6},
        "train": {"warmup_epochs": 0},
        "ensemble": {"cv_folds": 2, "branch_cv_folds": 2},
    },
    "full": {
        "data": {"composition_size": 512, "tiles_per_image_train": 8,
                 "tiles_per_image_eval": 16, "cache_long_edge": 3000},
        "synth": {"per_class": 1000},
        "train": {"early_stopping_patience": 8},
    },
}


def _presets() -> dict[str, dict[str, dict[str, Any]]]:
    """Merge the shared presets with each branch's own overrides of its section."""
    merged = {name: dict(sections) for name, sections in _SHARED_PRESETS.items()}
    for branch in BRANCHES.values():
        for preset, values in branch.presets.items():
            if preset not in merged:
                raise ConfigError(f"branch {branch.name} sets an unknown preset {preset!r}")
            merged[preset][branch.name] = dict(values)
    return merged


PRESETS: dict[str, dict[str, dict[str, Any]]] = _presets()
"""Named presets: overrides on the defaults (the defaults are the ``seed`` preset)."""

_SHARED_CHOICES: dict[str, tuple[str, ...]] = {
    "train.mixed_precision": ("auto", "on", "off"),
    "train.strategy": ("auto", "mirrored", "multiworker", "default"),
    "train.monitor": ("val_macro_f1", "val_loss"),
    "train.schedule": ("linear", "cosine"),
    "train.augmentation": ("medium_preserving", "randaugment", "none"),
    "train.batch_mix": ("none", "mixup", "cutmix"),
    "ensemble.meta_learner": ("auto", "logistic", "boosting"),
    "ensemble.keep": ("better", "stack", *standalone_names()),
}
_SHARED_POSITIVE = ("data.composition_size", "data.texture_tile", "data.tiles_per_image_train",
                    "data.tiles_per_image_eval", "data.cache_long_edge",
                    "synth.jpeg_quality", "data.min_groups", "ensemble.branch_cv_folds")


def _choices() -> dict[str, tuple[str, ...]]:
    out = dict(_SHARED_CHOICES)
    for branch in BRANCHES.values():
        out.update({f"{branch.name}.{key}": values for key, values in branch.choices.items()})
    return out


def _positive() -> tuple[str, ...]:
    return _SHARED_POSITIVE + tuple(f"{b.name}.{key}" for b in BRANCHES.values()
                                    for key in b.positive)


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
    sections = config.sections()
    if section_name not in sections:
        raise ConfigError(f"--set {key}: unknown section {section_name!r}; sections: "
                          f"{', '.join(sections)}")
    section = sections[section_name]
    hints = typing.get_type_hints(type(section))
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
    for key, choices in _choices().items():
        if flat[key] not in choices:
            raise ConfigError(f"{key}={flat[key]!r} is not valid: choose one of "
                              f"{', '.join(choices)}")
    for key, value in flat.items():
        if isinstance(value, bool) or key == "preset":
            continue
        if isinstance(value, int | float) and value < 0:
            raise ConfigError(f"{key}={value} must not be negative")
        if isinstance(value, list) and any(not isinstance(v, str) and v <= 0 for v in value):
            raise ConfigError(f"{key}={value}: every entry must be positive")
    for key in _positive():
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
    for branch in BRANCHES.values():
        branch.check(config)
    return config


def load_config(preset: str = "seed", overrides: typing.Iterable[str] = ()) -> Config:
    """Build the settings of a named preset, with ``section.field=value`` overrides applied.

    Parameters
    ----------
    preset : str
        One of :data:`PRESETS` (``seed``, ``demo``, ``tiny``, ``full``).
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
    sections = config.sections()
    for section_name, values in PRESETS[preset].items():
        for name, value in values.items():
            setattr(sections[section_name], name, value)
    for assignment in overrides:
        apply_override(config, assignment)
    return validate(config)
