"""Metrics for predictive distributions.

Every function takes the observed targets and a batched distribution from
:mod:`skprob.distributions` (one row per target), in the order
``(y_true, dist)``, like scikit-learn's ``(y_true, y_pred)``. Lower is better
for :func:`negative_log_likelihood`, :func:`crps`, :func:`energy_score` and
:func:`calibration_error`.

For a vector target (``y_true`` of shape ``(n_samples, n_outputs)`` and a
:class:`~skprob.distributions.MultivariateGaussianMixture`),
:func:`negative_log_likelihood` is the joint NLL, :func:`energy_score` the
multivariate generalisation of the CRPS, and :func:`interval_coverage` returns
one coverage per output (the intervals of the marginals); the univariate
scores (CRPS, PIT, calibration error) apply to ``dist.marginal(j)``.
"""

import numbers

import numpy as np
from scipy import special

from skprob.distributions import (
    Categorical,
    GaussianMixture,
    MultivariateGaussianMixture,
    Normal,
)
from skprob.distributions._sampling import (
    check_n_samples,
    check_random_state_or_generator,
    sample_chunk_rows,
)

# Number of quantile levels of the numerical CRPS for distributions without a
# closed form.
_CRPS_N_QUANTILES = 1000

__all__ = [
    "DistributionScorer",
    "calibration_error",
    "crps",
    "energy_score",
    "get_scorer",
    "interval_coverage",
    "make_coverage_scorer",
    "neg_crps_scorer",
    "neg_energy_score_scorer",
    "neg_nll_scorer",
    "negative_log_likelihood",
    "pit",
]


def _check_targets(y_true, dist, metric=None):
    """Validate ``y_true`` against ``dist``; return a 1-D array of length ``len(dist)``.

    Targets of a :class:`Categorical` keep their dtype (labels may be strings);
    all other targets must be finite real numbers. For a
    :class:`MultivariateGaussianMixture` the targets have shape
    ``(len(dist), n_outputs)``; a ``metric`` name says the metric takes one
    output only, and refuses it.
    """
    if isinstance(dist, MultivariateGaussianMixture):
        if metric is not None:
            raise ValueError(
                f"{metric} is defined for one output; for the joint distribution of "
                f"{dist.n_outputs} outputs apply it to each dist.marginal(j), or use "
                "energy_score or negative_log_likelihood."
            )
        return _check_vector_targets(y_true, dist)
    categorical = isinstance(dist, Categorical)
    if categorical:
        y = np.asarray(y_true)
    else:
        try:
            y = np.asarray(y_true, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "y_true must be real-valued for a continuous distribution."
            ) from exc
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D, got an array of shape {y.shape}.")
    if y.shape[0] == 0:
        raise ValueError("y_true is empty.")
    if y.shape[0] != len(dist):
        raise ValueError(
            f"y_true has {y.shape[0]} samples but the distribution has {len(dist)} rows."
        )
    if y.dtype.kind in "fc" and np.any(np.isnan(y)):
        raise ValueError("y_true contains NaN.")
    if not categorical and not np.all(np.isfinite(y)):
        raise ValueError("y_true contains infinity.")
    return y


def _check_vector_targets(y_true, dist):
    """Finite targets of shape ``(len(dist), n_outputs)`` for a multivariate ``dist``."""
    try:
        y = np.asarray(y_true, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError("y_true must be real-valued for a continuous distribution.") from exc
    expected = (len(dist), dist.n_outputs)
    if y.shape != expected:
        raise ValueError(
            f"y_true must have shape {expected} for a distribution of {dist.n_outputs} "
            f"outputs and {len(dist)} rows, got an array of shape {y.shape}."
        )
    if y.shape[0] == 0:
        raise ValueError("y_true is empty.")
    if not np.all(np.isfinite(y)):
        raise ValueError("y_true contains NaN or infinity.")
    return y


def _check_sample_weight(sample_weight, n_samples):
    """Return None or a validated array of non-negative weights of shape (n_samples,)."""
    if sample_weight is None:
        return None
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    if sample_weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), got {sample_weight.shape}."
        )
    if not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
        raise ValueError("sample_weight must be finite and non-negative.")
    if not sample_weight.sum() > 0:
        raise ValueError("sample_weight must not sum to zero.")
    return sample_weight


def _average(values, sample_weight):
    """(Weighted) mean over the first axis."""
    return np.average(values, axis=0, weights=sample_weight)


def _check_continuous(dist, metric):
    if isinstance(dist, Categorical):
        raise ValueError(f"{metric} is defined for real-valued targets, not for Categorical.")


def negative_log_likelihood(y_true, dist, sample_weight=None):
    """Mean negative log-likelihood of ``y_true`` under ``dist``.

    Uses ``-dist.logpdf(y_true)`` for continuous distributions (a density, so
    the value depends on the units of y and may be negative) and
    ``-dist.logpmf(y_true)`` for a :class:`~skprob.distributions.Categorical`
    (the log loss). For a
    :class:`~skprob.distributions.MultivariateGaussianMixture` it is the
    joint NLL of the vector targets.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed targets (class labels for a Categorical; one column per
        output for a MultivariateGaussianMixture).
    dist : distribution of length n_samples
        Predictive distributions, one row per target.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples.

    Returns
    -------
    nll : float
        The (weighted) mean of the per-sample negative log-likelihoods.

    Examples
    --------
    >>> from skprob.distributions import Normal
    >>> from skprob.metrics import negative_log_likelihood
    >>> dist = Normal(loc=[0.0, 1.0], scale=[1.0, 1.0])
    >>> round(negative_log_likelihood([0.0, 1.0], dist), 4)
    0.9189
    """
    y = _check_targets(y_true, dist)
    sample_weight = _check_sample_weight(sample_weight, y.shape[0])
    if isinstance(dist, Categorical):
        log_likelihood = dist.logpmf(y)
    else:
        log_likelihood = dist.logpdf(y)
    return float(-_average(log_likelihood, sample_weight))


def _gaussian_a(mu, sigma):
    """``A(mu, sigma^2) = 2 sigma phi(mu / sigma) + mu (2 Phi(mu / sigma) - 1)``."""
    z = mu / sigma
    return 2.0 * sigma * np.exp(-0.5 * z**2) / np.sqrt(2.0 * np.pi) + mu * (
        2.0 * special.ndtr(z) - 1.0
    )


def _crps_gaussian_mixture(y, weights, means, stds):
    """Closed-form CRPS of rows of Gaussian mixtures (Grimit et al. 2006).

    ``y`` has shape (n,) and the parameters (n, K); returns shape (n,).
    """
    spread = np.sum(weights * _gaussian_a(y[:, None] - means, stds), axis=1)
    variances = stds**2
    pairs = np.zeros(y.shape[0])
    for k in range(weights.shape[1]):
        pair_terms = _gaussian_a(
            means[:, k : k + 1] - means, np.sqrt(variances[:, k : k + 1] + variances)
        )
        pairs += weights[:, k] * np.sum(weights * pair_terms, axis=1)
    return spread - 0.5 * pairs


def _crps_quantile(y, dist):
    """CRPS as twice the integral of the quantile score over levels in (0, 1).

    Midpoint rule on ``_CRPS_N_QUANTILES`` levels, using ``dist.ppf``.
    """
    levels = (np.arange(_CRPS_N_QUANTILES) + 0.5) / _CRPS_N_QUANTILES
    quantiles = dist.ppf(np.broadcast_to(levels, (y.shape[0], levels.shape[0])))
    below = (y[:, None] < quantiles).astype(np.float64)
    return 2.0 * np.mean((below - levels) * (quantiles - y[:, None]), axis=1)


def crps(y_true, dist, sample_weight=None):
    """Mean continuous ranked probability score (CRPS) of ``y_true`` under ``dist``.

    ``CRPS(F, y) = integral of (F(z) - 1{z >= y})^2 dz``, in the units of y;
    it reduces to the absolute error for a point mass.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed real-valued targets.
    dist : continuous distribution of length n_samples
        Predictive distributions, one row per target.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples.

    Returns
    -------
    crps : float
        The (weighted) mean CRPS.

    Notes
    -----
    :class:`~skprob.distributions.Normal` and
    :class:`~skprob.distributions.GaussianMixture` use the closed form of
    Grimit et al. (2006),
    ``CRPS = sum_i w_i A(y - mu_i, s_i^2)
    - 1/2 sum_i sum_j w_i w_j A(mu_i - mu_j, s_i^2 + s_j^2)`` with
    ``A(mu, s^2) = 2 s phi(mu / s) + mu (2 Phi(mu / s) - 1)``. Any other
    distribution with a ``ppf`` method uses the quantile-score representation
    ``CRPS = 2 integral_0^1 (1{y < F^-1(t)} - t) (F^-1(t) - y) dt``, evaluated
    by the midpoint rule on 1000 levels (an approximation, accurate to about
    1e-4 relative for smooth distributions). A
    :class:`~skprob.distributions.Categorical` raises ``ValueError``.

    References
    ----------
    .. [1] Grimit, E. P., Gneiting, T., Berrocal, V. J. and Johnson, N. A.
       (2006). The continuous ranked probability score for circular variables
       and its application to mesoscale forecast ensemble verification.
       Quarterly Journal of the Royal Meteorological Society, 132, 2925-2942.

    Examples
    --------
    >>> from skprob.distributions import Normal
    >>> from skprob.metrics import crps
    >>> dist = Normal(loc=[0.0, 1.0], scale=[1.0, 1.0])
    >>> round(crps([0.0, 1.0], dist), 4)
    0.2337
    """
    _check_continuous(dist, "CRPS")
    y = _check_targets(y_true, dist, "crps")
    sample_weight = _check_sample_weight(sample_weight, y.shape[0])
    if isinstance(dist, Normal):
        ones = np.ones((y.shape[0], 1))
        scores = _crps_gaussian_mixture(y, ones, dist.loc[:, None], dist.scale[:, None])
    elif isinstance(dist, GaussianMixture):
        scores = _crps_gaussian_mixture(y, dist.weights, dist.means, dist.stds)
    elif hasattr(dist, "ppf"):
        scores = _crps_quantile(y, dist)
    else:
        raise TypeError(f"crps needs a distribution with a ppf method, got {dist!r}.")
    return float(_average(scores, sample_weight))


def pit(y_true, dist):
    """Probability integral transform values ``dist.cdf(y_true)``.

    For a calibrated predictive distribution the values are uniform on
    ``[0, 1]``; a U-shaped histogram means overconfident (too narrow)
    distributions, a hump means underconfident ones.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed real-valued targets.
    dist : continuous distribution of length n_samples
        Predictive distributions, one row per target.

    Returns
    -------
    pit : ndarray of shape (n_samples,)
        Values in ``[0, 1]``.

    Examples
    --------
    >>> from skprob.distributions import Normal
    >>> from skprob.metrics import pit
    >>> pit([0.0, 1.0], Normal(loc=[0.0, 0.0], scale=[1.0, 1.0])).round(3)
    array([0.5  , 0.841])
    """
    _check_continuous(dist, "PIT")
    y = _check_targets(y_true, dist, "pit")
    return dist.cdf(y)


def interval_coverage(y_true, dist, confidence=0.9, sample_weight=None, *, resolution=None):
    """Fraction of ``y_true`` inside the equal-tailed ``confidence`` intervals.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed real-valued targets; one column per output for a
        :class:`~skprob.distributions.MultivariateGaussianMixture`.
    dist : continuous distribution of length n_samples
        Predictive distributions, one row per target.
    confidence : float, default=0.9
        Probability mass of each interval ``dist.interval(confidence)``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples.
    resolution : float or array-like of shape (n_outputs,), default=None
        Rounding unit of targets recorded on a grid (prices to the cent,
        scores to the integer), one per output for a vector target. Each
        observed value then stands for its cell ``[y - resolution / 2,
        y + resolution / 2]`` of the rounded quantity, and a target counts
        by the fraction of its cell inside the interval: the expected
        coverage of the dequantised target ``y + U(-resolution / 2,
        resolution / 2)``. None (or 0) counts the observed values as they are.

    Returns
    -------
    coverage : float or ndarray of shape (n_outputs,)
        (Weighted) fraction of targets with ``lower <= y <= upper``; close to
        ``confidence`` for calibrated distributions. For a multivariate
        ``dist``, one fraction per output, from the intervals of its marginals
        ``dist.marginal(j)`` (not a joint region).

    Notes
    -----
    An interval holds a rounded value as soon as it holds the grid point, so
    on a target rounded more coarsely than its noise the raw coverage says
    little about the density: a perfect model of a noise-free rounded target
    covers every value at any confidence. The ``resolution``
    coverage compares the interval with the cell instead, as a density of the
    rounded quantity should be judged.

    Examples
    --------
    >>> from skprob.distributions import Normal
    >>> from skprob.metrics import interval_coverage
    >>> dist = Normal(loc=[0.0, 0.0], scale=[1.0, 1.0])
    >>> interval_coverage([0.5, 3.0], dist, confidence=0.9)
    0.5
    >>> round(interval_coverage([1.5, 3.0], dist, confidence=0.9, resolution=1.0), 3)
    0.322
    """
    _check_continuous(dist, "interval_coverage")
    y = _check_targets(y_true, dist)
    sample_weight = _check_sample_weight(sample_weight, y.shape[0])
    if isinstance(dist, MultivariateGaussianMixture):
        resolution = _check_resolution(resolution)
        if resolution.size not in (1, dist.n_outputs):
            raise ValueError(
                f"resolution holds {resolution.size} values for {dist.n_outputs} outputs; "
                "give one, or one per output."
            )
        resolution = np.broadcast_to(resolution, (dist.n_outputs,))
        return np.array([
            interval_coverage(y[:, j], dist.marginal(j), confidence, sample_weight,
                              resolution=resolution[j])
            for j in range(dist.n_outputs)
        ])
    resolution = _check_resolution(resolution)
    if resolution.size != 1:
        raise ValueError(
            f"resolution holds {resolution.size} values; a univariate dist takes one."
        )
    resolution = float(resolution.item())
    lower, upper = dist.interval(confidence)
    if resolution == 0:
        inside = (y >= lower) & (y <= upper)
    else:
        half = resolution / 2
        overlap = np.minimum(upper, y + half) - np.maximum(lower, y - half)
        inside = np.clip(overlap / resolution, 0.0, 1.0)
    return float(_average(inside, sample_weight))


def _check_resolution(resolution):
    """The rounding unit(s) of ``interval_coverage``: finite and non-negative (None is 0)."""
    if resolution is None:
        return np.float64(0.0)
    try:
        resolution = np.asarray(resolution, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"resolution must be a number, got {resolution!r}.") from exc
    if resolution.ndim > 1 or not np.all(np.isfinite(resolution)) or np.any(resolution < 0):
        raise ValueError(
            f"resolution must be a finite non-negative number (one per output), got {resolution!r}."
        )
    return resolution


def energy_score(y_true, dist, sample_weight=None, *, n_samples=1000, random_state=0):
    """Mean energy score of ``y_true`` under ``dist``: the CRPS of a vector target.

    ``ES(F, y) = E||X - y|| - 1/2 E||X - X'||`` for independent ``X, X' ~ F``
    (Euclidean norms), a proper score in the units of y; for one output it
    equals the CRPS.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed real-valued targets.
    dist : distribution of length n_samples
        Predictive distributions with a ``sample`` method, one row per target:
        a :class:`~skprob.distributions.MultivariateGaussianMixture` for
        vector targets, any continuous skprob distribution for scalars.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples.
    n_samples : int, default=1000
        Monte Carlo draws per row (``2 * n_samples`` are drawn).
    random_state : int, RandomState instance, Generator or None, default=0
        Seed of the draws. The default, a fixed seed, makes the score a
        deterministic function of ``(y_true, dist)``, so models compared on the
        same data see the same draws.

    Returns
    -------
    energy_score : float
        The (weighted) mean energy score; lower is better.

    Notes
    -----
    No closed form exists for a Gaussian in more than one dimension, so both
    expectations are Monte Carlo averages over ``2 n`` draws per row: the first
    over all of them, the second over the ``n`` disjoint pairs
    ``(x_i, x_(n+i))``. Both estimates are unbiased; the standard error of a
    row's score is of order ``std(||X - y||) / sqrt(n)``, a few percent of the
    score at the default ``n_samples=1000``, and it averages down over rows.

    References
    ----------
    .. [1] Gneiting, T. and Raftery, A. E. (2007). Strictly proper scoring
       rules, prediction, and estimation. Journal of the American Statistical
       Association, 102, 359-378.

    Examples
    --------
    >>> from skprob.distributions import MultivariateGaussianMixture
    >>> from skprob.metrics import energy_score
    >>> dist = MultivariateGaussianMixture(
    ...     weights=[[1.0]], means=[[[0.0, 0.0]]], scale_tril=[[[[1.0, 0.0], [0.0, 1.0]]]]
    ... )
    >>> # exactly sqrt(pi / 2) - sqrt(pi) / 2 = 0.3667 for a standard normal at its mean
    >>> round(energy_score([[0.0, 0.0]], dist, n_samples=100_000), 2)
    0.37
    """
    _check_continuous(dist, "energy_score")
    y = _check_targets(y_true, dist)
    sample_weight = _check_sample_weight(sample_weight, y.shape[0])
    n_draws = check_n_samples(n_samples)
    rng = check_random_state_or_generator(random_state)
    y = y if y.ndim == 2 else y[:, None]
    scores = np.empty(len(y))
    chunk = sample_chunk_rows(2 * n_draws * y.shape[1])
    for start in range(0, len(y), chunk):
        rows = slice(start, start + chunk)
        draws = dist[rows].sample(2 * n_draws, random_state=rng)
        draws = draws if draws.ndim == 3 else draws[:, :, None]
        to_target = np.linalg.norm(draws - y[rows, None, :], axis=-1).mean(axis=1)
        between = np.linalg.norm(draws[:, :n_draws] - draws[:, n_draws:], axis=-1).mean(axis=1)
        scores[rows] = to_target - 0.5 * between
    return float(_average(scores, sample_weight))


def calibration_error(y_true, dist, n_bins=10, sample_weight=None):
    """Calibration error of predictive distributions.

    Continuous distributions: the mean absolute difference between nominal
    levels ``tau`` and the empirical frequency of ``PIT <= tau``, over the
    ``n_bins`` levels ``tau = (k + 1/2) / n_bins``, ``k = 0 .. n_bins - 1``
    (0 for perfectly calibrated distributions, at most 1/2).

    :class:`~skprob.distributions.Categorical`: the expected calibration error
    (ECE) of the most probable class. Rows are grouped into ``n_bins``
    equal-width bins ``(b / n_bins, (b + 1) / n_bins]`` of their largest
    probability (the confidence), and
    ``ECE = sum_b (n_b / n) |accuracy_b - confidence_b|``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed targets (class labels for a Categorical).
    dist : distribution of length n_samples
        Predictive distributions, one row per target.
    n_bins : int, default=10
        Number of quantile levels (continuous) or confidence bins (Categorical).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples.

    Returns
    -------
    error : float
        Calibration error; lower is better.

    Examples
    --------
    >>> from skprob.distributions import Categorical
    >>> from skprob.metrics import calibration_error
    >>> dist = Categorical([[0.9, 0.1], [0.9, 0.1]])
    >>> round(calibration_error([0, 1], dist), 4)
    0.4
    """
    if not isinstance(n_bins, numbers.Integral) or isinstance(n_bins, bool) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}.")
    y = _check_targets(y_true, dist, "calibration_error")
    sample_weight = _check_sample_weight(sample_weight, y.shape[0])
    if isinstance(dist, Categorical):
        return _expected_calibration_error(y, dist, n_bins, sample_weight)
    levels = (np.arange(n_bins) + 0.5) / n_bins
    below = dist.cdf(y)[:, None] <= levels
    return float(np.mean(np.abs(_average(below, sample_weight) - levels)))


def _expected_calibration_error(y, dist, n_bins, sample_weight):
    """ECE of the most probable class over equal-width confidence bins."""
    # The column of each label (ValueError for labels not among the classes),
    # compared with the column of the most probable class, as Categorical.mode.
    correct = dist._class_index(y) == np.argmax(dist.probs, axis=1)
    confidence = np.max(dist.probs, axis=1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence, side="left")
    if sample_weight is None:
        sample_weight = np.ones(y.shape[0])
    accuracy_mass = np.bincount(bins, weights=sample_weight * correct, minlength=n_bins)
    confidence_mass = np.bincount(bins, weights=sample_weight * confidence, minlength=n_bins)
    return float(np.sum(np.abs(accuracy_mass - confidence_mass)) / np.sum(sample_weight))


# The scorers wrap the metric functions above, and skprob._scorers imports them
# from this module, so the scorers are imported last, once those are defined.
from skprob._scorers import (  # noqa: E402
    DistributionScorer,
    get_scorer,
    make_coverage_scorer,
    neg_crps_scorer,
    neg_energy_score_scorer,
    neg_nll_scorer,
)
