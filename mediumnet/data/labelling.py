"""A curator's labels merged into a data set: filled-in suggestion sheets, audit corrections.

``mediumnet suggest`` and ``mediumnet audit`` write tables with an ``id`` per work; a curator
fills (or corrects) a ``label`` column and :func:`merge_labels` takes it back: each named
work gets that medium, the reason says who gave it and what it was before, and nothing else
changes — no row is added or lost, every other column stays. An unlabelled work that gets a
medium is assigned a split by the next ``mediumnet split``; a work whose medium changed keeps
its split. The manifest is replaced atomically, and nothing is written when a row is wrong.

A curator who writes, on a suggestion sheet, the medium a work already has upholds it: a
doubtful record a curator looked at and kept (``mediumnet suggest --doubtful``) becomes a
curator's label, which the next audit does not flag again and the next ``suggest --doubtful``
does not offer again.

A model's answers can be taken too (``column="suggested_label"`` of ``mediumnet classify``'s or
``mediumnet audit``'s table), but only those the table stands behind — the answers classify did
not abstain on, the corrections the audit flagged — and each reason says it was the model's
answer, with its confidence, so a label a curator gave and one a model gave stay apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mediumnet.data.sheets import read_sheet, sheet_flag, sheet_number
from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS, UNLABELLED, medium_of_label

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class LabelMerge:
    """What :func:`merge_labels` changed."""

    labelled: int = 0
    """Unlabelled works that got a medium."""
    relabelled: int = 0
    """Works whose medium changed."""
    unchanged: int = 0
    """Rows that gave a work the medium it had."""
    confirmed: int = 0
    """Works whose medium was a model's answer, given the same by a curator: now a curator's
    (measured against from the next split on)."""
    blank: int = 0
    """Rows left without a label (skipped)."""
    left_out: int = 0
    """A model's answers the table does not stand behind (abstained, not flagged): skipped."""
    left_out_why: str = ""
    """Which those were: ``"it abstained on"``, ``"on works it did not flag"``."""
    upheld: int = 0
    """Works whose recorded medium a curator wrote again on a suggestion sheet (the doubtful
    works of ``suggest --doubtful``): a curator's now, not flagged or offered for review
    again."""
    kept_curator: int = 0
    """Works a model's answer would have changed, kept: a curator gave their medium."""
    model_answers: bool = False
    """The labels were a model's answers (``suggested_label``), not a curator's."""
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    """(id, before, after) of every change of a label or of whose it is (a confirmation)."""


CURATOR_REASON = "given by a curator"
"""How the reason of a label a curator gave begins."""

ACCEPTED_REASON = "accepted by a curator"
"""How the reason of a model's answer that a curator took in ends (before its ``; was``)."""

MODEL_REASON = "the model's answer in"
"""How the reason of a model's answer that a curator took in begins."""

CONFLICT_REASON = "label_conflict: one image recorded as"
"""How the reason of an image under two mediums, kept unlabelled, begins."""

PREFILLED_COLUMN = "flagged"
"""A table with this column (``mediumnet audit``'s) comes with every work's medium in its label
column: a row a curator left as it was is not a confirmation of a model's answer."""

REVIEW_COLUMN = "current_label"
"""A table with this column (``mediumnet suggest``'s sheet) shows each work's medium beside an
empty label column: a curator who writes that medium again upholds it."""

MODEL_COLUMN = "suggested_label"
"""The column in which mediumnet's tables (audit, classify, suggest) give a model's medium."""

_STANDS_BEHIND = {"abstained": (False, "confidence", "it abstained on"),
                  "flagged": (True, "p_suggested", "on works it did not flag")}
"""A table's column saying which model answers it stands behind: (value kept, confidence
column, why the others are skipped), the value read by :func:`~mediumnet.data.sheets.sheet_flag`
(``False``, ``FALSE``, ``FAUX`` …). ``classified.csv`` has ``abstained``, ``audit.csv``
``flagged``; a suggestion sheet has neither: its guesses are on the works the model is least
sure of."""


def _whose(reason: object) -> str:
    """Return the part of a ``label_reason`` that says whose the label is now (before ``; was``)."""
    return str(reason).split("; was ", 1)[0]


def given_by_curator(reason: object) -> bool:
    """Tell whether a ``label_reason`` says the label came in through a labels merge.

    True for a medium a curator gave and for a model's answer a curator accepted
    (``mediumnet label``): the labels a re-harvest keeps over the source's record.
    """
    whose = _whose(reason)
    return whose.startswith(CURATOR_REASON) or whose.endswith(ACCEPTED_REASON)


def reviewed_by_curator(reason: object) -> bool:
    """Tell whether a ``label_reason`` says a curator wrote this medium in a sheet.

    True for a medium a curator gave, for a model's answer a curator confirmed and for a
    record a curator upheld: labels a person looked at, which ``mediumnet audit`` does not flag
    again. False for a model's answer taken in bulk (``--column suggested_label``), which is
    audited like any record.
    """
    return _whose(reason).startswith(CURATOR_REASON)


def given_by_model(reason: object) -> bool:
    """Tell whether a ``label_reason`` says the label is a model's answer (taken in by a merge).

    Such a label trains a model but is never measured against: :func:`mediumnet.data.splits.
    splits` keeps these works out of validation and test.
    """
    return _whose(reason).startswith(MODEL_REASON)


def conflict_reason(copies: list[dict[str, str]]) -> str:
    """Return the reason of an image under two mediums kept unlabelled: each copy's medium, id.

    A harvest keeps one copy of such an image unlabelled (``--keep-unlabelled``) for a curator
    to give it the medium it is (:mod:`mediumnet.harvest.dedupe`); ``label`` reads it back
    (:func:`conflict_copies`) to say which id to give a copy's medium to.
    """
    return (f"{CONFLICT_REASON} {named_copies(copies)}; give it the medium it is with "
            "mediumnet label")


def named_copies(copies: list[dict[str, str]]) -> str:
    """Name an image's labelled copies by medium and id: ``"painting (a), drawing (b)"``."""
    return ", ".join(f"{row['label']} ({row['id']})" for row in copies
                     if row["label"] != UNLABELLED)


def conflict_copies(reason: object) -> str:
    """Return the copies a :func:`conflict_reason` names (``"painting (a), drawing (b)"``).

    Empty for any other reason.
    """
    text = str(reason)
    if not text.startswith(CONFLICT_REASON):
        return ""
    return text.removeprefix(f"{CONFLICT_REASON} ").split("; ", 1)[0]


def _model_rows(path: Path, rows: pd.DataFrame, column: str
                ) -> tuple[pd.DataFrame, pd.Series, int, str]:
    """Keep the model answers a table stands behind; their confidences, the count and why."""
    import pandas as pd

    marker = next((m for m in _STANDS_BEHIND if m in rows.columns), None)
    if marker is None:
        raise DatasetError(f"{path}: {column} holds a model's guesses and the table does not "
                           "say which it stands behind (no abstained or flagged column; a "
                           "suggestion sheet's are the works it is least sure of): write the "
                           "mediums you give in its label column and merge that")
    kept_value, confidence, why = _STANDS_BEHIND[marker]
    flags = [sheet_flag(value) for value in rows[marker]]
    answers = rows[column].str.strip().ne("")
    for line, value, flag, answer in zip(rows.index, rows[marker], flags, answers,
                                         strict=True):
        if flag is None and answer:
            raise DatasetError(f"{path}, line {line}: {marker} is {value!r}; write True or "
                               "False (as the table came)")
    kept = pd.Series([flag is kept_value for flag in flags], index=rows.index)
    skipped = int((~kept & answers).sum())
    confidences = (rows[confidence] if confidence in rows.columns
                   else pd.Series("", index=rows.index))
    return rows[kept], confidences[kept], skipped, why


def merge_labels(dataset_dir: str | os.PathLike[str], table: str | os.PathLike[str],
                 *, column: str = "label") -> LabelMerge:
    """Give the works of a filled table the mediums it names, and write the manifest.

    :func:`merged_labels`, then the manifest replaced atomically when a label changed. Not a
    tracked step: ``mediumnet label`` (:func:`mediumnet.prepare.run_label`) is.

    Parameters
    ----------
    dataset_dir, table, column
        As :func:`merged_labels`.

    Returns
    -------
    LabelMerge

    Raises
    ------
    DatasetError
        As :func:`merged_labels`; nothing is written then.
    """
    from mediumnet.data.manifest import write_manifest

    manifest, result = merged_labels(dataset_dir, table, column=column)
    if result.changes:
        write_manifest(dataset_dir, manifest)
    return result


def _headers_as_named(rows: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """Name the columns written ``ID`` or ``Label`` as asked, where no column has the name."""
    for name in names:
        alike = [c for c in rows.columns if c.lower() == name.lower()]
        if name not in rows.columns and len(alike) == 1:
            rows = rows.rename(columns={alike[0]: name})
    return rows


def merged_labels(dataset_dir: str | os.PathLike[str], table: str | os.PathLike[str],
                  *, column: str = "label") -> tuple[pd.DataFrame, LabelMerge]:
    """Return the manifest with the mediums a filled table names; nothing is written.

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
        The column that holds the mediums. ``suggested_label`` takes a model's answers from
        a ``classify`` table (those it did not abstain on) or an ``audit`` table (the flagged
        works), each reason saying so; a table that does not say which answers it stands
        behind (a suggestion sheet) is refused.

    Returns
    -------
    (pandas.DataFrame, LabelMerge)
        The manifest as it would be (every row and column kept, only ``label`` and
        ``label_reason`` of the changed works differ) and what changed.

    Raises
    ------
    DatasetError
        A missing file or column, an id the data set lacks, a label that names no medium
        or two, a work two rows give two mediums (the first one, with its line), a sheet with
        no label written in it, or a model's guesses the table does not stand behind.
    """
    import pandas as pd

    from mediumnet.data.manifest import read_manifest

    path = Path(table)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file; give the CSV you filled in")
    rows = _headers_as_named(read_sheet(path), ("id", column))
    missing = [c for c in ("id", column) if c not in rows.columns]
    if missing:
        raise DatasetError(f"{path} has no column {missing[0]!r}: it needs id and {column}")
    rows["id"] = rows["id"].str.strip()   # a spreadsheet's cell keeps the spaces typed around
    if rows.empty:
        raise DatasetError(f"{path} has no rows under its header, so nothing to merge: give the "
                           "sheet with its works (one row a work, as mediumnet suggest writes "
                           "it)")
    if column != MODEL_COLUMN and not rows[column].str.strip().any():
        raise DatasetError(f"{path}: every {column!r} cell of its {len(rows)} row"
                           f"{'' if len(rows) == 1 else 's'} is empty, so nothing to merge: "
                           f"write the medium of each work you know in {column}, save the "
                           "sheet and run again")
    manifest = read_manifest(dataset_dir)
    where = {work_id: i for i, work_id in enumerate(manifest["id"])}
    result = LabelMerge(model_answers=column == MODEL_COLUMN)
    confidences = pd.Series("", index=rows.index)
    if result.model_answers:
        rows, confidences, result.left_out, result.left_out_why = _model_rows(path, rows,
                                                                              column)
    updates: dict[int, tuple[str, str, str]] = {}
    lines: dict[int, int] = {}   # the sheet's line that gave each update
    for line, work_id, given in zip(rows.index, rows["id"], rows[column], strict=True):
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
            raise DatasetError(f"{path}, line {line}: no work {work_id!r} in {dataset_dir}"
                               + _left_out_as_conflict(dataset_dir, manifest, work_id))
        if where[work_id] in updates:   # a work written twice: one medium, or refused
            first, first_line = updates[where[work_id]][0], lines[where[work_id]]
            if first != medium:
                raise DatasetError(f"{path}, line {line}: {work_id!r} is given {medium} here "
                                   f"and {first} on line {first_line}; keep the row of the "
                                   "medium it is")
            continue
        updates[where[work_id]] = medium, given.strip(), confidences[line].strip()
        lines[where[work_id]] = line
    written = not result.model_answers and PREFILLED_COLUMN not in rows.columns
    _apply(manifest, updates, result, path, confirms=written,
           upholds=written and REVIEW_COLUMN in rows.columns)
    return manifest, result


def _left_out_as_conflict(dataset_dir: str | os.PathLike[str], manifest: pd.DataFrame,
                          work_id: str) -> str:
    """Say, when it is one, that a work a sheet names is a copy of an image under two mediums.

    The harvest's summaries name every such image (``label_conflicts``). A copy kept
    unlabelled (``--keep-unlabelled``) names the others in its reason: the medium goes to it.
    """
    import json

    from mediumnet.data.manifest import HARVEST_SUMMARY_NAME

    named = f"({work_id})"
    kept = manifest[manifest["label_reason"].map(conflict_copies).str.contains(named, regex=False)
                    & (manifest["label"] == UNLABELLED)]
    if len(kept):
        return (f"; its image is kept, unlabelled, as {kept['id'].iloc[0]!r} (one image "
                "recorded under two mediums): give the medium to that id")
    for summary in sorted(Path(dataset_dir).glob(HARVEST_SUMMARY_NAME.format(source="*"))):
        try:
            images = json.loads(summary.read_text()).get("label_conflicts", [])
        except (OSError, ValueError):
            continue
        if any(named in text for text in images):
            return ("; it is a copy of an image recorded under two mediums, which the harvest "
                    "left out: harvest again with --keep-unlabelled to keep one copy, "
                    "unlabelled, then give it the medium it is")
    return ""


def _apply(manifest: pd.DataFrame, updates: dict[int, tuple[str, str, str]],
           result: LabelMerge, path: Path, *, confirms: bool, upholds: bool = False) -> None:
    """Write the checked mediums into ``manifest`` (in place), each with whose it is; count.

    ``confirms``: a curator's medium equal to a model's answer confirms it (a sheet the
    curator wrote; not an audit table, whose label column came filled in). ``upholds``: one
    equal to a record's medium upholds it (a sheet that showed the medium for review).
    """
    from mediumnet.metrics import confidence_text

    for index, (medium, given, sure) in updates.items():
        before = manifest.at[index, "label"] or UNLABELLED
        reason = manifest.at[index, "label_reason"]
        confirmed = confirms and given_by_model(reason)
        upheld = upholds and not confirmed and not reviewed_by_curator(reason)
        if before == medium and not (confirmed or upheld):
            result.unchanged += 1
            continue
        if result.model_answers and reviewed_by_curator(reason):
            result.kept_curator += 1       # a model's answer never overrides a curator
            continue
        result.changes.append((manifest.at[index, "id"], before, medium))
        if before == medium and confirmed:  # a curator confirms a model's answer: theirs now
            result.confirmed += 1
            was = f"; was {reason}"
        elif before == medium:             # a curator upholds a doubtful record: theirs now
            result.upheld += 1
            was = f", upholding the record; was {reason}"
        elif before == UNLABELLED:
            result.labelled += 1
            was = f"; was unlabelled: {reason}"
        else:
            result.relabelled += 1
            was = f"; was {before}"
        manifest.at[index, "label"] = medium
        if result.model_answers:
            number = sheet_number(sure)  # None: a cell edited into words, left out
            sure = f" (confidence {confidence_text(number)})" if number is not None else ""
            manifest.at[index, "label_reason"] = (f"{MODEL_REASON} {path.name}{sure}, "
                                                  f"{ACCEPTED_REASON}{was}")
            continue
        words = f" as {given!r}" if given.lower() != medium else ""  # "woodcut": kept
        manifest.at[index, "label_reason"] = f"{CURATOR_REASON} in {path.name}{words}{was}"
