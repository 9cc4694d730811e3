"""A curator's labels merged into a data set: filled-in suggestion sheets, audit corrections.

``mediumnet suggest`` and ``mediumnet audit`` write tables with an ``id`` per work; a curator
fills (or corrects) a ``label`` column and :func:`merge_labels` takes it back: each named
work gets that medium, the reason says who gave it and what it was before, and nothing else
changes — no row is added or lost, every other column stays. An unlabelled work that gets a
medium is assigned a split by the next ``mediumnet split``; a work whose medium changed keeps
its split. The manifest is replaced atomically, and nothing is written when a row is wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS, UNLABELLED, medium_of_label


@dataclass
class LabelMerge:
    """What :func:`merge_labels` changed."""

    labelled: int = 0
    """Unlabelled works that got a medium."""
    relabelled: int = 0
    """Works whose medium changed."""
    unchanged: int = 0
    """Rows that gave a work the medium it had."""
    blank: int = 0
    """Rows left without a label (skipped)."""
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    """(id, before, after) of every change."""


def merge_labels(dataset_dir: str | os.PathLike[str], table: str | os.PathLike[str],
                 *, column: str = "label") -> LabelMerge:
    """Give the works of a filled table the mediums it names.

    Parameters
    ----------
    dataset_dir : path-like
        The data set.
    table : path-like
        A CSV with ``id`` and ``column``; an empty cell leaves the work as it is. Mediums may
        be written as folder names are (``watercolour``, ``prints`` …) or as a museum's
        medium text (``woodcut``, ``oil on canvas``, ``Watercolor over graphite``:
        :func:`mediumnet.labels.medium_of_label`).
    column : str
        The column that holds the mediums.

    Returns
    -------
    LabelMerge

    Raises
    ------
    DatasetError
        A missing file or column, an id the data set lacks, or a label that names no medium
        or two (the first one, with its line); nothing is written then.
    """
    import pandas as pd

    from mediumnet.data.manifest import read_manifest, write_manifest

    path = Path(table)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file; give the CSV you filled in")
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("id", column) if c not in rows.columns]
    if missing:
        raise DatasetError(f"{path} has no column {missing[0]!r}: it needs id and {column}")
    manifest = read_manifest(dataset_dir)
    where = {work_id: i for i, work_id in enumerate(manifest["id"])}
    result = LabelMerge()
    updates: dict[int, tuple[str, str]] = {}
    for line, (work_id, given) in enumerate(zip(rows["id"], rows[column], strict=True),
                                            start=2):
        if not given.strip():
            result.blank += 1
            continue
        medium, named = medium_of_label(given)
        if medium is None and len(named) > 1:
            raise DatasetError(f"{path}, line {line}: {given!r} names {len(named)} mediums "
                               f"({', '.join(named)}); write the one this work is (or leave "
                               "it empty)")
        if medium is None:
            raise DatasetError(f"{path}, line {line}: {given!r} names no medium; write one of "
                               f"{', '.join(MEDIUMS)} or a technique of one (woodcut, oil on "
                               "canvas, charcoal …), or leave it empty")
        if work_id not in where:
            raise DatasetError(f"{path}, line {line}: no work {work_id!r} in {dataset_dir}")
        updates[where[work_id]] = medium, given.strip()
    for index, (medium, given) in updates.items():
        before = manifest.at[index, "label"] or UNLABELLED
        if before == medium:
            result.unchanged += 1
            continue
        if before == UNLABELLED:
            result.labelled += 1
        else:
            result.relabelled += 1
        result.changes.append((manifest.at[index, "id"], before, medium))
        was = f"; was {before}" if before != UNLABELLED else f"; was unlabelled: " \
            f"{manifest.at[index, 'label_reason']}"
        manifest.at[index, "label"] = medium
        words = f" as {given!r}" if given.lower() != medium else ""  # "woodcut": kept
        manifest.at[index, "label_reason"] = f"given by a curator in {path.name}{words}{was}"
    if result.changes:
        write_manifest(dataset_dir, manifest)
    return result
