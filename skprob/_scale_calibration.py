"""One factor that widens or narrows a regressor's predictive distributions about their means.

The networks' predictive spread is systematically off in ways the training
objective cannot see. MC dropout and mean-field variational networks train
their noise head on the residuals of single passes, residuals that already
hold the spread between passes, and prediction then adds that spread again:
their intervals over-cover (the variational network's 50% interval covered
all of yacht's test rows). A mixture network stopped early on a small data set
is as narrow as its training fit, and under-covers.

The remedy here is the one-parameter "sigma scaling" of Levi et al. (2019)
and Laves et al. (2020): every predictive distribution ``p`` of a row becomes

    p_s(y) = p(m + (y - m) / s) / s**d,

its own affine image about its mean ``m`` (``d`` outputs), so the mean is
kept and every quantile's distance from it, the standard deviation and both
parts of ``predict_uncertainty`` are scaled by ``s``. For a Gaussian mixture
that moves every component's mean to ``m + s (mu - m)`` and multiplies its
scale by ``s``, except that no scale goes below the network's floor (one
rounding cell of a tied target, ``_regression.py``): a factor below 1 must
not turn components back into spikes on the tied values. The factor
maximises the likelihood of the rows held out of training (the validation
split; a rounded target's spread over their rounding cells, ``_base.py``),
a one-dimensional search; the regressors keep a factor below 1 only
as far as their training rows also support it (``_regression.py``).
"""

import numpy as np
from scipy.optimize import minimize_scalar

from skprob.distributions import MultivariateGaussianMixture

# Fewer held-out rows than this give too noisy a factor: the scale stays 1.
# Eight (from 71 training rows at 10%): a factor from eight rows is uncertain
# by about a quarter, but on 80-190 rows the Monte Carlo networks' spread is
# off by factors of 1.5-4, which no factor at all leaves in place (on 120 rows
# of a linear problem dropout's 90% intervals held 0.73 of the test rows and
# the variational network's test NLL was 6-14; with the factor 0.91-0.97 and
# 2.5, benchmarks/README.md). It was 20.
MIN_CALIBRATION_ROWS = 8
# Below 8 / validation_fraction rows, 8 rows are held out all the same while
# this many are left to train on (from 40 rows). On 50 rows (4 at 10%, so no
# factor) dropout's 90% intervals held about half the test rows (test NLL
# 4-18 on benchmarks/small_data.py's problems; 1.6-2.9 with 8 rows held out).
MIN_TRAINING_ROWS = 32
# A factor below 1 must be supported by (at most this many) training rows too.
MAX_TRAINING_CHECK_ROWS = 2000
# The search interval of the factor; the bounds are never the answer on data
# seen so far (0.2 to 1.4 on the UCI sets).
SCALE_BOUNDS = (1e-2, 1e2)
# Tolerance of the search in log s: the factor to 0.1%.
_LOG_SCALE_TOLERANCE = 1e-3


def widen(dist, scale, min_scale=0.0):
    """``dist`` widened by ``scale`` about each row's mean, no scale below ``min_scale``.

    Parameters
    ----------
    dist : GaussianMixture or MultivariateGaussianMixture
        Predictive distributions, one per row.
    scale : float
        The factor ``s > 0``.
    min_scale : float, default=0.0
        Floor of the components' standard deviations (of the Cholesky
        factors' diagonals for a vector target).

    Returns
    -------
    dist : distribution of the same class
        Components at ``m + s (mu - m)`` with scales ``max(s sigma, min_scale)``.
    """
    mean = dist.mean()
    if isinstance(dist, MultivariateGaussianMixture):
        means = mean[:, None, :] + scale * (dist.means - mean[:, None, :])
        scale_tril = scale * dist.scale_tril
        diagonal = np.arange(scale_tril.shape[-1])
        scale_tril[..., diagonal, diagonal] = np.maximum(
            scale_tril[..., diagonal, diagonal], min_scale
        )
        return MultivariateGaussianMixture(dist.weights, means, scale_tril)
    means = mean[:, None] + scale * (dist.means - mean[:, None])
    return dist._with_components(means, np.maximum(scale * dist.stds, min_scale))


def scaled_nll(dist, y, log_scale, sample_weight=None, min_scale=0.0):
    """Weighted mean NLL of ``y`` under ``widen(dist, exp(log_scale), min_scale)``.

    The objective of :func:`fit_scale` (same arguments, the factor as its
    logarithm); ``inf`` where it is not finite.
    """
    log_density = widen(dist, np.exp(log_scale), min_scale).logpdf(y)
    weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight)
    with np.errstate(invalid="ignore"):
        nll = -np.sum(weights * log_density) / np.sum(weights)
    return float(nll) if np.isfinite(nll) else np.inf


def fit_scale(dist, y, sample_weight=None, min_scale=0.0):
    """The factor ``s`` that maximises the likelihood of ``y`` under ``widen(dist, s)``.

    Parameters
    ----------
    dist : GaussianMixture or MultivariateGaussianMixture
        Predictive distributions of held-out rows.
    y : ndarray of shape (n,) or (n, d)
        Their observed targets.
    sample_weight : ndarray of shape (n,), default=None
        Non-negative weights of the rows.
    min_scale : float, default=0.0
        Floor of the widened scales, as in :func:`widen`.

    Returns
    -------
    scale : float
        The factor, in ``SCALE_BOUNDS``; 1.0 when no factor does better than
        1 (or none gives a finite likelihood).
    """
    bounds = np.log(SCALE_BOUNDS)
    result = minimize_scalar(
        lambda log_scale: scaled_nll(dist, y, log_scale, sample_weight, min_scale),
        bounds=tuple(bounds),
        method="bounded",
        options={"xatol": _LOG_SCALE_TOLERANCE},
    )
    unscaled = scaled_nll(dist, y, 0.0, sample_weight, min_scale)
    if not np.isfinite(result.fun) or result.fun >= unscaled:
        return 1.0
    return float(np.exp(result.x))
