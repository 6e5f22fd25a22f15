import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import get_scorer as sklearn_get_scorer
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline as sklearn_make_pipeline
from sklearn.preprocessing import StandardScaler

from skprob import DropoutMLPClassifier, DropoutMLPRegressor, MixtureDensityRegressor
from skprob.datasets import make_bimodal
from skprob.metrics import (
    get_scorer,
    make_coverage_scorer,
    neg_crps_scorer,
    neg_nll_scorer,
    negative_log_likelihood,
)
from skprob.pipeline import Pipeline, make_pipeline, predict_dist


def _three_branches(n, seed):
    """y = sin(x) + one of (-3, 0, 3), chosen uniformly: three separated modes."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=n)
    y = np.sin(x) + 3.0 * rng.integers(-1, 2, size=n) + 0.3 * rng.normal(size=n)
    return x[:, None], y


@pytest.fixture(scope="module")
def bimodal():
    return make_bimodal(600, random_state=0)


@pytest.fixture(scope="module")
def fitted_pipeline(bimodal):
    X, y = bimodal
    return make_pipeline(
        StandardScaler(), MixtureDensityRegressor((16,), n_components=2, max_iter=20,
                                                  random_state=0)
    ).fit(X, y)


def test_make_pipeline_forwards_distribution_methods(bimodal, fitted_pipeline):
    X, _ = bimodal
    assert isinstance(fitted_pipeline, Pipeline)
    scaled = fitted_pipeline[0].transform(X)
    final = fitted_pipeline[-1]
    np.testing.assert_array_equal(fitted_pipeline.predict_dist(X).means,
                                  final.predict_dist(scaled).means)
    np.testing.assert_array_equal(
        fitted_pipeline.sample_posterior(X, n_samples=3, random_state=1),
        final.sample_posterior(scaled, n_samples=3, random_state=1),
    )
    assert not hasattr(fitted_pipeline, "predict_uncertainty")  # the MDN has none


def test_pipeline_exposes_predict_uncertainty_when_the_final_step_has_it(bimodal):
    X, y = bimodal
    pipe = make_pipeline(StandardScaler(), DropoutMLPRegressor((8,), n_mc_samples=5,
                                                               max_iter=3, random_state=0))
    pipe.fit(X, y)
    assert pipe.predict_uncertainty(X).epistemic.shape == (len(X),)


def test_plain_sklearn_pipeline_return_std_and_predict_dist(bimodal):
    X, y = bimodal
    pipe = sklearn_make_pipeline(
        StandardScaler(), MixtureDensityRegressor((16,), max_iter=5, random_state=0)
    ).fit(X, y)
    mean, std = pipe.predict(X, return_std=True)
    dist = predict_dist(pipe, X)
    np.testing.assert_allclose(mean, dist.mean())
    np.testing.assert_allclose(std, dist.std())
    nested = sklearn_make_pipeline(StandardScaler(), pipe).fit(X, y)
    assert len(predict_dist(nested, X[:7])) == 7


def test_nll_scorer_matches_the_metric_through_a_plain_pipeline(bimodal):
    X, y = bimodal
    pipe = sklearn_make_pipeline(
        StandardScaler(), MixtureDensityRegressor((16,), max_iter=5, random_state=0)
    ).fit(X, y)
    expected = -negative_log_likelihood(y, predict_dist(pipe, X))
    assert neg_nll_scorer(pipe, X, y) == pytest.approx(expected)
    assert get_scorer("neg_nll") is neg_nll_scorer
    assert get_scorer("neg_crps") is neg_crps_scorer
    assert neg_crps_scorer(pipe, X, y) < 0
    assert get_scorer("r2")(pipe, X, y) == pytest.approx(sklearn_get_scorer("r2")(pipe, X, y))


def test_classifier_nll_scorer_equals_neg_log_loss():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 1)]
    for model in (LogisticRegression(), DropoutMLPClassifier((8,), n_mc_samples=5, max_iter=5,
                                                             random_state=0)):
        model.fit(X, y)
        assert neg_nll_scorer(model, X, y) == pytest.approx(
            sklearn_get_scorer("neg_log_loss")(model, X, y)
        )


def test_coverage_scorer_is_zero_for_nominal_coverage():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 1))
    y = 2 * X[:, 0] + rng.normal(size=4000)

    class KnownNoise(Ridge):
        def predict_dist(self, X):
            from skprob.distributions import Normal

            mean = self.predict(X)
            return Normal(mean, np.ones_like(mean))

    model = KnownNoise().fit(X, y)
    assert make_coverage_scorer(0.9)(model, X, y) > -0.015
    assert get_scorer("neg_coverage_error")(model, X, 3 * y) < -0.2


def test_grid_search_with_nll_picks_enough_components():
    X, y = _three_branches(1500, seed=0)
    search = GridSearchCV(
        MixtureDensityRegressor(max_iter=60, learning_rate_init=3e-3, random_state=0),
        {"n_components": [1, 3], "hidden_layer_sizes": [(16,), (32,)]},
        scoring=get_scorer("neg_nll"),
        cv=3,
    ).fit(X, y)
    print("GridSearchCV best:", search.best_params_, f"{search.best_score_:.3f}")
    assert search.best_params_["n_components"] == 3
    one = search.cv_results_["mean_test_score"][
        np.asarray(search.cv_results_["param_n_components"]) == 1
    ]
    assert search.best_score_ > one.max() + 0.3  # three modes beat one Gaussian clearly


def _torch_threads_scorer(estimator, X, y):
    return torch.get_num_threads()


def test_cross_validate_in_parallel_without_oversubscription(bimodal):
    X, y = bimodal
    result = cross_validate(
        MixtureDensityRegressor((8,), max_iter=3, random_state=0),
        X, y, cv=2, n_jobs=2,
        scoring={"nll": neg_nll_scorer, "crps": neg_crps_scorer, "threads": _torch_threads_scorer},
    )
    assert np.all(np.isfinite(result["test_nll"])) and np.all(result["test_crps"] < 0)
    # joblib's workers get their thread budget split: 2 workers x 1 torch thread on 2 cores
    assert np.all(result["test_threads"] * 2 <= max(torch.get_num_threads(), 2))


def test_cross_val_score_with_nll_scorer(bimodal):
    X, y = bimodal
    scores = cross_val_score(
        make_pipeline(StandardScaler(), MixtureDensityRegressor((8,), max_iter=3, random_state=0)),
        X, y, cv=3, scoring=neg_nll_scorer,
    )
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
