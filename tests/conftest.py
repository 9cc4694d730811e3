"""Shared fixtures: a private working directory with MLflow's embedded default store."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""What OpenMP (scikit-learn's gradient boosting) and the BLAS libraries read at load time."""


def pytest_configure(config: pytest.Config) -> None:
    """Give each pytest-xdist worker its share of the cores, not every core.

    OpenMP and BLAS start one thread per core and busy-wait between tasks. With two workers
    on two cores each worker's threads spin on the core the other is training on: a gradient
    boosting search that takes six seconds alone took over two minutes. The variables are
    read when the libraries load, in this process and in every subprocess a test starts; a
    value already set is kept.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
        for var in THREAD_VARS:
            os.environ.setdefault(var, str(max(1, cores // workers)))


SLOW_FILES_FIRST = (
    "integration/test_train.py",
    "integration/test_collection.py",
    "integration/test_real_shapes.py",
    "integration/test_score.py",
    "integration/test_bench.py",
    "integration/test_tracking_server.py",
    "integration/test_main.py",
    "integration/test_mlproject.py",
    "integration/test_ensemble.py",
    "integration/test_demo_quality.py",
    "integration/test_pretrained.py",
)
"""The files that take longest, longest first: 415 s down to 116 s of their slowest tests
(``pytest --durations=60``, two workers on two cores, 2026-12-03). A file missing here only
runs later; the list needs no care beyond keeping its longest files near the top."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the slowest test files first, keeping the order of tests inside each file.

    ``make test`` hands whole files to two workers in this order (``--dist loadfile
    --no-loadscope-reorder``). pytest-xdist's own order, most tests first, left the files
    of one or two long tests (the whole chain through ``mlflow run``, the PostgreSQL
    server) to the end, where one worker ran them while the other sat idle.
    """
    rank = {name: position for position, name in enumerate(SLOW_FILES_FIRST)}
    tests_dir = Path(__file__).parent

    def file_rank(item: pytest.Item) -> int:
        relative = item.path.relative_to(tests_dir).as_posix() if item.path.is_relative_to(
            tests_dir) else ""
        return rank.get(relative, len(rank))

    items.sort(key=file_rank)


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
