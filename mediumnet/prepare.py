"""The data steps as tracked MLflow runs: ``synth``, ``split`` and ``label`` (a labels merge).

The pure work — drawing images, assigning splits, reading a filled sheet — lives in
:mod:`mediumnet.data.synth`, :mod:`mediumnet.data.splits` and :mod:`mediumnet.data.labelling`,
which track nothing; these functions open the run, call them, and log what a person wants to
see (digests, counts, the split table, a contact sheet, the labels that changed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mediumnet.data.writer_lock import writes_dataset, writing
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    from mediumnet.data.labelling import LabelMerge
    from mediumnet.data.splits import SplitSummary


_SHORT_VARIANT = {"typical": "typical", "composition_misleads": "composition misleads",
                  "texture_misleads": "texture misleads"}


@dataclass(frozen=True)
class SynthResult:
    """What :func:`run_synth` made and where it went."""

    dataset_dir: Path
    manifest_path: Path
    n_images: int
    digest: str
    summary: str
    run_id: str
    run_location: str


def run_synth(dataset_dir: str | os.PathLike[str], config, *, progress: bool = True
              ) -> SynthResult:
    """Generate the synthetic set as one tracked MLflow run (the ``synth`` step).

    The run logs the resolved config (params and ``config.yaml``), the manifest digest, the
    number of works per medium, the generation speed, a table of works per medium and variant
    and a contact sheet PNG.

    Parameters
    ----------
    dataset_dir : path-like
        Dataset folder.
    config : mediumnet.config.Config
        Resolved settings; ``config.synth`` drives the generator, ``config.data.texture_tile``
        is the smallest image side allowed.
    progress : bool
        Show a progress bar.

    Returns
    -------
    SynthResult
    """
    import tempfile
    import time

    import mlflow

    from mediumnet.data.manifest import (
        ensure_dataset_dir,
        manifest_digest,
        manifest_path,
        read_manifest,
    )
    from mediumnet.data.synth import check_request, synth_summary, synthesize
    from mediumnet.names import TAG_DATASET_DIGEST
    from mediumnet.study.explore import write_contact_sheet
    from mediumnet.tracking import run_location, start_run

    # Check before a run is opened: a bad request leaves no empty failed run behind.
    check_request(config.synth, config.data.texture_tile)
    root = ensure_dataset_dir(dataset_dir)
    with writing(root, "synth"), start_run("synth", config=config, dataset_dir=root) as run:
        started = time.perf_counter()
        frame = synthesize(root, config.synth, min_size=config.data.texture_tile,
                           progress=progress)
        seconds = time.perf_counter() - started
        manifest = read_manifest(root)
        digest = manifest_digest(manifest)
        summary = synth_summary(frame)
        mlflow.set_tag(TAG_DATASET_DIGEST, digest)
        mlflow.log_metrics({
            "images": len(frame),
            "seconds": seconds,
            "images_per_second": len(frame) / max(seconds, 1e-9),
            "manifest_rows": len(manifest),
            **{f"images_{m}": int((frame["label"] == m).sum()) for m in MEDIUMS},
        })
        mlflow.log_text(summary + "\n", "synth_summary.txt")
        with tempfile.TemporaryDirectory() as tmp:
            shown = frame.assign(variant=frame["category"].str.split("/").str[1]
                                 .map(_SHORT_VARIANT))
            sheet = write_contact_sheet(root, shown, Path(tmp) / "contact_sheet.png",
                                        caption="variant")
            mlflow.log_artifact(str(sheet))
        location = run_location(run)
    return SynthResult(dataset_dir=root, manifest_path=manifest_path(root), n_images=len(frame),
                       digest=digest, summary=summary, run_id=run.info.run_id,
                       run_location=location)


@writes_dataset("split")
def run_split(dataset_dir, config, *, reshuffle: bool = False) -> tuple[SplitSummary, str]:
    """Split the manifest of ``dataset_dir`` in place, as one tracked MLflow run.

    Works that already have a split keep it unless ``reshuffle``; the run logs how many works
    moved and how many were newly assigned, and names the artists kept in train because alone
    they would be most of a medium's val or test works (``artists_kept_in_train``, listed in
    ``split_table.txt``).

    Returns
    -------
    summary : SplitSummary
        Works per medium and split, moves and warnings.
    location : str
        Where the run went.
    """
    import mlflow

    from mediumnet.data.manifest import manifest_digest, read_manifest, write_manifest
    from mediumnet.data.splits import splits, summarize_split
    from mediumnet.names import TAG_DATASET_DIGEST, TAG_MEDIUMS, TAG_RESHUFFLED
    from mediumnet.tracking import run_location, start_run

    d = config.data
    manifest = read_manifest(dataset_dir)
    result = splits(manifest, d.val_fraction, d.test_fraction, d.split_seed,
                    min_groups=d.min_groups, reshuffle=reshuffle)
    summary = summarize_split(manifest, result, val=d.val_fraction, test=d.test_fraction)
    # Not a param: the entry point's own `reshuffle` parameter is logged by `mlflow run`.
    with start_run("split", config=config, dataset_dir=dataset_dir,
                   tags={TAG_RESHUFFLED: str(reshuffle).lower()}) as run:
        write_manifest(dataset_dir, result)
        table = summary.table
        mlflow.set_tag(TAG_DATASET_DIGEST, manifest_digest(result))
        mlflow.set_tag(TAG_MEDIUMS, ",".join(table.index))
        mlflow.log_metrics({f"works_{s}": int(table[s].sum()) for s in table.columns})
        mlflow.log_metrics({"works_moved": summary.moved,
                            "works_newly_assigned": summary.newly_assigned,
                            "split_warnings": len(summary.warnings),
                            "model_answers_in_train": summary.answers_in_train,
                            "model_answers_outside": summary.answers_outside,
                            "artists_kept_in_train": len(summary.kept_in_train)})
        mlflow.log_text(table.to_string() + "\n" + "".join(
            f"kept in train (too big to measure): {a}\n" for a in summary.kept_in_train)
            + "".join(f"warning: {w}\n" for w in summary.warnings), "split_table.txt")
        location = run_location(run)
    return summary, location


LABEL_DIR = "label"
"""Where a label run keeps the sheet it merged and the labels it changed (artifacts)."""
LABEL_CHANGES = "label_changes.csv"


@writes_dataset("label")
def run_label(dataset_dir: str | os.PathLike[str], table: str | os.PathLike[str], *,
              column: str = "label") -> tuple[LabelMerge, str]:
    """Merge a filled table's mediums into the manifest, as one tracked MLflow run (``label``).

    The table is read and checked first (:func:`mediumnet.data.labelling.merged_labels`): a
    wrong row raises before any run starts or anything is written. The run then replaces the
    manifest (when a label changed) and records what a later reader of the lineage needs: the
    dataset digest before and after (a model trained since carries the after one), the counts,
    the table as it was merged and ``label/label_changes.csv`` (``id``, ``label_before``,
    ``label``, ``label_reason`` of every work whose medium changed, whose model-given
    medium a curator confirmed, or whose recorded medium a curator upheld).

    Parameters
    ----------
    dataset_dir : path-like
        The data set.
    table : path-like
        The filled CSV (``id`` and ``column``).
    column : str
        ``label`` (a curator's mediums) or ``suggested_label`` (a model's answers that the
        table stands behind).

    Returns
    -------
    (LabelMerge, str)
        What changed, and where the run went.

    Raises
    ------
    DatasetError
        As :func:`mediumnet.data.labelling.merged_labels`; no run, nothing written.
    """
    import mlflow
    import pandas as pd

    from mediumnet.data.labelling import merged_labels
    from mediumnet.data.manifest import manifest_digest, read_manifest, write_manifest
    from mediumnet.names import TAG_DATASET_DIGEST, TAG_DATASET_DIGEST_BEFORE
    from mediumnet.tracking import run_location, start_run

    before = manifest_digest(read_manifest(dataset_dir))
    manifest, result = merged_labels(dataset_dir, table, column=column)
    reasons = manifest.set_index("id")["label_reason"]
    changes = pd.DataFrame(result.changes, columns=["id", "label_before", "label"])
    changes["label_reason"] = [reasons[i] for i in changes["id"]]
    with start_run("label", dataset_dir=dataset_dir,
                   tags={TAG_DATASET_DIGEST_BEFORE: before},
                   params={"table": str(table), "column": column}) as run:
        if result.changes:
            write_manifest(dataset_dir, manifest)
        mlflow.set_tag(TAG_DATASET_DIGEST, manifest_digest(manifest))
        mlflow.log_metrics({"labelled": result.labelled, "relabelled": result.relabelled,
                            "unchanged": result.unchanged, "confirmed": result.confirmed,
                            "upheld": result.upheld,
                            "blank": result.blank,
                            "left_out": result.left_out, "kept_curator": result.kept_curator})
        mlflow.log_artifact(str(table), LABEL_DIR)
        mlflow.log_text(changes.to_csv(index=False), f"{LABEL_DIR}/{LABEL_CHANGES}")
        location = run_location(run)
    return result, location
