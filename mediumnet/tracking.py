"""MLflow setup and the one helper every step uses to start a run.

With no ``MLFLOW_TRACKING_URI`` set, mediumnet uses MLflow 3's own embedded default: a SQLite
store ``mlflow.db`` in the working directory (tracking and Model Registry) with artifacts under
``./mlruns``. With ``MLFLOW_TRACKING_URI`` set, that server is used unchanged. mediumnet never
invents a store of its own.

Every run goes to the experiment ``mediumnet`` (unless ``mlflow run`` already started one),
carries the standard tags (git commit, mediumnet version, dataset digest) and, when given a
:class:`~mediumnet.config.Config`, logs it as params and as ``config.yaml``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import mlflow

    from mediumnet.config import Config

from mediumnet.names import (  # noqa: F401 - TAG_MEDIUMS: the steps' tag, re-exported
    EXPERIMENT,
    TAG_DATASET_DIGEST,
    TAG_DATASET_DIR,
    TAG_GIT_COMMIT,
    TAG_MEDIUMS,
    TAG_PRESET,
    TAG_STEP,
    TAG_VERSION,
)

_QUIET_LOGGERS = ("alembic", "mlflow.store.db.utils", "mlflow.store.model_registry",
                  "mlflow.tracking.fluent", "mlflow.pyfunc")


def _quiet_store_logs() -> None:
    """Hide MLflow's database-migration chatter; mediumnet prints where runs go itself."""
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def tracking_uri() -> str:
    """Return the tracking URI in use (``MLFLOW_TRACKING_URI`` or MLflow's default)."""
    import mlflow

    return mlflow.get_tracking_uri()


def git_commit(path: str | os.PathLike[str] | None = None) -> str | None:
    """Return the commit of the git checkout that holds ``path`` (or this package), if any."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def standard_tags(*, dataset_digest: str | None = None,
                  dataset_dir: str | os.PathLike[str] | None = None,
                  config: Config | None = None, step: str | None = None) -> dict[str, str]:
    """Return the tags every mediumnet run carries."""
    from mediumnet.version import __version__

    tags = {TAG_VERSION: __version__}
    commit = git_commit()
    if commit:
        tags[TAG_GIT_COMMIT] = commit
    if dataset_digest:
        tags[TAG_DATASET_DIGEST] = dataset_digest
    if dataset_dir is not None:
        tags[TAG_DATASET_DIR] = str(Path(dataset_dir).resolve())
    if config is not None:
        tags[TAG_PRESET] = config.preset
    if step:
        tags[TAG_STEP] = step
    return tags


def log_config(config: Config) -> None:
    """Log ``config`` to the active run: every field as a param, the whole as ``config.yaml``."""
    import mlflow

    params = {k: ",".join(map(str, v)) if isinstance(v, list) else v
              for k, v in config.flat().items()}
    mlflow.log_params(params)
    mlflow.log_text(config.to_yaml(), "config.yaml")


@contextlib.contextmanager
def start_run(step: str, *, config: Config | None = None, dataset_digest: str | None = None,
              dataset_dir: str | os.PathLike[str] | None = None, nested: bool | None = None,
              tags: Mapping[str, str] | None = None,
              params: Mapping[str, Any] | None = None,
              resume_run_id: str | None = None) -> Iterator[mlflow.ActiveRun]:
    """Start (or join) an MLflow run for one step of mediumnet.

    - Inside ``mlflow run`` (``MLFLOW_RUN_ID`` set) the run that MLflow created is used; the
      ``params`` it already holds (the entry point's, from the same user input, e.g.
      ``doubtful=false`` beside ``False``) are left as MLflow logged them.
    - Inside another active run, a nested child run is started (``nested`` defaults to that).
    - Otherwise a new run is started in the experiment ``mediumnet``.

    Parameters
    ----------
    step : str
        The step's name, used as run name and as the ``mediumnet.step`` tag.
    config : Config, optional
        Logged as params and as the ``config.yaml`` artifact.
    dataset_digest, dataset_dir : optional
        Recorded as tags so that a run says which data it saw.
    nested : bool, optional
        Force a nested (True) or top-level (False) run.
    tags, params : mapping, optional
        Extra tags and params.
    resume_run_id : str, optional
        Continue this earlier run (a training that was killed and started again).

    Yields
    ------
    mlflow.ActiveRun
        The active run; it ends (FINISHED, or FAILED on an exception) when the block exits.
    """
    import mlflow

    _quiet_store_logs()
    parent = mlflow.active_run()
    if nested is None:
        nested = parent is not None
    joining = parent is None and bool(os.environ.get("MLFLOW_RUN_ID"))
    if resume_run_id:
        try:
            mlflow.get_run(resume_run_id)
        except Exception:  # the store was reset: start afresh
            resume_run_id = None
    if not joining and not nested and not resume_run_id:
        mlflow.set_experiment(EXPERIMENT)
    run_name = None if joining or resume_run_id else step
    with mlflow.start_run(run_id=resume_run_id, run_name=run_name, nested=nested) as run:
        all_tags = standard_tags(dataset_digest=dataset_digest, dataset_dir=dataset_dir,
                                 config=config, step=step)
        all_tags.update(tags or {})
        mlflow.set_tags(all_tags)
        if config is not None:
            log_config(config)
        if params:
            logged = mlflow.get_run(run.info.run_id).data.params if joining else {}
            mlflow.log_params({k: v for k, v in params.items() if k not in logged})
        yield run


def run_location(run: mlflow.ActiveRun | Any) -> str:
    """Return one line that says where a run went and how to look at it."""
    import mlflow

    uri = mlflow.get_tracking_uri()
    experiment = mlflow.get_experiment(run.info.experiment_id)
    name = experiment.name if experiment else run.info.experiment_id
    if uri.startswith(("http://", "https://", "databricks")):
        how = f"open {uri}"
    else:
        how = f"mlflow ui --backend-store-uri {uri}"
    return (f"MLflow run {run.info.run_id} (experiment {name!r}) stored in {uri}; "
            f"artifacts in {run.info.artifact_uri}; browse with: {how}")
