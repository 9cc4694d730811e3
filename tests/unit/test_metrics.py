"""Scores over the mediums a model knows."""

import numpy as np
import pytest
from sklearn.metrics import f1_score

from mediumnet.labels import MEDIUMS
from mediumnet.metrics import confidence_text, macro_f1, scores, to_five


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


def _case(seed: int = 3, n: int = 90, artists: int = 12):
    """Three mediums, a decent model with a few confident mistakes, works by artists."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    probs = np.zeros((n, 5))
    probs[:, :3] = rng.dirichlet([1, 1, 1], n)
    probs[np.arange(n), y] += rng.uniform(0, 1.5, n)
    probs /= probs.sum(axis=1, keepdims=True)
    return y, probs, rng.integers(0, artists, n)


def test_each_draw_of_artists_is_measured_as_the_works_it_takes():
    from mediumnet.metrics import expected_calibration_error, figures_of_draws

    classes = ("painting", "engraving", "drawing")
    y, probs, group = _case()
    rng = np.random.default_rng(0)
    draws = rng.multinomial(12, np.full(12, 1 / 12), size=6)
    draws[0] = 1  # every artist once: the figures of the whole
    draws[1] = 0
    draws[1, group[y == 0][0]] = 2  # one artist twice, whose works may be of one medium
    figures = figures_of_draws(y, probs, group, draws, classes)
    for row, counts in enumerate(draws):
        taken = np.concatenate([np.repeat(np.flatnonzero(group == a), c)
                                for a, c in enumerate(counts)])
        expected = scores(y[taken], probs[taken], tuple(MEDIUMS[i] for i in sorted(
            set(y[taken].tolist()))))
        assert figures["accuracy"][row] == pytest.approx(expected["accuracy"])
        assert figures["macro_f1"][row] == pytest.approx(expected["macro_f1"])
        assert figures["expected_calibration_error"][row] == pytest.approx(
            expected_calibration_error(y[taken], probs[taken])[0])


def test_artist_intervals_hold_the_figure_and_widen_when_one_artist_decides_it():
    from mediumnet.metrics import artist_intervals

    classes = ("painting", "engraving", "drawing")
    y, probs, group = _case(n=120, artists=20)
    whole = scores(y, probs, classes)
    spread_out = artist_intervals(y, probs, group, classes)
    for name in ("accuracy", "macro_f1"):
        low, high = spread_out[name]
        assert low < whole[name] < high
    # The same works, but every mistake by one artist: the figure hangs on whether the draw
    # takes that artist, and the interval says so.
    wrong = probs.argmax(axis=1) != y
    clustered = np.where(wrong, 99, group)
    low, high = artist_intervals(y, probs, clustered, classes)["accuracy"]
    assert high - low > (spread_out["accuracy"][1] - spread_out["accuracy"][0]) * 1.5
    assert artist_intervals(y, probs, np.zeros(len(y)), classes) == {}


@pytest.mark.parametrize(("confidence", "text"), [
    (0.78512, "0.785"), (0.99951, "0.9995"), (0.999962, "0.99996"), (0.9999999, "0.999999+"),
    (1.0, "1.000"), (1.01, "1.010")])
def test_a_threshold_near_1_is_not_printed_as_1(confidence, text):
    assert confidence_text(confidence) == text
