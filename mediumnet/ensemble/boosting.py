"""Gradient boosting on a collection's features: scikit-learn's, its inputs binned in one pass.

scikit-learn 1.9 finds a weighted feature's bin edges one percentile at a time: 254 calls of
its weighted-percentile function per feature, which on a few hundred works is nearly the whole
fit (700 works of 96 features: 6.2 s a fit, 0.69 s here, ``bench/boosting.py``;
scikit-learn#34248). Balanced class weights make every fit of the learner choice weighted,
so boosting was most of a whole-collection audit's time. :class:`BinnedBoosting` finds the
same edges (the same weighted "averaged inverted CDF" quantiles by the same function, or the
midpoints of a feature's distinct values) for every feature and percentile in one call,
hands the parent each input's bin number, which the parent bins as it is, and keeps the
edges to bin what it is asked about: the same trees, the same probabilities.
"""

from __future__ import annotations

import contextlib

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

SUBSAMPLE = 200_000
"""scikit-learn bins a random subsample of a training set larger than this: left to it."""
ALMOST_INF = 1e300
"""scikit-learn's largest finite bin edge."""


def bin_edges(x: np.ndarray, weights: np.ndarray, max_bins: int) -> list[np.ndarray]:
    """Return each column's bin edges as scikit-learn's gradient boosting finds them.

    Parameters
    ----------
    x : numpy.ndarray
        ``(n, d)`` finite training inputs.
    weights : numpy.ndarray
        ``(n,)`` positive sample weights (the class weights included).
    max_bins : int
        The estimator's ``max_bins``.

    Returns
    -------
    list of numpy.ndarray
        Per column, the increasing edges: a value ``v`` is in bin ``i`` when
        ``edges[i - 1] < v <= edges[i]``.
    """
    from sklearn.utils.stats import _weighted_percentile  # the function scikit-learn bins with

    ranks = np.linspace(0, 100, max_bins + 1)[1:-1]
    distinct = [np.unique(column) for column in x.T]
    many = [j for j, values in enumerate(distinct) if len(values) > max_bins]
    row = {j: k for k, j in enumerate(many)}   # a column's row of quantiles
    quantiles = (np.atleast_2d(_weighted_percentile(x[:, many], weights, ranks, average=True))
                 if many else None)
    edges = []
    for j, values in enumerate(distinct):
        if len(values) == 1:
            edges.append(np.array([]))
        elif len(values) <= max_bins:
            edges.append((values[:-1] + values[1:]) / 2)
        else:
            edges.append(np.minimum(np.unique(quantiles[row[j]]), ALMOST_INF))
    return edges


class BinnedBoosting(HistGradientBoostingClassifier):
    """scikit-learn's gradient boosting, its inputs binned in one pass (see the module).

    With zero weights, missing values, more than :data:`SUBSAMPLE` works, or a scikit-learn
    whose weighted percentile has moved, the parent bins the inputs itself, as it would.
    """

    def fit(self, X, y, sample_weight=None):  # noqa: N803 (scikit-learn's names)
        """Find the bin edges, then fit the parent on the bin numbers."""
        from sklearn.utils import compute_sample_weight

        x = np.asarray(X, dtype=np.float64)
        weights = np.ones(len(x)) if sample_weight is None else np.asarray(sample_weight, float)
        if self.class_weight is not None:
            weights = weights * compute_sample_weight(self.class_weight, y)
        self.bin_edges_ = None
        if len(x) <= SUBSAMPLE and (weights > 0).all() and np.isfinite(x).all():
            # scikit-learn's own (private) weighted percentile: should a release move or
            # change it, the parent bins the inputs itself, as slowly as it does
            with contextlib.suppress(ImportError, TypeError):
                self.bin_edges_ = bin_edges(x, weights, self.max_bins)
        return super().fit(self._binned(x), y, sample_weight)

    def _binned(self, X) -> np.ndarray:  # noqa: N803
        x = np.asarray(X, dtype=np.float64)
        if getattr(self, "bin_edges_", None) is None:
            return x
        return np.stack([np.searchsorted(edges, x[:, j], side="left")
                         for j, edges in enumerate(self.bin_edges_)], axis=1).astype(np.float64)

    def predict(self, X):  # noqa: N803
        """Return the parent's prediction on the bin numbers of ``X``."""
        return super().predict(self._binned(X))

    def predict_proba(self, X):  # noqa: N803
        """Return the parent's probabilities on the bin numbers of ``X``."""
        return super().predict_proba(self._binned(X))

    def decision_function(self, X):  # noqa: N803
        """Return the parent's decision function on the bin numbers of ``X``."""
        return super().decision_function(self._binned(X))

    def staged_predict(self, X):  # noqa: N803
        """Yield the parent's predictions after each iteration, on ``X``'s bin numbers."""
        yield from super().staged_predict(self._binned(X))

    def staged_predict_proba(self, X):  # noqa: N803
        """Yield the parent's probabilities after each iteration, on ``X``'s bin numbers."""
        yield from super().staged_predict_proba(self._binned(X))

    def staged_decision_function(self, X):  # noqa: N803
        """Yield the parent's decision function after each iteration, on ``X``'s bin numbers."""
        yield from super().staged_decision_function(self._binned(X))
