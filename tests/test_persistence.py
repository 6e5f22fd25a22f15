import io
import json
import os
import pickle
import resource
import subprocess
import sys
import time
import zipfile

import joblib
import numpy as np
import pytest
import skops.io
import torch
from scipy import stats
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import skprob
from skprob import (
    BayesianMLPClassifier,
    BayesianMLPRegressor,
    DropoutMLPClassifier,
    DropoutMLPRegressor,
    MixtureDensityRegressor,
    PriorReweighter,
)
from skprob.calibration import CalibratedRegressorCV
from skprob.compose import TransformedTargetRegressor
from skprob.pipeline import make_pipeline, predict_dist

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


def test_save_refuses_a_fitted_attribute_the_table_does_not_know(tmp_path):
    model, _, _ = _fitted(MixtureDensityRegressor)
    model._y_floor_ = 0.1  # e.g. a new attribute added to the estimator but not registered
    with pytest.raises(ValueError, match=r"_y_floor_.*FITTED_ATTRIBUTES"):
        skprob.save(model, tmp_path / "x")


def test_load_leaves_torch_global_rng_alone(tmp_path):
    model, _, _ = _fitted(BayesianMLPClassifier)
    skprob.save(model, tmp_path / "model.skprob")
    state = torch.get_rng_state()
    skprob.load(tmp_path / "model.skprob")
    assert torch.equal(state, torch.get_rng_state())


def test_file_without_optional_feature_names_loads(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 2)), rng.normal(size=60)
    model = MixtureDensityRegressor((4,), max_iter=2, random_state=0).fit(X, y)
    skprob.save(model, tmp_path / "model.skprob")
    loaded = skprob.load(tmp_path / "model.skprob")
    assert not hasattr(loaded, "feature_names_in_")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


# ------------------------------------------------------------- hostile files
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Paths of a saved regressor and classifier, to be copied and tampered with."""
    paths = {}
    for estimator_class in (MixtureDensityRegressor, DropoutMLPClassifier):
        model, _, _ = _fitted(estimator_class)
        paths[estimator_class] = tmp_path_factory.mktemp("saved") / "model.skprob"
        skprob.save(model, paths[estimator_class])
    return paths


def _tampered(source, target, edit_metadata=None, edit_state=None):
    content = torch.load(source, weights_only=True)
    metadata = json.loads(content["metadata"])
    if edit_metadata is not None:
        edit_metadata(metadata)
    if edit_state is not None:
        edit_state(content["state_dict"])
    content["metadata"] = json.dumps(metadata)
    torch.save(content, target)
    return target


def _refused(path, match):
    with pytest.raises(ValueError, match=match) as info:
        skprob.load(path)
    assert isinstance(info.value, skprob._persistence.UnsafeFileError)
    return info.value


@pytest.mark.parametrize("dtype", ["(100000,100000)f8", "(1000,)<U1000", "[('a', '<f8')]",
                                   "|O", "<U100000", "<M8[ns]", "V8", 7])
def test_dtypes_outside_the_allow_list_are_refused(saved, tmp_path, dtype):
    def edit(metadata):
        metadata["fitted"]["feature_names_in_"]["dtype"] = dtype

    path = _tampered(saved[MixtureDensityRegressor], tmp_path / "x", edit)
    _refused(path, "dtype")


def _rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@pytest.mark.parametrize("edit", [
    # 8000 x 8000 float32 weights: 256 MB the old loader allocated and initialised
    lambda m: m["params"].update(hidden_layer_sizes={"__tuple__": [8000, 8000]}),
    lambda m: m["fitted"].update(n_features_in_=10**8) or m["fitted"].pop("feature_names_in_"),
    lambda m: m["params"].update(n_components=10**8),
], ids=["hidden_layer_sizes", "n_features_in_", "n_components"])
def test_declared_sizes_beyond_the_file_are_refused_without_allocating(saved, tmp_path, edit):
    path = _tampered(saved[MixtureDensityRegressor], tmp_path / "x", edit)
    peak, start = _rss_bytes(), time.perf_counter()
    error = _refused(path, "more than the whole file holds")
    assert time.perf_counter() - start < 1.0
    assert _rss_bytes() - peak < 64 * 2**20, error


def test_more_layers_than_tensors_are_refused_before_building(saved, tmp_path):
    def edit(metadata):
        metadata["params"].update(hidden_layer_sizes={"__tuple__": [1] * 10**5},
                                  activation="relu")

    path = _tampered(saved[MixtureDensityRegressor], tmp_path / "x", edit)
    start = time.perf_counter()
    _refused(path, "100000 layers but the file holds only 6 tensors")
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("version", [999, 0, "1", None])
def test_other_format_versions_are_refused(saved, tmp_path, version):
    path = _tampered(saved[MixtureDensityRegressor], tmp_path / "x",
                     lambda m: m.update(format_version=version))
    _refused(path, rf"format version {version!r}.*reads version 1")


def test_other_files_are_refused(saved, tmp_path):
    torch.save({"weight": torch.zeros(2)}, tmp_path / "weights.pt")
    _refused(tmp_path / "weights.pt", "not a file written by skprob.save")
    path = _tampered(saved[MixtureDensityRegressor], tmp_path / "x",
                     lambda m: m.update(format="future-skprob-estimator"))
    _refused(path, "not a file written by skprob.save")
    path = _tampered(saved[MixtureDensityRegressor], tmp_path / "x",
                     lambda m: m.update({"class": "os.system"}))
    _refused(path, "class 'os.system', which is not one of the skprob networks")


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_files_are_refused(saved, tmp_path, fraction):
    data = saved[DropoutMLPClassifier].read_bytes()
    path = tmp_path / "x"
    path.write_bytes(data[: int(fraction * len(data))])
    _refused(path, "not a zip archive")


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_are_refused(tmp_path, seed):
    path = tmp_path / "x"
    path.write_bytes(np.random.default_rng(seed).bytes(4096))
    _refused(path, "not a zip archive")


def test_damaged_pickle_is_refused(saved, tmp_path):
    # a valid zip archive whose data.pkl is cut short: torch raises EOFError/UnpicklingError
    source = saved[DropoutMLPClassifier]
    path = tmp_path / "x"
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(path, "w") as out:
        for entry in archive.infolist():
            data = archive.read(entry)
            out.writestr(entry, data[: len(data) // 2] if entry.filename.endswith(".pkl")
                         else data)
    _refused(path, "refused")


def test_compressed_entries_are_refused(saved, tmp_path):
    source = saved[DropoutMLPClassifier]
    path = tmp_path / "x"
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) \
            as out:
        for entry in archive.infolist():
            out.writestr(entry.filename, archive.read(entry))
    _refused(path, "compressed entries")


@pytest.mark.parametrize("content, match", [
    ({"metadata": 3, "state_dict": {}}, "not JSON text"),
    ({"metadata": "{", "state_dict": {}}, "not valid JSON"),
    ({"metadata": "[]", "state_dict": {}}, "not a file written by skprob.save"),
    ({"metadata": "{}"}, "not a file written by skprob.save"),
    ([1, 2], "not a file written by skprob.save"),
    ({"metadata": "[" * 100000 + "]" * 100000, "state_dict": {}}, "not valid JSON"),
])
def test_files_of_the_wrong_structure_are_refused(tmp_path, content, match):
    torch.save(content, tmp_path / "x")
    _refused(tmp_path / "x", match)


def _set(section, name, value):
    return lambda m: m[section].__setitem__(name, value)


@pytest.mark.parametrize("estimator_class, edit, match", [
    (MixtureDensityRegressor, _set("fitted", "_y_scale", -1.0), r"_y_scale=-1.0 .* positive"),
    (MixtureDensityRegressor, _set("fitted", "_y_scale", 0), r"_y_scale=0 .* positive"),
    (MixtureDensityRegressor, _set("fitted", "_y_scale", "1"), "_y_scale='1'.*finite number"),
    (MixtureDensityRegressor, _set("fitted", "_y_mean", [0.0]), "_y_mean=.*finite number"),
    (MixtureDensityRegressor, _set("fitted", "_y_mean", 1e400), "non-finite number Infinity"),
    (MixtureDensityRegressor, _set("fitted", "n_features_in_", 0), "n_features_in_=0"),
    (MixtureDensityRegressor, _set("fitted", "n_features_in_", 2.5), "n_features_in_=2.5"),
    (MixtureDensityRegressor, _set("fitted", "n_features_in_", True), "n_features_in_=True"),
    (MixtureDensityRegressor, _set("fitted", "loss_curve_", 1.0), "loss_curve_=1.0"),
    (MixtureDensityRegressor, _set("fitted", "loss_curve_", [1.0, "x"]), "loss_curve_="),
    (MixtureDensityRegressor, _set("fitted", "validation_scores_", None), "validation_scores_"),
    (MixtureDensityRegressor, _set("fitted", "n_iter_", -1), r"n_iter_=-1 .* \[0, inf\]"),
    (MixtureDensityRegressor, _set("fitted", "best_loss_", None), "best_loss_=None"),
    (MixtureDensityRegressor, _set("fitted", "_prediction_seed", -1), "_prediction_seed=-1"),
    (MixtureDensityRegressor, _set("fitted", "calibration_scale_", -1.0), "calibration_scale_"),
    (MixtureDensityRegressor, _set("fitted", "calibration_scale_", "1"), "calibration_scale_"),
    (MixtureDensityRegressor, _set("fitted", "tail_weight_", 1.0), "tail_weight_"),
    (MixtureDensityRegressor, _set("fitted", "tail_weight_", -0.01), "tail_weight_"),
    (MixtureDensityRegressor, _set("fitted", "_prediction_seed", 2**40), "_prediction_seed="),
    (MixtureDensityRegressor, _set("fitted", "feature_names_in_",
                                   {"__ndarray__": ["a", "b"], "dtype": "str"}),
     "feature_names_in_=.*n_features_in_=3 names"),
    (MixtureDensityRegressor, _set("fitted", "feature_names_in_",
                                   {"__ndarray__": [1, 2, 3], "dtype": "<i8"}),
     "feature_names_in_=.*1-D array"),
    (MixtureDensityRegressor, _set("fitted", "feature_names_in_",
                                   {"__ndarray__": [1, 2, 3], "dtype": "str"}),
     "holds values of another type"),
    (MixtureDensityRegressor, _set("fitted", "feature_names_in_", ["a", "b", "c"]),
     "feature_names_in_=.*1-D array"),
    (DropoutMLPClassifier, _set("fitted", "classes_",
                                {"__ndarray__": ["light", "heavy"], "dtype": "<U5"}),
     "classes_=.*sorted and unique"),
    (DropoutMLPClassifier, _set("fitted", "classes_",
                                {"__ndarray__": ["a", "a"], "dtype": "<U1"}),
     "classes_=.*sorted and unique"),
    (DropoutMLPClassifier, _set("fitted", "classes_", {"__ndarray__": ["a"], "dtype": "<U1"}),
     "classes_=.*at least 2 classes"),
    (DropoutMLPClassifier, _set("fitted", "classes_", {"__ndarray__": [[0, 1]], "dtype": "<i8"}),
     "flat list"),
    (DropoutMLPClassifier, _set("fitted", "classes_", "ab"), "classes_='ab'.*1-D array"),
])
def test_invalid_fitted_attributes_are_refused(saved, tmp_path, estimator_class, edit, match):
    path = _tampered(saved[estimator_class], tmp_path / "x", edit)
    _refused(path, match)


def test_file_written_before_the_scale_factor_loads_with_factor_one(saved, tmp_path):
    path = _tampered(saved[MixtureDensityRegressor], tmp_path / "x",
                     lambda m: m["fitted"].pop("calibration_scale_"))
    assert skprob.load(path).calibration_scale_ == 1.0


def test_file_written_before_the_tail_guard_loads_without_a_tail(saved, tmp_path):
    def before_the_tail(model):
        model["fitted"].pop("tail_weight_")
        model["params"].pop("tail_weight")

    path = _tampered(saved[MixtureDensityRegressor], tmp_path / "x", before_the_tail)
    loaded = skprob.load(path)
    assert loaded.tail_weight_ == 0.0
    assert loaded.predict_dist(np.zeros((2, 3))).n_components == loaded.n_components


def test_missing_and_unknown_fitted_attributes_are_refused(saved, tmp_path):
    source = saved[MixtureDensityRegressor]
    path = _tampered(source, tmp_path / "x", lambda m: m["fitted"].pop("_y_scale"))
    _refused(path, "lacks the fitted attribute _y_scale of MixtureDensityRegressor")
    path = _tampered(source, tmp_path / "x", lambda m: m["fitted"].pop("n_features_in_"))
    _refused(path, "lacks the fitted attribute n_features_in_")
    path = _tampered(source, tmp_path / "x", _set("fitted", "predict", "x"))
    _refused(path, r"unknown fitted attribute\(s\) \['predict'\]")
    path = _tampered(saved[DropoutMLPClassifier], tmp_path / "x",
                     _set("fitted", "_y_mean", 0.0))
    _refused(path, r"unknown fitted attribute\(s\) \['_y_mean'\]")
    path = _tampered(source, tmp_path / "x", _set("fitted", "module_", 0))
    _refused(path, "unknown fitted attribute")
    path = _tampered(source, tmp_path / "x", lambda m: m.update(fitted=[]))
    _refused(path, "no fitted attributes")


@pytest.mark.parametrize("edit, match", [
    (_set("params", "predict", "x"), r"unknown parameter\(s\) \['predict'\]"),
    (_set("params", "n_components", 0), "n_components"),
    (_set("params", "activation", "os.system"), "activation"),
    (_set("params", "activation", {"__tuple__": ["relu"]}), "activation has 1 entries"),
    (_set("params", "hidden_layer_sizes", {"__tuple__": [8, "4"]}), "hidden_layer_sizes"),
    (_set("params", "hidden_layer_sizes", {"__tuple__": [8, -4]}), "hidden_layer_sizes"),
    (_set("params", "random_state", {"seed": 1}), "unexpected mapping"),
])
def test_unknown_and_invalid_parameters_are_refused(saved, tmp_path, edit, match):
    path = _tampered(saved[MixtureDensityRegressor], tmp_path / "x", edit)
    _refused(path, match)


@pytest.mark.parametrize("edit_metadata, edit_state, match", [
    (None, lambda s: s.__setitem__("head.linear.bias", torch.zeros(14)),
     r"head.linear.bias has shape \(14,\).*imply \(15,\)"),
    (None, lambda s: s.__setitem__("head.linear.bias", torch.zeros(15, dtype=torch.float64)),
     "torch.float64"),
    (None, lambda s: s.pop("head.linear.bias"), r"missing \['head.linear.bias'\]"),
    (None, lambda s: s.__setitem__("extra", torch.zeros(1)), r"unexpected \['extra'\]"),
    (None, lambda s: s.__setitem__("trunk.0.weight", s["trunk.0.weight"].t()), "contiguous"),
    (None, lambda s: s.__setitem__("trunk.0.weight", torch.zeros(1).expand(8, 3)),
     "contiguous"),
    (None, lambda s: s.__setitem__("trunk.0.weight", [0.0]), "not a named tensor"),
    (_set("fitted", "n_features_in_", 4), None, r"trunk.0.weight has shape \(8, 3\).*\(8, 4\)"),
    (_set("params", "n_components", 4), None, r"head.linear.weight has shape \(15, 4\).*\(12, 4\)"),
    (_set("params", "hidden_layer_sizes", {"__tuple__": [8, 5]}), None, "has shape"),
])
def test_tensors_that_do_not_match_the_network_are_refused(saved, tmp_path, edit_metadata,
                                                           edit_state, match):
    def edit(metadata):
        if edit_metadata is not None:
            edit_metadata(metadata)
        metadata["fitted"].pop("feature_names_in_")

    path = _tampered(saved[MixtureDensityRegressor], tmp_path / "x", edit, edit_state)
    _refused(path, match)


def test_too_many_classes_for_the_head_are_refused(saved, tmp_path):
    path = _tampered(saved[DropoutMLPClassifier], tmp_path / "x", _set(
        "fitted", "classes_", {"__ndarray__": ["a", "b", "c"], "dtype": "<U1"}))
    _refused(path, r"head.linear.weight has shape \(2, 4\).*imply \(3, 4\)")


# ------------------------------------------------- pipelines and meta-estimators
def _dist_values(dist, y):
    if hasattr(dist, "probs"):
        return dist.probs
    return np.c_[dist.mean(), dist.logpdf(y)]


def _round_trip(model, X, y, tmp_path):
    path = tmp_path / "model.skprob"
    skprob.save(model, path)
    loaded = skprob.load(path)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(_dist_values(predict_dist(loaded, X), y),
                                  _dist_values(predict_dist(model, X), y))
    return loaded


@pytest.mark.parametrize("make", [sk_make_pipeline, make_pipeline], ids=["sklearn", "skprob"])
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_pipeline_round_trip_is_bit_identical(estimator_class, make, tmp_path):
    network, X, y = _fitted(estimator_class)
    model = make(StandardScaler(), clone(network)).fit(X, y)
    loaded = _round_trip(model, X, y, tmp_path)
    assert isinstance(loaded[-1], estimator_class) and loaded[-1] is not model[-1]
    np.testing.assert_array_equal(loaded[0].scale_, model[0].scale_)


def test_nested_pipeline_and_transformed_target_round_trip(tmp_path):
    network, X, y = _fitted(DropoutMLPRegressor)
    inner = make_pipeline(PCA(2, random_state=0), clone(network))
    model = TransformedTargetRegressor(make_pipeline(StandardScaler(), inner))
    model.fit(X, np.exp(y))
    loaded = _round_trip(model, X, np.exp(y), tmp_path)
    assert loaded.transform_ is model.transform_  # the named transform, restored by name
    assert isinstance(loaded.regressor_[-1][-1], DropoutMLPRegressor)
    assert not hasattr(loaded.regressor[-1][-1], "module_")  # the unfitted prototype


@pytest.mark.parametrize("estimator_class", [DropoutMLPClassifier, BayesianMLPClassifier,
                                             LogisticRegression])
def test_prior_reweighter_classifier_round_trip(estimator_class, tmp_path):
    _, X, y = _fitted(DropoutMLPClassifier)
    base = _fitted(estimator_class)[0] if estimator_class is not LogisticRegression \
        else LogisticRegression()
    model = PriorReweighter(sk_make_pipeline(StandardScaler(), clone(base)),
                            target_prior={"heavy": 0.2, "light": 0.8}).fit(X, y)
    model.fit_target_prior(X[:50])
    loaded = _round_trip(model, X, y, tmp_path)
    assert loaded.em_n_iter_ == model.em_n_iter_
    np.testing.assert_array_equal(loaded.target_prior_, model.target_prior_)


def test_prior_reweighter_regressor_round_trip(tmp_path):
    network, X, y = _fitted(MixtureDensityRegressor)
    model = PriorReweighter(network, target_prior=stats.norm(0.5, 2.0), n_grid=64,
                            prefit=True).fit(X, y)
    loaded = _round_trip(model, X, y, tmp_path)
    assert loaded.estimator_ is loaded.estimator  # prefit: one network, stored once
    assert (loaded.target_prior.mean(), loaded.target_prior.std()) == (0.5, 2.0)
    np.testing.assert_array_equal(loaded.train_prior_.density, model.train_prior_.density)


def test_save_refuses_code_in_a_pipeline(tmp_path):
    from skprob.distributions import MonotoneTransform

    network, X, y = _fitted(MixtureDensityRegressor)
    square = MonotoneTransform(np.sqrt, np.square, lambda v: -np.log(2 * np.sqrt(v)),
                               (0, np.inf), "sqrt")
    models = [
        (sk_make_pipeline(FunctionTransformer(lambda v: v), clone(network)), "lambda"),
        (TransformedTargetRegressor(clone(network), transform=square), "MonotoneTransform"),
        (PriorReweighter(clone(network), target_prior=lambda v: np.ones_like(v)), "lambda"),
    ]
    for model, match in models:
        model.fit(X, np.abs(y) + 0.1)
        with pytest.raises(ValueError, match=match):
            skprob.save(model, tmp_path / "x")
    with pytest.raises(ValueError, match="StandardScaler"):
        skprob.save(StandardScaler().fit(X), tmp_path / "x")


@pytest.fixture(scope="module")
def saved_pipeline(tmp_path_factory):
    network, X, y = _fitted(DropoutMLPClassifier)
    model = PriorReweighter(sk_make_pipeline(StandardScaler(), network)).fit(X, y)
    path = tmp_path_factory.mktemp("saved") / "pipeline.skprob"
    skprob.save(model, path)
    return path


def _with_skops_part(source, target, obj):
    content = torch.load(source, weights_only=True)
    content["skops"] = torch.frombuffer(bytearray(skops.io.dumps(obj)), dtype=torch.uint8)
    torch.save(content, target)
    return target


def _edited_tree(source, edit):
    data = torch.load(source, weights_only=True)["skops"].numpy().tobytes()
    tree = skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))
    edit(tree)
    return tree


class _Marker:
    """A class whose restoring writes a file: a stand-in for code in a tampered file."""

    def __setstate__(self, state):
        open(state["path"], "w").close()


def test_untrusted_types_in_the_skops_part_are_refused_and_not_run(saved_pipeline, tmp_path):
    marker = tmp_path / "pwned"
    payloads = [
        (sk_make_pipeline(FunctionTransformer(os.system, kw_args={"command": f"touch {marker}"})),
         "system"),
        (sk_make_pipeline(FunctionTransformer(_Marker())), "_Marker"),
        (PriorReweighter(MixtureDensityRegressor(), target_prior=stats.norm()), "scipy.stats"),
        (sk_make_pipeline(StandardScaler(), MixtureDensityRegressor()), "MixtureDensityRegressor"),
    ]
    payloads[1][0][0].func.__dict__["path"] = str(marker)
    for payload, match in payloads:
        path = _with_skops_part(saved_pipeline, tmp_path / "x", payload)
        _refused(path, rf"{match}.*does not trust")
        path.unlink()
    assert not marker.exists()


@pytest.mark.parametrize("edit, match", [
    (lambda t: setattr(t, "train_prior_", -t.train_prior_), "train_prior_=.*positive"),
    (lambda t: setattr(t, "target_prior_", np.r_[t.target_prior_, 0.0]), "one entry per class"),
    (lambda t: setattr(t, "classes_", t.classes_[::-1]), "classes_="),
    (lambda t: setattr(t, "n_grid", 1), "n_grid"),
    (lambda t: setattr(t, "surprise_", 1), r"unknown fitted attribute\(s\) \['surprise_'\]"),
    (lambda t: delattr(t, "estimator_"), "lacks the fitted attribute estimator_"),
    (lambda t: setattr(t.estimator_.steps[1][1], "index", 3), "refers to a network 3"),
])
def test_invalid_meta_estimator_state_is_refused(saved_pipeline, tmp_path, edit, match):
    path = _with_skops_part(saved_pipeline, tmp_path / "x", _edited_tree(saved_pipeline, edit))
    _refused(path, match)


def test_composite_file_with_mismatched_networks_is_refused(saved_pipeline, tmp_path):
    content = torch.load(saved_pipeline, weights_only=True)
    content["networks"] = []
    torch.save(content, tmp_path / "x")
    _refused(tmp_path / "x", "list of networks does not match")
    content = torch.load(saved_pipeline, weights_only=True)
    content["skops"] = torch.zeros(100, dtype=torch.uint8)
    torch.save(content, tmp_path / "x")
    _refused(tmp_path / "x", "skops part is not a zip archive")


# ------------------------------------------------------------ CalibratedRegressorCV
def _calibrated(kind, method):
    """A fitted CalibratedRegressorCV (or a pipeline ending in one), with its data."""
    base = DropoutMLPRegressor if kind == "dropout" else MixtureDensityRegressor
    network, X, y = _fitted(base)
    if kind == "frozen":  # split calibration of a prefitted model
        return CalibratedRegressorCV(FrozenEstimator(network), method=method).fit(X, y), X, y
    model = CalibratedRegressorCV(clone(network), method=method, cv=2)
    if kind == "pipeline":
        model = make_pipeline(StandardScaler(), model)
    return model.fit(X, y), X, y


def _skops_types(path):
    data = torch.load(path, weights_only=True)["skops"].numpy().tobytes()
    return skops.io.get_untrusted_types(data=data)


@pytest.mark.parametrize("method", ["isotonic", "conformal"])
@pytest.mark.parametrize("kind", ["mdn", "dropout", "frozen", "pipeline"])
def test_calibrated_regressor_round_trip_is_bit_identical(kind, method, tmp_path):
    model, X, y = _calibrated(kind, method)
    path = tmp_path / "model.skprob"
    skprob.save(model, path)
    loaded = skprob.load(path)
    assert type(loaded) is type(model)
    expected, got = model.predict_dist(X), loaded.predict_dist(X)
    levels = np.tile([0.01, 0.5, 0.99], (len(y), 1))
    for values in (lambda d: d.cdf(y), lambda d: d.ppf(levels), lambda d: d.mean(),
                   lambda d: d.logpdf(y)):
        np.testing.assert_array_equal(values(got), values(expected))
    calibrated, original = (loaded[-1], model[-1]) if kind == "pipeline" else (loaded, model)
    np.testing.assert_array_equal(calibrated.pit_, original.pit_)
    assert calibrated.calibration_map_ == original.calibration_map_
    assert calibrated.calibration_map_.method == method
    assert list(loaded.feature_names_in_) == ["mass", "sigma", "radius"]
    if kind == "frozen":  # the prefitted model is both estimator and estimator_, stored once
        assert isinstance(loaded.estimator_, FrozenEstimator)
        assert loaded.estimator_ is loaded.estimator
    # the map is stored as arrays: no scipy spline (nor the map object) is in the file
    types = _skops_types(path)
    assert "skprob._persistence._composite._CalibrationMapSlot" in types
    assert not [t for t in types if t.startswith("scipy") or t.endswith(".CalibrationMap")]


def test_unfitted_calibrated_regressor_saves_like_other_meta_estimators(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        skprob.save(CalibratedRegressorCV(MixtureDensityRegressor()), tmp_path / "x")
    # as the unfitted prototype of a fitted meta-estimator it is stored by its parameters
    network, X, y = _fitted(MixtureDensityRegressor)
    model = TransformedTargetRegressor(CalibratedRegressorCV(clone(network), cv=2))
    loaded = _round_trip(model.fit(X, np.exp(y)), X, np.exp(y), tmp_path)
    assert loaded.regressor.get_params()["cv"] == 2
    assert not hasattr(loaded.regressor, "calibration_map_")
    assert isinstance(loaded.regressor_.calibration_map_, type(model.regressor_.calibration_map_))


def test_save_refuses_a_calibration_map_subclass(tmp_path):
    from skprob.distributions import CalibrationMap

    class _Custom(CalibrationMap):
        pass

    model, _, _ = _calibrated("frozen", "isotonic")
    cmap = model.calibration_map_
    model.calibration_map_ = _Custom(cmap.knots, cmap.values, cmap.slopes)
    with pytest.raises(ValueError, match="_Custom: only a CalibrationMap itself"):
        skprob.save(model, tmp_path / "x")


@pytest.fixture(scope="module")
def saved_calibrated(tmp_path_factory):
    model, _, _ = _calibrated("frozen", "conformal")
    path = tmp_path_factory.mktemp("saved") / "calibrated.skprob"
    skprob.save(model, path)
    return path


def _edit_map(name, change):
    def edit(tree):
        array = getattr(tree.calibration_map_, name).copy()
        setattr(tree.calibration_map_, name, change(array))

    return edit


def _set_item(index, value):
    def change(array):
        array[index] = value
        return array

    return change


def _swap_values(values):
    values[[1, 2]] = values[[2, 1]]
    return values


@pytest.mark.parametrize("edit, match", [
    (_edit_map("values", _swap_values), "calibration map is invalid: values must be strictly "
                                        "increasing"),
    (_edit_map("values", lambda v: v[::-1].copy()), "values must start at 0 and end at 1"),
    (_edit_map("values", lambda v: 2 * v), "values must start at 0 and end at 1"),
    (_edit_map("knots", _set_item(1, np.nan)), r"knots must be finite"),
    (_edit_map("knots", _set_item(1, -0.5)), "knots must be strictly increasing"),
    (_edit_map("knots", lambda k: 2 * k), "knots must start at 0 and end at 1"),
    (_edit_map("slopes", _set_item(1, np.inf)), "slopes must be finite"),
    (_edit_map("slopes", _set_item(1, -1.0)), "slopes must be positive"),
    (_edit_map("slopes", lambda s: 100 * s), "at most 3 times the secants"),
    (_edit_map("slopes", lambda s: s[:-1]), "slopes must have shape"),
    (_edit_map("values", lambda v: v[:-1]), "knots and values must have the same length"),
    (_edit_map("knots", lambda k: k[:0]), "knots and values must have the same length"),
    (_edit_map("knots", list), "calibration map's knots is not a 1-D float64 array"),
    (_edit_map("knots", lambda k: k.astype(np.float32)), "knots is not a 1-D float64 array"),
    (_edit_map("knots", lambda k: k.astype(np.int64)), "knots is not a 1-D float64 array"),
    (_edit_map("values", lambda v: v[None]), "values is not a 1-D float64 array"),
    (lambda t: setattr(t.calibration_map_, "method", "os.system"),
     "calibration map has the unknown method 'os.system'"),
    (lambda t: setattr(t.calibration_map_, "method", ["conformal"]), "unknown method"),
    (lambda t: setattr(t.calibration_map_, "extra", 1), "_CalibrationMapSlot in the file has "
                                                        "the fields"),
    (lambda t: delattr(t.calibration_map_, "slopes"), "_CalibrationMapSlot in the file has"),
    (lambda t: setattr(t, "calibration_map_", stats.norm()), r"scipy\.stats.*does not trust"),
    (lambda t: setattr(t, "calibration_map_", t.pit_), "calibration_map_=.*CalibrationMap"),
    (lambda t: delattr(t, "calibration_map_"), "lacks the fitted attribute calibration_map_"),
    (lambda t: setattr(t, "pit_", t.pit_ + 2.0), r"pit_=.*PIT values in \[0, 1\]"),
    (lambda t: setattr(t, "pit_", t.pit_[:0]), r"pit_=.*PIT values in \[0, 1\]"),
    (lambda t: setattr(t, "pit_", np.r_[np.nan, t.pit_]), "pit_=.*must be finite"),
    (lambda t: setattr(t, "pit_", t.pit_[None]), "pit_=.*1-D array"),
    (lambda t: setattr(t, "estimator_", StandardScaler()), "estimator_=.*fit and predict_dist"),
    (lambda t: setattr(t, "n_features_in_", 7), "n_features_in_=7.*estimator_.n_features_in_=3"),
    (lambda t: setattr(t, "feature_names_in_", t.feature_names_in_[::-1]),
     "feature_names_in_=.*must equal estimator_.feature_names_in_"),
    (lambda t: delattr(t, "n_features_in_"), "feature_names_in_=.*without n_features_in_"),
    (lambda t: setattr(t, "method", "magic"), "CalibratedRegressorCV parameters are invalid"),
])
def test_invalid_calibrated_regressor_state_is_refused(saved_calibrated, tmp_path, edit, match):
    path = _with_skops_part(saved_calibrated, tmp_path / "x",
                            _edited_tree(saved_calibrated, edit))
    _refused(path, match)


@pytest.mark.parametrize("count", [10**9, 10**12])
def test_calibration_map_declaring_more_values_than_the_file_is_refused(saved_calibrated,
                                                                         tmp_path, count):
    # the .npy header of the knots claims `count` values; the entry holds ~100
    content = torch.load(saved_calibrated, weights_only=True)
    data = content["skops"].numpy().tobytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read("schema.json"))
        knots = schema["content"]["content"]["calibration_map_"]["content"]["content"]["knots"]
        entries = {entry.filename: archive.read(entry) for entry in archive.infolist()}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (count,)})
    raw = io.BytesIO(entries[knots["file"]])
    np.lib.format.read_magic(raw)
    np.lib.format.read_array_header_1_0(raw)
    entries[knots["file"]] = header.getvalue() + raw.read()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, value in entries.items():
            archive.writestr(name, value)
    content["skops"] = torch.frombuffer(bytearray(out.getvalue()), dtype=torch.uint8)
    torch.save(content, tmp_path / "x")
    peak, start = _rss_bytes(), time.perf_counter()
    error = _refused(tmp_path / "x", "refused")
    assert time.perf_counter() - start < 1.0
    assert _rss_bytes() - peak < 64 * 2**20, error


def test_skops_is_imported_only_to_save_or_load_a_composite(tmp_path):
    # ``import skprob`` must not pay for skops (about a second); saving a
    # pipeline then imports it and still works in the same process.
    code = (
        "import sys\n"
        "import skprob\n"
        "assert 'skops' not in sys.modules, 'import skprob imported skops'\n"
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler\n"
        "import numpy as np\n"
        "X = np.linspace(-1, 1, 40)[:, None]\n"
        "model = make_pipeline(StandardScaler(), skprob.MixtureDensityRegressor(\n"
        "    n_components=1, max_iter=2, early_stopping=False, random_state=0)).fit(X, X[:, 0])\n"
        f"skprob.save(model, {str(tmp_path / 'model.pt')!r})\n"
        "assert 'skops' in sys.modules\n"
        f"loaded = skprob.load({str(tmp_path / 'model.pt')!r})\n"
        "np.testing.assert_array_equal(loaded.predict(X), model.predict(X))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
