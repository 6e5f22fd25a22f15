"""Properties shared by the Monte Carlo estimators (MC dropout and Bayesian VI)."""

import functools
import pickle
import tracemalloc

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer
from torch import nn

from skprob import (
    BayesianMLPClassifier,
    BayesianMLPRegressor,
    DropoutMLPClassifier,
    DropoutMLPRegressor,
    MixtureDensityRegressor,
)
from skprob._torch.modules import MCDropout
from skprob._torch.prediction import predict_params
from skprob.datasets import make_heteroscedastic
from skprob.distributions import Categorical, GaussianMixture
from skprob.metrics import calibration_error, interval_coverage, negative_log_likelihood

REGRESSORS = [DropoutMLPRegressor, BayesianMLPRegressor]
CLASSIFIERS = [DropoutMLPClassifier, BayesianMLPClassifier]


def _gap_data(n=400, seed=0):
    """1-D inputs only on [-3, -1] and [1, 3]."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(-3, -1, n // 2), rng.uniform(1, 3, n // 2)])
    return x[:, None], np.sin(x) + 0.1 * rng.normal(size=n)


def _two_gaussians(n, seed):
    """Classes N((-1, 0), I) and N((1, 0), I), equal priors: p(1 | x) = expit(2 x0)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.0, -1.0) * np.array([1.0, 0.0])
    return X, y, expit(2.0 * X[:, 0])


# --------------------------------------------------------------- epistemic
# Both families with their default network, one hidden layer of 100 units.
# Seeds 0-4 gave |x|=5 / inside ratios of 3.1-4.0 (dropout at its default
# rate 0.05; 3.2-4.1 at 0.1) and 3.6-4.4 (Bayes; 4.6-5.3 when its posterior
# stds started at 1e-3). Depth matters for
# MC dropout: behind two relu layers its growth flattens to at most ~2x (and
# the in-between ratio rises), hence activation="auto" (gelu from two layers
# on; see the test after the next and the user guide).
GAP_MODELS = {
    DropoutMLPRegressor: {"max_iter": 300, "batch_size": 32},
    BayesianMLPRegressor: {"max_iter": 150, "batch_size": 32, "learning_rate_init": 1e-2},
}


@functools.cache
def _gap_ratios(estimator_class):
    X, y = _gap_data()
    model = estimator_class(n_mc_samples=200, random_state=0, **GAP_MODELS[estimator_class])
    model.fit(X, y)
    epistemic_std = lambda x: np.sqrt(model.predict_uncertainty(x).epistemic)  # noqa: E731
    inside = epistemic_std(X).mean()
    outside = epistemic_std(np.array([[-5.0], [5.0]])).min()
    between = epistemic_std(np.array([[0.0]]))[0]
    print(f"{estimator_class.__name__}: epistemic std at |x|=5 / inside = {outside / inside:.2f}, "
          f"at x=0 / inside = {between / inside:.2f}")
    return outside / inside, between / inside


@pytest.mark.parametrize("estimator_class", REGRESSORS)
def test_epistemic_uncertainty_grows_away_from_the_data(estimator_class):
    outside, _ = _gap_ratios(estimator_class)
    assert outside >= 3.0


def test_deeper_dropout_network_keeps_its_epistemic_growth():
    # Issue 14's target: two hidden layers of 100, every other parameter at its
    # default. activation="auto" makes them gelu; behind relu layers the ratio
    # was 0.4-2.1 (400 / 1,000 / 1,900 rows, seeds 0-4), with gelu 3.3-18.
    X, y = _gap_data()
    model = DropoutMLPRegressor((100, 100), n_mc_samples=200, random_state=0).fit(X, y)
    outside = np.sqrt(model.predict_uncertainty(np.array([[-5.0], [5.0]])).epistemic)
    inside = np.sqrt(model.predict_uncertainty(X).epistemic)
    assert outside.min() >= 3.0 * inside.mean()


@pytest.mark.parametrize("estimator_class", [DropoutMLPRegressor, DropoutMLPClassifier])
@pytest.mark.parametrize("sizes, expected", [
    ((8,), nn.ReLU), ((8, 8), nn.GELU), ((8, 8, 8), nn.GELU),
])
def test_dropout_auto_activation_is_relu_for_one_layer_gelu_for_more(
    estimator_class, sizes, expected
):
    X, y = _gap_data(64)
    if estimator_class is DropoutMLPClassifier:
        y = (y > 0).astype(int)
    model = estimator_class(sizes, activation="auto", max_iter=1, random_state=0).fit(X, y)
    activations = [m for m in model.module_.trunk if not isinstance(m, (nn.Linear, MCDropout))]
    assert [type(m) for m in activations] == [expected] * len(sizes)
    # An explicit name is kept whatever the depth.
    explicit = estimator_class(sizes, activation="relu", max_iter=1, random_state=0).fit(X, y)
    assert all(isinstance(m, (nn.Linear, MCDropout, nn.ReLU)) for m in explicit.module_.trunk)


def test_auto_activation_is_only_for_dropout_networks():
    X, y = _gap_data(64)
    with pytest.raises(ValueError, match="activation"):
        BayesianMLPRegressor(activation="auto", max_iter=1).fit(X, y)


# --------------------------------------------------------------- accuracy
@pytest.mark.parametrize("estimator_class", REGRESSORS)
def test_regressor_nll_close_to_true_conditional_entropy(estimator_class):
    X, y = make_heteroscedastic(8000, random_state=1)
    X_test, y_test, true_dist = make_heteroscedastic(4000, random_state=2, return_distribution=True)
    model = make_pipeline(
        SplineTransformer(n_knots=60),  # see tests/test_mixture_density.py for why
        estimator_class((64, 64), n_mc_samples=50, max_iter=200, early_stopping=True,
                        random_state=0),
    ).fit(X, y)
    dist = model[-1].predict_dist(model[:-1].transform(X_test))
    gap = negative_log_likelihood(y_test, dist) - negative_log_likelihood(y_test, true_dist)
    coverage = interval_coverage(y_test, dist, 0.9)
    print(f"{estimator_class.__name__}: NLL gap {gap:.4f} nats, 90% coverage {coverage:.3f}")
    assert gap < 0.1
    assert 0.87 <= coverage <= 0.93


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_variational_regressor_fits_eighty_rows(seed):
    # 80 rows (72 trained on): minibatches of 32 gave 600 steps, the posterior
    # stayed a point estimate and the noise head over-fitted (test NLL 2.0-3.3
    # on such data, the truth scores 1.06); the whole 2,000-step budget, in
    # minibatches of 8 rows, gives 1.27-1.28 here.
    rng = np.random.default_rng(seed)
    X, X_test = rng.normal(size=(80, 3)), rng.normal(size=(4000, 3))
    y, y_test = (Z[:, 0] + 0.7 * rng.normal(size=len(Z)) for Z in (X, X_test))
    model = BayesianMLPRegressor(random_state=0).fit(X, y)
    nll = negative_log_likelihood(y_test, model.predict_dist(X_test))
    print(f"seed {seed}: test NLL {nll:.3f} (truth 1.06)")
    assert nll < 1.6


@pytest.mark.parametrize("estimator_class", CLASSIFIERS)
def test_classifier_defaults_on_a_hundred_rows(estimator_class):
    # Early stopping by default ("auto"): trained for all 200 epochs, the
    # classifiers' test log loss exceeded the Bayes optimum by 0.71-0.76
    # (dropout) and 0.19-0.28 (variational) on seeds 0-2 of this problem,
    # worse than always answering 0.5; stopped early 0.05-0.14.
    rng = np.random.default_rng(0)
    X, X_test = rng.normal(size=(100, 5)), rng.normal(size=(4000, 5))
    y, y_test = ((rng.random(len(Z)) < expit(1.5 * Z[:, 0] - Z[:, 1])).astype(int)
                 for Z in (X, X_test))
    p_test = expit(1.5 * X_test[:, 0] - X_test[:, 1])
    model = estimator_class(random_state=0).fit(X, y)
    excess = log_loss(y_test, model.predict_proba(X_test)) - log_loss(
        y_test, np.c_[1 - p_test, p_test]
    )
    print(f"{estimator_class.__name__}: log loss - Bayes optimum {excess:.3f}")
    assert excess < 0.1


@pytest.mark.parametrize("estimator_class", CLASSIFIERS)
def test_classifier_is_calibrated_and_near_bayes_optimal(estimator_class):
    X, y, _ = _two_gaussians(4000, seed=0)
    X_test, y_test, bayes = _two_gaussians(8000, seed=1)
    model = estimator_class((32,), n_mc_samples=50, max_iter=100, random_state=0).fit(X, y)
    dist = model.predict_dist(X_test)
    ece = calibration_error(y_test, dist)
    excess = log_loss(y_test, dist.probs) - log_loss(y_test, np.c_[1 - bayes, bayes])
    print(f"{estimator_class.__name__}: ECE {ece:.4f}, log loss - Bayes optimum {excess:.4f}")
    assert ece < 0.05
    assert excess < 0.05


# ------------------------------------------------------------------ API
@pytest.fixture(scope="module")
def small_regression():
    return _gap_data(200, seed=3)


@pytest.fixture(scope="module")
def small_classification():
    X, y, _ = _two_gaussians(200, seed=3)
    return X, np.array(["cat", "dog"])[y]


@pytest.mark.parametrize("estimator_class", REGRESSORS)
def test_regressor_prediction_api(estimator_class, small_regression):
    X, y = small_regression
    model = estimator_class((16,), n_mc_samples=7, max_iter=10, random_state=0).fit(X, y)
    dist = model.predict_dist(X)
    # The 7 passes, equally weighted, and the tail guard's component.
    assert isinstance(dist, GaussianMixture) and dist.means.shape == (200, 8)
    np.testing.assert_allclose(dist.weights[:, :-1], (1 - model.tail_weight_) / 7)
    mean, std = model.predict(X, return_std=True)
    np.testing.assert_allclose(mean, dist.mean())
    u = model.predict_uncertainty(X)
    np.testing.assert_allclose(u.total, u.aleatoric + u.epistemic)
    np.testing.assert_allclose(u.total, std**2)  # law of total variance
    assert model.sample_posterior(X, n_samples=4, random_state=0).shape == (200, 4)


@pytest.mark.parametrize("estimator_class", CLASSIFIERS)
def test_classifier_prediction_api(estimator_class, small_classification):
    X, y = small_classification
    model = estimator_class((16,), n_mc_samples=7, max_iter=30, random_state=0).fit(X, y)
    assert list(model.classes_) == ["cat", "dog"]
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(model.predict(X)) <= {"cat", "dog"}
    assert isinstance(model.predict_dist(X), Categorical)
    draws = model.sample_posterior(X, n_samples=5, random_state=0)
    assert draws.shape == (200, 5, 2)
    np.testing.assert_allclose(draws.sum(axis=2), 1.0)
    np.testing.assert_array_equal(draws, model.sample_posterior(X, n_samples=5, random_state=0))
    assert not np.allclose(draws[:, 0], draws[:, 1])  # the passes differ: epistemic spread
    u = model.predict_uncertainty(X)
    np.testing.assert_allclose(u.total, stats.entropy(proba, axis=1))
    assert np.all(u.epistemic >= 0) and np.all(u.aleatoric <= u.total + 1e-12)


@pytest.mark.parametrize("estimator_class", CLASSIFIERS)
def test_classifier_multiclass_and_partial_fit(estimator_class):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=300)
    X = rng.normal(size=(300, 2)) + 3 * np.eye(3)[y][:, :2]
    model = estimator_class((16,), n_mc_samples=5, learning_rate_init=1e-2, random_state=0)
    model.partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    for _ in range(20):
        model.partial_fit(X, y)
    assert model.predict_proba(X).shape == (300, 3)
    assert model.score(X, y) > 0.8
    with pytest.raises(ValueError, match="not in classes_"):
        model.partial_fit(X[:5], np.array([0, 1, 2, 3, 0]))


@pytest.mark.parametrize("estimator_class", REGRESSORS + CLASSIFIERS)
def test_same_random_state_same_predictions_and_pickle(estimator_class, small_regression):
    X, y = small_regression
    if estimator_class in CLASSIFIERS:
        y = (y > 0).astype(int)
    make = functools.partial(estimator_class, (16,), n_mc_samples=5, max_iter=5)
    a = make(random_state=1).fit(X, y)
    b = make(random_state=1).fit(X, y)
    c = make(random_state=2).fit(X, y)
    first = a.predict_dist(X)
    attribute = "probs" if estimator_class in CLASSIFIERS else "means"
    np.testing.assert_array_equal(getattr(first, attribute), getattr(b.predict_dist(X), attribute))
    assert not np.allclose(getattr(first, attribute), getattr(c.predict_dist(X), attribute))
    # predictions are a deterministic function of the fitted model
    np.testing.assert_array_equal(getattr(first, attribute), getattr(a.predict_dist(X), attribute))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(
        getattr(first, attribute), getattr(restored.predict_dist(X), attribute)
    )


@pytest.mark.parametrize("estimator_class", REGRESSORS + CLASSIFIERS)
def test_bad_mc_parameters_raise(estimator_class, small_regression):
    X, y = small_regression
    with pytest.raises(ValueError, match="n_mc_samples"):
        estimator_class(n_mc_samples=0).fit(X, y > 0)


def test_single_class_is_refused():
    X, _ = _gap_data(50)
    with pytest.raises(ValueError, match="greater than one"):
        DropoutMLPClassifier(max_iter=2).fit(X, np.zeros(50))


# ------------------------------------------------------ memory and faults
@pytest.fixture(scope="module")
def tiny_models():
    """Every estimator family, fitted briefly: the tests below need predictions, not skill."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 2))
    y = X[:, 0] + 0.1 * rng.normal(size=200)
    models = {}
    for cls in [*REGRESSORS, *CLASSIFIERS, MixtureDensityRegressor]:
        kwargs = {} if cls is MixtureDensityRegressor else {"n_mc_samples": 9}
        target = (y > 0).astype(int) if cls in CLASSIFIERS else y
        models[cls] = cls((16,), activation="tanh", max_iter=2, random_state=0, **kwargs).fit(
            X, target
        )
    return models


def _spy_rows(model, monkeypatch):
    """Record the number of rows of every call to the model's ``_predict_params``."""
    rows = []
    original = model._predict_params

    def spy(X, **kwargs):
        rows.append(len(X))
        return original(X, **kwargs)

    monkeypatch.setattr(model, "_predict_params", spy)
    return rows


@pytest.mark.parametrize("estimator_class", REGRESSORS + CLASSIFIERS)
def test_reductions_run_in_row_chunks_with_unchanged_values(
    estimator_class, tiny_models, monkeypatch
):
    model = tiny_models[estimator_class]
    X = np.random.default_rng(0).normal(size=(230, 2))
    if estimator_class in REGRESSORS:
        dist = model.predict_dist(X)  # all rows at once: the reference
        expected = {"predict": (dist.mean(), dist.std()), "predict_uncertainty": (dist.var(),)}
        calls = {"predict": lambda: model.predict(X, return_std=True),
                 "predict_uncertainty": lambda: model.predict_uncertainty(X)[:1]}
    else:
        probs = model._distribution_from_params(model._predict_params(X)).probs
        expected = {"predict_proba": (probs,),
                    "predict_uncertainty": (stats.entropy(probs, axis=1),)}
        calls = {"predict_proba": lambda: (model.predict_proba(X),),
                 "predict_uncertainty": lambda: model.predict_uncertainty(X)[:1]}
    monkeypatch.setattr("skprob._chunks.CHUNK_ROWS", 50)
    rows = _spy_rows(model, monkeypatch)
    for name, call in calls.items():
        rows.clear()
        got = call()
        assert max(rows) <= 50 and sum(rows) == 230, name  # never the whole of X at once
        for g, e in zip(got, expected[name], strict=True):
            # a row's prediction does not depend on the chunk it is in
            np.testing.assert_allclose(g, e, rtol=1e-13, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("estimator_class", REGRESSORS + CLASSIFIERS)
def test_sample_posterior_rows_do_not_depend_on_the_chunks(estimator_class, tiny_models,
                                                           monkeypatch):
    model = tiny_models[estimator_class]
    X = np.random.default_rng(1).normal(size=(120, 2))
    whole = model.sample_posterior(X, n_samples=3, random_state=0)
    monkeypatch.setattr("skprob._chunks.CHUNK_ROWS", 25)
    rows = _spy_rows(model, monkeypatch)
    chunked = model.sample_posterior(X, n_samples=3, random_state=0)
    assert max(rows) <= 25 and chunked.shape == whole.shape and chunked.flags.c_contiguous
    if estimator_class in CLASSIFIERS:  # the same passes for every chunk
        np.testing.assert_array_equal(chunked, whole)


def test_predict_memory_does_not_grow_with_the_mixture(tiny_models, monkeypatch):
    """20000 rows x 100 passes: one (T, n) array is 15 MiB; the mixture of all rows held
    six of them at the peak (92 MiB measured), chunks of 1024 rows need ~5 MiB."""
    monkeypatch.setattr("skprob._chunks.CHUNK_ROWS", 1024)
    model = clone_with(tiny_models[DropoutMLPRegressor], n_mc_samples=100)
    X = np.random.default_rng(2).normal(size=(20000, 2))
    one_array = 100 * len(X) * 8
    for call in (lambda: model.predict(X, return_std=True), lambda: model.predict_uncertainty(X)):
        tracemalloc.start()
        call()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < one_array / 2, f"{peak / 2**20:.0f} MiB"


def clone_with(model, **params):
    """A fitted model with changed prediction parameters (set_params keeps the fit)."""
    return pickle.loads(pickle.dumps(model)).set_params(**params)


@pytest.mark.parametrize("estimator_class", REGRESSORS + CLASSIFIERS)
def test_sample_posterior_refuses_outputs_above_the_limit(estimator_class, tiny_models):
    model = tiny_models[estimator_class]
    X = np.broadcast_to(np.zeros(2), (10**6, 2))  # a million rows, no memory
    shape = "1000000 x 1000" + (" x 2" if estimator_class in CLASSIFIERS else "")
    with pytest.raises(ValueError, match=f"sample_posterior would return {shape} = .* chunks"):
        model.sample_posterior(X, n_samples=1000)


@pytest.mark.parametrize("estimator_class", REGRESSORS + CLASSIFIERS)
@pytest.mark.parametrize("n_samples", [0, -1, 1.5, "3"])
def test_sample_posterior_rejects_bad_n_samples(estimator_class, n_samples, tiny_models):
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        tiny_models[estimator_class].sample_posterior(np.zeros((3, 2)), n_samples=n_samples)


@pytest.mark.parametrize("estimator_class", REGRESSORS + CLASSIFIERS)
@pytest.mark.parametrize("n_mc_samples", [0, 2.5])
def test_n_mc_samples_is_checked_at_prediction(estimator_class, n_mc_samples, tiny_models):
    model = clone_with(tiny_models[estimator_class], n_mc_samples=n_mc_samples)
    with pytest.raises(ValueError, match="n_mc_samples must be a positive integer"):
        model.predict(np.zeros((3, 2)))


def test_uncertainty_repr_is_short_and_it_stays_a_tuple(tiny_models):
    u = tiny_models[DropoutMLPRegressor].predict_uncertainty(np.zeros((1000, 2)))
    text = repr(u)
    assert text.startswith("Uncertainty(n_samples=1000, mean total=")
    assert "mean aleatoric=" in text and "mean epistemic=" in text and len(text) < 120
    total, aleatoric, epistemic = u
    assert total is u.total and isinstance(u, tuple) and u._fields[2] == "epistemic"
    assert repr(pickle.loads(pickle.dumps(u))) == text


# A row's head parameters are bit-for-bit the same alone, inside X, in a shuffled
# X and with chunk boundaries moved (predict_params pads every chunk to whole
# 64-row blocks; without it up to 24 ulp differed, measured).
@pytest.mark.parametrize("estimator_class",
                         [*REGRESSORS, *CLASSIFIERS, MixtureDensityRegressor],
                         ids=lambda c: c.__name__)
def test_a_row_prediction_is_bit_exact_whatever_the_other_rows(estimator_class, tiny_models):
    model = tiny_models[estimator_class]
    n_passes = getattr(model, "n_mc_samples", None)
    X = np.random.default_rng(3).normal(size=(300, 2))
    predict = functools.partial(predict_params, model.module_, n_passes=n_passes, seed=4)
    rows = 0 if n_passes is None else 1
    reference = predict(X)
    perm = np.random.default_rng(4).permutation(len(X))
    variants = {
        "shuffled": (perm, predict(X[perm])),
        "small chunks": (np.arange(300), predict(X, max_elements=2**11)),
        "other chunks": (np.arange(300), predict(X, max_elements=7 * 2**12)),
        "a slice": (np.arange(5, 71), predict(X[5:71])),
    }
    variants.update({f"row {i} alone": ([i], predict(X[i : i + 1])) for i in (0, 63, 64, 299)})
    for name, (index, params) in variants.items():
        for ref, got in zip(reference, params, strict=True):
            np.testing.assert_array_equal(np.take(ref, index, axis=rows), got, err_msg=name)
    # and so are the predictions built from them
    if estimator_class in CLASSIFIERS:
        predictions = lambda rows: (model.predict_proba(rows),)  # noqa: E731
    else:
        predictions = functools.partial(model.predict, return_std=True)
    for one, whole in zip(predictions(X[64:65]), predictions(X), strict=True):
        np.testing.assert_array_equal(one, whole[64:65])
