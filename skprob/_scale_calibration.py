"""Held-out calibration of a regressor's spread: one factor about the mean, and a tail guard.

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

The tail guard. A Gaussian (or a mixture of near-identical Gaussians, as the
Monte Carlo networks predict) gives a row it did not foresee, a gross error
or a target from outside the training data, a density of e^-100 and worse;
one such row outweighs thousands of well-predicted ones in a mean NLL, and
nothing in training stops it (on 100-300 rows with 3% gross outliers MC
dropout's test NLL was 3.6-6.8 against 2.1-2.3 for a linear Gaussian). After
the factor, every predictive distribution becomes the mixture

    (1 - w) p_s + w N(m, (TAIL_WIDTH sd)**2),

its own mean ``m`` and ``TAIL_WIDTH`` times its standard deviation ``sd``
(covariance for a vector target): a crude heavy tail, as a Student t is a
scale mixture of Gaussians. The weight ``w`` and the factor ``s`` together
maximise the likelihood of the same held-out rows (the factor then fits the
bulk of the errors, the tail the rare gross ones; from ``MIN_JOINT_ROWS``
rows, on fewer the factor is fitted first, without a tail), ``w`` at least
``MIN_TAIL_WEIGHT`` so that a row the held-out rows did not foresee costs at
most about ``log(1 / MIN_TAIL_WEIGHT)`` nats more than under a ten-times
wider prediction. Its price on clean data: at
most ``-log(1 - w)`` nats per row, and a standard deviation
``sqrt(tail_variance_factor(w))`` times the guarded one (1.05 at the floor).
"""

import contextlib
import contextvars

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
# The tail component's spread, in standard deviations of the guarded
# distribution. Ten: a fitted width (3, 10, 30 or 100, on the same held-out
# rows) picked narrow tails where the few held-out rows had no outlier and
# lost on the test rows that had (benchmarks/README.md, "The tail guard").
TAIL_WIDTH = 10.0
# The tail weight's range for tail_weight="auto". Below 0.001 a row that the
# held-out rows did not foresee is no longer cheap; at 0.001 the guard costs
# at most 0.001 nats a row and widens the standard deviation by 5%. Above 0.1
# the "tail" is a second mode, which the mixture network models itself.
MIN_TAIL_WEIGHT = 1e-3
MAX_TAIL_WEIGHT = 1e-1

# Rounds of the coordinate ascent of fit_scale_and_tail_weight (the first
# fits the factor without a tail).
JOINT_ROUNDS = 3
# Fewer held-out rows than this: the factor first, without a tail, then the
# weight. A tail of weight 0.01 shows in one row of a hundred; on fewer rows
# one surprising row takes the tail and the bulk narrows to the rest (5-fold
# on 50-100 rows: MC dropout's 90% intervals held 0.75-0.78 of the test rows
# of two problems instead of 0.81-0.84, benchmarks/README.md).
MIN_JOINT_ROWS = 100
# The weight of the joint fit is found on at most this many of the held-out
# rows (the factor under it and the final weight on all of them): with
# 100,000 held-out rows of MC dropout's 100-component mixtures the whole
# calibration took 40 s with all of them in the coordinate ascent, 12 s with
# 10,000 (the same factor and weight, on a clean linear problem).
MAX_JOINT_ROWS = 10_000

_TAIL_GUARD_ON = contextvars.ContextVar("skprob_tail_guard_on", default=True)


def seeded_subsample(idx, max_rows, seed):
    """``idx`` itself, or ``max_rows`` of its entries drawn with ``seed``, in ``idx``'s order.

    Bounds the rows that a calibration step evaluates (the training rows'
    check of the factor, the joint fit of the factor and the tail weight).

    Parameters
    ----------
    idx : ndarray of shape (n,)
        Row indices, in increasing order.
    max_rows : int
        The most rows to keep.
    seed : int
        Seed of the draw, so that refitting draws the same rows.

    Returns
    -------
    idx : ndarray of shape (min(n, max_rows),)
    """
    if len(idx) <= max_rows:
        return idx
    return np.sort(np.random.RandomState(seed).choice(idx, max_rows, replace=False))


def _row_weights(sample_weight, n_rows):
    """The rows' weights as an array: ones when ``sample_weight`` is None."""
    return np.ones(n_rows) if sample_weight is None else np.asarray(sample_weight)


@contextlib.contextmanager
def tail_guard_off():
    """Within the block, every regressor predicts without its tail component.

    For the meta-estimators that turn a predictive distribution into
    something its far tails dominate: ``exp`` of a tail ten times as wide in
    log space (``compose.TransformedTargetRegressor``) has a mean of
    ``exp(49.5 sd**2)`` times the guarded one's, and a prior ratio that grows
    where the training prior vanishes (``PriorReweighter``) moves the mass
    into the tail. A context variable, so that it reaches the regressor
    through pipelines, searches and other wrappers unchanged.
    """
    token = _TAIL_GUARD_ON.set(False)
    try:
        yield
    finally:
        _TAIL_GUARD_ON.reset(token)


def tail_guard_is_on():
    """False inside :func:`tail_guard_off`."""
    return _TAIL_GUARD_ON.get()


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


def scaled_nll(dist, y, log_scale, sample_weight=None, min_scale=0.0, tail_weight=0.0):
    """Weighted mean NLL of ``y`` under ``widen(dist, exp(log_scale), min_scale)``.

    The objective of :func:`fit_scale` (same arguments, the factor as its
    logarithm), with the tail of weight ``tail_weight`` added after the
    factor; ``inf`` where it is not finite.
    """
    log_density = with_tail(widen(dist, np.exp(log_scale), min_scale), tail_weight).logpdf(y)
    weights = _row_weights(sample_weight, len(y))
    with np.errstate(invalid="ignore"):
        nll = -np.sum(weights * log_density) / np.sum(weights)
    return float(nll) if np.isfinite(nll) else np.inf


def fit_scale(dist, y, sample_weight=None, min_scale=0.0, tail_weight=0.0):
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
    tail_weight : float, default=0.0
        The factor is fitted for ``with_tail(widen(dist, s), tail_weight)``.

    Returns
    -------
    scale : float
        The factor, in ``SCALE_BOUNDS``; 1.0 when no factor does better than
        1 (or none gives a finite likelihood).
    """
    bounds = np.log(SCALE_BOUNDS)
    result = minimize_scalar(
        lambda log_scale: scaled_nll(dist, y, log_scale, sample_weight, min_scale, tail_weight),
        bounds=tuple(bounds),
        method="bounded",
        options={"xatol": _LOG_SCALE_TOLERANCE},
    )
    unscaled = scaled_nll(dist, y, 0.0, sample_weight, min_scale, tail_weight)
    if not np.isfinite(result.fun) or result.fun >= unscaled:
        return 1.0
    return float(np.exp(result.x))


def fit_scale_and_tail_weight(dist, y, sample_weight=None, min_scale=0.0):
    """The factor and the tail weight that together maximise the likelihood of ``y``.

    The factor alone must make the bulk of the errors and the rare gross ones
    equally likely, which widens the bulk; with a tail to take the gross errors
    the bulk can stay narrow. Coordinate ascent from the factor without a tail:
    ``JOINT_ROUNDS`` times the factor, then the weight at that factor; last
    the factor under the final weight.

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
        The factor of :func:`widen`, fitted under ``weight``.
    weight : float
        The tail weight of :func:`with_tail`, in
        [``MIN_TAIL_WEIGHT``, ``MAX_TAIL_WEIGHT``].
    """
    weight = 0.0
    for _ in range(JOINT_ROUNDS):
        scale = fit_scale(dist, y, sample_weight, min_scale, weight)
        weight = fit_tail_weight(widen(dist, scale, min_scale), y, sample_weight)
    return fit_scale(dist, y, sample_weight, min_scale, weight), weight


def tail_of(dist):
    """The tail component of every row of ``dist``: ``N(m, TAIL_WIDTH**2 cov)``.

    Parameters
    ----------
    dist : GaussianMixture or MultivariateGaussianMixture
        Predictive distributions, one per row.

    Returns
    -------
    tail : distribution of the same class
        One component per row, at the row's mean, ``TAIL_WIDTH`` times its
        standard deviation (Cholesky factor of its covariance).
    """
    mean = dist.mean()
    weights = np.ones((len(mean), 1))
    if isinstance(dist, MultivariateGaussianMixture):
        scale_tril = TAIL_WIDTH * np.linalg.cholesky(dist.cov())
        return MultivariateGaussianMixture(weights, mean[:, None, :], scale_tril[:, None])
    return type(dist)(weights, mean[:, None], TAIL_WIDTH * dist.std()[:, None])


def with_tail(dist, weight):
    """``(1 - weight) dist + weight tail_of(dist)``, row by row (``dist`` itself at 0).

    Parameters
    ----------
    dist : GaussianMixture or MultivariateGaussianMixture
        Predictive distributions, one per row.
    weight : float
        The tail's weight ``w`` in [0, 1).

    Returns
    -------
    dist : distribution of the same class
        One more component per row than ``dist``, the last one the tail; the
        same mean, the variance times ``tail_variance_factor(weight)``.
    """
    if weight == 0.0:
        return dist
    tail = tail_of(dist)
    weights = np.concatenate([(1.0 - weight) * dist.weights, weight * tail.weights], axis=1)
    means = np.concatenate([dist.means, tail.means], axis=1)
    if isinstance(dist, MultivariateGaussianMixture):
        scale_tril = np.concatenate([dist.scale_tril, tail.scale_tril], axis=1)
        return MultivariateGaussianMixture(weights, means, scale_tril)
    return type(dist)(weights, means, np.concatenate([dist.stds, tail.stds], axis=1))


def tail_variance_factor(weight):
    """How much ``with_tail(dist, weight)`` multiplies every row's (co)variance.

    Parameters
    ----------
    weight : float
        The tail's weight.

    Returns
    -------
    factor : float
        ``1 + weight (TAIL_WIDTH**2 - 1)``; the tail is centred at the mean,
        so the mean does not move.
    """
    return 1.0 + weight * (TAIL_WIDTH**2 - 1.0)


def fit_tail_weight(dist, y, sample_weight=None):
    """The tail weight, in [MIN_TAIL_WEIGHT, MAX_TAIL_WEIGHT], most likely for ``y``.

    Parameters
    ----------
    dist : GaussianMixture or MultivariateGaussianMixture
        Predictive distributions of held-out rows, widened by the factor.
    y : ndarray of shape (n,) or (n, d)
        Their observed targets.
    sample_weight : ndarray of shape (n,), default=None
        Non-negative weights of the rows.

    Returns
    -------
    weight : float
        The weight ``w`` of :func:`with_tail`.
    """
    guarded = dist.logpdf(y)
    tail = tail_of(dist).logpdf(y)
    weights = _row_weights(sample_weight, len(y))

    def nll(log_weight):
        log_density = np.logaddexp(np.log1p(-np.exp(log_weight)) + guarded, log_weight + tail)
        return -np.sum(weights * log_density) / np.sum(weights)

    result = minimize_scalar(
        nll,
        bounds=(np.log(MIN_TAIL_WEIGHT), np.log(MAX_TAIL_WEIGHT)),
        method="bounded",
        options={"xatol": _LOG_SCALE_TOLERANCE},
    )
    # The bounded search never tries the bounds themselves, where the optimum
    # often is (clean data: the floor).
    candidates = [(result.fun, float(np.exp(result.x)))] + [
        (nll(np.log(weight)), weight) for weight in (MIN_TAIL_WEIGHT, MAX_TAIL_WEIGHT)
    ]
    best_nll, best = min(candidates, key=lambda candidate: candidate[0])
    return best if np.isfinite(best_nll) else MAX_TAIL_WEIGHT
