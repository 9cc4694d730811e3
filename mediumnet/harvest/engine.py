"""The harvest engine: judge every record, fetch and verify images, dedupe, write the manifest.

Order of judgement for one record (the first that applies decides):

1. the source dropped it (``not_public_domain``, ``no_image``, ``not_found``, …);
2. no medium (``unmapped``: the category or text names none of the five; the detailed reason
   from :func:`mediumnet.labels.map_record` is kept too);
3. three-dimensional (``three_dimensional``: depth above ``harvest.max_depth_ratio`` of the
   larger side; judged again by a later harvest whose setting lets it pass);
4. the image cannot be had (``too_large``: a download over ``harvest.max_image_bytes``;
   ``download_http_404``, ``download_error``, ``missing_file``) or is not a complete image of at
   most :data:`~mediumnet.data.pixels.MAX_PIXELS` pixels (``empty``, ``not_an_image``,
   ``truncated``, ``corrupt``, ``too_many_pixels``): *failed*, tried again on the next run, the
   first of each reason named in the summary;
5. kept.

After all records: works whose images are the same bytes or perceptually the same
(``harvest.phash_distance``) are merged: under one label the first id stays and the others are
``duplicate`` / ``near_duplicate``; under different labels all are dropped as
``label_conflict``.

The parts: :mod:`~mediumnet.harvest.outcomes` judges one record and stores its image,
:mod:`~mediumnet.harvest.dedupe` merges duplicates, :mod:`~mediumnet.harvest.result` writes the
manifest and the summary, :mod:`~mediumnet.harvest.loop` runs the harvest and the offline
re-parse. This module runs a harvest as the tracked ``harvest`` step and re-exports them all.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from mediumnet.config import Config
from mediumnet.data.manifest import HARVEST_SUMMARY_NAME as SUMMARY_NAME
from mediumnet.data.writer_lock import writes_dataset
from mediumnet.harvest.base import Source
from mediumnet.harvest.dedupe import deduplicate
from mediumnet.harvest.loop import harvest, read_ahead, reparse
from mediumnet.harvest.outcomes import IMAGE_FACTS, judge, process_record
from mediumnet.harvest.result import HarvestResult, build_manifest
from mediumnet.labels import MEDIUMS

__all__ = ["IMAGE_FACTS", "SUMMARY_NAME", "HarvestResult", "build_manifest",
           "class_balance_plot", "deduplicate", "harvest", "judge", "process_record",
           "read_ahead", "reparse", "run_harvest"]


def class_balance_plot(result: HarvestResult, path: str | os.PathLike[str]) -> Path:
    """Save a bar chart of kept works per medium."""
    from mediumnet.figures import pyplot, save_figure

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6, 3))
    values = [result.kept_by_medium.get(m, 0) for m in MEDIUMS]
    ax.bar([m.replace("_", "\n") for m in MEDIUMS], values, color="#4c72b0")
    for x, v in enumerate(values):
        ax.text(x, v, str(v), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("works kept")
    ax.set_title(f"{result.source}: class balance")
    return save_figure(fig, path, dpi=110)


@writes_dataset("harvest", create=True)
def run_harvest(source: Source, dataset_dir: str | os.PathLike[str], config: Config, *,
                limit: int | None = None, link: bool = False, progress: bool = True,
                offline: bool = False) -> HarvestResult:
    """Harvest as one tracked MLflow run (the ``harvest`` step).

    Logs params (source, limit, the source's own settings — never a secret), metrics (records
    seen, kept per medium, dropped per reason, failed downloads, duplicates), the summary JSON,
    a class-balance bar chart, and the manifest as an MLflow dataset input. With
    ``offline=True`` the records are judged again from the raw log (:func:`reparse`).
    """
    import tempfile

    import mlflow

    from mediumnet.data.manifest import ensure_dataset_dir, read_manifest
    from mediumnet.names import TAG_DATASET_DIGEST
    from mediumnet.tracking import run_location, start_run

    root = ensure_dataset_dir(dataset_dir)
    source.check_destination(root)   # before a run is opened
    params = {"source": source.name, "limit": limit if limit is not None else "none",
              "offline": offline, **{f"source.{k}": v for k, v in source.params().items()}}
    with start_run("harvest", config=config, dataset_dir=root, params=params) as run:
        if offline:
            result = reparse(source, root, config.harvest)
        else:
            result = harvest(source, root, config.harvest, limit=limit, link=link,
                             progress=progress)
        mlflow.set_tag(TAG_DATASET_DIGEST, result.digest)
        metrics: dict[str, float] = {
            "records_seen": result.seen, "kept": result.kept,
            "failed_downloads": sum(result.failed_by_reason.values()),
            "duplicates": result.duplicates, "retries": result.retries,
            "seconds": result.seconds, "manifest_rows": result.manifest_rows,
        }
        metrics.update({f"kept_{m}": n for m, n in result.kept_by_medium.items()})
        metrics.update({f"dropped_{r}": n for r, n in result.dropped_by_reason.items()})
        metrics.update({f"failed_{r}": n for r, n in result.failed_by_reason.items()})
        mlflow.log_metrics(metrics)
        mlflow.log_dict(result.as_dict(), "harvest_summary.json")
        with tempfile.TemporaryDirectory() as tmp:
            mlflow.log_artifact(str(class_balance_plot(result, Path(tmp) / "class_balance.png")))
        manifest = read_manifest(root)
        with warnings.catch_warnings():
            # MLflow muses aloud about the source's kind and integer columns; neither matters.
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(manifest, source=str(root / "manifest.parquet"),
                                              name=f"{root.name}-manifest", targets="label",
                                              digest=result.digest)
            mlflow.log_input(dataset, context="harvest")
        result.run_location = run_location(run)
    return result
