"""Honest confidences: temperature scaling of an ensemble's probabilities, fit on validation.

A classifier with balanced class weights and strong regularisation can be right and still
say 0.7 where it is right nine times in ten. One number, the temperature ``T``, rescales its
log-probabilities (``softmax(log p / T)``: the answer never changes, only how sure it
sounds). ``T`` is fit on the validation works' probabilities — out-of-fold for the stack,
held out for a branch alone — by minimising their log-loss against Platt's targets, and kept
with the model only where it lowers that loss; the expected calibration error on the test
split says whether it helped. Pure numpy and scipy.

Platt's targets (Platt 1999, "Probabilistic outputs for support vector machines"): of ``n``
works, the given medium is aimed at ``(n + 1) / (n + 2)`` and the rest ``1 / (n + 2)`` is
shared by the model's other mediums, rather than 1 and 0. With hard targets, a model right on
every validation work is "best" at ``T`` → 0: every answer said with certainty, which the
search's lower bound then hid (a collection of two mediums, right on 96 of 96 validation works,
got ``T`` = 0.05 and confidences printed as 1.000). Right on ``n`` of ``n``, the evidence
supports a confidence near ``(n + 1) / (n + 2)``, and that is where the targets leave it; where
the model errs on validation, they change ``T`` little.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mediumnet.metrics import expected_calibration_error

BOUNDS = (0.05, 20.0)
"""The temperatures searched (log-uniformly)."""


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Rescale ``(n, k)`` probabilities by a temperature; zero columns stay zero.

    ``temperature`` 1 returns them as they are; above 1 they grow less sure, below 1 surer.
    """
    probs = np.asarray(probs, np.float64)
    if temperature == 1.0 or not len(probs):
        return probs
    known = probs > 0
    logits = np.where(known, np.log(np.where(known, probs, 1.0)) / temperature, -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    out = np.where(known, np.exp(logits), 0.0)
    return out / out.sum(axis=1, keepdims=True)


def log_loss(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean negative log-probability of the given classes (indices into the columns)."""
    picked = np.clip(np.asarray(probs)[np.arange(len(y)), np.asarray(y, int)], 1e-12, 1.0)
    return float(-np.log(picked).mean())


def platt_targets(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Return Platt's targets of ``n`` works, ``(n, k)``.

    ``(n + 1) / (n + 2)`` on the given class; the rest, ``1 / (n + 2)``, shared by the other
    columns the model gives (a zero column stays zero).
    """
    y = np.asarray(y, int)
    probs = np.asarray(probs, np.float64)
    rest = 1.0 / (len(y) + 2)
    others = probs > 0
    others[np.arange(len(y)), y] = False
    count = others.sum(axis=1, keepdims=True)
    targets = np.where(others, rest / np.maximum(count, 1), 0.0)
    targets[np.arange(len(y)), y] = 1.0 - rest * (count[:, 0] > 0)
    return targets


def cross_entropy(targets: np.ndarray, probs: np.ndarray) -> float:
    """Mean cross-entropy of ``probs`` against ``(n, k)`` target distributions."""
    logs = np.log(np.clip(np.asarray(probs, np.float64), 1e-12, 1.0))
    return float(-(targets * logs).sum(axis=1).mean())


@dataclass(frozen=True)
class Calibration:
    """A temperature and what it does on the works it was fit on."""

    temperature: float
    """1.0 when scaling did not lower the validation loss (against Platt's targets)."""
    val_log_loss: tuple[float, float]
    """Before and after."""
    val_ece: tuple[float, float]
    """Expected calibration error before and after, on the same works."""


def fit_temperature(y: np.ndarray, probs: np.ndarray) -> Calibration:
    """Fit the temperature that minimises the cross-entropy of ``probs`` against Platt's targets.

    Parameters
    ----------
    y : numpy.ndarray
        ``(n,)`` class indices into the columns of ``probs``.
    probs : numpy.ndarray
        ``(n, k)`` probabilities the model did not learn from (validation works).

    Returns
    -------
    Calibration
        With temperature 1.0 when there is nothing to fit on, or scaling does not help; its
        ``val_log_loss`` is the plain log-loss, before and after.
    """
    from scipy.optimize import minimize_scalar

    y = np.asarray(y, int)
    before = log_loss(y, probs)
    ece_before = expected_calibration_error(y, probs)[0] if len(y) else 0.0
    if len(y) < 2:
        return Calibration(1.0, (before, before), (ece_before, ece_before))
    targets = platt_targets(y, probs)
    found = minimize_scalar(
        lambda log_t: cross_entropy(targets, apply_temperature(probs, np.exp(log_t))),
        bounds=tuple(np.log(BOUNDS)), method="bounded")
    temperature = float(np.exp(found.x))
    scaled = apply_temperature(probs, temperature)
    if not cross_entropy(targets, scaled) < cross_entropy(targets, probs) - 1e-6:
        return Calibration(1.0, (before, before), (ece_before, ece_before))
    return Calibration(temperature, (before, log_loss(y, scaled)),
                       (ece_before, expected_calibration_error(y, scaled)[0]))


def calibrate(y_val: np.ndarray, val_probs: np.ndarray, y_test: np.ndarray,
              test_probs: np.ndarray) -> tuple[Calibration, dict[str, float]]:
    """Fit the temperature on validation works and say what it does on the test split.

    Returns
    -------
    (Calibration, dict)
        The fit, and the metrics to log: ``calibration_temperature``, the validation
        log-loss and the expected calibration error of the validation and test works,
        before and after.
    """
    fit = fit_temperature(y_val, val_probs)
    test_before = expected_calibration_error(y_test, test_probs)[0] if len(y_test) else 0.0
    test_after = (expected_calibration_error(
        y_test, apply_temperature(test_probs, fit.temperature))[0] if len(y_test) else 0.0)
    return fit, {"calibration_temperature": fit.temperature,
                 "val_log_loss_uncalibrated": fit.val_log_loss[0],
                 "val_log_loss_calibrated": fit.val_log_loss[1],
                 "val_ece_uncalibrated": fit.val_ece[0], "val_ece_calibrated": fit.val_ece[1],
                 "test_ece_uncalibrated": test_before, "test_ece_calibrated": test_after}
