"""From raw images to probabilities: branch outputs, the stacking meta-learner, the served model.

Three layers, each usable alone:

* :class:`ImageClassifier` decodes each image **once** and cuts every view from the same
  pixels — the composition view (letterboxed), the texture grid (of the bounded copy the
  texture branch was trained on), the EfficientNet view, and the visual features of
  :mod:`mediumnet.features` — then runs the branch models on batches and, when it has one, the
  meta-learner. A bad image never stops the others: its row gets an error message instead.
  The features also feed the *features branch* (:class:`FeatureModel`, a scikit-learn
  classifier fit on the training split), whose probabilities the meta-learner takes like
  any branch's; a classifier of that branch alone is the features-only ensemble.
* :func:`meta_inputs` is the meta-learner's input: branch log-probabilities, then features.
* :class:`MediumnetEnsemble`, the ``mlflow.pyfunc`` model registered as ``mediumnet-ensemble``:
  artifacts are the branch models, the meta-learner and the preprocessing settings; input is a
  DataFrame with a column ``image`` (base64 file bytes), ``path`` or ``url``; output the
  serving schema of :data:`OUTPUT_COLUMNS`.

Fitting lives in :mod:`mediumnet.stacking` (it needs the registry, cleanlab and plots; the
served model needs none of that): the stack computes its training inputs through the same
:class:`ImageClassifier`, so what the meta-learner learns from is exactly what serving feeds it.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    from mediumnet.guard import ServePolicy

try:  # the pyfunc base class; mediumnet's own import stays light without it
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - MLflow is a hard dependency
    PythonModel = object  # type: ignore[assignment,misc]

BRANCH_ORDER = ("composition", "texture", "effnet")
"""Image branches in the order their outputs enter the meta-learner (the features branch,
when there is one, comes after them)."""
FEATURES_BRANCH = "features"

INPUT_COLUMNS = ("image", "path", "url")
"""Serving input: one of these per row (base64 file bytes, a local path, an http(s) URL)."""

PROBABILITY_COLUMNS = tuple(f"p_{m}" for m in MEDIUMS)
OUTPUT_COLUMNS = ("label", "confidence", *PROBABILITY_COLUMNS, "error")
"""Serving output, one row per input row; ``error`` is null when the row succeeded."""

_BUCKETS = (1, 2, 4, 8, 16, 32)


@dataclass
class Decoded:
    """One image decoded once: its pixels and what only the file knows."""

    pixels: np.ndarray
    file_bytes: float = float("nan")
    jpeg_quality: float = float("nan")


def decode(item: object) -> Decoded:
    """Decode a path, file bytes, PIL image or array into upright RGB pixels, once.

    Raises
    ------
    mediumnet.data.views.ImageError
        If the item cannot be used (named in the message).
    """
    from mediumnet.data.views import ImageError, native_pixels, open_image, to_rgb
    from mediumnet.features import file_bytes, jpeg_quality

    if isinstance(item, np.ndarray):
        return Decoded(_array_pixels(item))
    if isinstance(item, str | os.PathLike) and not str(item):
        raise ImageError("empty path: give an image file")
    if isinstance(item, bytes | bytearray) and not item:
        raise ImageError("empty image: no bytes")
    im = open_image(item)
    quality = jpeg_quality(im)
    size = file_bytes(item)
    if not isinstance(item, str | os.PathLike | bytes | bytearray):  # a PIL image
        return Decoded(np.asarray(to_rgb(im)), size, quality)
    return Decoded(native_pixels(item), size, quality)


def _array_pixels(array: np.ndarray) -> np.ndarray:
    from mediumnet.data.views import ImageError

    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or 0 in array.shape[:2]:
        raise ImageError(f"array of shape {array.shape}: give (H, W), (H, W, 3) or (H, W, 4)")
    if array.dtype != np.uint8:  # floats in [0, 1] are scaled; anything else clipped
        if np.issubdtype(array.dtype, np.floating) and float(np.nanmax(array)) <= 1.0:
            array = array * 255.0
        array = np.clip(np.nan_to_num(array), 0, 255).round().astype(np.uint8)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    if array.shape[2] == 4:  # composite on white, as for image files
        alpha = array[..., 3:4].astype(np.float32) / 255.0
        array = (array[..., :3] * alpha + 255.0 * (1 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(array)


@dataclass
class Branch:
    """A branch model with the preprocessor it was trained with (rebuilt from its settings)."""

    name: str
    model: Any
    settings: dict[str, Any]
    """The preprocessor's configuration as the model saved it."""
    local_dir: str | None = None
    """The MLflow model folder it was loaded from (what the ensemble packs as an artifact)."""

    def __post_init__(self) -> None:
        from mediumnet.preprocessing import from_config

        self.preprocessor = from_config(self.settings)

    def inputs(self, image: Decoded) -> np.ndarray:
        """Return the model inputs of one image: ``(1, S, S, 3)`` or ``(tiles, T, T, 3)``."""
        return self.preprocessor(image.pixels)

    @property
    def classes(self) -> tuple[str, ...]:
        """The mediums the model tells apart, in the order of its outputs."""
        return self.preprocessor.classes

    @property
    def per_image(self) -> int:
        """Model inputs per image (tiles for the texture branch, else 1)."""
        return self.preprocessor.per_image


@dataclass
class FeatureModel:
    """The features branch: a scikit-learn classifier on the visual features of an image."""

    estimator: Any
    """Fit on class indices into :data:`~mediumnet.labels.MEDIUMS`."""
    names: tuple[str, ...]
    """The features it takes, in order."""
    classes: tuple[str, ...]
    """The mediums it was trained on."""
    name: str = FEATURES_BRANCH

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Return ``(n, 5)`` probabilities (0 for the mediums it does not know)."""
        return full_proba(self.estimator, features)


def shared_classes(classes_by_branch: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Return the mediums every branch knows; branches trained on different ones cannot mix.

    Raises
    ------
    MediumnetError
        If the branches were trained on different mediums (each branch's named).
    """
    known = set(classes_by_branch.values())
    if len(known) != 1:
        which = "; ".join(f"{b}: {', '.join(c)}" for b, c in classes_by_branch.items())
        raise MediumnetError(f"the branch models were trained on different mediums "
                             f"({which}): stack branches trained on the same data set")
    return known.pop()


@dataclass
class BranchOutputs:
    """What the branches and the feature study say about a list of images."""

    probabilities: dict[str, np.ndarray]
    """Branch → ``(n_ok, 5)`` probabilities of the images that decoded (0 for the mediums
    the branch does not know)."""
    features: np.ndarray | None
    """``(n_ok, n_features)`` visual features, or None."""
    ok: np.ndarray
    """``(n,)`` bool: the image decoded (its rows exist in the arrays above)."""
    errors: list[str | None] = field(default_factory=list)
    """One message per image that failed, None for the others."""


def meta_inputs(probabilities: Mapping[str, np.ndarray], features: np.ndarray | None,
                branches: Sequence[str], classes: Sequence[str] = MEDIUMS) -> np.ndarray:
    """Build the meta-learner's input matrix: branch log-probabilities, then features.

    Only the columns of ``classes`` (the mediums the branches know) enter.
    """
    from mediumnet.metrics import class_indices

    columns = class_indices(classes)
    parts = [np.log(np.clip(probabilities[b][:, columns], 1e-6, 1.0)) for b in branches]
    if features is not None:
        parts.append(features)
    return np.hstack(parts).astype(np.float64)


class ImageClassifier:
    """Branch models (+ an optional meta-learner) applied to raw images.

    Parameters
    ----------
    branches : sequence of Branch
        Image branches in :data:`BRANCH_ORDER`, all trained on the same mediums (may be
        empty when there is a ``feature_model``: the features-only ensemble).
    meta : scikit-learn estimator, optional
        Fit on :func:`meta_inputs`; without it the probabilities are the mean of the branches'
        (one branch: its own).
    feature_names : sequence of str
        Visual features measured for the features branch and the meta-learner (empty: none).
    workers : int, optional
        Threads that decode images (default: the CPU count).
    feature_model : FeatureModel, optional
        The features branch (it takes ``feature_names``).
    meta_features : bool, optional
        The meta-learner also takes the features themselves (default: when there is no
        features branch and there are features: how ensembles before it were made).
    """

    def __init__(self, branches: Sequence[Branch], meta: Any = None,
                 feature_names: Sequence[str] = (), workers: int | None = None, *,
                 feature_model: FeatureModel | None = None,
                 meta_features: bool | None = None) -> None:
        if not branches and feature_model is None:
            raise MediumnetError("an image classifier needs at least one branch model")
        if feature_model is not None and tuple(feature_model.names) != tuple(feature_names):
            raise MediumnetError("the features branch takes other features than the "
                                 "classifier measures: save them together")
        known = {b.name: b.classes for b in branches}
        if feature_model is not None:
            known[feature_model.name] = tuple(feature_model.classes)
        self.classes: tuple[str, ...] = shared_classes(known)
        """The mediums this classifier tells apart; the others always get probability 0."""
        self.branches = list(branches)
        self.meta = meta
        self.feature_names = tuple(feature_names)
        self.feature_model = feature_model
        self.meta_features = (feature_model is None and bool(feature_names)
                              if meta_features is None else meta_features)
        self.workers = workers or os.cpu_count() or 1
        self._lock = threading.Lock()

    @property
    def branch_names(self) -> list[str]:
        """Every branch whose probabilities enter the meta-learner, in order."""
        names = [b.name for b in self.branches]
        return names + ([self.feature_model.name] if self.feature_model is not None else [])

    def _run(self, branch: Branch, batch: np.ndarray) -> np.ndarray:
        """Predict a batch padded to a fixed bucket size (few traced shapes, no retracing)."""
        out = []
        step = _BUCKETS[-1]
        for start in range(0, len(batch), step):
            chunk = batch[start:start + step]
            size = next(b for b in _BUCKETS if b >= len(chunk))
            if size > len(chunk):
                pad = np.zeros((size - len(chunk), *chunk.shape[1:]), chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            with self._lock:  # one inference at a time per model set: thread-safe serving
                probs = np.asarray(branch.model.predict_on_batch(chunk), dtype=np.float64)
            out.append(probs[:len(batch[start:start + step])])
        return np.concatenate(out) if out else np.zeros((0, len(branch.classes)))

    def branch_outputs(self, items: Sequence[object], *,
                       with_features: bool | None = None) -> BranchOutputs:
        """Decode every item once and return each branch's probabilities (and features).

        Items are paths, file bytes, PIL images or arrays; ``Exception`` instances stand for
        rows already known to be bad and are reported as their message.
        """
        from mediumnet.data.views import ImageError, map_images
        from mediumnet.metrics import to_five
        from mediumnet.preprocessing import FeaturesPreprocessor

        measure = FeaturesPreprocessor(self.feature_names)
        want_features = bool(self.feature_names) if with_features is None else with_features
        want_features = want_features or self.feature_model is not None
        n = len(items)
        errors: list[str | None] = [None] * n
        inputs: dict[str, list[np.ndarray]] = {b.name: [] for b in self.branches}
        features: list[list[float]] = []
        ok = np.zeros(n, bool)

        def views_and_stats(item):
            image = decode(item)
            views = {b.name: b.inputs(image) for b in self.branches}
            stats = None
            if want_features:
                stats = measure(image.pixels, file_bytes=image.file_bytes,
                                jpeg_quality=image.jpeg_quality)
            return views, stats

        def prepare(item):
            if isinstance(item, Exception):
                raise ImageError(str(item))
            try:
                return views_and_stats(item)
            except (OSError, ValueError, MemoryError) as exc:  # what else a broken file throws
                raise ImageError(f"{type(exc).__name__}: {exc}") from None

        for i, (prepared, error) in enumerate(map_images(prepare, list(items), self.workers)):
            if error is not None:
                errors[i] = error
                continue
            views, stats = prepared
            ok[i] = True
            for name, view in views.items():
                inputs[name].append(view)
            if stats is not None:
                features.append(stats)
        probabilities = {}
        feats = np.asarray(features, np.float64).reshape(int(ok.sum()), -1) \
            if want_features else None
        if self.feature_model is not None:
            probabilities[self.feature_model.name] = (
                self.feature_model.predict_proba(feats) if ok.any() and feats is not None
                else np.zeros((0, len(MEDIUMS))))
        for branch in self.branches:
            if not ok.any():
                probabilities[branch.name] = np.zeros((0, len(MEDIUMS)))
                continue
            probs = branch.preprocessor.pool(self._run(branch,
                                                       np.concatenate(inputs[branch.name])))
            probabilities[branch.name] = to_five(probs, branch.classes)
        return BranchOutputs(probabilities, feats, ok, errors)

    def combine(self, outputs: BranchOutputs) -> np.ndarray:
        """Probabilities of the images that decoded: the meta-learner's, else the blend."""
        names = self.branch_names
        if len(outputs.ok) and not outputs.ok.any():
            return np.zeros((0, len(MEDIUMS)))
        if self.meta is not None:
            x = meta_inputs(outputs.probabilities, outputs.features if self.meta_features
                            else None, names, self.classes)
            return full_proba(self.meta, x)
        return np.mean([outputs.probabilities[b] for b in names], axis=0)

    def predict_proba(self, items: Sequence[object]) -> tuple[np.ndarray, list[str | None]]:
        """``(n, 5)`` probabilities (NaN rows where the image failed) and the error per row."""
        outputs = self.branch_outputs(items)
        probs = np.full((len(items), len(MEDIUMS)), np.nan)
        if outputs.ok.any():
            probs[outputs.ok] = self.combine(outputs)
        return probs, outputs.errors

    def predict(self, items: object) -> pd.DataFrame:
        """Classify images: one row of :data:`OUTPUT_COLUMNS` per item, in order.

        Parameters
        ----------
        items : path, bytes, PIL image, array, or a list of them
            A ``(n, H, W, 3)`` array is ``n`` images. A bad item gets its ``error`` set and
            no probabilities; the others are answered normally.
        """
        probs, errors = self.predict_proba(_as_items(items))
        return output_frame(probs, errors)


def _as_items(items: object) -> list[object]:
    if isinstance(items, str | os.PathLike | bytes | bytearray):
        return [items]
    if isinstance(items, np.ndarray):
        return list(items) if items.ndim == 4 else [items]
    if hasattr(items, "getpixel"):  # one PIL image
        return [items]
    return list(items)  # type: ignore[call-overload]


def full_proba(estimator: Any, x: np.ndarray) -> np.ndarray:
    """Return a fitted classifier's ``predict_proba`` with a column for each medium, in order."""
    from mediumnet.metrics import spread

    return spread(estimator.predict_proba(x), estimator.classes_)


def output_frame(probs: np.ndarray, errors: Sequence[str | None]) -> pd.DataFrame:
    """Build the serving output DataFrame from probabilities and per-row errors."""
    failed = np.array([e is not None for e in errors], bool)
    best = np.where(failed, 0, np.nan_to_num(probs).argmax(axis=1)) if len(probs) else \
        np.zeros(0, int)
    frame = pd.DataFrame({
        "label": pd.Series([None if f else MEDIUMS[i] for f, i in zip(failed, best, strict=True)],
                           dtype=object),
        "confidence": np.where(failed, np.nan, np.nanmax(np.nan_to_num(probs, nan=-1), axis=1)
                               if len(probs) else np.zeros(0)),
    })
    for j, column in enumerate(PROBABILITY_COLUMNS):
        frame[column] = probs[:, j] if len(probs) else np.zeros(0)
    frame["error"] = pd.Series(list(errors), dtype=object)
    return frame


def rows_to_items(frame: pd.DataFrame, policy: ServePolicy | None = None) -> list[object]:
    """Turn serving input rows into decodable items (bytes or paths) or per-row errors.

    Each row's first non-empty value among :data:`INPUT_COLUMNS` is used: ``image`` is base64
    (a ``data:…;base64,`` prefix is accepted), ``path`` a file, ``url`` an http(s) address.
    Under ``policy`` (:class:`mediumnet.guard.ServePolicy`; default: no limits, in-process
    use) paths are confined to the allowed folders and URLs checked before each connection;
    all URL rows are fetched in parallel within the policy's deadline, and rows past its
    pixel budget are answered with an error.

    Raises
    ------
    MediumnetError
        If the frame has none of the input columns.
    """
    from mediumnet.guard import RefusedError, ServePolicy

    policy = policy or ServePolicy.local()
    present = [c for c in INPUT_COLUMNS if c in frame.columns]
    if not present:
        raise MediumnetError(f"the input has columns {list(frame.columns)}: send one of "
                             f"{', '.join(INPUT_COLUMNS)} (base64 file bytes, a path, a URL)")
    items: list[object] = []
    urls: dict[int, str] = {}
    for values in frame[present].itertuples(index=False):
        column, value = next(((c, v) for c, v in zip(present, values, strict=True)
                              if isinstance(v, str | bytes) and len(v)), (None, None))
        if column is None:
            items.append(ValueError(f"empty row: no {' / '.join(present)} value"))
        elif column == "image":
            items.append(_from_base64(value))
        elif column == "path":
            try:
                items.append(policy.check_path(value))
            except RefusedError as exc:
                items.append(exc)
        else:
            urls[len(items)] = value
            items.append(None)
    for index, result in _fetch_all(urls, policy).items():
        items[index] = result
    return _within_pixel_budget(items, policy.max_pixels)


def _fetch_all(urls: dict[int, str], policy: ServePolicy) -> dict[int, bytes | Exception]:
    """Fetch every URL row at once; a row still fetching at the deadline gets an error."""
    import time
    from concurrent.futures import ThreadPoolExecutor, wait

    import requests

    from mediumnet.guard import fetch

    if not urls:
        return {}
    deadline = time.monotonic() + policy.deadline if policy.deadline else None
    session = requests.Session()
    pool = ThreadPoolExecutor(max_workers=min(16, len(urls)), thread_name_prefix="fetch")
    futures = {i: pool.submit(fetch, url, session, policy, deadline) for i, url in urls.items()}
    wait(futures.values(), timeout=None if deadline is None else policy.deadline + 1.0)
    pool.shutdown(wait=False, cancel_futures=True)
    results: dict[int, bytes | Exception] = {}
    for i, future in futures.items():
        if not future.done():
            results[i] = ValueError(f"{urls[i]}: not fetched within the request's deadline")
        else:
            try:
                results[i] = future.result()
            except ValueError as exc:
                results[i] = exc
    return results


def _within_pixel_budget(items: list[object], budget: int | None) -> list[object]:
    """Replace the rows past a request's decoded-pixel budget by errors (header sizes only)."""
    if budget is None:
        return items
    from mediumnet.data.views import ImageError, open_image

    used = 0
    out: list[object] = []
    for item in items:
        if isinstance(item, Exception) or item is None:
            out.append(item)
            continue
        try:
            width, height = open_image(item).size
        except (ImageError, OSError, ValueError):
            out.append(item)  # decoding reports what is wrong with it
            continue
        used += width * height
        out.append(item if used <= budget else ValueError(
            f"{width}x{height}: past this request's budget of {budget:,} decoded pixels; "
            "send fewer or smaller images per request"))
    return out


def _from_base64(value: str | bytes) -> bytes | Exception:
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        data = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return ValueError("image: not valid base64; send the file's bytes base64-encoded")
    return data if data else ValueError("image: empty after base64 decoding")


# --- the registered model -------------------------------------------------------------------

SETTINGS_FILE = "ensemble.json"


def _quiet_downloads() -> None:
    """No per-file progress bars when models are fetched from the store."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def _load_keras_branch(path: str):
    import mlflow

    import mediumnet.models.augment  # noqa: F401 - registers TrainingOnly for loading

    return mlflow.keras.load_model(path, load_model_kwargs={"compile": False})


class MediumnetEnsemble(PythonModel):
    """The served ensemble: raw images in, medium probabilities and a label out.

    Artifacts: one MLflow Keras model folder per image branch (``composition``, ``texture``,
    optionally ``effnet``; none in a features-only ensemble), ``features`` (the pickled
    features branch, when there is one), ``meta`` (the pickled meta-learner, absent in a
    features-only ensemble) and ``settings`` (the preprocessing settings and the feature
    names, a JSON file).
    """

    def load_context(self, context) -> None:
        """Load the branch models, the meta-learner and the settings."""
        import logging

        import joblib

        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        settings = json.loads(Path(context.artifacts["settings"]).read_text())
        branches = [Branch(name, _load_keras_branch(context.artifacts[name]),
                           settings["branches"][name]) for name in settings["branch_order"]]
        meta = joblib.load(context.artifacts["meta"]) if "meta" in context.artifacts else None
        feature_model = None
        if "features" in context.artifacts:
            feature_model = FeatureModel(joblib.load(context.artifacts["features"]),
                                         tuple(settings["feature_names"]),
                                         tuple(settings["classes"]))
        from mediumnet.guard import ServePolicy

        ServePolicy.from_env()  # a misconfigured server fails at start, not per request
        self.settings = settings
        self.classifier = ImageClassifier(branches, meta, settings["feature_names"],
                                          feature_model=feature_model,
                                          meta_features=settings.get("meta_features"))

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None
                ) -> pd.DataFrame:
        """Answer every row of ``model_input``; a bad row gets ``error`` and no probabilities."""
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        from mediumnet.guard import ENV_MAX_ROWS, ServePolicy

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
             "scikit-learn", "scikit-image", "joblib", "pillow", "opencv-python-headless",
             "requests",
             "matplotlib", "pyyaml", "tqdm", "click")
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


def save_ensemble(path: str | os.PathLike[str], branch_dirs: Mapping[str, str | os.PathLike[str]],
                  branch_settings: Mapping[str, dict[str, Any]], meta: Any,
                  feature_names: Sequence[str], *, extra: Mapping[str, Any] | None = None,
                  feature_model: FeatureModel | None = None, meta_features: bool | None = None
                  ) -> Path:
    """Save the ensemble as an MLflow pyfunc model folder at ``path``.

    Parameters
    ----------
    path : path-like
        A folder that does not exist yet.
    branch_dirs : mapping
        Branch → local folder of its MLflow Keras model.
    branch_settings : mapping
        Branch → preprocessing settings.
    meta : scikit-learn estimator or None
        The fitted meta-learner (None: the mean of the branches; the features branch alone
        in a features-only ensemble).
    feature_names : sequence of str
        The visual features measured, in order (empty: none).
    extra : mapping, optional
        Added to the settings file and the model metadata (branch versions, digests).
    feature_model : FeatureModel, optional
        The features branch (takes ``feature_names``).
    meta_features : bool, optional
        The meta-learner takes the features too (see :class:`ImageClassifier`).

    Returns
    -------
    pathlib.Path
    """
    import tempfile

    import joblib
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    _quiet_downloads()  # saving validates the input example by loading the model
    order = [b for b in BRANCH_ORDER if b in branch_dirs]
    known = {b: tuple(branch_settings[b].get("classes") or MEDIUMS) for b in order}
    if feature_model is not None:
        known[feature_model.name] = tuple(feature_model.classes)
    if not known:
        raise MediumnetError("an ensemble needs at least one branch")
    classes = shared_classes(known)
    settings = {"branch_order": order,
                "branches": {b: dict(branch_settings[b]) for b in order},
                "feature_names": list(feature_names), "classes": list(classes),
                "features_branch": feature_model is not None,
                "meta_features": (feature_model is None and bool(feature_names)
                                  if meta_features is None else meta_features),
                **dict(extra or {})}
    signature = ModelSignature(
        inputs=Schema([ColSpec("string", c, required=False) for c in INPUT_COLUMNS]),
        outputs=Schema([ColSpec("string", "label"), ColSpec("double", "confidence"),
                        *[ColSpec("double", c) for c in PROBABILITY_COLUMNS],
                        ColSpec("string", "error", required=False)]))
    with tempfile.TemporaryDirectory() as tmp:
        settings_path = Path(tmp) / SETTINGS_FILE
        settings_path.write_text(json.dumps(settings, indent=2, default=str))
        artifacts = {b: str(branch_dirs[b]) for b in order}
        artifacts["settings"] = str(settings_path)
        for name, estimator in (("meta", meta), ("features", getattr(feature_model,
                                                                     "estimator", None))):
            if estimator is not None:
                joblib.dump(estimator, Path(tmp) / f"{name}.joblib")
                artifacts[name] = str(Path(tmp) / f"{name}.joblib")
        mlflow.pyfunc.save_model(
            str(path), python_model=str(Path(__file__).with_name("ensemble_model.py")),
            artifacts=artifacts,
            code_paths=[str(Path(__file__).parent)],  # the mediumnet package
            pip_requirements=pip_requirements(), signature=signature,
            input_example=example_frame(),
            metadata={"mediumnet": {k: v for k, v in settings.items()}})
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


def load_branch(uri: str, name: str) -> Branch:
    """Load a branch model (MLflow Keras flavor, by any MLflow URI) with its settings.

    Parameters
    ----------
    uri : str
        ``models:/mediumnet-texture/3``, ``runs:/<id>/model``, a local folder …
    name : str
        The branch it is used as (``composition``, ``texture``, ``effnet``).

    Raises
    ------
    MediumnetError
        If the URI does not resolve, or the model carries no mediumnet preprocessing settings.
    """
    local, info = fetch_model(uri)
    settings = (info.metadata or {}).get("mediumnet")
    if not settings or "view" not in settings or "keras" not in info.flavors:
        raise MediumnetError(f"{uri} is not a mediumnet branch model (no Keras flavor with "
                             "preprocessing settings)")
    return Branch(name, _load_keras_branch(local), settings, local)


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

    local, info = fetch_model(uri)
    if "keras" in info.flavors:
        view = ((info.metadata or {}).get("mediumnet") or {}).get("view", "composition")
        return ImageClassifier([load_branch(local, view)])
    model = mlflow.pyfunc.load_model(local)
    python_model = model.unwrap_python_model()
    if not isinstance(python_model, MediumnetEnsemble):
        raise MediumnetError(f"{uri} is not a mediumnet model")
    return python_model.classifier
