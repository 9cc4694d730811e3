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


def confidence_bin(confidence: np.ndarray, bins: int = CALIBRATION_BINS) -> np.ndarray:
    """Return the equal-width bin on [0, 1] of each confidence (right edges closed)."""
    edges = np.linspace(0, 1, bins + 1)
    return np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)


def confidence_text(confidence: float) -> str:
    """Write a confidence to 3 places, or to as many as it takes not to read as 1.

    A threshold of 0.99996 printed as 1.000 would say that nothing can reach it.
    """
    for places in range(3, 7):
        text = f"{confidence:.{places}f}"
        if confidence >= 1 or not text.startswith("1."):
            return text
    return "0.999999+"


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
    index = confidence_bin(confidence, bins)
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


INTERVAL_LEVEL = 0.95
INTERVAL_ROUNDS = 2000


def artist_intervals(y_true: np.ndarray, probs: np.ndarray, groups: Sequence,
                     classes: Sequence[str] | None = None, *, rounds: int = INTERVAL_ROUNDS,
                     level: float = INTERVAL_LEVEL, seed: int = 0
                     ) -> dict[str, tuple[float, float]]:
    """Intervals of accuracy, macro-F1 and calibration error, resampling whole artists.

    A test split of 134 works by 30 artists is not 134 independent draws: one hard artist
    (Hokusai's colour woodcuts, say) moves every figure at once. The artists are drawn with
    replacement ``rounds`` times (a cluster bootstrap: each draw keeps all of an artist's
    works), the figures are measured on every draw exactly as on the whole (macro-F1 over
    the mediums of ``classes`` the draw has, ECE over :data:`CALIBRATION_BINS` bins), and
    the central ``level`` of each is returned. The calibration error of a small draw is
    biased upwards; its interval shows how far the figure can move, not a corrected value.

    Parameters
    ----------
    y_true : numpy.ndarray
        ``(n,)`` class indices into :data:`~mediumnet.labels.MEDIUMS`.
    probs : numpy.ndarray
        ``(n, 5)`` probabilities.
    groups : sequence
        ``(n,)`` the artist group of each work
        (:func:`mediumnet.data.splits.artist_groups`).
    classes : sequence of str, optional
        The mediums the model knows (default: all five).
    rounds : int
        Draws.
    level : float
        The share of the draws inside each interval.
    seed : int

    Returns
    -------
    dict
        ``{"accuracy" | "macro_f1" | "expected_calibration_error": (low, high)}``; empty with
        fewer than two artists (there is nothing to resample).
    """
    _, group = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    n_groups = int(group.max()) + 1 if len(group) else 0
    if n_groups < 2:
        return {}
    draws = np.random.default_rng(seed).multinomial(
        n_groups, np.full(n_groups, 1.0 / n_groups), size=rounds)
    figures = figures_of_draws(y_true, probs, group, draws, classes)
    tail = (1 - level) / 2 * 100
    return {name: (float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail)))
            for name, v in figures.items()}


def figures_of_draws(y_true: np.ndarray, probs: np.ndarray, group: np.ndarray,
                     draws: np.ndarray, classes: Sequence[str] | None = None
                     ) -> dict[str, np.ndarray]:
    """Accuracy, macro-F1 and calibration error of each draw of artists.

    Parameters
    ----------
    y_true, probs : numpy.ndarray
        As :func:`artist_intervals`.
    group : numpy.ndarray
        ``(n,)`` each work's artist as an index ``0 .. g-1``.
    draws : numpy.ndarray
        ``(rounds, g)`` how many times each draw takes each artist (all its works).
    classes : sequence of str, optional

    Returns
    -------
    dict
        ``{"accuracy" | "macro_f1" | "expected_calibration_error": (rounds,) array}``, each
        as :func:`scores` and :func:`expected_calibration_error` measure the works drawn.
    """
    y_true = np.asarray(y_true, int)
    probs = np.asarray(probs, np.float64)
    draws = np.asarray(draws, np.float64)
    # Everything a figure needs is a sum over works: summed per artist once, each draw is
    # then a matrix product of how often it took each artist.
    pred = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    correct = (pred == y_true).astype(float)
    bin_of = confidence_bin(confidence)
    labels = class_indices(classes)
    columns = [np.ones(len(y_true)), correct]
    columns += [np.where(bin_of == b, correct - confidence, 0.0) for b in range(CALIBRATION_BINS)]
    for c in labels:
        columns += [((y_true == c) & (pred == c)).astype(float), (pred == c).astype(float),
                    (y_true == c).astype(float)]
    per_work = np.stack(columns, axis=1)
    per_group = np.zeros((draws.shape[1], per_work.shape[1]))
    np.add.at(per_group, group, per_work)
    sums = draws @ per_group
    works = sums[:, 0]
    counts = sums[:, 2 + CALIBRATION_BINS:].reshape(len(draws), len(labels), 3)
    tp, predicted, actual = counts[..., 0], counts[..., 1], counts[..., 2]
    f1 = np.divide(2 * tp, predicted + actual, out=np.zeros_like(tp),
                   where=(predicted + actual) > 0)
    present = actual > 0
    present[~present.any(axis=1)] = True  # as evaluation: the model's mediums when none shows
    return {"accuracy": sums[:, 1] / works,
            "macro_f1": (f1 * present).sum(axis=1) / present.sum(axis=1),
            "expected_calibration_error":
                np.abs(sums[:, 2:2 + CALIBRATION_BINS]).sum(axis=1) / works}
