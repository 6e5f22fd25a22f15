import numpy as np
import pytest
from scipy import stats
from sklearn.model_selection import cross_val_score

from skprob import MixtureDensityRegressor
from skprob.compose import TransformedTargetRegressor
from skprob.distributions import (
    GaussianMixture,
    GridDistribution,
    Normal,
    TransformedDistribution,
)
from skprob.distributions._transformed import TRANSFORMS
from skprob.metrics import neg_nll_scorer, negative_log_likelihood


def test_transformed_normal_is_scipy_lognormal():
    mu, sigma = np.array([0.0, 1.0, -0.5]), np.array([1.0, 0.3, 0.7])
    dist = TransformedDistribution(Normal(mu, sigma), TRANSFORMS["log"])
    ref = stats.lognorm(s=sigma, scale=np.exp(mu))
    y = np.array([0.5, 2.7, 0.9])
    np.testing.assert_allclose(dist.logpdf(y), ref.logpdf(y), rtol=1e-12)
    np.testing.assert_allclose(dist.cdf(y), ref.cdf(y), rtol=1e-12)
    np.testing.assert_allclose(dist.ppf(0.2), ref.ppf(0.2), rtol=1e-10)
    np.testing.assert_allclose(dist.mean(), ref.mean(), rtol=2e-3)
    np.testing.assert_allclose(dist.std(), ref.std(), rtol=2e-2)
    assert np.all(dist.logpdf(-1.0) == -np.inf) and np.all(dist.cdf(-1.0) == 0.0)
    assert dist[1:].ppf(0.5).shape == (2,)
    assert np.all(dist.sample(5, random_state=0) > 0)


def test_transformed_tails_match_scipy_inside_and_outside_the_domain():
    mu, sigma = np.array([0.0, 1.0, -0.5]), np.array([1.0, 0.3, 0.7])
    dist = TransformedDistribution(Normal(mu, sigma), TRANSFORMS["log"])
    ref = stats.lognorm(s=sigma, scale=np.exp(mu))
    y = np.array([1e-6, 2.7, 1e4])  # deep left tail, body, far right tail (sf ~ 1e-160)
    np.testing.assert_allclose(dist.logcdf(y), ref.logcdf(y), rtol=1e-10)
    np.testing.assert_allclose(dist.sf(y), ref.sf(y), rtol=1e-10)
    np.testing.assert_allclose(dist.logsf(y), ref.logsf(y), rtol=1e-10)
    below = np.array([-1.0, 0.0, -5.0])  # at or below the log's domain (0, inf)
    assert np.all(dist.logcdf(below) == -np.inf) and np.all(dist.logsf(below) == 0.0)
    assert np.all(dist.sf(below) == 1.0)
    with pytest.raises(ValueError, match="affine"):
        dist.affine(1.0, 2.0)


def test_moments_of_a_non_gaussian_base_come_from_its_quantiles():
    # A tabulated base has no Gauss-Hermite rule: the mean is the integral of ppf.
    z = np.linspace(-8, 8, 4001)
    base = GridDistribution(z, stats.norm.pdf(z, loc=[[0.5], [1.0]], scale=[[0.4], [0.2]]))
    dist = TransformedDistribution(base, TRANSFORMS["log"])
    ref = stats.lognorm(s=[0.4, 0.2], scale=np.exp([0.5, 1.0]))
    np.testing.assert_allclose(dist.mean(), ref.mean(), rtol=2e-3)
    np.testing.assert_allclose(dist.std(), ref.std(), rtol=2e-2)


def test_log10_and_log1p_jacobians_integrate_to_one():
    base = GaussianMixture([[0.4, 0.6]], [[0.0, 1.0]], [[0.5, 0.3]])
    for name in ("log10", "log1p"):
        dist = TransformedDistribution(base, TRANSFORMS[name])
        lo, hi = dist.ppf(1e-9)[0], dist.ppf(1 - 1e-9)[0]
        grid = np.linspace(lo, hi, 200001)[None, :]
        assert np.trapezoid(dist.pdf(grid)[0], grid[0]) == pytest.approx(1.0, abs=1e-5)


def test_log_target_model_recovers_a_lognormal_conditional():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(4000, 1))
    log_mean, noise = 1.0 + 2.0 * X[:, 0], 0.3 + 0.3 * X[:, 0]
    y = np.exp(log_mean + noise * rng.normal(size=4000))
    X_test = rng.uniform(0, 1, size=(2000, 1))
    mu_test, s_test = 1.0 + 2.0 * X_test[:, 0], 0.3 + 0.3 * X_test[:, 0]
    y_test = np.exp(mu_test + s_test * rng.normal(size=2000))
    model = TransformedTargetRegressor(
        MixtureDensityRegressor((32, 32), n_components=2, max_iter=60, random_state=0)
    ).fit(X, y)
    dist = model.predict_dist(X_test)
    truth = stats.lognorm(s=s_test, scale=np.exp(mu_test))
    gap = negative_log_likelihood(y_test, dist) + truth.logpdf(y_test).mean()
    mean_error = np.abs(model.predict(X_test) / truth.mean() - 1).mean()
    print(f"log-target MDN: NLL gap {gap:.4f}, mean relative error {mean_error:.4f}")
    assert gap < 0.1
    assert mean_error < 0.05  # the mean of y, not exp(mean of log y) (off by ~5-10% here)
    assert np.all(dist.ppf(0.001) > 0)
    assert model.sample_posterior(X_test[:4], n_samples=3, random_state=0).min() > 0
    scores = cross_val_score(model, X, y, cv=2, scoring=neg_nll_scorer)
    assert np.all(np.isfinite(scores))


def test_targets_outside_the_domain_are_refused():
    X = np.ones((3, 1))
    with pytest.raises(ValueError, match=r"log target transform needs y in \(0.0, inf\)"):
        TransformedTargetRegressor(MixtureDensityRegressor()).fit(X, [1.0, 0.0, 2.0])
