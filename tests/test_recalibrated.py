"""Tests of CalibrationMap, RecalibratedDistribution and concatenate."""

import pickle

import numpy as np
import pytest
from scipy import integrate, stats

from skprob.distributions import (
    CalibrationMap,
    Categorical,
    GaussianMixture,
    GridDistribution,
    Normal,
    RecalibratedDistribution,
    TransformedDistribution,
    concatenate,
)
from skprob.distributions._transformed import TRANSFORMS
from skprob.metrics import interval_coverage, negative_log_likelihood, pit

LEVELS = (0.5, 0.8, 0.9, 0.95)


def _narrow_problem(n, seed):
    """Targets from N(mu, sd^2) and predictions N(mu, (sd / 2)^2): over-confident."""
    rng = np.random.default_rng(seed)
    mu, sd = rng.normal(size=n), np.exp(0.3 * rng.normal(size=n))
    return mu + sd * rng.normal(size=n), Normal(mu, 0.5 * sd)


@pytest.fixture(scope="module")
def moderate():
    """A map with bounded slopes, for checks by numerical integration on a grid."""
    return CalibrationMap.from_pit(np.random.default_rng(5).beta(0.8, 0.8, size=3000))


@pytest.fixture(scope="module")
def maps():
    y, narrow = _narrow_problem(20000, seed=0)
    return {method: CalibrationMap.from_pit(narrow.cdf(y), method) for method in
            ("isotonic", "conformal")}


def _bases():
    return {
        "normal": Normal([0.3, -1.0], [0.5, 2.0]),
        "mixture": GaussianMixture([[0.3, 0.7], [1.0, 0.0]], [[0.0, 3.0], [1.0, 1.0]],
                                   [[1.0, 0.2], [0.5, 0.5]]),
        "grid": GridDistribution(np.linspace(-2, 3, 41),
                                 np.vstack([np.ones(41), np.linspace(0, 1, 41) + 0.1])),
        "lognormal": TransformedDistribution(Normal([0.0, 1.0], [0.5, 0.3]), TRANSFORMS["log"]),
    }


@pytest.mark.parametrize("method", ["isotonic", "conformal"])
def test_recalibration_fixes_coverage_pit_and_nll_on_new_data(maps, method):
    y, narrow = _narrow_problem(20000, seed=1)
    recalibrated = RecalibratedDistribution(narrow, maps[method])
    for level in LEVELS:
        assert interval_coverage(y, narrow, level) < level - 0.1
        assert interval_coverage(y, recalibrated, level) == pytest.approx(level, abs=0.02)
    assert stats.kstest(pit(y, narrow), "uniform").pvalue < 1e-10
    assert stats.kstest(pit(y, recalibrated), "uniform").pvalue > 0.01
    assert negative_log_likelihood(y, recalibrated) < negative_log_likelihood(y, narrow)
    if method == "isotonic":  # close to the true model's NLL
        truth = Normal(narrow.loc, 2 * narrow.scale)
        assert negative_log_likelihood(y, recalibrated) < negative_log_likelihood(y, truth) + 0.02


def test_conformal_map_puts_order_statistics_at_ranks():
    pit_values = np.random.default_rng(0).uniform(size=99)
    cmap = CalibrationMap.from_pit(pit_values, "conformal")
    np.testing.assert_allclose(cmap(np.sort(pit_values)), np.arange(1, 100) / 100, atol=1e-15)


@pytest.mark.parametrize("method", ["isotonic", "conformal"])
def test_map_is_strictly_increasing_c1_and_inverts(maps, method):
    cmap = maps[method]
    u = np.linspace(0, 1, 200001)
    r = cmap(u)
    assert r[0] == 0 and r[-1] == 1 and np.all(np.diff(r) > 0)
    assert np.all(cmap.derivative(u) > 0)
    # C1: the slope is continuous across every knot
    c, h = cmap._lower.spline.c, np.diff(cmap.knots)
    np.testing.assert_allclose((3 * c[0] * h + 2 * c[1]) * h + c[2], cmap.slopes[1:], rtol=1e-9)
    np.testing.assert_allclose(c[2], cmap.slopes[:-1], rtol=1e-12)
    if method == "isotonic":
        middle = (u > 0.02) & (u < 0.98)
        np.testing.assert_allclose(np.gradient(r, u)[middle], cmap.derivative(u)[middle],
                                   rtol=1e-3)
    np.testing.assert_allclose(cmap.inverse(r), u, atol=1e-13)


def test_map_rejects_bad_knots():
    with pytest.raises(ValueError, match="start at 0"):
        CalibrationMap([0.1, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        CalibrationMap([0.0, 0.5, 0.5, 1.0], [0.0, 0.2, 0.3, 1.0])
    with pytest.raises(ValueError, match="slopes"):
        CalibrationMap([0.0, 0.5, 1.0], [0.0, 0.5, 1.0], slopes=[1.0, 5.0, 1.0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        CalibrationMap.from_pit([0.5, 1.5])
    with pytest.raises(ValueError, match="method"):
        CalibrationMap.from_pit([0.5], method="beta")


@pytest.mark.parametrize("name", list(_bases()))
def test_density_integrates_to_one_and_matches_cdf(moderate, name):
    dist = RecalibratedDistribution(_bases()[name], moderate)
    lo, hi = dist.ppf(1e-10), dist.ppf(1 - 1e-10)
    grid = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, 50001)
    cumulative = integrate.cumulative_trapezoid(dist.pdf(grid), grid, axis=1, initial=0.0)
    np.testing.assert_allclose(cumulative[:, -1], 1.0 - 2e-10, atol=2e-6)
    np.testing.assert_allclose(cumulative + 1e-10, dist.cdf(grid), atol=2e-6)


@pytest.mark.parametrize("name", list(_bases()))
@pytest.mark.parametrize("method", ["isotonic", "conformal"])
def test_ppf_inverts_cdf_into_the_tails(maps, name, method):
    dist = RecalibratedDistribution(_bases()[name], maps[method])
    q = np.array([1e-12, 1e-6, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 1e-6])
    if name == "grid":  # a bounded support, resolved in y to rounding of the nodes
        q = q[2:-1]
    y = dist.ppf(np.broadcast_to(q, (len(dist), q.size)))
    inside = np.isfinite(y) & (y > dist.ppf(0.0)[:, None]) & (y < dist.ppf(1.0)[:, None])
    np.testing.assert_allclose(dist.cdf(y)[inside], np.broadcast_to(q, y.shape)[inside],
                               rtol=1e-8)
    np.testing.assert_array_equal(dist.ppf([[0.0, 1.0, np.nan, 2.0]] * len(dist))[:, 2:],
                                  np.nan)


def test_tails_stay_finite_and_linear_in_log_space(maps):
    cmap = maps["isotonic"]
    base = Normal([0.0], [1.0])
    dist = RecalibratedDistribution(base, cmap)
    y = np.array([[-300.0, -40.0, 40.0, 300.0]])
    for values in (dist.logcdf(y), dist.logsf(y), dist.logpdf(y)):
        assert np.all(np.isfinite(values))
    np.testing.assert_allclose(dist.logcdf(y)[0, :2],
                               np.log(cmap.slopes[0]) + base.logcdf(y)[0, :2], rtol=1e-12)
    np.testing.assert_allclose(dist.logsf(y)[0, 2:],
                               np.log(cmap.slopes[-1]) + base.logsf(y)[0, 2:], rtol=1e-12)
    np.testing.assert_allclose(dist.logpdf(y)[0, [0, 3]],
                               base.logpdf(y)[0, [0, 3]] + np.log(cmap.slopes[[0, -1]]))
    z = np.array([[-5.0, 5.0]])
    np.testing.assert_allclose(dist.sf(z), 1 - dist.cdf(z), rtol=1e-9)
    assert dist.cdf(-30.0)[0] > 0 and dist.sf(30.0)[0] > 0


@pytest.mark.parametrize("name", list(_bases()))
def test_moments_match_numerical_integration(moderate, name):
    dist = RecalibratedDistribution(_bases()[name], moderate)
    mean, var = dist.mean(), dist.var()
    for i in range(len(dist)):
        row = dist[i]
        lo, hi = row.ppf(1e-14)[0], row.ppf(1 - 1e-14)[0]
        grid = np.linspace(lo, hi, 50001)
        density = row.pdf(grid[None, :])[0]
        m = integrate.trapezoid(grid * density, grid)
        v = integrate.trapezoid((grid - m) ** 2 * density, grid)
        assert mean[i] == pytest.approx(m, abs=2e-3 * np.sqrt(v))
        assert var[i] == pytest.approx(v, rel=5e-3)
    np.testing.assert_allclose(dist.std(), np.sqrt(var))


def test_identity_map_leaves_the_base_unchanged():
    base = _bases()["mixture"]
    dist = RecalibratedDistribution(base, CalibrationMap([0.0, 1.0], [0.0, 1.0]))
    y = np.linspace(-3, 5, 9)[None, :].repeat(2, axis=0)
    np.testing.assert_allclose(dist.logpdf(y), base.logpdf(y), rtol=1e-12)
    np.testing.assert_allclose(dist.cdf(y), base.cdf(y), rtol=1e-12)
    np.testing.assert_allclose(dist.ppf(0.3), base.ppf(0.3), rtol=1e-10)
    # the quadrature of a bimodal quantile function: 1e-3 of the std
    np.testing.assert_allclose(dist.mean(), base.mean(), atol=1e-3 * base.std().max())
    np.testing.assert_allclose(dist.var(), base.var(), rtol=5e-3)


def test_rows_do_not_depend_on_the_other_rows(maps):
    rng = np.random.default_rng(3)
    base = GaussianMixture(rng.dirichlet(np.ones(3), size=50), rng.normal(size=(50, 3)),
                           np.exp(rng.normal(size=(50, 3))))
    dist = RecalibratedDistribution(base, maps["isotonic"])
    q = rng.uniform(size=50)
    full_ppf, full_mean, full_logpdf = dist.ppf(q), dist.mean(), dist.logpdf(q)
    for i in (0, 17, 49):
        row = dist[i]
        assert row.ppf(q[i])[0] == full_ppf[i]
        assert row.mean()[0] == full_mean[i]
        assert row.logpdf(q[i])[0] == full_logpdf[i]


def test_slicing_sampling_affine_scipy_and_pickle(maps):
    base = Normal(np.arange(6.0), np.ones(6))
    dist = RecalibratedDistribution(base, maps["isotonic"])
    assert len(dist) == 6 and len(dist[1:4]) == 3
    assert len(dist[np.array([True] * 3 + [False] * 3)]) == 3
    np.testing.assert_array_equal(dist[[4, 1]].ppf(0.9), dist.ppf(0.9)[[4, 1]])
    samples = dist[:1].sample(4000, random_state=0)
    assert samples.shape == (1, 4000)
    assert stats.kstest(samples[0], lambda t: dist[0].cdf(np.atleast_1d(t)[None, :])[0]
                        ).pvalue > 0.01
    shifted = dist.affine(1.0, 2.0)
    np.testing.assert_allclose(shifted.cdf(1.0 + 2.0 * 0.7), dist.cdf(0.7), rtol=1e-12)
    row = dist.to_scipy(2)
    assert row.cdf(2.5) == pytest.approx(dist.cdf(2.5)[2])
    clone = pickle.loads(pickle.dumps(dist))
    np.testing.assert_array_equal(clone.logpdf(1.3), dist.logpdf(1.3))
    with pytest.raises(TypeError, match="continuous"):
        RecalibratedDistribution(Categorical([[1.0]]), maps["isotonic"])


def test_concatenate_pads_mixtures_exactly_and_keeps_order():
    small = GaussianMixture([[0.4, 0.6]], [[-1.0, 2.0]], [[0.5, 1.5]])
    normal = Normal([0.5], [2.0])
    big = GaussianMixture([[0.2, 0.3, 0.5]], [[0.0, 1.0, 4.0]], [[1.0, 0.1, 1.0]])
    joined = concatenate([small, normal, big])
    assert isinstance(joined, GaussianMixture) and joined.n_components == 3
    y = np.linspace(-4, 6, 11)[None, :]
    q = np.linspace(0.01, 0.99, 9)[None, :]
    for i, part in enumerate([small, normal, big]):
        row = joined[i]
        np.testing.assert_allclose(row.logpdf(y), part.logpdf(y), rtol=1e-15, atol=0)
        np.testing.assert_allclose(row.cdf(y), part.cdf(y), rtol=1e-15, atol=0)
        # the quantile solver stops within 1e-12 of a component std, along a
        # path that depends on the order of the sums over components
        np.testing.assert_allclose(row.ppf(q), part.ppf(q), rtol=0, atol=1e-12)
        np.testing.assert_allclose(row.mean(), part.mean(), rtol=1e-15)
        np.testing.assert_allclose(row.var(), part.var(), rtol=1e-15)
    assert np.all(joined.weights[:2, 2] == 0)


def test_concatenate_other_families():
    grid = _bases()["grid"]
    np.testing.assert_allclose(concatenate([grid[1], grid[0]]).cdf(0.5), grid.cdf(0.5)[::-1])
    lognormal = _bases()["lognormal"]
    both = concatenate([lognormal, lognormal[:1]])
    assert isinstance(both, TransformedDistribution) and len(both) == 3
    cats = concatenate([Categorical([[0.2, 0.8]], ["a", "b"]),
                        Categorical([[1.0, 0.0]], ["a", "b"])])
    np.testing.assert_array_equal(cats.probs, [[0.2, 0.8], [1.0, 0.0]])
    with pytest.raises(ValueError, match="same classes"):
        concatenate([Categorical([[0.2, 0.8]], ["a", "b"]), Categorical([[1.0, 0.0]], ["b", "a"])])
    with pytest.raises(TypeError, match="Cannot concatenate"):
        concatenate([grid, Normal([0.0], [1.0])])
    with pytest.raises(ValueError, match="at least one"):
        concatenate([])


def test_concatenate_recalibrated_keeps_each_rows_map(maps):
    a = RecalibratedDistribution(Normal([0.0, 1.0], [1.0, 1.0]), maps["isotonic"])
    b = RecalibratedDistribution(GaussianMixture([[1.0]], [[2.0]], [[0.5]]), maps["conformal"])
    joined = concatenate([a, b, a[:1]])
    assert len(joined.calibration_map) == 2
    np.testing.assert_array_equal(joined.map_index, [0, 0, 1, 0])
    y = np.array([0.3, 1.2, 2.1, -0.4])
    expected = np.r_[a.cdf(y[:2]), b.cdf(y[2:3]), a[:1].cdf(y[3:])]
    np.testing.assert_allclose(joined.cdf(y), expected, rtol=1e-14)
    np.testing.assert_allclose(joined[2:].ppf(0.9), np.r_[b.ppf(0.9), a[:1].ppf(0.9)])
