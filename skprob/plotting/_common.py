"""matplotlib access and the argument checks shared by the plotting functions."""

import numbers

import numpy as np

from skprob.distributions import ContinuousDistribution


def pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("skprob.plotting needs matplotlib: pip install matplotlib") from exc
    return plt


def get_axes(ax):
    """The given Axes, or the Axes of a new figure."""
    if ax is None:
        _, ax = pyplot().subplots()
    return ax


def check_continuous(dist, function):
    if not isinstance(dist, ContinuousDistribution):
        raise TypeError(
            f"{function} needs a continuous distribution from skprob.distributions "
            f"(e.g. Normal or GaussianMixture), got {type(dist).__name__}."
        )


def check_1d(name, values, n_rows):
    """``values`` as a float array of shape (n_rows,); a column vector is flattened."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or values.shape[0] != n_rows:
        raise ValueError(
            f"{name} must have shape ({n_rows},) or ({n_rows}, 1), one value per row of the "
            f"distribution, got shape {values.shape}."
        )
    return values


def check_confidence(confidence):
    if not isinstance(confidence, numbers.Real) or not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence levels must lie in (0, 1), got {confidence!r}.")
    return float(confidence)


def check_positive_int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)
