"""Batched predictive distributions returned by skprob estimators.

Every object holds ``n`` independent distributions, one per row of the ``X``
it was predicted for, and follows the method names of frozen
:mod:`scipy.stats` distributions. numpy and scipy only.
"""

from skprob.distributions._base import BaseDistribution, ContinuousDistribution
from skprob.distributions._calibration_map import CalibrationMap
from skprob.distributions._categorical import Categorical
from skprob.distributions._concatenate import concatenate
from skprob.distributions._grid import GridDistribution
from skprob.distributions._mixture import GaussianMixture
from skprob.distributions._multivariate import MultivariateGaussianMixture
from skprob.distributions._normal import Normal
from skprob.distributions._recalibrated import RecalibratedDistribution
from skprob.distributions._transformed import MonotoneTransform, TransformedDistribution

__all__ = [
    "BaseDistribution",
    "CalibrationMap",
    "Categorical",
    "ContinuousDistribution",
    "GaussianMixture",
    "GridDistribution",
    "MonotoneTransform",
    "MultivariateGaussianMixture",
    "Normal",
    "RecalibratedDistribution",
    "TransformedDistribution",
    "concatenate",
]
