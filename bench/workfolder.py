"""The work folder a bench runs in: given or temporary, with MLflow's embedded store in it."""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def work_folder(work: Path | None) -> Iterator[Path]:
    """Enter ``work`` (default: a temporary folder, removed after) with no MLflow server set.

    The runs a bench starts go to ``./mlflow.db`` and ``./mlruns`` there, never to the
    user's tracking server (``MLFLOW_TRACKING_URI``, ``MLFLOW_REGISTRY_URI`` and
    ``MLFLOW_RUN_ID`` are cleared).
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = (work or Path(tmp)).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_RUN_ID"):
            os.environ.pop(var, None)
        before = Path.cwd()
        os.chdir(folder)
        try:
            yield folder
        finally:
            os.chdir(before)
