"""GridDistribution against scipy.stats, on densities the grid represents exactly or finely."""

import numpy as np
import pytest
from scipy import integrate, stats

from skprob.distributions import GridDistribution


@pytest.fixture
def normals():
    """Three normals tabulated finely: piecewise-linear error is O(h^2)."""
    locs, scales = np.array([0.0, 2.0, -1.0]), np.array([1.0, 0.5, 3.0])
    grid = locs[:, None] + scales[:, None] * np.linspace(-12, 12, 4001)
    density = stats.norm.pdf(grid, locs[:, None], scales[:, None])
    return GridDistribution(grid, density), locs, scales


def test_methods_match_scipy_for_finely_tabulated_normals(normals):
    dist, locs, scales = normals
    np.testing.assert_allclose(dist.mean(), locs, atol=1e-6)
    np.testing.assert_allclose(dist.std(), scales, rtol=1e-4)
    y = locs[:, None] + scales[:, None] * np.array([-3.0, -0.5, 0.0, 1.7])
    np.testing.assert_allclose(dist.cdf(y), stats.norm.cdf(y, locs[:, None], scales[:, None]),
                               atol=1e-6)
    np.testing.assert_allclose(dist.pdf(y), stats.norm.pdf(y, locs[:, None], scales[:, None]),
                               rtol=1e-4)
    q = np.array([0.001, 0.05, 0.5, 0.9, 0.999])
    expected = stats.norm.ppf(q, locs[:, None], scales[:, None])
    np.testing.assert_allclose(dist.ppf(np.tile(q, (3, 1))), expected, atol=1e-4 * scales.max())
    lower, upper = dist.interval(0.9)
    np.testing.assert_allclose(upper - lower, 2 * 1.6448536 * scales, rtol=1e-4)


def test_exact_for_piecewise_linear_densities():
    grid = np.array([0.0, 1.0, 3.0, 4.0])
    dist = GridDistribution(grid, [[0.0, 2.0, 2.0, 0.0]])  # a trapezoid
    pdf = lambda y: np.interp(y, grid, dist.density[0])  # noqa: E731
    assert integrate.quad(pdf, 0, 4, points=[1, 3])[0] == pytest.approx(1.0)
    assert dist.mean()[0] == pytest.approx(2.0)
    var = integrate.quad(lambda y: (y - 2) ** 2 * pdf(y), 0, 4, points=[1, 3])[0]
    assert dist.var()[0] == pytest.approx(var)
    ys = np.linspace(-1, 5, 25)
    expected = [integrate.quad(pdf, 0, max(min(y, 4), 0), points=[1, 3])[0] for y in ys]
    np.testing.assert_allclose(dist.cdf(ys[None, :])[0], expected, atol=1e-12)
    q = np.linspace(0, 1, 101)[None, :]
    np.testing.assert_allclose(dist.cdf(dist.ppf(q)), q, atol=1e-12)
    assert dist.ppf(0.0)[0] == 0.0 and dist.ppf(1.0)[0] == 4.0
    assert np.isnan(dist.ppf(1.5)[0])
    assert dist.logpdf(-1.0)[0] == -np.inf and dist.pdf(5.0)[0] == 0.0


def test_sf_keeps_its_precision_in_the_right_tail():
    grid = np.array([0.0, 1.0, 3.0, 4.0])
    dist = GridDistribution(grid, [[0.0, 2.0, 2.0, 0.0]])  # a trapezoid
    ys = np.linspace(-1, 5, 25)[None, :]
    np.testing.assert_allclose(dist.sf(ys) + dist.cdf(ys), 1.0, atol=1e-14)
    # exact tail mass of the last cell: (4 - y)**2 / 6 on [3, 4]
    y = np.array([[4.0 - 1e-5, 4.0 - 1e-9]])
    np.testing.assert_allclose(dist.sf(y), (4.0 - y) ** 2 / 6, rtol=1e-6)
    assert dist.sf(4.0)[0] == 0.0 and dist.sf(-1.0)[0] == 1.0
    np.testing.assert_allclose(dist.logsf(y), np.log((4.0 - y) ** 2 / 6), rtol=1e-6)


def test_far_right_tail_of_a_tabulated_normal(normals):
    dist, locs, scales = normals
    y = locs[:, None] + scales[:, None] * np.array([8.0, 10.0])  # sf ~ 1e-16 and 1e-24
    expected = stats.norm.sf(y, locs[:, None], scales[:, None])
    np.testing.assert_allclose(dist.sf(y), expected, rtol=0.05)  # O(h^2) of the table


def test_sampling_slicing_affine_and_scipy(normals):
    dist, locs, scales = normals
    draws = dist.sample(20000, random_state=0)
    assert draws.shape == (3, 20000)
    assert np.all(np.abs(draws.mean(axis=1) - locs) < 4 * scales / np.sqrt(20000))
    assert len(dist[1:]) == 2 and dist[[2]].mean()[0] == pytest.approx(locs[2], abs=1e-6)
    shifted = dist.affine(10.0, 2.0)
    np.testing.assert_allclose(shifted.mean(), 10 + 2 * dist.mean())
    np.testing.assert_allclose(shifted.logpdf(10 + 2 * locs), dist.logpdf(locs) - np.log(2))
    row = dist.to_scipy(1)
    assert row.cdf(locs[1]) == pytest.approx(0.5, abs=1e-6)
    assert row.ppf(0.975) == pytest.approx(stats.norm.ppf(0.975, locs[1], scales[1]), abs=1e-4)


@pytest.mark.parametrize(
    "grid, density, match",
    [
        ([0.0, 1.0, 1.0], [[1.0, 1.0, 1.0]], "increasing"),
        ([0.0, 1.0, 2.0], [[1.0, -1.0, 1.0]], "non-negative"),
        ([0.0, 1.0, 2.0], [[0.0, 0.0, 0.0]], "no mass"),
        ([0.0, 1.0], [[1.0, 1.0, 1.0]], "shape"),
        ([0.0, 1.0, 2.0], [[1.0, np.nan, 1.0]], "NaN|finite"),
    ],
)
def test_bad_input(grid, density, match):
    with pytest.raises(ValueError, match=match):
        GridDistribution(grid, density)


def test_nan_in_gives_nan_out_like_the_other_distributions():
    dist = GridDistribution(np.linspace(0.0, 1.0, 5), [[1.0, 2.0, 1.0, 2.0, 1.0]])
    for method in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"):
        out = getattr(dist, method)([[np.nan, 0.5, 1.0]])
        assert np.isnan(out[0, 0]) and not np.isnan(out[0, 1:]).any(), method
