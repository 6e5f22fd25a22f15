"""Normal, GaussianMixture and Categorical against scipy.stats, row by row."""

import numpy as np
import pytest
from scipy import integrate, stats

from skprob.distributions import Categorical, GaussianMixture, Normal


@pytest.fixture
def normal():
    return Normal(loc=[0.0, -2.0, 5.0], scale=[1.0, 0.3, 4.0])


@pytest.fixture
def mixture():
    """Row 0 well separated, row 1 overlapping, row 2 with a zero-weight component."""
    return GaussianMixture(
        weights=[[0.3, 0.7, 0.0], [0.5, 0.25, 0.25], [0.6, 0.0, 0.4]],
        means=[[-5.0, 5.0, 0.0], [0.0, 0.5, -0.3], [1.0, 100.0, 2.0]],
        stds=[[1.0, 0.5, 1.0], [1.0, 2.0, 0.7], [0.2, 1.0, 3.0]],
    )


def _scipy_rows(dist):
    return [dist.to_scipy(i) for i in range(len(dist))]


def _mixture_rows(dist):
    """Reference densities of each row built from scipy.stats.norm components."""

    def row(i):
        w, m, s = dist.weights[i], dist.means[i], dist.stds[i]
        return (lambda y: np.sum(w * stats.norm.pdf(y, m, s)),
                lambda y: np.sum(w * stats.norm.cdf(y, m, s)))

    return [row(i) for i in range(len(dist))]


# ------------------------------------------------------------------ Normal
def test_normal_methods_match_scipy(normal):
    y = np.array([[0.5, -1.0], [-2.1, 3.0], [5.0, -20.0]])
    for i, ref in enumerate(stats.norm(normal.loc[i], normal.scale[i]) for i in range(3)):
        np.testing.assert_allclose(normal.logpdf(y)[i], ref.logpdf(y[i]))
        np.testing.assert_allclose(normal.cdf(y)[i], ref.cdf(y[i]))
        np.testing.assert_allclose(normal.sf(y)[i], ref.sf(y[i]))
        np.testing.assert_allclose(normal.ppf([[0.1, 0.9]] * 3)[i], ref.ppf([0.1, 0.9]))
    np.testing.assert_allclose(normal.mean(), normal.loc)
    np.testing.assert_allclose(normal.std(), normal.scale)
    lower, upper = normal.interval(0.9)
    np.testing.assert_allclose(upper - lower, 2 * 1.6448536269514722 * normal.scale)


def test_argument_shapes(normal):
    assert normal.pdf(0.0).shape == (3,)
    assert normal.pdf(np.zeros(3)).shape == (3,)
    assert normal.pdf(np.zeros((3, 7))).shape == (3, 7)
    with pytest.raises(ValueError, match="shape"):
        normal.pdf(np.zeros(4))


# ----------------------------------------------------------------- mixture
def _moments(pdf):
    mean = integrate.quad(lambda y: y * pdf(y), -np.inf, np.inf, limit=200)[0]
    var = integrate.quad(lambda y: (y - mean) ** 2 * pdf(y), -np.inf, np.inf, limit=200)[0]
    return mean, var


def test_mixture_density_cdf_and_moments_match_integration(mixture):
    for i, (pdf, cdf) in enumerate(_mixture_rows(mixture)):
        for y in (-6.0, -0.2, 0.4, 5.3):
            assert mixture.pdf(np.full(3, y))[i] == pytest.approx(pdf(y), rel=1e-12)
            assert mixture.cdf(np.full(3, y))[i] == pytest.approx(cdf(y), rel=1e-10, abs=1e-300)
        mean, var = _moments(pdf)
        assert mixture.mean()[i] == pytest.approx(mean, abs=1e-7)
        assert mixture.var()[i] == pytest.approx(var, rel=1e-6)


def test_mixture_matches_scipy_mixture(mixture):
    y = np.array([-1.0, 0.3, 2.5])
    for i, ref in enumerate(_scipy_rows(mixture)):
        with np.errstate(divide="ignore"):  # scipy takes log(0) of the zero weight
            expected = ref.logpdf(y)
        np.testing.assert_allclose(mixture.logpdf(np.tile(y, (3, 1)))[i], expected, rtol=1e-10)
        np.testing.assert_allclose(mixture.cdf(np.tile(y, (3, 1)))[i], ref.cdf(y), rtol=1e-10)


@pytest.mark.parametrize("q", [1e-12, 1e-6, 0.01, 0.3, 0.5, 0.77, 0.99, 1 - 1e-9])
def test_mixture_ppf_inverts_cdf(mixture, q):
    x = mixture.ppf(q)
    np.testing.assert_allclose(mixture.cdf(x), q, rtol=1e-9)
    y = np.array([-4.5, 0.1, 1.5])
    np.testing.assert_allclose(mixture.ppf(mixture.cdf(y)), y, rtol=1e-9, atol=1e-9)


def test_ppf_edges_follow_scipy(mixture):
    assert np.all(mixture.ppf(0.0) == -np.inf) and np.all(mixture.ppf(1.0) == np.inf)
    assert np.all(np.isnan(mixture.ppf(1.5)))


def test_tails_are_finite_at_40_standard_deviations(mixture):
    far = np.c_[mixture.means.min(axis=1) - 40 * mixture.stds.max(axis=1),
                mixture.means.max(axis=1) + 40 * mixture.stds.max(axis=1)]
    for method in (mixture.logpdf, mixture.logcdf, mixture.logsf):
        values = method(far)
        assert np.all(np.isfinite(values)), method.__name__
    normal = Normal(0.0 * np.ones(2), np.ones(2))
    assert np.all(np.isfinite(normal.logpdf(np.array([-40.0, 40.0]))))
    assert normal.logcdf(np.array([-40.0, 0.0]))[0] == pytest.approx(stats.norm.logcdf(-40.0))


def test_sampling_moments_and_interval_coverage(mixture):
    draws = mixture.sample(40000, random_state=0)
    assert draws.shape == (3, 40000)
    se = mixture.std() / np.sqrt(40000)
    assert np.all(np.abs(draws.mean(axis=1) - mixture.mean()) < 5 * se)
    np.testing.assert_allclose(draws.var(axis=1), mixture.var(), rtol=0.03)
    lower, upper = mixture.interval(0.8)
    inside = ((draws >= lower[:, None]) & (draws <= upper[:, None])).mean(axis=1)
    np.testing.assert_allclose(inside, 0.8, atol=0.01)
    np.testing.assert_array_equal(draws, mixture.sample(40000, random_state=0))


def test_slicing_len_and_affine(mixture):
    assert len(mixture) == 3 and len(mixture[1]) == 1
    np.testing.assert_array_equal(mixture[1:].means, mixture.means[1:])
    np.testing.assert_array_equal(mixture[np.array([True, False, True])].stds,
                                  mixture.stds[[0, 2]])
    np.testing.assert_array_equal(mixture[[2, 0]].weights, mixture.weights[[2, 0]])
    moved = mixture.affine(3.0, 2.0)
    y = np.array([0.1, -1.0, 2.0])
    np.testing.assert_allclose(moved.logpdf(3.0 + 2.0 * y), mixture.logpdf(y) - np.log(2.0))
    np.testing.assert_allclose(moved.cdf(3.0 + 2.0 * y), mixture.cdf(y))
    with pytest.raises(IndexError):
        mixture[5]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weights": [[0.5, 0.6]], "means": [[0.0, 1.0]], "stds": [[1.0, 1.0]]}, "sum"),
        ({"weights": [[0.5, 0.5]], "means": [[0.0, 1.0]], "stds": [[1.0, 0.0]]}, "positive"),
        ({"weights": [[0.5, 0.5]], "means": [[0.0, np.nan]], "stds": [[1.0, 1.0]]}, "finite|NaN"),
        ({"weights": [[1.0]], "means": [[0.0, 1.0]], "stds": [[1.0, 1.0]]}, "shape"),
        ({"weights": [[-0.5, 1.5]], "means": [[0.0, 1.0]], "stds": [[1.0, 1.0]]}, "negative"),
    ],
)
def test_mixture_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**kwargs)


def test_logpdf_of_a_million_rows_is_vectorised():
    rng = np.random.default_rng(0)
    n, k = 1_000_000, 16
    dist = GaussianMixture(np.full((n, k), 1 / k), rng.normal(size=(n, k)),
                           rng.uniform(0.5, 2, size=(n, k)))
    values = dist.logpdf(rng.normal(size=n))
    assert values.shape == (n,) and np.all(np.isfinite(values))


# ------------------------------------------------------------- categorical
def test_categorical_against_scipy():
    probs = np.array([[0.2, 0.5, 0.3], [0.0, 1.0, 0.0]])
    dist = Categorical(probs, classes=np.array(["a", "b", "c"]))
    np.testing.assert_allclose(dist.pmf(np.array(["c", "b"])), [0.3, 1.0])
    np.testing.assert_allclose(dist.logpmf(np.array(["a", "b"])), [np.log(0.2), 0.0])
    assert dist.logpmf(np.array(["a", "a"]))[1] == -np.inf
    np.testing.assert_array_equal(dist.mode(), ["b", "b"])
    np.testing.assert_allclose(dist.entropy(), [stats.entropy(probs[0]), 0.0])
    ref = dist.to_scipy(0)
    np.testing.assert_allclose(ref.pmf([0, 1, 2]), probs[0])
    draws = dist.sample(20000, random_state=0)
    assert draws.shape == (2, 20000)
    np.testing.assert_allclose([(draws[0] == c).mean() for c in "abc"], probs[0], atol=0.01)
    assert np.all(draws[1] == "b")
    with pytest.raises(ValueError, match="not"):
        dist.pmf(np.array(["z", "a"]))
    with pytest.raises(ValueError, match="sum"):
        Categorical([[0.2, 0.2]])
