"""The MLproject runs as a user runs it: `mlflow run <repo> -e synth --env-manager local`."""

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _mlflow_run(workdir: Path, entry: str, **params: object) -> None:
    """Run ``mlflow run <repo> -e ENTRY -P name=value …`` as a user does; assert it passed."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    words = [w for name, value in params.items() for w in ("-P", f"{name}={value}")]
    out = subprocess.run(
        [sys.executable, "-m", "mlflow", "run", str(REPO), "-e", entry, "--env-manager",
         "local", "--experiment-name", "mediumnet", *words],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def test_every_entry_point_has_its_thin_script():
    project = yaml.safe_load((REPO / "MLproject").read_text())
    assert project["conda_env"] == "conda.yaml"
    for name, entry in project["entry_points"].items():
        script = entry["command"].split()[1]
        assert script == f"mlproject/{name.split('_')[0]}.py"
        assert (REPO / script).is_file()


def test_mlflow_run_synth_entry_point(workdir):
    _mlflow_run(workdir, "synth", dataset_dir=workdir / "ds", per_class=2, size="320x240",
                preset="demo", seed=4)
    assert len(pd.read_parquet(workdir / "ds" / "manifest.parquet")) == 10

    runs = mlflow.search_runs(experiment_names=["mediumnet"])
    assert len(runs) == 1  # the entry point logged into the run `mlflow run` created
    run = runs.iloc[0]
    assert run["status"] == "FINISHED"
    assert run["params.synth.per_class"] == "2"
    assert run["params.seed"] == "4"           # MLproject parameter
    assert run["params.synth.seed"] == "4"     # resolved config
    assert run["tags.mediumnet.step"] == "synth"
    assert run["metrics.images"] == 10


def test_mlflow_run_harvest_entry_point(workdir):
    from tests.integration.test_harvest import _tree

    src = _tree(workdir)
    _mlflow_run(workdir, "harvest", source="folder", dataset_dir=workdir / "ds", src=src,
                limit=3)
    assert len(pd.read_parquet(workdir / "ds" / "manifest.parquet")) == 3
    run = mlflow.search_runs(experiment_names=["mediumnet"]).iloc[0]
    assert run["params.source"] == "folder"
    assert run["metrics.kept"] == 3


def test_mlflow_run_harvest_reads_an_export_by_its_own_headers(workdir):
    from tests.integration.test_harvest import _export

    export = _export(workdir)
    _mlflow_run(workdir, "harvest", source="folder", dataset_dir=workdir / "ds", src=export,
                columns="label=Medium;path=Image File;title=Title")
    manifest = pd.read_parquet(workdir / "ds" / "manifest.parquet").set_index("id")
    assert manifest.loc["folder:scans/1921.3.png", "label"] == "gouache_watercolor"
    assert manifest.loc["folder:scans/1921.3.png", "title"] == "Harbour; evening"
    run = mlflow.search_runs(experiment_names=["mediumnet"]).iloc[0]
    assert run["params.source.column_label"] == "Medium"


def test_mlflow_run_split_entry_point(workdir):
    from mediumnet.config import SynthConfig
    from mediumnet.data.synth import synthesize

    synthesize(workdir / "ds", SynthConfig(per_class=10, width=320, height=240, workers=1,
                                           artists_per_class=5),
               progress=False)
    _mlflow_run(workdir, "split", dataset_dir=workdir / "ds", val=0.2, test=0.2, seed=1)
    manifest = pd.read_parquet(workdir / "ds" / "manifest.parquet")
    assert set(manifest["split"]) == {"train", "val", "test"}
    run = mlflow.search_runs(experiment_names=["mediumnet"]).iloc[0]
    assert run["params.data.val_fraction"] == "0.2"


def test_mlflow_run_train_texture_entry_point(workdir):
    from mediumnet.config import SynthConfig
    from mediumnet.data.manifest import read_manifest, write_manifest
    from mediumnet.data.splits import splits
    from mediumnet.data.synth import synthesize

    root = workdir / "ds"
    synthesize(root, SynthConfig(per_class=6, width=320, height=240, workers=1,
                                 artists_per_class=3), progress=False)
    write_manifest(root, splits(read_manifest(root), val=0.25, test=0.25))
    _mlflow_run(workdir, "train_texture", dataset_dir=root, preset="demo", epochs=1)
    run = mlflow.search_runs(experiment_names=["mediumnet"]).iloc[0]
    assert run["params.texture.epochs"] == "1"
    assert run["tags.mediumnet.step"] == "train_texture"
    versions = mlflow.MlflowClient().search_model_versions("name='mediumnet-texture'")
    assert len(versions) == 1


def test_mlflow_run_audit_suggest_and_label_entry_points(workdir):
    from mediumnet.config import SynthConfig
    from mediumnet.data.manifest import read_manifest, write_manifest
    from mediumnet.data.synth import synthesize

    root = workdir / "ds"
    synthesize(root, SynthConfig(per_class=6, width=320, height=240, workers=1,
                                 artists_per_class=3), progress=False)
    manifest = read_manifest(root)
    manifest.loc[manifest.index[:4], "label"] = ""      # four works whose medium is unknown
    write_manifest(root, manifest)
    # audit on its default parameters (folds 5.0: drawing, down to 2 works, is left out and
    # said), suggest with one given: the entry point's params and the step's must not clash.
    _mlflow_run(workdir, "audit", dataset_dir=root, preset="demo")
    _mlflow_run(workdir, "suggest", dataset_dir=root, preset="demo", budget=2)
    audited = pd.read_csv(root / "audit" / "audit.csv")
    assert len(audited) == 24 and "drawing" not in set(audited["label"])
    sheet = pd.read_csv(root / "suggest" / "to_label.csv", keep_default_na=False)
    assert len(sheet) == 2
    # The sheet filled and taken back: the label entry point, on its default column.
    sheet["label"] = ["woodcut", "oil on canvas"]
    sheet.to_csv(root / "suggest" / "to_label.csv", index=False)
    _mlflow_run(workdir, "label", dataset_dir=root, table=root / "suggest" / "to_label.csv")
    labels = read_manifest(root).set_index("id")["label"]
    assert list(labels[sheet["id"]]) == ["engraving", "painting"]
    runs = mlflow.search_runs(experiment_names=["mediumnet"]).set_index("tags.mediumnet.step")
    assert {"audit", "suggest", "label"} <= set(runs.index)
    assert runs.loc["suggest", "params.doubtful"] == "false"
    # its doubt is the audit's model's (both fitted branches), its picks spread in one space
    assert runs.loc["suggest", ["params.scored", "params.space"]].tolist() == [
        "features+embedding", "embedding"]
    assert runs.loc["label", "params.column"] == "label"
    assert runs.loc["label", "metrics.labelled"] == 2
    assert runs.loc["audit", "metrics.not_audited"] == 2          # the two drawings, counted
    assert (runs.loc[["audit", "suggest", "label"], "status"] == "FINISHED").all()
