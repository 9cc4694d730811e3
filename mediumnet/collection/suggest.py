"""Which works to label next: the ones a model is least sure of, spread over the collection.

``mediumnet suggest DATASET --budget N`` picks ``N`` unlabelled works (and, with
``--doubtful``, works the last audit flagged) whose labels would teach a model most. The
model the audit scores, fit on the labelled works (a scaled logistic regression, balanced,
on each fitted branch that is on — the features and the embedding by default — their
probabilities averaged), is asked about the candidates; a candidate's *uncertainty* is one
minus the margin between its two likeliest mediums. The ``5 x N`` most uncertain are cut
into ``N`` regions of the space of the last fitted branch on (the embedding by default, in
16 principal components) by k-means weighted by uncertainty, and the candidate nearest each
region's centre is picked, so that ``N`` picks are not ``N`` copies of one hard case. While
fewer than 10 works a medium are labelled (or one medium only), the picks are the
collection's typical works, one per region that no labelled work holds yet: a model of so
few knows too little to say what it is unsure of. The sheet (CSV, with an empty ``label``
column to fill in) and a page with thumbnails go to ``DATASET_DIR/suggest/``; ``mediumnet
label DATASET --from SHEET`` takes the filled sheet back.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mediumnet.config import Config

log = logging.getLogger("mediumnet")
SUGGEST_DIR = "suggest"
SHEET = "to_label.csv"
"""The sheet to fill in, in ``DATASET_DIR/SUGGEST_DIR``."""
POOL = 5
"""The most uncertain ``POOL x N`` candidates are the ones the picks are spread over."""
TYPICAL_BELOW = 10
"""Below this many labelled works a medium, the picks are typical works, not uncertain ones."""
COMPONENTS = 16
"""The regions are cut in at most this many principal components of the space."""


def uncertainty(probs: np.ndarray) -> np.ndarray:
    """One minus the margin between the two likeliest classes: 1 is a coin toss."""
    top = np.sort(probs, axis=1)
    return 1.0 - (top[:, -1] - top[:, -2]) if probs.shape[1] > 1 else np.zeros(len(probs))


def pick(candidates: np.ndarray, budget: int, *, weights: np.ndarray | None = None,
         known: np.ndarray | None = None, seed: int = 0) -> list[int]:
    """Choose ``budget`` rows of ``candidates``: typical of their region, one per region.

    The candidates (scaled, reduced to at most :data:`COMPONENTS` principal components) are cut
    into ``budget`` regions by k-means, each candidate weighted by its uncertainty; from each
    region the candidate nearest its centre is picked (Zhdanov, *Diverse mini-batch active
    learning*, 2019). Unweighted, the picks are the collection's typical works, one per region,
    which is what a model with no labels yet learns most from (Hacohen et al., *TypiClust*,
    2022); farthest-first picks would be its outliers. Given where the labelled works lie, the
    regions are cut over them and the candidates together, one more for each labelled work, and
    the picks come from the regions no labelled work holds, the heaviest first (TypiClust's
    rule): typical works of what the labels do not cover yet.

    Parameters
    ----------
    candidates : numpy.ndarray
        ``(n, d)`` where each candidate lies (embeddings).
    budget : int
        How many to pick (at most ``n``).
    weights : numpy.ndarray, optional
        ``(n,)`` uncertainty of each candidate (default: all 1: spread alone).
    known : numpy.ndarray, optional
        ``(m, d)`` where the labelled works lie, in the candidates' space (each of weight 1).
    seed : int
        Seeds the k-means starts.

    Returns
    -------
    list of int
        Indices into ``candidates``, the heaviest region's pick first (an uncovered region
        before a covered one).
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    n = len(candidates)
    budget = min(budget, n)
    if budget <= 0:
        return []
    weights = np.ones(n) if weights is None else np.clip(np.asarray(weights, float), 1e-3, None)
    if budget == n:
        return [int(i) for i in np.argsort(-weights, kind="stable")]
    held = 0 if known is None else len(known)
    points = np.asarray(candidates if not held else np.concatenate([known, candidates]),
                        np.float64)
    points = (points - points.mean(axis=0)) / (points.std(axis=0) + 1e-9)
    points = PCA(min(COMPONENTS, *points.shape), random_state=seed).fit_transform(points)
    count = budget + held
    regions = KMeans(count, n_init=3, random_state=seed).fit(
        points, sample_weight=np.concatenate([np.ones(held), weights]))
    off_centre = ((points - regions.cluster_centers_[regions.labels_]) ** 2).sum(axis=1)
    region_of, off_centre = regions.labels_[held:], off_centre[held:]
    mass = np.bincount(region_of, weights=weights, minlength=count)
    covered = np.isin(np.arange(count), regions.labels_[:held])
    chosen = []
    for region in np.lexsort((-mass, covered)):   # uncovered first, then by mass
        members = np.flatnonzero(region_of == region)
        if len(members) and len(chosen) < budget:
            chosen.append(int(members[np.argmin(off_centre[members])]))
    return chosen


def picks_typical(y_known: np.ndarray) -> bool:
    """Return whether :func:`suggest_picks` picks typical works for these labels.

    So it does with fewer than :data:`TYPICAL_BELOW` labelled works a medium (on average over
    the mediums known), or fewer than two mediums known.
    """
    mediums = len(set(np.asarray(y_known).tolist()))
    return mediums < 2 or len(y_known) < TYPICAL_BELOW * mediums


def why_typical(y_known: np.ndarray) -> str:
    """Say why :func:`suggest_picks` picks typical works for these labels ("" when it does not).

    Parameters
    ----------
    y_known : numpy.ndarray
        The labelled works' mediums, as indices into :data:`~mediumnet.labels.MEDIUMS`.

    Returns
    -------
    str
        "no labelled works yet", "<medium> is the only medium labelled", or "fewer than 10
        labelled works a medium"; empty when the picks are the uncertain ones.
    """
    if not picks_typical(y_known):
        return ""
    mediums = sorted(set(np.asarray(y_known).tolist()))
    if not mediums:
        return "no labelled works yet"
    if len(mediums) == 1:
        return f"{MEDIUMS[mediums[0]]} is the only medium labelled"
    return f"fewer than {TYPICAL_BELOW} labelled works a medium"


def suggest_picks(x_known: np.ndarray, y_known: np.ndarray, x_candidates: np.ndarray,
                  budget: int, *, scored: Mapping[str, tuple[np.ndarray, np.ndarray]]
                  | None = None, learner=None, seed: int = 0, pool_factor: int = POOL
                  ) -> tuple[list[int], np.ndarray]:
    """Pick ``budget`` candidates to label: uncertain under a model of the known, spread out.

    The picks are spread over the space ``x_*`` gives; the uncertainty is that of the model
    ``scored`` names, one learner per input, their probabilities averaged (the audit's
    model), or of one learner on the space.

    With fewer than :data:`TYPICAL_BELOW` labelled works a medium (on average over the
    mediums known), or one medium known, the picks are instead the typical works of the
    regions no labelled work holds yet (:func:`pick` given ``known``): a model of so few is a
    poor judge of what it is unsure of.

    Parameters
    ----------
    x_known, y_known : numpy.ndarray
        The labelled works' inputs (where they lie) and class indices.
    x_candidates : numpy.ndarray
        The candidates' inputs, in the same space.
    budget : int
    scored : mapping, optional
        ``{branch name: (known works' inputs, candidates' inputs)}``, rows in the order of
        ``x_known`` and ``x_candidates`` (default: the space alone).
    learner : scikit-learn estimator, optional
        Fit (a copy) on each of the known works' inputs (default: scaled logistic
        regression, balanced, C = 0.1).
    seed : int
        Seeds the regions (:func:`pick`).
    pool_factor : int
        The uncertain picks are spread over the ``pool_factor x budget`` most uncertain
        candidates (default :data:`POOL`).

    Returns
    -------
    (list of int, numpy.ndarray)
        The picks (indices into the candidates, in order) and every candidate's ``(n, 5)``
        probabilities (NaN with fewer than two mediums known).

    Raises
    ------
    MediumnetError
        A ``pool_factor`` below 1.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mediumnet.collection.crossfit import averaged_proba

    if pool_factor < 1:
        raise MediumnetError(f"pool_factor {pool_factor}: give 1 or more")
    probs = np.full((len(x_candidates), len(MEDIUMS)), np.nan)
    mediums = sorted(set(np.asarray(y_known).tolist()))
    if len(mediums) >= 2:   # the model's guesses go on the sheet in either case
        scored = scored or {"space": (x_known, x_candidates)}
        learner = learner or make_pipeline(StandardScaler(), LogisticRegression(
            C=0.1, max_iter=3000, class_weight="balanced"))
        probs = averaged_proba({name: learner for name in scored},
                               {name: known for name, (known, _) in scored.items()}, y_known,
                               {name: candidates for name, (_, candidates) in scored.items()})
    if picks_typical(y_known):
        return pick(x_candidates, budget, known=np.asarray(x_known), seed=seed), probs
    weights = uncertainty(probs[:, mediums])
    spread_over = np.arange(len(x_candidates))
    if len(spread_over) > pool_factor * budget:
        spread_over = np.argsort(-weights, kind="stable")[:pool_factor * budget]
    chosen = pick(x_candidates[spread_over], budget, weights=weights[spread_over], seed=seed)
    return [int(spread_over[i]) for i in chosen], probs


@dataclass
class SuggestResult:
    """What :func:`run_suggest` picked and wrote."""

    table: pd.DataFrame
    csv: Path
    page: Path
    candidates: int
    seconds: float
    run_location: str = ""
    reviewed_since: int = 0
    """Works the audit flagged that were left out: relabelled or reviewed by a curator since
    it ran (``--doubtful``)."""
    typical: str = ""
    """Why the picks are typical works, too few labels known to judge uncertainty
    (:func:`why_typical`); empty when they are the uncertain ones."""


def _candidates(root: Path, manifest: pd.DataFrame, doubtful: bool
                ) -> tuple[pd.DataFrame, int]:
    """Return the works to pick from and how many flagged ones were reviewed since the audit.

    With ``doubtful``, the works the last audit flagged join the unlabelled ones, except those
    whose medium has changed since, or that a curator wrote in a sheet since (given, confirmed,
    upheld): that audit's doubt was about a label they no longer have, or has been answered.
    """
    from mediumnet.collection.audit import AUDIT_CSV, AUDIT_DIR
    from mediumnet.data.labelling import reviewed_by_curator
    from mediumnet.data.manifest import unlabelled
    from mediumnet.data.sheets import read_sheet, sheet_flag

    pool = unlabelled(manifest)
    reviewed_since = 0
    if doubtful:
        audit = root / AUDIT_DIR / AUDIT_CSV
        if not audit.is_file():
            raise MediumnetError(f"--doubtful needs an audit: run mediumnet audit {root} first")
        table = read_sheet(audit)   # as the audit wrote it, or as a spreadsheet saved it
        judged = dict(zip(table["id"], table["label"], strict=True))
        flagged = {work for work, flag in zip(table["id"], table["flagged"], strict=True)
                   if sheet_flag(flag)}
        doubted = manifest[manifest["id"].isin(flagged)]
        settled = (doubted["label_reason"].map(reviewed_by_curator).astype(bool)
                   | (doubted["label"] != doubted["id"].map(judged)))
        reviewed_since = int(settled.sum())
        pool = pd.concat([pool, doubted[~settled]])
    if pool.empty:
        since = (f"; the {reviewed_since} the audit flagged were relabelled or reviewed since "
                 "it ran: run mediumnet audit again" if reviewed_since else "")
        raise MediumnetError(f"{root} has no unlabelled works to suggest (harvest with "
                             "--keep-unlabelled keeps them; --doubtful adds what the audit "
                             f"flagged){since}")
    return pool.drop_duplicates("id").reset_index(drop=True), reviewed_since


def run_suggest(dataset_dir: str | os.PathLike[str], config: Config, *, budget: int,
                doubtful: bool = False, progress: bool = True) -> SuggestResult:
    """Pick ``budget`` works to label next and write the sheet to fill in; an MLflow run.

    Raises
    ------
    MediumnetError
        No candidates, a budget below 1, or no fitted branch to measure the works with.
    """
    import mlflow

    from mediumnet.collection.crossfit import chosen_branches, measured_inputs
    from mediumnet.collection.page import write_table
    from mediumnet.data.manifest import labelled, manifest_digest, read_manifest
    from mediumnet.tracking import run_location, start_run

    if budget < 1:
        raise MediumnetError(f"--budget {budget}: give 1 or more")
    started = time.perf_counter()
    root = Path(dataset_dir)
    manifest = read_manifest(root)
    candidates, reviewed_since = _candidates(root, manifest, doubtful)
    known = labelled(manifest)
    known = known[~known["id"].isin(candidates["id"])]
    branches = chosen_branches(config, None)
    branch = branches[-1]  # where the picks spread: the last fitted branch on, the embedding
    rows, x_c = measured_inputs(root, candidates, branches, config, progress, "candidate")
    known, x_k = (measured_inputs(root, known, branches, config, progress, "labelled")
                  if len(known) else (known, {n: np.zeros((0, x.shape[1]))
                                              for n, x in x_c.items()}))
    y_k = known["label"].map(MEDIUMS.index).to_numpy()
    chosen, probs = suggest_picks(x_k[branch.name], y_k, x_c[branch.name], budget,
                                  scored={n: (x_k[n], x_c[n]) for n in x_c},
                                  seed=config.train.seed)
    table = _sheet(rows, probs, chosen, root)
    typical = why_typical(y_k)
    rule = (f"the collection's typical works, one per region no labelled work holds yet "
            f"({typical}: too little for a model to say what it is unsure of)" if typical
            else "the least certain under a model of the labelled works (scaled logistic "
            f"regression on {' and '.join(x_c)}, averaged), spread over the collection")
    csv, page = write_table(
        table, root / SUGGEST_DIR / SHEET, root, title="Works to label next",
        intro=[f"{len(table)} of {len(rows)} candidates, in the order picked: {rule} "
               f"({branch.name} space). Fill the label column of {SHEET} and run mediumnet "
               f"label {root} --from it."],
        columns=["id", "suggested_label", "confidence", "uncertainty", "current_label",
                 "medium_text", "title", "artist"])
    with start_run("suggest", config=config, dataset_digest=manifest_digest(manifest),
                   dataset_dir=root, params={"budget": budget, "doubtful": doubtful,
                                             "space": branch.name, "scored": "+".join(x_c),
                                             "picks": "typical" if typical
                                             else "uncertain"}) as run:
        mlflow.log_metrics({"candidates": float(len(rows)), "picked": float(len(table)),
                            "reviewed_since_audit": float(reviewed_since)})
        mlflow.log_artifact(str(csv), SUGGEST_DIR)
        mlflow.log_artifact(str(page), SUGGEST_DIR)
        location = run_location(run)
    return SuggestResult(table, csv, page, len(rows), time.perf_counter() - started, location,
                         reviewed_since, typical)


def _sheet(rows: pd.DataFrame, probs: np.ndarray, chosen: list[int], root: Path
           ) -> pd.DataFrame:
    """Build the sheet a curator fills: picks in order, model guess (to 3 places), empty label."""
    picked = rows.iloc[chosen].reset_index(drop=True)
    p = probs[chosen]
    guessed = ~np.isnan(p).any(axis=1)
    best = np.nan_to_num(p).argmax(axis=1)
    return pd.DataFrame({
        "id": picked["id"], "image_path": picked["image_path"],
        "path": [str((root / x).resolve()) for x in picked["image_path"]],
        "suggested_label": [MEDIUMS[b] if g else "" for b, g in zip(best, guessed, strict=True)],
        "confidence": np.where(guessed, np.nan_to_num(p).max(axis=1), np.nan).round(3),
        "uncertainty": np.where(guessed, uncertainty(np.nan_to_num(p)), np.nan).round(3),
        "current_label": picked["label"].fillna(""),
        "medium_text": picked["medium_text"].fillna(""),
        "title": picked["title"].fillna(""), "artist": picked["artist"].fillna(""),
        "label": ""})
