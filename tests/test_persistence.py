import os
import pickle

import joblib
import numpy as np
import pytest
import torch

import skprob
from skprob import (
    BayesianMLPClassifier,
    BayesianMLPRegressor,
    DropoutMLPClassifier,
    DropoutMLPRegressor,
    MixtureDensityRegressor,
)

ESTIMATORS = [MixtureDensityRegressor, DropoutMLPRegressor, BayesianMLPRegressor,
              DropoutMLPClassifier, BayesianMLPClassifier]


def _fitted(estimator_class):
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["mass", "sigma", "radius"])
    y = X["mass"].to_numpy() + 0.1 * rng.normal(size=120)
    if estimator_class in (DropoutMLPClassifier, BayesianMLPClassifier):
        y = np.where(y > 0, "heavy", "light")
    extra = {} if estimator_class is MixtureDensityRegressor else {"n_mc_samples": 5}
    model = estimator_class((8, 4), activation=("relu", "tanh"), max_iter=3, random_state=0,
                            **extra)
    return model.fit(X, y), X, y


def _prediction(model, X):
    dist = model.predict_dist(X)
    return dist.probs if hasattr(dist, "probs") else np.c_[dist.weights, dist.means, dist.stds]


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_safe_format_round_trip_is_bit_identical(estimator_class, tmp_path):
    model, X, y = _fitted(estimator_class)
    path = tmp_path / "model.skprob"
    skprob.save(model, path)
    loaded = skprob.load(path)
    assert type(loaded) is estimator_class
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(_prediction(loaded, X), _prediction(model, X))
    assert list(loaded.feature_names_in_) == ["mass", "sigma", "radius"]
    assert loaded.loss_curve_ == model.loss_curve_ and loaded.n_iter_ == model.n_iter_
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(X[["sigma", "mass", "radius"]])
    loaded.set_params(warm_start=True, max_iter=1).fit(X, y)  # training can continue


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_pickle_and_joblib_round_trips_are_bit_identical(estimator_class, tmp_path):
    model, X, _ = _fitted(estimator_class)
    expected = _prediction(model, X)
    np.testing.assert_array_equal(_prediction(pickle.loads(pickle.dumps(model)), X), expected)
    joblib.dump(model, tmp_path / "model.joblib")
    np.testing.assert_array_equal(_prediction(joblib.load(tmp_path / "model.joblib"), X),
                                  expected)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_tampered_file_is_refused_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.skprob"
    torch.save({"metadata": "{}", "state_dict": {}, "payload": _Exploit(marker)}, path)
    with pytest.raises(ValueError, match="refused"):
        skprob.load(path)
    assert not marker.exists()


def test_other_files_are_rejected(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a file written by skprob.save"):
        skprob.load(path)
    model, _, _ = _fitted(MixtureDensityRegressor)
    edits = [("MixtureDensityRegressor", "os.system"),  # a class skprob does not know
             ('"format": "', '"format": "future-')]  # another format version
    for old, new in edits:
        skprob.save(model, path)
        content = torch.load(path, weights_only=True)
        content["metadata"] = content["metadata"].replace(old, new)
        torch.save(content, path)
        with pytest.raises(ValueError, match="not a file written by skprob.save"):
            skprob.load(path)


def test_numpy_scalar_parameters_are_saved_as_plain_numbers(tmp_path):
    # e.g. the best_params_ of a search over np.logspace come back as numpy scalars
    model, X, _ = _fitted(MixtureDensityRegressor)
    model.set_params(alpha=np.float64(0.01), n_components=np.int64(5))
    skprob.save(model, tmp_path / "model.skprob")
    loaded = skprob.load(tmp_path / "model.skprob")
    assert loaded.get_params()["alpha"] == 0.01 and type(loaded.alpha) is float
    assert loaded.n_components == 5 and type(loaded.n_components) is int
    np.testing.assert_array_equal(_prediction(loaded, X), _prediction(model, X))


def test_save_refuses_unfitted_and_foreign_estimators(tmp_path):
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import Ridge

    with pytest.raises(NotFittedError):
        skprob.save(MixtureDensityRegressor(), tmp_path / "x")
    with pytest.raises(ValueError, match="Ridge"):
        skprob.save(Ridge().fit([[0.0], [1.0]], [0.0, 1.0]), tmp_path / "x")
    model, _, _ = _fitted(MixtureDensityRegressor)
    model.set_params(random_state=np.random.RandomState(0))
    with pytest.raises(ValueError, match="random_state"):
        skprob.save(model, tmp_path / "x")
