"""Shared fixtures: a private working directory with MLflow's embedded default store."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory with no MLflow environment variables set.

    MLflow then uses its embedded default store: ./mlflow.db and ./mlruns in this folder.
    """
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_NAME",
                "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def mediumnet_exe() -> str:
    """The installed ``mediumnet`` console script (beside this Python, else on PATH)."""
    beside = Path(sys.executable).parent / "mediumnet"
    exe = str(beside) if beside.is_file() else shutil.which("mediumnet")
    if exe is None:
        pytest.fail("the mediumnet console script is not on PATH: install with `make test`")
    return exe
