"""The ensemble: the meta-learner, the stack and its comparison, the champion, the served model.

- :mod:`~mediumnet.ensemble.meta`: how a scikit-learn learner is chosen (grouped CV), for the
  meta-learner and for every fitted branch;
- :mod:`~mediumnet.ensemble.classifier`: raw images to probabilities, through every branch;
- :mod:`~mediumnet.ensemble.model`: the registered pyfunc model and its loaders;
- :mod:`~mediumnet.ensemble.stacking`: ``mediumnet stack``, a tracked step;
- :mod:`~mediumnet.ensemble.champion`, :mod:`~mediumnet.ensemble.audit`,
  :mod:`~mediumnet.ensemble.cv`: promotion, the label audit, grouped cross-validation.

The names below are imported when first used (``from mediumnet.ensemble import
MediumnetEnsemble`` is how ensembles saved before this package existed load their class).
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "MediumnetEnsemble": "mediumnet.ensemble.model",
    "load_classifier": "mediumnet.ensemble.model",
    "load_branch": "mediumnet.ensemble.model",
    "save_ensemble": "mediumnet.ensemble.model",
    "ImageClassifier": "mediumnet.ensemble.classifier",
    "OUTPUT_COLUMNS": "mediumnet.ensemble.classifier",
    "PROBABILITY_COLUMNS": "mediumnet.ensemble.classifier",
    "stack": "mediumnet.ensemble.stacking",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)
