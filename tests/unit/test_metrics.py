"""Scores over the mediums a model knows."""

import numpy as np
import pytest
from sklearn.metrics import f1_score

from mediumnet.labels import MEDIUMS
from mediumnet.metrics import macro_f1, scores, to_five


def test_macro_f1_over_present_mediums_matches_sklearn_on_a_hand_made_case():
    # painting 0, drawing 2, photography 4; a print room with no engraving or gouache.
    y_true = np.array([0, 0, 0, 2, 2, 2, 4, 4, 4, 4])
    y_pred = np.array([0, 0, 2, 2, 2, 0, 4, 4, 4, 2])
    classes = ("painting", "drawing", "photography")
    # painting: P 2/3 R 2/3; drawing: P 2/4 R 2/3; photography: P 1 R 3/4
    f1 = [2 / 3, 2 * 0.5 * (2 / 3) / (0.5 + 2 / 3), 2 * 0.75 / 1.75]
    assert macro_f1(y_true, y_pred, classes) == pytest.approx(np.mean(f1))
    assert macro_f1(y_true, y_pred, classes) == pytest.approx(
        f1_score(y_true, y_pred, labels=[0, 2, 4], average="macro"))
    # Over all five, the two absent mediums would count as zeros: 3/5 of the figure.
    assert macro_f1(y_true, y_pred) == pytest.approx(np.mean(f1) * 3 / 5)


def test_scores_and_spreading_onto_the_five_mediums():
    classes = ("engraving", "photography")
    probs = to_five(np.array([[0.9, 0.1], [0.2, 0.8]]), classes)
    assert probs.shape == (2, 5)
    assert probs[:, [0, 2, 3]].sum() == 0
    assert [MEDIUMS[i] for i in probs.argmax(1)] == ["engraving", "photography"]
    assert scores(np.array([1, 4]), probs, classes) == {"accuracy": 1.0, "macro_f1": 1.0}
    same = np.eye(5)[[0, 1]]
    assert to_five(same, MEDIUMS) is same
