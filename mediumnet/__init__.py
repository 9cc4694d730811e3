"""mediumnet: tell the technique (medium) of a digitised artwork from its image.

Importing the package is cheap: TensorFlow, MLflow and OpenCV are imported only inside the
functions that need them.

>>> import mediumnet                                          # doctest: +SKIP
>>> model = mediumnet.load_model()            # models:/mediumnet-ensemble@champion
>>> model.predict(["scan.jpg", open("print.tif", "rb").read()])
>>> mediumnet.classify(["a.jpg", "b.jpg"])   # one row per path
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import os
import sys
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    import pandas as pd

    from mediumnet.ensemble.classifier import ImageClassifier

from mediumnet.version import __version__

__all__ = ["MEDIUMS", "MediumnetError", "__version__", "classify", "load_model"]

MOVED_MODULES: dict[str, str] = {
    "mediumnet.stacking": "mediumnet.ensemble.stacking",
    "mediumnet.explore": "mediumnet.study.explore",
    "mediumnet.evaluate": "mediumnet.study.evaluate",
    "mediumnet.features": "mediumnet.study.features",
    "mediumnet.descriptors": "mediumnet.study.descriptors",
    "mediumnet.feature_table": "mediumnet.study.feature_table",
    "mediumnet.guard": "mediumnet.serving.guard",
    "mediumnet.downloads": "mediumnet.serving.downloads",
    "mediumnet.score": "mediumnet.serving.score",
    "mediumnet.models": "mediumnet.backbones",
    "mediumnet.models.augment": "mediumnet.backbones.augment",
    "mediumnet.models.effnet": "mediumnet.backbones.effnet",
    "mediumnet.models.composition": "mediumnet.backbones.research_cnn",
    "mediumnet.models.texture": "mediumnet.backbones.research_cnn",
}
"""Modules that moved when the package was laid out by concern → where they live now.

``import mediumnet.explore`` (and every other old path) still works: it gives the module at
its new home, with a :class:`DeprecationWarning` that names it."""


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import a module by its old path: the module at its new home, and a warning."""

    def find_spec(self, fullname: str, path: object, target: object = None):
        if fullname not in MOVED_MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return None  # the default module, replaced below

    def exec_module(self, module) -> None:
        new = MOVED_MODULES[module.__name__]
        warnings.warn(f"{module.__name__} moved to {new}: import it from there",
                      DeprecationWarning, stacklevel=2)
        # The import system returns what sys.modules holds once this returns: the new home.
        sys.modules[module.__name__] = importlib.import_module(new)


sys.meta_path.insert(0, _MovedModules())  # before the path finder: no second copy


def load_model(uri: str | None = None) -> ImageClassifier:
    """Load a mediumnet model to classify images in this process.

    Parameters
    ----------
    uri : str, optional
        Any MLflow URI of a mediumnet model: the ensemble (default
        ``models:/mediumnet-ensemble@champion``) or a branch model.

    Returns
    -------
    mediumnet.ensemble.ImageClassifier
        ``.predict(items)`` takes paths, file bytes, PIL images or arrays (one or a list) and
        returns a DataFrame: ``label``, ``confidence``, ``p_<medium>`` …, ``error``.

    Raises
    ------
    MediumnetError
        If the URI does not resolve to a mediumnet model.
    """
    from mediumnet.registry import model_uri

    return _load_cached(uri or model_uri("ensemble"))


@functools.lru_cache(maxsize=4)
def _load_cached(uri: str) -> ImageClassifier:
    from mediumnet.ensemble.model import load_classifier

    return load_classifier(uri)


def classify(paths: Iterable[str | os.PathLike[str]], model: str | None = None) -> pd.DataFrame:
    """Classify image files; one row per path (the index), in order.

    Parameters
    ----------
    paths : iterable of path-like
    model : str, optional
        Model URI (default: the champion ensemble). Loaded once per process.

    Returns
    -------
    pandas.DataFrame
        ``label``, ``confidence``, ``p_<medium>`` for the five mediums, ``error`` (None when
        the image was classified).

    Notes
    -----
    A medium the model was never trained on gets probability 0, so a work of it gets another
    label: ``load_model(model).classes`` lists the mediums the model knows, and
    :func:`mediumnet.ensemble.classifier.untrained_mediums_warning` says it in a sentence.
    """
    paths = [str(p) for p in paths]
    frame = load_model(model).predict(paths)
    frame.index = paths
    frame.index.name = "image"
    return frame
