"""The manifest: one row per kept work, the contract every source writes and every step reads.

Columns and their meaning are fixed by DESIGN.md ("Contracts"). The manifest lives at
``DATASET_DIR/manifest.parquet`` and is always replaced atomically (write to a temporary file,
then rename), so that a step that fails half-way never leaves a truncated manifest behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS, UNLABELLED

if TYPE_CHECKING:
    import pandas as pd

MANIFEST_NAME = "manifest.parquet"
RAW_DIR = "raw"
"""Where the steps that build a data set keep their logs (a harvest's ``S.jsonl`` and
``S-outcomes.jsonl``, a synthetic set's ``synth-s<seed>.jsonl``): a manifest is built again
from them."""
OUTCOMES_SUFFIX = "-outcomes.jsonl"
SYNTH_LOG_PREFIX = "synth-s"
"""A synthetic set's log: ``synth-s<seed>.jsonl``, each work's drawing as planned."""
HARVEST_STATE_NAME = "harvest_state.json"
"""Each harvested source's resume point and settings (``params``: a folder's ``from``)."""
HARVEST_SUMMARY_NAME = "harvest_summary_{source}.json"
"""A source's last harvest: its counts, notes and images under two mediums
(``label_conflicts``, each ``"painting (met:1), drawing (folder:a.jpg)"``)."""

MANIFEST_COLUMNS: dict[str, str] = {
    "id": "string",
    "source": "string",
    "label": "string",
    "label_reason": "string",
    "title": "string",
    "artist": "string",
    "date": "string",
    "category": "string",
    "medium_text": "string",
    "image_path": "string",
    "image_url": "string",
    "sha256": "string",
    "width": "int64",
    "height": "int64",
    "bytes": "int64",
    "phash": "string",
    "rights": "string",
    "split": "string",
}
"""Column → pandas dtype, in the order they are written."""

SPLITS: tuple[str, ...] = ("train", "val", "test")
EVALUATION_SPLITS: tuple[str, ...] = (*SPLITS, "all")
"""What a model is evaluated on: a split, or ``all`` the labelled works (a collection never
split, e.g. a new collection the model was not trained on)."""


def has_medium(manifest: pd.DataFrame) -> pd.Series:
    """Return, per row, whether the work has a medium (not kept unlabelled)."""
    return manifest["label"].fillna(UNLABELLED) != UNLABELLED


def labelled(manifest: pd.DataFrame) -> pd.DataFrame:
    """Return the works that have a medium (unlabelled ones are left out)."""
    return manifest[has_medium(manifest)]


def unlabelled(manifest: pd.DataFrame) -> pd.DataFrame:
    """Return the works kept without a medium (``harvest --keep-unlabelled``)."""
    return manifest[~has_medium(manifest)]


def ensure_dataset_dir(dataset_dir: str | os.PathLike[str]) -> Path:
    """Create ``dataset_dir`` if needed and check that files can be written in it.

    Returns
    -------
    pathlib.Path
        The folder, resolved.

    Raises
    ------
    DatasetError
        If the folder cannot be created or written to.
    """
    path = Path(dataset_dir).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except FileExistsError:
        raise DatasetError(
            f"dataset folder {path} is a file, not a folder: choose another path"
        ) from None
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise DatasetError(
            f"cannot write to dataset folder {path} ({reason.lower()}): "
            "choose a folder you can write to"
        ) from None
    return path.resolve()


def empty_manifest() -> pd.DataFrame:
    """Return a manifest with the right columns and dtypes and no rows."""
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in MANIFEST_COLUMNS.items()})


def manifest_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Build a manifest from row dicts; missing text columns become empty strings.

    Raises
    ------
    DatasetError
        If a row lacks an integer column or the result is not a valid manifest.
    """
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return empty_manifest()
    for column, dtype in MANIFEST_COLUMNS.items():
        if column not in frame:
            if dtype != "string":
                raise DatasetError(f"manifest rows lack the integer column {column!r}")
            frame[column] = ""
    frame = frame[list(MANIFEST_COLUMNS)].astype(MANIFEST_COLUMNS)
    for column, dtype in MANIFEST_COLUMNS.items():
        if dtype == "string":
            frame[column] = frame[column].fillna("")
    return validate_manifest(frame)


def validate_manifest(frame: pd.DataFrame) -> pd.DataFrame:
    """Check columns, labels, splits and id uniqueness; return ``frame``.

    Raises
    ------
    DatasetError
        Naming the first problem found.
    """
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"manifest lacks columns {missing}: rebuild it with mediumnet "
                           "synth or mediumnet harvest")
    bad_labels = sorted(set(frame["label"].fillna(UNLABELLED)) - {*MEDIUMS, UNLABELLED})
    if bad_labels:
        raise DatasetError(f"manifest has unknown labels {bad_labels}: labels must be one of "
                           f"{', '.join(MEDIUMS)} (or empty: unlabelled)")
    bad_splits = sorted(set(frame["split"]) - {*SPLITS, ""})
    if bad_splits:
        raise DatasetError(f"manifest has unknown splits {bad_splits}: use train, val or test")
    split_unlabelled = frame[~has_medium(frame) & (frame["split"] != "")]
    if len(split_unlabelled):
        raise DatasetError(f"unlabelled work {split_unlabelled['id'].iloc[0]!r} is in the "
                           f"{split_unlabelled['split'].iloc[0]} split: unlabelled works stay "
                           "outside every split")
    duplicated = frame["id"][frame["id"].duplicated()]
    if len(duplicated):
        raise DatasetError(f"manifest has duplicate ids, e.g. {duplicated.iloc[0]!r}")
    return frame


def manifest_path(dataset_dir: str | os.PathLike[str]) -> Path:
    """Return the path of the manifest of ``dataset_dir``."""
    return Path(dataset_dir) / MANIFEST_NAME


def _synth_options(log: Path) -> str:
    """Return the ``synth`` options that drew a synthetic set's logged works, as far as told."""
    from collections import Counter

    try:
        works = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return ""
    per_medium = Counter(w.get("medium") for w in works)
    sizes = {(w.get("width"), w.get("height")) for w in works}
    counts = set(per_medium.values())
    options = f" --per-class {counts.pop()}" if len(counts) == 1 else ""
    if len(sizes) == 1:
        options += " --size {}x{}".format(*sizes.pop())
    if 0 < len(per_medium) < len(MEDIUMS):
        options += f" --mediums {','.join(m for m in MEDIUMS if m in per_medium)}"
    return options


def _rebuild_advice(root: Path) -> str:
    """Say how a data set's manifest is built again from the logs its folder keeps."""
    raw = root / RAW_DIR
    harvested = sorted(p.name.removesuffix(OUTCOMES_SUFFIX)
                       for p in raw.glob(f"*{OUTCOMES_SUFFIX}"))
    seeds = sorted(p.stem.removeprefix(SYNTH_LOG_PREFIX)
                   for p in raw.glob(f"{SYNTH_LOG_PREFIX}*.jsonl"))
    try:
        states = json.loads((root / HARVEST_STATE_NAME).read_text())
    except (OSError, ValueError):
        states = {}
    here = shlex.quote(str(root))
    steps = []
    for source in harvested:   # a folder harvest's --from, --link and --column (as logged)
        given = (states.get(source) or {}).get("params") or {}
        steps.append(f"mediumnet harvest {source} {here} --offline"
                     + (f" --from {shlex.quote(given['from'])}" if given.get("from") else "")
                     + (" --link" if given.get("link") else "")
                     + "".join(f" --column {shlex.quote(k.removeprefix('column_') + '=' + v)}"
                               for k, v in given.items() if k.startswith("column_")))
    steps += [f"mediumnet synth {here} --seed {seed}"
              + _synth_options(raw / f"{SYNTH_LOG_PREFIX}{seed}.jsonl") for seed in seeds]
    if not steps:
        return "build it again with mediumnet synth or mediumnet harvest"
    return (f"build it again from the logs in {raw}: {'; '.join(steps)} (each with the other "
            "options it was given, such as --keep-unlabelled); then run mediumnet split again, "
            "and mediumnet label with each sheet merged since")


def _unusable(path: Path, why: str) -> DatasetError:
    """Return the error for a manifest that cannot be used: why, and how to build it again."""
    aside = f"mv {shlex.quote(str(path))} {shlex.quote(f'{path}.damaged')}"
    return DatasetError(f"{why}; move it aside ({aside}) and "
                        f"{_rebuild_advice(path.parent)}")


def read_manifest(dataset_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate the manifest of ``dataset_dir``.

    Raises
    ------
    DatasetError
        If there is no manifest or it cannot be read.
    """
    import pandas as pd

    path = manifest_path(dataset_dir)
    if not path.is_file():
        raise DatasetError(
            f"no manifest at {path}: build the data set first with mediumnet synth or "
            "mediumnet harvest"
        )
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a damaged file
        raise _unusable(path, f"cannot read manifest {path} ({exc.__class__.__name__}): the "
                        "file is damaged") from None
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise _unusable(path, f"manifest {path} lacks columns {missing}: it is not one "
                        "mediumnet wrote")
    return validate_manifest(frame.astype(
        {c: t for c, t in MANIFEST_COLUMNS.items() if c in frame.columns}))


def write_manifest(dataset_dir: str | os.PathLike[str], frame: pd.DataFrame) -> Path:
    """Validate ``frame`` and replace the manifest of ``dataset_dir`` with it atomically.

    Returns
    -------
    pathlib.Path
        The manifest's path.
    """
    validate_manifest(frame)
    path = manifest_path(dataset_dir)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-", suffix=".parquet")
    os.close(fd)
    try:
        (frame[list(MANIFEST_COLUMNS)].astype(MANIFEST_COLUMNS).reset_index(drop=True)
         .to_parquet(tmp, index=False))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def upsert_manifest(dataset_dir: str | os.PathLike[str], rows: pd.DataFrame) -> pd.DataFrame:
    """Merge ``rows`` into the manifest of ``dataset_dir`` by ``id`` and write it.

    A row whose id is already present replaces the old row (keeping the old ``split`` when
    the new row has none), so a re-run never duplicates a work.

    Returns
    -------
    pandas.DataFrame
        The merged manifest, as written.
    """
    import pandas as pd

    validate_manifest(rows)
    if manifest_path(dataset_dir).is_file():
        old = read_manifest(dataset_dir)
        old_split = old.set_index("id")["split"]
        rows = rows.copy()
        inherited = rows["id"].map(old_split).fillna("")
        rows["split"] = rows["split"].where(rows["split"] != "", inherited)
        merged = pd.concat([old[~old["id"].isin(rows["id"])], rows], ignore_index=True)
    else:
        merged = rows.reset_index(drop=True)
    merged = merged.sort_values("id", kind="stable").reset_index(drop=True)
    write_manifest(dataset_dir, merged)
    return merged


def manifest_digest(frame: pd.DataFrame,
                    columns: tuple[str, ...] = ("id", "label", "sha256", "split")) -> str:
    """Return a short, order-independent digest of the manifest's content.

    Two manifests with the same works, labels, image bytes and splits have the same digest:
    it tags every MLflow run and keys the on-disk cache of preprocessed views.

    Returns
    -------
    str
        16 hexadecimal characters.
    """
    h = hashlib.sha256()
    for row in sorted(frame[list(columns)].astype(str).itertuples(index=False, name=None)):
        h.update("\x1f".join(row).encode())
        h.update(b"\x1e")
    return h.hexdigest()[:16]
