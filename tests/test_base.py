"""Input handling shared by every estimator (skprob/_base.py)."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone, is_regressor

from skprob import (
    BayesianMLPClassifier,
    BayesianMLPRegressor,
    DropoutMLPClassifier,
    DropoutMLPRegressor,
    MixtureDensityRegressor,
)
from skprob._base import auto_batch_size, resolve_device
from skprob.exceptions import DiscreteTargetWarning

REGRESSORS = [MixtureDensityRegressor, DropoutMLPRegressor, BayesianMLPRegressor]
CLASSIFIERS = [DropoutMLPClassifier, BayesianMLPClassifier]
ALL = REGRESSORS + CLASSIFIERS


def _make(estimator_class, **params):
    extra = {} if estimator_class is MixtureDensityRegressor else {"n_mc_samples": 3}
    return estimator_class((8,), max_iter=2, random_state=0, **extra, **params)


def _data(estimator_class, n=60):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    y = X[:, 0] + 0.1 * rng.normal(size=n)
    return X, (y > 0).astype(int) if estimator_class in CLASSIFIERS else y


def _with(array, index, value):
    array = array.astype(float)
    array.flat[index] = value
    return array


BAD_FIT_INPUTS = {
    "nan in X": (lambda X, y: (_with(X, 4, np.nan), y), "NaN"),
    "inf in X": (lambda X, y: (_with(X, 4, np.inf), y), "infinity"),
    "empty X": (lambda X, y: (X[:0], y[:0]), "0 sample"),
    "1-D X": (lambda X, y: (X[:, 0], y), "Expected 2D array"),
    "3-D X": (lambda X, y: (X[:, :, None], y), "dim 3"),
    "sparse X": (lambda X, y: (sp.csr_matrix(X), y), "[Ss]parse"),
    "lengths differ": (lambda X, y: (X, y[:-1]), "inconsistent numbers of samples"),
    "X beyond float32": (lambda X, y: (X * 1e300, y), "float32"),
}


@pytest.mark.parametrize("estimator_class", ALL)
@pytest.mark.parametrize("case", sorted(BAD_FIT_INPUTS))
def test_bad_fit_input_gives_a_clear_error(estimator_class, case):
    make_bad, match = BAD_FIT_INPUTS[case]
    X, y = _data(estimator_class)
    with pytest.raises((ValueError, TypeError), match=match):
        _make(estimator_class).fit(*make_bad(X, y))


@pytest.mark.parametrize("estimator_class", ALL)
def test_bad_targets_and_weights(estimator_class):
    X, y = _data(estimator_class)
    with pytest.raises(ValueError, match="NaN|infinity"):
        _make(estimator_class).fit(X, _with(y, 0, np.nan))
    with pytest.raises(ValueError, match="Negative values"):
        _make(estimator_class).fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="NaN"):
        _make(estimator_class).fit(X, y, sample_weight=_with(np.ones(len(y)), 0, np.nan))
    with pytest.raises(ValueError, match="non-zero"):
        _make(estimator_class).fit(X, y, sample_weight=np.zeros(len(y)))


@pytest.mark.parametrize("estimator_class", REGRESSORS)
def test_string_targets_for_a_regressor(estimator_class):
    X, _ = _data(estimator_class)
    with pytest.raises(ValueError, match="numeric targets"):
        _make(estimator_class).fit(X, np.array(["cat", "dog"] * 30))


@pytest.mark.parametrize("estimator_class", REGRESSORS)
def test_discrete_targets_warn_once_per_first_fit(estimator_class):
    X, _ = _data(estimator_class)
    scores = np.tile([3.0, 4.0, 5.0, 6.0], 15)
    with pytest.warns(DiscreteTargetWarning, match="only 4 distinct values") as record:
        model = _make(estimator_class).fit(X, scores)
    assert len(record) == 1 and record[0].filename == __file__
    with pytest.warns(DiscreteTargetWarning):
        _make(estimator_class).partial_fit(X, scores)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DiscreteTargetWarning)
        model.partial_fit(X, scores)  # the target was checked on the first call
        _make(estimator_class).fit(X, X[:, 0])  # continuous
        # 20 values, each seen 3 times: too few repeats to call the target discrete
        _make(estimator_class).fit(X, np.repeat(np.arange(20.0), 3))
        X_large, _ = _data(estimator_class, n=126)
        _make(estimator_class).fit(X_large, np.repeat(np.arange(21.0), 6))  # 21 values


@pytest.mark.parametrize("estimator_class", CLASSIFIERS)
def test_single_class_and_continuous_targets_for_a_classifier(estimator_class):
    X, y = _data(estimator_class)
    with pytest.raises(ValueError, match="greater than one"):
        _make(estimator_class).fit(X, np.ones(len(y)))
    with pytest.raises(ValueError, match="Unknown label type"):
        _make(estimator_class).fit(X, X[:, 0])


@pytest.mark.parametrize("estimator_class", ALL)
def test_predict_input_is_checked_and_the_model_survives(estimator_class):
    X, y = _data(estimator_class)
    model = _make(estimator_class).fit(X, y)
    before = model.predict(X)
    for bad, match in [(X[:, :2], "features"), (_with(X, 0, np.nan), "NaN"), (X[:0], "0 sample"),
                       (X[:, 0], "Expected 2D array"), (sp.csr_matrix(X), "[Ss]parse")]:
        with pytest.raises((ValueError, TypeError), match=match):
            model.predict_dist(bad)
    np.testing.assert_array_equal(before, model.predict(X))


@pytest.mark.parametrize("estimator_class", ALL)
def test_dtypes_layouts_and_batch_larger_than_data(estimator_class):
    X, y = _data(estimator_class)
    reference = _make(estimator_class).fit(X, y).predict(X)
    for X_variant in (X.astype(np.float32), np.asfortranarray(X), np.repeat(X, 2, axis=1)[:, ::2]):
        np.testing.assert_allclose(_make(estimator_class).fit(X_variant, y).predict(X), reference,
                                   rtol=1e-5, atol=1e-6)
    fitted = _make(estimator_class).fit(X, y)
    # A reversed view has negative strides, which torch tensors cannot wrap.
    np.testing.assert_array_equal(fitted.predict(X[::-1]), fitted.predict(X)[::-1])
    ints = np.round(X * 10).astype(np.int64)
    assert np.all(np.isfinite(_make(estimator_class).fit(ints, y).predict(ints)))
    large_batch = _make(estimator_class, batch_size=10_000).fit(X, y)
    assert large_batch.n_iter_ == 2


@pytest.mark.parametrize("estimator_class", ALL)
def test_dataframe_feature_names_are_kept_and_checked(estimator_class):
    pd = pytest.importorskip("pandas")
    X, y = _data(estimator_class)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = _make(estimator_class).fit(frame, y)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="feature names"):
        model.predict(frame[["c", "b", "a"]])


@pytest.mark.parametrize("estimator_class", ALL)
def test_bad_parameters_name_the_parameter(estimator_class):
    X, y = _data(estimator_class)
    for params, match in [({"batch_size": 0}, "batch_size"), ({"max_iter": 0}, "max_iter"),
                          ({"alpha": -1.0}, "alpha"), ({"device": "tpu"}, "device"),
                          ({"validation_fraction": 1.5}, "validation_fraction")]:
        with pytest.raises(ValueError, match=match):
            _make(estimator_class).set_params(**params).fit(X, y)


def test_auto_batch_size_with_and_without_a_step_budget():
    assert [auto_batch_size(n) for n in (10, 300, 1999, 2000, 50_000)] == [32, 32, 32, 200, 200]
    # A budget of 2,000 steps over 200 epochs: n / 10 rows, between 32 and 200.
    budget = {"max_iter": 200, "step_budget": 2000}
    assert [auto_batch_size(n, **budget) for n in (10, 300, 691, 1000, 1999, 50_000)] == [
        32, 32, 70, 100, 200, 200,
    ]
    assert auto_batch_size(1000, max_iter=50, step_budget=2000) == 32
    # At least 10 minibatches an epoch: 90 rows take the whole budget in
    # minibatches of 9; fewer epochs than the budget's still get 32 rows.
    floor = {**budget, "min_batches_per_epoch": 10}
    assert [auto_batch_size(n, **floor) for n in (5, 90, 300, 691)] == [1, 9, 30, 70]
    assert auto_batch_size(400, max_iter=3, step_budget=2000, min_batches_per_epoch=10) == 32
    assert auto_batch_size(90, max_iter=3, step_budget=2000, min_batches_per_epoch=10) == 9


# The documented floors of steps per epoch of batch_size="auto"; the others have none.
MIN_BATCHES_PER_EPOCH = {BayesianMLPRegressor: 10}


@pytest.mark.parametrize("estimator_class", ALL)
def test_auto_min_batches_per_epoch(estimator_class):
    expected = MIN_BATCHES_PER_EPOCH.get(estimator_class)
    assert estimator_class._auto_min_batches_per_epoch == expected


# The documented step budgets of batch_size="auto"; the others have none.
STEP_BUDGETS = {BayesianMLPRegressor: 2000, DropoutMLPRegressor: 4000}


@pytest.mark.parametrize("estimator_class", ALL)
def test_auto_batch_follows_a_step_budget(estimator_class):
    assert estimator_class._auto_step_budget == STEP_BUDGETS.get(estimator_class)
    X, y = _data(estimator_class, n=600)
    regressor = is_regressor(estimator_class())
    # Without held-out rows (early stopping, the scale factor) the fit trains
    # on all 600 rows.
    params = {"early_stopping": False, **({"calibrate_scale": False} if regressor else {})}

    def fit(batch_size, budget=None):
        model = _make(estimator_class, batch_size=batch_size, **params)
        if budget is not None:  # a small budget, so that two epochs exceed it
            model._auto_step_budget = budget
        model.fit(X, y)
        return model.predict(X) if regressor else model.predict_proba(X)

    auto = fit("auto", budget=20)  # ceil(600 * 2 / 20) = 60 rows per minibatch
    np.testing.assert_array_equal(auto, fit(60))
    assert not np.array_equal(auto, fit(32))
    if estimator_class._auto_min_batches_per_epoch is not None:
        # 200 rows: the floor is ceil(200 / 10) = 20 rows, not 32.
        X, y = X[:200], y[:200]
        np.testing.assert_array_equal(fit("auto"), fit(20))
        assert not np.array_equal(fit("auto"), fit(32))


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    if not __import__("torch").cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.parametrize("estimator_class", [MixtureDensityRegressor, DropoutMLPRegressor])
def test_fits_in_parallel_threads_equal_serial_fits(estimator_class):
    # Threads share torch's global generator (initialisation, shuffling,
    # dropout); a threaded grid search must still reproduce the serial one.
    X, y = _data(estimator_class, n=200)
    models = [_make(estimator_class, batch_size=16).set_params(max_iter=10, random_state=seed)
              for seed in range(4)]
    serial = [clone(model).fit(X, y).loss_curve_ for model in models]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda model: clone(model).fit(X, y).loss_curve_, models))
    assert threaded == serial


@pytest.mark.parametrize("estimator_class", CLASSIFIERS)
def test_classifiers_stop_early_by_default_where_a_stratified_split_exists(estimator_class):
    assert estimator_class().early_stopping == "auto"
    X, y = _data(estimator_class)
    model = _make(estimator_class).fit(X, y)
    assert len(model.validation_scores_) == model.n_iter_ == 2
    explicit = _make(estimator_class, early_stopping=True).fit(X, y)
    np.testing.assert_array_equal(model.predict_proba(X), explicit.predict_proba(X))


@pytest.mark.parametrize("estimator_class", CLASSIFIERS)
@pytest.mark.parametrize("labels", [
    [0] * 29 + [1],  # a class of one row cannot be in both parts
    list(range(3)) * 3 + [0],  # 10 rows: a 1-row validation split cannot hold 3 classes
], ids=["singleton class", "more classes than validation rows"])
def test_auto_early_stopping_trains_on_every_row_without_a_stratified_split(
    estimator_class, labels
):
    y = np.array(labels)
    X = np.random.default_rng(1).normal(size=(len(y), 3))
    model = _make(estimator_class).fit(X, y)
    assert model.validation_scores_ == []
    off = _make(estimator_class, early_stopping=False).fit(X, y)
    np.testing.assert_array_equal(model.predict_proba(X), off.predict_proba(X))
    with pytest.raises(ValueError, match="early_stopping needs a validation split"):
        _make(estimator_class, early_stopping=True).fit(X, y)


@pytest.mark.parametrize("estimator_class", REGRESSORS)
def test_auto_early_stopping_of_a_regressor_holds_out_rows(estimator_class):
    X, y = _data(estimator_class)
    model = _make(estimator_class, early_stopping="auto").fit(X, y)
    assert len(model.validation_scores_) == 2
