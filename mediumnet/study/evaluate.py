"""How good a model is, and where it goes wrong: metrics, confusions, calibration, galleries.

:func:`evaluation_report` turns true labels and predicted probabilities into everything a
person checks — accuracy, balanced accuracy, macro-F1, per-class precision/recall/F1, the
confusion matrix (counts and row-normalised, as a PNG), the most confused pairs ranked (the
research's "error tree"), the expected calibration error with a reliability diagram, and a
gallery of the most confident mistakes — written to a folder and logged to the active MLflow
run; given each work's artist, accuracy, macro-F1 and the calibration error come with 95 %
intervals from resampling artists (:func:`mediumnet.metrics.artist_intervals`).
:func:`evaluate_model` does it for any mediumnet model URI on a split of a dataset, as its own
run; MLflow's own classifier evaluator (``mlflow.models.evaluate`` on the static predictions)
runs alongside and adds its standard metrics and per-class table.
"""

from __future__ import annotations

import logging
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mediumnet.data.manifest import EVALUATION_SPLITS
from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS
from mediumnet.metrics import expected_calibration_error
from mediumnet.study.evaluation_figures import (
    plot_confusion,
    plot_reliability,
    write_gallery,
)

if TYPE_CHECKING:
    from mediumnet.config import Config

log = logging.getLogger("mediumnet")
GALLERY_SIZE = 12


@dataclass
class EvaluationReport:
    """What :func:`evaluation_report` measured and wrote."""

    metrics: dict[str, float]
    per_class: pd.DataFrame
    confusion: np.ndarray
    confused_pairs: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    run_id: str | None = None
    failed: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)
    """Works left out because the model does not know their medium, per medium."""
    answers_left_out: int = 0
    """Works left out of ``--split all`` because their medium is a model's answer."""


def confused_pairs(confusion: np.ndarray, names: tuple[str, ...] = MEDIUMS) -> pd.DataFrame:
    """Rank the pairs of mediums by how often one is taken for the other (both directions).

    ``names`` are the mediums of the confusion matrix's rows and columns, in order.

    Returns
    -------
    pandas.DataFrame
        ``pair``, ``errors`` (both directions), ``a_as_b``, ``b_as_a`` and ``share`` (of the
        pair's works), most confused first; pairs never confused are left out.
    """
    rows = []
    k = len(confusion)
    for a in range(k):
        for b in range(a + 1, k):
            errors = int(confusion[a, b] + confusion[b, a])
            if errors == 0:
                continue
            works = int(confusion[a].sum() + confusion[b].sum())
            rows.append({"pair": f"{names[a]} / {names[b]}", "errors": errors,
                         "a_as_b": int(confusion[a, b]), "b_as_a": int(confusion[b, a]),
                         "share": errors / works if works else 0.0})
    frame = pd.DataFrame(rows, columns=["pair", "errors", "a_as_b", "b_as_a", "share"])
    return frame.sort_values(["errors", "share"], ascending=False, ignore_index=True)


def evaluation_report(y_true: np.ndarray, probs: np.ndarray, out_dir: str | os.PathLike[str],
                      *, works: pd.DataFrame | None = None,
                      dataset_dir: str | os.PathLike[str] | None = None,
                      prefix: str = "test_", title: str = "model",
                      artifact_path: str = "evaluation",
                      log_to_mlflow: bool = True,
                      classes: tuple[str, ...] | None = None,
                      groups: np.ndarray | None = None) -> EvaluationReport:
    """Measure predictions against the truth, write the report files and log them.

    Parameters
    ----------
    y_true : numpy.ndarray
        ``(n,)`` class indices into :data:`~mediumnet.labels.MEDIUMS`.
    probs : numpy.ndarray
        ``(n, 5)`` predicted probabilities.
    out_dir : path-like
        Where the files go (created).
    works : pandas.DataFrame, optional
        The manifest rows of the ``n`` works (``id``, ``image_path``, ``title``): enables the
        gallery and the per-work CSV.
    dataset_dir : path-like, optional
        The folder ``image_path`` is relative to.
    prefix : str
        Metric name prefix (the split).
    title : str
        Names the model in plot titles.
    artifact_path : str
        Where the files go among the run's artifacts.
    log_to_mlflow : bool
        Log metrics and files to the active run (if there is one).
    classes : tuple of str, optional
        The mediums the model knows (default: all five). Macro-F1, the per-class table, the
        confusion matrix and the pairs cover these only; works of other mediums count as
        errors in accuracy, and a warning says how many there were.
    groups : numpy.ndarray, optional
        ``(n,)`` each work's artist group (:func:`mediumnet.data.splits.artist_groups`):
        accuracy, macro-F1 and calibration error get 95 % intervals from resampling whole
        artists (:func:`mediumnet.metrics.artist_intervals`), as ``<name>_low`` and
        ``<name>_high``.

    Returns
    -------
    EvaluationReport
    """
    from mediumnet.metrics import class_indices

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    y_true = np.asarray(y_true, int)
    probs = np.asarray(probs, np.float64)
    if len(y_true) == 0:
        raise MediumnetError("nothing to evaluate: no works with a prediction")
    classes = tuple(classes or MEDIUMS)
    outside = int((~np.isin(y_true, class_indices(classes))).sum())
    if outside:
        log.warning("%d works are of mediums the model does not know (it knows %s): they "
                    "count as errors in accuracy and are left out of the per-medium figures",
                    outside, ", ".join(classes))
    metrics, per_class, confusion, bins = _measure(y_true, probs, classes)
    ece = metrics["expected_calibration_error"]
    if groups is not None:
        from mediumnet.metrics import artist_intervals

        for name, (low, high) in artist_intervals(y_true, probs, groups, classes).items():
            metrics[f"{name}_low"], metrics[f"{name}_high"] = low, high
        metrics["artists"] = float(len(set(np.asarray(groups, dtype=object).astype(str))))
    metrics = {prefix + k: v for k, v in metrics.items()}
    pairs = confused_pairs(confusion, classes)

    files = [
        plot_confusion(confusion, out / "confusion_matrix.png", title, classes),
        plot_reliability(bins, ece, out / "reliability_diagram.png"),
    ]
    per_class.to_csv(out / "per_class.csv", index=False)
    pairs.to_csv(out / "confused_pairs.csv", index=False)
    bins.to_csv(out / "calibration_bins.csv", index=False)
    pd.DataFrame(confusion, index=classes, columns=classes).to_csv(out / "confusion_matrix.csv")
    files += [out / "per_class.csv", out / "confused_pairs.csv", out / "calibration_bins.csv",
              out / "confusion_matrix.csv"]
    if works is not None:
        files += _per_work_files(works, y_true, probs, out, dataset_dir, title)
    (out / "report.md").write_text(_markdown(metrics, per_class, pairs, prefix, title,
                                             classes, outside))
    files.append(out / "report.md")
    report = EvaluationReport(metrics, per_class, confusion, pairs, files)
    if log_to_mlflow:
        import mlflow

        if mlflow.active_run() is not None:
            mlflow.log_metrics(metrics)
            mlflow.log_artifacts(str(out), artifact_path)
    return report


def _measure(y_true: np.ndarray, probs: np.ndarray, classes: tuple[str, ...]
             ) -> tuple[dict[str, float], pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Compute the metrics, the per-medium table, the confusion matrix and calibration bins."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    from mediumnet.metrics import class_indices

    y_pred = probs.argmax(axis=1)
    labels = class_indices(classes)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    per_class = pd.DataFrame({"medium": classes, "precision": precision, "recall": recall,
                              "f1": f1, "support": support})
    ece, bins = expected_calibration_error(y_true, probs)
    # Macro-F1 over the mediums both the model and the works have: a medium the model knows
    # but the collection lacks has no F1 to speak of (it is not a zero).
    shared = [label for label in labels if label in set(y_true.tolist())] or labels
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred))
        if len(set(y_true)) > 1 else float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=shared, average="macro",
                                   zero_division=0)),
        "expected_calibration_error": ece,
        "works": float(len(y_true)),
        "mediums": float(len(classes)),
        "mediums_scored": float(len(shared)),
    }
    for row in per_class.itertuples():
        for name in ("precision", "recall", "f1"):
            metrics[f"{name}_{row.medium}"] = float(getattr(row, name))
    return metrics, per_class, confusion_matrix(y_true, y_pred, labels=labels), bins


def _per_work_files(works: pd.DataFrame, y_true: np.ndarray, probs: np.ndarray, out: Path,
                    dataset_dir: str | os.PathLike[str] | None, title: str) -> list[Path]:
    """Write ``predictions.csv`` (one row per work) and the confident-mistakes gallery."""
    y_pred = probs.argmax(axis=1)
    per_work = works[[c for c in ("id", "artist", "title", "image_path")
                      if c in works.columns]].reset_index(drop=True).copy()
    per_work["true"] = [MEDIUMS[i] for i in y_true]
    per_work["predicted"] = [MEDIUMS[i] for i in y_pred]
    per_work["confidence"] = probs.max(axis=1)
    for j, medium in enumerate(MEDIUMS):
        per_work[f"p_{medium}"] = probs[:, j]
    per_work.to_csv(out / "predictions.csv", index=False)
    files = [out / "predictions.csv"]
    if dataset_dir is not None and "image_path" in per_work:
        mistakes = per_work[per_work["true"] != per_work["predicted"]].sort_values(
            "confidence", ascending=False).head(GALLERY_SIZE)
        files.append(write_gallery(
            dataset_dir, list(mistakes["image_path"]),
            [f"{t} → {p} ({c:.0%})" for t, p, c in zip(
                mistakes["true"], mistakes["predicted"], mistakes["confidence"], strict=True)],
            out / "confident_mistakes.png",
            title=f"{title}: most confident mistakes (true → predicted)"))
    return files


def _markdown(metrics: dict[str, float], per_class: pd.DataFrame, pairs: pd.DataFrame,
              prefix: str, title: str, classes: tuple[str, ...] = MEDIUMS,
              outside: int = 0) -> str:
    m = {k[len(prefix):]: v for k, v in metrics.items()}
    left_out = [x for x in MEDIUMS if x not in classes]
    scope = (f"Scores cover the {len(classes)} mediums the model knows: {', '.join(classes)}"
             + (f" (not {', '.join(left_out)}, which it was never trained on)" if left_out
                else "") + ".")
    if outside:
        scope += (f" {outside} works of other mediums count as errors in accuracy and are "
                  "left out of the per-medium figures.")
    coverage = macro_f1_coverage_text(per_class)
    if coverage:
        scope += f" {coverage[0].upper()}{coverage[1:]}."
    lines = [f"# Evaluation of {title}", "", scope, "",
             f"{int(m['works'])} works: accuracy {m['accuracy']:.3f}, balanced accuracy "
             f"{m['balanced_accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}, expected "
             f"calibration error {m['expected_calibration_error']:.3f}."]
    if "macro_f1_low" in m:
        lines += ["", f"95 % intervals, resampling the {int(m['artists'])} artists (a hard "
                  "artist moves every figure at once): " + interval_text(m) + "."]
    lines += ["", "| medium | precision | recall | F1 | works |", "|---|---|---|---|---|"]
    lines += [f"| {r.medium} | {r.precision:.3f} | {r.recall:.3f} | {r.f1:.3f} | {r.support} |"
              for r in per_class.itertuples()]
    lines += ["", "## Most confused pairs", ""]
    if pairs.empty:
        lines.append("No confusions.")
    else:
        lines += ["| pair | errors | first as second | second as first | share of the pair |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r.pair} | {r.errors} | {r.a_as_b} | {r.b_as_a} | {r.share:.1%} |"
                  for r in pairs.itertuples()]
    return "\n".join(lines) + "\n"


def interval_text(metrics: dict[str, float]) -> str:
    """Say the intervals of :func:`evaluation_report`'s figures (names without their prefix)."""
    return ", ".join(f"{label} {metrics[f'{name}_low']:.3f}-{metrics[f'{name}_high']:.3f}"
                     for name, label in (("accuracy", "accuracy"), ("macro_f1", "macro-F1"),
                                         ("expected_calibration_error", "calibration error"))
                     if f"{name}_low" in metrics)


def macro_f1_coverage_text(per_class: pd.DataFrame) -> str:
    """Say which mediums macro-F1 is taken over when the works lack some the model knows.

    Parameters
    ----------
    per_class : pandas.DataFrame
        :attr:`EvaluationReport.per_class`: one row per medium the model knows, with its
        ``support`` (works of it).

    Returns
    -------
    str
        For example "macro-F1 is taken over the mediums these works have: photography (none
        of painting, engraving)"; empty when every medium the model knows has works.
    """
    present = per_class["support"] > 0
    if present.all() or not present.any():
        return ""
    return (f"macro-F1 is taken over the mediums these works have: "
            f"{', '.join(per_class['medium'][present])} "
            f"(none of {', '.join(per_class['medium'][~present])})")


def _mlflow_standard_evaluation(y_true: np.ndarray, y_pred: np.ndarray,
                                classes: tuple[str, ...] = MEDIUMS) -> dict[str, Any]:
    """MLflow's own classifier evaluator on the static predictions (its metrics + tables)."""
    import mlflow
    from sklearn.exceptions import UndefinedMetricWarning

    for name in ("mlflow.models.evaluation", "mlflow.models.evaluation.default_evaluator",
                 "mlflow.models.evaluation.evaluators.classifier",
                 "mlflow.models.evaluation.evaluators.shap"):
        logging.getLogger(name).setLevel(logging.ERROR)
    data = pd.DataFrame({"target": [MEDIUMS[i] for i in y_true],
                         "prediction": [MEDIUMS[i] for i in y_pred]})
    with warnings.catch_warnings():
        # MLflow's evaluator leaves scikit-learn's zero_division unset, so a medium without
        # works or answers (common on a new collection) printed a warning a user cannot act
        # on; our own figures set it to 0 and say which mediums macro-F1 covers.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        result = mlflow.models.evaluate(
            data=data, predictions="prediction", targets="target", model_type="classifier",
            evaluator_config={"label_list": [m for m in MEDIUMS if m in classes
                                              or m in set(data["target"])],
                              "log_model_explainability": False})
    return dict(result.metrics)


def evaluate_model(model_uri: str, dataset_dir: str | os.PathLike[str], *,
                   split: str = "test", config: Config | None = None,
                   progress: bool = True) -> EvaluationReport:
    """Evaluate any mediumnet model on a split of a dataset, as an MLflow run ``evaluate``.

    The model sees the raw image files exactly as it would when served. The report files go
    to ``DATASET_DIR/evaluation/<model>-<split>/`` and to the run's ``evaluation`` artifacts.

    Parameters
    ----------
    model_uri : str
        ``models:/mediumnet-ensemble@champion``, ``models:/mediumnet-texture/2``,
        ``runs:/<id>/model`` …
    dataset_dir : path-like
        A split dataset folder.
    split : {"train", "val", "test", "all"}
        ``all``: every labelled work, split or not (a new collection), but those whose
        medium is a model's answer (never measured against). Works of mediums the model
        does not know are left out and counted; scores cover the mediums both share.
    config : Config, optional
        Logged with the run.

    Raises
    ------
    MediumnetError
        No such split, no works in it, or a URI that is not a mediumnet model.
    """
    from mediumnet.data.manifest import labelled, manifest_digest, read_manifest
    from mediumnet.data.splits import artist_groups

    if split not in EVALUATION_SPLITS:
        raise MediumnetError(f"unknown split {split!r}: choose {', '.join(EVALUATION_SPLITS)}")
    started = time.perf_counter()
    root = Path(dataset_dir)
    manifest = read_manifest(root)
    answered = 0
    if split == "all":  # a collection never split: every labelled work but a model's answers
        from mediumnet.data.splits import model_answers

        works = labelled(manifest)
        answers = model_answers(works)
        answered, works = int(answers.sum()), works[~answers].reset_index(drop=True)
        if works.empty:
            raise MediumnetError(f"{root} has no labelled works to evaluate on"
                                 + (f" but {answered} whose medium is a model's answer"
                                    if answered else ""))
    else:
        from mediumnet.data.splits import SPLIT_NAMES, require_split

        if not manifest["split"].fillna("").isin(SPLIT_NAMES).any():
            raise MediumnetError(f"{root} is not split: evaluate every labelled work with "
                                 f"--split all, or run mediumnet split {root} first")
        works = require_split(manifest, split, root).reset_index(drop=True)

    import mlflow

    from mediumnet.ensemble.model import load_classifier
    from mediumnet.names import TAG_MEDIUMS
    from mediumnet.tracking import start_run

    classifier = load_classifier(model_uri)
    # Works of mediums the model was never shown cannot be told: left out, and counted.
    unknown = ~works["label"].isin(classifier.classes)
    left_out = works[unknown]["label"].value_counts().to_dict()
    works = works[~unknown].reset_index(drop=True)
    if works.empty:
        raise MediumnetError(f"no work of {root} ({split}) is of a medium the model knows "
                             f"({', '.join(classifier.classes)})")
    if left_out:
        log.warning("%d works of mediums the model does not know are left out (%s)",
                    sum(left_out.values()), ", ".join(f"{m} {n}" for m, n in left_out.items()))
    with start_run("evaluate", config=config, dataset_digest=manifest_digest(manifest),
                   dataset_dir=root, params={"model_uri": model_uri, "split": split}) as run:
        probs, errors = classifier.predict_proba([str(root / p) for p in works["image_path"]])
        ok = np.array([e is None for e in errors])
        failed = {works["id"][i]: e for i, e in enumerate(errors) if e is not None}
        if failed:
            log.warning("%d of %d images could not be read; evaluated without them",
                        len(failed), len(works))
        y_true = np.array([MEDIUMS.index(label) for label in works["label"]])
        out = root / "evaluation" / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', model_uri)}-{split}"
        report = evaluation_report(y_true[ok], probs[ok], out, works=works[ok],
                                   dataset_dir=root, prefix=f"{split}_", title=model_uri,
                                   classes=classifier.classes,
                                   groups=artist_groups(works[ok]).to_numpy())
        mlflow.set_tag(TAG_MEDIUMS, ",".join(classifier.classes))
        standard = _mlflow_standard_evaluation(y_true[ok], probs[ok].argmax(axis=1),
                                               classifier.classes)
        mlflow.log_metrics({f"{split}_unreadable": float(len(failed)),
                            f"{split}_left_out_unknown_medium": float(sum(left_out.values())),
                            f"{split}_left_out_model_answers": float(answered),
                            "seconds": time.perf_counter() - started})
        report.metrics.update({f"mlflow_{k}": float(v) for k, v in standard.items()
                               if isinstance(v, int | float)})
        report.run_id = run.info.run_id
        report.failed = failed
        report.left_out = {str(k): int(v) for k, v in left_out.items()}
        report.answers_left_out = answered
    return report
