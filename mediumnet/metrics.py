"""Scores over the mediums a model knows, never over mediums it was never shown.

A model trained on a print room's collection knows painting, engraving and drawing; averaging
its macro-F1 over all five mediums would count photography and gouache as two zeros and report
0.52 for a model that is 0.87 on what it knows. Every figure mediumnet reports (training's
validation score, early stopping, the stack table, evaluation, the champion comparison) goes
through these functions with the model's ``classes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    import pandas as pd

CALIBRATION_BINS = 10


def class_indices(classes: Sequence[str] | None = None) -> list[int]:
    """Return the indices into :data:`~mediumnet.labels.MEDIUMS` of ``classes`` (default: all)."""
    return [MEDIUMS.index(c) for c in (classes or MEDIUMS)]


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray,
             classes: Sequence[str] | None = None) -> float:
    """Macro-F1 averaged over ``classes`` only (indices into MEDIUMS; 0 for no works)."""
    from sklearn.metrics import f1_score

    if len(y_true) == 0:
        return 0.0
    return float(f1_score(y_true, y_pred, labels=class_indices(classes), average="macro",
                          zero_division=0))


def scores(y_true: np.ndarray, probs: np.ndarray,
           classes: Sequence[str] | None = None) -> dict[str, float]:
    """Accuracy and macro-F1 (over ``classes``) of ``(n, 5)`` probabilities."""
    pred = np.asarray(probs).argmax(axis=1)
    y_true = np.asarray(y_true, int)
    accuracy = float((pred == y_true).mean()) if len(y_true) else 0.0
    return {"accuracy": accuracy, "macro_f1": macro_f1(y_true, pred, classes)}


def spread(probs: np.ndarray, indices: Sequence[int]) -> np.ndarray:
    """Put ``(n, k)`` probabilities of the mediums at ``indices`` into ``(n, 5)`` columns."""
    out = np.zeros((len(probs), len(MEDIUMS)))
    out[:, np.asarray(indices, int)] = probs
    return out


def to_five(probs: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Spread ``(n, k)`` probabilities over ``classes`` onto the five mediums (0 elsewhere)."""
    probs = np.asarray(probs, np.float64)
    if tuple(classes) == MEDIUMS:
        return probs
    return spread(probs, class_indices(classes))


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray,
                               bins: int = CALIBRATION_BINS) -> tuple[float, pd.DataFrame]:
    """Compute the expected calibration error of the top-class confidence, with the per-bin table.

    Parameters
    ----------
    y_true : numpy.ndarray
        ``(n,)`` class indices.
    probs : numpy.ndarray
        ``(n, k)`` probabilities.
    bins : int
        Equal-width confidence bins on [0, 1].

    Returns
    -------
    (float, pandas.DataFrame)
        The ECE (weighted mean |accuracy - confidence| over bins) and one row per bin with
        ``count``, ``confidence``, ``accuracy``.
    """
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows = []
    ece = 0.0
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        conf = float(confidence[mask].mean()) if count else np.nan
        acc = float(correct[mask].mean()) if count else np.nan
        if count:
            ece += count / len(y_true) * abs(acc - conf)
        rows.append({"low": edges[b], "high": edges[b + 1], "count": count,
                     "confidence": conf, "accuracy": acc})
    import pandas as pd

    return float(ece), pd.DataFrame(rows)
