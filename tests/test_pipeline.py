import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import get_scorer as sklearn_get_scorer
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline as sklearn_make_pipeline
from sklearn.preprocessing import MinMaxScaler, QuantileTransformer, RobustScaler, StandardScaler

from skprob import DropoutMLPClassifier, DropoutMLPRegressor, MixtureDensityRegressor
from skprob.datasets import make_bimodal
from skprob.metrics import (
    get_scorer,
    make_coverage_scorer,
    neg_crps_scorer,
    neg_nll_scorer,
    negative_log_likelihood,
)
from skprob.pipeline import Pipeline, final_estimator_call, make_pipeline, predict_dist


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


def _small_mdn(**params):
    return MixtureDensityRegressor((8,), n_components=2, max_iter=3, random_state=0, **params)


@pytest.mark.parametrize("search_cls", ["GridSearchCV", "RandomizedSearchCV",
                                        "HalvingGridSearchCV"])
def test_fitted_searches_are_looked_through(bimodal, search_cls):
    from sklearn import model_selection
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401

    X, y = bimodal
    grid = {"mixturedensityregressor__n_components": [1, 2]}
    pipe = sklearn_make_pipeline(StandardScaler(), _small_mdn())
    cls = getattr(model_selection, search_cls)
    options = {"n_iter": 2, "random_state": 0} if search_cls == "RandomizedSearchCV" else {}
    search = cls(pipe, grid, scoring=neg_nll_scorer, cv=2, **options).fit(X, y)
    best = search.best_estimator_
    np.testing.assert_array_equal(predict_dist(search, X).means, predict_dist(best, X).means)
    assert neg_nll_scorer(search, X, y) == neg_nll_scorer(best, X, y)
    assert search.score(X, y) == neg_nll_scorer(best, X, y)
    # a skprob pipeline whose last step is the search forwards the methods too
    outer = make_pipeline(StandardScaler(with_std=False), search)
    assert hasattr(outer, "predict_dist") and not hasattr(outer, "predict_uncertainty")


def test_a_search_without_refit_says_why_it_cannot_predict(bimodal):
    X, y = bimodal
    search = GridSearchCV(_small_mdn(), {"alpha": [0.0, 1e-4]}, scoring=neg_nll_scorer,
                          refit=False, cv=2).fit(X, y)
    with pytest.raises(AttributeError, match="refit=False"):
        predict_dist(search, X)


def test_nested_cross_validation_of_a_search(bimodal):
    X, y = bimodal
    search = GridSearchCV(_small_mdn(), {"n_components": [1, 2]}, scoring=neg_nll_scorer, cv=2)
    scores = cross_val_score(search, X, y, cv=2, scoring=neg_nll_scorer)
    assert scores.shape == (2,) and np.all(np.isfinite(scores))


def test_sklearn_transformed_target_log_is_the_exact_change_of_variables(bimodal):
    from sklearn.compose import TransformedTargetRegressor as SklearnTTR

    from skprob.compose import TransformedTargetRegressor

    X, y = bimodal
    y = np.exp(y)
    ours = TransformedTargetRegressor(_small_mdn(), transform="log").fit(X, y)
    for sklearn_model in (SklearnTTR(_small_mdn(), func=np.log, inverse_func=np.exp),
                          SklearnTTR(_small_mdn(), func=np.log, inverse_func=lambda z: np.e**z)):
        dist = predict_dist(sklearn_model.fit(X, y), X)
        np.testing.assert_allclose(dist.logpdf(y), ours.predict_dist(X).logpdf(y), rtol=1e-12)
        assert neg_nll_scorer(sklearn_model, X, y) == pytest.approx(neg_nll_scorer(ours, X, y))
        draws = final_estimator_call(sklearn_model, "sample_posterior", X, n_samples=2,
                                     random_state=0)
        np.testing.assert_allclose(draws, ours.sample_posterior(X, n_samples=2, random_state=0))


@pytest.mark.parametrize("transformer", [StandardScaler(), MinMaxScaler((-1, 3)),
                                         RobustScaler(), None], ids=repr)
def test_sklearn_transformed_target_affine_maps_the_density_with_its_jacobian(
    bimodal, transformer
):
    from sklearn.compose import TransformedTargetRegressor as SklearnTTR

    X, y = bimodal
    y = 50 + 7 * y
    model = SklearnTTR(_small_mdn(), transformer=transformer).fit(X, y)
    z_dist = model.regressor_.predict_dist(X)
    z = model.transformer_.transform(y[:, None])[:, 0]
    ends = model.transformer_.transform([[0.0], [1.0]])[:, 0]
    dz_dy = ends[1] - ends[0]
    dist = predict_dist(model, X)
    np.testing.assert_allclose(dist.logpdf(y), z_dist.logpdf(z) + np.log(dz_dy), rtol=1e-10)
    np.testing.assert_allclose(dist.mean(), model.predict(X), rtol=1e-10)


@pytest.mark.parametrize("params", [
    {"transformer": QuantileTransformer(n_quantiles=50)},
    {"func": np.sqrt, "inverse_func": np.square},
    {"func": np.log, "inverse_func": np.exp2},  # a wrong inverse is not a known map
], ids=["quantile", "sqrt", "wrong-inverse"])
def test_sklearn_transformed_target_without_an_exact_map_names_skprobs(bimodal, params):
    from sklearn.compose import TransformedTargetRegressor as SklearnTTR

    X, y = bimodal
    model = SklearnTTR(_small_mdn(), check_inverse=False, **params).fit(X, np.exp(y))
    with pytest.raises(TypeError, match=r"skprob\.compose\.TransformedTargetRegressor"):
        predict_dist(model, X)
    with pytest.raises(TypeError, match=r"skprob\.compose\.TransformedTargetRegressor"):
        neg_nll_scorer(model, X, np.exp(y))


def test_multi_output_regressor_gives_one_distribution_per_output(bimodal):
    from sklearn.multioutput import MultiOutputRegressor

    X, y = bimodal
    Y = np.column_stack([y, 2 * y + 1])
    model = MultiOutputRegressor(make_pipeline(StandardScaler(), _small_mdn())).fit(X, Y)
    dists = predict_dist(model, X)
    assert isinstance(dists, list) and len(dists) == 2
    for dist, output in zip(dists, model.estimators_, strict=True):
        np.testing.assert_array_equal(dist.means, output.predict_dist(X).means)
    nlls = [negative_log_likelihood(Y[:, j], dists[j]) for j in range(2)]
    # NLL of the joint distribution of independent outputs; CRPS averaged like sklearn's r2
    assert neg_nll_scorer(model, X, Y) == pytest.approx(-sum(nlls))
    crpss = [neg_crps_scorer(output, X, Y[:, j]) for j, output in enumerate(model.estimators_)]
    assert neg_crps_scorer(model, X, Y) == pytest.approx(np.mean(crpss))
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        neg_nll_scorer(model, X, y)
    assert len(final_estimator_call(model, "sample_posterior", X, n_samples=3)) == 2


def test_scoring_strings_point_to_skprobs_scorers(bimodal):
    X, y = bimodal
    with pytest.raises(ValueError, match="neg_nll"):  # scikit-learn's own names only
        cross_val_score(_small_mdn(), X, y, cv=2, scoring="neg_nll")
    names = r"skprob \(neg_coverage_error, neg_crps, neg_energy_score, neg_nll\)"
    with pytest.raises(ValueError, match=names):
        get_scorer("neg_nnl")
    assert cross_val_score(_small_mdn(), X, y, cv=2, scoring=get_scorer("neg_nll")).shape == (2,)
