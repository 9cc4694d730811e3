"""The texture branch: native-resolution tiles through a CNN, pooled into one answer per work.

Texture — brush strokes, a soft pencil line, a crisp engraved line, paper grain, film grain —
separates a drawing from an engraving and gouache from oil, and is visible only at native
resolution. The branch cuts ``data.texture_tile`` tiles (random places in training, a fixed
grid at evaluation) from a bounded-resolution copy of the work, runs a pretrained
EfficientNet (the ``effnet`` section's; its top half fine-tuned) or the research's shallow CNN
(``texture.backbone=cnn``, the demo's) on each tile and pools the tiles of a work by their mean
log-probability.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from mediumnet.branches.base import KerasBranch, Preprocessor, Stage
from mediumnet.data.views import PAD_VALUE
from mediumnet.errors import ConfigError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    import pandas as pd

    from mediumnet.config import Config


@dataclass
class TextureConfig:
    """The shallow texture CNN on native-resolution tiles (research: 2 blocks of 5x5)."""

    backbone: str = "effnet"
    """``effnet``: the tiles through the ``effnet`` section's pretrained backbone
    (EfficientNet-Lite0 by default; on peopleart-mediums, 224-px native tiles: test macro-F1
    0.836 against the shallow CNN's 0.444), or ``cnn``: the research's shallow CNN (the demo
    and tiny presets: fast on a CPU)."""
    filters: tuple[int, ...] = (32, 64)
    kernel_size: int = 5
    dense_units: int = 128
    dropout: float = 0.3
    head: str = "flatten"
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 0.005
    final_learning_rate: float = 0.001
    backbone_learning_rate: float = 0.0005
    """The learning rate on a pretrained backbone (``backbone=effnet``), decayed to
    ``backbone_final_learning_rate``: the CNN's 0.005 would undo its ImageNet features."""
    backbone_final_learning_rate: float = 0.0001


def pool_tiles(probabilities: np.ndarray, tiles_per_image: int) -> np.ndarray:
    """Turn per-tile probabilities into per-image ones: the mean of log-probabilities.

    Parameters
    ----------
    probabilities : numpy.ndarray
        ``(n_images * tiles_per_image, k)``, the tiles of each image consecutive.
    tiles_per_image : int

    Returns
    -------
    numpy.ndarray
        ``(n_images, k)``, rows summing to 1 (a geometric mean, renormalised).
    """
    logp = np.log(np.clip(probabilities, 1e-7, 1.0)).reshape(-1, tiles_per_image,
                                                             probabilities.shape[-1])
    mean = logp.mean(axis=1)
    mean -= mean.max(axis=1, keepdims=True)
    out = np.exp(mean)
    return out / out.sum(axis=1, keepdims=True)


@dataclass
class TexturePreprocessor(Preprocessor):
    """Native-resolution tiles on a fixed grid of the bounded copy."""

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


class TextureBranch(KerasBranch):
    """The research's shallow texture CNN (or an EfficientNet) on native tiles, pooled."""

    name: ClassVar[str] = "texture"
    title: ClassVar[str] = "Texture"
    summary: ClassVar[str] = ("native-resolution tiles through a pretrained EfficientNet (or "
                              "the research's shallow CNN), pooled per work")
    settings: ClassVar[type] = TextureConfig
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "demo": {"backbone": "cnn", "filters": (16, 32), "dense_units": 32, "head": "gap",
                 "epochs": 6, "batch_size": 32},
        "tiny": {"backbone": "cnn", "filters": (4, 8), "dense_units": 8, "head": "gap",
                 "epochs": 2, "batch_size": 32},
        "full": {"epochs": 60},
    }
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {"head": ("flatten", "gap"),
                                                         "backbone": ("cnn", "effnet")}
    positive: ClassVar[tuple[str, ...]] = ("epochs", "kernel_size", "batch_size")

    def check(self, config: Config) -> None:
        section = self.section(config)
        if section.backbone == "cnn" and len(section.filters) != 2:
            raise ConfigError(f"{self.name}.filters={list(section.filters)}: the texture CNN "
                              "has two blocks, give two filter counts")

    def loads(self, settings: Mapping[str, Any]) -> bool:
        # Saved before branches named themselves: the texture view without a branch.
        branch = settings.get("branch")
        return branch == self.name or (branch is None and settings.get("view") == self.name)

    def preprocessor(self, config: Config, classes: Sequence[str] = MEDIUMS
                     ) -> TexturePreprocessor:
        d = config.data
        return TexturePreprocessor(tile=d.texture_tile, tiles_per_image=d.tiles_per_image_eval,
                                   long_edge=d.cache_long_edge, classes=tuple(classes))

    def preprocessor_from_config(self, settings: Mapping[str, Any]) -> TexturePreprocessor:
        return TexturePreprocessor(tile=int(settings["tile"]),
                                   tiles_per_image=int(settings["tiles_per_image"]),
                                   long_edge=settings.get("long_edge"),
                                   pooling=settings.get("pooling", "mean_log_probability"),
                                   classes=tuple(settings.get("classes") or MEDIUMS))

    def inputs_per_work(self, config: Config) -> int:
        return config.data.tiles_per_image_train

    def _on_effnet(self, config: Config) -> bool:
        return self.section(config).backbone == "effnet"

    def stages(self, config: Config) -> list[Stage]:
        s = self.section(config)
        if not self._on_effnet(config):
            return super().stages(config)
        return [Stage(s.epochs, s.backbone_learning_rate, s.backbone_final_learning_rate)]

    def start_weights(self, config: Config) -> dict[str, str]:
        if not self._on_effnet(config):
            return {}
        from mediumnet.branches.effnet import effnet_start

        return effnet_start(config).params()

    def build(self, config: Config, num_classes: int = len(MEDIUMS)) -> Any:
        from mediumnet.backbones.augment import build_augmentation

        s, tile = self.section(config), config.data.texture_tile
        aug = build_augmentation(tile, config.train.augmentation, seed=config.train.seed)
        if self._on_effnet(config):
            from mediumnet.backbones.effnet import build_effnet, set_stage
            from mediumnet.branches.effnet import effnet_start

            start = effnet_start(config)
            model = build_effnet(config.effnet.variant, tile, start=start, dropout=s.dropout,
                                 augmentation=aug, num_classes=num_classes)
            # One training stage: pretrained, the top half adapts; from scratch, everything.
            set_stage(model, 2 if start.pretrained else 3)
            return model
        from mediumnet.backbones.research_cnn import build_texture_cnn

        return build_texture_cnn(tile, filters=s.filters, kernel_size=s.kernel_size,
                                 dense_units=s.dense_units, dropout=s.dropout, head=s.head,
                                 augmentation=aug, num_classes=num_classes)

    def validation_metrics(self, model: Any, cache: Any, manifest: pd.DataFrame,
                           preprocessor: Preprocessor, classes: tuple[str, ...]
                           ) -> dict[str, float]:
        """Score one centre crop per work too: how the research judged a work."""
        from mediumnet.data.views import tiles_from_pixels
        from mediumnet.metrics import macro_f1

        read_image = cache.image_reader()
        rows = cache.rows(manifest, "val", classes)
        tile = preprocessor.tile  # type: ignore[attr-defined]
        tiles = [tiles_from_pixels(read_image(i), tile, 1, mode="center")[0][0] for i in rows]
        if not tiles:
            return {}
        predicted = np.asarray(model.predict(np.stack(tiles), verbose=0)).argmax(axis=1)
        truth = [MEDIUMS.index(cache.labels[i]) for i in rows]
        return {"final_val_macro_f1_center_crop": macro_f1(
            np.array(truth), np.array([MEDIUMS.index(classes[p]) for p in predicted]), classes)}
