"""Where and how precisely a branch trains: strategies, mixed precision, several workers.

``MirroredStrategy`` on several GPUs, ``MultiWorkerMirroredStrategy`` from ``TF_CONFIG`` across
machines, the default strategy otherwise; ``mixed_float16`` on a GPU. Pure TensorFlow: no
MLflow.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tensorflow as tf


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


def strategy_name(strategy) -> str:
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


@contextlib.contextmanager
def multi_worker_fit(model, strategy, workers: int):
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


def fit_data(train_ds: Any, val_ds: Any, workers: int) -> dict[str, Any]:
    """Return what ``model.fit`` trains on; over several workers, sharded in equal steps.

    Each worker takes every n-th batch (tf.data ``DATA`` sharding). The collective steps
    need every worker to take the same number of them, so the datasets repeat and each epoch
    is the batches that divide evenly among the workers.
    """
    if workers <= 1:
        return {"x": train_ds, "validation_data": val_ds}
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA

    def sharded(ds):
        batches = int(ds.cardinality())
        return ds.repeat().with_options(options), max(1, batches // workers)

    train, steps = sharded(train_ds)
    val, val_steps = sharded(val_ds)
    return {"x": train, "steps_per_epoch": steps, "validation_data": val,
            "validation_steps": val_steps}
