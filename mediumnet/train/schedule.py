"""How fast a branch learns: the research's learning-rate decay (or cosine), warmed up.

Pure Keras: no MLflow.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mediumnet.config import Config


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


def compile_model(model, schedule, config: Config) -> None:
    """Compile ``model``: Adam on ``schedule``, cross-entropy, accuracy and macro-F1."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.train.label_smoothing),
        metrics=["accuracy", keras.metrics.F1Score(average="macro", name="macro_f1")])
