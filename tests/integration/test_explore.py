"""The visual feature study on a synthetic set whose cues are known."""


import mlflow
import pandas as pd
import pytest

from mediumnet.config import SynthConfig, load_config
from mediumnet.data.manifest import read_manifest, write_manifest
from mediumnet.data.synth import synthesize
from mediumnet.errors import DatasetError
from mediumnet.study.explore import (
    FEATURE_NAMES,
    FEATURES_VERSION,
    explore,
    image_features,
    run_explore,
)
from mediumnet.study.features import DESCRIPTOR_NAMES, NUMERIC_FOR_MODELS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("explore") / "ds"
    synthesize(root, SynthConfig(per_class=12, width=480, height=360, seed=4, workers=2),
               progress=False)
    return root


@pytest.fixture(scope="module")
def explored(synth_set):
    return explore(synth_set, progress=False)


def test_summary_shows_the_designed_cues(explored):
    medians = explored.summary["median"]
    means = explored.features.groupby("label")[["grayscale"]].mean()["grayscale"]

    def leader(series, margin):
        ranked = series.sort_values(ascending=False)
        assert ranked.iloc[0] >= ranked.iloc[1] * margin, series
        return ranked.index[0]

    assert leader(medians.loc["empty_share"], 1.3) == "drawing"
    assert leader(medians.loc["edge_density"], 2.0) == "engraving"
    assert leader(medians.loc["line_crispness"], 1.15) == "engraving"
    assert leader(medians.loc["saturation_mean"], 2.0) == "painting"
    assert medians.loc["value_mean"].idxmin() == "painting"
    assert means.idxmax() == "photography" and means["photography"] >= 0.25
    assert (means.drop("photography") <= 0.1).all()


def test_outputs_are_written(explored, synth_set):
    features = pd.read_parquet(synth_set / "features.parquet")
    assert len(features) == 60 and features["id"].is_unique
    assert (features["features_version"] == FEATURES_VERSION).all()
    assert set(FEATURE_NAMES) <= set(features.columns)
    out = synth_set / "explore"
    for name in ("summary.csv", "summary.md", "report.md", "plots/class_balance.png",
                 "plots/image_sizes.png", "plots/pca.png", "plots/samples.png",
                 "plots/feature_empty_share.png", "plots/descriptors_top.png",
                 "discriminating.csv"):
        assert (out / name).is_file(), name
    report = (out / "report.md").read_text()
    assert "| empty_share |" in report and "![pca](plots/pca.png)" in report
    # Every texture descriptor is in the per-medium summary, with its meaning.
    summary = (out / "summary.md").read_text()
    assert "| lbp_r3_other_tiles |" in summary and "| gabor_w4_o90_thumb |" in summary
    assert "share of the texture's energy in strokes 4 px apart" in summary
    ranking = pd.read_csv(out / "discriminating.csv", index_col="feature")
    assert set(NUMERIC_FOR_MODELS) < set(ranking.index)
    assert "lbp_r1_3_tiles_spread" in ranking.index
    assert ranking["f_statistic"].is_monotonic_decreasing
    assert "## What separates the mediums best" in report
    assert "![descriptors_top](plots/descriptors_top.png)" in report


def test_a_table_of_an_older_feature_version_is_measured_again(tmp_path, synth_set, explored):
    import shutil

    root = tmp_path / "ds"
    shutil.copytree(synth_set, root)
    old = pd.read_parquet(root / "features.parquet")
    old["features_version"] = FEATURES_VERSION - 1
    old["edge_density"] = -1.0                     # what an old definition measured
    old.to_parquet(root / "features.parquet")
    again = explore(root, progress=False)
    assert again.reused == 0
    stored = pd.read_parquet(root / "features.parquet")
    assert (stored["features_version"] == FEATURES_VERSION).all() and len(stored) == 60
    assert (stored["edge_density"] >= 0).all()
    assert set(DESCRIPTOR_NAMES) <= set(stored.columns)


def test_second_run_reuses_measurements_and_a_bad_image_is_listed(synth_set, explored):
    manifest = read_manifest(synth_set)
    victim = manifest.iloc[3]
    path = synth_set / victim["image_path"]
    original = path.read_bytes()
    path.write_bytes(original[:300])
    changed = manifest.copy()
    changed.loc[3, "sha256"] = "0" * 64  # the manifest says the bytes changed
    write_manifest(synth_set, changed)
    try:
        again = explore(synth_set, progress=False)
    finally:
        path.write_bytes(original)
        write_manifest(synth_set, manifest)
    assert again.reused == 59
    assert list(again.failed) == [victim["id"]]
    assert "truncated or corrupt" in again.failed[victim["id"]]
    assert victim["id"] in (synth_set / "explore" / "report.md").read_text()


def test_single_image_features_need_no_dataset(synth_set):
    path = next((synth_set / "images").rglob("*.jpg"))
    by_path = image_features(path)
    assert list(by_path) == list(FEATURE_NAMES)
    assert by_path["width"] == 480 and by_path["jpeg_quality"] == 90
    by_bytes = image_features(path.read_bytes())
    assert by_bytes == by_path                      # one decoder, whatever the source


def test_sample_and_tracking(synth_set, workdir):
    result = run_explore(synth_set, load_config("demo"), sample=20, progress=False)
    assert len(result.features) == 20
    assert result.features["label"].value_counts().min() >= 3
    run = mlflow.search_runs(experiment_names=["mediumnet"]).iloc[0]
    assert run["params.sampled_works"] == "20" and run["metrics.images"] == 20
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run["run_id"], "explore")}
    assert {"explore/report.md", "explore/summary.csv", "explore/plots"} <= artifacts


def test_empty_manifest_is_a_clear_error(tmp_path):
    from mediumnet.data.manifest import empty_manifest

    (tmp_path / "ds").mkdir()
    write_manifest(tmp_path / "ds", empty_manifest())
    with pytest.raises(DatasetError, match="the manifest of .* has no labelled works: build"):
        explore(tmp_path / "ds", progress=False)
