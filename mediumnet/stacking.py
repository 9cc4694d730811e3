"""Fit the stacking ensemble, compare it with its parts, audit the labels, register, promote.

:func:`stack` is ``mediumnet stack``: the branch models' probabilities (texture: pooled over
the grid tiles) and the visual features are computed on the validation and test splits
through the same :class:`~mediumnet.ensemble.ImageClassifier` the served model uses; a
scikit-learn meta-learner is fit on the validation split, its regularisation chosen by
cross-validation inside that split; the test split then scores, in one table, each branch
alone, a features-only model, the blend (mean of branch probabilities) and the stack. The
out-of-fold validation probabilities and the held-out test probabilities feed a label-noise
audit (confident learning, with cleanlab). The ensemble is logged as a pyfunc model and
registered as ``mediumnet-ensemble`` with its lineage.

Model selection never looks at the test split: the alias ``champion`` moves to the new
version only if its *selection score* — the macro-F1 of its out-of-fold (cross-validated)
probabilities on the validation works — is at least the champion's on the same validation
works. The test split is for reporting only. Every score is a macro-F1 over the mediums the
branch models were trained on.

Out-of-fold meta-learner probabilities live in this module and not in
:mod:`mediumnet.ensemble`, which is the code the served model carries.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS
from mediumnet.names import (
    TAG_BRANCH_PREFIX,
    TAG_DATASET_DIGEST,
    TAG_ENSEMBLE_KIND,
    TAG_ENSEMBLE_VERSION,
    TAG_GIT_COMMIT,
    TAG_MEDIUMS,
    TAG_META_LEARNER,
    TAG_PRESET,
    TAG_PROMOTABLE,
    TAG_PROMOTED,
    TAG_PROMOTION_REASON,
    TAG_SELECTION_MACRO_F1,
    TAG_TEST_MACRO_F1,
    TAG_TEST_SPLIT,
    TAG_USE_FEATURES,
    TAG_VAL_SPLIT,
)

if TYPE_CHECKING:
    from mediumnet.config import Config, EnsembleConfig
    from mediumnet.ensemble import Branch, FeatureModel

log = logging.getLogger("mediumnet")
TABLE_MODELS = ("composition", "texture", "effnet", "features", "blend", "stack")
"""Rows of the comparison table, in order (``effnet`` only when that branch is used)."""
ENSEMBLE_TITLES = {"stack": "stacked ensemble", "features": "features-only ensemble"}
"""The two ensembles :func:`stack` may register, by kind."""
AUDIT_GALLERY = 12


@dataclass
class MetaFit:
    """A fitted meta-learner and how it was chosen."""

    estimator: Any
    oof_probabilities: np.ndarray
    """Out-of-fold probabilities on the data it was fit on (``(n, 5)``)."""
    best_params: dict[str, Any]
    cv_macro_f1: float
    folds: int
    grouped: bool


@dataclass
class StackResult:
    """What :func:`stack` produced."""

    run_id: str
    model_uri: str
    version: str | None
    table: pd.DataFrame
    promoted: bool
    promotion_reason: str
    kind: str
    """What was registered: ``stack``, or ``features`` when the features-only ensemble scored
    higher on the validation works."""
    label_issues: pd.DataFrame
    out_dir: Path
    branch_uris: dict[str, str]
    seconds: float
    run_location: str = ""
    failed: dict[str, str] = field(default_factory=dict)


def fit_meta_learner(x: np.ndarray, y: np.ndarray, config: EnsembleConfig, *,
                     groups: np.ndarray | None = None, seed: int = 0,
                     classes: tuple[str, ...] = MEDIUMS,
                     split: str = "validation") -> MetaFit:
    """Fit the meta-learner, its regularisation chosen by cross-validation on ``x``.

    The setting with the best cross-validated log-loss is kept; its cross-validated macro-F1
    (over ``classes``) is reported. The features branch is fit the same way, on the
    training split.

    Logistic regression (multinomial, balanced class weights, inputs imputed and scaled)
    searches its inverse regularisation ``C``; gradient boosting (balanced class weights) its
    learning rate and tree size; ``auto`` searches both and keeps the better (by the same
    log-loss). Folds are stratified and, when every medium has works of enough distinct
    artists, grouped by artist (no artist in two folds).

    On very small validation splits it degrades rather than fails, with a warning: folds
    fall to the fewest works of a medium (at least 2); a medium with a single work leaves no
    room for a search, so the regularisation is fixed (the middle ``C`` of the grid, or the
    first boosting setting) and the out-of-fold probabilities come from unstratified folds.

    Parameters
    ----------
    x : numpy.ndarray
        ``(n, d)`` inputs (:func:`~mediumnet.ensemble.meta_inputs`).
    y : numpy.ndarray
        ``(n,)`` class indices into :data:`~mediumnet.labels.MEDIUMS`.
    config : EnsembleConfig
    groups : numpy.ndarray, optional
        The artist of each row.
    classes : tuple of str
        The mediums the branches know; each must have a work in ``y``.
    split : str
        The split ``x`` comes from (named in messages).

    Raises
    ------
    MediumnetError
        If a medium of ``classes`` has no work in ``y``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import (
        GridSearchCV,
        StratifiedGroupKFold,
        StratifiedKFold,
        cross_val_predict,
    )

    from mediumnet.metrics import class_indices, macro_f1, spread

    counts = np.bincount(y, minlength=len(MEDIUMS))[class_indices(classes)]
    missing = [m for m, c in zip(classes, counts, strict=True) if c == 0]
    if missing:
        raise MediumnetError(
            f"the {split} split has no works of {', '.join(missing)}: the stack is fit on "
            "it, so run mediumnet split --reshuffle (each medium needs works by 3 artists)")
    model, grid = _meta_candidate(config.meta_learner, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if counts.min() < 2 or len(y) < 4:
            return _fixed_fit(model, grid, x, y, counts, config, seed, classes, split)
        folds = int(max(2, min(config.cv_folds, counts.min())))
        if folds < config.cv_folds:
            log.warning("the %s split has only %d works of its rarest medium: the "
                        "meta-learner is cross-validated on %d folds instead of %d",
                        split, counts.min(), folds, config.cv_folds)
        present = [MEDIUMS.index(c) for c in classes]
        grouped = groups is not None and all(
            len(set(groups[y == c])) >= folds for c in present)
        cv = (StratifiedGroupKFold(folds, shuffle=True, random_state=seed) if grouped
              else StratifiedKFold(folds, shuffle=True, random_state=seed))
        fit_groups = groups if grouped else None
        # Chosen by log-loss, a proper scoring rule: it rewards the right medium *and* honest
        # probabilities (the served confidence, the label audit); macro-F1 alone, flat on
        # small validation splits, picked over-regularised, near-uniform probabilities.
        search = GridSearchCV(model, grid, scoring={"log_loss": "neg_log_loss",
                                                    "macro_f1": "f1_macro"},
                              refit="log_loss", cv=cv)
        search.fit(x, y, groups=fit_groups)
        oof = cross_val_predict(search.best_estimator_, x, y, groups=fit_groups, cv=cv,
                                method="predict_proba")
    oof = spread(oof, np.unique(y))
    return MetaFit(search.best_estimator_, oof, _plain_params(search.best_params_),
                   macro_f1(y, oof.argmax(axis=1), classes), folds, grouped)


def _fixed_fit(model, grid, x: np.ndarray, y: np.ndarray, counts: np.ndarray,
               config: EnsembleConfig, seed: int, classes: tuple[str, ...],
               split: str) -> MetaFit:
    """Fit with a fixed regularisation: a medium with a single work leaves no room to search."""
    from sklearn.model_selection import KFold, cross_val_predict

    from mediumnet.metrics import macro_f1, spread

    thin = ", ".join(f"{m} ({c})" for m, c in zip(classes, counts, strict=True) if c < 2)
    log.warning("the %s split has a single work of %s: the meta-learner's "
                "regularisation is fixed instead of chosen by cross-validation",
                split, thin or "some medium")
    first = grid[0] if isinstance(grid, list) else grid
    fixed = {k: v[len(v) // 2] if k.endswith("__C") else v[0] for k, v in first.items()}
    estimator = model.set_params(**fixed)
    folds = max(2, min(config.cv_folds, len(y)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        oof = cross_val_predict(estimator, x, y, method="predict_proba",
                                cv=KFold(folds, shuffle=True, random_state=seed))
        oof = spread(oof, np.unique(y))
        estimator.fit(x, y)
    return MetaFit(estimator, oof, _plain_params(fixed),
                   macro_f1(y, oof.argmax(axis=1), classes), folds, False)


def _plain_params(params: dict[str, Any]) -> dict[str, Any]:
    """Return search parameters as loggable values: ``model__C`` → ``C``, estimators by kind."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if hasattr(value, "fit"):
            value = "boosting" if "Boosting" in type(value).__name__ else "logistic"
        elif isinstance(value, float | np.floating):
            value = float(value)
        out[key.split("__")[-1]] = value
    return out


def _meta_candidate(meta_learner: str, seed: int) -> tuple[Any, dict[str, list] | list[dict]]:
    """Return the meta-learner to fit and the grid its cross-validation searches.

    Both kinds sit in one pipeline (impute, scale, model): every input is scaled, which
    logistic regression needs and boosting ignores.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if meta_learner not in ("logistic", "boosting", "auto"):
        raise MediumnetError(f"unknown meta-learner {meta_learner!r}: choose logistic, "
                             "boosting or auto")
    logistic = LogisticRegression(class_weight="balanced", max_iter=5000)
    boosting = HistGradientBoostingClassifier(class_weight="balanced", max_iter=150,
                                              random_state=seed)
    logistic_grid = {"model__C": list(np.logspace(-3, 2, 11))}
    # Validation splits are small: leaves of a few works must be allowed.
    boosting_grid = {"model__learning_rate": [0.05, 0.1], "model__max_leaf_nodes": [7, 15],
                     "model__min_samples_leaf": [3, 10]}
    first = boosting if meta_learner == "boosting" else logistic
    model = Pipeline([("impute", SimpleImputer(strategy="median")),
                      ("scale", StandardScaler()), ("model", first)])
    if meta_learner == "logistic":
        return model, logistic_grid
    if meta_learner == "boosting":
        return model, boosting_grid
    return model, [{"model": [logistic], **logistic_grid},
                   {"model": [boosting], "model__learning_rate": [0.1],
                    "model__max_leaf_nodes": [7], "model__min_samples_leaf": [3, 10]}]


def fit_features_branch(root: Path, manifest: pd.DataFrame, config: Config,
                        classes: tuple[str, ...], progress: bool = True
                        ) -> tuple[FeatureModel, MetaFit]:
    """Fit the features branch on the training split's visual features.

    The features come from the data set's feature table (``features.parquet``: measured once,
    by the code that serving runs, and reused). The classifier is chosen like the
    meta-learner (:func:`fit_meta_learner`, ``config.ensemble.meta_learner``): cross-validated
    by artist groups inside the training split, never looking at validation or test works.

    Raises
    ------
    MediumnetError
        If the training split has no works, none could be measured, or a medium of
        ``classes`` has no training work.
    """
    from mediumnet.data.splits import require_split
    from mediumnet.ensemble import FeatureModel
    from mediumnet.features import NUMERIC_FOR_MODELS

    train = require_split(manifest, "train", root)
    x, y, groups = _feature_arrays(root, train[train["label"].isin(classes)], "training",
                                   progress)
    fit = fit_meta_learner(x, y, config.ensemble, groups=groups, seed=config.train.seed,
                           classes=classes, split="training")
    return FeatureModel(fit.estimator, tuple(NUMERIC_FOR_MODELS), tuple(classes)), fit


def _feature_arrays(root: Path, works: pd.DataFrame, what: str, progress: bool
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the features branch's inputs, class indices and artist groups for ``works``.

    The features come from the feature table; works it could not measure are left out
    (with a warning).
    """
    from mediumnet.data.splits import artist_groups
    from mediumnet.feature_table import feature_table
    from mediumnet.features import NUMERIC_FOR_MODELS

    works = works.reset_index(drop=True)
    table = feature_table(root, works, progress=progress, desc=f"{what} features")
    if table.failed:
        log.warning("%d %s images could not be measured and are left out of the "
                    "features branch", len(table.failed), what)
    if table.features.empty:
        raise MediumnetError(f"none of the {len(works)} {what} images of {root} could be "
                             "measured: the features branch has nothing to learn from")
    frame = table.features.merge(works.assign(group=artist_groups(works))[["id", "group"]],
                                 on="id")
    return (frame[list(NUMERIC_FOR_MODELS)].to_numpy(np.float64),
            np.array([MEDIUMS.index(v) for v in frame["label"]], dtype=int),
            frame["group"].to_numpy())


@dataclass
class FeaturesCV:
    """The features-only model cross-validated over every work, folds grouped by artist."""

    fold_macro_f1: list[float]
    """Macro-F1 of each held-out fold (over the mediums of the data set)."""
    pooled_macro_f1: float
    """Macro-F1 of all out-of-fold predictions together."""
    works: int
    classes: tuple[str, ...]


def cross_validate_features(dataset_dir: str | os.PathLike[str], config: Config,
                            folds: int = 5, progress: bool = True) -> FeaturesCV:
    """Score the features-only model on every work in turn, no artist on both sides.

    One split's test figure measures the artists that split happens to hold (on
    peopleart-mediums, 47 of the 53 test engravings are one artist's). Here every work is
    held out once: the works are cut into ``folds`` folds grouped by artist and stratified by
    medium, and each fold is predicted by a features branch fit on the others exactly as
    :func:`fit_features_branch` fits it (learner chosen by grouped CV inside those works).
    The splits of the manifest are ignored.

    Parameters
    ----------
    dataset_dir : path-like
        A harvested data set (its feature table is reused and completed).
    config : Config
        ``config.ensemble`` chooses the learner as for the features branch.
    folds : int
        Folds; every medium needs works by at least this many artist groups.
    progress : bool
        Show a progress bar while features are measured.

    Returns
    -------
    FeaturesCV

    Raises
    ------
    MediumnetError
        If a medium has works by fewer than ``folds`` artist groups, or none can be measured.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    from mediumnet.data.manifest import read_manifest
    from mediumnet.data.splits import present_mediums
    from mediumnet.metrics import macro_f1

    root = Path(dataset_dir)
    manifest = read_manifest(root)
    classes = present_mediums(manifest["label"])
    x, y, groups = _feature_arrays(root, manifest[manifest["label"].isin(classes)], "all",
                                   progress)
    thin = [m for m in classes if len(set(groups[y == MEDIUMS.index(m)])) < folds]
    if thin:
        raise MediumnetError(f"{', '.join(thin)}: works by fewer than {folds} artists, too "
                             f"few for {folds} folds grouped by artist; ask for fewer folds")
    predicted = np.empty_like(y)
    scores = []
    cv = StratifiedGroupKFold(folds, shuffle=True, random_state=config.train.seed)
    for rest, held in cv.split(x, y, groups):
        fit = fit_meta_learner(x[rest], y[rest], config.ensemble, groups=groups[rest],
                               seed=config.train.seed, classes=classes, split="training")
        predicted[held] = np.asarray(fit.estimator.predict(x[held]), dtype=int)
        scores.append(macro_f1(y[held], predicted[held], classes))
    return FeaturesCV(scores, macro_f1(y, predicted, classes), len(y), classes)


def find_label_issues(works: pd.DataFrame, y: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
    """Works whose given label the models most confidently disagree with (confident learning).

    Uses cleanlab's ``find_label_issues`` (per-class confidence thresholds, pruned by the
    estimated noise rates) on probabilities the models did not learn from (out-of-fold or
    held out), ranked by self-confidence: the lowest probability of the given label first.

    Parameters
    ----------
    works : pandas.DataFrame
        Manifest rows, one per probability row.
    y : numpy.ndarray
        Given labels as class indices.
    probs : numpy.ndarray
        ``(n, 5)`` out-of-sample probabilities.

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``id``, ``split``, ``artist``, ``title``, ``given``, ``suggested``,
        ``p_given``, ``p_suggested``, ``label_quality``, ``image_path``.
    """
    from cleanlab.filter import find_label_issues as cleanlab_issues
    from cleanlab.rank import get_label_quality_scores

    columns = ["rank", "id", "split", "artist", "title", "given", "suggested", "p_given",
               "p_suggested", "label_quality", "image_path"]
    if len(y) == 0:
        return pd.DataFrame(columns=columns)
    probs = np.clip(probs, 1e-9, 1.0)
    probs = probs / probs.sum(axis=1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranked = cleanlab_issues(labels=y, pred_probs=probs,
                                 return_indices_ranked_by="self_confidence")
        quality = get_label_quality_scores(y, probs, method="self_confidence")
    rows = []
    for rank, i in enumerate(ranked, start=1):
        work = works.iloc[int(i)]
        suggested = int(probs[i].argmax())
        rows.append({"rank": rank, "id": work["id"], "split": work.get("split", ""),
                     "artist": work.get("artist", ""), "title": work.get("title", ""),
                     "given": MEDIUMS[y[i]], "suggested": MEDIUMS[suggested],
                     "p_given": float(probs[i, y[i]]), "p_suggested": float(probs[i, suggested]),
                     "label_quality": float(quality[i]), "image_path": work["image_path"]})
    return pd.DataFrame(rows, columns=columns)


def _split_digest(works: pd.DataFrame) -> str:
    """Identify a test split by its works, their labels and image bytes."""
    keys = sorted(f"{r.id}|{r.label}|{r.sha256}" for r in works.itertuples())
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def default_branch_uri(kind: str, dataset_digest: str) -> tuple[str, str] | None:
    """Choose the branch model to stack when none is named: trained on this dataset, champion first.

    Among the versions of ``mediumnet-<kind>`` tagged with ``dataset_digest``: the one with
    the ``champion`` alias, else the newest promotable (not collapsed) one, else the newest.

    Returns
    -------
    (str, str) or None
        The ``models:/`` URI and the version; None when no version was trained on this data.
    """
    from mlflow import MlflowClient

    from mediumnet.registry import CHAMPION, model_name, model_uri

    client = MlflowClient()
    name = model_name(kind)
    versions = [v for v in client.search_model_versions(f"name = '{name}'")
                if v.tags.get(TAG_DATASET_DIGEST) == dataset_digest]
    if not versions:
        return None
    champion = [v for v in versions if CHAMPION in (getattr(v, "aliases", None) or [])]
    chosen = champion[0] if champion else max(
        versions, key=lambda v: (v.tags.get(TAG_PROMOTABLE) != "false", int(v.version)))
    return model_uri(kind, version=int(chosen.version)), str(chosen.version)


def _resolve_version(uri: str) -> str:
    """``models:/name/3`` → ``3``; ``models:/name@alias`` → the version it points at; else ''."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if not uri.startswith("models:/"):
        return ""
    ref = uri[len("models:/"):]
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            return str(MlflowClient().get_model_version_by_alias(name, alias).version)
        name, _, version = ref.partition("/")
        return version if version.isdigit() else ""
    except MlflowException:
        return ""


def markdown_table(table: pd.DataFrame) -> str:
    """Render the comparison table as Markdown (model, val selection score, test scores)."""
    lines = ["| model | val macro-F1 (selection) | test accuracy | test macro-F1 |",
             "|---|---|---|---|"]
    lines += [f"| {name} | {row.val_macro_f1:.3f} | {row.accuracy:.3f} | {row.macro_f1:.3f} |"
              for name, row in table.iterrows()]
    return "\n".join(lines) + "\n"


def promote_if_better(version: str, selection_f1: float, split_digest: str,
                      val_sources: list[str], y_val: np.ndarray,
                      classes: tuple[str, ...] = MEDIUMS) -> tuple[bool, str, float]:
    """Move ``champion`` to ``version`` if its selection score is at least the champion's.

    The selection score is a macro-F1 on the validation works, never on the test split. The
    comparison is made on the same validation works: the champion's recorded selection score
    when it was measured on the same works (same ids, labels and image bytes), else the
    champion is scored on ``val_sources`` now.

    Parameters
    ----------
    version : str
        The new ensemble version.
    selection_f1 : float
        Its out-of-fold macro-F1 on the validation works.
    split_digest : str
        Identifies those works (:func:`_split_digest`).
    val_sources, y_val : list of str, numpy.ndarray
        Their image paths and class indices, to score a champion measured elsewhere.
    classes : tuple of str
        The mediums scored.

    Returns
    -------
    (bool, str, float)
        Promoted or not, why, and the champion's score it was compared with (NaN when
        there was no champion).
    """
    from mediumnet.ensemble import load_classifier
    from mediumnet.metrics import scores
    from mediumnet.registry import CHAMPION, model_uri, set_alias, version_by_alias

    try:
        current = version_by_alias("ensemble", CHAMPION)
    except MediumnetError:
        set_alias("ensemble", CHAMPION, version)
        return True, "no champion yet", float("nan")
    if str(current.version) == str(version):
        return True, "already champion", selection_f1
    if (current.tags.get(TAG_VAL_SPLIT) == split_digest
            and TAG_SELECTION_MACRO_F1 in current.tags):
        champion_f1 = float(current.tags[TAG_SELECTION_MACRO_F1])
        how = "its recorded score on the same validation works"
    else:
        probs, errors = load_classifier(model_uri("ensemble", version=int(current.version))
                                        ).predict_proba(val_sources)
        ok = np.array([e is None for e in errors], bool)
        champion_f1 = scores(y_val[ok], probs[ok], classes)["macro_f1"] if ok.any() else 0.0
        how = "re-evaluated on these validation works"
    promoted = selection_f1 >= champion_f1
    if promoted:
        set_alias("ensemble", CHAMPION, version)
    reason = (f"selection macro-F1 {selection_f1:.4f} {'>=' if promoted else '<'} champion v"
              f"{current.version}'s {champion_f1:.4f} ({how})")
    return promoted, reason, champion_f1


def _branch_outputs(classifier, root: Path, works: pd.DataFrame, progress: bool):
    """Branch outputs for ``works`` in chunks (a progress bar per chunk of 64)."""
    from tqdm import tqdm

    from mediumnet.ensemble import BranchOutputs

    paths = [str(root / p) for p in works["image_path"]]
    parts = []
    with tqdm(total=len(paths), desc="branch outputs", unit="img", leave=False,
              disable=None if progress else True) as bar:
        for start in range(0, len(paths), 64):
            parts.append(classifier.branch_outputs(paths[start:start + 64]))
            bar.update(len(paths[start:start + 64]))
    names = classifier.branch_names
    return BranchOutputs(
        {b: np.concatenate([p.probabilities[b] for p in parts]) for b in names},
        np.concatenate([p.features for p in parts]) if classifier.feature_names else None,
        np.concatenate([p.ok for p in parts]), sum((p.errors for p in parts), []))


def _branch_uris(given: dict[str, str | None], digest: str, root: Path
                 ) -> tuple[dict[str, str], dict[str, str]]:
    """Resolve the branch models to stack: the ones named, else those trained on this data."""
    uris: dict[str, str] = {}
    versions: dict[str, str] = {}
    for kind, uri in given.items():
        if uri and uri.strip().lower() == "none":
            if kind != "effnet":
                raise MediumnetError(f"--{kind} none: the {kind} branch is always stacked; "
                                     "give a model URI or leave it out")
            continue
        if uri:
            uris[kind], versions[kind] = uri, _resolve_version(uri)
            continue
        found = default_branch_uri(kind, digest)
        if found:
            uris[kind], versions[kind] = found
        elif kind != "effnet":
            raise MediumnetError(
                f"no mediumnet-{kind} model was trained on this dataset: run mediumnet train "
                f"{kind} {root}, or name one with --{kind} URI")
    return uris, versions


@dataclass
class _SplitOutputs:
    """The works of one split that decoded, their labels and what the models said."""

    works: pd.DataFrame
    y: np.ndarray
    outputs: Any


def _outputs_by_split(classifier, root: Path, manifest: pd.DataFrame, progress: bool
                      ) -> tuple[dict[str, _SplitOutputs], dict[str, str]]:
    """Branch outputs and features of the val and test works, unreadable images left out.

    Raises
    ------
    MediumnetError
        If a split has works of a medium the branch models were not trained on.
    """
    from mediumnet.data.splits import require_split

    parts, failed = {}, {}
    for split in ("val", "test"):
        frame = require_split(manifest, split, root).reset_index(drop=True)
        unknown = sorted(set(frame["label"]) - set(classifier.classes))
        if unknown:
            raise MediumnetError(
                f"the {split} split has works of {', '.join(unknown)}, which the branch "
                f"models were not trained on ({', '.join(classifier.classes)}): train them "
                f"again on this data set with mediumnet train")
        out = _branch_outputs(classifier, root, frame, progress)
        failed.update({frame["id"][i]: e for i, e in enumerate(out.errors) if e})
        frame = frame[out.ok].reset_index(drop=True)
        parts[split] = _SplitOutputs(frame, np.array([MEDIUMS.index(v) for v in frame["label"]],
                                                     dtype=int), out)
    if failed:
        log.warning("%d images could not be read and are left out of the stack", len(failed))
    return parts, failed


def _compare(parts: dict[str, _SplitOutputs], classifier, config: Config,
             classes: tuple[str, ...]
             ) -> tuple[pd.DataFrame, dict[str, np.ndarray], MetaFit]:
    """Fit the stack on val; score it, each branch and the blend on val and test.

    Every branch of ``classifier`` is a row, the features branch (the features-only model)
    included. The ``val_macro_f1`` column is the selection score: out-of-fold for the stack,
    the validation predictions for the branches (fit on the training split) and the blend.
    ``accuracy`` and ``macro_f1`` are on the test split, for reporting.
    """
    from mediumnet.data.splits import artist_groups
    from mediumnet.ensemble import full_proba, meta_inputs
    from mediumnet.metrics import scores

    val, test = parts["val"], parts["test"]
    names = classifier.branch_names
    groups = artist_groups(val.works).to_numpy()
    x = {s: meta_inputs(parts[s].outputs.probabilities,
                        parts[s].outputs.features if classifier.meta_features else None,
                        names, classes) for s in parts}
    fit = fit_meta_learner(x["val"], val.y, config.ensemble, groups=groups,
                           seed=config.train.seed, classes=classes)
    val_probs = {b: val.outputs.probabilities[b] for b in names}
    test_probs = {b: test.outputs.probabilities[b] for b in names}
    val_probs["blend"] = np.mean([val_probs[b] for b in names], axis=0)
    test_probs["blend"] = np.mean([test_probs[b] for b in names], axis=0)
    val_probs["stack"] = fit.oof_probabilities
    test_probs["stack"] = full_proba(fit.estimator, x["test"])
    rows = {m: {"val_macro_f1": scores(val.y, val_probs[m], classes)["macro_f1"],
                **scores(test.y, test_probs[m], classes)}
            for m in TABLE_MODELS if m in test_probs}
    return pd.DataFrame(rows).T, test_probs, fit


def _audit(parts: dict[str, _SplitOutputs], fit: MetaFit, test_stack: np.ndarray, root: Path,
           out_dir: Path) -> pd.DataFrame:
    """List (CSV) and show (gallery) the works whose labels the stack doubts most."""
    from mediumnet.evaluate import write_gallery

    audit_works = pd.concat([parts["val"].works, parts["test"].works], ignore_index=True)
    audit_y = np.concatenate([parts["val"].y, parts["test"].y])
    issues = find_label_issues(audit_works, audit_y,
                               np.concatenate([fit.oof_probabilities, test_stack]))
    issues.to_csv(out_dir / "label_issues.csv", index=False)
    top = issues.head(AUDIT_GALLERY)
    write_gallery(root, list(top["image_path"]),
                  [f"{r.given} → {r.suggested}? ({r.p_suggested:.0%})\n{str(r.id)[:28]}"
                   for r in top.itertuples()], out_dir / "label_issues.png",
                  title="Attributions to re-check (given → suggested)")
    return issues


def _log_comparison(table: pd.DataFrame, fit: MetaFit, test_probs: dict[str, np.ndarray],
                    parts: dict[str, _SplitOutputs], root: Path, out_dir: Path,
                    classes: tuple[str, ...], unreadable: int, kind: str) -> pd.DataFrame:
    """Write and log the table, the kept ensemble's evaluation report and the label audit."""
    import mlflow

    from mediumnet.evaluate import evaluation_report

    mlflow.log_metrics({f"test_{metric}_{m}": float(table.loc[m, metric])
                        for m in table.index for metric in ("accuracy", "macro_f1")})
    mlflow.log_metrics({f"val_selection_macro_f1_{m}": float(table.loc[m, "val_macro_f1"])
                        for m in table.index})
    mlflow.log_metrics({"val_cv_macro_f1_stack": fit.cv_macro_f1,
                        "unreadable_images": float(unreadable)})
    mlflow.set_tag(TAG_MEDIUMS, ",".join(classes))
    table.to_csv(out_dir / "table.csv", index_label="model")
    (out_dir / "table.md").write_text(markdown_table(table))
    evaluation_report(parts["test"].y, test_probs[kind], out_dir / "evaluation",
                      works=parts["test"].works, dataset_dir=root, prefix="test_",
                      title=ENSEMBLE_TITLES[kind], classes=classes)
    issues = _audit(parts, fit, test_probs["stack"], root, out_dir)
    mlflow.log_metric("label_issues", float(len(issues)))
    for name in ("table.csv", "table.md", "label_issues.csv", "label_issues.png"):
        mlflow.log_artifact(str(out_dir / name))
    return issues


def _register_and_promote(model_uri: str, table: pd.DataFrame, parts, root: Path,
                          tags: dict[str, str], classes: tuple[str, ...], kind: str
                          ) -> tuple[str, bool, str]:
    """Register the kept ensemble with its lineage; move ``champion`` on the selection score."""
    import mlflow

    from mediumnet.registry import register as register_model
    from mediumnet.registry import set_version_tag

    selection = float(table.loc[kind, "val_macro_f1"])
    val_digest = _split_digest(parts["val"].works)
    tags = {**tags, TAG_VAL_SPLIT: val_digest, TAG_SELECTION_MACRO_F1: f"{selection:.6f}",
            TAG_TEST_SPLIT: _split_digest(parts["test"].works), TAG_ENSEMBLE_KIND: kind,
            TAG_TEST_MACRO_F1: f"{float(table.loc[kind, 'macro_f1']):.6f}"}
    version = str(register_model(model_uri, "ensemble", tags=tags).version)
    promoted, reason, champion_f1 = promote_if_better(
        version, selection, val_digest,
        [str(root / p) for p in parts["val"].works["image_path"]], parts["val"].y, classes)
    if not np.isnan(champion_f1):
        mlflow.log_metric("champion_selection_macro_f1", champion_f1)
    mlflow.set_tags({TAG_PROMOTED: str(promoted).lower(),
                     TAG_PROMOTION_REASON: reason,
                     TAG_ENSEMBLE_VERSION: version})
    set_version_tag("ensemble", version, TAG_PROMOTED, str(promoted).lower())
    return version, promoted, reason


def kept_kind(table: pd.DataFrame, keep: str = "better") -> str:
    """Choose the ensemble to register: ``stack`` or ``features`` (the features-only one).

    ``better`` keeps the features-only ensemble only when its validation score is strictly
    higher than the stack's (the stack wins ties); the test columns never choose.

    Raises
    ------
    MediumnetError
        If ``features`` is asked for without a features branch.
    """
    has_features = "features" in table.index
    if keep == "features" and not has_features:
        raise MediumnetError("ensemble.keep=features needs the features branch: leave "
                             "--no-features out")
    if keep in ("stack", "features"):
        return keep
    if has_features and table.loc["features", "val_macro_f1"] > table.loc["stack",
                                                                          "val_macro_f1"]:
        return "features"
    return "stack"


def _run_params(use_features: bool, classifier, fit: MetaFit, feature_fit: MetaFit | None,
                parts: dict[str, _SplitOutputs], uris: dict[str, str], kind: str
                ) -> dict[str, Any]:
    """Return the stack run's parameters: inputs, how learners were chosen, what was kept."""
    params = {"use_features": use_features, "meta_features": classifier.meta_features,
              "cv_folds": fit.folds, "cv_grouped_by_artist": fit.grouped,
              "mediums": ",".join(classifier.classes), "val_works": len(parts["val"].works),
              "test_works": len(parts["test"].works), "registered_kind": kind,
              **{f"branch_{k}": v for k, v in uris.items()},
              **{f"meta_{k}": v for k, v in fit.best_params.items()}}
    if feature_fit is not None:
        params.update({f"features_{k}": v for k, v in feature_fit.best_params.items()})
        params["features_train_works"] = len(feature_fit.oof_probabilities)
    return params


def _save_kept(path: Path, kind: str, classifier, fit: MetaFit, config: Config,
               extra: dict[str, Any]) -> None:
    """Save the ensemble that won on the validation works: the stack or the features alone."""
    from mediumnet.ensemble import save_ensemble

    if kind == "features":
        save_ensemble(path, {}, {}, None, classifier.feature_names,
                      feature_model=classifier.feature_model, meta_features=False,
                      extra={**extra, "meta_learner": "none"})
        return
    save_ensemble(path, {b.name: b.local_dir for b in classifier.branches},
                  {b.name: b.settings for b in classifier.branches}, fit.estimator,
                  classifier.feature_names, feature_model=classifier.feature_model,
                  meta_features=classifier.meta_features,
                  extra={**extra, "meta_learner": config.ensemble.meta_learner})


def stack(dataset_dir: str | os.PathLike[str], config: Config, *,
          composition: str | None = None, texture: str | None = None,
          effnet: str | None = None, use_features: bool | None = None,
          register: bool = True, progress: bool = True) -> StackResult:
    """Fit, compare, audit, log, register and (maybe) promote the stacking ensemble.

    Parameters
    ----------
    dataset_dir : path-like
        A split dataset folder whose branch models are trained.
    config : Config
        ``config.ensemble`` chooses the meta-learner, the folds and the features default.
    composition, texture, effnet : str, optional
        Branch model URIs; by default the ``champion`` (else newest promotable, else newest)
        version trained on this dataset. The EfficientNet branch is used only when given or
        trained on this dataset; ``effnet="none"`` leaves it out.
    use_features : bool, optional
        Add the visual features (default: ``config.ensemble.use_features``).
    register : bool
        Register the ensemble and consider it for ``champion``.

    Returns
    -------
    StackResult

    Raises
    ------
    MediumnetError
        No split, a branch model missing or unloadable, branches trained on different
        mediums, or a validation split without works of a medium.
    """
    from mediumnet.data.manifest import manifest_digest, read_manifest
    from mediumnet.data.splits import require_split

    started = time.perf_counter()
    root = Path(dataset_dir)
    manifest = read_manifest(root)
    for split in ("val", "test"):
        require_split(manifest, split, root)
    digest = manifest_digest(manifest)
    use_features = config.ensemble.use_features if use_features is None else use_features

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    import mlflow

    from mediumnet.ensemble import ImageClassifier, load_branch, shared_classes
    from mediumnet.features import NUMERIC_FOR_MODELS
    from mediumnet.tracking import git_commit, run_location, start_run

    uris, versions = _branch_uris({"composition": composition, "texture": texture,
                                   "effnet": effnet}, digest, root)
    branches: list[Branch] = [load_branch(uris[k], k) for k in uris]
    classes = shared_classes({b.name: b.classes for b in branches})
    feature_model, feature_fit = (fit_features_branch(root, manifest, config, classes, progress)
                                  if use_features else (None, None))
    classifier = ImageClassifier(
        branches, feature_names=NUMERIC_FOR_MODELS if use_features else (),
        feature_model=feature_model, meta_features=use_features and config.ensemble.meta_features)
    parts, failed = _outputs_by_split(classifier, root, manifest, progress)
    table, test_probs, fit = _compare(parts, classifier, config, classes)
    kind = kept_kind(table, config.ensemble.keep)
    out_dir = root / "stack"
    out_dir.mkdir(parents=True, exist_ok=True)
    params = _run_params(use_features, classifier, fit, feature_fit, parts, uris, kind)
    with start_run("stack", config=config, dataset_digest=digest, dataset_dir=root,
                   params=params) as run:
        if feature_fit is not None:
            mlflow.log_metric("train_cv_macro_f1_features", feature_fit.cv_macro_f1)
        issues = _log_comparison(table, fit, test_probs, parts, root, out_dir, classes,
                                 len(failed), kind)
        with tempfile.TemporaryDirectory() as tmp:
            _save_kept(Path(tmp) / "model", kind, classifier, fit, config,
                       {"branch_uris": uris, "branch_versions": versions,
                        "dataset_digest": digest, "ensemble_kind": kind})
            mlflow.log_artifacts(str(Path(tmp) / "model"), "model")
        model_uri = f"runs:/{run.info.run_id}/model"
        version, promoted, reason = None, False, "not registered"
        if register:
            tags = {TAG_DATASET_DIGEST: digest, TAG_PRESET: config.preset,
                    TAG_META_LEARNER: config.ensemble.meta_learner,
                    TAG_USE_FEATURES: str(use_features).lower(),
                    TAG_MEDIUMS: ",".join(classes)}
            if kind == "stack":
                tags.update({f"{TAG_BRANCH_PREFIX}{k}": f"{uris[k]} (v{versions[k]})"
                             if versions[k] else uris[k] for k in uris})
            commit = git_commit()
            if commit:
                tags[TAG_GIT_COMMIT] = commit
            version, promoted, reason = _register_and_promote(model_uri, table, parts, root,
                                                              tags, classes, kind)
        location = run_location(run)
    return StackResult(run_id=run.info.run_id, model_uri=model_uri, version=version,
                       table=table, promoted=promoted, promotion_reason=reason, kind=kind,
                       label_issues=issues, out_dir=out_dir, branch_uris=uris,
                       seconds=time.perf_counter() - started, run_location=location,
                       failed=failed)
