"""Gradient boosting binned in one pass: scikit-learn's trees and probabilities, exactly."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from mediumnet.ensemble.boosting import BinnedBoosting
from mediumnet.ensemble.meta import _meta_candidate

SETTINGS = {"class_weight": "balanced", "max_iter": 40, "max_leaf_nodes": 7,
            "min_samples_leaf": 3, "random_state": 0}


def _works(n: int = 420, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unbalanced mediums; features of every kind the binning meets (>255 distinct values,
    a few distinct values, a constant)."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    x = rng.normal(size=(n, 8)) + y[:, None] * 0.4
    x[:, 5] = rng.integers(0, 6, n) + (y == 2)
    x[:, 6] = 1.0
    return x, y


@pytest.mark.parametrize("weighted", [True, False])
def test_the_same_probabilities_as_scikit_learns(weighted):
    x, y = _works()
    settings = SETTINGS if weighted else {**SETTINGS, "class_weight": None}
    plain = HistGradientBoostingClassifier(**settings).fit(x[:300], y[:300])
    binned = BinnedBoosting(**settings).fit(x[:300], y[:300])
    assert binned.bin_edges_ is not None        # the one-pass path was taken
    for rows in (x[:300], x[300:]):             # what it learnt from, and new works
        assert np.array_equal(binned.predict_proba(rows), plain.predict_proba(rows))
        assert np.array_equal(binned.predict(rows), plain.predict(rows))
        assert np.array_equal(binned.decision_function(rows), plain.decision_function(rows))
    staged = list(binned.staged_predict_proba(x[300:]))
    assert np.array_equal(staged[-1], plain.predict_proba(x[300:]))


def test_missing_values_are_left_to_scikit_learn():
    x, y = _works()
    x[::7, 0] = np.nan
    plain = HistGradientBoostingClassifier(**SETTINGS).fit(x, y)
    binned = BinnedBoosting(**SETTINGS).fit(x, y)
    assert binned.bin_edges_ is None
    assert np.array_equal(binned.predict_proba(x), plain.predict_proba(x))


def test_a_pickled_model_answers_the_same():
    x, y = _works()
    binned = BinnedBoosting(**SETTINGS).fit(x, y)
    again = pickle.loads(pickle.dumps(binned))   # as a registered model is saved and served
    assert np.array_equal(again.predict_proba(x), binned.predict_proba(x))


def test_the_learner_choice_boosts_with_it():
    model, grid = _meta_candidate("auto", seed=0)
    assert any(isinstance(m, BinnedBoosting) for g in grid for m in g.get("model", []))
    model, _ = _meta_candidate("boosting", seed=0)
    assert isinstance(model.named_steps["model"], BinnedBoosting)


def test_a_scikit_learn_without_its_weighted_percentile_bins_as_it_would(monkeypatch):
    import sklearn.utils.stats

    x, y = _works()
    monkeypatch.delattr(sklearn.utils.stats, "_weighted_percentile")   # a later release
    binned = BinnedBoosting(**SETTINGS).fit(x, y)
    assert binned.bin_edges_ is None
    plain = HistGradientBoostingClassifier(**SETTINGS).fit(x, y)
    assert np.array_equal(binned.predict_proba(x), plain.predict_proba(x))
