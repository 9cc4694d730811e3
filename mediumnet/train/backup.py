"""A killed training's backup: the epoch it resumes after, even when the kill cut a write short.

Keras's ``BackupAndRestore`` writes, at the end of every epoch, the weights and then a small
``training_metadata.json`` (the epoch), each in place. A training killed while one of them was
being written leaves that file cut short. With ``double_checkpoint`` Keras also keeps the epoch
before (``*.bkp``) and falls back on it for cut weights, but not for cut metadata, which it
cannot parse, and neither could mediumnet: the stage could not be resumed until its backup
folder was deleted by hand. :func:`resume_epoch` reads the backup before Keras does, puts the
epoch before back in place of cut metadata and, with none kept, clears the backup so that the
stage starts again; either way it says so. The MLflow run a restarted training goes on with is
kept the same way, whole or not at all (:func:`keep_run_id`, :func:`kept_run_id`).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from mediumnet.collection.page import replace_file

log = logging.getLogger("mediumnet")

METADATA = "training_metadata.json"
WEIGHTS = "latest.weights.h5"
PREVIOUS = ".bkp"
"""Keras's names in a backup folder: the epoch finished, its weights, and the suffix of the
epoch before's copies."""


def backup_callback(backup_dir: Path):
    """Return the callback that backs a stage up at every epoch's end, the epoch before kept."""
    import keras

    return keras.callbacks.BackupAndRestore(str(backup_dir), double_checkpoint=True)


def saved_epoch(metadata: Path) -> int | None:
    """Return the epoch a backup's metadata file says was finished; None if it cannot be read."""
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def resume_epoch(backup_dir: Path, stage: str) -> int:
    """Return the epoch a killed attempt's backup in ``backup_dir`` finished; 0 with none.

    Metadata cut short by the kill is replaced by the epoch before's, with its weights, when
    both were kept; otherwise the backup is removed and the stage starts again. Either is
    said in a warning that names ``stage``.
    """
    metadata = backup_dir / METADATA
    if not metadata.exists():
        return 0
    epoch = saved_epoch(metadata)
    if epoch is not None:
        return epoch
    earlier_metadata = backup_dir / (METADATA + PREVIOUS)
    earlier_weights = backup_dir / (WEIGHTS + PREVIOUS)
    earlier = saved_epoch(earlier_metadata) if earlier_metadata.exists() else None
    if earlier is not None and earlier_weights.exists():
        shutil.copyfile(earlier_weights, backup_dir / WEIGHTS)
        shutil.copyfile(earlier_metadata, metadata)
        log.warning("%s: the backup of its last epoch was cut off as it was written (the "
                    "training was killed then); resuming after epoch %d, the one before",
                    stage, earlier)
        return earlier
    shutil.rmtree(backup_dir)
    log.warning("%s: its backup was cut off as it was written (the training was killed then) "
                "and no earlier epoch is kept; the stage starts again", stage)
    return 0


def keep_run_id(run_file: Path, run_id: str) -> None:
    """Write ``run_id`` to ``run_file`` whole or not at all: a kill cannot leave it cut."""
    replace_file(run_file, lambda part: part.write_text(run_id))


def kept_run_id(run_file: Path) -> str | None:
    """Return the MLflow run id a killed training kept in ``run_file``; None without one.

    An empty file (one written in place by an older mediumnet, killed as it wrote) is none.
    """
    try:
        return run_file.read_text().strip() or None
    except FileNotFoundError:
        return None
