"""Normal, GaussianMixture and Categorical against scipy.stats, row by row."""

import pickle

import numpy as np
import pytest
from scipy import integrate, special, stats

from skprob.distributions import (
    BaseDistribution,
    Categorical,
    ContinuousDistribution,
    GaussianMixture,
    Normal,
)
from skprob.distributions._base import logsumexp_inplace
from skprob.distributions._sampling import sample_index

CONTINUOUS_METHODS = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


@pytest.fixture
def normal():
    return Normal(loc=[0.0, -2.0, 5.0, 1e3], scale=[1.0, 0.3, 4.0, 20.0])


@pytest.fixture
def mixture():
    """Row 0 well separated, row 1 overlapping, row 2 with a zero-weight component."""
    return GaussianMixture(
        weights=[[0.3, 0.7, 0.0], [0.5, 0.25, 0.25], [0.6, 0.0, 0.4]],
        means=[[-5.0, 5.0, 0.0], [0.0, 0.5, -0.3], [1.0, 100.0, 2.0]],
        stds=[[1.0, 0.5, 1.0], [1.0, 2.0, 0.7], [0.2, 1.0, 3.0]],
    )


def _y_arguments(n_rows):
    """A scalar, one value per row and a grid of values per row."""
    rng = np.random.default_rng(0)
    return [
        (0.7, (n_rows,)),
        (rng.normal(0, 3, size=n_rows), (n_rows,)),
        (rng.normal(0, 3, size=(n_rows, 5)), (n_rows, 5)),
    ]


def _row_values(y, i):
    """The values of row ``i`` of a ``y`` argument, as a 1-D array."""
    y = np.asarray(y)
    return np.atleast_1d(y if y.ndim == 0 else y[i])


def _scipy_mixture(dist, i):
    """Row ``i`` as scipy.stats.Mixture, built independently of ``to_scipy``."""
    params = zip(dist.means[i], dist.stds[i], strict=True)
    components = [stats.Normal(mu=m, sigma=s) for m, s in params]
    return stats.Mixture(components, weights=dist.weights[i])


def _mixture_reference(dist, i, method):
    """Reference values for row ``i`` from scipy.stats.norm components, in log space."""
    w, m, s = dist.weights[i], dist.means[i], dist.stds[i]

    def log_combine(log_terms, y):
        with np.errstate(divide="ignore"):
            log_w = np.log(w)
        return special.logsumexp(log_terms(y[:, None], m, s) + log_w, axis=1)

    references = {
        "logpdf": lambda y: log_combine(stats.norm.logpdf, y),
        "pdf": lambda y: np.exp(log_combine(stats.norm.logpdf, y)),
        "cdf": lambda y: stats.norm.cdf(y[:, None], m, s) @ w,
        "logcdf": lambda y: log_combine(stats.norm.logcdf, y),
        "sf": lambda y: stats.norm.sf(y[:, None], m, s) @ w,
        "logsf": lambda y: log_combine(stats.norm.logsf, y),
    }
    return references[method]


# ------------------------------------------------------------------ Normal
@pytest.mark.parametrize("method", CONTINUOUS_METHODS)
def test_normal_methods_match_scipy_row_by_row(normal, method):
    n_rows = len(normal)
    for y, shape in _y_arguments(n_rows):
        values = getattr(normal, method)(y)
        assert values.shape == shape
        values = values.reshape(n_rows, -1)
        for i in range(n_rows):
            expected = getattr(stats.norm(normal.loc[i], normal.scale[i]), method)(
                _row_values(y, i)
            )
            np.testing.assert_allclose(values[i], expected, rtol=1e-12, atol=1e-300)


def test_normal_ppf_interval_and_moments_match_scipy(normal):
    q = np.array([[1e-12, 0.1, 0.5, 0.9, 1 - 1e-12]] * len(normal))
    for i in range(len(normal)):
        ref = stats.norm(normal.loc[i], normal.scale[i])
        np.testing.assert_allclose(normal.ppf(q)[i], ref.ppf(q[i]), rtol=1e-12)
        np.testing.assert_allclose(normal.ppf(0.25)[i], ref.ppf(0.25), rtol=1e-12)
        for got, expected in zip(normal.interval(0.9), ref.interval(0.9), strict=True):
            assert got[i] == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(normal.ppf(np.full(4, 0.975)), normal.loc + 1.959963984540054
                               * normal.scale, rtol=1e-12)
    np.testing.assert_array_equal(normal.mean(), normal.loc)
    np.testing.assert_allclose(normal.var(), normal.scale**2)
    np.testing.assert_allclose(normal.std(), normal.scale)


def test_normal_accepts_scalars_and_lists():
    dist = Normal(0.0, 2.0)
    assert len(dist) == 1 and dist.loc.shape == (1,)
    broadcast = Normal([0.0, 1.0, 2.0], 1.5)
    np.testing.assert_array_equal(broadcast.scale, [1.5, 1.5, 1.5])


# ----------------------------------------------------------------- mixture
@pytest.mark.parametrize("method", CONTINUOUS_METHODS)
def test_mixture_methods_match_scipy_components_row_by_row(mixture, method):
    n_rows = len(mixture)
    for y, shape in _y_arguments(n_rows):
        values = getattr(mixture, method)(y)
        assert values.shape == shape
        values = values.reshape(n_rows, -1)
        for i in range(n_rows):
            expected = _mixture_reference(mixture, i, method)(_row_values(y, i))
            np.testing.assert_allclose(values[i], expected, rtol=1e-10, atol=1e-300)


def test_mixture_matches_scipy_mixture(mixture):
    y = np.array([-1.0, 0.3, 2.5, 5.2])
    grid = np.tile(y, (len(mixture), 1))
    for i in range(len(mixture)):
        ref = _scipy_mixture(mixture, i)
        with np.errstate(divide="ignore"):  # scipy takes log(0) of a zero weight
            expected_logpdf = ref.logpdf(y)
        np.testing.assert_allclose(mixture.logpdf(grid)[i], expected_logpdf, rtol=1e-10)
        np.testing.assert_allclose(mixture.cdf(grid)[i], ref.cdf(y), rtol=1e-10)
        np.testing.assert_allclose(mixture.sf(grid)[i], ref.ccdf(y), rtol=1e-10)
        assert mixture.mean()[i] == pytest.approx(ref.mean(), rel=1e-12)
        assert mixture.var()[i] == pytest.approx(ref.variance(), rel=1e-12)


def _moments(pdf, mixture, i):
    """Mean and variance by quadrature, split at the component means."""
    points = np.sort(mixture.means[i])
    lo = points[0] - 50 * mixture.stds[i].max()
    hi = points[-1] + 50 * mixture.stds[i].max()
    kwargs = {"points": points, "limit": 400}
    mean = integrate.quad(lambda y: y * pdf(y), lo, hi, **kwargs)[0]
    var = integrate.quad(lambda y: (y - mean) ** 2 * pdf(y), lo, hi, **kwargs)[0]
    return mean, var


def test_mixture_moments_and_cdf_match_quadrature(mixture):
    for i in range(len(mixture)):
        row = mixture[i]

        def pdf(y, row=row):
            return float(row.pdf(y)[0])

        mean, var = _moments(pdf, mixture, i)
        assert mixture.mean()[i] == pytest.approx(mean, abs=1e-8)
        assert mixture.var()[i] == pytest.approx(var, rel=1e-8)
        for y in (-6.0, -0.2, 0.4, 5.3):
            lo = mixture.means[i].min() - 50 * mixture.stds[i].max()
            expected = integrate.quad(pdf, lo, y, points=[p for p in mixture.means[i]
                                                          if lo < p < y], limit=400)[0]
            assert mixture.cdf(y)[i] == pytest.approx(expected, rel=1e-8, abs=1e-14)


SEPARATED = GaussianMixture([[0.4, 0.6]], [[-30.0, 30.0]], [[1.0, 0.5]])
OVERLAPPING = GaussianMixture([[0.2, 0.5, 0.3]], [[0.0, 0.3, -0.2]], [[1.0, 0.4, 2.0]])


@pytest.mark.parametrize("dist", [SEPARATED, OVERLAPPING], ids=["separated", "overlapping"])
def test_mixture_ppf_and_cdf_are_inverse(dist):
    q = np.array([[1e-300, 1e-100, 1e-12, 1e-6, 0.01, 0.3, 0.4, 0.5, 0.77, 0.99, 1 - 1e-9]])
    x = dist.ppf(q)
    lower = q <= 0.5
    tail = np.where(lower, dist.cdf(x), dist.sf(x))
    np.testing.assert_allclose(tail, np.where(lower, q, 1 - q), rtol=1e-9)
    y = dist.sample(200, random_state=0)
    np.testing.assert_allclose(dist.ppf(dist.cdf(y)), y, rtol=1e-9, atol=1e-9)


def test_mixture_ppf_matches_scipy_mixture(mixture):
    q = np.array([0.01, 0.2, 0.5, 0.8, 0.99])
    x = mixture.ppf(np.tile(q, (len(mixture), 1)))
    for i in range(len(mixture)):
        np.testing.assert_allclose(x[i], _scipy_mixture(mixture, i).icdf(q), rtol=1e-8)


def test_mixture_ppf_is_vectorised_over_many_random_mixtures():
    rng = np.random.default_rng(3)
    n_rows, k = 300, 6
    weights = rng.dirichlet(np.full(k, 0.5), size=n_rows)
    means = rng.normal(size=(n_rows, k)) * 10.0 ** rng.uniform(-2, 3, size=(n_rows, 1))
    stds = 10.0 ** rng.uniform(-2, 1, size=(n_rows, k))
    dist = GaussianMixture(weights, means, stds)
    q = rng.uniform(size=(n_rows, 7))
    x = dist.ppf(q)
    assert x.shape == (n_rows, 7)
    # The exact quantile lies within 1e-11 relative of the returned one.
    delta = 1e-11 * (np.abs(x) + stds.min(axis=1, keepdims=True))
    assert np.all(dist.cdf(x - delta) <= q + 1e-14)
    assert np.all(dist.cdf(x + delta) >= q - 1e-14)


def test_ppf_edges_follow_scipy(mixture, normal):
    for dist in (mixture, normal):
        assert np.all(dist.ppf(0.0) == -np.inf) and np.all(dist.ppf(1.0) == np.inf)
        assert np.all(np.isnan(dist.ppf(1.5))) and np.all(np.isnan(dist.ppf(-0.1)))
        assert np.all(np.isnan(dist.ppf(np.nan)))
        q = np.array([[0.0, 0.5, 1.0]] * len(dist))
        assert np.all(np.isfinite(dist.ppf(q)[:, 1]))


@pytest.mark.parametrize("confidence", [0.0, 0.5, 0.9, 1.0])
def test_interval_is_equal_tailed(mixture, confidence):
    lower, upper = mixture.interval(confidence)
    assert lower.shape == upper.shape == (len(mixture),)
    np.testing.assert_allclose(mixture.cdf(lower), (1 - confidence) / 2, atol=1e-12)
    np.testing.assert_allclose(mixture.sf(upper), (1 - confidence) / 2, atol=1e-12)


@pytest.mark.parametrize("confidence", [-0.1, 1.5, "0.9", np.nan])
def test_interval_rejects_bad_confidence(normal, confidence):
    with pytest.raises(ValueError, match="confidence"):
        normal.interval(confidence)


# --------------------------------------------------------------- stability
def test_tails_are_finite_at_40_standard_deviations(mixture):
    far = np.concatenate([mixture.means - 40 * mixture.stds, mixture.means + 40 * mixture.stds],
                         axis=1)
    for method in ("logpdf", "logcdf", "logsf"):
        values = getattr(mixture, method)(far)
        assert np.all(np.isfinite(values)), method
    for method in ("pdf", "cdf", "sf"):
        assert not np.any(np.isnan(getattr(mixture, method)(far))), method
    # log-space tails agree with scipy's accurate log_ndtr for a single component
    single = GaussianMixture([[1.0]], [[2.0]], [[0.5]])
    np.testing.assert_allclose(single.logcdf(np.array([[2.0 - 20.0, 2.0 - 30.0]])),
                               [stats.norm.logcdf([-40.0, -60.0])], rtol=1e-12)
    np.testing.assert_allclose(single.logsf(np.array([[22.0]])), [[stats.norm.logsf(40.0)]],
                               rtol=1e-12)


def test_infinite_arguments_give_limits_without_warnings(mixture, normal):
    for dist in (mixture, normal):
        y = np.array([[-np.inf, np.inf]] * len(dist))
        np.testing.assert_array_equal(dist.logpdf(y), -np.inf)
        np.testing.assert_array_equal(dist.cdf(y), [[0.0, 1.0]] * len(dist))
        np.testing.assert_array_equal(dist.sf(y), [[1.0, 0.0]] * len(dist))
        np.testing.assert_array_equal(dist.logcdf(y)[:, 0], -np.inf)


def test_zero_weight_component_is_ignored():
    with_zero = GaussianMixture([[0.0, 0.3, 0.7]], [[50.0, -1.0, 2.0]], [[1e-3, 1.0, 0.5]])
    without = GaussianMixture([[0.3, 0.7]], [[-1.0, 2.0]], [[1.0, 0.5]])
    y = np.array([[-3.0, 0.0, 2.0, 50.0, 50.0005]])
    for method in CONTINUOUS_METHODS + ["ppf"]:
        argument = np.array([[0.01, 0.3, 0.5, 0.9, 0.999]]) if method == "ppf" else y
        np.testing.assert_allclose(getattr(with_zero, method)(argument),
                                   getattr(without, method)(argument), rtol=1e-10)
    np.testing.assert_allclose(with_zero.mean(), without.mean(), rtol=1e-12)
    np.testing.assert_allclose(with_zero.var(), without.var(), rtol=1e-12)
    assert not np.any(np.abs(with_zero.sample(5000, random_state=0) - 50.0) < 0.1)


def test_logsumexp_matches_scipy():
    rng = np.random.default_rng(0)
    a = rng.normal(scale=300, size=(50, 3, 7))
    a[0, 0] = -np.inf
    a[1, 2, :3] = -np.inf
    np.testing.assert_allclose(logsumexp_inplace(a.copy()), special.logsumexp(a, axis=-1),
                               rtol=1e-14)


def test_logpdf_of_a_million_rows_by_16_components_runs():
    rng = np.random.default_rng(0)
    n_rows, k = 1_000_000, 16
    dist = GaussianMixture(rng.dirichlet(np.ones(k), size=n_rows), rng.normal(size=(n_rows, k)),
                           rng.uniform(0.5, 2, size=(n_rows, k)))
    y = rng.normal(size=n_rows)
    values = dist.logpdf(y)
    assert values.shape == (n_rows,) and np.all(np.isfinite(values))
    for i in (0, n_rows - 1):
        expected = _mixture_reference(dist, i, "logpdf")(y[i : i + 1])
        np.testing.assert_allclose(values[i], expected[0], rtol=1e-12)


# ----------------------------------------------------------------- sampling
def test_sample_moments_and_interval_coverage(mixture):
    n_samples = 40000
    draws = mixture.sample(n_samples, random_state=0)
    assert draws.shape == (3, n_samples)
    se = mixture.std() / np.sqrt(n_samples)
    assert np.all(np.abs(draws.mean(axis=1) - mixture.mean()) < 5 * se)
    np.testing.assert_allclose(draws.var(axis=1), mixture.var(), rtol=0.03)
    lower, upper = mixture.interval(0.8)
    inside = ((draws >= lower[:, None]) & (draws <= upper[:, None])).mean(axis=1)
    np.testing.assert_allclose(inside, 0.8, atol=0.01)
    for i in range(len(mixture)):
        assert stats.kstest(draws[i], mixture[i].to_scipy(0).cdf).pvalue > 0.01


def test_normal_sample_moments(normal):
    draws = normal.sample(40000, random_state=1)
    assert draws.shape == (4, 40000)
    assert np.all(np.abs(draws.mean(axis=1) - normal.loc) < 5 * normal.scale / 200)
    np.testing.assert_allclose(draws.std(axis=1), normal.scale, rtol=0.02)


def test_default_sampler_inverts_uniforms_through_ppf():
    class PpfSampled(Normal):
        _sample = ContinuousDistribution._sample

    dist = PpfSampled([1.0, -2.0], [0.5, 3.0])
    draws = dist.sample(20000, random_state=0)
    for i in range(2):
        assert stats.kstest(draws[i], stats.norm(dist.loc[i], dist.scale[i]).cdf).pvalue > 0.01


@pytest.mark.parametrize(
    "make_dist",
    [
        lambda: Normal([0.0, 1.0], [1.0, 2.0]),
        lambda: GaussianMixture([[0.5, 0.5]] * 2, [[0.0, 3.0]] * 2, [[1.0, 0.5]] * 2),
        lambda: Categorical([[0.2, 0.8], [0.5, 0.5]], classes=["a", "b"]),
    ],
)
def test_sample_random_state_handling(make_dist):
    dist = make_dist()
    assert dist.sample(random_state=0).shape == (2, 1)
    np.testing.assert_array_equal(dist.sample(7, random_state=3), dist.sample(7, random_state=3))
    np.testing.assert_array_equal(dist.sample(7, random_state=np.random.RandomState(3)),
                                  dist.sample(7, random_state=3))
    np.testing.assert_array_equal(dist.sample(7, random_state=np.random.default_rng(5)),
                                  dist.sample(7, random_state=np.random.default_rng(5)))
    rng = np.random.default_rng(5)
    assert not np.array_equal(dist.sample(50, random_state=rng), dist.sample(50, random_state=rng))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_samples"):
            dist.sample(bad)


def test_sample_index_frequencies_and_zero_probabilities():
    probs = np.array([[0.0, 0.2, 0.0, 0.8], [0.5, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0]])
    index = sample_index(probs, 20000, np.random.default_rng(0))
    counts = np.stack([(index == k).mean(axis=1) for k in range(4)], axis=1)
    np.testing.assert_allclose(counts, probs, atol=0.015)
    assert np.all(counts[probs == 0] == 0)


class _ConstantUniform:
    """A stand-in random generator whose uniforms all equal ``value``."""

    def __init__(self, value):
        self.value = value

    def random(self, size):
        return np.full(size, self.value)


@pytest.mark.parametrize(
    "weights, uniform, expected",
    [
        # the cumulative sum of ten 0.1 ends just below 1
        ([0.1] * 10 + [0.0], np.nextafter(1.0, 0.0), 9),
        ([0.0, 0.5, 0.5], 0.0, 1),
        ([0.5, 0.0, 0.5], 0.5, 2),
    ],
)
def test_sample_index_never_draws_a_zero_weight_category(weights, uniform, expected):
    index = sample_index(np.array([weights]), 3, _ConstantUniform(uniform))
    np.testing.assert_array_equal(index, [[expected] * 3])


# ----------------------------------------------------------------- slicing
@pytest.mark.parametrize(
    "key, rows",
    [
        (1, [1]),
        (-1, [2]),
        (slice(1, None), [1, 2]),
        (slice(None, None, -1), [2, 1, 0]),
        (np.array([True, False, True]), [0, 2]),
        (np.array([False, False, False]), []),
        ([2, 0], [2, 0]),
        (np.array([0, 0, -1]), [0, 0, 2]),
    ],
)
def test_indexing_returns_the_selected_rows(mixture, normal, key, rows):
    part = mixture[key]
    assert isinstance(part, GaussianMixture) and len(part) == len(rows)
    for name in ("weights", "means", "stds"):
        assert getattr(part, name).shape == (len(rows), 3)
        np.testing.assert_array_equal(getattr(part, name), getattr(mixture, name)[rows])
    part_normal = Normal(normal.loc[:3], normal.scale[:3])[key]
    np.testing.assert_array_equal(part_normal.loc, normal.loc[:3][rows])
    np.testing.assert_array_equal(part.logpdf(0.3), mixture.logpdf(0.3)[rows])


def test_indexing_rejects_bad_keys(mixture):
    for key in (3, -4, np.array([True, False]), np.array([0, 3]), np.array([0.5]),
                np.zeros((1, 1), dtype=int), "a"):
        with pytest.raises(IndexError):
            mixture[key]


def test_len_repr_and_pickle(mixture, normal):
    assert len(mixture) == 3 and len(normal) == 4
    assert repr(mixture) == "GaussianMixture(n=3)" and repr(normal) == "Normal(n=4)"
    assert mixture.n_components == 3
    restored = pickle.loads(pickle.dumps(mixture))
    np.testing.assert_array_equal(restored.logpdf(0.3), mixture.logpdf(0.3))
    assert isinstance(mixture, BaseDistribution)


def test_to_scipy_agrees_with_the_batch(mixture, normal):
    y = np.array([-2.0, 0.1, 1.7])
    q = np.array([0.05, 0.5, 0.95])
    for dist in (normal, mixture):
        for i in (0, len(dist) - 1, -1):
            ref = dist.to_scipy(i)
            row = dist[i]
            with np.errstate(divide="ignore"):  # scipy takes log(0) of a zero weight
                expected_logpdf = ref.logpdf(y)
            np.testing.assert_allclose(row.logpdf(y[None, :])[0], expected_logpdf, rtol=1e-10)
            np.testing.assert_allclose(row.cdf(y[None, :])[0], ref.cdf(y), rtol=1e-10)
            ppf = ref.ppf(q) if isinstance(dist, Normal) else ref.icdf(q)
            np.testing.assert_allclose(row.ppf(q[None, :])[0], ppf, rtol=1e-8)
    assert isinstance(normal.to_scipy(0).dist, type(stats.norm))
    assert isinstance(mixture.to_scipy(0), stats.Mixture)
    with pytest.raises(IndexError):
        normal.to_scipy(10)
    with pytest.raises(IndexError):
        normal.to_scipy(slice(0, 1))


# -------------------------------------------------------- argument shapes
@pytest.mark.parametrize("method", CONTINUOUS_METHODS + ["ppf"])
def test_wrong_argument_shapes_raise(mixture, normal, method):
    for dist in (mixture, normal):
        n_rows = len(dist)
        for bad in (np.zeros(n_rows + 1), np.zeros((n_rows + 1, 2)), np.zeros((n_rows, 2, 2))):
            with pytest.raises(ValueError, match="shape"):
                getattr(dist, method)(bad)


# ------------------------------------------------------------------ affine
@pytest.mark.parametrize("shift, scale", [(3.0, 2.0), (np.array([1.0, -2.0, 0.5]),
                                                       np.array([0.1, 3.0, 1e3]))])
def test_affine_includes_the_jacobian(mixture, shift, scale):
    normal = Normal([0.0, 1.0, -1.0], [1.0, 0.5, 2.0])
    y = np.array([[0.1, -1.0], [2.0, 0.0], [-0.3, 4.0]])
    shift_col = np.broadcast_to(shift, 3)[:, None]
    scale_col = np.broadcast_to(scale, 3)[:, None]
    for dist in (mixture, normal):
        moved = dist.affine(shift, scale)
        assert type(moved) is type(dist)
        z = shift_col + scale_col * y
        np.testing.assert_allclose(moved.logpdf(z), dist.logpdf(y) - np.log(scale_col),
                                   rtol=1e-12)
        np.testing.assert_allclose(moved.cdf(z), dist.cdf(y), rtol=1e-12)
        np.testing.assert_allclose(moved.mean(), shift_col[:, 0] + scale_col[:, 0] * dist.mean())
        np.testing.assert_allclose(moved.std(), scale_col[:, 0] * dist.std())
        np.testing.assert_allclose(moved.ppf(0.3), shift_col[:, 0] + scale_col[:, 0]
                                   * dist.ppf(0.3), rtol=1e-10)


@pytest.mark.parametrize("shift, scale", [(0.0, 0.0), (0.0, -1.0), (np.nan, 1.0),
                                          (0.0, np.inf), (np.zeros(4), 1.0),
                                          (0.0, np.ones((3, 1)))])
def test_affine_rejects_bad_arguments(mixture, shift, scale):
    with pytest.raises(ValueError):
        mixture.affine(shift, scale)


# ------------------------------------------------------- constructor input
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weights": [[0.5, 0.6]], "means": [[0.0, 1.0]], "stds": [[1.0, 1.0]]}, "sum"),
        ({"weights": [[0.5, 0.5]], "means": [[0.0, 1.0]], "stds": [[1.0, 0.0]]}, "positive"),
        ({"weights": [[0.5, 0.5]], "means": [[0.0, 1.0]], "stds": [[1.0, -2.0]]}, "positive"),
        ({"weights": [[0.5, 0.5]], "means": [[0.0, 1.0]], "stds": [[1.0, np.inf]]}, "finite"),
        ({"weights": [[0.5, 0.5]], "means": [[0.0, np.nan]], "stds": [[1.0, 1.0]]}, "finite"),
        ({"weights": [[np.nan, 1.0]], "means": [[0.0, 1.0]], "stds": [[1.0, 1.0]]}, "finite"),
        ({"weights": [[1.0]], "means": [[0.0, 1.0]], "stds": [[1.0, 1.0]]}, "shape"),
        ({"weights": [[-0.5, 1.5]], "means": [[0.0, 1.0]], "stds": [[1.0, 1.0]]}, "negative"),
        ({"weights": [0.5, 0.5], "means": [0.0, 1.0], "stds": [1.0, 1.0]}, "2-D"),
        ({"weights": np.ones((2, 0)), "means": np.ones((2, 0)), "stds": np.ones((2, 0))},
         "component"),
        ({"weights": [["a", "b"]], "means": [[0.0, 1.0]], "stds": [[1.0, 1.0]]}, "numeric"),
    ],
)
def test_mixture_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**kwargs)


@pytest.mark.parametrize(
    "loc, scale, match",
    [
        ([0.0, 1.0], [1.0, 0.0], "positive"),
        ([0.0, 1.0], [1.0, -1.0], "positive"),
        ([0.0, np.nan], [1.0, 1.0], "finite"),
        ([0.0, 1.0], [1.0, np.inf], "finite"),
        ([0.0, 1.0, 2.0], [1.0, 1.0], "length"),
        ([[0.0, 1.0]], [1.0, 1.0], "1-D"),
    ],
)
def test_normal_rejects_bad_parameters(loc, scale, match):
    with pytest.raises(ValueError, match=match):
        Normal(loc, scale)


def test_weights_within_tolerance_are_renormalised():
    dist = GaussianMixture([[0.3, 0.70005]], [[0.0, 1.0]], [[1.0, 1.0]])
    assert dist.weights.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(dist.weights, [[0.3, 0.70005]] / np.float64(1.00005))
    cat = Categorical([[0.49999, 0.5]])
    assert cat.probs.sum() == pytest.approx(1.0, abs=1e-15)


# ------------------------------------------------------------- categorical
@pytest.fixture
def categorical():
    probs = np.array([[0.2, 0.5, 0.3], [0.0, 1.0, 0.0], [0.6, 0.1, 0.3]])
    return Categorical(probs, classes=np.array(["c", "a", "b"]))


def test_categorical_pmf_mode_entropy(categorical):
    probs = categorical.probs
    np.testing.assert_allclose(categorical.pmf(["b", "a", "c"]), [0.3, 1.0, 0.6])
    np.testing.assert_allclose(categorical.pmf("a"), probs[:, 1])
    grid = np.array([["c", "a", "b"]] * 3)
    np.testing.assert_allclose(categorical.pmf(grid), probs)
    np.testing.assert_allclose(categorical.logpmf(grid[:, :2])[0], np.log([0.2, 0.5]))
    assert categorical.logpmf("c")[1] == -np.inf
    np.testing.assert_array_equal(categorical.mode(), ["a", "a", "c"])
    np.testing.assert_allclose(categorical.entropy(), [stats.entropy(p) for p in probs])
    assert categorical.n_classes == 3 and len(categorical) == 3
    assert repr(categorical) == "Categorical(n=3)"


def test_categorical_default_classes_and_numeric_labels():
    dist = Categorical([[0.1, 0.9], [0.7, 0.3]])
    np.testing.assert_array_equal(dist.classes, [0, 1])
    np.testing.assert_allclose(dist.pmf([1, 0]), [0.9, 0.7])
    np.testing.assert_allclose(dist.pmf(np.array([1.0, 0.0])), [0.9, 0.7])
    np.testing.assert_array_equal(dist.mode(), [1, 0])


def test_categorical_rejects_unknown_labels(categorical):
    with pytest.raises(ValueError, match="not among the classes"):
        categorical.pmf(["z", "a", "a"])
    with pytest.raises(ValueError):
        categorical.logpmf([1, 2, 3])
    with pytest.raises(ValueError, match="not among the classes"):
        Categorical([[0.5, 0.5]]).pmf([np.nan])
    with pytest.raises(ValueError, match="shape"):
        categorical.pmf(["a", "b"])


def test_categorical_sampling_and_scipy(categorical):
    draws = categorical.sample(20000, random_state=0)
    assert draws.shape == (3, 20000)
    freq = np.stack([(draws == c).mean(axis=1) for c in categorical.classes], axis=1)
    np.testing.assert_allclose(freq, categorical.probs, atol=0.015)
    assert np.all(draws[1] == "a")
    for i in range(3):
        ref = categorical.to_scipy(i)
        np.testing.assert_allclose(ref.pmf(np.arange(3)), categorical.probs[i])
        assert categorical.classes[int(ref.ppf(0.999))] == categorical.classes[
            np.flatnonzero(categorical.probs[i])[-1]]


def test_categorical_slicing_keeps_classes(categorical):
    part = categorical[np.array([False, True, True])]
    assert isinstance(part, Categorical) and len(part) == 2
    np.testing.assert_array_equal(part.classes, categorical.classes)
    np.testing.assert_array_equal(part.probs, categorical.probs[1:])
    np.testing.assert_array_equal(categorical[0].mode(), ["a"])


@pytest.mark.parametrize(
    "probs, classes, match",
    [
        ([[0.2, 0.2]], None, "sum"),
        ([[-0.2, 1.2]], None, "negative"),
        ([[0.5, np.nan]], None, "finite"),
        ([0.5, 0.5], None, "2-D"),
        ([[0.5, 0.5]], ["a", "b", "c"], "labels"),
        ([[0.5, 0.5]], ["a", "a"], "duplicate"),
        (np.ones((1, 0)), None, "column"),
    ],
)
def test_categorical_rejects_bad_parameters(probs, classes, match):
    with pytest.raises(ValueError, match=match):
        Categorical(probs, classes=classes)


# ------------------------------------------------ special values and scales
def _every_continuous_distribution():
    from skprob.distributions import GridDistribution, TransformedDistribution
    from skprob.distributions._transformed import TRANSFORMS

    return {
        "normal": Normal([0.0], [1.0]),
        "mixture": GaussianMixture([[0.3, 0.7]], [[-1.0, 2.0]], [[1.0, 0.5]]),
        "grid": GridDistribution(np.linspace(-1.0, 1.0, 3), [[0.0, 1.0, 0.0]]),
        "lognormal": TransformedDistribution(Normal([0.0], [1.0]), TRANSFORMS["log"]),
    }


@pytest.mark.parametrize("name", sorted(_every_continuous_distribution()))
@pytest.mark.parametrize("method", [*CONTINUOUS_METHODS, "ppf"])
def test_nan_in_gives_nan_out(name, method):
    dist = _every_continuous_distribution()[name]
    out = getattr(dist, method)([[np.nan, 0.5]])
    assert np.isnan(out[0, 0]) and np.isfinite(out[0, 1])


@pytest.mark.parametrize("name", sorted(_every_continuous_distribution()))
def test_ppf_edges_and_outside_values_follow_scipy(name):
    dist = _every_continuous_distribution()[name]
    low, high = dist.ppf([[0.0, 1.0]])[0]
    assert low < high and np.all(np.isnan(dist.ppf([[-0.1, 1.1]])))
    if name in ("normal", "mixture"):
        assert (low, high) == (-np.inf, np.inf)


# Quantiles of scale 1e307 overflowed the mixture's +-40 std bracket (NaN); a
# component of scale 1e-300 beside one of scale 1 stopped bisection 1e-60 away
# from a quantile of 1e-300.
@pytest.mark.parametrize("loc, scale", [(0.0, 1e307), (1e308, 1e307), (-1e308, 1e308),
                                        (0.0, 1e-300), (0.0, 1e-310), (1e308, 1e-300)])
def test_huge_and_tiny_scales(loc, scale):
    normal = Normal(loc, scale)
    twins = GaussianMixture([[0.5, 0.5]], [[loc, loc]], [[scale, scale]])
    y = np.array([[np.inf, -np.inf, 0.0, 1e308, -1e308, 1e-310, 3.0, -5e307]])
    q = np.array([[0.0, 1.0, 1e-300, 0.3, 0.5, 1 - 1e-16]])
    for method in CONTINUOUS_METHODS:
        np.testing.assert_allclose(getattr(twins, method)(y), getattr(normal, method)(y),
                                   rtol=1e-12, err_msg=method)
    np.testing.assert_allclose(twins.ppf(q), normal.ppf(q), rtol=1e-12)
    np.testing.assert_allclose(normal.ppf(0.3), loc + scale * special.ndtri(0.3), rtol=1e-15)
    assert normal.std()[0] == scale and twins.std()[0] == pytest.approx(scale, rel=1e-15)


def test_ppf_of_a_mixture_with_scales_far_apart():
    mixture = GaussianMixture([[0.5, 0.5]], [[0.0, 1.0]], [[1e-300, 1.0]])
    q = np.array([[0.2, 0.3, 0.5, 0.7]])
    # cdf(x) = (ndtr(x / 1e-300) + ndtr(x - 1)) / 2, and x - 1 = -1 where x ~ 1e-300
    tiny = 1e-300 * special.ndtri(2 * q[0, :3] - special.ndtr(-1.0))
    expected = np.r_[tiny, 1.0 + special.ndtri(2 * 0.7 - 1.0)]
    np.testing.assert_allclose(mixture.ppf(q)[0], expected, rtol=1e-9)


def test_mixture_logcdf_and_logsf_near_zero_keep_their_precision():
    mixture = GaussianMixture([[0.5, 0.5]], [[0.0, 0.0]], [[1.0, 1.0]])
    np.testing.assert_allclose(mixture.logcdf(10.0), special.log_ndtr(10.0), rtol=1e-12)
    np.testing.assert_allclose(mixture.logsf(-10.0), special.log_ndtr(10.0), rtol=1e-12)


# ------------------------------------------------------------ sample sizes
def test_sample_draws_in_chunks_into_one_array(mixture, monkeypatch):
    monkeypatch.setattr("skprob.distributions._sampling.SAMPLE_CHUNK_VALUES", 8)
    big = mixture[np.repeat(np.arange(3), 10)]
    draws = big.sample(4, random_state=0)  # two rows per chunk
    assert draws.shape == (30, 4) and draws.flags.c_contiguous
    labels = Categorical([[0.5, 0.5]] * 30, classes=["a", "b"]).sample(4, random_state=0)
    assert labels.shape == (30, 4) and set(labels.ravel()) == {"a", "b"}


def test_sample_refuses_outputs_above_the_limit(normal):
    big = Normal(np.zeros(10**6), 1.0)
    with pytest.raises(ValueError, match=r"sample would return 1000000 x 1000 = 1e\+09 values"):
        big.sample(1000)


def test_mixture_transforms_reuse_the_checked_weights_and_check_the_components():
    from skprob._scale_calibration import widen

    dist = GaussianMixture(weights=[[0.25, 0.75]], means=[[0.0, 1.0]], stds=[[1.0, 2.0]])
    moved = dist.affine(1.0, 2.0)
    assert moved.weights is dist.weights  # normalised once, at construction
    np.testing.assert_array_equal(moved.means, [[1.0, 3.0]])
    np.testing.assert_array_equal(moved.stds, [[2.0, 4.0]])
    assert widen(dist, 0.5).weights is dist.weights
    # The components are still checked: a shift that overflows is refused.
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="means must be finite"):
        GaussianMixture([[1.0]], [[1e300]], [[1.0]]).affine(0.0, 1e10)
    with pytest.raises(ValueError, match="weights' shape"):
        dist._with_components(np.zeros((1, 3)), np.ones((1, 3)))
