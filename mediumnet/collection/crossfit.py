"""Out-of-fold probabilities for every labelled work, from the fitted branches, cross-fitted.

What a curator needs of a model on their own collection — which labels look wrong, which
unlabelled works are which, how well it will do — needs probabilities for works the model did
not learn from. Here every labelled work gets them: the works are cut into folds grouped by
artist (no artist on both sides) and stratified by medium, each fold is predicted by the
fitted branches (the embedding and the features branch, whatever the registry holds) fit on
the other folds with the learner ``mediumnet stack`` would choose for it (chosen once, by
grouped cross-validation over the collection), and the branches' probabilities are averaged.
Their inputs are measured once per image and cached (the feature table, the embeddings), so a
second audit costs only the fits.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    import pandas as pd

    from mediumnet.branches.base import FittedBranch
    from mediumnet.config import Config

log = logging.getLogger("mediumnet")


@dataclass
class CrossFit:
    """Every measurable labelled work, its label and its out-of-fold probabilities."""

    works: pd.DataFrame
    """Manifest rows, sorted by id, of the works every branch could measure."""
    y: np.ndarray
    """Class indices into :data:`~mediumnet.labels.MEDIUMS`."""
    probs: np.ndarray
    """``(n, 5)`` out-of-fold probabilities (0 for the mediums the data set lacks)."""
    fold: np.ndarray
    """The fold that held each work out."""
    classes: tuple[str, ...]
    branches: tuple[str, ...]
    """The fitted branches averaged."""


def chosen_branches(config: Config, names: Sequence[str] | None) -> list[FittedBranch]:
    """Return the fitted branches named, or those on under ``config``.

    Raises
    ------
    MediumnetError
        If a name is not a fitted branch, or none is on.
    """
    from mediumnet.branches import fitted_branches, get_branch

    if names:
        chosen = [get_branch(n) for n in names]
        wrong = [b.name for b in chosen if b not in fitted_branches()]
        if wrong:
            raise MediumnetError(f"{', '.join(wrong)}: not a fitted branch; choose from "
                                 f"{', '.join(b.name for b in fitted_branches())}")
        return chosen  # type: ignore[return-value]
    chosen = [b for b in fitted_branches() if b.enabled(config)]
    if not chosen:
        raise MediumnetError("no fitted branch is on: turn the features or embedding branch "
                             "on (--set ensemble.use_features=true)")
    return chosen


def measured_inputs(root: Path, works: pd.DataFrame, branches: Sequence[FittedBranch],
                    config: Config, progress: bool = True, what: str = "all"
                    ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Return the works every branch could measure (in id order) and each branch's inputs.

    Parameters
    ----------
    root : pathlib.Path
        The data set (its caches of measurements are reused and completed).
    works : pandas.DataFrame
        Manifest rows.
    branches : sequence of FittedBranch
    config : Config
    progress : bool
    what : str
        Names the works in progress and in warnings ("candidate", "labelled").

    Returns
    -------
    (pandas.DataFrame, dict)
        The rows kept, and ``{branch name: (n, d) inputs}`` in their order.
    """
    works = works.sort_values("id").reset_index(drop=True)
    inputs: dict[str, np.ndarray] = {}
    keep = set(works["id"])
    by_branch = {}
    for branch in branches:
        ids, x = branch.measure(root, works, what, progress, config)
        by_branch[branch.name] = dict(zip(ids, x, strict=True))
        keep &= set(ids)
    works = works[works["id"].isin(keep)].reset_index(drop=True)
    for name, rows in by_branch.items():
        inputs[name] = np.stack([rows[i] for i in works["id"]])
    return works, inputs


def cross_fit(root: Path, works: pd.DataFrame, config: Config, *, folds: int = 5,
              branches: Sequence[str] | None = None, progress: bool = True,
              seed: int | None = None) -> CrossFit:
    """Give every labelled work of ``works`` out-of-fold probabilities, folds grouped by artist.

    Parameters
    ----------
    root : pathlib.Path
        The data set (its caches of measurements are reused and completed).
    works : pandas.DataFrame
        Labelled manifest rows (any split: the splits are not used).
    config : Config
        Each branch's settings and learner (``ensemble``).
    folds : int
        Folds, at most: fewer when the works are by fewer artists, or when with more a fold's
        other works would lack a medium (a medium by few artists; either said in a warning).
    branches : sequence of str, optional
        The fitted branches to average (default: those on under ``config``).
    progress : bool
        Show progress bars while works are measured.
    seed : int, optional
        Seed of the folds (default ``train.seed``).

    Raises
    ------
    MediumnetError
        Fewer than two mediums, a medium with a single artist group, or nothing to measure.
    """
    from mediumnet.data.splits import artist_groups, present_mediums
    from mediumnet.ensemble.meta import fit_meta_learner

    chosen = chosen_branches(config, branches)
    works, inputs = measured_inputs(root, works, chosen, config, progress)
    classes = present_mediums(works["label"])
    if len(classes) < 2:
        raise MediumnetError(f"{root} holds labelled works of {', '.join(classes) or 'no'} "
                             "medium: an audit needs two or more")
    y = np.array([MEDIUMS.index(v) for v in works["label"]], dtype=int)
    groups = artist_groups(works).to_numpy()
    artists = {m: len(set(groups[y == MEDIUMS.index(m)])) for m in classes}
    fewest = min(artists.values())
    if fewest < 2:
        alone = ", ".join(m for m, n in artists.items() if n < 2)
        raise MediumnetError(f"{alone}: works by one artist only; out-of-fold probabilities "
                             "need two or more artists per medium (add works by another "
                             "artist)")
    # Folds grouped by artist can be no more than the artists, and folds stratified by medium
    # no more than the works of the most common medium (scikit-learn refuses either).
    all_artists, commonest = len(set(groups.tolist())), int(np.bincount(y).max())
    most = max(2, min(folds, all_artists, commonest))
    splits = _every_medium_learnt(y, groups, most, fewest,
                                  config.train.seed if seed is None else seed)
    if most < folds:
        log.warning("%d folds instead of %d: each fold needs an artist of its own (%d) and a "
                    "work of the most common medium (%d)", len(splits), folds, all_artists,
                    commonest)
    elif len(splits) < folds:
        log.warning("%d folds instead of %d: with more, a fold's other works would lack a "
                    "medium (the fewest artists of a medium: %d)", len(splits), folds, fewest)
    # Each branch's learner is chosen once, by its grouped cross-validation over all the
    # works; every fold then refits that learner on the other folds.
    learners = {b.name: fit_meta_learner(inputs[b.name], y, b.learner(config), groups=groups,
                                         seed=config.train.seed, classes=classes,
                                         split="collection").estimator for b in chosen}
    probs = np.zeros((len(y), len(MEDIUMS)))
    fold = np.zeros(len(y), dtype=int)
    for number, (rest, held) in enumerate(splits):
        fold[held] = number
        probs[held] = averaged_proba(learners, {k: x[rest] for k, x in inputs.items()},
                                     y[rest], {k: x[held] for k, x in inputs.items()})
    return CrossFit(works, y, probs, fold, classes, tuple(b.name for b in chosen))


def _every_medium_learnt(y: np.ndarray, groups: np.ndarray, folds: int, fewest: int,
                         seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return up to ``folds`` folds grouped by artist, as many as keep every medium learnt.

    Folds are stratified by medium; a number of folds is kept when, in each fold, every medium
    of the held-out works is among the other works (a medium by two artists needs only two
    folds apart, not two folds in all). Should no number do, as many folds as the medium with
    the fewest artists has artists.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    fallback = []
    for k in range(folds, 1, -1):
        cv = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # "the least populated class has only ..."
            splits = list(cv.split(y, y, groups))
        if all(set(y[held]) <= set(y[rest]) for rest, held in splits):
            return splits
        if k == max(2, min(folds, fewest)):
            fallback = splits
    return fallback


def averaged_proba(learners: Mapping[str, Any], train: Mapping[str, np.ndarray],
                   y: np.ndarray, test: Mapping[str, np.ndarray]) -> np.ndarray:
    """Fit a fresh copy of each branch's learner on its inputs; average their probabilities.

    Parameters
    ----------
    learners : mapping
        ``{branch name: scikit-learn estimator}`` (cloned, never fit in place).
    train, test : mapping
        ``{branch name: (n, d) inputs}`` of the works to learn from and to predict.
    y : numpy.ndarray
        Class indices (into :data:`~mediumnet.labels.MEDIUMS`) of the training works.

    Returns
    -------
    numpy.ndarray
        ``(n_test, 5)`` probabilities, 0 for the mediums ``y`` lacks.
    """
    from sklearn.base import clone

    from mediumnet.metrics import spread

    parts = []
    for name, learner in learners.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = clone(learner).fit(train[name], y)
        parts.append(spread(model.predict_proba(test[name]), model.classes_))
    return np.mean(parts, axis=0)

