"""How a scikit-learn learner is chosen: cross-validation grouped by artist, on log-loss.

:func:`fit_meta_learner` fits the stacking meta-learner on the validation split, and every
fitted branch on the training split (the features branch's classifier): multinomial logistic
regression with balanced class weights, gradient boosting, or both (``auto``), the setting
with the best cross-validated log-loss kept, folds stratified by medium and grouped by artist
where every medium has works of enough artists. Pure scikit-learn: no MLflow, no plots.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    from mediumnet.settings import EnsembleConfig

log = logging.getLogger("mediumnet")


@dataclass
class MetaFit:
    """A fitted meta-learner and how it was chosen."""

    estimator: Any
    oof_probabilities: np.ndarray
    """Out-of-fold probabilities on the data it was fit on (``(n, 5)``)."""
    best_params: dict[str, Any]
    cv_macro_f1: float
    folds: int
    grouped: bool


def fit_meta_learner(x: np.ndarray, y: np.ndarray, config: EnsembleConfig, *,
                     groups: np.ndarray | None = None, seed: int = 0,
                     classes: tuple[str, ...] = MEDIUMS,
                     split: str = "validation") -> MetaFit:
    """Fit the meta-learner, its regularisation chosen by cross-validation on ``x``.

    The setting with the best cross-validated log-loss is kept; its cross-validated macro-F1
    (over ``classes``) is reported. Every fitted branch (the features branch) is fit the
    same way, on the
    training split.

    Logistic regression (multinomial, balanced class weights, inputs imputed and scaled)
    searches its inverse regularisation ``C``; gradient boosting (balanced class weights) its
    learning rate and tree size; ``auto`` searches both and keeps the better (by the same
    log-loss). Folds are stratified and, when every medium has works of enough distinct
    artists, grouped by artist (no artist in two folds).

    On very small validation splits it degrades rather than fails, with a warning: folds
    fall to the fewest works of a medium (at least 2); a medium with a single work leaves no
    room for a search, so the regularisation is fixed (the middle ``C`` of the grid, or the
    first boosting setting) and the out-of-fold probabilities come from unstratified folds.

    Parameters
    ----------
    x : numpy.ndarray
        ``(n, d)`` inputs (:func:`~mediumnet.ensemble.meta_inputs`).
    y : numpy.ndarray
        ``(n,)`` class indices into :data:`~mediumnet.labels.MEDIUMS`.
    config : EnsembleConfig
    groups : numpy.ndarray, optional
        The artist of each row.
    classes : tuple of str
        The mediums the branches know; each must have a work in ``y``.
    split : str
        The split ``x`` comes from (named in messages).

    Raises
    ------
    MediumnetError
        If a medium of ``classes`` has no work in ``y``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import (
        GridSearchCV,
        StratifiedGroupKFold,
        StratifiedKFold,
        cross_val_predict,
    )

    from mediumnet.metrics import class_indices, macro_f1, spread

    counts = np.bincount(y, minlength=len(MEDIUMS))[class_indices(classes)]
    missing = [m for m, c in zip(classes, counts, strict=True) if c == 0]
    if missing:
        raise MediumnetError(
            f"the {split} split has no works of {', '.join(missing)}: the stack is fit on "
            "it, so run mediumnet split --reshuffle (each medium needs works by 3 artists)")
    model, grid = _meta_candidate(config.meta_learner, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if counts.min() < 2 or len(y) < 4:
            return _fixed_fit(model, grid, x, y, counts, config, seed, classes, split)
        folds = int(max(2, min(config.cv_folds, counts.min())))
        if folds < config.cv_folds:
            log.warning("the %s split has only %d works of its rarest medium: the "
                        "meta-learner is cross-validated on %d folds instead of %d",
                        split, counts.min(), folds, config.cv_folds)
        present = [MEDIUMS.index(c) for c in classes]
        grouped = groups is not None and all(
            len(set(groups[y == c])) >= folds for c in present)
        cv = (StratifiedGroupKFold(folds, shuffle=True, random_state=seed) if grouped
              else StratifiedKFold(folds, shuffle=True, random_state=seed))
        fit_groups = groups if grouped else None
        # Chosen by log-loss, a proper scoring rule: it rewards the right medium *and* honest
        # probabilities (the served confidence, the label audit); macro-F1 alone, flat on
        # small validation splits, picked over-regularised, near-uniform probabilities.
        search = GridSearchCV(model, grid, scoring={"log_loss": "neg_log_loss",
                                                    "macro_f1": "f1_macro"},
                              refit="log_loss", cv=cv)
        search.fit(x, y, groups=fit_groups)
        oof = cross_val_predict(search.best_estimator_, x, y, groups=fit_groups, cv=cv,
                                method="predict_proba")
    oof = spread(oof, np.unique(y))
    return MetaFit(search.best_estimator_, oof, _plain_params(search.best_params_),
                   macro_f1(y, oof.argmax(axis=1), classes), folds, grouped)


def _fixed_fit(model, grid, x: np.ndarray, y: np.ndarray, counts: np.ndarray,
               config: EnsembleConfig, seed: int, classes: tuple[str, ...],
               split: str) -> MetaFit:
    """Fit with a fixed regularisation: a medium with a single work leaves no room to search."""
    from sklearn.model_selection import KFold, cross_val_predict

    from mediumnet.metrics import macro_f1, spread

    thin = ", ".join(f"{m} ({c})" for m, c in zip(classes, counts, strict=True) if c < 2)
    log.warning("the %s split has a single work of %s: the meta-learner's "
                "regularisation is fixed instead of chosen by cross-validation",
                split, thin or "some medium")
    first = grid[0] if isinstance(grid, list) else grid
    fixed = {k: v[len(v) // 2] if k.endswith("__C") else v[0] for k, v in first.items()}
    estimator = model.set_params(**fixed)
    folds = max(2, min(config.cv_folds, len(y)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        oof = cross_val_predict(estimator, x, y, method="predict_proba",
                                cv=KFold(folds, shuffle=True, random_state=seed))
        oof = spread(oof, np.unique(y))
        estimator.fit(x, y)
    return MetaFit(estimator, oof, _plain_params(fixed),
                   macro_f1(y, oof.argmax(axis=1), classes), folds, False)


def _plain_params(params: dict[str, Any]) -> dict[str, Any]:
    """Return search parameters as loggable values: ``model__C`` → ``C``, estimators by kind."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if hasattr(value, "fit"):
            value = "boosting" if "Boosting" in type(value).__name__ else "logistic"
        elif isinstance(value, float | np.floating):
            value = float(value)
        out[key.split("__")[-1]] = value
    return out


def _meta_candidate(meta_learner: str, seed: int) -> tuple[Any, dict[str, list] | list[dict]]:
    """Return the meta-learner to fit and the grid its cross-validation searches.

    Both kinds sit in one pipeline (impute, scale, model): every input is scaled, which
    logistic regression needs and boosting ignores.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from mediumnet.ensemble.boosting import BinnedBoosting

    if meta_learner not in ("logistic", "boosting", "auto"):
        raise MediumnetError(f"unknown meta-learner {meta_learner!r}: choose logistic, "
                             "boosting or auto")
    logistic = LogisticRegression(class_weight="balanced", max_iter=5000)
    boosting = BinnedBoosting(class_weight="balanced", max_iter=150, random_state=seed)
    logistic_grid = {"model__C": list(np.logspace(-3, 2, 11))}
    # Validation splits are small: leaves of a few works must be allowed.
    boosting_grid = {"model__learning_rate": [0.05, 0.1], "model__max_leaf_nodes": [7, 15],
                     "model__min_samples_leaf": [3, 10]}
    first = boosting if meta_learner == "boosting" else logistic
    model = Pipeline([("impute", SimpleImputer(strategy="median")),
                      ("scale", StandardScaler()), ("model", first)])
    if meta_learner == "logistic":
        return model, logistic_grid
    if meta_learner == "boosting":
        return model, boosting_grid
    return model, [{"model": [logistic], **logistic_grid},
                   {"model": [boosting], "model__learning_rate": [0.1],
                    "model__max_leaf_nodes": [7], "model__min_samples_leaf": [3, 10]}]
