"""Train a Keras branch: data, strategy, stages, callbacks, MLflow, registry.

One function, :func:`train_branch`, trains any Keras branch of the registry
(:mod:`mediumnet.branches`) on the cached views of :mod:`mediumnet.data.cache`, in the stages
the branch asks for (one for a CNN; three fine-tuning stages, each a nested MLflow run, for
EfficientNet), logs every epoch, detects collapse (:mod:`mediumnet.train.report`), logs the
model with its preprocessing settings and registers it as ``mediumnet-<branch>``. It knows no
branch by name: the branch builds the model, names its stages and its view.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS
from mediumnet.names import (
    EXPERIMENT,
    TAG_COLLAPSE_REASON,
    TAG_COLLAPSED,
    TAG_DATASET_DIGEST,
    TAG_GIT_COMMIT,
    TAG_MEDIUMS,
    TAG_PREPROCESSING,
    TAG_PRESET,
    TAG_PROMOTABLE,
)
from mediumnet.train.backup import backup_callback, keep_run_id, kept_run_id, resume_epoch

if TYPE_CHECKING:
    from mediumnet.branches.base import KerasBranch, Preprocessor, Stage
    from mediumnet.config import Config

log = logging.getLogger("mediumnet")


@contextlib.contextmanager
def _worker_store(chief: bool):
    """On a non-chief worker: MLflow and the backups go to a temp dir of its own, removed after.

    Every worker runs the same training (the collective steps need them all); only the
    chief's runs, metrics and registered model reach the real store.
    """
    if chief:
        yield None
        return
    import tempfile

    import mlflow

    scratch = Path(tempfile.mkdtemp(prefix="mediumnet-worker-"))
    saved_uri = os.environ.pop("MLFLOW_TRACKING_URI", None)
    saved_run = os.environ.pop("MLFLOW_RUN_ID", None)
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    store = f"sqlite:///{scratch / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    # Its artifacts too: an experiment made here would put them in ./mlruns, the chief's.
    mlflow.create_experiment(EXPERIMENT, artifact_location=(scratch / "mlruns").as_uri())
    try:
        yield scratch
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
        for key, value in (("MLFLOW_TRACKING_URI", saved_uri), ("MLFLOW_RUN_ID", saved_run)):
            if value is not None:
                os.environ[key] = value
        shutil.rmtree(scratch, ignore_errors=True)


@dataclass
class TrainResult:
    """What a training produced."""

    branch: str
    run_id: str
    model_uri: str
    version: str | None
    history: dict[str, list[float]]
    val_macro_f1: float
    collapsed: bool
    collapse_reason: str
    params: int
    seconds: float
    resumed_from_epoch: int = 0
    run_location: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def training_mediums(manifest, dataset_dir: object = "DATASET_DIR") -> tuple[str, ...]:
    """Return the mediums a model trained on ``manifest`` tells apart: its train split's.

    Checked before TensorFlow loads, so that a bad call fails fast.

    Raises
    ------
    MediumnetError
        If the manifest is not split, the train or val split is empty, or the train split
        holds fewer than two mediums (nothing to tell apart).
    """
    from mediumnet.data.splits import present_mediums, require_split

    train = require_split(manifest, "train", dataset_dir)
    val = require_split(manifest, "val", dataset_dir)
    classes = present_mediums(train["label"])
    if len(classes) < 2:
        raise MediumnetError(f"the train split of {dataset_dir} holds works of "
                             f"{classes[0]} only: a model needs two or more mediums to tell "
                             "apart; add works of another medium and run mediumnet split")
    unknown = sorted(set(val["label"]) - set(classes))
    if unknown:
        log.warning("the validation split has works of %s, which the train split lacks: "
                    "they are left out", ", ".join(unknown))
    from mediumnet.data.manifest import labelled

    unsplit = int((labelled(manifest)["split"].fillna("") == "").sum())
    if unsplit:
        log.warning("%d works have no split yet (added since the last split) and are left "
                    "out: run mediumnet split %s to assign them", unsplit, dataset_dir)
    return classes


def _work_dir(dataset_dir: Path, branch: str, config: Config, digest: str) -> Path:
    """Where a training keeps its backups, keyed by everything that defines it."""
    key = hashlib.sha256(json.dumps({"branch": branch, "config": config.to_dict(),
                                     "digest": digest}, sort_keys=True,
                                    default=str).encode()).hexdigest()[:12]
    return dataset_dir / "train" / f"{branch}-{key}"


def _work_dir(dataset_dir: Path, branch: str, config: Config, digest: str) -> Path:
    """Where a training keeps its backups, keyed by everything that defines it."""
    key = hashlib.sha256(json.dumps({"branch": branch, "config": config.to_dict(),
                                     "digest": digest}, sort_keys=True,
                                    default=str).encode()).hexdigest()[:12]
    return dataset_dir / "train" / f"{branch}-{key}"


def trainable_branch(name: str) -> KerasBranch:
    """Return the Keras branch called ``name``.

    Raises
    ------
    MediumnetError
        If there is no such branch, or it is fit by ``mediumnet stack`` rather than trained.
    """
    from mediumnet.branches import KerasBranch, get_branch, keras_branches

    branch = get_branch(name)
    if not isinstance(branch, KerasBranch):
        raise MediumnetError(f"the {name} branch is fit by mediumnet stack, not trained: "
                             f"train one of {', '.join(b.name for b in keras_branches())}")
    return branch


def train_branch(dataset_dir: str | os.PathLike[str], branch: str, config: Config, *,
                 register: bool = True, progress: bool = True) -> TrainResult:
    """Train one branch on ``dataset_dir`` as a tracked MLflow run and register the model.

    A training killed at any point and started again with the same settings resumes from its
    last finished epoch (``BackupAndRestore``), in the same MLflow run.

    Parameters
    ----------
    dataset_dir : path-like
        A split dataset folder.
    branch : str
        A Keras branch of the registry (``mediumnet train --help`` lists them).
    config : Config
        Resolved settings.
    register : bool
        Register the model as ``mediumnet-<branch>``.
    progress : bool
        Show Keras' progress bar.

    Returns
    -------
    TrainResult

    Raises
    ------
    MediumnetError
        Unknown branch, no split, unreadable data, or weights that cannot be had.
    """
    from mediumnet.train.distribute import configure_precision, is_chief, select_strategy

    spec = trainable_branch(branch)
    started = time.perf_counter()
    from mediumnet.data.manifest import read_manifest

    training_mediums(read_manifest(dataset_dir), dataset_dir)  # bad data: fail before TF
    # The strategy comes before any other TensorFlow work: a multi-worker (collective) one
    # cannot be created once TensorFlow has started.
    strategy = select_strategy(config.train.strategy)
    policy = configure_precision(config.train.mixed_precision)
    chief = is_chief(strategy)
    with _worker_store(chief) as scratch:
        return _train(Path(dataset_dir), spec, config, strategy, policy, scratch, started,
                      register=register, progress=progress)


def _train(root: Path, spec: KerasBranch, config: Config, strategy, policy: str,
           scratch: Path | None, started: float, *, register: bool, progress: bool
           ) -> TrainResult:
    """Train, evaluate, log and register (a non-chief worker: into its own scratch store)."""
    import mlflow

    from mediumnet.tracking import run_location, start_run
    from mediumnet.train.distribute import strategy_name, worker_count

    t = _prepare(root, spec, config, scratch, worker_count(strategy))
    with start_run(f"train_{spec.name}", config=config if t.resume_id is None else None,
                   dataset_digest=t.digest, dataset_dir=t.root, resume_run_id=t.resume_id,
                   params=None if t.resume_id else {
                       "branch": spec.name, "precision": policy,
                       "strategy": strategy_name(strategy), "train_works": t.n_train,
                       "mediums": ",".join(t.classes), "workers": t.workers,
                       **spec.start_weights(config)}
                   ) as run:
        keep_run_id(t.run_file, run.info.run_id)
        with strategy.scope():
            model = spec.build(config, len(t.classes))
        mlflow.log_metric("parameters", model.count_params())
        history, resumed_from = _fit(t, model, strategy, progress)
        val_f1, collapsed, reason = _evaluate(t, model)
        model_uri, settings = _log_model(t, model, history, run.info.run_id)
        version = _register(t, model_uri, settings, collapsed) if register else None
        location = run_location(run)
    shutil.rmtree(t.work, ignore_errors=True)  # finished: nothing to resume
    return TrainResult(branch=spec.name, run_id=run.info.run_id, model_uri=model_uri,
                       version=version, history=history, val_macro_f1=val_f1,
                       collapsed=collapsed, collapse_reason=reason,
                       params=model.count_params(), seconds=time.perf_counter() - started,
                       resumed_from_epoch=resumed_from, run_location=location)


@dataclass
class _Training:
    """Everything one training needs, worked out before its run opens."""

    root: Path
    spec: KerasBranch
    config: Config
    manifest: Any
    classes: tuple[str, ...]
    digest: str
    preprocessor: Preprocessor
    cache: Any
    train_ds: Any
    val_ds: Any
    weights: dict[int, float] | None
    n_train: int
    per_work: int
    steps: int
    stages: list[Stage]
    work: Path
    resume_id: str | None
    workers: int = 1
    """Machines training together (``MultiWorkerMirroredStrategy``); 1 on one machine."""

    @property
    def run_file(self) -> Path:
        """Where the run id is kept, so that a restarted training resumes its run."""
        return self.work / "mlflow_run_id"


def _prepare(root: Path, spec: KerasBranch, config: Config, scratch: Path | None = None,
             workers: int = 1) -> _Training:
    """Check the data, build the cached views and the datasets (sharded over the workers).

    ``scratch``: a non-chief worker's own folder for its backups (the chief's live in the
    data set, where a restarted training finds them).
    """
    from mediumnet.data.cache import build_cache
    from mediumnet.data.manifest import manifest_digest, read_manifest
    from mediumnet.data.pipeline import class_weights, make_dataset

    manifest = read_manifest(root)
    classes = training_mediums(manifest, root)
    digest = manifest_digest(manifest)
    import keras

    # keras-cv's augmentation layers make TensorFlow warn that it falls back to a while_loop
    # for some random ops, a dozen lines per model build that say nothing to a user.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    preprocessor = spec.preprocessor(config, classes)
    cache = build_cache(root, preprocessor)
    n_train = len(cache.rows(manifest, "train", classes))
    per_work, batch = spec.inputs_per_work(config), spec.batch_size(config)
    keras.utils.set_random_seed(config.train.seed)
    work = _work_dir(root, spec.name, config, digest)
    if scratch is not None:
        work = scratch / work.name
    work.mkdir(parents=True, exist_ok=True)
    run_file = work / "mlflow_run_id"

    def dataset(split: str):
        return make_dataset(root, preprocessor, split, config, batch_size=batch, cache=cache,
                            classes=classes)

    return _Training(
        root=root, spec=spec, config=config, manifest=manifest, classes=classes,
        digest=digest, preprocessor=preprocessor, cache=cache,
        train_ds=dataset("train"), val_ds=dataset("val"),
        weights=class_weights(manifest, "train", classes) if config.train.class_weights
        else None,
        n_train=n_train, per_work=per_work, steps=max(1, -(-n_train * per_work // batch)),
        stages=spec.stages(config), work=work, workers=workers,
        resume_id=kept_run_id(run_file))


def _callbacks(t: _Training, stage_dir: Path, offset: int) -> list:
    """Per-epoch metrics, backups to resume from, early stopping and the best checkpoint."""
    import keras

    from mediumnet.train.report import MlflowEpochs

    monitor = t.config.train.monitor
    mode = "max" if monitor.endswith("f1") else "min"
    return [
        # Metrics first: an epoch the backup counts as done is always logged.
        MlflowEpochs.make(t.n_train * t.per_work, offset),
        backup_callback(stage_dir / "backup"),
        keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=t.config.train.early_stopping_patience,
            restore_best_weights=True, start_from_epoch=t.config.train.early_stopping_start),
        keras.callbacks.ModelCheckpoint(str(stage_dir / "best.keras"), monitor=monitor,
                                        mode=mode, save_best_only=True),
    ]


def _fit(t: _Training, model, strategy, progress: bool) -> tuple[dict[str, list[float]], int]:
    """Train every stage the branch asks for, resuming a killed one.

    Returns the history and the epoch training resumed after (0: a fresh start).
    """
    from mediumnet.tracking import start_run
    from mediumnet.train.distribute import fit_data, multi_worker_fit
    from mediumnet.train.schedule import compile_model, learning_rate_schedule

    config, name = t.config, t.spec.name
    history: dict[str, list[float]] = {}
    offset = resumed_from = 0
    for number, stage in enumerate(t.stages, start=1):
        if stage.epochs <= 0:
            continue
        stage_dir = t.work / f"stage{number}"
        finished = stage_dir / "finished.weights.h5"
        if finished.exists():  # done before a kill in a later stage: not trained again
            model.load_weights(str(finished))
            resumed_from = offset = offset + stage.epochs
            continue
        t.spec.enter_stage(model, number)
        with strategy.scope():
            compile_model(model, learning_rate_schedule(
                config, stage.learning_rate, stage.final_learning_rate, t.steps, stage.epochs),
                config)
        killed_after = resume_epoch(stage_dir / "backup", f"{name} stage {number}")
        if killed_after and not resumed_from:  # an earlier attempt was killed
            resumed_from = offset + killed_after
        nested = (start_run(f"train_{name}_stage{number}", nested=True,
                            params={"stage": number, "epochs": stage.epochs,
                                    "learning_rate": stage.learning_rate})
                  if stage.nested else None)
        with nested or contextlib.nullcontext(), multi_worker_fit(model, strategy, t.workers):
            fit = model.fit(**fit_data(t.train_ds, t.val_ds, t.workers), epochs=stage.epochs,
                            class_weight=t.weights, callbacks=_callbacks(t, stage_dir, offset),
                            shuffle=False, verbose=1 if progress else 0)
        for key, values in fit.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        if len(t.stages) > 1:
            stage_dir.mkdir(parents=True, exist_ok=True)
            model.save_weights(str(finished))
        offset += stage.epochs
    return history, resumed_from


def _evaluate(t: _Training, model) -> tuple[float, bool, str]:
    """Score the validation split over the known mediums, detect collapse, log both."""
    import mlflow

    from mediumnet.metrics import macro_f1
    from mediumnet.train.report import detect_collapse

    classes = t.classes
    y_true, y_pred = _validation_predictions(model, t.val_ds, t.preprocessor)
    collapsed, reason = detect_collapse(y_true, y_pred, classes)
    # Model outputs are indices into ``classes``; scored over those mediums only.
    val_f1 = macro_f1(_to_mediums(y_true, classes), _to_mediums(y_pred, classes), classes)
    mlflow.log_metric("final_val_macro_f1", val_f1)
    extra = t.spec.validation_metrics(model, t.cache, t.manifest, t.preprocessor, classes)
    if extra:
        mlflow.log_metrics(extra)
    mlflow.set_tags({TAG_COLLAPSED: str(collapsed).lower(), TAG_DATASET_DIGEST: t.digest,
                     TAG_MEDIUMS: ",".join(classes)})
    if collapsed:
        log.warning("training collapsed: %s", reason)
        mlflow.set_tag(TAG_COLLAPSE_REASON, reason)
    return val_f1, collapsed, reason


def _log_model(t: _Training, model, history: dict[str, list[float]], run_id: str
               ) -> tuple[str, dict[str, Any]]:
    """Log the learning curves and the model with its preprocessor; return its URI."""
    import tempfile

    import mlflow

    from mediumnet.train.report import learning_curves, log_keras_model

    with tempfile.TemporaryDirectory() as tmp:
        mlflow.log_artifact(str(learning_curves(history, Path(tmp) / "learning_curves.png")))
    settings = t.preprocessor.to_config()
    mlflow.log_dict(settings, "preprocessing.json")
    return log_keras_model(model, t.preprocessor.example(), settings, run_id), settings


def _register(t: _Training, model_uri: str, settings: dict[str, Any], collapsed: bool) -> str:
    """Register the model as ``mediumnet-<branch>`` with its lineage tags."""
    from mediumnet.registry import register as register_model
    from mediumnet.tracking import git_commit

    tags = {TAG_DATASET_DIGEST: t.digest, TAG_COLLAPSED: str(collapsed).lower(),
            TAG_PROMOTABLE: str(not collapsed).lower(),
            TAG_PREPROCESSING: json.dumps(settings), TAG_MEDIUMS: ",".join(t.classes),
            TAG_PRESET: t.config.preset}
    commit = git_commit()
    if commit:
        tags[TAG_GIT_COMMIT] = commit
    return register_model(model_uri, t.spec.name, tags=tags).version


def _to_mediums(indices: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """Map indices into ``classes`` to indices into MEDIUMS."""
    return np.array([MEDIUMS.index(classes[i]) for i in indices], dtype=int)


def _validation_predictions(model, val_ds, preprocessor: Preprocessor
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Per-work true and predicted classes on the validation split (inputs pooled per work)."""
    probs, labels = [], []
    for x, y in val_ds:
        probs.append(np.asarray(model.predict_on_batch(x)))
        labels.append(np.asarray(y))
    if not probs:
        return np.array([], int), np.array([], int)
    p, y = np.concatenate(probs), np.concatenate(labels)
    k = preprocessor.per_image
    if k > 1:
        p, y = preprocessor.pool(p), y[::k]
    return y.argmax(axis=1), p.argmax(axis=1)
