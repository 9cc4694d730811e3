"""The whole-collection audit: every labelled work checked, the doubtful attributions ranked.

``mediumnet audit DATASET`` gives every labelled work — train included — probabilities from
models that did not learn from it or from its artist (:mod:`mediumnet.collection.crossfit`),
and ranks the works by confident-learning evidence (cleanlab): a work is *flagged* when its
given medium is unlikely beside the others of the collection, as cleanlab's
``find_label_issues`` judges at its default cut (per-medium confidence thresholds, pruned by
the estimated noise rates); its *score* is the probability of its given medium. A work whose
medium a curator wrote in a sheet (given, confirmed or upheld: ``mediumnet label``) is
*reviewed*: it is judged like the others but not flagged again, and the works the model still
doubts among those are counted. A medium whose works are all by one artist cannot be judged
out-of-fold, and one with fewer works than folds skews the learners chosen and the per-medium
cuts for every other: such a medium's works are left out and said, and the rest audited. The
table (CSV) and a page with thumbnails (HTML) go to ``DATASET_DIR/audit/`` and to an MLflow
run.
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
           "flagged", "reviewed", "medium_text", "label_reason", "artist", "title", "split", "fold")
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
    not_audited: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Mediums left out, each with its works and artists: by one artist only (no model that
    did not learn from it knows the medium) or with fewer works than folds."""
    notes: list[str] = field(default_factory=list)
    """What the audit did not flag or judge, and why, one line each (printed, and on the
    page)."""
    doubted_reviewed: int = 0
    """Works confident learning doubts whose medium a curator wrote (``reviewed``): not
    flagged again."""
    macro_f1: float = float("nan")
    """Of the out-of-fold predictions, over the collection's mediums: the in-collection
    figure of the cross-fitted model (given labels as the truth, doubtful ones included)."""

    @property
    def flagged(self) -> int:
        """Works flagged at the default cut."""
        return int(self.table["flagged"].sum())


def audit_table(fit: CrossFit) -> tuple[pd.DataFrame, int]:
    """Turn out-of-fold probabilities into the audit table, flagged works first.

    Returns
    -------
    (pandas.DataFrame, int)
        The table, and how many works confident learning doubts that are not flagged because
        a curator wrote their medium (``reviewed``).
    """
    from mediumnet.data.labelling import reviewed_by_curator
    from mediumnet.ensemble.audit import flag_label_issues

    doubted, score = flag_label_issues(fit.y, fit.probs, fit.classes)
    suggested = fit.probs.argmax(axis=1)
    works = fit.works
    reviewed = works["label_reason"].map(reviewed_by_curator).to_numpy(bool)
    table = pd.DataFrame({
        "id": works["id"], "image_path": works["image_path"], "label": works["label"],
        "suggested_label": [MEDIUMS[i] for i in suggested], "score": score,
        "p_suggested": fit.probs[np.arange(len(suggested)), suggested],
        "flagged": doubted & ~reviewed, "reviewed": reviewed,
        "medium_text": works["medium_text"].fillna(""),
        "label_reason": works["label_reason"].fillna(""), "artist": works["artist"].fillna(""),
        "title": works["title"].fillna(""), "split": works["split"].fillna(""),
        "fold": fit.fold})
    for j, medium in enumerate(MEDIUMS):
        table[f"p_{medium}"] = fit.probs[:, j]
    table = table.sort_values(["flagged", "score"], ascending=[False, True], kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True), int((doubted & reviewed).sum())


def not_audited_text(not_audited: dict[str, tuple[int, int]], folds: int) -> str:
    """Say which mediums were left out of the audit, and what each would need."""
    held = ", ".join(f"{m} ({n} work{'' if n == 1 else 's'} by {a} artist{'' if a == 1 else 's'})"
                     for m, (n, a) in not_audited.items())
    return (f"not audited: {held}; a medium needs works by two or more artists, and at least "
            f"as many works as folds ({folds}), to be judged out-of-fold (add works to audit "
            f"{'it' if len(not_audited) == 1 else 'them'})")


def _thin_mediums(works: pd.DataFrame, folds: int) -> dict[str, tuple[int, int]]:
    """Return the mediums too thin to audit, each with its works and artists.

    Thin: by one artist only, or with fewer works than folds. Only when two mediums or more
    remain without them: else nothing is left out, and the cross-fit says what is missing.
    """
    from mediumnet.data.splits import artist_groups

    labels = works["label"].to_numpy()
    artists = artist_groups(works).groupby(labels).nunique()
    counts = works.groupby(labels).size()
    thin = {m: (int(counts[m]), int(artists[m])) for m in MEDIUMS
            if m in artists.index and (artists[m] < 2 or counts[m] < folds)}
    return thin if len(artists) - len(thin) >= 2 else {}


def reviewed_text(doubted_reviewed: int) -> str:
    """Say how many doubted works are not flagged because a curator wrote their medium."""
    return (f"{doubted_reviewed} more the model doubts "
            f"{'is' if doubted_reviewed == 1 else 'are'} not flagged: a curator wrote "
            f"{'its medium' if doubted_reviewed == 1 else 'their mediums'} in a sheet "
            "(reviewed)")


def _write(table: pd.DataFrame, root: Path, out: Path | None, fit: CrossFit, folds: int,
           notes: list[str]) -> tuple[Path, Path]:
    from mediumnet.collection.page import write_table

    flagged = int(table["flagged"].sum())
    return write_table(
        table, Path(out) if out else root / AUDIT_DIR / AUDIT_CSV, root,
        title="Attributions to re-check",
        intro=[f"{flagged} of {len(table)} labelled works are flagged (highlighted, first): "
               "their given medium is unlikely beside the rest of the collection. Each "
               "work was judged by models that did not learn from it or its artist "
               f"({folds} folds grouped by artist; branches: {', '.join(fit.branches)}). "
               "Score: the probability of the given medium."]
              + [f"{note[0].upper()}{note[1:]}." for note in notes],
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
        No labelled works, fewer than two mediums, or too few artists (a medium by one artist,
        or with fewer works than ``folds``, is left out and said when two others remain).
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
    unlabelled = len(manifest) - len(works)
    not_audited = _thin_mediums(works, folds)
    works = works[~works["label"].isin(not_audited)]
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    fit = cross_fit(root, works, config, folds=folds, branches=branches, progress=progress)
    asked, folds = folds, int(fit.fold.max()) + 1      # fewer than asked for a thin medium
    table, doubted_reviewed = audit_table(fit)
    notes = ([reviewed_text(doubted_reviewed)] if doubted_reviewed else []) + (
        [not_audited_text(not_audited, asked)] if not_audited else [])
    csv, page = _write(table, root, Path(out) if out else None, fit, folds, notes)
    result = AuditResult(table, csv, page, folds, fit.branches, 0.0,
                         left_out=len(works) - len(table), unlabelled=unlabelled,
                         not_audited=not_audited, notes=notes,
                         doubted_reviewed=doubted_reviewed,
                         macro_f1=macro_f1(fit.y, fit.probs.argmax(axis=1), fit.classes))
    with start_run("audit", config=config, dataset_digest=manifest_digest(manifest),
                   dataset_dir=root, params={"folds": folds, "branches": ",".join(fit.branches),
                                             "works": len(table)}) as run:
        mlflow.log_metrics({"flagged": float(result.flagged),
                            "flagged_share": result.flagged / max(1, len(table)),
                            "left_out": float(result.left_out),
                            "doubted_reviewed": float(doubted_reviewed),
                            "not_audited": float(sum(n for n, _ in not_audited.values())),
                            "crossfit_macro_f1": result.macro_f1})
        mlflow.log_artifact(str(csv), AUDIT_DIR)
        mlflow.log_artifact(str(page), AUDIT_DIR)
        result.run_id, result.run_location = run.info.run_id, run_location(run)
    result.seconds = time.perf_counter() - started
    return result
