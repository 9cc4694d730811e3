"""The stacked ensemble: comparison table, audit, registry, champion, pyfunc, library, CLI."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mlflow
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import mediumnet
from mediumnet.ensemble.champion import promote_if_better
from mediumnet.ensemble.classifier import OUTPUT_COLUMNS, PROBABILITY_COLUMNS
from mediumnet.labels import MEDIUMS
from mediumnet.names import TAG_SELECTION_MACRO_F1, TAG_TEST_SPLIT, TAG_VAL_SPLIT
from tests.integration.conftest import BAD_IMAGES, jpeg_bytes

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _test_images(stacked, n=3):
    from mediumnet.data.manifest import read_manifest

    manifest = read_manifest(stacked.dataset)
    works = manifest[manifest["split"] == "test"].head(n)
    return [str(stacked.dataset / p) for p in works["image_path"]]


def test_stack_reports_every_model_on_test_and_registers_a_champion(in_store):
    result = in_store.result
    # Every branch of the registry that was stacked: the two trained here, the features
    # branch and (the pretrained extra is installed) the embedding branch.
    assert list(result.table.index) == ["composition", "texture", "features", "embedding",
                                        "blend", "stack"]
    assert ((result.table >= 0) & (result.table <= 1)).all().all()
    metrics = mlflow.get_run(result.run_id).data.metrics
    for m in result.table.index:
        assert metrics[f"test_macro_f1_{m}"] == pytest.approx(result.table.loc[m, "macro_f1"])
        assert f"test_accuracy_{m}" in metrics
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id)}
    assert {"table.md", "label_issues.csv", "label_issues.png", "evaluation", "model",
            "config.yaml"} <= artifacts
    version = mlflow.MlflowClient().get_model_version_by_alias("mediumnet-ensemble",
                                                                "champion")
    assert str(version.version) == result.version and result.promoted
    assert version.tags["mediumnet.branch.composition"].startswith(
        "models:/mediumnet-composition/1")
    assert version.tags["mediumnet.branch.texture"].startswith("models:/mediumnet-texture/1")
    assert version.tags["mediumnet.dataset_digest"]
    assert float(version.tags["mediumnet.test_macro_f1"]) == pytest.approx(
        result.table.loc["stack", "macro_f1"], abs=1e-6)
    info = mlflow.models.get_model_info("models:/mediumnet-ensemble@champion")
    assert info.signature.inputs.input_names() == ["image", "path", "url"]
    assert info.saved_input_example_info is not None
    requirements = (in_store.home / mlflow.artifacts.download_artifacts(
        "models:/mediumnet-ensemble@champion", dst_path=str(in_store.home / "dl"))
    ) / "requirements.txt"
    text = requirements.read_text()
    assert "keras==" in text and "pillow==" in text and "tensorflow==" in text
    assert "pi-heif==" in text   # a served model reads a phone's HEIC photographs too
    assert "imagecodecs==" in text   # and an archive's deep JPEG 2000 masters
    assert "simplejpeg==" in text    # and decodes a JPEG's every pixel with it


def test_the_label_audit_lists_works_a_curator_can_find(in_store):
    issues = pd.read_csv(in_store.result.out_dir / "label_issues.csv")
    from mediumnet.data.manifest import read_manifest

    manifest = read_manifest(in_store.dataset).set_index("id")
    assert list(issues.columns[:7]) == ["rank", "id", "split", "artist", "title", "given",
                                        "suggested"]
    for row in issues.itertuples():
        assert manifest.loc[row.id, "label"] == row.given
        assert row.given != row.suggested
        assert row.split in ("val", "test")
        assert (in_store.dataset / row.image_path).is_file()
    assert list(issues["rank"]) == list(range(1, len(issues) + 1))


def test_champion_moves_on_the_validation_selection_score_never_on_test(in_store):
    from mediumnet.registry import register

    result = in_store.result
    client = mlflow.MlflowClient()
    tags = client.get_model_version("mediumnet-ensemble", result.version).tags
    digest = tags[TAG_VAL_SPLIT]
    selection = result.table.loc["stack", "val_macro_f1"]
    assert float(tags[TAG_SELECTION_MACRO_F1]) == pytest.approx(selection, abs=1e-6)
    assert tags[TAG_TEST_SPLIT] != digest                  # test is reported, not used
    worse = register(result.model_uri, "ensemble").version
    promoted, reason, compared = promote_if_better(worse, selection - 0.05, digest, [],
                                                   np.array([]))
    assert not promoted and "recorded score on the same validation works" in reason
    assert compared == pytest.approx(selection, abs=1e-6)
    assert str(client.get_model_version_by_alias(
        "mediumnet-ensemble", "champion").version) == result.version
    # An equal score is promoted though the tag rounded it up (0.95955966 vs 0.959560).
    equal = register(result.model_uri, "ensemble").version
    recorded = float(tags[TAG_SELECTION_MACRO_F1])
    assert promote_if_better(equal, recorded - 4e-7, digest, [], np.array([]))[0]
    client.set_registered_model_alias("mediumnet-ensemble", "champion", result.version)

    # A champion scored on other validation works is scored again on these.
    client.set_model_version_tag("mediumnet-ensemble", result.version, TAG_VAL_SPLIT,
                                 "another-split")
    from mediumnet.data.manifest import read_manifest
    from mediumnet.ensemble.model import load_classifier
    from mediumnet.metrics import scores

    manifest = read_manifest(in_store.dataset)
    val = manifest[manifest["split"] == "val"]
    y = np.array([MEDIUMS.index(v) for v in val["label"]])
    paths = [str(in_store.dataset / p) for p in val["image_path"]]
    probs, _ = load_classifier(f"models:/mediumnet-ensemble/{result.version}").predict_proba(
        paths)
    promoted, reason, compared = promote_if_better(worse, 1.0, "this-split", paths, y)
    assert promoted and "re-evaluated on these validation works" in reason
    assert compared == pytest.approx(scores(y, probs)["macro_f1"])
    assert str(client.get_model_version_by_alias(
        "mediumnet-ensemble", "champion").version) == str(worse)
    # Put things back for the other tests.
    client.set_model_version_tag("mediumnet-ensemble", result.version, TAG_VAL_SPLIT, digest)
    client.set_registered_model_alias("mediumnet-ensemble", "champion", result.version)


def test_served_features_are_the_training_features_exactly(in_store):
    # The features branch learns from the feature table; the server measures what it is sent.
    from mediumnet.data.manifest import read_manifest
    from mediumnet.ensemble.model import load_classifier
    from mediumnet.study.feature_table import feature_table
    from mediumnet.study.features import NUMERIC_FOR_MODELS

    manifest = read_manifest(in_store.dataset)
    works = manifest[manifest["split"] == "train"].head(4).reset_index(drop=True)
    table = feature_table(in_store.dataset, works, progress=False)
    assert table.reused == len(works)               # measured once, when the stack was fit
    trained = table.features.set_index("id").loc[works["id"], list(NUMERIC_FOR_MODELS)]
    from mediumnet.data.decode import decode

    branch = load_classifier("models:/mediumnet-ensemble@champion").branch("features")
    paths = [in_store.dataset / p for p in works["image_path"]]
    for items in (paths, [p.read_bytes() for p in paths]):
        served = np.array([branch.inputs(decode(item)) for item in items])
        assert np.array_equal(served, trained.to_numpy())


def test_the_features_only_ensemble_is_a_servable_version(in_store, monkeypatch):
    from mediumnet.config import load_config
    from mediumnet.ensemble.stacking import stack
    from tests.integration.conftest import TINY

    config = load_config("demo", TINY)
    config.ensemble.keep = "features"
    result = stack(in_store.dataset, config, register=False, progress=False)
    assert result.kind == "features"
    tags = mlflow.get_run(result.run_id).data.params
    assert tags["registered_kind"] == "features"
    model = mlflow.pyfunc.load_model(result.model_uri)
    classifier = model.unwrap_python_model().classifier
    assert classifier.branch_names == ["features"] and classifier.meta is None
    paths = _test_images(in_store, 3)
    monkeypatch.setenv("MEDIUMNET_SERVE_ROOTS", str(in_store.dataset))
    out = model.predict(pd.DataFrame({"path": paths}))
    assert out["error"].isna().all() and set(out["label"]) <= set(MEDIUMS)
    outputs = classifier.branch_outputs(paths)
    # The branch's own probabilities, rescaled by the temperature fit on val and saved.
    from mediumnet.ensemble.calibration import apply_temperature

    assert classifier.temperature == pytest.approx(result.calibration["calibration_temperature"])
    assert np.allclose(out[list(PROBABILITY_COLUMNS)].to_numpy(float),
                       apply_temperature(outputs.probabilities["features"],
                                         classifier.temperature))


class _Images(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path == "/work.jpg":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.end_headers()
            self.wfile.write(self.body)
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


def test_the_pyfunc_answers_good_rows_and_marks_each_bad_one(in_store, monkeypatch):
    # The pyfunc is the served model, safe by default: this deployer opens the store's folder
    # and the loopback image server below.
    monkeypatch.setenv("MEDIUMNET_SERVE_ROOTS", str(in_store.home))
    monkeypatch.setenv("MEDIUMNET_SERVE_ALLOW_HOSTS", "127.0.0.1")
    good = jpeg_bytes(seed=1)
    _Images.body = good
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    path = _test_images(in_store, 1)[0]
    b64 = base64.b64encode(good).decode()
    rows = [
        {"image": b64},
        {"image": base64.b64encode(BAD_IMAGES["truncated"]()).decode()},
        {"image": base64.b64encode(BAD_IMAGES["not_an_image"]()).decode()},
        {"image": base64.b64encode(BAD_IMAGES["bomb"]()).decode()},
        {"image": ""},
        {"image": "%%% not base64 %%%"},
        {"url": f"{base}/work.jpg"},
        {"url": f"{base}/missing.jpg"},
        {"url": "http://127.0.0.1:9/unreachable.jpg"},
        {"path": path},
        {"path": str(in_store.home / "no-such.jpg")},
        {"image": "data:image/jpeg;base64," + b64},
    ]
    try:
        model = mlflow.pyfunc.load_model("models:/mediumnet-ensemble@champion")
        out = model.predict(pd.DataFrame(rows))
    finally:
        server.shutdown()
    assert list(out.columns) == list(OUTPUT_COLUMNS) and len(out) == len(rows)
    ok = out["error"].isna()
    assert list(ok) == [True, False, False, False, False, False, True, False, False, True,
                        False, True]
    assert np.allclose(out.loc[ok, list(PROBABILITY_COLUMNS)].sum(axis=1), 1.0)
    assert set(out.loc[ok, "label"]) <= set(MEDIUMS)
    assert out.loc[~ok, list(PROBABILITY_COLUMNS)].isna().all().all()
    assert out.loc[~ok, "label"].isna().all()
    # The same bytes give the same answer, however they arrive.
    assert np.allclose(out.loc[[0, 6, 11], list(PROBABILITY_COLUMNS)].to_numpy(),
                       out.loc[0, list(PROBABILITY_COLUMNS)].to_numpy().astype(float))
    errors = out["error"]
    assert "truncated or corrupt" in errors[1]
    assert "not an image" in errors[2]
    assert "decompression bomb" in errors[3]
    assert "empty" in errors[4]
    assert "base64" in errors[5]
    assert "HTTP 404" in errors[7]
    assert "could not fetch" in errors[8]
    assert "no such image file" in errors[10]


def test_a_request_without_an_image_column_is_refused_with_the_fix(in_store):
    model = mlflow.pyfunc.load_model("models:/mediumnet-ensemble@champion")
    with pytest.raises(Exception, match="send one of image, path, url"):
        model.predict(pd.DataFrame({"picture": ["x"]}))


def test_the_library_takes_paths_bytes_pil_images_and_arrays_alike(in_store):
    path = _test_images(in_store, 1)[0]
    model = mediumnet.load_model()
    pixels = np.asarray(Image.open(path).convert("RGB"))
    with open(path, "rb") as fh:
        data = fh.read()
    out = model.predict([path, data, Image.open(path), pixels])
    assert out["error"].isna().all()
    probs = out[list(PROBABILITY_COLUMNS)].to_numpy()
    assert len(set(out["label"])) == 1
    assert np.allclose(probs, probs[0], atol=2e-3)
    assert len(model.predict(np.stack([pixels, pixels]))) == 2
    one = model.predict(path)
    assert one.loc[0, "label"] == out.loc[0, "label"]

    paths = _test_images(in_store, 3)
    frame = mediumnet.classify(paths)
    assert list(frame.index) == paths and frame["error"].isna().all()


def test_cli_predict_prints_a_table_or_json_and_fails_on_a_bad_file(in_store, mediumnet_exe):
    paths = _test_images(in_store, 2)
    done = subprocess.run([mediumnet_exe, "predict", *paths], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "label" in done.stdout and "p_painting" in done.stdout
    assert all(p[-20:] in done.stdout or "…" in done.stdout for p in paths)
    assert "warning" not in done.stderr  # a model of all five mediums has nothing to caution
    done = subprocess.run([mediumnet_exe, "predict", paths[0], "--json"], capture_output=True,
                          text=True)
    records = json.loads(done.stdout)
    assert records[0]["label"] in MEDIUMS and records[0]["error"] is None
    bad = in_store.home / "notes.jpg"
    bad.write_text("not an image")
    # A folder gives its images: a JPEG 2000 master among them, a macOS ._ copy passed over.
    folder = in_store.home / "batch"
    folder.mkdir()
    Image.open(paths[0]).save(folder / "master.jp2")
    shutil.copy(paths[1], folder / "scan.jpg")
    (folder / "._scan.jpg").write_bytes(b"\0\5\26\7" + bytes(60))
    done = subprocess.run([mediumnet_exe, "predict", str(folder), str(bad)],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "mediumnet: error: 1 of 3 images could not be classified (see the error column)")
    assert "not an image" in done.stdout
    assert "master.jp2" in done.stdout and "scan.jpg" in done.stdout
    assert "._scan.jpg" not in done.stdout


def test_cli_predict_without_a_model_says_how_to_make_one(workdir, mediumnet_exe):
    image = workdir / "a.jpg"
    image.write_bytes(jpeg_bytes())
    done = subprocess.run([mediumnet_exe, "predict", str(image)], capture_output=True,
                          text=True)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("mediumnet: error: cannot load model models:/mediumnet-ensemble"
                           "@champion") and "mediumnet stack" in last


def test_evaluate_writes_and_logs_the_full_report(in_store):
    from mediumnet.study.evaluate import evaluate_model

    report = evaluate_model("models:/mediumnet-ensemble@champion", in_store.dataset)
    m = report.metrics
    for key in ("test_accuracy", "test_balanced_accuracy", "test_macro_f1",
                "test_expected_calibration_error", "test_f1_painting", "mlflow_accuracy_score"):
        assert key in m, key
    assert m["test_accuracy"] == pytest.approx(m["mlflow_accuracy_score"])
    # The served model on the test split scores what the stack measured on it.
    assert m["test_macro_f1"] == pytest.approx(in_store.result.table.loc["stack", "macro_f1"])
    names = {p.name for p in report.files}
    assert {"confusion_matrix.png", "reliability_diagram.png", "confident_mistakes.png",
            "confused_pairs.csv", "per_class.csv", "report.md", "predictions.csv"} <= names
    assert all(p.is_file() for p in report.files)
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(report.run_id,
                                                                      "evaluation")}
    assert "evaluation/confusion_matrix.png" in artifacts
    assert report.confusion.sum() == m["test_works"]
    # Each figure comes with its spread over the test's artists (the calibration error of a
    # draw is biased upwards, so only the scores are sure to lie inside theirs).
    for key in ("test_accuracy", "test_macro_f1"):
        assert m[f"{key}_low"] <= m[key] <= m[f"{key}_high"], key
    assert 0 <= m["test_expected_calibration_error_low"] <= \
        m["test_expected_calibration_error_high"] <= 1
    assert m["test_artists"] >= 2
    assert "95 % intervals, resampling the" in (report.files[-1].parent / "report.md").read_text()


def test_a_branch_model_is_evaluated_the_same_way(in_store):
    from mediumnet.study.evaluate import evaluate_model

    report = evaluate_model("models:/mediumnet-texture/1", in_store.dataset, split="val")
    assert "val_macro_f1" in report.metrics


@pytest.mark.parametrize(("args", "message"), [
    (["evaluate", "models:/mediumnet-ensemble@champion", "ds", "--split", "nope"],
     "Invalid value for '--split'"),
    (["evaluate", "models:/no-such-model/1", "ds"], "cannot load model models:/no-such-model/1"),
    (["evaluate", "models:/mediumnet-ensemble@champion", "missing-ds"], "missing-ds"),
    (["stack", "missing-ds"], "missing-ds"),
    (["stack", "ds", "--composition", "models:/mediumnet-composition/99"],
     "cannot load model models:/mediumnet-composition/99"),
])
def test_bad_evaluate_and_stack_calls_fail_in_one_line(in_store, mediumnet_exe, args, message):
    before = sorted(p.name for p in (in_store.dataset).iterdir())
    done = subprocess.run([mediumnet_exe, *args], capture_output=True, text=True)
    assert done.returncode != 0
    assert message in done.stderr.strip().splitlines()[-1]
    assert sorted(p.name for p in (in_store.dataset).iterdir()) == before


def test_stack_needs_branch_models_of_this_dataset(workdir, mediumnet_exe):
    from mediumnet.config import SynthConfig
    from mediumnet.data.manifest import read_manifest, write_manifest
    from mediumnet.data.splits import splits
    from mediumnet.data.synth import synthesize

    root = workdir / "fresh"
    synthesize(root, SynthConfig(per_class=8, width=160, height=120, seed=2, workers=1,
                                 artists_per_class=4),
               progress=False)
    write_manifest(root, splits(read_manifest(root), val=0.25, test=0.25))
    done = subprocess.run([mediumnet_exe, "stack", str(root)], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"mediumnet: error: no mediumnet-composition model was trained on this dataset: run "
        f"mediumnet train composition {root}, or name one with --composition URI")


def test_features_cross_validation_scores_every_work_once_and_refuses_too_many_folds(in_store):
    from mediumnet.config import load_config
    from mediumnet.data.manifest import read_manifest
    from mediumnet.ensemble.cv import cross_validate_branch
    from mediumnet.errors import MediumnetError
    from tests.integration.conftest import TINY

    before = read_manifest(in_store.dataset)
    config = load_config("demo", TINY)
    cv = cross_validate_branch(in_store.dataset, config, "features", folds=3, progress=False)
    assert cv.branch == "features"
    assert cv.works == len(before)                    # every work, whatever its split
    assert cv.classes == tuple(sorted(set(before["label"]), key=MEDIUMS.index))
    assert len(cv.fold_macro_f1) == 3
    assert cv.pooled_macro_f1 > 0.6                   # five mediums: chance is 0.2
    assert read_manifest(in_store.dataset).equals(before)  # the splits are left as they were
    with pytest.raises(MediumnetError, match=r"works by fewer than 5 artists, too few for 5 "
                                             r"folds grouped by artist; ask for fewer folds"):
        cross_validate_branch(in_store.dataset, config, folds=5, progress=False)
    with pytest.raises(MediumnetError, match="the texture branch is trained with mediumnet "
                                             "train, not fit here"):
        cross_validate_branch(in_store.dataset, config, "texture", progress=False)
