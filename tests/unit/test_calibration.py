"""Temperature scaling: fit on validation works, confidences honest, answers unchanged."""

import numpy as np
import pytest

from mediumnet.ensemble.calibration import apply_temperature, calibrate, fit_temperature
from mediumnet.metrics import expected_calibration_error


def _overconfident(n=600, seed=0):
    """Right 80 % of the time, but saying 0.98: three of the five mediums, two never seen."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    guess = np.where(rng.uniform(size=n) < 0.8, y, (y + rng.integers(1, 3, n)) % 3)
    probs = np.zeros((n, 5))
    probs[:, :3] = 0.01
    probs[np.arange(n), guess] = 0.98
    return y, probs


def test_an_overconfident_model_is_cooled_and_its_answers_stay():
    y, probs = _overconfident()
    fit = fit_temperature(y[:300], probs[:300])
    assert fit.temperature > 1.5
    assert fit.val_log_loss[1] < fit.val_log_loss[0]
    scaled = apply_temperature(probs[300:], fit.temperature)
    assert (scaled.argmax(1) == probs[300:].argmax(1)).all()
    assert (scaled[:, 3:] == 0).all() and np.allclose(scaled.sum(1), 1)
    before = expected_calibration_error(y[300:], probs[300:])[0]
    after = expected_calibration_error(y[300:], scaled)[0]
    assert before > 0.15 and after < 0.05


def test_a_temperature_that_does_not_help_is_not_kept():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    confidence = rng.uniform(0.5, 1.0, 400)
    right = rng.uniform(size=400) < confidence          # calibrated by construction
    guess = np.where(right, y, 1 - y)
    probs = np.zeros((400, 5))
    probs[np.arange(400), guess] = confidence
    probs[np.arange(400), 1 - guess] = 1 - confidence
    fit = fit_temperature(y, probs)
    assert fit.temperature == pytest.approx(1.0, abs=0.25)
    assert fit_temperature(y[:1], probs[:1]).temperature == 1.0      # nothing to fit on
    assert np.array_equal(apply_temperature(probs, 1.0), probs)


def test_calibrate_reports_the_test_split_before_and_after():
    y, probs = _overconfident(seed=2)
    fit, metrics = calibrate(y[:300], probs[:300], y[300:], probs[300:])
    assert metrics["calibration_temperature"] == fit.temperature > 1
    assert metrics["test_ece_calibrated"] < metrics["test_ece_uncalibrated"]
    assert set(metrics) == {"calibration_temperature", "val_log_loss_uncalibrated",
                            "val_log_loss_calibrated", "val_ece_uncalibrated",
                            "val_ece_calibrated", "test_ece_uncalibrated",
                            "test_ece_calibrated"}


def test_a_model_right_on_every_validation_work_is_not_made_certain():
    # Two mediums of five, right on all 96 validation works at 0.6-0.95: hard targets would
    # send the temperature to its lower bound and every answer to 1.000.
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 96)
    confidence = rng.uniform(0.6, 0.95, 96)
    probs = np.zeros((96, 5))
    probs[np.arange(96), y] = confidence
    probs[np.arange(96), 1 - y] = 1 - confidence
    fit = fit_temperature(y, probs)
    scaled = apply_temperature(probs, fit.temperature)
    assert 0.05 * 1.5 < fit.temperature < 1                      # surer, not certain
    assert 0.95 < scaled.max(axis=1).mean() < 97 / 98            # near (n + 1) / (n + 2)
    assert scaled.max(axis=1).min() > confidence.min()
    assert (scaled[:, 2:] == 0).all() and (scaled.argmax(1) == y).all()
