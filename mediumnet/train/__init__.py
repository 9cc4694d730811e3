"""Training the Keras branches: ``mediumnet train BRANCH``, a tracked step.

:func:`train_branch` (in :mod:`mediumnet.train.step`) trains any Keras branch of the registry;
:mod:`~mediumnet.train.distribute` (strategies, precision, several workers),
:mod:`~mediumnet.train.schedule` (learning rates) and :mod:`~mediumnet.train.report`
(collapse, curves, the logged model) are its parts.
"""

from mediumnet.train.report import COLLAPSE_SHARE, detect_collapse
from mediumnet.train.step import TrainResult, train_branch, training_mediums

__all__ = ["COLLAPSE_SHARE", "TrainResult", "detect_collapse", "train_branch",
           "training_mediums"]
