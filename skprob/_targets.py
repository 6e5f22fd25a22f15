"""Checks and robust statistics of the training targets y, before any encoding.

Regression targets are converted to float64 and summarised robustly (weighted
median, normal-consistent IQR, the rounding unit of tied values), with a
warning when they look discrete; classification labels are checked for
mixed types. The estimator mixins (``_regression.py``, ``_classification.py``)
and the fit glue (``_base.py``) call these.
"""

import warnings

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

from skprob.exceptions import DiscreteTargetWarning


def numeric_target(y):
    """Regression targets as float64, or a ValueError naming the offending values."""
    if y.dtype.kind in "biuf":
        return y.astype(np.float64, copy=False)
    try:
        return y.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"A regressor needs numeric targets; could not convert y of dtype {y.dtype} "
            f"to float ({exc}). For class labels use a classifier."
        ) from exc


def weighted_quantiles(values, weights, quantiles):
    """Quantiles of a weighted sample (inverse of the weighted empirical cdf, midpoints)."""
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    cumulative = np.cumsum(weights) - 0.5 * weights
    return np.interp(np.asarray(quantiles) * weights.sum(), cumulative, values)


# The interquartile range of a standard normal, to turn an IQR into a scale.
_NORMAL_IQR = 1.3489795003921634


def target_location_scale(y, sample_weight):
    """Robust, overflow-safe location and scale for standardising a regression target.

    The location is the weighted median. The scale is the smaller of the
    standard deviation and the normal-consistent interquartile range: a few
    gross outliers inflate the standard deviation (and would squeeze every
    other row into a sliver of the standardised axis, below the networks'
    smallest scale) but not the IQR, while a sample with most values tied has
    an IQR of zero but a usable standard deviation. Moments are taken on y
    divided by its largest deviation, so that neither y ~ 1e300 nor a spread
    of 1e-300 overflows or underflows.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Finite float64 targets.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights with a positive sum.

    Returns
    -------
    location, scale : float
        ``scale`` is finite and positive.
    """
    location = float(weighted_quantiles(y, sample_weight, 0.5))
    with np.errstate(over="ignore"):
        deviation = y - location
    if not np.isfinite(deviation).all():
        raise ValueError(
            "y spans a range too wide to standardise in float64 (values from "
            f"{y.min():.3g} to {y.max():.3g}); rescale or transform y."
        )
    largest = np.abs(deviation).max()
    if largest == 0:  # a constant target: any positive scale will do
        return location, abs(location) or 1.0
    unit = deviation / largest
    centre = np.average(unit, weights=sample_weight)
    std = largest * np.sqrt(np.average((unit - centre) ** 2, weights=sample_weight))
    q25, q75 = weighted_quantiles(unit, sample_weight, [0.25, 0.75])
    iqr_scale = largest * (q75 - q25) / _NORMAL_IQR
    scale = min(std, iqr_scale) if iqr_scale > 0 else std
    if not 0 < scale < np.inf:
        raise ValueError(f"y could not be standardised (scale {scale!r}); rescale y.")
    return location, float(scale)


def target_resolution(y):
    """Typical spacing of the values of a target with many ties (0 when y is continuous).

    Rounded targets (prices, measurements to one decimal, scores) repeat a few
    values. When at least half the rows share their value with another row, the
    median gap between consecutive distinct values is the rounding unit a
    density can resolve; otherwise 0.
    """
    values = np.unique(y)
    if len(values) < 2 or len(values) > len(y) / 2:
        return 0.0
    return float(np.median(np.diff(values)))


def dequantised(y, width, seed):
    """``y`` spread uniformly over its rounding cell of ``width`` (``y`` itself if 0).

    One draw from ``seed``: ``y + U(-width / 2, width / 2)``, in ``y``'s dtype.
    """
    if width <= 0:
        return y
    noise = np.random.RandomState(seed).uniform(-0.5, 0.5, size=y.shape)
    return (y + width * noise).astype(y.dtype, copy=False)


# A regression target with at most this many distinct values, each seen on
# average at least _DISCRETE_MIN_REPEATS times, is treated as discrete: 20
# covers scores, ratings and counts of a few categories, and the repeat rule
# keeps small continuous samples that happen to tie from being flagged.
_DISCRETE_MAX_VALUES = 20
_DISCRETE_MIN_REPEATS = 5


def warn_if_discrete_target(y):
    """Warn (:class:`~skprob.exceptions.DiscreteTargetWarning`) if y takes few distinct values."""
    values = np.unique(y)
    if len(values) > _DISCRETE_MAX_VALUES or len(y) < _DISCRETE_MIN_REPEATS * len(values):
        return
    shown = ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if len(values) > 6 else "")
    warnings.warn(
        f"y takes only {len(values)} distinct values ({shown}) in {len(y)} samples. A "
        "continuous density fitted to discrete targets can put narrow spikes on those "
        "values, so its negative log-likelihood is not comparable with other models'. "
        "For ordered categories use a classifier; to model y as continuous, dequantise "
        "it, e.g. y + rng.uniform(-0.5, 0.5, len(y)) for integers.",
        DiscreteTargetWarning,
        stacklevel=7,  # the caller of fit or partial_fit
    )


def _check_labels(y):
    """Classification targets, or a clear error for labels of mixed types."""
    if y.dtype == object:
        kinds = sorted({"str" if isinstance(v, str) else type(v).__name__ for v in y.ravel()})
        if "str" in kinds and len(kinds) > 1:
            raise TypeError(
                f"y mixes class labels of different types ({', '.join(kinds)}), which cannot "
                "be sorted into classes_; use labels of one type, e.g. all strings."
            )
    check_classification_targets(y)
