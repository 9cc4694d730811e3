"""A fitted branch scored on every work in turn: cross-validation grouped by artist.

One split's test figure measures the artists that split happens to hold (on
peopleart-mediums, its 53 test engravings are by 5 artists, 25 of them Hasui Kawase's).
:func:`cross_validate_branch` holds every work out once instead, no artist on both sides: a
figure that does not hang on which artists the test split holds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    from mediumnet.config import Config


@dataclass
class BranchCV:
    """A fitted branch cross-validated over every work, folds grouped by artist."""

    branch: str
    fold_macro_f1: list[float]
    """Macro-F1 of each held-out fold (over the mediums of the data set)."""
    pooled_macro_f1: float
    """Macro-F1 of all out-of-fold predictions together."""
    works: int
    classes: tuple[str, ...]


def cross_validate_branch(dataset_dir: str | os.PathLike[str], config: Config,
                          branch: str | None = None, folds: int = 5,
                          progress: bool = True) -> BranchCV:
    """Score a fitted branch alone on every work in turn, no artist on both sides.

    The works are cut into ``folds`` folds grouped by artist and stratified by medium, and
    each fold is predicted by the branch fit on the others exactly as ``mediumnet stack``
    fits it (learner chosen by grouped CV inside those works). The manifest's splits are
    ignored and left as they are.

    Parameters
    ----------
    dataset_dir : path-like
        A harvested data set (the branch's cached measurements are reused and completed).
    config : Config
        ``config.ensemble`` chooses the learner as for the branch in the stack.
    branch : str, optional
        A branch that can stand alone (default: the first of them in the registry, the
        features branch).
    folds : int
        Folds; every medium needs works by at least this many artist groups.
    progress : bool
        Show a progress bar while works are measured.

    Returns
    -------
    BranchCV

    Raises
    ------
    MediumnetError
        If the branch is not a fitted one, a medium has works by fewer than ``folds`` artist
        groups, or no work can be measured.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    from mediumnet.branches import FittedBranch, get_branch, standalone_names
    from mediumnet.data.manifest import read_manifest
    from mediumnet.data.splits import present_mediums
    from mediumnet.ensemble.meta import fit_meta_learner
    from mediumnet.metrics import macro_f1

    fitted = get_branch(branch or standalone_names()[0])
    if not isinstance(fitted, FittedBranch):
        raise MediumnetError(f"the {fitted.name} branch is trained with mediumnet train, not "
                             "fit here: cross-validate a fitted branch "
                             f"({', '.join(standalone_names())})")
    from mediumnet.data.manifest import labelled

    root = Path(dataset_dir)
    manifest = labelled(read_manifest(root))
    classes = present_mediums(manifest["label"])
    x, y, groups = fitted.arrays(root, manifest[manifest["label"].isin(classes)], "all",
                                 progress, config)
    thin = [m for m in classes if len(set(groups[y == MEDIUMS.index(m)])) < folds]
    if thin:
        raise MediumnetError(f"{', '.join(thin)}: works by fewer than {folds} artists, too "
                             f"few for {folds} folds grouped by artist; ask for fewer folds")
    predicted = np.empty_like(y)
    scores = []
    cv = StratifiedGroupKFold(folds, shuffle=True, random_state=config.train.seed)
    for rest, held in cv.split(x, y, groups):
        fit = fit_meta_learner(x[rest], y[rest], fitted.learner(config), groups=groups[rest],
                               seed=config.train.seed, classes=classes, split="training")
        predicted[held] = np.asarray(fit.estimator.predict(x[held]), dtype=int)
        scores.append(macro_f1(y[held], predicted[held], classes))
    return BranchCV(fitted.name, scores, macro_f1(y, predicted, classes), len(y), classes)
