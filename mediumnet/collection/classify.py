"""A medium for the works whose records give none, and the right to say "not sure".

``mediumnet classify DATASET`` asks a model (the champion by default) about every unlabelled
work of a data set (``harvest --keep-unlabelled``). It abstains below a confidence threshold
chosen on the data set's validation works, where the true mediums are known: the lowest
confidence above which the model's answers are right at least ``precision`` of the time
(0.95 by default). The table (CSV) and a page with thumbnails, most confident first, go to
``DATASET_DIR/classify/`` and to an MLflow run.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS
from mediumnet.metrics import confidence_text

if TYPE_CHECKING:
    from mediumnet.config import Config

log = logging.getLogger("mediumnet")
CLASSIFY_DIR = "classify"


@dataclass(frozen=True)
class Threshold:
    """A confidence below which the model abstains, and what it gives on validation works."""

    confidence: float
    """Answers below it are withheld (above 1: every answer is)."""
    precision: float
    """Of the validation works answered at or above it, the share answered right."""
    coverage: float
    """The share of validation works answered at or above it."""
    works: int
    """Validation works it was chosen on."""
    best_precision: float = float("nan")
    """When no threshold reaches the precision asked for: the highest any threshold gives."""
    best_coverage: float = float("nan")
    """The share of validation works that best threshold answers."""

    @property
    def reached(self) -> bool:
        """Whether the threshold chosen reached the precision asked for (a given one does)."""
        return not self.works or self.confidence <= 1.0


def choose_threshold(y: np.ndarray, probs: np.ndarray, target: float = 0.95) -> Threshold:
    """Return the lowest confidence at and above which answers are right ``target`` of the time.

    Parameters
    ----------
    y : numpy.ndarray
        True class indices of the works (validation).
    probs : numpy.ndarray
        ``(n, k)`` probabilities the model gave them.
    target : float
        The precision wanted of the answers kept.

    Returns
    -------
    Threshold
        With confidence above 1 when no threshold reaches ``target`` (the model abstains on
        everything); its ``best_precision`` and ``best_coverage`` then say how near the best
        threshold came.
    """
    confidence = probs.max(axis=1)
    right = probs.argmax(axis=1) == y
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(right[order])
    precision = hits / np.arange(1, len(order) + 1)
    # Candidates end where a run of equal confidences ends (a threshold keeps all of them).
    ends = [i for i in range(len(order)) if i == len(order) - 1
            or confidence[order[i]] != confidence[order[i + 1]]]
    good = [i for i in ends if precision[i] >= target]
    if not good:
        best = max(ends, key=lambda i: (precision[i], i), default=None)
        return Threshold(1.01, 0.0, 0.0, len(y),
                         float(precision[best]) if best is not None else float("nan"),
                         (best + 1) / len(y) if best is not None else float("nan"))
    last = max(good)
    return Threshold(float(confidence[order[last]]), float(precision[last]),
                     (last + 1) / len(y), len(y))


@dataclass
class ClassifyResult:
    """What :func:`run_classify` answered and wrote."""

    table: pd.DataFrame
    threshold: Threshold
    csv: Path
    page: Path
    seconds: float
    run_location: str = ""
    unknown_mediums: dict[str, int] = field(default_factory=dict)
    """Labelled works of the data set, by medium, whose medium the model does not know: it
    cannot give that medium, so the unlabelled works of it get another."""
    model_mediums: tuple[str, ...] = ()
    """The mediums the model gives."""

    @property
    def answered(self) -> int:
        """Unlabelled works given a medium (not abstained, readable)."""
        return int((~self.table["abstained"] & self.table["error"].isna()).sum())


def threshold_text(threshold: Threshold, precision: float) -> str:
    """Say how the abstention threshold came about, in one clause (the command, the page).

    When no threshold reached ``precision``, say so, how near the best came, and what to do.
    """
    t = threshold
    if not t.works:
        return "as given"
    if not t.reached:
        best = (f" (the best, {t.best_precision:.1%}, answering {t.best_coverage:.0%})"
                if not np.isnan(t.best_precision) else "")
        return (f"no confidence threshold gives precision {precision:.0%} on the {t.works} "
                f"validation works of mediums the model knows{best}: train one on this "
                "collection (mediumnet stack), ask for less with --precision, or give "
                "--threshold")
    return (f"chosen on {t.works} validation works, where answers at or above it were right "
            f"{t.precision:.1%} of the time and covered {t.coverage:.0%} of them")


def unknown_mediums_text(model_mediums: tuple[str, ...], unknown: dict[str, int]) -> str:
    """Say which of a collection's mediums the model cannot give, and what that means."""
    held = ", ".join(f"{m} ({n})" for m, n in unknown.items())
    return (f"the model gives only {', '.join(model_mediums)}; this collection's labelled works "
            f"also hold {held}, so its unlabelled works of "
            f"{'that medium' if len(unknown) == 1 else 'those mediums'} get another")


def _threshold(classifier, root: Path, manifest: pd.DataFrame, precision: float,
               given: float | None) -> Threshold:
    """Return the abstention threshold: given, or chosen on the validation works."""
    if given is not None:
        return Threshold(given, float("nan"), float("nan"), 0)
    val = manifest[manifest["split"] == "val"]
    val = val[val["label"].isin(classifier.classes)]
    if val.empty:
        raise MediumnetError(f"{root} has no validation works to choose the abstention "
                             "threshold on: run mediumnet split, or give --threshold")
    probs, errors = classifier.predict_proba([str(root / p) for p in val["image_path"]])
    ok = np.array([e is None for e in errors])
    y = np.array([MEDIUMS.index(v) for v in val["label"]])
    return choose_threshold(y[ok], probs[ok], precision)


def _table(works: pd.DataFrame, probs: np.ndarray, errors: list, threshold: Threshold
           ) -> pd.DataFrame:
    best = np.nan_to_num(probs, nan=-1).argmax(axis=1)
    confidence = np.nanmax(np.where(np.isnan(probs), -1, probs), axis=1)
    failed = np.array([e is not None for e in errors])
    table = pd.DataFrame({
        "id": works["id"].to_numpy(), "image_path": works["image_path"].to_numpy(),
        "suggested_label": [None if f else MEDIUMS[i] for f, i in zip(failed, best,
                                                                      strict=True)],
        "confidence": np.where(failed, np.nan, confidence),
        "abstained": ~failed & (confidence < threshold.confidence),
        "medium_text": works["medium_text"].fillna("").to_numpy(),
        "label_reason": works["label_reason"].fillna("").to_numpy(),
        "title": works["title"].fillna("").to_numpy(),
        "artist": works["artist"].fillna("").to_numpy(),
        "error": pd.Series(errors, dtype=object)})
    for j, medium in enumerate(MEDIUMS):
        table[f"p_{medium}"] = probs[:, j]
    return table.sort_values("confidence", ascending=False, na_position="last",
                             kind="stable").reset_index(drop=True)


def run_classify(dataset_dir: str | os.PathLike[str], config: Config | None = None, *,
                 model_uri: str | None = None, precision: float = 0.95,
                 threshold: float | None = None,
                 out: str | os.PathLike[str] | None = None) -> ClassifyResult:
    """Classify the unlabelled works of a data set, abstaining where unsure; an MLflow run.

    Parameters
    ----------
    dataset_dir : path-like
        A data set with unlabelled works (and a validation split, unless ``threshold``).
    config : Config, optional
        Logged with the run.
    model_uri : str, optional
        The model (default ``models:/mediumnet-ensemble@champion``).
    precision : float
        The precision wanted of the answers kept, on the validation works.
    threshold : float, optional
        A confidence threshold to use instead of choosing one.
    out : path-like, optional
        Where the CSV goes (default ``DATASET_DIR/classify/classified.csv``); the page beside
        it, ``.html``.

    Raises
    ------
    MediumnetError
        No unlabelled works, no validation works to choose the threshold on, or a model that
        does not load.
    """
    import mlflow

    from mediumnet.collection.page import write_table
    from mediumnet.data.manifest import labelled, manifest_digest, read_manifest, unlabelled
    from mediumnet.ensemble.model import load_classifier
    from mediumnet.registry import model_uri as registered
    from mediumnet.tracking import run_location, start_run

    if not 0 < precision <= 1:
        raise MediumnetError(f"--precision {precision}: give a share above 0, at most 1")
    started = time.perf_counter()
    root = Path(dataset_dir)
    manifest = read_manifest(root)
    works = unlabelled(manifest).reset_index(drop=True)
    if works.empty:
        raise MediumnetError(f"{root} has no unlabelled works (harvest with --keep-unlabelled "
                             "keeps the works whose records name no medium)")
    uri = model_uri or registered("ensemble")
    classifier = load_classifier(uri)
    chosen = _threshold(classifier, root, manifest, precision, threshold)
    probs, errors = classifier.predict_proba([str(root / p) for p in works["image_path"]])
    table = _table(works, probs, errors, chosen)
    known = labelled(manifest)["label"]
    unknown = known[~known.isin(classifier.classes)]
    unknown_mediums = {m: int(n) for m, n in unknown.value_counts().items()}
    intro = [f"Model {uri}. " + (
        f"It abstains (highlighted) below confidence {confidence_text(chosen.confidence)} "
        f"({threshold_text(chosen, precision)})." if chosen.reached else
        f"It abstains on every work: {threshold_text(chosen, precision)}.")]
    if unknown_mediums:
        intro.append(unknown_mediums_text(tuple(classifier.classes), unknown_mediums) + ".")
    csv, page = write_table(table, Path(out) if out else root / CLASSIFY_DIR / "classified.csv",
                            root, title="Unlabelled works: the model's mediums",
                            intro=intro,
                            columns=["suggested_label", "confidence", "abstained",
                                     "medium_text", "label_reason", "title", "artist", "id",
                                     "error"],
                            marked="abstained")
    result = ClassifyResult(table, chosen, csv, page, 0.0, unknown_mediums=unknown_mediums,
                            model_mediums=tuple(classifier.classes))
    with start_run("classify", config=config, dataset_digest=manifest_digest(manifest),
                   dataset_dir=root, params={"model_uri": uri, "precision": precision},
                   tags={"mediumnet.classified_with": uri}) as run:
        mlflow.log_metrics({"unlabelled": float(len(table)),
                            "answered": float(result.answered),
                            "abstained": float(table["abstained"].sum()),
                            "threshold": chosen.confidence,
                            "val_precision_at_threshold": np.nan_to_num(chosen.precision),
                            "val_coverage_at_threshold": np.nan_to_num(chosen.coverage),
                            "labelled_unknown_medium": float(sum(unknown_mediums.values()))})
        mlflow.log_artifact(str(csv), CLASSIFY_DIR)
        mlflow.log_artifact(str(page), CLASSIFY_DIR)
        result.run_location = run_location(run)
    result.seconds = time.perf_counter() - started
    return result
