"""The whole-collection audit: every labelled work checked, the doubtful attributions ranked.

``mediumnet audit DATASET`` gives every labelled work — train included — probabilities from
models that did not learn from it or from its artist (:mod:`mediumnet.collection.crossfit`),
and ranks the works by confident-learning evidence (cleanlab): a work is *flagged* when its
given medium is unlikely beside the others of the collection, as cleanlab's
``find_label_issues`` judges at its default cut (per-medium confidence thresholds, pruned by
the estimated noise rates); its *score* is the probability of its given medium. The table
(CSV) and a page with thumbnails (HTML) go to ``DATASET_DIR/audit/`` and to an MLflow run.
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

if TYPE_CHECKING:
    from mediumnet.collection.crossfit import CrossFit
    from mediumnet.config import Config

log = logging.getLogger("mediumnet")
AUDIT_DIR = "audit"
AUDIT_CSV = "audit.csv"
"""Where the table goes in ``DATASET_DIR/AUDIT_DIR`` (``--out`` aside); suggest reads it."""
COLUMNS = ("rank", "id", "image_path", "label", "suggested_label", "score", "p_suggested",
           "flagged", "medium_text", "label_reason", "artist", "title", "split", "fold")
"""The audit table's columns, then ``p_<medium>`` for the five mediums."""


@dataclass
class AuditResult:
    """What :func:`run_audit` found and wrote."""

    table: pd.DataFrame
    """One row per labelled work the branches could measure, flagged ones first."""
    csv: Path
    page: Path
    folds: int
    branches: tuple[str, ...]
    seconds: float
    run_id: str = ""
    run_location: str = ""
    left_out: int = 0
    """Labelled works that could not be measured (unreadable images)."""
    unlabelled: int = 0
    """Works with no medium to audit (``harvest --keep-unlabelled``)."""
    notes: list[str] = field(default_factory=list)
    macro_f1: float = float("nan")
    """Of the out-of-fold predictions, over the collection's mediums: the in-collection
    figure of the cross-fitted model (given labels as the truth, doubtful ones included)."""

    @property
    def flagged(self) -> int:
        """Works flagged at the default cut."""
        return int(self.table["flagged"].sum())


def audit_table(fit: CrossFit) -> pd.DataFrame:
    """Turn out-of-fold probabilities into the audit table, flagged works first."""
    from mediumnet.ensemble.audit import flag_label_issues

    flags, score = flag_label_issues(fit.y, fit.probs, fit.classes)
    suggested = fit.probs.argmax(axis=1)
    works = fit.works
    table = pd.DataFrame({
        "id": works["id"], "image_path": works["image_path"], "label": works["label"],
        "suggested_label": [MEDIUMS[i] for i in suggested], "score": score,
        "p_suggested": fit.probs[np.arange(len(suggested)), suggested], "flagged": flags,
        "medium_text": works["medium_text"].fillna(""),
        "label_reason": works["label_reason"].fillna(""), "artist": works["artist"].fillna(""),
        "title": works["title"].fillna(""), "split": works["split"].fillna(""),
        "fold": fit.fold})
    for j, medium in enumerate(MEDIUMS):
        table[f"p_{medium}"] = fit.probs[:, j]
    table = table.sort_values(["flagged", "score"], ascending=[False, True], kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def _write(table: pd.DataFrame, root: Path, out: Path | None, fit: CrossFit, folds: int
           ) -> tuple[Path, Path]:
    from mediumnet.collection.page import write_table

    flagged = int(table["flagged"].sum())
    return write_table(
        table, Path(out) if out else root / AUDIT_DIR / AUDIT_CSV, root,
        title="Attributions to re-check",
        intro=[f"{flagged} of {len(table)} labelled works are flagged (highlighted, first): "
               "their given medium is unlikely beside the rest of the collection. Each "
               "work was judged by models that did not learn from it or its artist "
               f"({folds} folds grouped by artist; branches: {', '.join(fit.branches)}). "
               "Score: the probability of the given medium."],
        columns=[c for c in COLUMNS if c not in ("image_path", "fold")], marked="flagged")


def run_audit(dataset_dir: str | os.PathLike[str], config: Config, *,
              out: str | os.PathLike[str] | None = None, folds: int = 5,
              branches: tuple[str, ...] | None = None, progress: bool = True) -> AuditResult:
    """Audit every labelled work of a data set, as an MLflow run ``audit``.

    Parameters
    ----------
    dataset_dir : path-like
        A harvested data set (split or not: the splits are not used).
    config : Config
        The fitted branches' settings and learners.
    out : path-like, optional
        Where the CSV goes (default ``DATASET_DIR/audit/audit.csv``); the page goes beside it
        with the suffix ``.html``.
    folds : int
        Cross-fitting folds, grouped by artist.
    branches : tuple of str, optional
        The fitted branches to use (default: those on).
    progress : bool
        Show progress bars.

    Raises
    ------
    MediumnetError
        No labelled works, fewer than two mediums, or too few artists.
    """
    import mlflow

    from mediumnet.collection.crossfit import cross_fit
    from mediumnet.data.manifest import labelled, manifest_digest, read_manifest
    from mediumnet.metrics import macro_f1
    from mediumnet.tracking import run_location, start_run

    if folds < 2:
        raise MediumnetError(f"--folds {folds}: give 2 or more")
    started = time.perf_counter()
    root = Path(dataset_dir)
    manifest = read_manifest(root)
    works = labelled(manifest)
    if works.empty:
        raise MediumnetError(f"{root} has no labelled works to audit")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    fit = cross_fit(root, works, config, folds=folds, branches=branches, progress=progress)
    table = audit_table(fit)
    csv, page = _write(table, root, Path(out) if out else None, fit, folds)
    result = AuditResult(table, csv, page, folds, fit.branches, 0.0,
                         left_out=len(works) - len(table),
                         unlabelled=len(manifest) - len(works),
                         macro_f1=macro_f1(fit.y, fit.probs.argmax(axis=1), fit.classes))
    with start_run("audit", config=config, dataset_digest=manifest_digest(manifest),
                   dataset_dir=root, params={"folds": folds, "branches": ",".join(fit.branches),
                                             "works": len(table)}) as run:
        mlflow.log_metrics({"flagged": float(result.flagged),
                            "flagged_share": result.flagged / max(1, len(table)),
                            "left_out": float(result.left_out),
                            "crossfit_macro_f1": result.macro_f1})
        mlflow.log_artifact(str(csv), AUDIT_DIR)
        mlflow.log_artifact(str(page), AUDIT_DIR)
        result.run_id, result.run_location = run.info.run_id, run_location(run)
    result.seconds = time.perf_counter() - started
    return result
