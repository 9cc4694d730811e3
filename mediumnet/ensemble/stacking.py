"""Fit the stacking ensemble, compare it with its parts, audit the labels, register, promote.

:func:`stack` is ``mediumnet stack``. It gathers the branches of the registry
(:mod:`mediumnet.branches`): each Keras branch's model trained on this data set (or named),
and each fitted branch, fit now on the training split. Their probabilities on the validation
and test splits are computed through the same
:class:`~mediumnet.ensemble.classifier.ImageClassifier` the served model uses; a scikit-learn
meta-learner is fit on the validation split, its regularisation chosen by cross-validation
inside that split; the test split then scores, in one table, each branch alone, the blend
(mean of branch probabilities) and the stack. The out-of-fold validation probabilities and the
held-out test probabilities feed a label-noise audit (confident learning, with cleanlab).
What is registered as ``mediumnet-ensemble`` is the stack, or a fitted branch alone when it
scores higher on the validation works (the features-only ensemble).

Model selection never looks at the test split: the alias ``champion`` moves to the new
version only if its *selection score* — the macro-F1 of its out-of-fold (cross-validated)
probabilities on the validation works — is at least the champion's on the same validation
works. The test split is for reporting only. Every score is a macro-F1 over the mediums the
branch models were trained on.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping
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
    TAG_GIT_COMMIT,
    TAG_MEDIUMS,
    TAG_META_LEARNER,
    TAG_PRESET,
    TAG_USE_PREFIX,
)

if TYPE_CHECKING:
    from mediumnet.branches.base import ServedBranch
    from mediumnet.config import Config
    from mediumnet.ensemble.classifier import ImageClassifier
    from mediumnet.ensemble.meta import MetaFit

log = logging.getLogger("mediumnet")
STACK = "stack"
BLEND = "blend"
"""The table's two rows that are not one branch: the mean of the branches, and the stack."""


def ensemble_title(kind: str) -> str:
    """Say what a registered ensemble of ``kind`` is: the stack or one branch alone."""
    return "stacked ensemble" if kind == STACK else f"{kind}-only ensemble"


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
    """What was registered: ``stack``, or the fitted branch that scored higher alone on the
    validation works (``features``: the features-only ensemble)."""
    label_issues: pd.DataFrame
    out_dir: Path
    branch_uris: dict[str, str]
    seconds: float
    run_location: str = ""
    failed: dict[str, str] = field(default_factory=dict)
    calibration: dict[str, float] = field(default_factory=dict)
    """The temperature fit on the validation works, and the calibration error of the
    validation and test works before and after it (:mod:`mediumnet.ensemble.calibration`)."""


def markdown_table(table: pd.DataFrame) -> str:
    """Render the comparison table as Markdown (model, val selection score, test scores)."""
    lines = ["| model | val macro-F1 (selection) | test accuracy | test macro-F1 |",
             "|---|---|---|---|"]
    lines += [f"| {name} | {row.val_macro_f1:.3f} | {row.accuracy:.3f} | {row.macro_f1:.3f} |"
              for name, row in table.iterrows()]
    return "\n".join(lines) + "\n"


def _branch_outputs(classifier: ImageClassifier, root: Path, works: pd.DataFrame,
                    progress: bool):
    """Branch outputs for ``works`` in chunks (a progress bar per chunk of 64)."""
    from tqdm import tqdm

    from mediumnet.ensemble.classifier import BranchOutputs

    paths = [str(root / p) for p in works["image_path"]]
    parts = []
    with tqdm(total=len(paths), desc="branch outputs", unit="img", leave=False,
              disable=None if progress else True) as bar:
        for start in range(0, len(paths), 64):
            parts.append(classifier.branch_outputs(paths[start:start + 64]))
            bar.update(len(paths[start:start + 64]))
    names = classifier.branch_names
    with_features = classifier.meta_features and bool(classifier.feature_names)
    return BranchOutputs(
        {b: np.concatenate([p.probabilities[b] for p in parts]) for b in names},
        np.concatenate([p.features for p in parts]) if with_features else None,
        np.concatenate([p.ok for p in parts]), sum((p.errors for p in parts), []))


def _branch_uris(given: Mapping[str, str | None], digest: str, root: Path
                 ) -> tuple[dict[str, str], dict[str, str]]:
    """Resolve the Keras branch models to stack: the ones named, else those trained here."""
    from mediumnet.branches import keras_branches
    from mediumnet.ensemble.champion import default_branch_uri, resolve_version

    uris: dict[str, str] = {}
    versions: dict[str, str] = {}
    for branch in keras_branches():
        kind, uri = branch.name, given.get(branch.name)
        required = branch.stacking == "always"
        if uri and uri.strip().lower() == "none":
            if required:
                raise MediumnetError(f"--{kind} none: the {kind} branch is always stacked; "
                                     "give a model URI or leave it out")
            continue
        if uri:
            uris[kind], versions[kind] = uri, resolve_version(uri)
            continue
        found = default_branch_uri(kind, digest)
        if found:
            uris[kind], versions[kind] = found
        elif required:
            raise MediumnetError(
                f"no {branch.model_name} model was trained on this dataset: run mediumnet "
                f"train {kind} {root}, or name one with --{kind} URI")
    return uris, versions


@dataclass
class _SplitOutputs:
    """The works of one split that decoded, their labels and what the models said."""

    works: pd.DataFrame
    y: np.ndarray
    outputs: Any


def _outputs_by_split(classifier: ImageClassifier, root: Path, manifest: pd.DataFrame,
                      progress: bool) -> tuple[dict[str, _SplitOutputs], dict[str, str]]:
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


def _compare(parts: dict[str, _SplitOutputs], classifier: ImageClassifier, config: Config,
             classes: tuple[str, ...]
             ) -> tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]], MetaFit]:
    """Fit the stack on val; score it, each branch and the blend on val and test.

    Every branch of ``classifier`` is a row (a fitted branch's row is that branch alone).
    The ``val_macro_f1`` column is the selection score: out-of-fold for the stack, the
    validation predictions for the branches (fit on the training split) and the blend.
    ``accuracy`` and ``macro_f1`` are on the test split, for reporting. The probabilities
    come back by split (``val``: out-of-fold for the stack) and model.
    """
    from mediumnet.data.splits import artist_groups
    from mediumnet.ensemble.classifier import full_proba, meta_inputs
    from mediumnet.ensemble.meta import fit_meta_learner
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
    val_probs[BLEND] = np.mean([val_probs[b] for b in names], axis=0)
    test_probs[BLEND] = np.mean([test_probs[b] for b in names], axis=0)
    val_probs[STACK] = fit.oof_probabilities
    test_probs[STACK] = full_proba(fit.estimator, x["test"])
    rows = {m: {"val_macro_f1": scores(val.y, val_probs[m], classes)["macro_f1"],
                **scores(test.y, test_probs[m], classes)}
            for m in [*names, BLEND, STACK]}
    return pd.DataFrame(rows).T, {"val": val_probs, "test": test_probs}, fit


def _log_comparison(table: pd.DataFrame, fit: MetaFit, test_probs: dict[str, np.ndarray],
                    parts: dict[str, _SplitOutputs], root: Path, out_dir: Path,
                    classes: tuple[str, ...], unreadable: int, kind: str
                    ) -> tuple[pd.DataFrame, dict[str, float]]:
    """Write and log the table, the kept ensemble's evaluation report and the label audit.

    Returns the label issues and the kept ensemble's test metrics (``test_`` prefixed, with
    their intervals over the test's artists).
    """
    import mlflow

    from mediumnet.data.splits import artist_groups
    from mediumnet.ensemble.audit import audit_labels
    from mediumnet.study.evaluate import evaluation_report

    mlflow.log_metrics({f"test_{metric}_{m}": float(table.loc[m, metric])
                        for m in table.index for metric in ("accuracy", "macro_f1")})
    mlflow.log_metrics({f"val_selection_macro_f1_{m}": float(table.loc[m, "val_macro_f1"])
                        for m in table.index})
    mlflow.log_metrics({"val_cv_macro_f1_stack": fit.cv_macro_f1,
                        "unreadable_images": float(unreadable)})
    mlflow.set_tag(TAG_MEDIUMS, ",".join(classes))
    table.to_csv(out_dir / "table.csv", index_label="model")
    (out_dir / "table.md").write_text(markdown_table(table))
    report = evaluation_report(parts["test"].y, test_probs[kind], out_dir / "evaluation",
                               works=parts["test"].works, dataset_dir=root, prefix="test_",
                               title=ensemble_title(kind), classes=classes,
                               groups=artist_groups(parts["test"].works).to_numpy())
    issues = audit_labels(
        pd.concat([parts["val"].works, parts["test"].works], ignore_index=True),
        np.concatenate([parts["val"].y, parts["test"].y]),
        np.concatenate([fit.oof_probabilities, test_probs[STACK]]), root, out_dir)
    mlflow.log_metric("label_issues", float(len(issues)))
    for name in ("table.csv", "table.md", "label_issues.csv", "label_issues.png"):
        mlflow.log_artifact(str(out_dir / name))
    return issues, report.metrics


def kept_kind(table: pd.DataFrame, keep: str = "better") -> str:
    """Choose the ensemble to register: ``stack``, or a branch of the table alone.

    ``better`` keeps a branch that can stand alone (a fitted branch: the features-only
    ensemble) only when its validation score is strictly higher than the stack's (the stack
    wins ties; among branches, the higher score, then the first); the test columns never
    choose.

    Raises
    ------
    MediumnetError
        If a branch is asked for that was not stacked.
    """
    from mediumnet.branches import standalone_names

    if keep == STACK:
        return STACK
    if keep != "better":
        if keep not in table.index:
            raise MediumnetError(f"ensemble.keep={keep} needs the {keep} branch: leave "
                                 f"--no-{keep} out")
        return keep
    best, score = STACK, table.loc[STACK, "val_macro_f1"]
    for name in standalone_names():
        if name in table.index and table.loc[name, "val_macro_f1"] > score:
            best, score = name, table.loc[name, "val_macro_f1"]
    return best


def _run_params(classifier: ImageClassifier, fit: MetaFit, fitted: dict[str, MetaFit],
                switches: dict[str, bool], parts: dict[str, _SplitOutputs],
                uris: dict[str, str], kind: str) -> dict[str, Any]:
    """Return the stack run's parameters: inputs, how learners were chosen, what was kept."""
    params: dict[str, Any] = {f"use_{name}": on for name, on in switches.items()}
    params.update({"meta_features": classifier.meta_features, "cv_folds": fit.folds,
                   "cv_grouped_by_artist": fit.grouped, "mediums": ",".join(classifier.classes),
                   "val_works": len(parts["val"].works), "test_works": len(parts["test"].works),
                   "registered_kind": kind, **{f"branch_{k}": v for k, v in uris.items()},
                   **{f"meta_{k}": v for k, v in fit.best_params.items()}})
    from mediumnet.branches import get_branch

    for name, branch_fit in fitted.items():
        params.update({f"{name}_{k}": v for k, v in branch_fit.best_params.items()})
        params[f"{name}_train_works"] = len(branch_fit.oof_probabilities)
        served = classifier.branch(name)
        params.update({f"{name}_{k}": v for k, v in
                       get_branch(name).run_params(served).items()})  # type: ignore[attr-defined]
    return params


def _save_kept(path: Path, kind: str, classifier: ImageClassifier, fit: MetaFit,
               config: Config, extra: dict[str, Any], temperature: float = 1.0) -> None:
    """Save the ensemble that won on the validation works: the stack or one branch alone."""
    from mediumnet.ensemble.model import save_ensemble

    if kind != STACK:
        save_ensemble(path, [classifier.branch(kind)], None, temperature=temperature,
                      extra={**extra, "meta_learner": "none"})
        return
    save_ensemble(path, classifier.branches, fit.estimator,
                  feature_names=classifier.feature_names,
                  meta_features=classifier.meta_features, temperature=temperature,
                  extra={**extra, "meta_learner": config.ensemble.meta_learner})


@dataclass
class _Branches:
    """The branches a stack is made of, resolved before its run opens."""

    served: list[ServedBranch]
    uris: dict[str, str]
    versions: dict[str, str]
    classes: tuple[str, ...]
    fitted: dict[str, MetaFit]
    switches: dict[str, bool]


def _gather(root: Path, manifest: pd.DataFrame, digest: str, config: Config,
            requests: Mapping[str, str | bool | None], progress: bool) -> _Branches:
    """Load the Keras branch models and fit the fitted branches that are switched on."""
    from mediumnet.branches import fitted_branches, get_branch
    from mediumnet.ensemble.classifier import shared_classes
    from mediumnet.ensemble.model import load_branch

    for name in requests:
        get_branch(name)  # an unknown branch is said as such
    uris, versions = _branch_uris({k: v for k, v in requests.items()
                                   if not isinstance(v, bool)}, digest, root)
    served: list[ServedBranch] = [load_branch(uris[k], k) for k in uris]
    if served:
        classes = shared_classes({b.name: tuple(b.classes) for b in served})
    else:
        from mediumnet.train import training_mediums

        classes = training_mediums(manifest, root)
    fitted: dict[str, MetaFit] = {}
    switches: dict[str, bool] = {}
    for branch in fitted_branches():
        wanted = requests.get(branch.name)
        switches[branch.name] = branch.enabled(config) if wanted is None else bool(wanted)
        if switches[branch.name]:
            one, fitted[branch.name] = branch.fit(root, manifest, config, classes, progress)
            served.append(one)
    if not served:
        raise MediumnetError("nothing to stack: train a branch with mediumnet train, or "
                             "switch a fitted branch on")
    return _Branches(served, uris, versions, classes, fitted, switches)


def _lineage_tags(config: Config, digest: str, chosen: _Branches, kind: str
                  ) -> dict[str, str]:
    """Return the registered ensemble's tags: data, settings, code, the branch versions."""
    from mediumnet.tracking import git_commit

    tags = {TAG_DATASET_DIGEST: digest, TAG_PRESET: config.preset,
            TAG_META_LEARNER: config.ensemble.meta_learner,
            TAG_MEDIUMS: ",".join(chosen.classes),
            **{f"{TAG_USE_PREFIX}{name}": str(on).lower()
               for name, on in chosen.switches.items()}}
    if kind == STACK:
        tags.update({f"{TAG_BRANCH_PREFIX}{k}": f"{u} (v{chosen.versions[k]})"
                     if chosen.versions[k] else u for k, u in chosen.uris.items()})
    commit = git_commit()
    if commit:
        tags[TAG_GIT_COMMIT] = commit
    return tags


def stack(dataset_dir: str | os.PathLike[str], config: Config, *, register: bool = True,
          progress: bool = True, **branches: str | bool | None) -> StackResult:
    """Fit, compare, audit, log, register and (maybe) promote the stacking ensemble.

    Parameters
    ----------
    dataset_dir : path-like
        A split dataset folder whose branch models are trained.
    config : Config
        ``config.ensemble`` chooses the meta-learner, the folds and what is kept.
    register : bool
        Register the ensemble and consider it for ``champion``.
    progress : bool
        Show progress bars.
    **branches : str, bool or None
        By branch name. A Keras branch: a model URI (default: the ``champion``, else newest
        promotable, else newest version trained on this data set); ``"none"`` leaves out a
        branch that is not always stacked (``effnet="none"``). A fitted branch: True or
        False to fit it or not (default: its setting, e.g. ``ensemble.use_features``).

    Returns
    -------
    StackResult

    Raises
    ------
    MediumnetError
        No split, an unknown branch, a branch model missing or unloadable, branches trained
        on different mediums, or a validation split without works of a medium.
    """
    from mediumnet.data.manifest import manifest_digest, read_manifest
    from mediumnet.data.splits import require_split

    started = time.perf_counter()
    root = Path(dataset_dir)
    manifest = read_manifest(root)
    for split in ("val", "test"):
        require_split(manifest, split, root)
    digest = manifest_digest(manifest)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    import mlflow

    from mediumnet.ensemble.calibration import apply_temperature, calibrate
    from mediumnet.ensemble.champion import register_and_promote
    from mediumnet.ensemble.classifier import ImageClassifier
    from mediumnet.study.features import NUMERIC_FOR_MODELS
    from mediumnet.tracking import run_location, start_run

    chosen = _gather(root, manifest, digest, config, branches, progress)
    classifier = ImageClassifier(chosen.served, feature_names=NUMERIC_FOR_MODELS,
                                 meta_features=config.ensemble.meta_features)
    parts, failed = _outputs_by_split(classifier, root, manifest, progress)
    table, probs, fit = _compare(parts, classifier, config, chosen.classes)
    kind = kept_kind(table, config.ensemble.keep)
    calibration, calibration_metrics = calibrate(parts["val"].y, probs["val"][kind],
                                                 parts["test"].y, probs["test"][kind])
    test_probs = dict(probs["test"])
    test_probs[kind] = apply_temperature(test_probs[kind], calibration.temperature)
    out_dir = root / "stack"
    out_dir.mkdir(parents=True, exist_ok=True)
    params = _run_params(classifier, fit, chosen.fitted, chosen.switches, parts, chosen.uris,
                         kind)
    with start_run("stack", config=config, dataset_digest=digest, dataset_dir=root,
                   params=params) as run:
        mlflow.log_metrics({f"train_cv_macro_f1_{name}": one.cv_macro_f1
                            for name, one in chosen.fitted.items()})
        issues, tested = _log_comparison(table, fit, test_probs, parts, root, out_dir,
                                         chosen.classes, len(failed), kind)
        # The calibrated test ECE's spread over artists, as the evaluation report measured it.
        for end in ("low", "high"):
            if f"test_expected_calibration_error_{end}" in tested:
                calibration_metrics[f"test_ece_calibrated_{end}"] = \
                    tested[f"test_expected_calibration_error_{end}"]
        mlflow.log_metrics(calibration_metrics)
        with tempfile.TemporaryDirectory() as tmp:
            _save_kept(Path(tmp) / "model", kind, classifier, fit, config,
                       {"branch_uris": chosen.uris, "branch_versions": chosen.versions,
                        "dataset_digest": digest, "ensemble_kind": kind},
                       calibration.temperature)
            mlflow.log_artifacts(str(Path(tmp) / "model"), "model")
        model_uri = f"runs:/{run.info.run_id}/model"
        version, promoted, reason = None, False, "not registered"
        if register:
            version, promoted, reason = register_and_promote(
                model_uri, kind, float(table.loc[kind, "val_macro_f1"]),
                float(table.loc[kind, "macro_f1"]), parts["val"].works, parts["val"].y,
                parts["test"].works, root, _lineage_tags(config, digest, chosen, kind),
                chosen.classes)
        location = run_location(run)
    return StackResult(run_id=run.info.run_id, model_uri=model_uri, version=version,
                       table=table, promoted=promoted, promotion_reason=reason, kind=kind,
                       label_issues=issues, out_dir=out_dir, branch_uris=chosen.uris,
                       seconds=time.perf_counter() - started, run_location=location,
                       failed=failed, calibration=calibration_metrics)
