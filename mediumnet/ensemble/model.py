"""The registered ensemble: an MLflow pyfunc model that takes raw images, and its loaders.

:class:`MediumnetEnsemble` is the ``mlflow.pyfunc`` model registered as
``mediumnet-ensemble``. Its artifacts are one per branch (a Keras branch: its MLflow model
folder; a fitted branch: its estimator, pickled), ``meta`` (the meta-learner, absent when one
branch stands alone) and ``settings`` (``ensemble.json``: each branch's saved settings, in the
order their outputs enter the meta-learner). Its input is a DataFrame with a column ``image``
(base64 file bytes), ``path`` or ``url``; its output the serving schema of
:data:`~mediumnet.ensemble.classifier.OUTPUT_COLUMNS`.

Ensembles saved before branches were plug-ins (settings without ``format``) load unchanged:
their image branches are listed in ``branch_order`` and their fitted branch's settings sit at
the top level, which :func:`ensemble_settings` reads.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mediumnet.errors import MediumnetError

if TYPE_CHECKING:
    from mediumnet.branches.base import KerasServed, ServedBranch
    from mediumnet.ensemble.classifier import ImageClassifier

try:  # the pyfunc base class; mediumnet's own import stays light without it
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - MLflow is a hard dependency
    PythonModel = object  # type: ignore[assignment,misc]

SETTINGS_FILE = "ensemble.json"
SETTINGS_FORMAT = 2
"""2: every branch in ``branch_order`` with its settings under ``branches`` (1: image
branches only, the fitted branch's settings at the top level)."""
META = "meta"
SETTINGS = "settings"


def _quiet_downloads() -> None:
    """No per-file progress bars when models are fetched from the store."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def load_keras_model(path: str) -> Any:
    """Load the Keras model of an MLflow Keras model folder, uncompiled."""
    import mlflow

    import mediumnet.backbones.augment  # noqa: F401 - registers TrainingOnly for loading

    return mlflow.keras.load_model(path, load_model_kwargs={"compile": False})


def _load_artifact(kind: str, path: str) -> Any:
    """Load what an ensemble carries of one branch: a Keras model, an estimator, a folder.

    A ``folder`` artifact is handed to its branch as it is: the branch reads its own files.
    """
    if kind == "mlflow-keras":
        return load_keras_model(path)
    if kind == "joblib":
        import joblib

        return joblib.load(path)
    return path


def ensemble_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return an ensemble's settings in the current format (older formats converted).

    Format 1 listed only the image branches in ``branch_order``; the fitted branch, when
    there was one, came after them with its settings at the top level.
    """
    from mediumnet.branches import fitted_branches

    settings = dict(settings)
    if int(settings.get("format", 1)) >= SETTINGS_FORMAT:
        return settings
    order = list(settings["branch_order"])
    branches = {name: dict(settings["branches"][name]) for name in order}
    fitted = False
    for branch in fitted_branches():
        legacy = branch.legacy_settings(settings)
        if legacy is not None:
            order.append(branch.name)
            branches[branch.name] = legacy
            fitted = True
    names = list(settings.get("feature_names") or [])
    meta_features = settings.get("meta_features")
    if meta_features is None:  # before the features branch: the features went to the meta
        meta_features = not fitted and bool(names)
    return {**settings, "format": SETTINGS_FORMAT, "branch_order": order, "branches": branches,
            "meta_features": bool(meta_features),
            "feature_names": names if meta_features else []}


class MediumnetEnsemble(PythonModel):
    """The served ensemble: raw images in, medium probabilities and a label out."""

    def load_context(self, context) -> None:
        """Load the branch models, the meta-learner and the settings."""
        import logging

        import joblib

        from mediumnet.branches import get_branch
        from mediumnet.ensemble.classifier import ImageClassifier
        from mediumnet.serving.guard import ServePolicy

        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        settings = ensemble_settings(json.loads(Path(context.artifacts[SETTINGS]).read_text()))
        served = []
        for name in settings["branch_order"]:
            branch = get_branch(name)
            path = context.artifacts[name]
            served.append(branch.serve(_load_artifact(branch.artifact, path),
                                       settings["branches"][name], path))
        meta = joblib.load(context.artifacts[META]) if META in context.artifacts else None
        ServePolicy.from_env()  # a misconfigured server fails at start, not per request
        self.settings = settings
        self.classifier = ImageClassifier(served, meta, settings["feature_names"],
                                          meta_features=settings["meta_features"],
                                          temperature=float(settings.get("temperature", 1.0)))

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None
                ) -> pd.DataFrame:
        """Answer every row of ``model_input``; a bad row gets ``error`` and no probabilities."""
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        from mediumnet.serving.guard import ENV_MAX_ROWS, ServePolicy
        from mediumnet.serving.requests import rows_to_items

        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        try:
            policy = ServePolicy.from_env()
            if policy.max_rows is not None and len(model_input) > policy.max_rows:
                raise MediumnetError(
                    f"{len(model_input)} rows in one request; this server answers at most "
                    f"{policy.max_rows} ({ENV_MAX_ROWS}): split the request")
            items = rows_to_items(model_input, policy)
        except (MediumnetError, ValueError) as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None
        frame = self.classifier.predict(items)
        # Missing values as None, not NaN: the server's JSON then says null, which every JSON
        # parser accepts (NaN is not JSON).
        return frame.astype(object).where(frame.notna(), None)


def pip_requirements() -> list[str]:
    """Return the served model's requirements, pinned to this environment's versions.

    Given explicitly: MLflow's inference of them drops keras and pillow.
    """
    from importlib.metadata import PackageNotFoundError, version

    names = ("mlflow", "tensorflow", "keras", "keras-cv", "numpy", "pandas", "pyarrow",
             "scikit-learn", "scikit-image", "joblib", "pillow", "pi-heif", "imagecodecs",
             "simplejpeg", "opencv-python-headless", "requests", "matplotlib", "pyyaml", "tqdm",
             "click")
    out = []
    for name in names:
        try:
            out.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            out.append(name)
    return out


def example_frame() -> pd.DataFrame:
    """Return a one-row serving input: a small grey JPEG, base64-encoded."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 170, 150)).save(buffer, "JPEG")
    return pd.DataFrame({"image": [base64.b64encode(buffer.getvalue()).decode("ascii")]})


def _signature():
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    from mediumnet.ensemble.classifier import PROBABILITY_COLUMNS
    from mediumnet.serving.requests import INPUT_COLUMNS

    return ModelSignature(
        inputs=Schema([ColSpec("string", c, required=False) for c in INPUT_COLUMNS]),
        outputs=Schema([ColSpec("string", "label"), ColSpec("double", "confidence"),
                        *[ColSpec("double", c) for c in PROBABILITY_COLUMNS],
                        ColSpec("string", "error", required=False)]))


def save_ensemble(path: str | os.PathLike[str], branches: Sequence[ServedBranch], meta: Any,
                  *, feature_names: Sequence[str] = (), meta_features: bool = False,
                  temperature: float = 1.0, extra: Mapping[str, Any] | None = None) -> Path:
    """Save the ensemble as an MLflow pyfunc model folder at ``path``.

    Parameters
    ----------
    path : path-like
        A folder that does not exist yet.
    branches : sequence of ServedBranch
        The branches, in the order their outputs enter the meta-learner (a Keras branch
        loaded from its MLflow model folder; a fitted branch with its estimator).
    meta : scikit-learn estimator or None
        The fitted meta-learner (None: the mean of the branches; one branch standing alone).
    feature_names : sequence of str
        Visual features the meta-learner takes besides the branches (with ``meta_features``).
    meta_features : bool
        Whether the meta-learner takes ``feature_names``.
    temperature : float
        Rescales the final probabilities (fit on validation works; 1: as they are).
    extra : mapping, optional
        Added to the settings file and the model metadata (branch versions, digests).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    MediumnetError
        With no branch, or branches trained on different mediums.
    """
    import joblib
    import mlflow

    from mediumnet.branches import get_branch
    from mediumnet.ensemble.classifier import shared_classes

    _quiet_downloads()  # saving validates the input example by loading the model
    if not branches:
        raise MediumnetError("an ensemble needs at least one branch")
    classes = shared_classes({b.name: tuple(b.classes) for b in branches})
    settings = {"format": SETTINGS_FORMAT, "branch_order": [b.name for b in branches],
                "branches": {b.name: dict(b.settings) for b in branches},
                "feature_names": list(feature_names) if meta_features else [],
                "classes": list(classes), "meta_features": bool(meta_features),
                "temperature": float(temperature), **dict(extra or {})}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings_path = folder / SETTINGS_FILE
        settings_path.write_text(json.dumps(settings, indent=2, default=str))
        artifacts = {b.name: get_branch(b.name).pack(b, folder) for b in branches}
        artifacts[SETTINGS] = str(settings_path)
        if meta is not None:
            joblib.dump(meta, folder / f"{META}.joblib")
            artifacts[META] = str(folder / f"{META}.joblib")
        mlflow.pyfunc.save_model(
            str(path), python_model=str(Path(__file__).with_name("served.py")),
            artifacts=artifacts,
            code_paths=[str(Path(__file__).parents[1])],  # the mediumnet package
            pip_requirements=pip_requirements(), signature=_signature(),
            input_example=example_frame(), metadata={"mediumnet": settings})
    return Path(path)


def fetch_model(uri: str):
    """Download a model by any MLflow URI; return its local folder and its ``ModelInfo``.

    Raises
    ------
    MediumnetError
        If the URI does not resolve (one line, with the way to make a registered one).
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    _quiet_downloads()
    try:
        local = mlflow.artifacts.download_artifacts(uri)
        return local, mlflow.models.get_model_info(local)
    except (MlflowException, OSError) as exc:
        hint = (" (the ensemble is registered by `mediumnet stack DATASET_DIR`)"
                if uri.startswith("models:/") else "")
        raise MediumnetError(f"cannot load model {uri}: {str(exc).splitlines()[0]}{hint}"
                             ) from None


def load_branch(uri: str, name: str | None = None) -> KerasServed:
    """Load a branch model (MLflow Keras flavor, by any MLflow URI) with its settings.

    Parameters
    ----------
    uri : str
        ``models:/mediumnet-texture/3``, ``runs:/<id>/model``, a local folder …
    name : str, optional
        The branch it is to be used as; a model of another branch is refused.

    Raises
    ------
    MediumnetError
        If the URI does not resolve, carries no mediumnet preprocessing settings, or is a
        model of another branch than ``name``.
    """
    from mediumnet.branches import branch_of

    local, info = fetch_model(uri)
    settings = (info.metadata or {}).get("mediumnet")
    if not settings or "view" not in settings or "keras" not in info.flavors:
        raise MediumnetError(f"{uri} is not a mediumnet branch model (no Keras flavor with "
                             "preprocessing settings)")
    branch = branch_of(settings)
    if name is not None and branch.name != name:
        raise MediumnetError(f"{uri} is a {branch.name} model, not a {name} model: give a "
                             f"{name} model (mediumnet train {name} DATASET_DIR makes one)")
    return branch.serve(load_keras_model(local), settings, local)  # type: ignore[return-value]


def load_classifier(uri: str) -> ImageClassifier:
    """Load any mediumnet model URI as an :class:`ImageClassifier`.

    The ensemble (pyfunc) gives its own classifier; a branch model (Keras flavor) a
    classifier of that one branch.

    Raises
    ------
    MediumnetError
        If the URI does not resolve to a mediumnet model.
    """
    import mlflow

    from mediumnet.ensemble.classifier import ImageClassifier

    local, info = fetch_model(uri)
    if "keras" in info.flavors:
        return ImageClassifier([load_branch(local)])
    model = mlflow.pyfunc.load_model(local)
    python_model = model.unwrap_python_model()
    if not isinstance(python_model, MediumnetEnsemble):
        raise MediumnetError(f"{uri} is not a mediumnet model")
    return python_model.classifier
