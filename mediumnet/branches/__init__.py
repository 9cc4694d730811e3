"""The branches, each one module, and the registry that maps their names to them.

A branch is a plug-in (:mod:`mediumnet.branches.base`): its settings section, its
preprocessor, how its model is built and fitted, and how it answers at serving time live in
its own module. Everything else — the command line and its help, the MLproject entry points,
the presets, the workflow plan, the stack, the served ensemble, the registered model names,
``bench/`` — reads this registry and never names a branch.

To add a branch ``X``: write ``mediumnet/branches/x.py`` (a :class:`~.base.KerasBranch` or a
:class:`~.base.FittedBranch`), add it to :data:`BRANCHES` below, and test it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mediumnet.branches.base import Branch, FittedBranch, KerasBranch
from mediumnet.branches.composition import CompositionBranch
from mediumnet.branches.effnet import EffnetBranch
from mediumnet.branches.embedding import EmbeddingBranch
from mediumnet.branches.features import FeaturesBranch
from mediumnet.branches.texture import TextureBranch
from mediumnet.errors import MediumnetError

BRANCHES: dict[str, Branch] = {b.name: b for b in (
    CompositionBranch(),
    TextureBranch(),
    EffnetBranch(),
    FeaturesBranch(),
    EmbeddingBranch(),
)}
"""Branch name → branch, in the order their outputs enter the meta-learner."""

__all__ = ["BRANCHES", "Branch", "FittedBranch", "KerasBranch", "branch_of", "fitted_branches",
           "get_branch", "keras_branches", "standalone_names"]


def get_branch(name: str) -> Branch:
    """Return the branch called ``name``.

    Raises
    ------
    MediumnetError
        If no branch has that name (the known ones are listed).
    """
    if name not in BRANCHES:
        raise MediumnetError(f"unknown branch {name!r}: choose one of {', '.join(BRANCHES)}")
    return BRANCHES[name]


def keras_branches() -> list[KerasBranch]:
    """Return the branches trained by ``mediumnet train``, in registry order."""
    return [b for b in BRANCHES.values() if isinstance(b, KerasBranch)]


def fitted_branches() -> list[FittedBranch]:
    """Return the branches fit with scikit-learn when an ensemble is stacked, in order."""
    return [b for b in BRANCHES.values() if isinstance(b, FittedBranch)]


def standalone_names() -> tuple[str, ...]:
    """Return the names of the branches that can be registered alone as the ensemble."""
    return tuple(b.name for b in BRANCHES.values() if b.standalone)


def branch_of(settings: Mapping[str, Any]) -> Branch:
    """Return the branch that saved ``settings`` (a model's preprocessing settings).

    Raises
    ------
    MediumnetError
        If no branch recognises them (the model was not made by mediumnet).
    """
    for branch in BRANCHES.values():
        if branch.loads(settings):
            return branch
    raise MediumnetError(f"unknown preprocessing view {settings.get('view')!r}: this model was "
                         f"not made by mediumnet (known branches: {', '.join(BRANCHES)})")
