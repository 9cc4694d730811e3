"""Real collections are never balanced five-medium sets: some mediums, few works, growing.

The first try of a new user, as the command line runs it: 12 works per medium by 3 artists
each, three of the five mediums, through synth → split → train → stack → evaluate → predict
→ a real `mlflow models serve`; and the same library calls on 2 and 4 mediums.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from mediumnet.labels import MEDIUMS
from tests.integration.conftest import MLFLOW_VARS, serve_model

pytestmark = pytest.mark.integration

THREE = ("painting", "drawing", "photography")
ABSENT = ("engraving", "gouache_watercolor")
NOISE = ("Traceback", "oneDNN", "cuda drivers", "ran out of data", "absl::InitializeLog")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in MLFLOW_VARS}
    env.pop("MEDIUMNET_VERBOSE", None)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def _run(exe: str, args: list[str], cwd: Path, *, ok: bool = True):
    done = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True,
                          env=_env(), timeout=600)
    if ok:
        assert done.returncode == 0, f"{args}:\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def first_try(tmp_path_factory):
    """The whole chain on 3 mediums x 12 works by 3 artists each, every step a CLI call."""
    home = tmp_path_factory.mktemp("first-try")
    exe = str(Path(sys.executable).parent / "mediumnet")
    tiny = ["--preset", "tiny"]
    outputs = {
        "synth": _run(exe, ["synth", "ds", "--per-class", "12", "--size", "400x300",
                            "--seed", "5", "--mediums", ",".join(THREE), *tiny,
                            "--set", "synth.artists_per_class=3"], home),
        "split": _run(exe, ["split", "ds"], home),   # the default fractions, 0.15 / 0.15
        "composition": _run(exe, ["train", "composition", "ds", "--quiet", *tiny], home),
        "texture": _run(exe, ["train", "texture", "ds", "--quiet", *tiny], home),
        "stack": _run(exe, ["stack", "ds", "--quiet", *tiny], home),
        "evaluate": _run(exe, ["evaluate", "models:/mediumnet-ensemble@champion", "ds", *tiny],
                         home),
    }
    return home, exe, outputs


@pytest.mark.slow
def test_a_first_try_on_three_mediums_runs_end_to_end_quietly(first_try):
    home, _, outputs = first_try
    for step, done in outputs.items():
        for noise in NOISE:
            assert noise not in done.stderr, f"{step} printed {noise!r}:\n{done.stderr}"
    split = outputs["split"].stdout
    table = [line.split() for line in split.splitlines() if line.split()
             and line.split()[0] in MEDIUMS]
    assert [row[0] for row in table] == list(THREE)          # no rows of absent mediums
    assert all(int(v) > 0 for row in table for v in row[1:]), split
    assert "warning: fewer than 5 validation works" in outputs["split"].stderr
    assert "| stack |" in outputs["stack"].stdout
    assert "95 % interval over the test's artists" in outputs["stack"].stdout
    assert ("scores cover the mediums the model knows: painting, drawing, photography"
            in outputs["evaluate"].stdout)
    report = next((home / "ds" / "evaluation").glob("*/report.md")).read_text()
    assert "not engraving, gouache_watercolor, which it was never trained on" in report


@pytest.mark.slow
def test_models_record_the_mediums_they_were_trained_on(first_try):
    home, _, _ = first_try
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}",
                                 registry_uri=f"sqlite:///{home / 'mlflow.db'}")
    for name in ("mediumnet-composition", "mediumnet-texture", "mediumnet-ensemble"):
        version = client.get_model_version(name, "1")
        assert version.tags["mediumnet.mediums"] == ",".join(THREE), name
    settings = json.loads(client.get_model_version("mediumnet-texture", "1")
                          .tags["mediumnet.branches.base"])
    assert settings["classes"] == list(THREE)


@pytest.mark.slow
def test_predict_and_serve_give_absent_mediums_zero(first_try):
    home, exe, _ = first_try
    images = sorted((home / "ds" / "images").rglob("*.jpg"))[:4]
    done = _run(exe, ["predict", "--json", *map(str, images)], home)
    rows = json.loads(done.stdout)
    assert len(rows) == 4
    # the user is told, beside the JSON (which stays clean), what the model cannot answer
    assert ("warning: this model tells apart only painting, drawing, photography (the mediums "
            "it was trained on): a work whose medium is engraving or gouache_watercolor gets "
            "one of those labels") in done.stderr
    scored = _run(exe, ["score", "ds/images", "scored.parquet", "--quiet"], home)
    assert "engraving or gouache_watercolor gets one of those labels" in scored.stderr
    assert set(pd.read_parquet(home / "scored.parquet")["label"]) <= set(THREE)
    for row in rows:
        assert row["label"] in THREE
        assert all(row[f"p_{m}"] == 0 for m in ABSENT)
        assert sum(row[f"p_{m}"] for m in MEDIUMS) == pytest.approx(1, abs=1e-6)

    payload = {"dataframe_records": [{"image": base64.b64encode(p.read_bytes()).decode()}
                                     for p in images]}
    with serve_model(home, "models:/mediumnet-ensemble@champion") as url:
        request = urllib.request.Request(f"{url}/invocations", json.dumps(payload).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            served = json.loads(response.read())["predictions"]
    assert len(served) == 4
    for row, local in zip(served, rows, strict=True):
        assert row["error"] is None and row["label"] == local["label"]
        assert [row[f"p_{m}"] for m in ABSENT] == [0.0, 0.0]
        assert row[f"p_{row['label']}"] == pytest.approx(row["confidence"])


@pytest.mark.slow
def test_a_new_collection_is_scored_over_the_shared_mediums_the_rest_counted(first_try):
    home, exe, _ = first_try
    tiny = ["--preset", "tiny"]
    champion = "models:/mediumnet-ensemble@champion"   # knows painting, drawing, photography
    _run(exe, ["synth", "other", "--per-class", "4", "--size", "320x240", "--seed", "9",
               "--mediums", "painting,engraving", *tiny], home)
    out = _run(exe, ["evaluate", champion, "other", "--split", "all", *tiny], home)
    assert "left out: 4 works of mediums the model does not know (engraving 4)" in out.stdout
    # no scikit-learn warning about mediums without works reaches the user, and macro-F1 is
    # said to cover the one medium left, not the three the model knows
    assert "UndefinedMetricWarning" not in out.stderr, out.stderr
    covered = ("macro-F1 is taken over the mediums these works have: painting (none of "
               "drawing, photography)")
    assert covered in out.stdout
    assert "M" + covered[1:] in next(
        (home / "other" / "evaluation").glob("*/report.md")).read_text()
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    run = client.search_runs(client.get_experiment_by_name("mediumnet").experiment_id,
                             "tags.`mediumnet.step` = 'evaluate'",
                             order_by=["attributes.start_time DESC"])[0]
    assert run.data.metrics["all_left_out_unknown_medium"] == 4
    assert run.data.metrics["all_works"] == 4 and run.data.metrics["all_mediums_scored"] == 1

    _run(exe, ["synth", "unknown", "--per-class", "3", "--size", "320x240", "--seed", "9",
               "--mediums", ",".join(ABSENT), *tiny], home)
    refused = _run(exe, ["evaluate", champion, "unknown", "--split", "all", *tiny], home,
                   ok=False)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "is of a medium the model knows (painting, drawing, photography)" in refused.stderr
    assert not (home / "unknown" / "evaluation").exists()


@pytest.mark.slow
def test_classify_says_which_of_a_collections_mediums_the_model_cannot_give(first_try):
    from mediumnet.data.manifest import read_manifest, write_manifest

    home, exe, _ = first_try
    tiny = ["--preset", "tiny"]
    _run(exe, ["synth", "mixed", "--per-class", "12", "--size", "320x240", "--seed", "5",
               "--mediums", "painting,engraving", *tiny, "--set", "synth.artists_per_class=3"],
         home)
    _run(exe, ["split", "mixed"], home)
    manifest = read_manifest(home / "mixed")
    blank = [manifest.index[manifest["label"] == m][0] for m in ("painting", "engraving")]
    manifest.loc[blank, ["label", "split"]] = ""          # two works whose record is silent
    write_manifest(home / "mixed", manifest)
    out = _run(exe, ["classify", "mixed", *tiny], home)
    assert ("note: the model gives only painting, drawing, photography; this collection's "
            "labelled works also hold engraving (11), so its unlabelled works of that medium "
            "get another") in out.stdout
    assert "engraving (11)" in (home / "mixed" / "classify" / "classified.html").read_text()
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    run = client.search_runs(client.get_experiment_by_name("mediumnet").experiment_id,
                             "tags.`mediumnet.step` = 'classify'")[0]
    assert run.data.metrics["labelled_unknown_medium"] == 11


@pytest.mark.parametrize("mediums", [("engraving", "photography"),
                                     ("painting", "engraving", "drawing", "photography")])
def test_two_and_four_mediums_train_score_and_predict_over_what_they_hold(workdir, mediums):
    from mediumnet.config import SynthConfig, load_config
    from mediumnet.data.manifest import read_manifest, write_manifest
    from mediumnet.data.splits import split_table, splits
    from mediumnet.data.synth import synthesize
    from mediumnet.ensemble.model import load_classifier
    from mediumnet.train import train_branch

    root = workdir / "ds"
    synthesize(root, SynthConfig(per_class=12, width=320, height=240, seed=3, workers=1,
                                 artists_per_class=3, mediums=mediums), progress=False)
    write_manifest(root, splits(read_manifest(root)))
    assert list(split_table(read_manifest(root)).index) == list(mediums)
    result = train_branch(root, "composition", load_config("tiny"), progress=False)
    run = mlflow.get_run(result.run_id)
    assert run.data.params["mediums"] == ",".join(mediums)
    assert run.data.metrics["final_val_macro_f1"] == pytest.approx(result.val_macro_f1)
    classifier = load_classifier(result.model_uri)
    assert classifier.classes == mediums
    assert classifier.branches[0].model.output_shape[-1] == len(mediums)
    probs, errors = classifier.predict_proba([str(root / p) for p in
                                              read_manifest(root)["image_path"][:6]])
    assert errors == [None] * 6
    absent = [MEDIUMS.index(m) for m in MEDIUMS if m not in mediums]
    assert (probs[:, absent] == 0).all()
    assert np.allclose(probs.sum(axis=1), 1)


def test_split_refuses_a_medium_by_two_artists_before_writing(workdir, mediumnet_exe):
    from mediumnet.config import SynthConfig
    from mediumnet.data.manifest import read_manifest
    from mediumnet.data.synth import synthesize

    synthesize(workdir / "ds", SynthConfig(per_class=6, width=160, height=120, seed=1,
                                           workers=1, artists_per_class=2,
                                           mediums=("painting", "drawing")), progress=False)
    before = read_manifest(workdir / "ds")
    done = subprocess.run([mediumnet_exe, "split", "ds"], cwd=workdir, capture_output=True,
                          text=True, env=_env(), timeout=120)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("mediumnet: error: too few artists (groups) for a fair split "
                                  "of painting (2), drawing (2)")
    assert "--min-groups" in done.stderr
    assert read_manifest(workdir / "ds").equals(before)


def test_a_split_that_left_val_empty_is_named_by_train(workdir, mediumnet_exe):
    exe = mediumnet_exe
    _run(exe, ["synth", "ds", "--preset", "tiny", "--per-class", "6", "--mediums",
               "painting,drawing", "--set", "synth.artists_per_class=3"], workdir)
    _run(exe, ["split", "ds", "--val", "0"], workdir)
    done = _run(exe, ["train", "composition", "ds", "--preset", "tiny"], workdir, ok=False)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "the split of ds left no works in 'val' (train" in done.stderr
    assert "mediumnet split ds --reshuffle with a larger --val" in done.stderr


def test_a_grown_data_set_is_split_again_without_moving_anyone(workdir, mediumnet_exe):
    exe = mediumnet_exe
    common = ["--preset", "tiny", "--per-class", "8", "--mediums", "painting,drawing",
              "--set", "synth.artists_per_class=3"]
    _run(exe, ["synth", "ds", "--seed", "1", *common], workdir)
    _run(exe, ["split", "ds"], workdir)
    from mediumnet.data.manifest import read_manifest

    first = read_manifest(workdir / "ds").set_index("id")["split"]
    _run(exe, ["synth", "ds", "--seed", "2", *common], workdir)   # 16 more works
    again = _run(exe, ["split", "ds"], workdir)
    assert "16 works newly assigned, 0 moved" in again.stdout
    now = read_manifest(workdir / "ds").set_index("id")["split"]
    assert (now[first.index] == first).all() and (now != "").all()
    shuffled = _run(exe, ["split", "ds", "--reshuffle", "--seed", "4"], workdir)
    assert "0 works newly assigned" in shuffled.stdout and " 0 moved" not in shuffled.stdout
    runs = mlflow.search_runs(experiment_names=["mediumnet"],
                              filter_string="tags.`mediumnet.step` = 'split'",
                              order_by=["attributes.start_time ASC"])
    assert list(runs["metrics.works_moved"])[:2] == [0, 0]
    assert list(runs["metrics.works_moved"])[2] > 0


TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\] "           # absl's format
                         r"|: [IWEF] tensorflow/\S+:\d+\] ", re.MULTILINE)  # TF's before 2.15
"""A line of TensorFlow's C++ log. Which lines it writes on start-up depends on the host (the
oneDNN line only on CPUs with AVX-512 VNNI or AMX; the CUDA line where no driver is found)."""


def test_verbose_shows_tensorflow_start_up_lines_and_quiet_does_not(workdir):
    code = "from mediumnet.console import quiet; quiet(); import tensorflow"
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=_env(), timeout=120)
    assert quiet.returncode == 0 and not TF_LOG_LINE.search(quiet.stderr), quiet.stderr
    loud = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**_env(), "MEDIUMNET_VERBOSE": "1"}, timeout=120)
    assert loud.returncode == 0 and TF_LOG_LINE.search(loud.stderr), loud.stderr
