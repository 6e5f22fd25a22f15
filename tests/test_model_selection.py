"""Tests of skprob.model_selection.cross_val_predict_dist."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skprob import DropoutMLPClassifier, MixtureDensityRegressor
from skprob.datasets import make_bimodal
from skprob.distributions import Categorical, GaussianMixture
from skprob.model_selection import cross_val_predict_dist

CV = KFold(3, shuffle=True, random_state=0)


def _tiny_mdn():
    return MixtureDensityRegressor(n_components=2, hidden_layer_sizes=(8,), max_iter=3,
                                   random_state=0)


def _by_hand(estimator, X, y, method="predict_dist"):
    """Per-fold fits done by hand: list of (test rows, prediction)."""
    return [(test, getattr(clone(estimator).fit(X[train], y[train]), method)(X[test]))
            for train, test in CV.split(X, y)]


def test_rows_come_back_in_their_original_order():
    X, y = make_bimodal(120, random_state=0)
    dist = cross_val_predict_dist(_tiny_mdn(), X, y, cv=CV)
    assert isinstance(dist, GaussianMixture) and len(dist) == 120
    for test, expected in _by_hand(_tiny_mdn(), X, y):
        np.testing.assert_allclose(dist[test].logpdf(y[test]), expected.logpdf(y[test]),
                                   rtol=1e-12)
        np.testing.assert_allclose(dist[test].mean(), expected.mean(), rtol=1e-12)


def test_pipeline_reaches_predict_dist():
    X, y = make_bimodal(90, random_state=1)
    pipe = make_pipeline(StandardScaler(), _tiny_mdn())
    dist = cross_val_predict_dist(pipe, X, y, cv=CV)
    for train, test in CV.split(X):
        fitted = clone(pipe).fit(X[train], y[train])
        expected = fitted[-1].predict_dist(fitted[:-1].transform(X[test]))
        np.testing.assert_allclose(dist[test].cdf(y[test]), expected.cdf(y[test]), rtol=1e-12)


def test_classifier_gives_categoricals_over_all_classes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 2))
    y = np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    model = DropoutMLPClassifier(hidden_layer_sizes=(8,), max_iter=3, n_mc_samples=4,
                                 random_state=0)
    dist = cross_val_predict_dist(model, X, y, cv=CV)
    assert isinstance(dist, Categorical)
    np.testing.assert_array_equal(dist.classes, ["a", "b", "c"])
    for test, expected in _by_hand(model, X, y, "predict_proba"):
        np.testing.assert_allclose(dist.probs[test], expected, rtol=1e-6)


def test_class_missing_from_a_training_fold_gets_probability_zero():
    X = np.arange(12.0)[:, None]
    y = np.array([0] * 8 + [1] * 2 + [2] * 2)
    folds = [(np.arange(10), np.arange(10, 12)),  # no class 2 in training
             (np.arange(5, 12), np.arange(5)),
             (np.r_[0:5, 10:12], np.arange(5, 10))]  # no class 1 in training
    dist = cross_val_predict_dist(LogisticRegression(), X, y, cv=folds)
    np.testing.assert_array_equal(dist.classes, [0, 1, 2])
    np.testing.assert_array_equal(dist.probs[10:, 2], 0.0)
    np.testing.assert_array_equal(dist.probs[5:10, 1], 0.0)
    np.testing.assert_allclose(dist.probs.sum(axis=1), 1.0)
    assert np.all(dist.probs[:5] > 0)


class _MixtureOfFoldSize(RegressorMixin, BaseEstimator):
    """Predicts N(0, 1) split into a number of identical components that depends on the fold."""

    def fit(self, X, y):
        self.k_ = 1 + len(y) % 3
        return self

    def predict_dist(self, X):
        n = len(X)
        return GaussianMixture(np.full((n, self.k_), 1 / self.k_), np.zeros((n, self.k_)),
                               np.ones((n, self.k_)))


def test_mixtures_of_different_sizes_are_padded_exactly():
    X, y = np.zeros((10, 1)), np.linspace(-1, 1, 10)
    folds = [(np.arange(3, 10), np.arange(3)), (np.arange(3), np.arange(3, 10))]
    dist = cross_val_predict_dist(_MixtureOfFoldSize(), X, y, cv=folds)
    assert dist.n_components == 2  # 1 + 7 % 3 and 1 + 3 % 3 components
    np.testing.assert_array_equal(dist.weights[3:], [[1.0, 0.0]] * 7)
    np.testing.assert_array_equal(dist.cdf(y), GaussianMixture(np.ones((10, 1)), np.zeros((10, 1)),
                                                               np.ones((10, 1))).cdf(y))


def test_sample_weight_is_sliced_per_fold_and_partitions_required():
    X, y = make_bimodal(60, random_state=2)
    weights = np.ones(60)
    dist = cross_val_predict_dist(_tiny_mdn(), X, y, cv=CV, params={"sample_weight": weights})
    assert len(dist) == 60
    with pytest.raises(ValueError, match="partition"):
        cross_val_predict_dist(_tiny_mdn(), X, y, cv=[(np.arange(30), np.arange(30, 50))])
