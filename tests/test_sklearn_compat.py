"""scikit-learn's estimator checks, run on every skprob estimator."""

import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skprob import (
    BayesianMLPClassifier,
    BayesianMLPRegressor,
    DeepEnsembleClassifier,
    DeepEnsembleRegressor,
    DropoutMLPClassifier,
    DropoutMLPRegressor,
    MixtureDensityRegressor,
    PriorReweighter,
)
from skprob.calibration import CalibratedRegressorCV

# Many checks regress on integer-valued targets (class labels reused as y);
# the warning that such targets are discrete is right there and tested in
# tests/test_base.py, so it is not repeated for every check.
pytestmark = pytest.mark.filterwarnings("ignore::skprob.exceptions.DiscreteTargetWarning")

# Minibatch SGD visits rows in shuffled batches, so a zero weight is not the
# same optimisation problem as a deleted row (different batch composition and
# step count) and duplicated rows are not the same as weight 2. Weights are
# honoured in expectation: see tests/test_mixture_density.py.
SAMPLE_WEIGHT_EQUIVALENCE = {
    "check_sample_weight_equivalence_on_dense_data": (
        "minibatch SGD: zero weight is not a removed row, weight 2 is not a duplicate"
    ),
}


def _small(estimator_class, **params):
    return estimator_class(
        hidden_layer_sizes=(32,), max_iter=100, learning_rate_init=1e-2, random_state=0, **params
    )


ESTIMATORS = [
    _small(MixtureDensityRegressor, n_components=2),
    _small(DropoutMLPRegressor, n_mc_samples=10),
    _small(DropoutMLPClassifier, n_mc_samples=10),
    # 32-row minibatches: the checks' few dozen rows would take 10 "auto"
    # minibatches an epoch, several times the steps and the time.
    _small(BayesianMLPRegressor, n_mc_samples=10, batch_size=32),
    _small(BayesianMLPClassifier, n_mc_samples=10),
    PriorReweighter(LogisticRegression(), target_prior="uniform"),
    PriorReweighter(_small(MixtureDensityRegressor, n_components=2), target_prior=norm(0, 2)),
    CalibratedRegressorCV(MixtureDensityRegressor(hidden_layer_sizes=(16,), max_iter=50,
                                                  learning_rate_init=2e-2, n_components=1,
                                                  random_state=0), cv=2),
    DeepEnsembleRegressor(_small(MixtureDensityRegressor, n_components=2), n_estimators=3,
                          random_state=0),
    DeepEnsembleClassifier(_small(DropoutMLPClassifier, n_mc_samples=10), n_estimators=3,
                           random_state=0),
]


def _expected_failed_checks(estimator):
    network = getattr(estimator, "estimator", estimator)
    return SAMPLE_WEIGHT_EQUIVALENCE if hasattr(network, "hidden_layer_sizes") else {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# The estimators that model y of shape (n_samples, n_outputs) jointly; scikit-learn's
# checks then also run check_regressor_multioutput on them. The others refuse such y.
MULTI_OUTPUT = (MixtureDensityRegressor, DropoutMLPRegressor, BayesianMLPRegressor)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_multi_output_tag_names_the_estimators_that_take_vector_targets(estimator):
    tags = estimator.__sklearn_tags__().target_tags
    assert tags.single_output
    assert tags.multi_output == isinstance(estimator, MULTI_OUTPUT)
