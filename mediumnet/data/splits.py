"""Train/validation/test splits that do not leak: grouped by artist, stratified by medium.

A model that has seen an artist's other works in training recognises the hand, not the
medium, so every artist's works stay in one split; works whose artist is unknown are each a
group of their own. Within that constraint the splits keep each medium's share close to the
asked fractions.

The assignment is greedy and deterministic: groups are taken largest first (ties in a seeded
random order), and each goes to the split whose per-medium counts it brings closest to their
targets (the smallest growth of the squared, target-scaled distance).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    import pandas as pd

def artist_groups(manifest: pd.DataFrame) -> pd.Series:
    """Return the group of every work: its normalised artist, or its own id when unknown."""
    artist = manifest["artist"].fillna("").astype(str).str.strip().str.casefold()
    unknown = artist.isin(["", "unknown", "anonymous", "unidentified artist", "artist unknown"])
    return artist.where(~unknown, "\x00id:" + manifest["id"].astype(str))


def splits(manifest: pd.DataFrame, val: float = 0.15, test: float = 0.15,
           seed: int = 0) -> pd.DataFrame:
    """Assign every work to ``train``, ``val`` or ``test``; return the manifest with ``split``.

    Parameters
    ----------
    manifest : pandas.DataFrame
        Rows with at least ``id``, ``label`` and ``artist``.
    val, test : float
        Shares of works for validation and test (per medium, approximately: whole artists
        move between splits).
    seed : int
        Seed of the tie-breaking order; the same inputs give the same splits.

    Returns
    -------
    pandas.DataFrame
        A copy of ``manifest`` with the ``split`` column filled.

    Raises
    ------
    DatasetError
        If the fractions are out of range or the manifest is empty.
    """
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise DatasetError(f"val={val}, test={test}: each must be in [0, 1) and their sum "
                           "below 1, so that something is left to train on")
    if len(manifest) == 0:
        raise DatasetError("the manifest has no works to split: build the data set first")
    frame = manifest.copy()
    frame["_group"] = artist_groups(frame)
    counts = (frame.groupby("_group")["label"].value_counts().unstack(fill_value=0)
              .reindex(columns=list(MEDIUMS), fill_value=0))
    sizes = counts.sum(axis=1).to_numpy()
    rng = np.random.default_rng(seed)
    tiebreak = rng.permutation(len(counts))
    order = np.lexsort((tiebreak, -sizes))  # largest first, ties in seeded random order

    totals = counts.sum(axis=0).to_numpy().astype(float)
    names = ("test", "val", "train")  # on a tie, the evaluation splits come first
    target = np.stack([totals * test, totals * val, totals * (1 - val - test)])
    scale = np.maximum(target, 1.0)
    assigned = np.zeros_like(target)
    matrix = counts.to_numpy().astype(float)
    assignment: dict[str, str] = {}
    for index in order:
        g = matrix[index]
        # How much each split's squared, scaled distance to its targets grows with this group.
        growth = (((assigned + g - target) ** 2 - (assigned - target) ** 2) / scale).sum(axis=1)
        best = int(np.argmin(growth))
        assigned[best] += g
        assignment[counts.index[index]] = names[best]
    frame["split"] = frame["_group"].map(assignment)
    return frame.drop(columns="_group")


def split_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """Works per medium (rows) and split (columns), with shares of each medium per split."""
    table = (manifest.groupby(["label", "split"]).size().unstack(fill_value=0)
             .reindex(index=list(MEDIUMS), columns=["train", "val", "test"], fill_value=0))
    return table


def run_split(dataset_dir, config) -> tuple[pd.DataFrame, str]:
    """Split the manifest of ``dataset_dir`` in place, as one tracked MLflow run.

    Returns
    -------
    table : pandas.DataFrame
        Works per medium and split.
    location : str
        Where the run went.
    """
    import mlflow

    from mediumnet.data.manifest import manifest_digest, read_manifest, write_manifest
    from mediumnet.tracking import TAG_DATASET_DIGEST, run_location, start_run

    d = config.data
    manifest = read_manifest(dataset_dir)
    result = splits(manifest, d.val_fraction, d.test_fraction, d.split_seed)
    with start_run("split", config=config, dataset_dir=dataset_dir) as run:
        write_manifest(dataset_dir, result)
        table = split_table(result)
        mlflow.set_tag(TAG_DATASET_DIGEST, manifest_digest(result))
        mlflow.log_metrics({f"works_{s}": int(table[s].sum()) for s in table.columns})
        mlflow.log_text(table.to_string() + "\n", "split_table.txt")
        location = run_location(run)
    return table, location
