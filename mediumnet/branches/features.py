"""The features branch: a scikit-learn classifier on the visual features of each image.

Instead of learning pixels, it measures them: the sixteen visual statistics and the
classical texture descriptors of :mod:`mediumnet.study.features` (colourfulness, empty
paper, line crispness, LBP, GLCM, Gabor …). Its classifier is fit on the training split when
the ensemble is stacked, chosen by cross-validation grouped by artist like the meta-learner;
its probabilities enter the stack like any branch's, and alone it is the *features-only
ensemble*, registered when it beats the stack on the validation works. The features of a
data set's works are measured once, by the code serving runs, and kept in
``features.parquet`` (:mod:`mediumnet.study.feature_table`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from mediumnet.branches.base import EstimatorServed, FittedBranch
from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from mediumnet.config import Config
    from mediumnet.data.decode import Decoded

log = logging.getLogger("mediumnet")


class FeaturesMeasure:
    """Measure the named visual features of a decoded image (all of them when unnamed)."""

    def __init__(self, names: Sequence[str] = ()) -> None:
        self.names = tuple(names)

    def __call__(self, image: Decoded) -> list[float]:
        """Return the values of :attr:`names`, measured once per image."""
        from mediumnet.study.features import decoded_features

        values = decoded_features(image)
        return [values[name] for name in (self.names or values)]


class FeaturesBranch(FittedBranch):
    """A classifier on the visual features and texture descriptors of each image."""

    name: ClassVar[str] = "features"
    title: ClassVar[str] = "the features branch (visual features and texture descriptors)"
    summary: ClassVar[str] = ("the visual features and texture descriptors of each image "
                              "(scikit-learn, fit on the training split)")

    def enabled(self, config: Config) -> bool:
        return bool(config.ensemble.use_features)

    def feature_names(self) -> tuple[str, ...]:
        """Return the features the branch takes, in order."""
        from mediumnet.study.features import NUMERIC_FOR_MODELS

        return tuple(NUMERIC_FOR_MODELS)

    def from_estimator(self, estimator: Any, classes: Sequence[str],
                       names: Sequence[str] = ()) -> EstimatorServed:
        names = tuple(names) or self.feature_names()
        settings = {"branch": self.name, "names": list(names), "classes": list(classes)}
        return EstimatorServed(self.name, estimator, settings, FeaturesMeasure(names))

    def serve(self, loaded: Any, settings: Mapping[str, Any],
              local_dir: str | None = None) -> EstimatorServed:
        return self.from_estimator(loaded, tuple(settings.get("classes") or MEDIUMS),
                                   tuple(settings.get("names") or ()))

    def legacy_settings(self, ensemble: Mapping[str, Any]) -> dict[str, Any] | None:
        """Ensembles of the first format flagged this branch and kept its features on top."""
        if not ensemble.get("features_branch"):
            return None
        return {"branch": self.name, "names": list(ensemble.get("feature_names") or ()),
                "classes": list(ensemble.get("classes") or MEDIUMS)}

    def measure(self, root: Path, works: pd.DataFrame, what: str, progress: bool,
                config: Config | None = None) -> tuple[list[str], np.ndarray]:
        """Read the features from the feature table; unmeasurable works are left out."""
        from mediumnet.study.feature_table import feature_table

        table = feature_table(root, works.reset_index(drop=True), progress=progress,
                              desc=f"{what} features")
        if table.failed:
            log.warning("%d %s images could not be measured and are left out of the "
                        "%s branch", len(table.failed), what, self.name)
        if table.features.empty:
            raise MediumnetError(f"none of the {len(works)} {what} images of {root} could be "
                                 f"measured: the {self.name} branch has nothing to learn from")
        frame = table.features  # one row per work, sorted by id
        return (list(frame["id"]),
                frame[list(self.feature_names())].to_numpy(np.float64))
