"""`mlflow run . -e main`: from nothing to a registered champion, then the same again reused."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
from PIL import Image

from mediumnet.labels import MEDIUMS
from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STEPS = ["synth", "split", "explore", "train_composition", "train_texture", "stack",
         "evaluate"]


def _main(workdir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        [sys.executable, "-m", "mlflow", "run", str(REPO), "-e", "main", "--env-manager",
         "local", "--experiment-name", "mediumnet", "-P", "preset=tiny",
         "-P", f"dataset_dir={workdir / 'ds'}"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=1200)


def test_main_runs_every_step_nested_registers_a_champion_and_reuses_it(workdir):
    first = _main(workdir)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for number, step in enumerate(STEPS, start=1):
        assert f"mediumnet main [{number}/7] {step}: running" in first.stdout
    assert re.search(r"\| stack \| [0-9.]+ \| [0-9.]+ \|", first.stdout)
    assert f"/mediumnet predict {workdir / 'ds' / 'images'}/" in first.stdout
    assert ("mlflow models serve -m models:/mediumnet-ensemble@champion --env-manager local "
            "-h 127.0.0.1 -p 5000") in first.stdout

    runs = mlflow.search_runs(experiment_names=["mediumnet"])
    parents = runs[runs["tags.mediumnet.step"] == "main"]
    assert len(parents) == 1
    parent_id = parents["run_id"].iloc[0]
    children = runs[runs["tags.mlflow.parentRunId"] == parent_id]
    assert sorted(children["tags.mlflow.project.entryPoint"]) == sorted(STEPS)
    assert (children["status"] == "FINISHED").all()

    # The champion serves a new image in this process.
    model = mlflow.pyfunc.load_model("models:/mediumnet-ensemble@champion")
    buffer = io.BytesIO()
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(buffer, "JPEG")
    import base64

    import pandas as pd

    out = model.predict(pd.DataFrame({"image": [base64.b64encode(buffer.getvalue()).decode()]}))
    assert out["label"][0] in MEDIUMS and out["error"][0] is None

    # Run again: every step is reused, only a new parent run is made.
    second = _main(workdir)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    for number, step in enumerate(STEPS, start=1):
        assert f"mediumnet main [{number}/7] {step}: reusing finished run" in second.stdout
    assert len(mlflow.search_runs(experiment_names=["mediumnet"])) == len(runs) + 1


def test_main_refuses_an_unknown_source_in_one_line(workdir):
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        [sys.executable, "-m", "mlflow", "run", str(REPO), "-e", "main", "--env-manager",
         "local", "--experiment-name", "mediumnet", "-P", "source=louvre",
         "-P", f"dataset_dir={workdir / 'ds'}"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert ("mediumnet: error: unknown source 'louvre': choose one of synth, artsy, met, "
            "artic, folder") in done.stderr
    assert not (workdir / "ds").exists()
