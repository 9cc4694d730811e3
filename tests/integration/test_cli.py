"""The command line as a user runs it: the installed console script, in a fresh folder."""

import subprocess

import mlflow
import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.integration


def run(exe, *args, cwd):
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_synth_writes_the_dataset_and_a_tracked_run(workdir, mediumnet_exe):
    out = run(mediumnet_exe, "synth", "ds", "--preset", "demo", "--per-class", "3",
              "--size", "320x240", "--seed", "5", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "15 images written to" in out.stdout
    assert f"stored in sqlite:///{workdir}/mlflow.db" in out.stdout
    assert "mlflow ui --backend-store-uri" in out.stdout
    manifest = pd.read_parquet(workdir / "ds" / "manifest.parquet")
    assert len(manifest) == 15
    assert (workdir / "mlflow.db").is_file()

    runs = mlflow.search_runs(experiment_names=["mediumnet"])
    assert len(runs) == 1
    run_row = runs.iloc[0]
    assert run_row["status"] == "FINISHED"
    assert run_row["params.synth.per_class"] == "3"
    assert run_row["params.synth.width"] == "320"
    assert run_row["params.preset"] == "demo"
    assert run_row["tags.mediumnet.step"] == "synth"
    assert len(run_row["tags.mediumnet.dataset_digest"]) == 16
    assert run_row["metrics.images"] == 15
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run_row["run_id"])}
    assert {"config.yaml", "contact_sheet.png", "synth_summary.txt"} <= artifacts


def test_rerun_with_the_same_seed_does_not_duplicate(workdir, mediumnet_exe):
    for _ in range(2):
        out = run(mediumnet_exe, "synth", "ds", "--preset", "demo", "--per-class", "1",
                  "--size", "320x240", cwd=workdir)
        assert out.returncode == 0, out.stderr
    assert len(pd.read_parquet(workdir / "ds" / "manifest.parquet")) == 5


def test_config_prints_the_resolved_yaml(workdir, mediumnet_exe):
    out = run(mediumnet_exe, "config", "--preset", "demo", "--set", "data.texture_tile=48",
              cwd=workdir)
    assert out.returncode == 0, out.stderr
    settings = yaml.safe_load(out.stdout)
    assert settings["preset"] == "demo"
    assert settings["data"]["texture_tile"] == 48


@pytest.mark.parametrize(("args", "message"), [
    (["synth", "ds", "--preset", "huge"],
     "unknown preset 'huge': choose one of seed, demo, tiny, full"),
    (["synth", "ds", "--set", "data.composition_size"],
     "malformed --set 'data.composition_size': write section.field=value"),
    (["synth", "ds", "--set", "data.composition_size=big"],
     "--set data.composition_size=big: the value must be an integer"),
    (["synth", "ds", "--per-class", "0"],
     "--per-class 0: ask for at least 1 image per medium"),
    (["synth", "ds", "--size", "10x10"],
     "--size 10x10 is below the texture tile size (320 px): ask for at least 320x320"),
    (["synth", "ds", "--preset", "demo", "--size", "10x10"],
     "--size 10x10 is below the texture tile size (64 px): ask for at least 64x64"),
    (["synth", "ds", "--size", "big"],
     "--size 'big': write WIDTHxHEIGHT, e.g. --size 1600x1200"),
    (["synth", "ds", "--mediums", "painting,sculpture"],
     "--mediums painting,sculpture: name one or more of painting, engraving, drawing"),
    (["split", "ds", "--min-groups", "0"], "data.min_groups=0 must be positive"),
    (["synth", "blocker/ds", "--preset", "demo"],
     "cannot write to dataset folder"),
])
def test_bad_input_is_one_line_and_nonzero(workdir, mediumnet_exe, args, message):
    (workdir / "blocker").write_text("a file where a folder should be")
    out = run(mediumnet_exe, *args, cwd=workdir)
    assert out.returncode == 1
    assert out.stderr.startswith("mediumnet: error: ")
    assert message in out.stderr
    assert out.stderr.count("\n") == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert not (workdir / "ds").exists()
    assert not (workdir / "mlflow.db").exists()  # no run was opened for a bad request


def test_a_failed_step_keeps_the_manifest_already_written(workdir, mediumnet_exe):
    ok = run(mediumnet_exe, "synth", "ds", "--preset", "demo", "--per-class", "1",
             "--size", "320x240", cwd=workdir)
    assert ok.returncode == 0, ok.stderr
    before = (workdir / "ds" / "manifest.parquet").read_bytes()
    bad = run(mediumnet_exe, "synth", "ds", "--preset", "demo", "--size", "10x10", cwd=workdir)
    assert bad.returncode == 1
    assert (workdir / "ds" / "manifest.parquet").read_bytes() == before


def test_version_and_help(workdir, mediumnet_exe):
    assert run(mediumnet_exe, "--version", cwd=workdir).stdout.startswith("mediumnet, version")
    help_text = run(mediumnet_exe, "--help", cwd=workdir).stdout
    assert "synth" in help_text and "config" in help_text


def test_split_writes_the_split_column_and_a_run(workdir, mediumnet_exe):
    made = run(mediumnet_exe, "synth", "ds", "--preset", "demo", "--per-class", "20",
               "--size", "320x240", cwd=workdir)
    assert made.returncode == 0, made.stderr
    out = run(mediumnet_exe, "split", "ds", "--preset", "demo", "--val", "0.2", "--test",
              "0.2", cwd=workdir)
    assert out.returncode == 0, out.stderr
    manifest = pd.read_parquet(workdir / "ds" / "manifest.parquet")
    assert set(manifest["split"]) == {"train", "val", "test"}
    assert (manifest.groupby("artist")["split"].nunique() == 1).all()
    assert "train" in out.stdout and "MLflow run" in out.stdout
    runs = mlflow.search_runs(experiment_names=["mediumnet"])
    split_run = runs[runs["tags.mediumnet.step"] == "split"].iloc[0]
    assert split_run["params.data.val_fraction"] == "0.2"
    # a new synth run keeps the splits of works that were already split
    again = run(mediumnet_exe, "synth", "ds", "--preset", "demo", "--per-class", "20",
                "--size", "320x240", cwd=workdir)
    assert again.returncode == 0
    assert pd.read_parquet(workdir / "ds" / "manifest.parquet")["split"].equals(
        manifest["split"])


def test_split_names_the_artists_it_kept_in_train_and_logs_them(workdir, mediumnet_exe):
    from mediumnet.data.manifest import ensure_dataset_dir, manifest_frame, write_manifest

    # peopleart-mediums' engravers: Hokusai's 47 prints would be most of the test's 53
    engravers = {"Ohara Koson": 114, "Katsushika Hokusai": 47,
                 **{f"engraver {a}": n for a, n in enumerate((25, 21, 20, 18, 16, 14, 11, 9, 8,
                                                              7, 7, 6, 5, 5, 4, 4, 3, 3))}}
    rows = [{"id": f"{artist}:{i}", "label": "engraving", "artist": artist, "width": 400,
             "height": 300, "bytes": 1000} for artist, n in engravers.items() for i in range(n)]
    rows += [{"id": f"painter {a}:{i}", "label": "painting", "artist": f"painter {a}",
              "width": 400, "height": 300, "bytes": 1000} for a in range(90) for i in range(4)]
    write_manifest(ensure_dataset_dir(workdir / "ds"), manifest_frame(rows))

    out = run(mediumnet_exe, "split", "ds", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert ("kept in train, since alone each would be most of a medium's val or test works and "
            "its figures would measure one artist: Ohara Koson (114 engraving), Katsushika "
            "Hokusai (47 engraving)") in out.stdout
    assert "mostly measure" not in out.stderr
    manifest = pd.read_parquet(workdir / "ds" / "manifest.parquet")
    assert set(manifest.loc[manifest["artist"].isin(["Ohara Koson", "Katsushika Hokusai"]),
                            "split"]) == {"train"}
    split_run = mlflow.search_runs(experiment_names=["mediumnet"]).iloc[0]
    assert split_run["metrics.artists_kept_in_train"] == 2
    table = mlflow.artifacts.load_text(f"runs:/{split_run['run_id']}/split_table.txt")
    assert "kept in train (too big to measure): Katsushika Hokusai (47 engraving)" in table


def test_split_without_a_manifest_is_one_line(workdir, mediumnet_exe):
    out = run(mediumnet_exe, "split", "nowhere", cwd=workdir)
    assert out.returncode == 1
    assert out.stderr.startswith("mediumnet: error: no manifest at")
    assert out.stderr.count("\n") == 1


def test_explore_prints_the_summary_and_where_the_report_is(workdir, mediumnet_exe):
    made = run(mediumnet_exe, "synth", "ds", "--preset", "demo", "--per-class", "3",
               "--size", "320x240", cwd=workdir)
    assert made.returncode == 0, made.stderr
    out = run(mediumnet_exe, "explore", "ds", "--preset", "demo", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "| empty_share |" in out.stdout
    assert "15 images measured (0 reused)" in out.stdout
    assert (workdir / "ds" / "explore" / "report.md").is_file()
    bad = run(mediumnet_exe, "explore", "nowhere", cwd=workdir)
    assert bad.returncode == 1 and bad.stderr.startswith("mediumnet: error: no manifest at")
    assert bad.stderr.count("\n") == 1
