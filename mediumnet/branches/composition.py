"""The composition branch: the whole work, letterboxed and shrunk, seen at once by a CNN.

Composition — colour masses, empty paper, density, margins — separates a painting from a
drawing. The research's CNN (three blocks of 10x10 convolutions) sees the whole work
letterboxed to ``data.composition_size`` (320 px in the seed preset).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from mediumnet.branches.base import KerasBranch, Preprocessor
from mediumnet.data.views import PAD_VALUE
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    from mediumnet.config import Config


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
class CompositionPreprocessor(Preprocessor):
    """The whole work, letterboxed to ``size`` x ``size``."""

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


def whole_image_preprocessor(cls: type[CompositionPreprocessor], settings: Mapping[str, Any]
                             ) -> CompositionPreprocessor:
    """Rebuild a whole-image preprocessor of class ``cls`` from what a model saved."""
    return cls(size=int(settings["size"]),
               letterbox_pad=int(settings.get("letterbox_pad", PAD_VALUE)),
               classes=tuple(settings.get("classes") or MEDIUMS))


class CompositionBranch(KerasBranch):
    """The research's composition CNN on the letterboxed whole work."""

    name: ClassVar[str] = "composition"
    title: ClassVar[str] = "Composition"
    summary: ClassVar[str] = "the whole work, shrunk (the research's CNN, 3 blocks of 10x10)"
    settings: ClassVar[type] = CompositionConfig
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "demo": {"filters": (8, 16, 32), "kernel_size": 5, "dense_units": 32, "head": "gap",
                 "epochs": 6, "batch_size": 16},
        "tiny": {"filters": (4, 8, 8), "kernel_size": 5, "dense_units": 8, "head": "gap",
                 "epochs": 2, "batch_size": 16},
        "full": {"epochs": 60},
    }
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {"head": ("flatten", "gap")}
    positive: ClassVar[tuple[str, ...]] = ("epochs", "kernel_size", "batch_size")

    def loads(self, settings: Mapping[str, Any]) -> bool:
        # Saved before branches named themselves: the composition view without a branch.
        branch = settings.get("branch")
        return branch == self.name or (branch is None and settings.get("view") == self.name)

    def preprocessor(self, config: Config, classes: Sequence[str] = MEDIUMS
                     ) -> CompositionPreprocessor:
        return CompositionPreprocessor(size=config.data.composition_size,
                                       classes=tuple(classes))

    def preprocessor_from_config(self, settings: Mapping[str, Any]) -> CompositionPreprocessor:
        return whole_image_preprocessor(CompositionPreprocessor, settings)

    def build(self, config: Config, num_classes: int = len(MEDIUMS)) -> Any:
        from mediumnet.backbones.augment import build_augmentation
        from mediumnet.backbones.research_cnn import build_composition_cnn

        s, size = config.composition, config.data.composition_size
        aug = build_augmentation(size, config.train.augmentation, seed=config.train.seed)
        return build_composition_cnn(size, filters=s.filters, kernel_size=s.kernel_size,
                                     dense_units=s.dense_units, dropout=s.dropout,
                                     head=s.head, augmentation=aug, num_classes=num_classes)
