"""The fitted attributes a saved estimator may have: ONE table, checked on save and on load.

Each row names an attribute, the estimators that have it (``owner``), a check
that validates a value read from an untrusted file (and may normalise it), and
what happens when a file lacks it: ``REQUIRED`` refuses the file, ``OPTIONAL``
leaves it unset (``feature_names_in_`` exists only after a fit on a
DataFrame), and any other value is the default used for files written before
the attribute existed.

To add a fitted attribute to an estimator, add a row here: :func:`skprob.save`
refuses an estimator with an attribute the table does not know, so a round
trip test fails until it is registered. A check receives the value and the
attributes validated so far (rows earlier in the table), and raises
``ValueError`` saying what is wrong.
"""

import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, NamedTuple

import numpy as np

from skprob._persistence._values import UnsafeFileError

REQUIRED = "required"
OPTIONAL = "optional"
# Upper bound of the seeds skprob draws for its Monte Carlo passes.
_MAX_SEED = np.iinfo(np.int32).max


class Attribute(NamedTuple):
    name: str
    owner: str
    check: Callable[[Any, dict], Any]
    missing: Any = REQUIRED


# ------------------------------------------------------------------ checks
def _integer(low, high=None):
    def check(value, _):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise ValueError("must be an integer")
        if value < low or (high is not None and value > high):
            raise ValueError(f"must be in [{low}, {'inf' if high is None else high}]")
        return int(value)

    return check


def _finite(*, positive=False, non_negative=False):
    def check(value, _):
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise ValueError("must be a finite number")
        if positive and not value > 0:
            raise ValueError("must be positive")
        if non_negative and not value >= 0:
            raise ValueError("must be non-negative")
        return float(value)

    return check


def _tail_weight(value, done):
    """A weight in [0, 1): at 1 nothing would be left but the tail."""
    value = _finite(non_negative=True)(value, done)
    if not value < 1:
        raise ValueError("must be below 1")
    return value


def _per_output(*, positive=False):
    """A float for one output, a finite 1-D array of ``n_outputs_`` values for several."""
    def check(value, done):
        if done["n_outputs_"] == 1:
            return _finite(positive=positive)(value, done)
        value = _one_dimensional(value, "f")
        if value.shape != (done["n_outputs_"],):
            raise ValueError(f"must have one entry per output ({done['n_outputs_']})")
        if positive and not np.all(value > 0):
            raise ValueError("must be positive")
        return value

    return check


def _finite_list(value, _):
    if not isinstance(value, list):
        raise ValueError("must be a list of finite numbers")
    return [_finite()(v, _) for v in value]


def _one_dimensional(value, kinds):
    if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.kind not in kinds:
        raise ValueError("must be a 1-D array")
    if value.dtype.kind == "O" and not all(isinstance(v, str) for v in value):
        raise ValueError("must hold strings only")
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise ValueError("must be finite")
    return value


def _feature_names(value, done):
    value = _one_dimensional(value, "OU")
    if len(value) != done["n_features_in_"]:
        raise ValueError(f"must have n_features_in_={done['n_features_in_']} names, "
                         f"got {len(value)}")
    return value


def _classes(value, _):
    value = _one_dimensional(value, "biufOU")
    if len(value) < 2:
        raise ValueError("must hold at least 2 classes")
    if not (len(np.unique(value)) == len(value) and np.all(np.unique(value) == value)):
        raise ValueError("must be sorted and unique")
    return value


def _same_classes_as_estimator(value, done):
    value = _classes(value, done)
    inner = getattr(done["estimator_"], "classes_", None)
    if inner is None or not np.array_equal(np.asarray(inner), value):
        raise ValueError("must equal estimator_.classes_")
    return value


def _probabilities(*, positive):
    def check(value, done):
        value = _one_dimensional(value, "f")
        if value.shape != (len(done["classes_"]),):
            raise ValueError(f"must have one entry per class ({len(done['classes_'])})")
        if np.any(value <= 0 if positive else value < 0) or abs(value.sum() - 1) > 1e-9:
            raise ValueError(f"must be {'positive' if positive else 'non-negative'} "
                             "probabilities summing to 1")
        return value

    return check


def _estimator_with(*methods):
    def check(value, _):
        missing = [m for m in methods if not callable(getattr(value, m, None))]
        if missing:
            raise ValueError(f"must be an estimator with {', '.join(missing)}")
        return value

    return check


def _inner_n_features(inner):
    def check(value, done):
        value = _integer(1)(value, done)
        expected = getattr(done[inner], "n_features_in_", value)
        if value != expected:
            raise ValueError(f"must equal {inner}.n_features_in_={expected}")
        return value

    return check


def _predictive_estimator(value, _):
    """An estimator with ``fit`` and ``predict_dist`` (a pipeline ending in one), maybe frozen."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import Pipeline

    inner = value.estimator if isinstance(value, FrozenEstimator) else value
    final = inner
    while isinstance(final, Pipeline) and final.steps:
        final = final.steps[-1][1]
    if not callable(getattr(inner, "fit", None)) or not callable(
            getattr(final, "predict_dist", None)):
        raise ValueError("must be an estimator with fit and predict_dist (a pipeline ending "
                         "in one), or a FrozenEstimator of one")
    return value


def _inner_feature_names(inner):
    def check(value, done):
        if "n_features_in_" not in done:
            raise ValueError("comes without n_features_in_")
        value = _feature_names(value, done)
        expected = getattr(done[inner], "feature_names_in_", value)
        if not np.array_equal(np.asarray(expected), value):
            raise ValueError(f"must equal {inner}.feature_names_in_")
        return value

    return check


def _calibration_map(value, _):
    from skprob.distributions import CalibrationMap

    if type(value) is not CalibrationMap:  # rebuilt from data by the container loader
        raise ValueError("must be a CalibrationMap")
    return value


def _pit(value, _):
    value = _one_dimensional(value, "f")
    if len(value) == 0 or np.any((value < 0) | (value > 1)):
        raise ValueError("must hold PIT values in [0, 1]")
    return value


def _density(value, _):
    from scipy.stats._distn_infrastructure import rv_frozen

    from skprob.reweighting import _TabulatedDensity

    if isinstance(value, rv_frozen):  # rebuilt from data by the container loader
        return value
    if type(value) is not _TabulatedDensity or set(vars(value)) != {"grid", "density", "floor"}:
        raise ValueError("must be a tabulated density or a frozen scipy.stats distribution")
    grid = _one_dimensional(value.grid, "f")
    density = _one_dimensional(value.density, "f")
    if grid.shape != density.shape or len(grid) < 2 or np.any(np.diff(grid) < 0):
        raise ValueError("must tabulate a density on a non-decreasing grid")
    if np.any(density < 0):
        raise ValueError("must tabulate a non-negative density")
    _finite(positive=True)(value.floor, _)
    return value


def _named_transform(value, _):
    from skprob.distributions._transformed import TRANSFORMS

    if not any(value is t for t in TRANSFORMS.values()):
        raise ValueError(f"must be one of the named transforms {sorted(TRANSFORMS)}")
    return value


# ------------------------------------------------------------------- table
FITTED_ATTRIBUTES = (
    # every skprob network
    Attribute("n_features_in_", "network", _integer(1)),
    Attribute("feature_names_in_", "network", _feature_names, OPTIONAL),
    Attribute("loss_curve_", "network", _finite_list),
    Attribute("validation_scores_", "network", _finite_list),
    Attribute("n_iter_", "network", _integer(0)),
    Attribute("best_loss_", "network", _finite()),
    Attribute("_prediction_seed", "network", _integer(0, _MAX_SEED)),
    # network regressors: y is standardised as (y - _y_mean) / _y_scale, per column
    # for a vector target (files written before vector targets have one output)
    Attribute("n_outputs_", "regressor", _integer(1), 1),
    Attribute("_y_mean", "regressor", _per_output()),
    Attribute("_y_scale", "regressor", _per_output(positive=True)),
    # the spacing of tied target values (standardised; 0 when y is continuous)
    Attribute("_y_resolution", "regressor", _finite(non_negative=True), 0.0),
    # the factor of calibrate_scale (files written before it have none: 1)
    Attribute("calibration_scale_", "regressor", _finite(positive=True), 1.0),
    # the weight of tail_weight's component (files written before it have none: 0)
    Attribute("tail_weight_", "regressor", _tail_weight, 0.0),
    # network classifiers
    Attribute("classes_", "classifier", _classes),
    # PriorReweighter
    Attribute("estimator_", "PriorReweighter", _estimator_with("fit", "predict")),
    Attribute("n_features_in_", "PriorReweighter", _inner_n_features("estimator_"), OPTIONAL),
    Attribute("classes_", "PriorReweighter/classifier", _same_classes_as_estimator),
    Attribute("train_prior_", "PriorReweighter/classifier", _probabilities(positive=True)),
    Attribute("target_prior_", "PriorReweighter/classifier", _probabilities(positive=False)),
    Attribute("em_n_iter_", "PriorReweighter/classifier", _integer(0), OPTIONAL),
    Attribute("train_prior_", "PriorReweighter/regressor", _density),
    Attribute("target_prior_", "PriorReweighter/regressor", _density),
    # TransformedTargetRegressor
    Attribute("regressor_", "TransformedTargetRegressor", _estimator_with("fit", "predict_dist")),
    Attribute("transform_", "TransformedTargetRegressor", _named_transform),
    Attribute("n_features_in_", "TransformedTargetRegressor", _inner_n_features("regressor_"),
              OPTIONAL),
    # CalibratedRegressorCV: estimator_ may be the FrozenEstimator passed as estimator
    Attribute("estimator_", "CalibratedRegressorCV", _predictive_estimator),
    Attribute("calibration_map_", "CalibratedRegressorCV", _calibration_map),
    Attribute("pit_", "CalibratedRegressorCV", _pit),
    Attribute("n_features_in_", "CalibratedRegressorCV", _inner_n_features("estimator_"),
              OPTIONAL),
    Attribute("feature_names_in_", "CalibratedRegressorCV", _inner_feature_names("estimator_"),
              OPTIONAL),
)

# Fitted state that is not data: rebuilt by load (module_ from the tensors,
# _rng from random_state, a fresh optimiser), never stored.
REBUILT = {"module_", "_optimizer_state", "_rng"}


def owners(estimator):
    """The ``owner`` labels of the table rows that apply to ``estimator``."""
    from sklearn.base import is_classifier

    from skprob._base import BaseProbabilisticNetwork
    from skprob._classification import ProbabilisticClassifierMixin
    from skprob.calibration import CalibratedRegressorCV
    from skprob.compose import TransformedTargetRegressor
    from skprob.reweighting import PriorReweighter

    if isinstance(estimator, BaseProbabilisticNetwork):
        task = "classifier" if isinstance(estimator, ProbabilisticClassifierMixin) else "regressor"
        return {"network", task}
    if isinstance(estimator, PriorReweighter):
        task = "classifier" if is_classifier(estimator.estimator) else "regressor"
        return {"PriorReweighter", f"PriorReweighter/{task}"}
    if isinstance(estimator, TransformedTargetRegressor):
        return {"TransformedTargetRegressor"}
    if isinstance(estimator, CalibratedRegressorCV):
        return {"CalibratedRegressorCV"}
    return set()


def table_for(estimator):
    """The table rows of ``estimator``, in table order."""
    labels = owners(estimator)
    return [row for row in FITTED_ATTRIBUTES if row.owner in labels]


def fitted_state(estimator):
    """The fitted attributes of ``estimator`` that a file stores, by name.

    Raises ValueError for an attribute the table does not know, so that a new
    attribute is registered before it can be lost (or refused) in a round trip.
    """
    params = estimator.get_params(deep=False)
    known = {row.name for row in table_for(estimator)}
    state = {k: v for k, v in vars(estimator).items() if k not in params and k not in REBUILT}
    unknown = sorted(set(state) - known)
    if unknown:
        raise ValueError(
            f"Cannot save {type(estimator).__name__}: skprob.save does not know its fitted "
            f"attribute(s) {unknown}. Register them in FITTED_ATTRIBUTES "
            "(skprob/_persistence/_attributes.py)."
        )
    return state


def validate_fitted(estimator, values):
    """Validate fitted attributes read from a file; return them, defaults filled in.

    Raises UnsafeFileError for an unknown name, a missing required attribute,
    or a value its check refuses.
    """
    name = type(estimator).__name__
    rows = table_for(estimator)
    known = {row.name for row in rows}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UnsafeFileError(
            f"the file gives {name} the unknown fitted attribute(s) {unknown[:5]}; a "
            f"{name} has only {sorted(known)}."
        )
    done = {}
    for row in rows:
        if row.name not in values:
            if row.missing is REQUIRED:
                raise UnsafeFileError(
                    f"the file lacks the fitted attribute {row.name} of {name}, which a fitted "
                    f"{name} always has (a damaged file, or one written by an incompatible "
                    "skprob)."
                )
            if row.missing is not OPTIONAL:
                done[row.name] = row.missing
            continue
        try:
            done[row.name] = row.check(values[row.name], done)
        except ValueError as exc:
            shown = repr(values[row.name])
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise UnsafeFileError(
                f"the fitted attribute {row.name}={shown} of {name} is invalid: it {exc}."
            ) from exc
    return done
