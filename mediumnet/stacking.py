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
    from mediumnet.ensemble import Branch

log = logging.getLogger("mediumnet")
TABLE_MODELS = ("composition", "texture", "effnet", "features", "blend", "stack")
"""Rows of the comparison table, in order (``effnet`` only when that branch is used)."""
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
    label_issues: pd.DataFrame
    out_dir: Path
    branch_uris: dict[str, str]
    seconds: float
    run_location: str = ""
    failed: dict[str, str] = field(default_factory=dict)


def fit_meta_learner(x: np.ndarray, y: np.ndarray, config: EnsembleConfig, *,
                     groups: np.ndarray | None = None, seed: int = 0,
                     classes: tuple[str, ...] = MEDIUMS) -> MetaFit:
    """Fit the meta-learner, its regularisation chosen by cross-validation on ``x``.

    The setting with the best cross-validated log-loss is kept; its cross-validated macro-F1
    (over ``classes``) is reported.

    Logistic regression (multinomial, balanced class weights, inputs imputed and scaled)
    searches its inverse regularisation ``C``; gradient boosting (balanced class weights) its
    learning rate and tree size. Folds are stratified and, when every medium has works of
    enough distinct artists, grouped by artist (no artist in two folds).

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

    Raises
    ------
    MediumnetError
        If a medium of ``classes`` has no work in ``y``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import (
        GridSearchCV,
        KFold,
        StratifiedGroupKFold,
        StratifiedKFold,
        cross_val_predict,
    )

    from mediumnet.metrics import class_indices, macro_f1, spread

    counts = np.bincount(y, minlength=len(MEDIUMS))[class_indices(classes)]
    missing = [m for m, c in zip(classes, counts, strict=True) if c == 0]
    if missing:
        raise MediumnetError(
            f"the validation split has no works of {', '.join(missing)}: the stack is fit on "
            "it, so run mediumnet split --reshuffle (each medium needs works by 3 artists)")
    model, grid = _meta_candidate(config.meta_learner, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if counts.min() < 2 or len(y) < 4:
            thin = ", ".join(f"{m} ({c})" for m, c in zip(classes, counts, strict=True)
                             if c < 2)
            log.warning("the validation split has a single work of %s: the meta-learner's "
                        "regularisation is fixed instead of chosen by cross-validation",
                        thin or "some medium")
            fixed = {k: v[len(v) // 2] if k.endswith("__C") else v[0] for k, v in grid.items()}
            estimator = model.set_params(**fixed)
            folds = max(2, min(config.cv_folds, len(y)))
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            oof = cross_val_predict(estimator, x, y, method="predict_proba",
                                    cv=KFold(folds, shuffle=True, random_state=seed))
            oof = spread(oof, np.unique(y))
            estimator.fit(x, y)
            return MetaFit(estimator, oof, {k.split("__")[-1]: v for k, v in fixed.items()},
                           macro_f1(y, oof.argmax(axis=1), classes), folds, False)
        folds = int(max(2, min(config.cv_folds, counts.min())))
        if folds < config.cv_folds:
            log.warning("the validation split has only %d works of its rarest medium: the "
                        "meta-learner is cross-validated on %d folds instead of %d",
                        counts.min(), folds, config.cv_folds)
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
    return MetaFit(search.best_estimator_, oof,
                   {k.split("__")[-1]: (float(v) if isinstance(v, float | np.floating) else v)
                    for k, v in search.best_params_.items()},
                   macro_f1(y, oof.argmax(axis=1), classes), folds, grouped)


def _meta_candidate(meta_learner: str, seed: int) -> tuple[Any, dict[str, list]]:
    """Return the meta-learner to fit and the grid its cross-validation searches."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if meta_learner == "boosting":
        model = HistGradientBoostingClassifier(class_weight="balanced", max_iter=150,
                                               random_state=seed)
        # Validation splits are small: leaves of a few works must be allowed.
        return model, {"learning_rate": [0.05, 0.1], "max_leaf_nodes": [7, 15],
                       "min_samples_leaf": [3, 10]}
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                          LogisticRegression(class_weight="balanced", max_iter=5000))
    return model, {"logisticregression__C": list(np.logspace(-3, 2, 11))}


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
    names = [b.name for b in classifier.branches]
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


def _compare(parts: dict[str, _SplitOutputs], names: list[str], config: Config,
             classes: tuple[str, ...], use_features: bool
             ) -> tuple[pd.DataFrame, dict[str, np.ndarray], MetaFit]:
    """Fit the stack (and a features-only model) on val; score every model on val and test.

    The ``val_macro_f1`` column is the selection score: out-of-fold for the fitted models
    (features, stack), the validation predictions for the branches and the blend. ``accuracy``
    and ``macro_f1`` are on the test split, for reporting.
    """
    from mediumnet.ensemble import full_proba, meta_inputs
    from mediumnet.metrics import scores

    val, test = parts["val"], parts["test"]
    groups = val.works["artist"].fillna("").astype(str).to_numpy()
    x = {s: meta_inputs(parts[s].outputs.probabilities, parts[s].outputs.features, names,
                        classes) for s in parts}
    seed = config.train.seed
    fit = fit_meta_learner(x["val"], val.y, config.ensemble, groups=groups, seed=seed,
                           classes=classes)
    val_probs = {b: val.outputs.probabilities[b] for b in names}
    test_probs = {b: test.outputs.probabilities[b] for b in names}
    if use_features:
        feature_fit = fit_meta_learner(val.outputs.features, val.y, config.ensemble,
                                       groups=groups, seed=seed, classes=classes)
        val_probs["features"] = feature_fit.oof_probabilities
        test_probs["features"] = full_proba(feature_fit.estimator, test.outputs.features)
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


def _log_comparison(table: pd.DataFrame, fit: MetaFit, test_stack: np.ndarray,
                    parts: dict[str, _SplitOutputs], root: Path, out_dir: Path,
                    classes: tuple[str, ...], unreadable: int) -> pd.DataFrame:
    """Write and log the table, the stack's evaluation report and the label audit."""
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
    evaluation_report(parts["test"].y, test_stack, out_dir / "evaluation",
                      works=parts["test"].works, dataset_dir=root, prefix="test_",
                      title="stacked ensemble", classes=classes)
    issues = _audit(parts, fit, test_stack, root, out_dir)
    mlflow.log_metric("label_issues", float(len(issues)))
    for name in ("table.csv", "table.md", "label_issues.csv", "label_issues.png"):
        mlflow.log_artifact(str(out_dir / name))
    return issues


def _register_and_promote(model_uri: str, table: pd.DataFrame, parts, root: Path,
                          tags: dict[str, str], classes: tuple[str, ...]
                          ) -> tuple[str, bool, str]:
    """Register the ensemble with its lineage and move ``champion`` on the selection score."""
    import mlflow

    from mediumnet.registry import register as register_model
    from mediumnet.registry import set_version_tag

    selection = float(table.loc["stack", "val_macro_f1"])
    val_digest = _split_digest(parts["val"].works)
    tags = {**tags, TAG_VAL_SPLIT: val_digest, TAG_SELECTION_MACRO_F1: f"{selection:.6f}",
            TAG_TEST_SPLIT: _split_digest(parts["test"].works),
            TAG_TEST_MACRO_F1: f"{float(table.loc['stack', 'macro_f1']):.6f}"}
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

    from mediumnet.ensemble import ImageClassifier, load_branch, save_ensemble
    from mediumnet.features import NUMERIC_FOR_MODELS
    from mediumnet.tracking import git_commit, run_location, start_run

    uris, versions = _branch_uris({"composition": composition, "texture": texture,
                                   "effnet": effnet}, digest, root)
    branches: list[Branch] = [load_branch(uris[k], k) for k in uris]
    names = [b.name for b in branches]
    feature_names = NUMERIC_FOR_MODELS if use_features else ()
    classifier = ImageClassifier(branches, feature_names=feature_names)
    classes = classifier.classes
    parts, failed = _outputs_by_split(classifier, root, manifest, progress)
    table, test_probs, fit = _compare(parts, names, config, classes, use_features)
    out_dir = root / "stack"
    out_dir.mkdir(parents=True, exist_ok=True)

    with start_run("stack", config=config, dataset_digest=digest, dataset_dir=root,
                   params={"use_features": use_features, "cv_folds": fit.folds,
                           "cv_grouped_by_artist": fit.grouped, "mediums": ",".join(classes),
                           "val_works": len(parts["val"].works),
                           "test_works": len(parts["test"].works),
                           **{f"branch_{k}": v for k, v in uris.items()},
                           **{f"meta_{k}": v for k, v in fit.best_params.items()}}) as run:
        issues = _log_comparison(table, fit, test_probs["stack"], parts, root, out_dir,
                                 classes, len(failed))
        with tempfile.TemporaryDirectory() as tmp:
            save_ensemble(Path(tmp) / "model", {b.name: b.local_dir for b in branches},
                          {b.name: b.settings for b in branches}, fit.estimator, feature_names,
                          extra={"branch_uris": uris, "branch_versions": versions,
                                 "dataset_digest": digest,
                                 "meta_learner": config.ensemble.meta_learner})
            mlflow.log_artifacts(str(Path(tmp) / "model"), "model")
        model_uri = f"runs:/{run.info.run_id}/model"
        version, promoted, reason = None, False, "not registered"
        if register:
            tags = {TAG_DATASET_DIGEST: digest, TAG_PRESET: config.preset,
                    TAG_META_LEARNER: config.ensemble.meta_learner,
                    TAG_USE_FEATURES: str(use_features).lower(),
                    TAG_MEDIUMS: ",".join(classes),
                    **{f"{TAG_BRANCH_PREFIX}{k}": f"{uris[k]} (v{versions[k]})" if versions[k]
                       else uris[k] for k in uris}}
            commit = git_commit()
            if commit:
                tags[TAG_GIT_COMMIT] = commit
            version, promoted, reason = _register_and_promote(model_uri, table, parts, root,
                                                              tags, classes)
        location = run_location(run)
    return StackResult(run_id=run.info.run_id, model_uri=model_uri, version=version,
                       table=table, promoted=promoted, promotion_reason=reason,
                       label_issues=issues, out_dir=out_dir, branch_uris=uris,
                       seconds=time.perf_counter() - started, run_location=location,
                       failed=failed)
