"""From raw images to probabilities: every branch from one decode, then the meta-learner.

:class:`ImageClassifier` decodes each image **once** and hands the same
:class:`~mediumnet.data.decode.Decoded` pixels to every served branch
(:class:`~mediumnet.branches.base.ServedBranch`: a Keras model with its preprocessor, or a
scikit-learn estimator on measured values), runs each branch on the batch and, when it has
one, the stacking meta-learner over the branches' log-probabilities (:func:`meta_inputs`). A
bad image never stops the others: its row gets an error message instead.

The stack computes its training inputs through the same class, so what the meta-learner
learns from is exactly what serving feeds it. It knows no branch by name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mediumnet.data.decode import decode
from mediumnet.errors import BROKEN_FILE_ERRORS, MediumnetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    from mediumnet.branches.base import ServedBranch

PROBABILITY_COLUMNS = tuple(f"p_{m}" for m in MEDIUMS)
OUTPUT_COLUMNS = ("label", "confidence", *PROBABILITY_COLUMNS, "error")
"""Serving output, one row per input row; ``error`` is null when the row succeeded."""


def shared_classes(classes_by_branch: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Return the mediums every branch knows; branches trained on different ones cannot mix.

    Raises
    ------
    MediumnetError
        If the branches were trained on different mediums (each branch's named).
    """
    known = set(classes_by_branch.values())
    if len(known) != 1:
        which = "; ".join(f"{b}: {', '.join(c)}" for b, c in classes_by_branch.items())
        raise MediumnetError(f"the branch models were trained on different mediums "
                             f"({which}): stack branches trained on the same data set")
    return known.pop()


def untrained_mediums_warning(classes: Sequence[str], model: str = "this model") -> str:
    """Say which mediums ``model`` was never trained on and what its answers then mean.

    Parameters
    ----------
    classes : sequence of str
        The mediums the model tells apart (:attr:`ImageClassifier.classes`, or the
        ``classes`` of its saved settings).
    model : str
        How to name the model in the sentence.

    Returns
    -------
    str
        One line, or ``""`` when the model knows all five mediums.
    """
    missing = [m for m in MEDIUMS if m not in set(classes)]
    if not missing:
        return ""
    known = ", ".join(m for m in MEDIUMS if m in set(classes))
    return (f"{model} tells apart only {known} (the mediums it was trained on): a work whose "
            f"medium is {' or '.join(missing)} gets one of those labels, even with a high "
            "confidence; before trusting its answers on works like these, measure it on "
            "labelled ones (mediumnet evaluate MODEL DATASET --split all)")


@dataclass
class BranchOutputs:
    """What the branches and the feature study say about a list of images."""

    probabilities: dict[str, np.ndarray]
    """Branch → ``(n_ok, 5)`` probabilities of the images that decoded (0 for the mediums
    the branch does not know)."""
    features: np.ndarray | None
    """``(n_ok, n_features)`` visual features the meta-learner takes, or None."""
    ok: np.ndarray
    """``(n,)`` bool: the image decoded (its rows exist in the arrays above)."""
    errors: list[str | None] = field(default_factory=list)
    """One message per image that failed, None for the others."""


def meta_inputs(probabilities: Mapping[str, np.ndarray], features: np.ndarray | None,
                branches: Sequence[str], classes: Sequence[str] = MEDIUMS) -> np.ndarray:
    """Build the meta-learner's input matrix: branch log-probabilities, then features.

    Only the columns of ``classes`` (the mediums the branches know) enter.
    """
    from mediumnet.metrics import class_indices

    columns = class_indices(classes)
    parts = [np.log(np.clip(probabilities[b][:, columns], 1e-6, 1.0)) for b in branches]
    if features is not None:
        parts.append(features)
    return np.hstack(parts).astype(np.float64)


def full_proba(estimator: Any, x: np.ndarray) -> np.ndarray:
    """Return a fitted classifier's ``predict_proba`` with a column for each medium, in order."""
    from mediumnet.metrics import spread

    return spread(estimator.predict_proba(x), estimator.classes_)


class ImageClassifier:
    """Served branches (+ an optional meta-learner) applied to raw images.

    Parameters
    ----------
    branches : sequence of ServedBranch
        The branches in the order their outputs enter the meta-learner, all trained on the
        same mediums.
    meta : scikit-learn estimator, optional
        Fit on :func:`meta_inputs`; without it the probabilities are the mean of the branches'
        (one branch: its own).
    feature_names : sequence of str
        Visual features the meta-learner takes besides the branch outputs (empty: none).
    workers : int, optional
        Threads that decode images (default: the CPU count).
    meta_features : bool, optional
        Whether the meta-learner takes ``feature_names`` (default: when there are any).
    temperature : float
        Rescales the final probabilities (:mod:`mediumnet.ensemble.calibration`; 1: as
        they are).
    """

    def __init__(self, branches: Sequence[ServedBranch], meta: Any = None,
                 feature_names: Sequence[str] = (), workers: int | None = None, *,
                 meta_features: bool | None = None, temperature: float = 1.0) -> None:
        if not branches:
            raise MediumnetError("an image classifier needs at least one branch model")
        self.classes: tuple[str, ...] = shared_classes({b.name: tuple(b.classes)
                                                        for b in branches})
        """The mediums this classifier tells apart; the others always get probability 0."""
        self.branches = list(branches)
        self.meta = meta
        self.feature_names = tuple(feature_names)
        self.meta_features = bool(feature_names) if meta_features is None else meta_features
        self.temperature = float(temperature)
        self.workers = workers or os.cpu_count() or 1

    @property
    def branch_names(self) -> list[str]:
        """Every branch whose probabilities enter the meta-learner, in order."""
        return [b.name for b in self.branches]

    def branch(self, name: str) -> ServedBranch:
        """Return the served branch called ``name``.

        Raises
        ------
        MediumnetError
            If this classifier has no such branch.
        """
        for served in self.branches:
            if served.name == name:
                return served
        raise MediumnetError(f"this model has no {name} branch (it has "
                             f"{', '.join(self.branch_names)})")

    def _prepare(self, item: object) -> tuple[dict[str, Any], list[float] | None]:
        """Decode one item once; return each branch's inputs and the meta-learner's features."""
        from mediumnet.data.views import ImageError

        if isinstance(item, Exception):
            raise ImageError(str(item))
        try:
            image = decode(item)
            inputs = {b.name: b.inputs(image) for b in self.branches}
            stats = None
            if self.meta_features and self.feature_names:
                from mediumnet.study.features import decoded_features

                values = decoded_features(image)
                stats = [values[name] for name in self.feature_names]
            return inputs, stats
        except (*BROKEN_FILE_ERRORS, MemoryError) as exc:  # what else a broken file throws
            raise ImageError(f"{type(exc).__name__}: {exc}") from None

    def branch_outputs(self, items: Sequence[object]) -> BranchOutputs:
        """Decode every item once and return each branch's probabilities (and features).

        Items are paths, file bytes, PIL images or arrays; ``Exception`` instances stand for
        rows already known to be bad and are reported as their message.
        """
        from mediumnet.data.views import map_images

        n = len(items)
        errors: list[str | None] = [None] * n
        inputs: dict[str, list[Any]] = {b.name: [] for b in self.branches}
        features: list[list[float]] = []
        ok = np.zeros(n, bool)
        for i, (prepared, error) in enumerate(map_images(self._prepare, list(items),
                                                         self.workers)):
            if error is not None:
                errors[i] = error
                continue
            views, stats = prepared
            ok[i] = True
            for name, view in views.items():
                inputs[name].append(view)
            if stats is not None:
                features.append(stats)
        probabilities = {b.name: b.predict(inputs[b.name]) for b in self.branches}
        feats = (np.asarray(features, np.float64).reshape(int(ok.sum()), -1)
                 if self.meta_features and self.feature_names else None)
        return BranchOutputs(probabilities, feats, ok, errors)

    def combine(self, outputs: BranchOutputs) -> np.ndarray:
        """Probabilities of the images that decoded: the meta-learner's, else the blend.

        Rescaled by the classifier's temperature (calibrated on validation works).
        """
        from mediumnet.ensemble.calibration import apply_temperature

        names = self.branch_names
        if len(outputs.ok) and not outputs.ok.any():
            return np.zeros((0, len(MEDIUMS)))
        if self.meta is not None:
            x = meta_inputs(outputs.probabilities, outputs.features if self.meta_features
                            else None, names, self.classes)
            probs = full_proba(self.meta, x)
        else:
            probs = np.mean([outputs.probabilities[b] for b in names], axis=0)
        return apply_temperature(probs, self.temperature)

    def predict_proba(self, items: Sequence[object]) -> tuple[np.ndarray, list[str | None]]:
        """``(n, 5)`` probabilities (NaN rows where the image failed) and the error per row."""
        outputs = self.branch_outputs(items)
        probs = np.full((len(items), len(MEDIUMS)), np.nan)
        if outputs.ok.any():
            probs[outputs.ok] = self.combine(outputs)
        return probs, outputs.errors

    def predict(self, items: object) -> pd.DataFrame:
        """Classify images: one row of :data:`OUTPUT_COLUMNS` per item, in order.

        Parameters
        ----------
        items : path, bytes, PIL image, array, or a list of them
            A ``(n, H, W, 3)`` array is ``n`` images. A bad item gets its ``error`` set and
            no probabilities; the others are answered normally.
        """
        probs, errors = self.predict_proba(_as_items(items))
        return output_frame(probs, errors)


def _as_items(items: object) -> list[object]:
    if isinstance(items, str | os.PathLike | bytes | bytearray):
        return [items]
    if isinstance(items, np.ndarray):
        return list(items) if items.ndim == 4 else [items]
    if hasattr(items, "getpixel"):  # one PIL image
        return [items]
    return list(items)  # type: ignore[call-overload]


def output_frame(probs: np.ndarray, errors: Sequence[str | None]) -> pd.DataFrame:
    """Build the serving output DataFrame from probabilities and per-row errors."""
    failed = np.array([e is not None for e in errors], bool)
    best = np.where(failed, 0, np.nan_to_num(probs).argmax(axis=1)) if len(probs) else \
        np.zeros(0, int)
    frame = pd.DataFrame({
        "label": pd.Series([None if f else MEDIUMS[i] for f, i in zip(failed, best, strict=True)],
                           dtype=object),
        "confidence": np.where(failed, np.nan, np.nanmax(np.nan_to_num(probs, nan=-1), axis=1)
                               if len(probs) else np.zeros(0)),
    })
    for j, column in enumerate(PROBABILITY_COLUMNS):
        frame[column] = probs[:, j] if len(probs) else np.zeros(0)
    frame["error"] = pd.Series(list(errors), dtype=object)
    return frame
