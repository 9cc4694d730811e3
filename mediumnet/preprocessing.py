"""One preprocessor per branch: a decoded image in, that branch's model input out.

A preprocessor holds everything that turns pixels into what its model takes — the view, the
size, the tile, the number of tiles, the pooling of tile predictions, the bounded long edge,
and the mediums the model knows (its output order). It is the one thing the view cache,
training, evaluation and serving call, and it travels with the model: ``to_config()`` is saved
in the model's metadata (and as ``preprocessing.json``), and :func:`from_config` rebuilds it
from what was saved — never from the current settings — so a model is served exactly as it
was trained. Configurations saved before preprocessors existed (plain settings dicts) load.

Preprocessors are named in a registry, by view (timm's way: configs are data):

>>> from_config({"view": "composition", "size": 96}).size   # doctest: +SKIP
96
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from mediumnet.data.views import PAD_VALUE
from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    from mediumnet.config import Config

_REGISTRY: dict[str, type[Preprocessor]] = {}


def register(name: str) -> Callable[[type[Preprocessor]], type[Preprocessor]]:
    """Class decorator: make a preprocessor loadable by ``from_config({"view": name, …})``."""
    def add(cls: type[Preprocessor]) -> type[Preprocessor]:
        _REGISTRY[name] = cls
        return cls

    return add


@dataclass
class Preprocessor:
    """What every branch preprocessor has: the mediums its model knows, and a config."""

    view: ClassVar[str] = ""
    classes: tuple[str, ...] = MEDIUMS
    """The mediums the model tells apart, in the order of its outputs."""

    per_image: ClassVar[int] = 1

    def __post_init__(self) -> None:
        self.classes = tuple(self.classes or MEDIUMS)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """Return the model inputs of one upright RGB uint8 image."""
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:
        """Return a JSON-ready dict that :func:`from_config` turns back into this object."""
        raise NotImplementedError

    def cache_settings(self) -> dict[str, Any]:
        """Return the settings that change cached pixels (they key the view cache)."""
        raise NotImplementedError

    def example(self) -> np.ndarray:
        """Return one model input batch of plain grey (the logged input example)."""
        raise NotImplementedError

    def pool(self, probabilities: np.ndarray) -> np.ndarray:
        """Turn per-input probabilities into per-image ones (one input per image: as is)."""
        return probabilities


@register("composition")
@dataclass
class CompositionPreprocessor(Preprocessor):
    """The whole work, letterboxed to ``size`` x ``size`` (the composition branch)."""

    view: ClassVar[str] = "composition"
    size: int = 320
    letterbox_pad: int = PAD_VALUE
    branch: str = "composition"

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        from mediumnet.data.views import letterbox_pixels

        return letterbox_pixels(pixels, self.size, pad=self.letterbox_pad)[None]

    def from_file(self, source: object) -> np.ndarray:
        """Decode the same view straight from a file (reduced JPEG decoding: the cache's)."""
        from mediumnet.data.views import composition_view

        return composition_view(source, self.size, pad=self.letterbox_pad)

    def to_config(self) -> dict[str, Any]:
        return {"view": self.view, "branch": self.branch, "size": self.size,
                "letterbox_pad": self.letterbox_pad, "classes": list(self.classes)}

    def cache_settings(self) -> dict[str, Any]:
        return {"size": self.size}

    def example(self) -> np.ndarray:
        return np.full((1, self.size, self.size, 3), self.letterbox_pad, dtype=np.uint8)


@dataclass
class EffnetPreprocessor(CompositionPreprocessor):
    """The whole work at the EfficientNet variant's size (the effnet branch)."""

    size: int = 528
    branch: str = "effnet"


@register("texture")
@dataclass
class TexturePreprocessor(Preprocessor):
    """Native-resolution tiles on a fixed grid of the bounded copy (the texture branch)."""

    view: ClassVar[str] = "texture"
    tile: int = 320
    tiles_per_image: int = 9
    long_edge: int | None = 2400
    """Long edge of the bounded copy tiles are cut from (None: native resolution)."""
    pooling: str = "mean_log_probability"

    @property
    def per_image(self) -> int:  # type: ignore[override]
        """Model inputs per image: the grid tiles."""
        return self.tiles_per_image

    def bounded(self, pixels: np.ndarray) -> np.ndarray:
        """Return the bounded-resolution copy of decoded pixels (native below ``long_edge``)."""
        from mediumnet.data.views import bound_pixels

        return bound_pixels(pixels, self.long_edge)

    def bounded_from_file(self, source: object) -> np.ndarray:
        """Decode the bounded-resolution copy straight from a file (the cache's)."""
        from mediumnet.data.views import bounded_pixels

        return bounded_pixels(source, self.long_edge)

    def grid(self, bounded: np.ndarray) -> np.ndarray:
        """Cut the evaluation grid tiles of a bounded copy: ``(tiles_per_image, T, T, 3)``."""
        from mediumnet.data.views import tiles_from_pixels

        return tiles_from_pixels(bounded, self.tile, self.tiles_per_image, mode="grid")[0]

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.grid(self.bounded(pixels))

    def pool(self, probabilities: np.ndarray) -> np.ndarray:
        from mediumnet.models.texture import pool_tiles

        return pool_tiles(probabilities, self.tiles_per_image)

    def to_config(self) -> dict[str, Any]:
        return {"view": self.view, "tile": self.tile, "tiles_per_image": self.tiles_per_image,
                "long_edge": self.long_edge, "pooling": self.pooling,
                "classes": list(self.classes)}

    def cache_settings(self) -> dict[str, Any]:
        return {"tile": self.tile, "long_edge": self.long_edge,
                "grid_tiles": self.tiles_per_image}

    def example(self) -> np.ndarray:
        return np.full((1, self.tile, self.tile, 3), PAD_VALUE, dtype=np.uint8)


@dataclass
class FeaturesPreprocessor:
    """The visual features the meta-learner takes, measured on the same decoded pixels."""

    names: tuple[str, ...] = field(default_factory=tuple)

    def __call__(self, pixels: np.ndarray, *, file_bytes: float = float("nan"),
                 jpeg_quality: float = float("nan")) -> list[float]:
        """Return the values of :attr:`names` (all features when empty) for one image."""
        from mediumnet.features import features_from_pixels

        values = features_from_pixels(pixels, file_bytes=file_bytes, jpeg_quality=jpeg_quality)
        return [values[name] for name in (self.names or values)]

    def to_config(self) -> dict[str, Any]:
        """Return ``{"names": [...]}``."""
        return {"names": list(self.names)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FeaturesPreprocessor:
        """Rebuild from :meth:`to_config`."""
        return cls(tuple(config.get("names") or ()))


def from_config(config: dict[str, Any]) -> Preprocessor:
    """Rebuild a branch preprocessor from what a model saved (its ``to_config()``).

    Raises
    ------
    MediumnetError
        If the view is not one mediumnet knows.
    """
    view = config.get("view")
    if view not in _REGISTRY:
        raise MediumnetError(f"unknown preprocessing view {view!r}: this model was not made "
                             f"by mediumnet (known views: {', '.join(_REGISTRY)})")
    if view == "composition":
        cls = EffnetPreprocessor if config.get("branch") == "effnet" else CompositionPreprocessor
        return cls(size=int(config["size"]),
                   letterbox_pad=int(config.get("letterbox_pad", PAD_VALUE)),
                   classes=tuple(config.get("classes") or MEDIUMS))
    return TexturePreprocessor(tile=int(config["tile"]),
                               tiles_per_image=int(config["tiles_per_image"]),
                               long_edge=config.get("long_edge"),
                               pooling=config.get("pooling", "mean_log_probability"),
                               classes=tuple(config.get("classes") or MEDIUMS))


def branch_preprocessor(branch: str, config: Config,
                        classes: Sequence[str] = MEDIUMS) -> Preprocessor:
    """Return the preprocessor of a branch under ``config`` (what training saves with it).

    Raises
    ------
    MediumnetError
        If ``branch`` is unknown.
    """
    d = config.data
    if branch == "texture":
        return TexturePreprocessor(tile=d.texture_tile, tiles_per_image=d.tiles_per_image_eval,
                                   long_edge=d.cache_long_edge, classes=tuple(classes))
    if branch == "composition":
        return CompositionPreprocessor(size=d.composition_size, classes=tuple(classes))
    if branch == "effnet":
        return EffnetPreprocessor(size=config.effnet.image_size, classes=tuple(classes))
    raise MediumnetError(f"unknown branch {branch!r}: choose composition, texture or effnet")


def view_preprocessor(view: str, config: Config) -> Preprocessor:
    """Return the preprocessor whose views the cache of ``view`` holds under ``config``.

    Raises
    ------
    MediumnetError
        If ``view`` is not ``composition`` or ``texture``.
    """
    if view not in ("composition", "texture"):
        raise MediumnetError(f"unknown view {view!r}: choose composition or texture")
    return branch_preprocessor(view, config)
