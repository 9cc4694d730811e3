"""The label audit: the works whose given medium the models most confidently doubt.

Confident learning (cleanlab) on probabilities the models did not learn from — out-of-fold
or held out — ranks the works whose attribution a curator should re-check, written as a table
(``label_issues.csv``) and a gallery (``label_issues.png``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from mediumnet.labels import MEDIUMS

AUDIT_GALLERY = 12
"""Works shown in the gallery, most doubted first."""


def flag_label_issues(y: np.ndarray, probs: np.ndarray,
                      classes: tuple[str, ...] = MEDIUMS) -> tuple[np.ndarray, np.ndarray]:
    """Return which works cleanlab flags at its default cut, and each work's score.

    The one call of cleanlab's ``find_label_issues`` (per-class confidence thresholds, pruned
    by the estimated noise rates) that the stack's audit and ``mediumnet audit`` share.

    Parameters
    ----------
    y : numpy.ndarray
        Given labels, indices into :data:`~mediumnet.labels.MEDIUMS`.
    probs : numpy.ndarray
        ``(n, 5)`` out-of-sample probabilities.
    classes : tuple of str
        The mediums judged among (the other columns are left out; default: all five).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Boolean flags, and the probability of each work's given medium among ``classes``
        (cleanlab's self-confidence: the lower, the more doubtful).
    """
    from cleanlab.filter import find_label_issues as cleanlab_issues

    columns = [MEDIUMS.index(c) for c in classes]
    local = np.array([columns.index(v) for v in y], dtype=int)
    p = np.clip(probs[:, columns], 1e-9, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flags = np.asarray(cleanlab_issues(labels=local, pred_probs=p), dtype=bool)
    return flags, p[np.arange(len(local)), local]


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
    columns = ["rank", "id", "split", "artist", "title", "given", "suggested", "p_given",
               "p_suggested", "label_quality", "image_path"]
    if len(y) == 0:
        return pd.DataFrame(columns=columns)
    flags, quality = flag_label_issues(y, probs)
    ranked = np.flatnonzero(flags)[np.argsort(quality[flags])]  # cleanlab's own ranking
    probs = np.clip(probs, 1e-9, 1.0)
    probs = probs / probs.sum(axis=1, keepdims=True)
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


def audit_labels(works: pd.DataFrame, y: np.ndarray, probs: np.ndarray, root: Path,
                 out_dir: Path) -> pd.DataFrame:
    """Write the label audit of ``works`` to ``out_dir``: the table and the gallery.

    Parameters
    ----------
    works : pandas.DataFrame
        Manifest rows, one per probability row.
    y : numpy.ndarray
        Given labels as class indices.
    probs : numpy.ndarray
        ``(n, 5)`` probabilities the models did not learn from.
    root : pathlib.Path
        The data set (images are read relative to it).
    out_dir : pathlib.Path
        Where ``label_issues.csv`` and ``label_issues.png`` go.

    Returns
    -------
    pandas.DataFrame
        :func:`find_label_issues` of the works.
    """
    from mediumnet.study.evaluation_figures import write_gallery

    issues = find_label_issues(works, y, probs)
    issues.to_csv(out_dir / "label_issues.csv", index=False)
    top = issues.head(AUDIT_GALLERY)
    write_gallery(root, list(top["image_path"]),
                  [f"{r.given} → {r.suggested}? ({r.p_suggested:.0%})\n{str(r.id)[:28]}"
                   for r in top.itertuples()], out_dir / "label_issues.png",
                  title="Attributions to re-check (given → suggested)")
    return issues
