"""Fit a branch: strategy, precision, class weights, schedule, callbacks, MLflow, registry.

One function, :func:`train_branch`, trains the composition CNN, the texture CNN or the
EfficientNet (in three fine-tuning stages, each a nested MLflow run) on the cached views of
:mod:`mediumnet.data.pipeline`, logs every epoch, detects collapse, logs the model with its
preprocessing settings and registers it.

Collapse: on a few hundred works a CNN trained from scratch often predicts one medium for
everything and still reports a plausible accuracy. After training, the validation predictions
are checked; a model whose predictions concentrate on one class (more than
:data:`COLLAPSE_SHARE` of them) or whose accuracy is no better than always answering the
majority class is reported with a warning, tagged ``mediumnet.collapsed=true`` and registered
with ``mediumnet.promotable=false``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
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

if TYPE_CHECKING:
    import tensorflow as tf

    from mediumnet.config import Config

log = logging.getLogger("mediumnet")
BRANCHES = ("composition", "texture", "effnet")
COLLAPSE_SHARE = 0.9


def select_strategy(setting: str = "auto") -> tf.distribute.Strategy:
    """Return the distribution strategy: several GPUs → Mirrored, ``TF_CONFIG`` → MultiWorker.

    ``auto`` picks MultiWorkerMirroredStrategy when ``TF_CONFIG`` is set, MirroredStrategy when
    more than one GPU is visible, and the default strategy otherwise.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if setting == "multiworker" or (setting == "auto" and os.environ.get("TF_CONFIG")):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if setting == "mirrored" or (setting == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _strategy_name(strategy) -> str:
    """Return the strategy's public name (MultiWorkerMirroredStrategy's class has another)."""
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "MultiWorkerMirroredStrategy"
    return type(strategy).__name__


def worker_count(strategy) -> int:
    """Return the machines (tasks) a strategy trains on: 1 unless multi-worker."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return 1
    spec = resolver.cluster_spec().as_dict()
    return sum(len(spec.get(kind, ())) for kind in ("chief", "worker")) or 1


def is_chief(strategy) -> bool:
    """Return whether this process is the one that logs, registers and cleans up.

    The ``chief`` task when the cluster has one, else worker 0; always true on one machine.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = bool(resolver.cluster_spec().as_dict().get("chief"))
    return resolver.task_type == "worker" and int(resolver.task_id or 0) == 0 and not has_chief


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


def configure_precision(setting: str = "auto") -> str:
    """Set Keras' global dtype policy: ``mixed_float16`` on a GPU, ``float32`` otherwise.

    Returns the policy name. The models keep their softmax in float32 either way.
    """
    import keras
    import tensorflow as tf

    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    policy = "mixed_float16" if setting == "on" or (setting == "auto" and on_gpu) else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def learning_rate_schedule(config: Config, branch_lr: float, final_lr: float,
                           steps_per_epoch: int, epochs: int):
    """Return the research's decay from ``branch_lr`` to ``final_lr`` (or cosine), warmed up."""
    import keras

    warmup = min(config.train.warmup_epochs, max(0, epochs - 1)) * steps_per_epoch
    total = max(1, epochs * steps_per_epoch - warmup)
    if config.train.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            branch_lr / 10 if warmup else branch_lr, total, alpha=final_lr / branch_lr,
            warmup_target=branch_lr if warmup else None, warmup_steps=warmup)
    decay = keras.optimizers.schedules.PolynomialDecay(branch_lr, total, final_lr, power=1.0)
    if not warmup:
        return decay
    return _WarmupThen(branch_lr / 10, branch_lr, warmup, decay)


@functools.cache
def _warmup_class():
    import keras

    @keras.saving.register_keras_serializable(package="mediumnet")
    class WarmupThen(keras.optimizers.schedules.LearningRateSchedule):
        """Linear warm-up from ``start`` to ``peak`` over ``steps``, then ``after``."""

        def __init__(self, start, peak, steps, after):
            self.start, self.peak, self.steps, self.after = start, peak, steps, after

        def __call__(self, step):
            from keras import ops

            step = ops.cast(step, "float32")
            warm = self.start + (self.peak - self.start) * step / self.steps
            return ops.where(step < self.steps, warm, self.after(step - self.steps))

        def get_config(self):
            return {"start": self.start, "peak": self.peak, "steps": self.steps,
                    "after": keras.saving.serialize_keras_object(self.after)}

        @classmethod
        def from_config(cls, config):
            config = dict(config)
            config["after"] = keras.saving.deserialize_keras_object(config["after"])
            return cls(**config)

    return WarmupThen


def _WarmupThen(*args):  # noqa: N802 - built lazily: Keras is imported on demand
    return _warmup_class()(*args)


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


def _view_config(branch: str, config: Config) -> Config:
    """Return a config whose composition size is the branch's input (effnet: its own)."""
    if branch != "effnet":
        return config
    data = dataclasses.replace(config.data, composition_size=config.effnet.image_size)
    return dataclasses.replace(config, data=data,
                               composition=dataclasses.replace(
                                   config.composition, batch_size=config.effnet.batch_size))


def detect_collapse(y_true: np.ndarray, y_pred: np.ndarray,
                    classes: tuple[str, ...] = MEDIUMS) -> tuple[bool, str]:
    """Whether validation predictions collapsed onto one class, and why.

    Parameters
    ----------
    y_true, y_pred : numpy.ndarray
        Class indices into ``classes``.
    classes : tuple of str
        The mediums the model knows (default: all five).
    """
    if len(y_pred) == 0:
        return False, ""
    counts = np.bincount(y_pred, minlength=len(classes))
    top = counts.argmax()
    share = counts[top] / len(y_pred)
    accuracy = float((y_true == y_pred).mean())
    majority = float(np.bincount(y_true, minlength=len(classes)).max() / len(y_true))
    if share > COLLAPSE_SHARE:
        return True, (f"{share:.0%} of validation predictions are {classes[top]}: the model "
                      "answers one medium for almost everything")
    if accuracy <= majority + 0.02 and len(set(y_true)) > 1:
        return True, (f"validation accuracy {accuracy:.2f} is no better than always answering "
                      f"the majority class ({majority:.2f})")
    return False, ""


def _on_effnet(branch: str, config: Config) -> bool:
    """Return whether a branch's model is built on an EfficientNet backbone."""
    return branch == "effnet" or (branch == "texture" and config.texture.backbone == "effnet")


def _start_weights(branch: str, config: Config) -> dict[str, str]:
    """Return what an EfficientNet backbone starts from: the weights named, their sha256."""
    if not _on_effnet(branch, config):
        return {}
    from mediumnet.models.effnet import weights_sha256

    weights = str(config.effnet.weights or "none")
    return {"start_weights": weights, "start_weights_sha256": weights_sha256(weights)}


def _build_model(branch: str, config: Config, num_classes: int = len(MEDIUMS)):
    from mediumnet.models import get_builder
    from mediumnet.models.augment import build_augmentation

    t = config.train
    if branch == "effnet":
        e = config.effnet
        aug = build_augmentation(e.image_size, t.augmentation, seed=t.seed)
        return get_builder("effnet")(e.variant, e.image_size, weights=e.weights,
                                     dropout=e.dropout, augmentation=aug,
                                     num_classes=num_classes)
    section = config.composition if branch == "composition" else config.texture
    size = config.data.composition_size if branch == "composition" else config.data.texture_tile
    aug = build_augmentation(size, t.augmentation, seed=t.seed)
    if _on_effnet(branch, config):  # the texture branch on EfficientNet
        from mediumnet.models.effnet import set_stage

        e = config.effnet
        model = get_builder("effnet")(e.variant, size, weights=e.weights,
                                      dropout=config.texture.dropout, augmentation=aug,
                                      num_classes=num_classes)
        # One training stage: pretrained, the top half adapts; from scratch, everything.
        set_stage(model, 3 if e.weights in (None, "", "none") else 2)
        return model
    return get_builder(branch)(size, filters=section.filters, kernel_size=section.kernel_size,
                               dense_units=section.dense_units, dropout=section.dropout,
                               head=section.head, augmentation=aug, num_classes=num_classes)


def _compile(model, schedule, config: Config) -> None:
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.train.label_smoothing),
        metrics=["accuracy", keras.metrics.F1Score(average="macro", name="macro_f1")])


class _MlflowEpochs:
    """Keras callback factory: log every epoch's metrics, learning rate, time and speed."""

    @staticmethod
    def make(examples_per_epoch: int, offset: int = 0):
        import keras
        import mlflow

        class Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self._started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                seconds = time.perf_counter() - self._started
                values = {k: float(v) for k, v in (logs or {}).items()
                          if isinstance(v, int | float | np.floating)}
                optimizer = self.model.optimizer
                values["learning_rate"] = float(
                    keras.ops.convert_to_numpy(optimizer.learning_rate))
                values["epoch_seconds"] = seconds
                values["images_per_second"] = examples_per_epoch / max(seconds, 1e-9)
                mlflow.log_metrics(values, step=offset + epoch)

        return Callback()


def _learning_curves(history: dict[str, list[float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3))
    for ax, name in zip(axes, ("loss", "accuracy", "macro_f1"), strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + name)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=prefix + name or name)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


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
    unsplit = int((manifest["split"].fillna("") == "").sum())
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


def train_branch(dataset_dir: str | os.PathLike[str], branch: str, config: Config, *,
                 register: bool = True, progress: bool = True) -> TrainResult:
    """Train one branch on ``dataset_dir`` as a tracked MLflow run and register the model.

    A training killed at any point and started again with the same settings resumes from its
    last finished epoch (``BackupAndRestore``), in the same MLflow run.

    Parameters
    ----------
    dataset_dir : path-like
        A split dataset folder.
    branch : {"composition", "texture", "effnet"}
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
    if branch not in BRANCHES:
        raise MediumnetError(f"unknown branch {branch!r}: choose one of {', '.join(BRANCHES)}")
    started = time.perf_counter()
    from mediumnet.data.manifest import read_manifest

    training_mediums(read_manifest(dataset_dir), dataset_dir)  # bad data: fail before TF
    # The strategy comes before any other TensorFlow work: a multi-worker (collective) one
    # cannot be created once TensorFlow has started.
    strategy = select_strategy(config.train.strategy)
    policy = configure_precision(config.train.mixed_precision)
    chief = is_chief(strategy)
    with _worker_store(chief) as scratch:
        return _train(Path(dataset_dir), branch, config, strategy, policy, scratch, started,
                      register=register, progress=progress)


def _train(root: Path, branch: str, config: Config, strategy, policy: str,
           scratch: Path | None, started: float, *, register: bool, progress: bool
           ) -> TrainResult:
    """Train, evaluate, log and register (a non-chief worker: into its own scratch store)."""
    import mlflow

    from mediumnet.tracking import run_location, start_run

    t = _prepare(root, branch, config, scratch, worker_count(strategy))
    with start_run(f"train_{branch}", config=config if t.resume_id is None else None,
                   dataset_digest=t.digest, dataset_dir=t.root, resume_run_id=t.resume_id,
                   params=None if t.resume_id else {
                       "branch": branch, "precision": policy,
                       "strategy": _strategy_name(strategy), "train_works": t.n_train,
                       "mediums": ",".join(t.classes), "workers": t.workers,
                       **_start_weights(branch, config)}
                   ) as run:
        t.run_file.write_text(run.info.run_id)
        with strategy.scope():
            model = _build_model(branch, config, len(t.classes))
        mlflow.log_metric("parameters", model.count_params())
        history, resumed_from = _fit(t, model, strategy, progress)
        val_f1, collapsed, reason = _evaluate(t, model)
        model_uri, settings = _log_model(t, model, history, run.info.run_id)
        version = _register(t, model_uri, settings, collapsed) if register else None
        location = run_location(run)
    shutil.rmtree(t.work, ignore_errors=True)  # finished: nothing to resume
    return TrainResult(branch=branch, run_id=run.info.run_id, model_uri=model_uri,
                       version=version, history=history, val_macro_f1=val_f1,
                       collapsed=collapsed, collapse_reason=reason,
                       params=model.count_params(), seconds=time.perf_counter() - started,
                       resumed_from_epoch=resumed_from, run_location=location)


@dataclass
class _Training:
    """Everything one training needs, worked out before its run opens."""

    root: Path
    branch: str
    config: Config
    manifest: Any
    classes: tuple[str, ...]
    digest: str
    view_config: Config
    cache: Any
    train_ds: Any
    val_ds: Any
    weights: dict[int, float] | None
    n_train: int
    per_work: int
    steps: int
    stages: list[tuple[int, float]]
    work: Path
    resume_id: str | None
    workers: int = 1
    """Machines training together (``MultiWorkerMirroredStrategy``); 1 on one machine."""

    @property
    def run_file(self) -> Path:
        """Where the run id is kept, so that a restarted training resumes its run."""
        return self.work / "mlflow_run_id"


def _prepare(root: Path, branch: str, config: Config, scratch: Path | None = None,
             workers: int = 1) -> _Training:
    """Check the data, build the cached views and the datasets (sharded over the workers).

    ``scratch``: a non-chief worker's own folder for its backups (the chief's live in the
    data set, where a restarted training finds them).
    """
    from mediumnet.data.manifest import manifest_digest, read_manifest
    from mediumnet.data.pipeline import build_cache, class_weights, make_dataset

    manifest = read_manifest(root)
    classes = training_mediums(manifest, root)
    digest = manifest_digest(manifest)
    import keras

    # keras-cv's augmentation layers make TensorFlow warn that it falls back to a while_loop
    # for some random ops, a dozen lines per model build that say nothing to a user.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    view = "texture" if branch == "texture" else "composition"
    view_config = _view_config(branch, config)
    cache = build_cache(root, view, view_config)
    n_train = len(cache.rows(manifest, "train", classes))
    per_work = config.data.tiles_per_image_train if branch == "texture" else 1
    batch = (view_config.texture if branch == "texture" else view_config.composition).batch_size
    if branch == "effnet":
        stages = list(zip(config.effnet.stage_epochs, config.effnet.stage_learning_rates,
                          strict=True))
    else:
        section = getattr(config, branch)
        stages = [(section.epochs, section.learning_rate)]
    keras.utils.set_random_seed(config.train.seed)
    work = _work_dir(root, branch, config, digest)
    if scratch is not None:
        work = scratch / work.name
    work.mkdir(parents=True, exist_ok=True)
    run_file = work / "mlflow_run_id"
    return _Training(
        root=root, branch=branch, config=config, manifest=manifest, classes=classes,
        digest=digest, view_config=view_config, cache=cache,
        train_ds=make_dataset(root, view, "train", view_config, cache=cache, classes=classes),
        val_ds=make_dataset(root, view, "val", view_config, cache=cache, classes=classes),
        weights=class_weights(manifest, "train", classes) if config.train.class_weights
        else None,
        n_train=n_train, per_work=per_work, steps=max(1, -(-n_train * per_work // batch)),
        stages=stages, work=work, workers=workers,
        resume_id=run_file.read_text().strip() if run_file.exists() else None)


def _callbacks(t: _Training, stage_dir: Path, offset: int) -> list:
    """Per-epoch metrics, backups to resume from, early stopping and the best checkpoint."""
    import keras

    monitor = t.config.train.monitor
    mode = "max" if monitor.endswith("f1") else "min"
    return [
        # Metrics first: an epoch the backup counts as done is always logged.
        _MlflowEpochs.make(t.n_train * t.per_work, offset),
        keras.callbacks.BackupAndRestore(str(stage_dir / "backup")),
        keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=t.config.train.early_stopping_patience,
            restore_best_weights=True, start_from_epoch=t.config.train.early_stopping_start),
        keras.callbacks.ModelCheckpoint(str(stage_dir / "best.keras"), monitor=monitor,
                                        mode=mode, save_best_only=True),
    ]


def _fit(t: _Training, model, strategy, progress: bool) -> tuple[dict[str, list[float]], int]:
    """Train every stage (one for the CNNs, three for EfficientNet), resuming a killed one.

    Returns the history and the epoch training resumed after (0: a fresh start).
    """
    from mediumnet.tracking import start_run

    config, branch = t.config, t.branch
    history: dict[str, list[float]] = {}
    offset = resumed_from = 0
    for stage, (epochs, lr) in enumerate(t.stages, start=1):
        if epochs <= 0:
            continue
        stage_dir = t.work / f"stage{stage}"
        finished = stage_dir / "finished.weights.h5"
        if finished.exists():  # done before a kill in a later stage: not trained again
            model.load_weights(str(finished))
            resumed_from = offset = offset + epochs
            continue
        final_lr = (config.effnet.stage_learning_rates[stage - 1] / 5 if branch == "effnet"
                    else getattr(config, branch).final_learning_rate)
        if branch == "effnet":
            from mediumnet.models.effnet import set_stage

            set_stage(model, stage)
        with strategy.scope():
            _compile(model, learning_rate_schedule(config, lr, final_lr, t.steps, epochs),
                     config)
        metadata = stage_dir / "backup" / "training_metadata.json"
        if metadata.exists() and not resumed_from:  # an earlier attempt was killed
            resumed_from = offset + int(json.loads(metadata.read_text())["epoch"])
        nested = (start_run(f"train_{branch}_stage{stage}", nested=True,
                            params={"stage": stage, "epochs": epochs, "learning_rate": lr})
                  if branch == "effnet" else None)
        with nested or contextlib.nullcontext(), _multi_worker_fit(model, strategy, t.workers):
            fit = model.fit(**_fit_data(t), epochs=epochs, class_weight=t.weights,
                            callbacks=_callbacks(t, stage_dir, offset), shuffle=False,
                            verbose=1 if progress else 0)
        for key, values in fit.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        if len(t.stages) > 1:
            stage_dir.mkdir(parents=True, exist_ok=True)
            model.save_weights(str(finished))
        offset += epochs
    return history, resumed_from


@contextlib.contextmanager
def _multi_worker_fit(model, strategy, workers: int):
    """Let Keras 3's ``fit`` run under MultiWorkerMirroredStrategy (two upstream bugs).

    Keras 3.15 fails there in two places (keras-team/keras#20585, open):

    - a model that remembers its strategy is built by reducing the first distributed *input*
      batch across replicas ("Attempt to convert a value (PerReplica …)"). Forgetting the
      remembered strategy and fitting inside the strategy's scope gives Keras the same
      strategy through ``tf.distribute.get_strategy()`` without that reduction; the
      variables were created under the scope, so they stay mirrored across the workers.
    - each step's logs (scalars) are averaged across workers along axis 0, which a scalar
      does not have. While ``fit`` runs, that reduction is made with ``axis=None`` — the
      mean of the workers' values, what Keras means to report — and everything else goes
      to Keras' own function, restored when ``fit`` returns.

    The model keeps no strategy afterwards: evaluating and saving predict on each worker's
    own copy of the (identical) weights, not across workers.
    """
    if workers <= 1:
        yield
        return
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as keras_trainer

    original = keras_trainer.reduce_per_replica

    def reduce_scalars_too(values, strategy, reduction):
        if reduction in ("auto", "mean") and isinstance(
                strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return tf.nest.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None)
                if isinstance(v, tf.distribute.DistributedValues) else v, values)
        return original(values, strategy, reduction)

    model._distribute_strategy = None  # stays so: afterwards each worker predicts locally
    keras_trainer.reduce_per_replica = reduce_scalars_too
    try:
        with strategy.scope():
            yield
    finally:
        keras_trainer.reduce_per_replica = original


def _fit_data(t: _Training) -> dict[str, Any]:
    """Return what ``model.fit`` trains on; over several workers, sharded in equal steps.

    Each worker takes every n-th batch (tf.data ``DATA`` sharding). The collective steps
    need every worker to take the same number of them, so the datasets repeat and each epoch
    is the batches that divide evenly among the workers.
    """
    if t.workers <= 1:
        return {"x": t.train_ds, "validation_data": t.val_ds}
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA

    def sharded(ds):
        batches = int(ds.cardinality())
        return ds.repeat().with_options(options), max(1, batches // t.workers)

    train, steps = sharded(t.train_ds)
    val, val_steps = sharded(t.val_ds)
    return {"x": train, "steps_per_epoch": steps, "validation_data": val,
            "validation_steps": val_steps}


def _evaluate(t: _Training, model) -> tuple[float, bool, str]:
    """Score the validation split over the known mediums, detect collapse, log both."""
    import mlflow

    from mediumnet.metrics import macro_f1

    classes = t.classes
    y_true, y_pred = _validation_predictions(model, t.val_ds, t.branch, t.view_config)
    collapsed, reason = detect_collapse(y_true, y_pred, classes)
    # Model outputs are indices into ``classes``; scored over those mediums only.
    val_f1 = macro_f1(_to_mediums(y_true, classes), _to_mediums(y_pred, classes), classes)
    mlflow.log_metric("final_val_macro_f1", val_f1)
    if t.branch == "texture":
        # The research judged a work by its single centre crop; report that too.
        y_c, p_c = _center_crop_predictions(model, t.cache, t.manifest, t.view_config, classes)
        mlflow.log_metric("final_val_macro_f1_center_crop", macro_f1(
            _to_mediums(y_c, classes), _to_mediums(p_c, classes), classes))
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

    from mediumnet.preprocessing import branch_preprocessor

    with tempfile.TemporaryDirectory() as tmp:
        mlflow.log_artifact(str(_learning_curves(history, Path(tmp) / "learning_curves.png")))
    preprocessor = branch_preprocessor(t.branch, t.config, t.classes)
    settings = preprocessor.to_config()
    mlflow.log_dict(settings, "preprocessing.json")
    return _log_keras_model(model, preprocessor.example(), settings, run_id), settings


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
    return register_model(model_uri, t.branch, tags=tags).version


def _log_keras_model(model, example: np.ndarray, settings: dict[str, Any], run_id: str) -> str:
    """Log ``model`` (Keras flavor) with signature, input example and preprocessing metadata.

    Saved to a folder, then logged as the run's ``model`` artifact: ``mlflow.keras.log_model``
    with an input example fails in MLflow 3.17 (it writes the example before creating its
    folder; mlflow/mlflow#16183).

    Returns
    -------
    str
        ``runs:/<run_id>/model``.
    """
    import tempfile

    import mlflow
    from mlflow.models import infer_signature

    signature = infer_signature(example, np.asarray(model.predict(example, verbose=0)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model"
        path.mkdir()
        mlflow.keras.save_model(model, str(path), signature=signature, input_example=example,
                                metadata={"mediumnet": settings}, pip_requirements=[])
        mlflow.log_artifacts(str(path), "model")
    return f"runs:/{run_id}/model"


def _to_mediums(indices: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """Map indices into ``classes`` to indices into MEDIUMS."""
    return np.array([MEDIUMS.index(classes[i]) for i in indices], dtype=int)


def _center_crop_predictions(model, cache, manifest, config: Config,
                             classes: tuple[str, ...] = MEDIUMS
                             ) -> tuple[np.ndarray, np.ndarray]:
    """Predict validation classes (indices into ``classes``) from one centre tile per work."""
    from mediumnet.data.views import tiles_from_pixels

    read_image = cache.image_reader()
    rows = cache.rows(manifest, "val", classes)
    tiles = [tiles_from_pixels(read_image(i), config.data.texture_tile, 1, mode="center")[0][0]
             for i in rows]
    if not tiles:
        return np.array([], int), np.array([], int)
    predicted = np.asarray(model.predict(np.stack(tiles), verbose=0)).argmax(axis=1)
    truth = np.array([classes.index(cache.labels[i]) for i in rows])
    return truth, predicted


def _validation_predictions(model, val_ds, branch: str, config: Config
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Per-work true and predicted classes on the validation split (tiles pooled)."""
    from mediumnet.models.texture import pool_tiles

    probs, labels = [], []
    for x, y in val_ds:
        probs.append(np.asarray(model.predict_on_batch(x)))
        labels.append(np.asarray(y))
    if not probs:
        return np.array([], int), np.array([], int)
    p, y = np.concatenate(probs), np.concatenate(labels)
    if branch == "texture":
        k = config.data.tiles_per_image_eval
        p, y = pool_tiles(p, k), y[::k]
    return y.argmax(axis=1), p.argmax(axis=1)


