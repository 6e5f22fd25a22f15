"""Metric functions on (y_true, dist); the scorers are tested in tests/test_pipeline.py."""

import numpy as np
import pytest
from scipy import integrate, stats

from skprob.distributions import Categorical, GaussianMixture, GridDistribution, Normal
from skprob.metrics import (
    calibration_error,
    crps,
    interval_coverage,
    negative_log_likelihood,
    pit,
)


def _numerical_crps(cdf, y):
    """CRPS = ∫ (F(z) - 1{z >= y})^2 dz by quadrature."""
    below = integrate.quad(lambda z: cdf(z) ** 2, -np.inf, y, limit=200)[0]
    above = integrate.quad(lambda z: (1 - cdf(z)) ** 2, y, np.inf, limit=200)[0]
    return below + above


def test_nll_matches_scipy():
    dist = Normal([0.0, 1.0], [1.0, 2.0])
    y = np.array([0.3, -1.0])
    expected = -stats.norm.logpdf(y, [0.0, 1.0], [1.0, 2.0])
    assert negative_log_likelihood(y, dist) == pytest.approx(expected.mean())
    assert negative_log_likelihood(y, dist, sample_weight=[3, 1]) == pytest.approx(
        np.average(expected, weights=[3, 1]))
    cat = Categorical([[0.25, 0.75], [0.5, 0.5]], classes=["no", "yes"])
    assert negative_log_likelihood(["yes", "no"], cat) == pytest.approx(
        -(np.log(0.75) + np.log(0.5)) / 2)


def test_crps_of_normal_has_the_known_closed_form():
    loc, scale, y = 0.5, 2.0, np.array([1.7])
    z = (y - loc) / scale
    known = scale * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))
    assert crps(y, Normal([loc], [scale])) == pytest.approx(known[0])


def test_crps_of_mixtures_matches_numerical_integration():
    dist = GaussianMixture([[0.3, 0.7], [0.5, 0.5]], [[-2.0, 1.0], [0.0, 0.1]],
                           [[0.5, 1.5], [1.0, 0.2]])
    y = np.array([0.4, -3.0])
    expected = [
        _numerical_crps(lambda z, i=i: float(dist[i].cdf(z)[0]), y[i]) for i in range(2)
    ]
    assert crps(y, dist) == pytest.approx(np.mean(expected), rel=1e-6)


def test_crps_fallback_for_other_distributions():
    grid = np.linspace(-8, 8, 4001)
    tabulated = GridDistribution(grid, stats.norm.pdf(grid)[None, :])
    assert crps(np.array([0.7]), tabulated) == pytest.approx(
        crps(np.array([0.7]), Normal([0.0], [1.0])), rel=1e-3)
    with pytest.raises(ValueError):
        crps(["a"], Categorical([[0.5, 0.5]], classes=["a", "b"]))


def test_pit_coverage_and_calibration_of_a_well_specified_model():
    rng = np.random.default_rng(0)
    loc, scale = rng.normal(size=20000), rng.uniform(0.5, 2, size=20000)
    y = rng.normal(loc, scale)
    dist = Normal(loc, scale)
    values = pit(y, dist)
    assert stats.kstest(values, "uniform").pvalue > 0.01
    assert interval_coverage(y, dist, 0.9) == pytest.approx(0.9, abs=0.01)
    assert calibration_error(y, dist) < 0.01
    overconfident = Normal(loc, scale / 2)
    assert interval_coverage(y, overconfident, 0.9) < 0.7
    assert calibration_error(y, overconfident) > 0.1


def test_classifier_calibration_error():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20000)
    y = (rng.random(20000) < p).astype(int)
    calibrated = Categorical(np.c_[1 - p, p], classes=[0, 1])
    assert calibration_error(y, calibrated) < 0.02
    sharpened = np.clip(2 * p - 0.5, 0, 1)
    assert calibration_error(y, Categorical(np.c_[1 - sharpened, sharpened], classes=[0, 1])) > 0.1


@pytest.mark.parametrize(
    "y, match",
    [(np.array([0.0, 1.0, 2.0]), "length|samples|rows"), (np.array([0.0, np.nan]), "NaN|finite")],
)
def test_bad_targets(y, match):
    with pytest.raises(ValueError, match=match):
        negative_log_likelihood(y, Normal([0.0, 0.0], [1.0, 1.0]))
