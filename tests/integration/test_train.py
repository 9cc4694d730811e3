"""Training the branches on a tiny synthetic set: tracked, registered, resumable."""

import json
import os
import signal
import subprocess
import sys
import time

import mlflow
import numpy as np
import pandas as pd
import pytest

from mediumnet.config import SynthConfig, load_config
from mediumnet.data.manifest import read_manifest, write_manifest
from mediumnet.data.pipeline import class_weights
from mediumnet.data.splits import splits
from mediumnet.data.synth import synthesize
from mediumnet.labels import MEDIUMS
from mediumnet.train import detect_collapse, train_branch
from mediumnet.train.backup import METADATA, PREVIOUS, saved_epoch
from tests.conftest import REPO
from tests.integration.conftest import TINY

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def dataset(workdir):
    root = workdir / "ds"
    synthesize(root, SynthConfig(per_class=8, width=320, height=240, seed=6, workers=1,
                                 artists_per_class=4), progress=False)
    write_manifest(root, splits(read_manifest(root), val=0.25, test=0.25))
    return root


def test_two_epochs_lower_the_loss_log_every_epoch_and_register_a_loadable_model(dataset):
    config = load_config("demo", TINY)
    result = train_branch(dataset, "composition", config, progress=False)
    assert len(result.history["loss"]) == 2
    assert result.history["loss"][1] < result.history["loss"][0]
    client = mlflow.MlflowClient()
    for key in ("loss", "val_loss", "accuracy", "val_macro_f1", "learning_rate",
                "images_per_second"):
        assert len(client.get_metric_history(result.run_id, key)) == 2, key
    run = mlflow.get_run(result.run_id)
    assert run.data.metrics["parameters"] == result.params
    assert run.data.tags["mediumnet.collapsed"] in ("true", "false")
    assert {"learning_curves.png", "preprocessing.json", "config.yaml"} <= {
        a.path for a in client.list_artifacts(result.run_id)}
    version = client.get_model_version("mediumnet-composition", result.version)
    assert json.loads(version.tags["mediumnet.branches.base"])["size"] == 48
    assert version.tags["mediumnet.promotable"] == str(not result.collapsed).lower()

    loaded = mlflow.keras.load_model(f"models:/mediumnet-composition/{result.version}")
    pyfunc = mlflow.pyfunc.load_model(f"models:/mediumnet-composition/{result.version}")
    assert pyfunc.metadata.metadata["mediumnet"]["classes"] == list(MEDIUMS)
    x = np.random.default_rng(0).integers(0, 255, (3, 48, 48, 3)).astype("uint8")
    before = mlflow.keras.load_model(result.model_uri).predict(x, verbose=0)
    assert np.allclose(loaded.predict(x, verbose=0), before, atol=1e-6)


def test_texture_and_effnet_from_a_local_weights_file_train_and_register(dataset, tmp_path):
    import hashlib

    import keras

    from mediumnet.backbones.effnet import BACKBONE, build_backbone

    source = build_backbone("B0", 32, weights=None)
    rng = np.random.default_rng(0)
    norms = [layer.name for layer in source.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    for name in norms:  # statistics no fresh model has: only the file can put them there
        layer = source.get_layer(name)
        layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32")
                           for w in layer.get_weights()])
    path = tmp_path / "start.weights.h5"
    source.save_weights(str(path))
    texture = train_branch(dataset, "texture", load_config("demo", TINY), progress=False)
    config = load_config("demo", [*TINY, "effnet.variant=B0", f"effnet.weights={path}"])
    effnet = train_branch(dataset, "effnet", config, progress=False)
    assert texture.version and effnet.version
    metrics = mlflow.get_run(texture.run_id).data.metrics
    assert {"final_val_macro_f1", "final_val_macro_f1_center_crop"} <= set(metrics)
    children = mlflow.search_runs(experiment_names=["mediumnet"],
                                  filter_string=f"tags.mlflow.parentRunId = '{effnet.run_id}'")
    assert sorted(children["params.stage"]) == ["1", "2", "3"]
    params = mlflow.get_run(effnet.run_id).data.params
    assert params["start_weights"] == str(path)
    assert params["start_weights_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    # BatchNormalization stays frozen in every stage: after all three, it is still the file's.
    trained = mlflow.keras.load_model(effnet.model_uri).get_layer(BACKBONE)
    for name in norms:
        assert all(np.array_equal(a, b) for a, b in zip(
            source.get_layer(name).get_weights(), trained.get_layer(name).get_weights(),
            strict=True)), name


@pytest.mark.parametrize("suffix", [".weights.h5", ".h5", ".keras"])
def test_local_backbone_weights_load_in_every_keras_format(tmp_path, suffix):
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    from mediumnet.backbones.effnet import BACKBONE, build_backbone, build_effnet

    # Stands for the ImageNet file: a freshly built backbone's own (random) weights.
    source = build_backbone("B0", 32, weights=None)
    path = tmp_path / f"b0{suffix}"
    if suffix == ".weights.h5":
        source.save_weights(str(path))
    elif suffix == ".keras":
        source.save(str(path))
    else:  # Keras' ImageNet downloads are legacy HDF5 weights files
        import h5py

        with h5py.File(path, "w") as handle:
            legacy_h5_format.save_weights_to_hdf5_group(handle, source)
    model = build_effnet("B0", 48, weights=str(path))   # weights do not depend on the size
    loaded = model.get_layer(BACKBONE)
    assert all(np.array_equal(a, b) for a, b in zip(source.get_weights(), loaded.get_weights(),
                                                      strict=True))
    fresh = build_backbone("B0", 48, weights=None)
    kernels = [i for i, w in enumerate(source.get_weights()) if w.ndim == 4]
    assert not np.array_equal(fresh.get_weights()[kernels[0]], source.get_weights()[kernels[0]])
    assert isinstance(loaded, keras.Model)


def test_texture_tiles_through_an_effnet_backbone(dataset):
    from mediumnet.ensemble.model import load_branch

    config = load_config("demo", [*TINY, "texture.backbone=effnet", "effnet.weights=none"])
    result = train_branch(dataset, "texture", config, progress=False)
    model = mlflow.keras.load_model(result.model_uri)
    assert model.get_layer("backbone").name == "backbone"   # EfficientNet inside
    params = mlflow.get_run(result.run_id).data.params
    assert params["texture.backbone"] == "effnet" and params["start_weights"] == "none"
    branch = load_branch(result.model_uri, "texture")      # same tiles, same pooling
    assert branch.per_image == 2 and branch.settings["tile"] == 32


def test_weights_fetch_without_internet_says_so_in_one_line(workdir, mediumnet_exe):
    done = subprocess.run([mediumnet_exe, "weights", "fetch", "B0", "--dir", "w"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "needs the internet" in done.stderr and "EfficientNetB0" in done.stderr
    assert not (workdir / "w").exists()                     # nothing half-written
    bad = subprocess.run([mediumnet_exe, "weights", "fetch", "B9"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 1 and "unknown EfficientNet variant B9" in bad.stderr


def test_killed_training_resumes_at_the_next_epoch(dataset, workdir):
    sets = [a for item in TINY + ["composition.epochs=4", "train.early_stopping_start=10"]
            for a in ("--set", item)]
    command = [sys.executable, "-m", "mediumnet", "train", "composition", str(dataset),
               "--preset", "demo", "--quiet", *sets]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    backups: list = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        backups = [m for m in (dataset / "train").glob(f"composition-*/stage1/backup/{METADATA}")
                   if saved_epoch(m) is not None]   # written whole, not just begun
        if backups:
            break
        time.sleep(0.05)
    assert backups, "no epoch finished before the deadline"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    # A later epoch's backup may have been begun since: cut short, the epoch before is resumed.
    finished = saved_epoch(backups[0]) or saved_epoch(backups[0].with_name(METADATA + PREVIOUS))
    assert finished >= 1
    again = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"resumed after epoch {finished}" in again.stdout
    runs = mlflow.search_runs(experiment_names=["mediumnet"])
    assert len(runs) == 1  # the same MLflow run went on
    history = mlflow.MlflowClient().get_metric_history(runs.iloc[0]["run_id"], "loss")
    assert sorted({m.step for m in history}) == [0, 1, 2, 3]


def test_class_weights_of_a_skewed_set_are_the_documented_ones():
    labels = ["painting"] * 60 + ["drawing"] * 30 + ["photography"] * 10
    weights = class_weights(pd.DataFrame({"label": labels, "split": "train"}))
    # n / (k * n_c) with k = 3 present mediums
    assert weights[MEDIUMS.index("painting")] == pytest.approx(100 / (3 * 60))
    assert weights[MEDIUMS.index("drawing")] == pytest.approx(100 / (3 * 30))
    assert weights[MEDIUMS.index("photography")] == pytest.approx(100 / (3 * 10))
    assert weights[MEDIUMS.index("engraving")] == 0.0


def test_collapse_is_detected():
    y = np.array([0, 1, 2, 3, 4] * 4)
    assert detect_collapse(y, np.zeros_like(y))[0]
    assert "answers one medium" in detect_collapse(y, np.zeros_like(y))[1]
    assert not detect_collapse(y, y)[0]


def test_train_cli_bad_branch_and_unsplit_data(workdir, mediumnet_exe):
    synthesize(workdir / "raw", SynthConfig(per_class=1, width=320, height=240, workers=1),
               progress=False)
    out = subprocess.run([mediumnet_exe, "train", "composition", "raw", "--preset", "demo"],
                         cwd=workdir, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert "the manifest of raw is not split yet: run mediumnet split raw" in out.stderr
    assert out.stderr.count("\n") == 1
    assert (REPO / "mlproject" / "train.py").is_file()


def test_killed_effnet_training_skips_its_finished_stages(dataset, workdir):
    sets = [a for item in TINY + ["effnet.stage_epochs=1,3,1", "train.early_stopping_start=10"]
            for a in ("--set", item)]
    command = [sys.executable, "-m", "mediumnet", "train", "effnet", str(dataset),
               "--preset", "demo", "--quiet", *sets]
    proc = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    marker = []
    while time.monotonic() < deadline and proc.poll() is None and not marker:
        marker = list((dataset / "train").glob("effnet-*/stage2/backup/training_metadata.json"))
        time.sleep(0.05)
    assert marker, "stage 2 never finished an epoch"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert list((dataset / "train").glob("effnet-*/stage1/finished.weights.h5"))
    again = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resumed after epoch" in again.stdout
    runs = mlflow.search_runs(experiment_names=["mediumnet"])
    stage1 = runs[runs["params.stage"] == "1"]
    assert len(stage1) == 1  # stage 1 ran once, before the kill
    assert not list((dataset / "train").glob("effnet-*"))  # cleaned up when done
