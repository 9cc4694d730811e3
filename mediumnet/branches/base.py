"""What a branch is: its settings, its preprocessor, its model, how it is fitted and served.

A branch is a plug-in, in the manner of keras-hub's split of a model into backbone,
preprocessor and task. One module under :mod:`mediumnet.branches` holds all a branch knows:

- its **settings section** (a dataclass; ``--set <branch>.<field>=…``), with its presets,
  choices and checks as data;
- its **preprocessor**: the view of a decoded image that its model reads. A preprocessor
  travels with the model: ``to_config()`` is saved with it, and the branch rebuilds it from
  what was saved (:meth:`Branch.preprocessor_from_config`) — never from the current settings
  — so a model is served exactly as it was trained;
- how its model is **built and fitted**: a :class:`KerasBranch` is trained by the shared
  Keras loop (``mediumnet train BRANCH``, in stages), a :class:`FittedBranch` is a
  scikit-learn estimator fit on the training split when the ensemble is stacked;
- how it **answers at serving time** (:class:`ServedBranch`): from a
  :class:`~mediumnet.data.decode.Decoded` image to ``(n, 5)`` probabilities.

The registry (:data:`mediumnet.branches.BRANCHES`) maps names to branches; nothing outside
this package names a branch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS
from mediumnet.names import MODEL_PREFIX

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from mediumnet.config import Config
    from mediumnet.data.decode import Decoded


@dataclass
class Preprocessor:
    """What every branch preprocessor has: the mediums its model knows, and a config."""

    view: ClassVar[str] = ""
    classes: tuple[str, ...] = MEDIUMS
    """The mediums the model tells apart, in the order of its outputs."""

    per_image: ClassVar[int] = 1

    def __post_init__(self) -> None:
        self.classes = tuple(self.classes or MEDIUMS)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """Return the model inputs of one upright RGB uint8 image."""
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:
        """Return a JSON-ready dict that the branch turns back into this object."""
        raise NotImplementedError

    def cache_settings(self) -> dict[str, Any]:
        """Return the settings that change cached pixels (they key the view cache)."""
        raise NotImplementedError

    def example(self) -> np.ndarray:
        """Return one model input batch of plain grey (the logged input example)."""
        raise NotImplementedError

    def pool(self, probabilities: np.ndarray) -> np.ndarray:
        """Turn per-input probabilities into per-image ones (one input per image: as is)."""
        return probabilities


@dataclass(frozen=True)
class Stage:
    """One stage of a Keras branch's training (one for a CNN, three for fine-tuning)."""

    epochs: int
    learning_rate: float
    final_learning_rate: float
    nested: bool = False
    """Logged as a nested MLflow run of its own (the stages of a fine-tuning)."""


class ServedBranch:
    """A branch model ready to answer: decoded images in, ``(n, 5)`` probabilities out.

    ``inputs`` runs in the decoding threads, once per image; ``predict`` on the inputs of
    every image that decoded, together.
    """

    name: str
    classes: tuple[str, ...]
    settings: dict[str, Any]
    """What the branch saved to be rebuilt exactly (its preprocessor's configuration)."""

    def inputs(self, image: Decoded) -> Any:
        """Return what :meth:`predict` needs of one decoded image."""
        raise NotImplementedError

    def predict(self, inputs: Sequence[Any]) -> np.ndarray:
        """Return ``(n, 5)`` probabilities (0 for the mediums the model does not know)."""
        raise NotImplementedError


_BUCKETS = (1, 2, 4, 8, 16, 32)


class KerasServed(ServedBranch):
    """A Keras branch model with the preprocessor it was trained with."""

    def __init__(self, name: str, model: Any, settings: Mapping[str, Any],
                 preprocessor: Preprocessor, local_dir: str | None = None) -> None:
        self.name = name
        self.model = model
        self.settings = dict(settings)
        self.preprocessor = preprocessor
        self.local_dir = local_dir
        """The MLflow model folder it was loaded from (what an ensemble packs)."""
        self._lock = threading.Lock()

    @property
    def classes(self) -> tuple[str, ...]:  # type: ignore[override]
        """The mediums the model tells apart, in the order of its outputs."""
        return self.preprocessor.classes

    @property
    def per_image(self) -> int:
        """Model inputs per image (tiles for a tile branch, else 1)."""
        return self.preprocessor.per_image

    def inputs(self, image: Decoded) -> np.ndarray:
        """Return the model inputs of one image: ``(1, S, S, 3)`` or ``(tiles, T, T, 3)``."""
        return self.preprocessor(image.pixels)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Predict a batch padded to a fixed bucket size (few traced shapes, no retracing)."""
        out = []
        step = _BUCKETS[-1]
        for start in range(0, len(batch), step):
            chunk = batch[start:start + step]
            size = next(b for b in _BUCKETS if b >= len(chunk))
            if size > len(chunk):
                pad = np.zeros((size - len(chunk), *chunk.shape[1:]), chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            with self._lock:  # one inference at a time per model: thread-safe serving
                probs = np.asarray(self.model.predict_on_batch(chunk), dtype=np.float64)
            out.append(probs[:len(batch[start:start + step])])
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)))

    def predict(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Return ``(n, 5)`` probabilities, tiles pooled per image."""
        from mediumnet.metrics import to_five

        if not len(inputs):
            return np.zeros((0, len(MEDIUMS)))
        return to_five(self.preprocessor.pool(self.run(np.concatenate(list(inputs)))),
                       self.classes)


class EstimatorServed(ServedBranch):
    """A scikit-learn classifier over values measured on each decoded image."""

    def __init__(self, name: str, estimator: Any, settings: Mapping[str, Any],
                 measure: Any) -> None:
        self.name = name
        self.estimator = estimator
        self.settings = dict(settings)
        self.classes = tuple(settings.get("classes") or MEDIUMS)
        self.measure = measure
        """``measure(image) -> list of float``: the values the estimator takes."""

    def inputs(self, image: Decoded) -> list[float]:
        """Return the values the estimator takes, measured on one image."""
        return self.measure(image)

    def predict(self, inputs: Sequence[Sequence[float]]) -> np.ndarray:
        """Return ``(n, 5)`` probabilities."""
        from mediumnet.metrics import spread

        if not len(inputs):
            return np.zeros((0, len(MEDIUMS)))
        x = np.asarray(inputs, np.float64)
        return spread(self.estimator.predict_proba(x), self.estimator.classes_)


class Branch:
    """A branch: what every kind has (settings, presets, its registered name, checks)."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    """How help texts name it: ``Composition`` (model), ``the features branch (…)``."""
    summary: ClassVar[str] = ""
    """One line: what the branch sees and how (command-line help)."""
    settings: ClassVar[type | None] = None
    """Its settings section (``config.<name>``), or None."""
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    """Preset name → overrides of its section (presets are data)."""
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Field → the values it may take."""
    positive: ClassVar[tuple[str, ...]] = ()
    """Fields that must be above zero."""
    stacking: ClassVar[str] = "always"
    """When ``mediumnet stack`` uses it: ``always`` (a model must exist), ``when_trained``
    (when one was trained on the data set or named; ``none`` leaves it out) or ``switch``
    (a fitted branch, on or off: ``--<name>/--no-<name>``)."""
    standalone: ClassVar[bool] = False
    """Whether it can be registered alone as the ensemble, when it beats the stack on the
    validation works (a light scikit-learn branch: no image model to carry)."""
    artifact: ClassVar[str] = "joblib"
    """How an ensemble packs it: ``mlflow-keras`` (the branch's MLflow model folder),
    ``joblib`` (the fitted estimator) or ``folder`` (files the branch writes and reads)."""

    @property
    def model_name(self) -> str:
        """The registered model name of this branch's models."""
        return MODEL_PREFIX + self.name

    def section(self, config: Config) -> Any:
        """Return this branch's settings section of ``config``."""
        return getattr(config, self.name)

    def check(self, config: Config) -> None:
        """Raise :class:`~mediumnet.errors.ConfigError` if its settings do not fit together."""

    def loads(self, settings: Mapping[str, Any]) -> bool:
        """Return whether ``settings`` (as a model saved them) are this branch's."""
        return settings.get("branch") == self.name

    def preprocessor_from_config(self, settings: Mapping[str, Any]) -> Any:
        """Rebuild the preprocessor a model saved (its ``to_config()``)."""
        raise NotImplementedError

    def serve(self, loaded: Any, settings: Mapping[str, Any],
              local_dir: str | None = None) -> ServedBranch:
        """Return the served branch of a loaded artifact (a Keras model or an estimator)."""
        raise NotImplementedError

    def pack(self, served: ServedBranch, folder: Path) -> str:
        """Write what an ensemble carries of ``served`` under ``folder``; return its path."""
        raise NotImplementedError


class KerasBranch(Branch):
    """A branch whose model is a Keras network trained by the shared loop."""

    artifact: ClassVar[str] = "mlflow-keras"
    entry_params: ClassVar[tuple[tuple[str, Any, str, str], ...]] = (
        ("epochs", 0.0, "float", "{branch}.epochs"),)
    """The parameters of its MLproject entry point ``train_<name>`` besides ``dataset_dir``,
    ``preset`` and ``set``: (name, default, MLflow type, the setting it overrides); an empty
    or zero value keeps the preset's."""
    entry_doc: ClassVar[str] = ""
    """What its entry point's parameters mean (a comment in the MLproject file)."""
    random_start_note: ClassVar[str] = ""
    """What the multistep ``main`` says when the branch started from random weights."""

    def in_workflow(self, preset: str) -> bool:
        """Whether the multistep ``main`` trains it when told ``auto`` (``with_<name>``)."""
        return True

    def preprocessor(self, config: Config, classes: Sequence[str] = MEDIUMS) -> Preprocessor:
        """Return the preprocessor under ``config`` (what training saves with the model)."""
        raise NotImplementedError

    def build(self, config: Config, num_classes: int = len(MEDIUMS)) -> Any:
        """Build the Keras model (augmentation inside, first stage's trainable layers)."""
        raise NotImplementedError

    def cache(self, dataset_dir: str | os.PathLike[str], config: Config) -> Any:
        """Build (or reuse) the view cache this branch reads, for ``dataset_dir``."""
        from mediumnet.data.cache import build_cache

        return build_cache(dataset_dir, self.preprocessor(config))

    def dataset(self, dataset_dir: str | os.PathLike[str], split: str, config: Config, *,
                classes: Sequence[str] | None = None, **options: Any) -> Any:
        """Return this branch's batches of one split: ``(uint8 inputs, one-hot labels)``.

        Its view and batch size under ``config`` (:func:`mediumnet.data.pipeline.make_dataset`;
        ``options``: ``shuffle``, ``seed``, ``cache``).
        """
        from mediumnet.data.pipeline import make_dataset

        classes = tuple(classes or MEDIUMS)
        return make_dataset(dataset_dir, self.preprocessor(config, classes), split, config,
                            batch_size=self.batch_size(config), classes=classes, **options)

    def stages(self, config: Config) -> list[Stage]:
        """Return the training stages, in order."""
        section = self.section(config)
        return [Stage(section.epochs, section.learning_rate, section.final_learning_rate)]

    def enter_stage(self, model: Any, stage: int) -> None:
        """Freeze and unfreeze ``model`` for ``stage`` (1-based); recompiled afterwards."""

    def batch_size(self, config: Config) -> int:
        """Return the training batch size."""
        return int(self.section(config).batch_size)

    def inputs_per_work(self, config: Config) -> int:
        """Return the model inputs a training work gives per epoch (tiles: several)."""
        return 1

    def start_weights(self, config: Config) -> dict[str, str]:
        """Return what the model starts from, for the run's params (empty: random)."""
        return {}

    def validation_metrics(self, model: Any, cache: Any, manifest: pd.DataFrame,
                           preprocessor: Preprocessor, classes: tuple[str, ...]
                           ) -> dict[str, float]:
        """Return extra validation figures of a trained model (logged as metrics)."""
        return {}

    def serve(self, loaded: Any, settings: Mapping[str, Any],
              local_dir: str | None = None) -> KerasServed:
        """Return the served branch of a loaded Keras model and its saved settings."""
        return KerasServed(self.name, loaded, settings,
                           self.preprocessor_from_config(settings), local_dir)

    def pack(self, served: ServedBranch, folder: Path) -> str:
        """Return the MLflow model folder the branch was loaded from: what an ensemble carries."""
        local = getattr(served, "local_dir", None)
        if not local:
            raise MediumnetError(f"the {self.name} model was not loaded from an MLflow model "
                                 "folder: load it with mediumnet.ensemble.model.load_branch")
        return str(local)


class FittedBranch(Branch):
    """A branch fit with scikit-learn on the training split when the ensemble is stacked."""

    stacking: ClassVar[str] = "switch"
    standalone: ClassVar[bool] = True

    def enabled(self, config: Config) -> bool:
        """Return whether ``mediumnet stack`` fits it when not told (``--<name>``)."""
        return True

    def measure(self, root: Path, works: pd.DataFrame, what: str, progress: bool,
                config: Config) -> tuple[list[str], np.ndarray]:
        """Return the ids of the works it could measure, in id order, and its inputs for them.

        Works it cannot measure are left out (with a warning); ``what`` names them in
        messages (``training``). Measurements are cached per image where they cost.
        """
        raise NotImplementedError

    def arrays(self, root: Path, works: pd.DataFrame, what: str, progress: bool,
               config: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return its inputs, class indices (into MEDIUMS) and artist groups for ``works``."""
        from mediumnet.data.splits import artist_groups

        ids, x = self.measure(root, works, what, progress, config)
        keep = works.drop_duplicates("id").set_index("id").loc[ids].reset_index()
        y = np.array([MEDIUMS.index(v) for v in keep["label"]], dtype=int)
        return x, y, artist_groups(keep).to_numpy()

    def learner(self, config: Config) -> Any:
        """Return the settings its learner is chosen with (the meta-learner's kind).

        The folds are ``ensemble.branch_cv_folds``: the training split is larger than the
        validation split the meta-learner is fit on.
        """
        import dataclasses

        return dataclasses.replace(config.ensemble, cv_folds=config.ensemble.branch_cv_folds)

    def fit(self, root: Path, manifest: pd.DataFrame, config: Config,
            classes: tuple[str, ...], progress: bool = True) -> tuple[ServedBranch, Any]:
        """Fit on the training split; return the served branch and how it was chosen."""
        from mediumnet.data.splits import require_split
        from mediumnet.ensemble.meta import fit_meta_learner

        train = require_split(manifest, "train", root)
        x, y, groups = self.arrays(root, train[train["label"].isin(classes)], "training",
                                   progress, config)
        fit = fit_meta_learner(x, y, self.learner(config), groups=groups,
                               seed=config.train.seed, classes=classes, split="training")
        return self.served_from(fit.estimator, classes, config), fit

    def served_from(self, estimator: Any, classes: Sequence[str], config: Config
                    ) -> ServedBranch:
        """Return the served branch of an estimator fit under ``config``."""
        return self.from_estimator(estimator, classes)

    def run_params(self, served: ServedBranch) -> dict[str, str]:
        """Return what a stack run records of the fitted branch, besides its learner."""
        return {}

    def from_estimator(self, estimator: Any, classes: Sequence[str]) -> EstimatorServed:
        """Return the served branch of a fitted estimator."""
        raise NotImplementedError

    def legacy_settings(self, ensemble: Mapping[str, Any]) -> dict[str, Any] | None:
        """Return this branch's settings from an ensemble saved in the first format, or None.

        That format kept the one fitted branch it had at the top level of its settings.
        """
        return None

    def serve(self, loaded: Any, settings: Mapping[str, Any],
              local_dir: str | None = None) -> EstimatorServed:
        """Return the served branch of a loaded estimator and its saved settings."""
        return self.from_estimator(loaded, tuple(settings.get("classes") or MEDIUMS))

    def pack(self, served: ServedBranch, folder: Path) -> str:
        """Pickle the fitted estimator with joblib: what an ensemble carries."""
        import joblib

        path = folder / f"{self.name}.joblib"
        joblib.dump(served.estimator, path)  # type: ignore[attr-defined]
        return str(path)
