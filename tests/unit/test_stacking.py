"""Pure parts of stacking, evaluation and the served model's input/output handling."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mediumnet.config import EnsembleConfig
from mediumnet.data.decode import decode
from mediumnet.ensemble.audit import find_label_issues
from mediumnet.ensemble.classifier import OUTPUT_COLUMNS, output_frame
from mediumnet.ensemble.meta import fit_meta_learner
from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS
from mediumnet.serving.requests import rows_to_items
from mediumnet.study.evaluate import (
    confused_pairs,
    evaluation_report,
    expected_calibration_error,
    macro_f1_coverage_text,
)


def test_expected_calibration_error_of_known_predictions():
    y = np.array([0, 0, 1, 1])
    # Confidence 0.9 twice (both right), 0.6 twice (one right): |1-0.9|/2 + |0.5-0.6|/2.
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.6, 0.4]])
    ece, bins = expected_calibration_error(y, probs)
    assert ece == pytest.approx(0.1)
    assert bins["count"].sum() == 4
    perfect = np.eye(2)[y]
    assert expected_calibration_error(y, perfect)[0] == pytest.approx(0.0)


def test_confused_pairs_rank_both_directions_together():
    confusion = np.zeros((5, 5), int)
    np.fill_diagonal(confusion, 10)
    confusion[1, 2], confusion[2, 1] = 3, 2   # engraving <-> drawing: 5 errors
    confusion[0, 3] = 4                       # painting -> gouache: 4 errors
    pairs = confused_pairs(confusion)
    assert list(pairs["pair"]) == ["engraving / drawing", "painting / gouache_watercolor"]
    assert list(pairs["errors"]) == [5, 4]
    assert pairs.loc[0, "a_as_b"] == 3 and pairs.loc[0, "b_as_a"] == 2


def test_evaluation_report_writes_files_and_prefixed_metrics(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(5), 6)
    probs = rng.dirichlet(np.ones(5), len(y))
    probs[np.arange(len(y)), y] += 1.0
    probs /= probs.sum(axis=1, keepdims=True)
    report = evaluation_report(y, probs, tmp_path / "ev", prefix="val_", log_to_mlflow=False)
    assert report.metrics["val_accuracy"] == pytest.approx((probs.argmax(1) == y).mean())
    assert {"confusion_matrix.png", "reliability_diagram.png", "report.md"} <= {
        p.name for p in report.files}
    assert "| painting |" in (tmp_path / "ev" / "report.md").read_text()
    with pytest.raises(MediumnetError, match="nothing to evaluate"):
        evaluation_report(np.array([], int), np.zeros((0, 5)), tmp_path / "e2",
                          log_to_mlflow=False)


def test_a_report_on_works_of_fewer_mediums_says_what_macro_f1_covers(tmp_path):
    every = np.repeat(np.arange(5), 2)          # two works of each medium, all told right
    whole = evaluation_report(every, np.eye(5)[every], tmp_path / "whole", log_to_mlflow=False)
    assert macro_f1_coverage_text(whole.per_class) == ""
    assert "Macro-F1 is taken over" not in (tmp_path / "whole" / "report.md").read_text()

    # a new collection of paintings, three of them taken for photographs
    y = np.zeros(8, int)
    probs = np.zeros((8, 5))
    probs[:5, 0] = probs[5:, 4] = 1.0
    report = evaluation_report(y, probs, tmp_path / "new", log_to_mlflow=False)
    assert report.metrics["test_macro_f1"] == pytest.approx(2 * 5 / (2 * 5 + 3))  # painting F1
    said = ("macro-F1 is taken over the mediums these works have: painting (none of "
            "engraving, drawing, gouache_watercolor, photography)")
    assert macro_f1_coverage_text(report.per_class) == said
    assert "M" + said[1:] in (tmp_path / "new" / "report.md").read_text()


def test_output_frame_leaves_failed_rows_without_probabilities():
    probs = np.array([[0.1, 0.6, 0.1, 0.1, 0.1], [np.nan] * 5])
    frame = output_frame(probs, [None, "bad.jpg: not an image"])
    assert list(frame.columns) == list(OUTPUT_COLUMNS)
    assert frame.loc[0, "label"] == "engraving" and frame.loc[0, "confidence"] == 0.6
    assert frame.loc[1, "label"] is None and np.isnan(frame.loc[1, "confidence"])
    assert frame.loc[1, "error"] == "bad.jpg: not an image"


def test_rows_to_items_reads_each_column_and_flags_bad_rows():
    data = b"\xff\xd8 jpeg bytes"
    frame = pd.DataFrame({"image": [base64.b64encode(data).decode(), None, "@@@", ""],
                          "path": [None, "a.jpg", None, None]})
    items = rows_to_items(frame)
    assert items[0] == data and items[1] == "a.jpg"
    assert isinstance(items[2], ValueError) and "base64" in str(items[2])
    assert isinstance(items[3], ValueError) and "empty row" in str(items[3])
    with pytest.raises(MediumnetError, match="send one of image, path, url"):
        rows_to_items(pd.DataFrame({"file": ["x"]}))
    assert isinstance(rows_to_items(pd.DataFrame({"url": ["ftp://x/y.jpg"]}))[0], ValueError)


@pytest.mark.parametrize("shape", [(20, 30), (20, 30, 1), (20, 30, 3), (20, 30, 4)])
def test_arrays_of_any_usual_shape_become_rgb(shape):
    array = np.full(shape, 200, np.uint8)
    assert decode(array).pixels.shape == (20, 30, 3)
    floats = np.full(shape, 0.5, np.float32)
    # Mid grey; with alpha 0.5 composited on white as image files are.
    assert decode(floats).pixels.max() == (191 if len(shape) == 3 and shape[2] == 4 else 128)


def test_decode_reads_the_file_facts_once():
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 20, 30)).save(buffer, "JPEG", quality=75)
    decoded = decode(buffer.getvalue())
    assert decoded.pixels.shape == (30, 40, 3)
    assert decoded.file_bytes == len(buffer.getvalue())
    assert decoded.jpeg_quality == pytest.approx(75, abs=2)


def test_letterbox_of_decoded_pixels_matches_the_training_view():
    from mediumnet.data.views import composition_view, letterbox_pixels, native_pixels

    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (60, 90, 3), np.uint8)
    image = Image.fromarray(base).resize((1800, 1200), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    data = buffer.getvalue()
    trained = composition_view(data, 96).astype(int)
    served = letterbox_pixels(native_pixels(data), 96).astype(int)
    assert np.abs(trained - served).mean() < 3.0
    assert (served[:16] == 127).all()  # the letterbox band


def _separable(n_per_class, rng):
    y = np.repeat(np.arange(5), n_per_class)
    x = rng.normal(size=(len(y), 6))
    x[np.arange(len(y)), y] += 3.0
    return x, y


def test_meta_learner_learns_and_gives_out_of_fold_probabilities():
    rng = np.random.default_rng(0)
    x, y = _separable(8, rng)
    groups = np.array([f"artist{i % 3}-{c}" for i, c in enumerate(y)])
    for learner in ("logistic", "boosting"):
        fit = fit_meta_learner(x, y, EnsembleConfig(meta_learner=learner, cv_folds=3),
                               groups=groups)
        assert fit.oof_probabilities.shape == (40, 5)
        assert (fit.oof_probabilities.argmax(1) == y).mean() > 0.7
        assert fit.folds == 3 and fit.grouped
    assert "C" in fit_meta_learner(x, y, EnsembleConfig()).best_params


def test_meta_learner_degrades_on_a_single_work_of_a_medium(caplog):
    rng = np.random.default_rng(0)
    x, y = _separable(4, rng)
    keep = ~((y == 3) & (np.arange(len(y)) % 4 != 0))   # one gouache left
    with caplog.at_level("WARNING", logger="mediumnet"):
        fit = fit_meta_learner(x[keep], y[keep], EnsembleConfig())
    assert "single work of gouache_watercolor (1)" in caplog.text
    assert "fixed instead of chosen by cross-validation" in caplog.text
    assert fit.best_params == {"model": "logistic",
                               "C": pytest.approx(np.logspace(-3, 2, 11)[5])}
    assert fit.oof_probabilities.shape == (int(keep.sum()), 5)
    assert fit.cv_macro_f1 > 0.5


def test_meta_learner_uses_fewer_folds_when_a_medium_is_rare(caplog):
    rng = np.random.default_rng(0)
    x, y = _separable(6, rng)
    keep = ~((y == 1) & (np.arange(len(y)) % 6 > 2))   # three engravings
    with caplog.at_level("WARNING", logger="mediumnet"):
        fit = fit_meta_learner(x[keep], y[keep], EnsembleConfig(cv_folds=5))
    assert fit.folds == 3 and "on 3 folds instead of 5" in caplog.text


def test_meta_learner_refuses_a_medium_with_no_validation_work():
    rng = np.random.default_rng(0)
    x, y = _separable(4, rng)
    keep = y != 3
    with pytest.raises(MediumnetError, match="the validation split has no works of "
                                             "gouache_watercolor"):
        fit_meta_learner(x[keep], y[keep], EnsembleConfig())


def test_meta_learner_over_three_mediums_scores_only_those():
    rng = np.random.default_rng(0)
    x, y = _separable(8, rng)
    keep = np.isin(y, [0, 2, 4])
    classes = ("painting", "drawing", "photography")
    fit = fit_meta_learner(x[keep], y[keep], EnsembleConfig(cv_folds=3), classes=classes)
    probs = fit.oof_probabilities
    assert probs.shape == (24, 5)
    assert (probs[:, [1, 3]] == 0).all()     # never an absent medium
    assert fit.cv_macro_f1 > 0.75            # over five it could not pass 0.6


def test_label_issues_find_flipped_labels_and_suggest_the_true_medium():
    rng = np.random.default_rng(0)
    y_true = np.repeat(np.arange(5), 20)
    probs = np.full((100, 5), 0.02)
    probs[np.arange(100), y_true] = 0.92
    given = y_true.copy()
    flipped = [3, 27, 55]
    for i in flipped:
        given[i] = (y_true[i] + 1) % 5
    works = pd.DataFrame({"id": [f"w{i}" for i in range(100)], "split": "val",
                          "artist": "a", "title": "t", "image_path": "x.jpg"})
    issues = find_label_issues(works, given, probs + rng.uniform(0, 0.01, probs.shape))
    # Confident learning prunes by estimated noise rates: it may pass over a flip, never
    # flags a right label.
    assert {f"w{i}" for i in flipped} >= set(issues["id"])
    assert len(issues) >= 2
    assert list(issues["suggested"]) == [MEDIUMS[y_true[int(i[1:])]] for i in issues["id"]]


def _served(settings):
    from mediumnet.branches import branch_of

    return branch_of(settings).serve(None, settings)


def test_branches_trained_on_different_mediums_cannot_be_stacked(tmp_path):
    from mediumnet.ensemble.classifier import ImageClassifier
    from mediumnet.ensemble.model import save_ensemble

    three = {"view": "composition", "branch": "composition", "size": 32,
             "classes": ["painting", "drawing", "photography"]}
    two = {"view": "texture", "tile": 16, "tiles_per_image": 2,
           "classes": ["painting", "photography"]}
    with pytest.raises(MediumnetError) as error:
        ImageClassifier([_served(three), _served(two)])
    assert str(error.value) == (
        "the branch models were trained on different mediums (composition: painting, "
        "drawing, photography; texture: painting, photography): stack branches trained on "
        "the same data set")
    with pytest.raises(MediumnetError, match="trained on different mediums"):
        save_ensemble(tmp_path / "m", [_served(three), _served(two)], None)
    same = ImageClassifier([_served(three), _served({**two, "classes": three["classes"]})])
    assert same.classes == ("painting", "drawing", "photography")
    old = ImageClassifier([_served({"view": "composition", "size": 32})])
    assert old.classes == MEDIUMS        # a model saved before mediums were recorded
