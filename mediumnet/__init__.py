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
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    import pandas as pd

    from mediumnet.ensemble import ImageClassifier

from mediumnet.version import __version__

__all__ = ["MEDIUMS", "MediumnetError", "__version__", "classify", "load_model"]


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
    from mediumnet.ensemble import load_classifier

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
    """
    paths = [str(p) for p in paths]
    frame = load_model(model).predict(paths)
    frame.index = paths
    frame.index.name = "image"
    return frame
