"""Metric functions on (y_true, dist); the scorers are tested in tests/test_pipeline.py."""

import numpy as np
import pytest
from scipy import integrate, special, stats

from skprob.distributions import Categorical, GaussianMixture, GridDistribution, Normal
from skprob.metrics import (
    calibration_error,
    crps,
    interval_coverage,
    negative_log_likelihood,
    pit,
)

CONTINUOUS_METRICS = [negative_log_likelihood, crps, pit, interval_coverage, calibration_error]


@pytest.fixture
def mixture():
    """Separated, overlapping, and with a zero-weight component."""
    return GaussianMixture(
        weights=[[0.3, 0.7, 0.0], [0.5, 0.25, 0.25], [0.6, 0.0, 0.4]],
        means=[[-5.0, 5.0, 0.0], [0.0, 0.5, -0.3], [1.0, 100.0, 2.0]],
        stds=[[1.0, 0.5, 1.0], [1.0, 2.0, 0.7], [0.2, 1.0, 3.0]],
    )


class PpfOnly:
    """A continuous distribution known only through ``len`` and ``ppf``."""

    def __init__(self, dist):
        self.dist = dist

    def __len__(self):
        return len(self.dist)

    def ppf(self, q):
        return self.dist.ppf(q)


def _random_mixtures(n_rows):
    """Three-component mixtures with random parameters, one per row."""
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(3), size=n_rows)
    means = rng.normal(0, 3, size=(n_rows, 3))
    return GaussianMixture(weights, means, rng.uniform(0.2, 2, size=(n_rows, 3)))


def _numerical_crps(cdf, y, points):
    """CRPS = integral of (F(z) - 1{z >= y})^2 dz by quadrature."""
    lo, hi = min(points) - 60, max(points) + 60
    below = integrate.quad(lambda z: cdf(z) ** 2, lo, y, limit=400,
                           points=[p for p in points if lo < p < y] or None)[0]
    above = integrate.quad(lambda z: (1 - cdf(z)) ** 2, y, hi, limit=400,
                           points=[p for p in points if y < p < hi] or None)[0]
    return below + above


# --------------------------------------------------------------------- NLL
def test_nll_matches_scipy():
    dist = Normal([0.0, 1.0], [1.0, 2.0])
    y = np.array([0.3, -1.0])
    expected = -stats.norm.logpdf(y, [0.0, 1.0], [1.0, 2.0])
    assert negative_log_likelihood(y, dist) == pytest.approx(expected.mean(), rel=1e-12)
    assert negative_log_likelihood(y, dist, sample_weight=[3, 1]) == pytest.approx(
        np.average(expected, weights=[3, 1]), rel=1e-12)


def test_nll_of_mixtures_matches_scipy_mixture(mixture):
    y = np.array([4.0, 0.2, 1.5])
    expected = []
    for i in range(len(mixture)):
        components = [stats.Normal(mu=m, sigma=s)
                      for m, s in zip(mixture.means[i], mixture.stds[i], strict=True)]
        with np.errstate(divide="ignore"):  # scipy takes log(0) of a zero weight
            expected.append(-stats.Mixture(components, weights=mixture.weights[i]).logpdf(y[i]))
    assert negative_log_likelihood(y, mixture) == pytest.approx(np.mean(expected), rel=1e-10)


def test_nll_of_categorical_is_the_log_loss():
    cat = Categorical([[0.25, 0.75], [0.5, 0.5], [0.9, 0.1]], classes=["no", "yes"])
    y = ["yes", "no", "no"]
    expected = -(np.log(0.75) + np.log(0.5) + np.log(0.9)) / 3
    assert negative_log_likelihood(y, cat) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="not among the classes"):
        negative_log_likelihood(["yes", "maybe", "no"], cat)


# -------------------------------------------------------------------- CRPS
def test_crps_of_normal_has_the_known_closed_form():
    loc, scale = np.array([0.5, -1.0, 3.0]), np.array([2.0, 0.1, 5.0])
    y = np.array([1.7, -1.0, -20.0])
    z = (y - loc) / scale
    known = scale * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))
    dist = Normal(loc, scale)
    for i in range(3):
        assert crps(y[i : i + 1], dist[i]) == pytest.approx(known[i], rel=1e-12)
    assert crps(y, dist) == pytest.approx(known.mean(), rel=1e-12)
    assert crps(y, dist, sample_weight=[1, 0, 2]) == pytest.approx(
        (known[0] + 2 * known[2]) / 3, rel=1e-12)


def test_crps_of_normal_equals_one_component_mixture():
    y = np.array([0.3, -2.0])
    normal = Normal([0.0, 1.0], [1.0, 0.5])
    single = GaussianMixture([[1.0], [1.0]], [[0.0], [1.0]], [[1.0], [0.5]])
    assert crps(y, normal) == pytest.approx(crps(y, single), rel=1e-14)


@pytest.mark.parametrize("y", [[0.4, -3.0, 1.1], [5.2, 0.0, 100.0], [-12.0, 9.0, -1.0]])
def test_crps_of_mixtures_matches_numerical_integration(mixture, y):
    y = np.array(y)
    for i in range(len(mixture)):
        row = mixture[i]
        expected = _numerical_crps(lambda z, row=row: float(row.cdf(z)[0]), y[i],
                                   list(mixture.means[i]))
        assert crps(y[i : i + 1], row) == pytest.approx(expected, rel=1e-7)


def test_crps_falls_back_to_quantiles_for_other_distributions(mixture):
    y = np.array([0.4, -3.0, 1.5])
    for i in range(len(mixture)):
        closed_form = crps(y[i : i + 1], mixture[i])
        assert crps(y[i : i + 1], PpfOnly(mixture[i])) == pytest.approx(closed_form, rel=1e-4)
    normal = Normal([0.0, 2.0], [1.0, 3.0])
    assert crps([0.7, 2.0], PpfOnly(normal)) == pytest.approx(crps([0.7, 2.0], normal), rel=1e-5)


def test_crps_rejects_categorical_and_objects_without_ppf():
    with pytest.raises(ValueError, match="real-valued"):
        crps(["a"], Categorical([[0.5, 0.5]], classes=["a", "b"]))

    class NoPpf:
        def __len__(self):
            return 1

    with pytest.raises(TypeError, match="ppf"):
        crps([0.0], NoPpf())


# ---------------------------------------------------- PIT, coverage, calibration
def test_pit_is_the_cdf_and_uniform_under_the_true_distribution(mixture):
    y = np.array([0.0, 0.5, 2.0])
    np.testing.assert_array_equal(pit(y, mixture), mixture.cdf(y))
    dist = _random_mixtures(5000)
    values = pit(dist.sample(1, random_state=1)[:, 0], dist)
    assert values.shape == (5000,)
    assert stats.kstest(values, "uniform").pvalue > 0.01
    shifted = pit(dist.sample(1, random_state=1)[:, 0] + 0.5, dist)
    assert stats.kstest(shifted, "uniform").pvalue < 0.01


@pytest.mark.parametrize("confidence", [0.5, 0.8, 0.95])
def test_interval_coverage_on_samples(confidence):
    dist = _random_mixtures(20000)
    y = dist.sample(1, random_state=1)[:, 0]
    assert interval_coverage(y, dist, confidence) == pytest.approx(confidence, abs=0.01)


def test_interval_coverage_counts_and_weights():
    dist = Normal([0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0])
    y = np.array([0.5, 3.0, -1.0, -1.7])  # the 90% interval is [-1.645, 1.645]
    assert interval_coverage(y, dist, 0.9) == 0.5
    assert interval_coverage(y, dist, 0.9, sample_weight=[3, 1, 0, 0]) == 0.75


def test_interval_coverage_of_rounded_targets_is_that_of_the_dequantised_target():
    dist = _random_mixtures(5000)
    step = 2.0  # about the components' spread
    rounded = np.round(dist.sample(1, random_state=1)[:, 0] / step) * step
    jitter = np.random.default_rng(2).uniform(-step / 2, step / 2, size=(200, len(rounded)))
    dequantised = np.mean([interval_coverage(rounded + u, dist, 0.8) for u in jitter])
    cell = interval_coverage(rounded, dist, 0.8, resolution=step)
    assert cell == pytest.approx(dequantised, abs=2e-3)
    assert abs(cell - interval_coverage(rounded, dist, 0.8)) > 0.02
    assert interval_coverage(rounded, dist, 0.8, resolution=0) == interval_coverage(
        rounded, dist, 0.8
    )


def test_interval_coverage_of_a_perfect_model_of_a_noise_free_rounded_target():
    # y is a deterministic function of x, recorded to the nearest integer: the
    # density of the rounded quantity given the record is flat on the cell.
    rounded = np.round(np.random.default_rng(0).uniform(-20, 20, size=500))
    grid = rounded[:, None] + np.linspace(-0.5, 0.5, 201)
    dist = GridDistribution(grid, np.ones_like(grid))
    assert interval_coverage(rounded, dist, 0.9) == 1.0  # the raw count says nothing
    assert interval_coverage(rounded, dist, 0.9, resolution=1.0) == pytest.approx(0.9)
    assert interval_coverage(rounded, dist, 0.5, resolution=1.0) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "resolution, error",
    [(-1.0, ValueError), (np.nan, ValueError), ([0.1, 0.2], ValueError), ("cent", TypeError)],
)
def test_interval_coverage_rejects_a_bad_resolution(resolution, error):
    with pytest.raises(error, match="resolution"):
        interval_coverage([0.0], Normal([0.0], [1.0]), 0.9, resolution=resolution)


def test_calibration_of_well_and_badly_specified_models():
    rng = np.random.default_rng(0)
    loc, scale = rng.normal(size=20000), rng.uniform(0.5, 2, size=20000)
    y = rng.normal(loc, scale)
    dist = Normal(loc, scale)
    assert interval_coverage(y, dist, 0.9) == pytest.approx(0.9, abs=0.01)
    assert calibration_error(y, dist) < 0.01
    overconfident = Normal(loc, scale / 2)
    assert interval_coverage(y, overconfident, 0.9) < 0.7
    assert calibration_error(y, overconfident) > 0.1
    assert calibration_error(y, Normal(loc + scale, scale)) > 0.1


def test_continuous_calibration_error_by_hand():
    dist = Normal(np.zeros(4), np.ones(4))
    y = special.ndtri([0.1, 0.2, 0.6, 0.9])
    # levels 0.25 and 0.75: empirical frequencies 0.5 and 0.75
    assert calibration_error(y, dist, n_bins=2) == pytest.approx(0.125, rel=1e-12)
    # weights 1, 0, 1, 2: frequencies 0.25 and 0.5
    assert calibration_error(y, dist, n_bins=2, sample_weight=[1, 0, 1, 2]) == pytest.approx(
        0.125, rel=1e-12)


def test_expected_calibration_error_by_hand():
    probs = [[0.4, 0.3, 0.3], [0.45, 0.3, 0.25], [0.9, 0.05, 0.05], [0.8, 0.1, 0.1]]
    dist = Categorical(probs, classes=["a", "b", "c"])
    y = ["a", "a", "b", "a"]
    # bin (0, 0.5]: accuracy 1, confidence 0.425; bin (0.5, 1]: accuracy 0.5, confidence 0.85
    assert calibration_error(y, dist, n_bins=2) == pytest.approx(
        0.5 * 0.575 + 0.5 * 0.35, rel=1e-12)
    assert calibration_error(y, dist, n_bins=2, sample_weight=[1, 1, 1, 3]) == pytest.approx(
        (abs(2 - 0.85) + abs(3 - 3.3)) / 6, rel=1e-12)
    with pytest.raises(ValueError, match="not among the classes"):
        calibration_error(["a", "a", "z", "a"], dist)


def test_classifier_calibration_error():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20000)
    y = (rng.random(20000) < p).astype(int)
    calibrated = Categorical(np.c_[1 - p, p], classes=[0, 1])
    assert calibration_error(y, calibrated) < 0.02
    sharpened = np.clip(2 * p - 0.5, 0, 1)
    assert calibration_error(y, Categorical(np.c_[1 - sharpened, sharpened], classes=[0, 1])) > 0.1


@pytest.mark.parametrize("metric", [pit, interval_coverage])
def test_real_valued_metrics_reject_categorical(metric):
    with pytest.raises(ValueError, match="real-valued"):
        metric([0, 1], Categorical([[0.5, 0.5], [0.1, 0.9]]))


@pytest.mark.parametrize("n_bins", [0, -3, 2.5, True, "10"])
def test_calibration_error_rejects_bad_n_bins(n_bins):
    with pytest.raises(ValueError, match="n_bins"):
        calibration_error([0.0], Normal([0.0], [1.0]), n_bins=n_bins)


# ---------------------------------------------------------- input checks
@pytest.mark.parametrize("metric", CONTINUOUS_METRICS)
@pytest.mark.parametrize(
    "y, match",
    [
        (np.array([0.0, 1.0, 2.0]), "samples but the distribution has 2 rows"),
        (np.array([0.0]), "samples but the distribution has 2 rows"),
        (np.array([0.0, np.nan]), "NaN"),
        (np.array([0.0, np.inf]), "infinity"),
        (np.zeros((2, 2)), "1-D"),
        (np.array(["a", "b"]), "real-valued"),
    ],
)
def test_bad_targets(metric, y, match):
    with pytest.raises(ValueError, match=match):
        metric(y, Normal([0.0, 0.0], [1.0, 1.0]))


@pytest.mark.parametrize("metric", CONTINUOUS_METRICS)
def test_column_targets_are_accepted_and_empty_ones_rejected(metric):
    dist = Normal([0.0, 1.0], [1.0, 2.0])
    y = np.array([0.3, -0.5])
    np.testing.assert_array_equal(metric(y[:, None], dist), metric(y, dist))
    with pytest.raises(ValueError, match="empty"):
        metric(np.array([]), Normal([], []))


@pytest.mark.parametrize(
    "metric", [negative_log_likelihood, crps, interval_coverage, calibration_error]
)
@pytest.mark.parametrize(
    "sample_weight, match",
    [([1.0], "shape"), ([1.0, -1.0], "non-negative"), ([0.0, 0.0], "zero"),
     ([1.0, np.nan], "finite")],
)
def test_bad_sample_weight(metric, sample_weight, match):
    with pytest.raises(ValueError, match=match):
        metric([0.0, 1.0], Normal([0.0, 0.0], [1.0, 1.0]), sample_weight=sample_weight)


def test_categorical_targets_with_nan_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        negative_log_likelihood(np.array([0.0, np.nan]), Categorical([[0.5, 0.5]] * 2))
