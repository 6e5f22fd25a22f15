"""Tests of skprob.calibration.CalibratedRegressorCV, and of scikit-learn's
CalibratedClassifierCV around skprob classifiers."""

import pickle

import numpy as np
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import validate_data

from skprob import (
    BayesianMLPClassifier,
    DropoutMLPClassifier,
    DropoutMLPRegressor,
    MixtureDensityRegressor,
    PriorReweighter,
)
from skprob.calibration import CalibratedRegressorCV
from skprob.compose import TransformedTargetRegressor
from skprob.datasets import make_heteroscedastic
from skprob.distributions import (
    GridDistribution,
    Normal,
    RecalibratedDistribution,
    TransformedDistribution,
)
from skprob.metrics import interval_coverage, neg_nll_scorer, negative_log_likelihood, pit

LEVELS = (0.5, 0.8, 0.9, 0.95)


def _truth(X):
    x = X[:, 0]
    return np.sin(3 * x), 0.2 + x


def _sample(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, 1))
    mean, std = _truth(X)
    return X, mean + std * rng.normal(size=n)


class _TooNarrow(RegressorMixin, BaseEstimator):
    """Knows the true mean but predicts ``scale`` times the true standard deviation."""

    def __init__(self, scale=0.5):
        self.scale = scale

    def fit(self, X, y, sample_weight=None):
        validate_data(self, X, y)
        return self

    def predict_dist(self, X):
        mean, std = _truth(validate_data(self, X, reset=False))
        return Normal(mean, self.scale * std)

    def predict(self, X):
        return self.predict_dist(X).mean()


@pytest.fixture(scope="module")
def test_set():
    return _sample(20000, seed=1)


@pytest.mark.parametrize("method", ["isotonic", "conformal"])
@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_miscalibrated_model_is_fixed_on_new_data(test_set, method, scale):
    X, y = _sample(20000, seed=0)
    model = CalibratedRegressorCV(_TooNarrow(scale), method=method, cv=3).fit(X, y)
    X_test, y_test = test_set
    raw, recalibrated = model.estimator_.predict_dist(X_test), model.predict_dist(X_test)
    assert isinstance(recalibrated, RecalibratedDistribution)
    for level in LEVELS:
        assert abs(interval_coverage(y_test, raw, level) - level) > 0.04
        assert interval_coverage(y_test, recalibrated, level) == pytest.approx(level, abs=0.02)
    assert stats.kstest(pit(y_test, raw), "uniform").pvalue < 1e-10
    assert stats.kstest(pit(y_test, recalibrated), "uniform").pvalue > 0.01
    if method == "isotonic":  # the conformal density follows every calibration point
        assert negative_log_likelihood(y_test, recalibrated) < negative_log_likelihood(
            y_test, raw)
    assert model.pit_.shape == (20000,) and model.n_features_in_ == 1


def test_frozen_estimator_is_calibrated_on_held_out_rows_without_refit(test_set):
    X, y = _sample(5000, seed=2)
    frozen = FrozenEstimator(_TooNarrow().fit(X, y))
    model = CalibratedRegressorCV(frozen, method="conformal").fit(X, y)
    assert model.estimator_ is frozen
    X_test, y_test = test_set
    dist = model.predict_dist(X_test)
    for level in LEVELS:  # the guarantee: within 2 / (n + 1) plus sampling noise
        assert interval_coverage(y_test, dist, level) == pytest.approx(level, abs=0.02)


def test_real_network_is_recalibrated():
    X, y = make_heteroscedastic(1500, random_state=0)
    X_cal, y_cal = make_heteroscedastic(2000, random_state=1)
    X_test, y_test = make_heteroscedastic(4000, random_state=2)
    # MC dropout at rate 0.5: far too wide (0.90 coverage at 80%).
    network = DropoutMLPRegressor(hidden_layer_sizes=(16,), dropout_rate=0.5, max_iter=30,
                                  n_mc_samples=10, random_state=0).fit(X, y)
    model = CalibratedRegressorCV(FrozenEstimator(network)).fit(X_cal, y_cal)
    raw, recalibrated = network.predict_dist(X_test), model.predict_dist(X_test)
    raw_error = max(abs(interval_coverage(y_test, raw, c) - c) for c in LEVELS)
    error = max(abs(interval_coverage(y_test, recalibrated, c) - c) for c in LEVELS)
    assert raw_error > 0.04 and error < 0.03  # measured: 0.101 before, 0.003 after
    assert negative_log_likelihood(y_test, recalibrated) <= negative_log_likelihood(y_test, raw)


def test_cross_fitted_network_pipeline_and_predict():
    X, y = make_heteroscedastic(300, random_state=0)
    pipe = make_pipeline(StandardScaler(), MixtureDensityRegressor(
        n_components=2, hidden_layer_sizes=(8,), max_iter=3, random_state=0))
    model = CalibratedRegressorCV(pipe, cv=3).fit(X, y)
    dist = model.predict_dist(X[:5])
    assert len(dist) == 5
    mean, std = model.predict(X[:5], return_std=True)
    np.testing.assert_allclose(mean, dist.mean())
    np.testing.assert_allclose(std, dist.std())
    assert model.sample_posterior(X[:5], n_samples=3, random_state=0).shape == (5, 3)
    # the final model is refitted on all rows
    assert model.estimator_[-1].n_features_in_ == 1 and model.estimator_ is not pipe


def test_wraps_transformed_targets_and_prior_reweighting():
    X, y = make_heteroscedastic(200, random_state=0)
    tiny = MixtureDensityRegressor(n_components=1, hidden_layer_sizes=(8,), max_iter=3,
                                   random_state=0)
    positive = CalibratedRegressorCV(TransformedTargetRegressor(tiny), cv=2)
    dist = positive.fit(X, np.exp(y / 5)).predict_dist(X[:4])
    assert isinstance(dist.base, TransformedDistribution) and np.all(dist.ppf(0.001) > 0)
    reweighted = CalibratedRegressorCV(
        PriorReweighter(tiny, target_prior=stats.norm(0, 3), n_grid=64), cv=2).fit(X, y)
    dist = reweighted.predict_dist(X[:4])
    assert isinstance(dist.base, GridDistribution)
    np.testing.assert_allclose(dist.cdf(dist.ppf(0.3)), 0.3, rtol=1e-8)


def test_pickle_round_trip_predicts_the_same():
    X, y = _sample(500, seed=3)
    model = CalibratedRegressorCV(_TooNarrow(), cv=2).fit(X, y)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict_dist(X[:7]).logpdf(y[:7]),
                                  model.predict_dist(X[:7]).logpdf(y[:7]))
    np.testing.assert_array_equal(clone.predict(X[:7]), model.predict(X[:7]))


def test_rejects_classifiers_and_fails_without_side_effects():
    X, y = _sample(50, seed=4)
    with pytest.raises(ValueError, match="CalibratedClassifierCV"):
        CalibratedRegressorCV(LogisticRegression()).fit(X, y > 0)
    model = CalibratedRegressorCV(_TooNarrow(), cv=2)
    with pytest.raises(ValueError):
        model.fit(X, np.r_[y[:-1], np.nan])
    assert not hasattr(model, "calibration_map_") and not hasattr(model, "estimator_")


def _tiny_classifier(cls):
    return cls(hidden_layer_sizes=(8,), max_iter=5, n_mc_samples=4, random_state=0)


@pytest.mark.parametrize("estimator", [
    _tiny_classifier(DropoutMLPClassifier),
    _tiny_classifier(BayesianMLPClassifier),
    PriorReweighter(_tiny_classifier(DropoutMLPClassifier), target_prior=[0.2, 0.3, 0.5]),
], ids=["dropout", "bayesian", "reweighter"])
def test_sklearn_calibrated_classifier_works_with_skprob_classifiers(estimator):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 2))
    y = np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.3)]
    for calibrated in (CalibratedClassifierCV(estimator, method="isotonic", cv=2),
                       CalibratedClassifierCV(estimator, ensemble=False, cv=2)):
        proba = calibrated.fit(X, y).predict_proba(X)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_array_equal(calibrated.classes_, ["a", "b", "c"])
        assert np.isfinite(neg_nll_scorer(calibrated, X, y))
    frozen = CalibratedClassifierCV(FrozenEstimator(estimator.fit(X[:100], y[:100])))
    assert frozen.fit(X[100:], y[100:]).predict_proba(X[:3]).shape == (3, 3)
    # calibrate under the training prior first, then reweight to the target prior
    reweighted = PriorReweighter(CalibratedClassifierCV(estimator, cv=2),
                                 target_prior="uniform").fit(X, y)
    np.testing.assert_allclose(reweighted.predict_proba(X).sum(axis=1), 1.0)
