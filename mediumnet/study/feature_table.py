"""The feature table of a data set: every work's features, cached in features.parquet.

One row per work (``id``, ``sha256``, ``label``, ``features_version`` and every value of
:data:`mediumnet.study.features.FEATURE_NAMES`). A row is reused only when its work's image bytes
(``sha256``) and the feature code version are unchanged, so an old table is recomputed, never
misread. The feature study (:mod:`mediumnet.study.explore`) and the features branch of the stack
(:mod:`mediumnet.ensemble.stacking`) both read it through :func:`feature_table`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mediumnet.collection.page import replace_file
from mediumnet.study.features import FEATURES_VERSION, image_features

if TYPE_CHECKING:
    import pandas as pd

FEATURES_NAME = "features.parquet"


@dataclass
class FeatureTable:
    """The features of the works asked for, and what happened to the others."""

    features: pd.DataFrame
    """One row per work that decoded, sorted by ``id``."""
    failed: dict[str, str] = field(default_factory=dict)
    """Work id → why its image could not be measured."""
    reused: int = 0
    """Rows taken from the cache rather than measured."""


def _cached(path: Path) -> pd.DataFrame:
    """Return the rows of the cache at ``path`` measured by this feature code version."""
    import pandas as pd

    if not path.is_file():
        return pd.DataFrame()
    previous = pd.read_parquet(path)
    if "features_version" not in previous:
        return pd.DataFrame()
    return previous[previous["features_version"] == FEATURES_VERSION]


def feature_table(dataset_dir: str | os.PathLike[str], manifest: pd.DataFrame, *,
                  workers: int | None = None, progress: bool = True,
                  desc: str = "measuring") -> FeatureTable:
    """Return the features of every work of ``manifest``, measuring only what is not cached.

    Newly measured rows are added to ``features.parquet`` (written atomically: a crash
    leaves the previous table); rows of works outside ``manifest`` are kept in it.

    Parameters
    ----------
    dataset_dir : path-like
        The data set folder (``image_path`` is relative to it; the cache lives in it).
    manifest : pandas.DataFrame
        The works to measure (``id``, ``sha256``, ``label``, ``image_path``).
    workers : int, optional
        Threads (default: one per CPU core).
    progress : bool
        Show a progress bar on a terminal.
    desc : str
        The progress bar's label.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from mediumnet.data.views import map_images

    root = Path(dataset_dir)
    path = root / FEATURES_NAME
    previous = _cached(path)
    known = {} if previous.empty else {
        (r["id"], r["sha256"]): r for r in previous.to_dict("records")}
    records = manifest.to_dict("records")
    todo = [r for r in records if (r["id"], r["sha256"]) not in known]
    rows, failed = [], {}
    measured = tqdm(map_images(image_features, [root / r["image_path"] for r in todo],
                               workers or os.cpu_count() or 1),
                    total=len(todo), desc=desc, unit="img",
                    disable=None if progress else True, leave=False)
    for record, (values, error) in zip(todo, measured, strict=True):
        if error:
            failed[record["id"]] = error
            continue
        rows.append({"id": record["id"], "sha256": record["sha256"], "label": record["label"],
                     "features_version": FEATURES_VERSION, **values})
    reused = [{**known[(r["id"], r["sha256"])], "label": r["label"]} for r in records
              if (r["id"], r["sha256"]) in known]
    features = pd.DataFrame(reused + rows)
    if not features.empty:
        features = features.sort_values("id").reset_index(drop=True)
    if rows:
        keep = previous[~previous["id"].isin(features["id"])] if not previous.empty else None
        stored = pd.concat([keep, features]) if keep is not None and len(keep) else features
        table = stored.sort_values("id").reset_index(drop=True)
        replace_file(path, lambda part: table.to_parquet(part, index=False))
    return FeatureTable(features, failed, len(reused))
