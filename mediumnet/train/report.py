"""What a training reports: collapse, per-epoch metrics, learning curves, the logged model.

Collapse: on a few hundred works a CNN trained from scratch often predicts one medium for
everything and still reports a plausible accuracy. After training, the validation predictions
are checked; a model whose predictions concentrate on one class (more than
:data:`COLLAPSE_SHARE` of them) or whose accuracy is no better than always answering the
majority class is reported with a warning, tagged ``mediumnet.collapsed=true`` and registered
with ``mediumnet.promotable=false``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from mediumnet.labels import MEDIUMS

COLLAPSE_SHARE = 0.9


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


class MlflowEpochs:
    """Keras callback factory: log every epoch's metrics, learning rate, time and speed."""

    @staticmethod
    def make(examples_per_epoch: int, offset: int = 0):
        """Return the callback; epochs are logged as steps ``offset + epoch``."""
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


def learning_curves(history: dict[str, list[float]], path: Path) -> Path:
    """Plot loss, accuracy and macro-F1 per epoch (training and validation) to ``path``."""
    from mediumnet.figures import pyplot, save_figure

    plt = pyplot()

    fig, axes = plt.subplots(1, 3, figsize=(11, 3))
    for ax, name in zip(axes, ("loss", "accuracy", "macro_f1"), strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + name)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=prefix + name or name)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def log_keras_model(model, example: np.ndarray, settings: dict[str, Any], run_id: str) -> str:
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
