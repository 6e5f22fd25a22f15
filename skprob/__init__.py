"""skprob: probabilistic deep-learning estimators with a scikit-learn API.

Every estimator learns a full conditional distribution p(y | x) by minimising
the negative log-likelihood and returns it as a distribution object
(:mod:`skprob.distributions`) that can be queried, scored, plotted and sampled.
"""

from skprob import (
    calibration,
    compose,
    datasets,
    distributions,
    exceptions,
    metrics,
    model_selection,
    pipeline,
)
from skprob._monte_carlo import Uncertainty
from skprob._persistence import load, save
from skprob.bayesian import BayesianMLPClassifier, BayesianMLPRegressor
from skprob.dropout import DropoutMLPClassifier, DropoutMLPRegressor
from skprob.ensemble import DeepEnsembleClassifier, DeepEnsembleRegressor
from skprob.mixture_density import MixtureDensityRegressor
from skprob.reweighting import PriorReweighter

__version__ = "0.1.0.dev0"

__all__ = [
    "BayesianMLPClassifier",
    "BayesianMLPRegressor",
    "DeepEnsembleClassifier",
    "DeepEnsembleRegressor",
    "DropoutMLPClassifier",
    "DropoutMLPRegressor",
    "MixtureDensityRegressor",
    "PriorReweighter",
    "Uncertainty",
    "calibration",
    "compose",
    "datasets",
    "distributions",
    "exceptions",
    "metrics",
    "model_selection",
    "pipeline",
    "load",
    "save",
    "__version__",
]
