"""Fit the stacking ensemble, compare it with its parts, audit the labels, register, promote.

:func:`stack` is ``mediumnet stack``: the branch models' probabilities (texture: pooled over
the grid tiles) and the visual features are computed on the validation and test splits
through the same :class:`~mediumnet.ensemble.ImageClassifier` the served model uses; a
scikit-learn meta-learner is fit on the validation split, its regularisation chosen by
cross-validation inside that split; the test split then scores, in one table, each branch
alone, a features-only model, the blend (mean of branch probabilities) and the stack. The
out-of-fold validation probabilities and the held-out test probabilities feed a label-noise
audit (confident learning, with cleanlab). The ensemble is logged as a pyfunc model,
registered as ``mediumnet-ensemble`` with its lineage, and the alias ``champion`` moves to it
only if its test macro-F1 is at least the current champion's on the same test split.

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

if TYPE_CHECKING:
    from mediumnet.config import Config, EnsembleConfig
    from mediumnet.ensemble import Branch

log = logging.getLogger("mediumnet")
TABLE_MODELS = ("composition", "texture", "effnet", "features", "blend", "stack")
"""Rows of the comparison table, in order (``effnet`` only when that branch is used)."""
TAG_TEST_SPLIT = "mediumnet.test_split_digest"
TAG_TEST_MACRO_F1 = "mediumnet.test_macro_f1"
TAG_PROMOTED = "mediumnet.promoted"
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
                     groups: np.ndarray | None = None, seed: int = 0) -> MetaFit:
    """Fit the meta-learner, its regularisation chosen by cross-validation on ``x``.

    The setting with the best cross-validated log-loss is kept; its cross-validated macro-F1
    is reported.

    Logistic regression (multinomial, balanced class weights, inputs imputed and scaled)
    searches its inverse regularisation ``C``; gradient boosting (balanced class weights) its
    learning rate and tree size. Folds are stratified and, when every medium has works of
    enough distinct artists, grouped by artist (no artist in two folds).

    Parameters
    ----------
    x : numpy.ndarray
        ``(n, d)`` inputs (:func:`~mediumnet.ensemble.meta_inputs`).
    y : numpy.ndarray
        ``(n,)`` class indices; every medium must be present at least twice.
    config : EnsembleConfig
    groups : numpy.ndarray, optional
        The artist of each row.

    Raises
    ------
    MediumnetError
        If a medium is missing from ``y`` or has a single work.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import (
        GridSearchCV,
        StratifiedGroupKFold,
        StratifiedKFold,
        cross_val_predict,
    )
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    counts = np.bincount(y, minlength=len(MEDIUMS))
    thin = [f"{MEDIUMS[i]} ({counts[i]})" for i in range(len(MEDIUMS)) if counts[i] < 2]
    if thin:
        raise MediumnetError(
            f"the validation split has fewer than 2 works of {', '.join(thin)}: the stack is "
            "fit on it, so give it more (a larger data set, or mediumnet split --val 0.2)")
    folds = int(max(2, min(config.cv_folds, counts.min())))
    grouped = groups is not None and all(
        len(set(groups[y == c])) >= folds for c in range(len(MEDIUMS)))
    cv = (StratifiedGroupKFold(folds, shuffle=True, random_state=seed) if grouped
          else StratifiedKFold(folds, shuffle=True, random_state=seed))
    if config.meta_learner == "boosting":
        model = HistGradientBoostingClassifier(class_weight="balanced", max_iter=150,
                                               random_state=seed)
        # Validation splits are small: leaves of a few works must be allowed.
        grid = {"learning_rate": [0.05, 0.1], "max_leaf_nodes": [7, 15],
                "min_samples_leaf": [3, 10]}
    else:
        model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                              LogisticRegression(class_weight="balanced", max_iter=5000))
        grid = {"logisticregression__C": list(np.logspace(-3, 2, 11))}
    fit_groups = groups if grouped else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # Chosen by log-loss, a proper scoring rule: it rewards the right medium *and* honest
        # probabilities (the served confidence, the label audit); macro-F1 alone, flat on
        # small validation splits, picked over-regularised, near-uniform probabilities.
        search = GridSearchCV(model, grid, scoring={"log_loss": "neg_log_loss",
                                                    "macro_f1": "f1_macro"},
                              refit="log_loss", cv=cv)
        search.fit(x, y, groups=fit_groups)
        oof = cross_val_predict(search.best_estimator_, x, y, groups=fit_groups, cv=cv,
                                method="predict_proba")
    cv_f1 = float(search.cv_results_["mean_test_macro_f1"][search.best_index_])
    return MetaFit(search.best_estimator_, oof,
                   {k.split("__")[-1]: (float(v) if isinstance(v, float | np.floating) else v)
                    for k, v in search.best_params_.items()},
                   cv_f1, folds, grouped)


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
    from mediumnet.tracking import TAG_DATASET_DIGEST
    from mediumnet.train import TAG_PROMOTABLE

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


def _scores(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    pred = probs.argmax(axis=1)
    return {"accuracy": float(accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, labels=range(len(MEDIUMS)), average="macro",
                                       zero_division=0))}


def markdown_table(table: pd.DataFrame) -> str:
    """Render the comparison table as Markdown (model, accuracy, macro-F1)."""
    lines = ["| model | test accuracy | test macro-F1 |", "|---|---|---|"]
    lines += [f"| {name} | {row.accuracy:.3f} | {row.macro_f1:.3f} |"
              for name, row in table.iterrows()]
    return "\n".join(lines) + "\n"


def promote_if_better(version: str, macro_f1: float, split_digest: str,
                      test_sources: list[str], y_test: np.ndarray) -> tuple[bool, str, float]:
    """Move ``champion`` to ``version`` if its test macro-F1 is at least the champion's.

    The comparison is made on the same test split: the champion's recorded score when it was
    measured on the same split (same works, labels and image bytes), else the champion is
    evaluated on ``test_sources`` now.

    Returns
    -------
    (bool, str, float)
        Promoted or not, why, and the champion's macro-F1 it was compared with (NaN when
        there was no champion).
    """
    from mediumnet.ensemble import load_classifier
    from mediumnet.registry import CHAMPION, model_uri, set_alias, version_by_alias

    try:
        current = version_by_alias("ensemble", CHAMPION)
    except MediumnetError:
        set_alias("ensemble", CHAMPION, version)
        return True, "no champion yet", float("nan")
    if str(current.version) == str(version):
        return True, "already champion", macro_f1
    if current.tags.get(TAG_TEST_SPLIT) == split_digest and TAG_TEST_MACRO_F1 in current.tags:
        champion_f1 = float(current.tags[TAG_TEST_MACRO_F1])
        how = "its recorded score on the same test split"
    else:
        probs, errors = load_classifier(model_uri("ensemble", version=int(current.version))
                                        ).predict_proba(test_sources)
        ok = np.array([e is None for e in errors])
        champion_f1 = _scores(y_test[ok], probs[ok])["macro_f1"] if ok.any() else 0.0
        how = "re-evaluated on this test split"
    promoted = macro_f1 >= champion_f1
    if promoted:
        set_alias("ensemble", CHAMPION, version)
    reason = (f"test macro-F1 {macro_f1:.4f} {'>=' if promoted else '<'} champion v"
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
        No split, a branch model missing or unloadable, or a validation split too thin.
    """
    from mediumnet.data.manifest import manifest_digest, read_manifest

    started = time.perf_counter()
    root = Path(dataset_dir)
    manifest = read_manifest(root)
    for split in ("val", "test"):
        if not (manifest["split"] == split).any():
            raise MediumnetError(f"no works in split {split!r}: run mediumnet split first")
    digest = manifest_digest(manifest)
    use_features = config.ensemble.use_features if use_features is None else use_features

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    import mlflow

    from mediumnet.ensemble import (
        ImageClassifier,
        full_proba,
        load_branch,
        meta_inputs,
        save_ensemble,
    )
    from mediumnet.evaluate import evaluation_report, write_gallery
    from mediumnet.explore import NUMERIC_FOR_MODELS
    from mediumnet.registry import register as register_model
    from mediumnet.registry import set_version_tag
    from mediumnet.tracking import TAG_DATASET_DIGEST, git_commit, run_location, start_run

    given = {"composition": composition, "texture": texture, "effnet": effnet}
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
    branches: list[Branch] = [load_branch(uris[k], k) for k in uris]
    names = [b.name for b in branches]
    feature_names = NUMERIC_FOR_MODELS if use_features else ()
    classifier = ImageClassifier(branches, feature_names=feature_names)

    works = {s: manifest[manifest["split"] == s].reset_index(drop=True) for s in ("val", "test")}
    outputs, failed = {}, {}
    for split, frame in works.items():
        out = _branch_outputs(classifier, root, frame, progress)
        failed.update({frame["id"][i]: e for i, e in enumerate(out.errors) if e})
        outputs[split] = out
        works[split] = frame[out.ok].reset_index(drop=True)
    if failed:
        log.warning("%d images could not be read and are left out of the stack", len(failed))
    y = {s: np.array([MEDIUMS.index(v) for v in works[s]["label"]]) for s in works}
    groups = works["val"]["artist"].fillna("").astype(str).to_numpy()
    x = {s: meta_inputs(outputs[s].probabilities, outputs[s].features, names) for s in works}
    fit = fit_meta_learner(x["val"], y["val"], config.ensemble, groups=groups,
                           seed=config.train.seed)

    test_probs: dict[str, np.ndarray] = {b: outputs["test"].probabilities[b] for b in names}
    if use_features:
        feature_fit = fit_meta_learner(outputs["val"].features, y["val"], config.ensemble,
                                       groups=groups, seed=config.train.seed)
        test_probs["features"] = full_proba(feature_fit.estimator, outputs["test"].features)
    test_probs["blend"] = np.mean([outputs["test"].probabilities[b] for b in names], axis=0)
    test_probs["stack"] = full_proba(fit.estimator, x["test"])
    table = pd.DataFrame({m: _scores(y["test"], test_probs[m]) for m in TABLE_MODELS
                          if m in test_probs}).T
    out_dir = root / "stack"
    out_dir.mkdir(parents=True, exist_ok=True)

    with start_run("stack", config=config, dataset_digest=digest, dataset_dir=root,
                   params={"use_features": use_features, "cv_folds": fit.folds,
                           "cv_grouped_by_artist": fit.grouped,
                           "val_works": len(works["val"]), "test_works": len(works["test"]),
                           **{f"branch_{k}": v for k, v in uris.items()},
                           **{f"meta_{k}": v for k, v in fit.best_params.items()}}) as run:
        mlflow.log_metrics({f"test_{metric}_{m}": float(table.loc[m, metric])
                            for m in table.index for metric in ("accuracy", "macro_f1")})
        mlflow.log_metrics({"val_cv_macro_f1_stack": fit.cv_macro_f1,
                            "unreadable_images": float(len(failed))})
        table.to_csv(out_dir / "table.csv", index_label="model")
        (out_dir / "table.md").write_text(markdown_table(table))
        evaluation_report(y["test"], test_probs["stack"], out_dir / "evaluation",
                          works=works["test"], dataset_dir=root, prefix="test_",
                          title="stacked ensemble")

        audit_works = pd.concat([works["val"], works["test"]], ignore_index=True)
        audit_y = np.concatenate([y["val"], y["test"]])
        audit_p = np.concatenate([fit.oof_probabilities, test_probs["stack"]])
        issues = find_label_issues(audit_works, audit_y, audit_p)
        issues.to_csv(out_dir / "label_issues.csv", index=False)
        top = issues.head(AUDIT_GALLERY)
        write_gallery(root, list(top["image_path"]),
                      [f"{r.given} → {r.suggested}? ({r.p_suggested:.0%})\n{str(r.id)[:28]}"
                       for r in top.itertuples()], out_dir / "label_issues.png",
                      title="Attributions to re-check (given → suggested)")
        mlflow.log_metric("label_issues", float(len(issues)))
        for name in ("table.csv", "table.md", "label_issues.csv", "label_issues.png"):
            mlflow.log_artifact(str(out_dir / name))

        lineage = {f"mediumnet.branch.{k}": f"{uris[k]} (v{versions[k]})" if versions[k]
                   else uris[k] for k in uris}
        with tempfile.TemporaryDirectory() as tmp:
            save_ensemble(Path(tmp) / "model", {b.name: b.local_dir for b in branches},
                          {b.name: b.settings for b in branches}, fit.estimator, feature_names,
                          extra={"branch_uris": uris, "branch_versions": versions,
                                 "dataset_digest": digest,
                                 "meta_learner": config.ensemble.meta_learner})
            mlflow.log_artifacts(str(Path(tmp) / "model"), "model")
        model_uri = f"runs:/{run.info.run_id}/model"
        macro_f1 = float(table.loc["stack", "macro_f1"])
        split_digest = _split_digest(works["test"])
        version, promoted, reason = None, False, "not registered"
        if register:
            tags = {TAG_DATASET_DIGEST: digest, TAG_TEST_SPLIT: split_digest,
                    TAG_TEST_MACRO_F1: f"{macro_f1:.6f}", "mediumnet.preset": config.preset,
                    "mediumnet.meta_learner": config.ensemble.meta_learner,
                    "mediumnet.use_features": str(use_features).lower(), **lineage}
            commit = git_commit()
            if commit:
                tags["mediumnet.git_commit"] = commit
            version = str(register_model(model_uri, "ensemble", tags=tags).version)
            promoted, reason, champion_f1 = promote_if_better(
                version, macro_f1, split_digest,
                [str(root / p) for p in works["test"]["image_path"]], y["test"])
            if not np.isnan(champion_f1):
                mlflow.log_metric("champion_test_macro_f1", champion_f1)
            mlflow.set_tags({TAG_PROMOTED: str(promoted).lower(),
                             "mediumnet.promotion_reason": reason,
                             "mediumnet.ensemble_version": version})
            set_version_tag("ensemble", version, TAG_PROMOTED, str(promoted).lower())
        location = run_location(run)
    return StackResult(run_id=run.info.run_id, model_uri=model_uri, version=version,
                       table=table, promoted=promoted, promotion_reason=reason,
                       label_issues=issues, out_dir=out_dir, branch_uris=uris,
                       seconds=time.perf_counter() - started, run_location=location,
                       failed=failed)
