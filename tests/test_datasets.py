import pickle

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import quad

from skprob.datasets import (
    cluster_mass_prior,
    make_bimodal,
    make_galaxy_clusters,
    make_heteroscedastic,
)
from skprob.distributions import GaussianMixture, Normal

TOY_GENERATORS = [make_heteroscedastic, make_bimodal]
ALL_GENERATORS = [*TOY_GENERATORS, make_galaxy_clusters]
N_FEATURES = {make_heteroscedastic: 1, make_bimodal: 1, make_galaxy_clusters: 14}


@pytest.mark.parametrize("generator", ALL_GENERATORS)
def test_shapes_and_dtypes(generator):
    X, y = generator(123, random_state=0)
    assert X.shape == (123, N_FEATURES[generator])
    assert y.shape == (123,)
    assert X.dtype == np.float64
    assert y.dtype == np.float64
    assert np.all(np.isfinite(X))
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("generator", ALL_GENERATORS)
def test_determinism(generator):
    X1, y1 = generator(200, random_state=3)
    X2, y2 = generator(200, random_state=3)
    X3, y3 = generator(200, random_state=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    assert not np.array_equal(y1, y3)


def test_random_state_instance_is_advanced():
    rng = np.random.RandomState(0)
    _, y1 = make_heteroscedastic(50, random_state=rng)
    _, y2 = make_heteroscedastic(50, random_state=rng)
    assert not np.array_equal(y1, y2)


@pytest.mark.parametrize(
    ("generator", "dist_type"), [(make_heteroscedastic, Normal), (make_bimodal, GaussianMixture)]
)
def test_return_distribution_matches_data(generator, dist_type):
    X, y = generator(300, random_state=5)
    X_d, y_d, dist = generator(300, random_state=5, return_distribution=True)
    np.testing.assert_array_equal(X, X_d)
    np.testing.assert_array_equal(y, y_d)
    assert isinstance(dist, dist_type)
    assert len(dist) == 300


def test_heteroscedastic_standardised_residuals_are_standard_normal():
    X, y, dist = make_heteroscedastic(4000, random_state=0, return_distribution=True)
    z = (y - dist.mean()) / dist.std()
    assert stats.kstest(z, "norm").pvalue > 0.01
    # The truth is the TFP toy: the mean is the wiggly line, not something fitted.
    x = X[:, 0]
    np.testing.assert_allclose(dist.mean(), 0.125 * x * (1 + np.sin(x)) + 5)
    assert x.min() >= -20 and x.max() <= 60


def test_heteroscedastic_noise_grows_with_x():
    X, y, dist = make_heteroscedastic(4000, random_state=1, return_distribution=True)
    x = X[:, 0]
    assert stats.spearmanr(x, dist.std()).statistic > 0.99
    residual = np.abs(y - dist.mean())
    left, right = residual[x < 0].mean(), residual[x > 40].mean()
    assert right > 3 * left
    np.testing.assert_allclose(dist.std().min(), 0.75, atol=0.01)
    np.testing.assert_allclose(dist.std().max(), 3.75, atol=0.05)


def test_heteroscedastic_logpdf_matches_negative_entropy():
    _, y, dist = make_heteroscedastic(20000, random_state=2, return_distribution=True)
    expected = -np.mean(0.5 * np.log(2 * np.pi * np.e * dist.var()))
    assert np.mean(dist.logpdf(y)) == pytest.approx(expected, abs=0.03)


def test_bimodal_pit_is_uniform():
    X, y, dist = make_bimodal(4000, random_state=0, return_distribution=True)
    pit = dist.cdf(y)
    assert stats.kstest(pit, "uniform").pvalue > 0.01
    # Conditionally too: the branch weights depend on x, and a sampler that ignored
    # that would still look calibrated on the pooled data.
    for half in (X[:, 0] < 0, X[:, 0] >= 0):
        assert stats.kstest(pit[half], "uniform").pvalue > 0.01


def test_bimodal_has_two_populated_branches():
    X, y, dist = make_bimodal(4000, random_state=1, return_distribution=True)
    upper = np.abs(y - dist.means[:, 0]) < np.abs(y - dist.means[:, 1])
    assert 0.4 < upper.mean() < 0.6
    x = X[:, 0]
    assert upper[x > 1].mean() > upper[x < -1].mean() + 0.15
    assert np.all(dist.means[:, 0] > dist.means[:, 1])


def test_bimodal_middle_is_empty():
    X, y, dist = make_bimodal(2000, random_state=2, return_distribution=True)
    at_mean = dist.pdf(dist.mean())
    at_branches = dist.pdf(dist.means)
    assert at_branches.shape == (2000, 2)
    assert np.all(at_mean < 0.01 * at_branches.min(axis=1))
    # Hardly any observation falls near the conditional mean.
    near_mean = np.abs(y - dist.mean()) < 0.25
    assert near_mean.mean() < 0.005


def test_galaxy_clusters_mass_range_and_features():
    X, y = make_galaxy_clusters(2000, log_mass_range=(14.2, 15.3), random_state=0)
    assert X.shape == (2000, 14)
    assert y.min() >= 14.2 and y.max() <= 15.3
    histogram = X[:, :10]
    assert np.all(histogram >= 0)
    np.testing.assert_allclose(histogram.sum(axis=1), 1.0)
    assert np.all(X[:, 10] >= 1.0)  # at least 10 galaxies
    assert np.all((X[:, 12] > 0) & (X[:, 12] < 1))
    assert np.all((X[:, 13] > 0) & (X[:, 13] < 1))


def test_galaxy_clusters_dispersion_and_richness_grow_with_mass():
    X, y = make_galaxy_clusters(2000, random_state=1)
    assert stats.spearmanr(y, X[:, 11]).statistic > 0.7
    assert stats.spearmanr(y, X[:, 10]).statistic > 0.7


def test_galaxy_clusters_dispersion_follows_evrard_without_interlopers():
    # Below 10^14.7 the dispersion (< 900 km/s) is far inside the 2500 km/s window,
    # so without interlopers the measured dispersion follows Evrard et al. (2008).
    X, y = make_galaxy_clusters(
        3000, log_mass_range=(14.0, 14.7), interloper_fraction=0.0, random_state=2
    )
    slope, intercept = np.polyfit(y, X[:, 11], 1)
    assert slope == pytest.approx(0.3361, abs=0.02)
    e_z = np.sqrt(0.3 * 1.117**3 + 0.7)
    expected_at_14 = np.log10(1082.9 * (e_z * 0.1) ** 0.3361)
    assert intercept + 14 * slope == pytest.approx(expected_at_14, abs=0.01)


def test_velocity_window_truncates_massive_clusters():
    X, y = make_galaxy_clusters(
        2000, log_mass_range=(15.3, 15.5), interloper_fraction=0.0, random_state=3
    )
    e_z = np.sqrt(0.3 * 1.117**3 + 0.7)
    sigma_dm = 1082.9 * (e_z * 10 ** (y - 15)) ** 0.3361
    assert np.all(10 ** X[:, 11] < 2500)
    assert np.mean(X[:, 11] - np.log10(sigma_dm)) < -0.04


def test_interlopers_inflate_dispersion_and_flatten_histogram():
    kwargs = {"log_mass_range": (14.0, 14.5), "random_state": 3}
    X_clean, _ = make_galaxy_clusters(1000, interloper_fraction=0.0, **kwargs)
    X_dirty, _ = make_galaxy_clusters(1000, interloper_fraction=0.3, **kwargs)
    assert np.mean(X_dirty[:, 11] - X_clean[:, 11]) > 0.1
    tail_clean, tail_dirty = X_clean[:, 6:10].sum(axis=1), X_dirty[:, 6:10].sum(axis=1)
    assert tail_dirty.mean() > 5 * tail_clean.mean()
    # Interlopers are spread uniformly in area, members are concentrated.
    assert X_dirty[:, 12].mean() > X_clean[:, 12].mean() + 0.02


def test_halo_mass_function_prefers_low_masses():
    _, y_flat = make_galaxy_clusters(2000, mass_prior="flat", random_state=4)
    _, y_hmf = make_galaxy_clusters(2000, mass_prior="halo_mass_function", random_state=4)
    assert np.median(y_hmf) < np.median(y_flat) - 0.4
    assert np.mean(y_hmf < 14.5) > 5 * np.mean(y_hmf > 15.0)
    assert np.mean(y_flat < 14.5) == pytest.approx(1 / 3, abs=0.05)


def test_galaxy_clusters_sample_from_cluster_mass_prior():
    prior = cluster_mass_prior("halo_mass_function", (14.0, 15.5))
    _, y = make_galaxy_clusters(2000, mass_prior="halo_mass_function", random_state=5)
    assert stats.kstest(y, prior.cdf).pvalue > 0.01
    # The first draws of the generator are exactly the prior's inverse-cdf samples.
    np.testing.assert_array_equal(y, prior.rvs(size=2000, random_state=5))


@pytest.mark.parametrize(
    "mass_prior", ["flat", "halo_mass_function", stats.norm(14.5, 0.3), lambda m: np.exp(-m)]
)
def test_cluster_mass_prior_is_normalised_and_consistent(mass_prior):
    low, high = 14.0, 15.5
    prior = cluster_mass_prior(mass_prior, (low, high))
    total, _ = quad(prior.pdf, low, high, points=[14.5, 15.0])
    assert total == pytest.approx(1.0, abs=1e-6)
    assert prior.pdf(low - 0.1) == 0 and prior.pdf(high + 0.1) == 0
    grid = np.linspace(low, high, 7)
    cdf_by_quad = [quad(prior.pdf, low, m)[0] for m in grid]
    np.testing.assert_allclose(prior.cdf(grid), cdf_by_quad, atol=1e-6)
    np.testing.assert_allclose(prior.ppf(prior.cdf(grid[1:-1])), grid[1:-1], atol=1e-6)
    sample = prior.rvs(size=3000, random_state=0)
    assert sample.min() >= low and sample.max() <= high
    assert stats.kstest(sample, prior.cdf).pvalue > 0.01


def test_cluster_mass_prior_truncates_scipy_distribution():
    base = stats.norm(14.5, 0.3)
    prior = cluster_mass_prior(base, (14.0, 15.5))
    mass = base.cdf(15.5) - base.cdf(14.0)
    np.testing.assert_allclose(prior.pdf([14.2, 14.9]), base.pdf([14.2, 14.9]) / mass)


def test_cluster_mass_prior_shapes_and_pickle():
    prior = cluster_mass_prior("halo_mass_function")
    flat = cluster_mass_prior("flat", (13.5, 15.0))
    assert flat.pdf(14.0) == pytest.approx(1 / 1.5)
    assert flat.support() == (13.5, 15.0)
    assert prior.rvs(size=(4, 3), random_state=0).shape == (4, 3)
    assert prior.pdf(14.0) > 100 * prior.pdf(15.0)
    restored = pickle.loads(pickle.dumps(prior))
    grid = np.linspace(14.0, 15.5, 11)
    np.testing.assert_array_equal(restored.pdf(grid), prior.pdf(grid))
    np.testing.assert_array_equal(restored.cdf(grid), prior.cdf(grid))


@pytest.mark.parametrize("generator", ALL_GENERATORS)
@pytest.mark.parametrize("n_samples", [0, -3, 2.5])
def test_bad_n_samples(generator, n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        generator(n_samples)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mass_prior": "press_schechter"}, "mass_prior"),
        ({"mass_prior": 3.0}, "mass_prior"),
        ({"log_mass_range": (15.5, 14.0)}, "low < high"),
        ({"log_mass_range": (14.0, 14.0)}, "low < high"),
        ({"log_mass_range": (14.0, np.inf)}, "finite"),
        ({"log_mass_range": (14.0, 15.0, 16.0)}, "pair"),
        ({"interloper_fraction": 1.0}, "interloper_fraction"),
        ({"interloper_fraction": -0.1}, "interloper_fraction"),
        ({"redshift": -0.5}, "redshift"),
        ({"mass_prior": lambda m: -np.ones_like(m)}, "non-negative"),
        ({"mass_prior": lambda m: np.zeros_like(m)}, "integrates to zero"),
        ({"mass_prior": lambda m: 1.0}, "same shape"),
    ],
)
def test_galaxy_clusters_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_galaxy_clusters(10, random_state=0, **kwargs)


def test_cluster_mass_prior_bad_arguments():
    with pytest.raises(ValueError, match="mass_prior"):
        cluster_mass_prior("schechter")
    with pytest.raises(ValueError, match="low < high"):
        cluster_mass_prior("flat", (15.0, 14.0))


@pytest.mark.parametrize("generator", TOY_GENERATORS)
def test_toy_bad_return_distribution(generator):
    with pytest.raises(ValueError, match="return_distribution"):
        generator(10, return_distribution="yes")
