"""Two-worker training: MultiWorkerMirroredStrategy on 127.0.0.1, one run, one model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pytest

import mediumnet.backbones.augment  # noqa: F401 - registers the layer the saved model holds
from mediumnet.config import SynthConfig
from mediumnet.data.manifest import read_manifest, write_manifest
from mediumnet.data.splits import splits
from mediumnet.data.synth import synthesize
from tests.integration.conftest import _free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_two_workers_train_one_model_that_only_the_chief_logs(workdir):
    root = workdir / "ds"
    synthesize(root, SynthConfig(per_class=8, width=320, height=240, seed=6, workers=1,
                                 artists_per_class=4), progress=False)
    write_manifest(root, splits(read_manifest(root), val=0.25, test=0.25))
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    scratch_before = set(Path(tempfile.gettempdir()).glob("mediumnet-worker-*"))
    procs, logs = [], []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {
            "type": "worker", "index": index}}), "CUDA_VISIBLE_DEVICES": ""}
        log = (workdir / f"worker{index}.log").open("w")
        logs.append(log)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "mediumnet", "train", "texture", str(root), "--preset",
             "tiny", "--quiet"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT))
    try:
        codes = [p.wait(timeout=600) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        for log in logs:
            log.close()
    output = "\n".join((workdir / f"worker{i}.log").read_text()[-2000:] for i in range(2))
    assert codes == [0, 0], output

    runs = mlflow.search_runs(experiment_names=["mediumnet"])
    assert len(runs) == 1, runs[["tags.mlflow.runName", "status"]]
    run = runs.iloc[0]
    assert run["params.strategy"] == "MultiWorkerMirroredStrategy"
    assert run["params.workers"] == "2" and run["status"] == "FINISHED"
    client = mlflow.MlflowClient()
    assert len(client.get_metric_history(run["run_id"], "loss")) == 2   # tiny: 2 epochs, once
    versions = client.search_model_versions("name = 'mediumnet-texture'")
    assert len(versions) == 1
    model = mlflow.keras.load_model(f"models:/mediumnet-texture/{versions[0].version}")
    tiles = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3)).astype("uint8")
    probs = np.asarray(model.predict(tiles, verbose=0))
    assert probs.shape[0] == 3 and np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert not (root / "train").exists() or not any((root / "train").iterdir())
    assert set(Path(tempfile.gettempdir()).glob("mediumnet-worker-*")) == scratch_before
