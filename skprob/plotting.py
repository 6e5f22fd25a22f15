"""Plots that show whether predictive distributions are honest.

Every function takes fitted predictive distributions from
:mod:`skprob.distributions` (one row per sample), draws on a matplotlib
``Axes`` and returns it; pass ``ax=`` to draw into an existing figure, or
leave it out to get a new one. matplotlib is an optional dependency
(``pip install matplotlib``): it is imported when a function is called, so
``import skprob`` never needs it.

The numbers drawn come from the distributions' own methods (``interval``,
``ppf``, ``pdf``, ``sample``) and from :mod:`skprob.metrics` (``pit``,
``interval_coverage``, ``calibration_error``), so a plot always shows what
the corresponding metric measures.
"""

import numbers

import numpy as np

from skprob.distributions import (
    Categorical,
    ContinuousDistribution,
    GaussianMixture,
    MultivariateGaussianMixture,
    Normal,
)
from skprob.metrics import calibration_error, interval_coverage, pit

__all__ = [
    "plot_calibration_curve",
    "plot_calibration_curves",
    "plot_joint_density",
    "plot_mixture_components",
    "plot_pit_histogram",
    "plot_predicted_vs_true",
    "plot_predictive_band",
    "plot_prior_reweighting",
    "plot_reliability_diagram",
]

# Number of points of the default grid of plot_mixture_components, and the
# tail probability left out at each end of it.
_GRID_SIZE = 512
_GRID_TAIL = 5e-4
# Draws that place the highest-density contours of plot_joint_density, and
# the points per axis of its grid.
_CONTOUR_DRAWS = 20000
_CONTOUR_GRID_SIZE = 120


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("skprob.plotting needs matplotlib: pip install matplotlib") from exc
    return plt


def _get_axes(ax):
    """The given Axes, or the Axes of a new figure."""
    if ax is None:
        _, ax = _pyplot().subplots()
    return ax


def _check_continuous(dist, function):
    if not isinstance(dist, ContinuousDistribution):
        raise TypeError(
            f"{function} needs a continuous distribution from skprob.distributions "
            f"(e.g. Normal or GaussianMixture), got {type(dist).__name__}."
        )


def _check_1d(name, values, n_rows):
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


def _check_confidence(confidence):
    if not isinstance(confidence, numbers.Real) or not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence levels must lie in (0, 1), got {confidence!r}.")
    return float(confidence)


def _check_positive_int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def plot_predictive_band(
    X_1d, dist, *, y=None, ax=None, intervals=(0.68, 0.95), n_samples=0, random_state=None
):
    """Predictive mean and central intervals along a one-dimensional input.

    The rows are sorted by ``X_1d``; the predictive mean is drawn as a line
    and each equal-tailed interval ``dist.interval(c)`` as a shaded band, the
    widest one lightest. Optionally the observed targets and draws from the
    predictive distributions are scattered on top.

    Parameters
    ----------
    X_1d : array-like of shape (n_samples,) or (n_samples, 1)
        The single input feature of every row.
    dist : ContinuousDistribution of length n_samples
        Predictive distributions, one row per entry of ``X_1d``.
    y : array-like of shape (n_samples,), default=None
        Observed targets, drawn as points when given.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure is created when None.
    intervals : sequence of float, default=(0.68, 0.95)
        Probability mass of each central interval, in (0, 1). An empty
        sequence draws no band.
    n_samples : int, default=0
        Number of draws per row from ``dist.sample`` to scatter (none when 0).
    random_state : int, RandomState instance, Generator or None, default=None
        Seed of the draws, as in ``dist.sample``.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on.

    See Also
    --------
    plot_mixture_components : The whole density of one row.

    Notes
    -----
    For a multimodal predictive distribution the mean and the central
    intervals may cover a region without data; draw samples (``n_samples``)
    to see the branches.

    Examples
    --------
    >>> import numpy as np
    >>> from skprob.distributions import Normal
    >>> from skprob.plotting import plot_predictive_band
    >>> x = np.linspace(0.0, 1.0, 50)
    >>> ax = plot_predictive_band(x, Normal(loc=2 * x, scale=0.1 + x), n_samples=3)
    >>> len(ax.collections)  # two bands and the scatter of the samples
    3
    """
    _check_continuous(dist, "plot_predictive_band")
    x = _check_1d("X_1d", X_1d, len(dist))
    confidences = sorted((_check_confidence(c) for c in intervals), reverse=True)
    if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool) or n_samples < 0:
        raise ValueError(f"n_samples must be a non-negative integer, got {n_samples!r}.")
    ax = _get_axes(ax)
    order = np.argsort(x, kind="stable")
    x_sorted = x[order]
    for i, confidence in enumerate(confidences):
        lower, upper = dist.interval(confidence)
        ax.fill_between(
            x_sorted,
            lower[order],
            upper[order],
            color="C0",
            alpha=0.2 + 0.25 * i / max(len(confidences) - 1, 1),
            linewidth=0,
            label=f"{confidence:.0%} interval",
        )
    if y is not None:
        y = _check_1d("y", y, len(dist))
        ax.scatter(x, y, s=4, color="0.35", alpha=0.5, label="data")
    if n_samples:
        draws = dist.sample(n_samples, random_state=random_state)
        ax.scatter(
            np.repeat(x, n_samples), draws.ravel(), s=3, color="C3", alpha=0.4, label="samples"
        )
    ax.plot(x_sorted, dist.mean()[order], color="C0", linewidth=2, label="predictive mean")
    ax.set(xlabel="x", ylabel="y")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_predicted_vs_true(y_true, dist, *, confidence=0.68, ax=None):
    """Predictive median with its central interval against the true target.

    Points on the dashed identity line are exact; for calibrated
    distributions a fraction ``confidence`` of the error bars crosses it.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed targets.
    dist : ContinuousDistribution of length n_samples
        Predictive distributions, one row per target.
    confidence : float, default=0.68
        Probability mass of the equal-tailed interval drawn as error bar.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on.

    See Also
    --------
    plot_calibration_curve : Interval coverage at every level.

    Examples
    --------
    >>> from skprob.distributions import Normal
    >>> from skprob.plotting import plot_predicted_vs_true
    >>> ax = plot_predicted_vs_true([0.0, 1.0, 2.0], Normal([0.1, 0.9, 2.2], 0.2))
    >>> ax.get_xlabel()
    'true y'
    """
    _check_continuous(dist, "plot_predicted_vs_true")
    y_true = _check_1d("y_true", y_true, len(dist))
    confidence = _check_confidence(confidence)
    ax = _get_axes(ax)
    median = dist.ppf(0.5)
    lower, upper = dist.interval(confidence)
    ax.errorbar(
        y_true,
        median,
        yerr=np.vstack([median - lower, upper - median]),
        fmt="o",
        markersize=2.5,
        elinewidth=0.6,
        alpha=0.6,
        label=f"median, {confidence:.0%} interval",
    )
    low = min(y_true.min(), lower.min())
    high = max(y_true.max(), upper.max())
    ax.plot([low, high], [low, high], "k--", linewidth=1, label="identity")
    ax.set(xlabel="true y", ylabel="predicted y")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_pit_histogram(y_true, dist, *, bins=20, ax=None):
    """Histogram of the probability integral transform (PIT) values.

    The PIT value of a target is ``dist.cdf(y_true)`` (see
    :func:`skprob.metrics.pit`); it is uniform on [0, 1] when the predictive
    distributions are calibrated. The histogram is drawn as a density, with
    the uniform density 1 and the band of +/- 2 binomial standard deviations
    that a histogram of ``n_samples`` uniform values stays inside in about
    95% of the bins. A U shape means overconfident (too narrow)
    distributions, a hump underconfident ones, a slope a biased location.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed targets.
    dist : ContinuousDistribution of length n_samples
        Predictive distributions, one row per target.
    bins : int, default=20
        Number of equal-width bins on [0, 1].
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on.

    See Also
    --------
    skprob.metrics.pit : The values histogrammed.
    plot_calibration_curve : The same information as a cumulative curve.

    Notes
    -----
    With ``p = 1 / bins``, the count of a bin is binomial with standard
    deviation ``sqrt(n p (1 - p))``; in units of density (count divided by
    ``n p``) that is ``sqrt((bins - 1) / n)``.

    Examples
    --------
    >>> import numpy as np
    >>> from skprob.distributions import Normal
    >>> from skprob.plotting import plot_pit_histogram
    >>> y = np.random.default_rng(0).normal(size=500)
    >>> ax = plot_pit_histogram(y, Normal(np.zeros(500), 1.0), bins=10)
    >>> len(ax.patches)  # ten bars and the binomial band
    11
    """
    _check_continuous(dist, "plot_pit_histogram")
    bins = _check_positive_int("bins", bins)
    values = pit(y_true, dist)
    ax = _get_axes(ax)
    heights, _, _ = ax.hist(values, bins=bins, range=(0.0, 1.0), density=True, color="C0",
                            alpha=0.7, edgecolor="white", label="PIT")
    half_width = 2.0 * np.sqrt((bins - 1) / values.shape[0])
    ax.axhspan(max(1.0 - half_width, 0.0), 1.0 + half_width, color="0.5", alpha=0.2,
               label="uniform ± 2σ")
    ax.axhline(1.0, color="k", linestyle="--", linewidth=1, label="uniform")
    # Head room above the bars for the legend.
    top = 1.35 * max(heights.max(), 1.0 + half_width)
    ax.set(xlim=(0.0, 1.0), ylim=(0.0, top), xlabel="PIT = F(y)", ylabel="density")
    ax.legend(loc="upper center", fontsize="small")
    return ax


def plot_calibration_curve(y_true, dist, *, levels=None, kind="interval", ax=None):
    """Calibration curve of regressors: nominal level against observed frequency.

    With ``kind="interval"`` the curve shows, for each level ``c``, the
    fraction of targets inside the central interval ``dist.interval(c)``
    (:func:`skprob.metrics.interval_coverage`); with ``kind="quantile"`` the
    fraction of targets below the ``c``-quantile, i.e. of PIT values ``<= c``.
    Calibrated distributions follow the diagonal; the shaded band around it
    is +/- 2 binomial standard deviations ``sqrt(c (1 - c) / n)``. Below the
    diagonal, intervals are too narrow (overconfident); above, too wide.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed targets.
    dist : ContinuousDistribution of length n_samples
        Predictive distributions, one row per target.
    levels : array-like of float, default=None
        Nominal levels in (0, 1); None means ``0.05, 0.10, ..., 0.95``.
    kind : {"interval", "quantile"}, default="interval"
        Whether a level is the mass of a central interval or a quantile level.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on.

    See Also
    --------
    skprob.metrics.calibration_error : The mean distance of the quantile curve
        from the diagonal.
    plot_reliability_diagram : The counterpart for classifiers.

    Examples
    --------
    >>> import numpy as np
    >>> from skprob.distributions import Normal
    >>> from skprob.plotting import plot_calibration_curve
    >>> y = np.random.default_rng(0).normal(size=500)
    >>> ax = plot_calibration_curve(y, Normal(np.zeros(500), 0.5))  # too narrow
    >>> bool(np.all(ax.lines[0].get_ydata() <= ax.lines[0].get_xdata()))
    True
    """
    _check_continuous(dist, "plot_calibration_curve")
    if kind not in ("interval", "quantile"):
        raise ValueError(f"kind must be 'interval' or 'quantile', got {kind!r}.")
    levels = np.linspace(0.05, 0.95, 19) if levels is None else np.asarray(levels, dtype=float)
    levels = np.sort([_check_confidence(float(c)) for c in np.ravel(levels)])
    if kind == "interval":
        observed = np.array([interval_coverage(y_true, dist, c) for c in levels])
        xlabel = "nominal coverage of the central interval"
    else:
        observed = np.mean(pit(y_true, dist)[:, None] <= levels, axis=0)
        xlabel = "nominal quantile level"
    ax = _get_axes(ax)
    ax.plot(levels, observed, "o-", color="C0", markersize=4, label="observed")
    ax.plot([0.0, 1.0], [0.0, 1.0], "k--", linewidth=1, label="calibrated")
    grid = np.linspace(0.0, 1.0, 101)
    half_width = 2.0 * np.sqrt(grid * (1.0 - grid) / len(dist))
    ax.fill_between(grid, grid - half_width, grid + half_width, color="0.5", alpha=0.2,
                    linewidth=0, label="± 2σ (binomial)")
    ax.set(xlim=(0.0, 1.0), ylim=(0.0, 1.0), xlabel=xlabel, ylabel="observed frequency")
    ax.set_aspect("equal")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_calibration_curves(y_true, dists, *, levels=None, kind="interval", ax=None):
    """Calibration curves of several predictive distributions on one Axes.

    Draws, for each named distribution, the curve of
    :func:`plot_calibration_curve` (observed against nominal coverage of the
    central intervals, or against the quantile level), labelled with its
    mean absolute gap to the diagonal, e.g. to compare a model before and
    after :class:`~skprob.calibration.CalibratedRegressorCV`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed targets.
    dists : dict of str to ContinuousDistribution
        Predictive distributions of length n_samples, by label (drawn in
        order).
    levels : array-like of float, default=None
        Nominal levels in (0, 1); None means ``0.05, 0.10, ..., 0.95``.
    kind : {"interval", "quantile"}, default="interval"
        Whether a level is the mass of a central interval or a quantile level.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on.

    See Also
    --------
    plot_calibration_curve : One distribution, with a binomial band.

    Examples
    --------
    >>> import numpy as np
    >>> from skprob.distributions import Normal
    >>> from skprob.plotting import plot_calibration_curves
    >>> y = np.random.default_rng(0).normal(size=500)
    >>> ax = plot_calibration_curves(
    ...     y, {"narrow": Normal(np.zeros(500), 0.5), "right": Normal(np.zeros(500), 1.0)}
    ... )
    >>> len(ax.lines)  # two curves and the diagonal
    3
    """
    if not dists:
        raise ValueError("dists must name at least one distribution.")
    if kind not in ("interval", "quantile"):
        raise ValueError(f"kind must be 'interval' or 'quantile', got {kind!r}.")
    levels = np.linspace(0.05, 0.95, 19) if levels is None else np.asarray(levels, dtype=float)
    levels = np.sort([_check_confidence(float(c)) for c in np.ravel(levels)])
    ax = _get_axes(ax)
    for k, (label, dist) in enumerate(dists.items()):
        _check_continuous(dist, "plot_calibration_curves")
        if kind == "interval":
            observed = np.array([interval_coverage(y_true, dist, c) for c in levels])
        else:
            observed = np.mean(pit(y_true, dist)[:, None] <= levels, axis=0)
        gap = np.mean(np.abs(observed - levels))
        ax.plot(levels, observed, "o-", color=f"C{k}", markersize=4,
                label=f"{label} (mean gap {gap:.3f})")
    ax.plot([0.0, 1.0], [0.0, 1.0], "k--", linewidth=1, label="calibrated")
    xlabel = ("nominal coverage of the central interval" if kind == "interval"
              else "nominal quantile level")
    ax.set(xlim=(0.0, 1.0), ylim=(0.0, 1.0), xlabel=xlabel, ylabel="observed frequency")
    ax.set_aspect("equal")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_reliability_diagram(y_true, dist, *, n_bins=10, ax=None):
    """Reliability diagram of classifiers: confidence against accuracy.

    Rows are grouped into ``n_bins`` equal-width bins of their largest class
    probability (the confidence), the bins of
    :func:`skprob.metrics.calibration_error`. A bar shows the accuracy of the
    most probable class in its bin and is labelled with the number of rows
    in it; a dot marks the bin's mean confidence against its accuracy.
    Calibrated classifiers follow the diagonal; the expected calibration
    error (ECE) is shown in the legend.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed class labels.
    dist : Categorical of length n_samples
        Predicted class probabilities, one row per label.
    n_bins : int, default=10
        Number of equal-width confidence bins on [0, 1].
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on.

    See Also
    --------
    skprob.metrics.calibration_error : The ECE.
    plot_calibration_curve : The counterpart for regressors.

    Examples
    --------
    >>> from skprob.distributions import Categorical
    >>> from skprob.plotting import plot_reliability_diagram
    >>> dist = Categorical([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], classes=["cat", "dog"])
    >>> ax = plot_reliability_diagram(["cat", "dog", "dog"], dist, n_bins=5)
    >>> len(ax.patches)  # two non-empty bins
    2
    """
    if not isinstance(dist, Categorical):
        raise TypeError(
            f"plot_reliability_diagram needs a Categorical distribution, got "
            f"{type(dist).__name__}; for regressors use plot_calibration_curve."
        )
    n_bins = _check_positive_int("n_bins", n_bins)
    ece = calibration_error(y_true, dist, n_bins=n_bins)  # also validates y_true
    y_true = np.asarray(y_true).ravel()
    confidence = np.max(dist.probs, axis=1)
    correct = (dist.mode() == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence, side="left")
    counts = np.bincount(bins, minlength=n_bins)
    filled = counts > 0
    accuracy = np.bincount(bins, weights=correct, minlength=n_bins)[filled] / counts[filled]
    mean_confidence = (
        np.bincount(bins, weights=confidence, minlength=n_bins)[filled] / counts[filled]
    )
    centres = 0.5 * (edges[:-1] + edges[1:])[filled]
    ax = _get_axes(ax)
    bars = ax.bar(centres, accuracy, width=1.0 / n_bins, color="C0", alpha=0.6,
                  edgecolor="white", label="accuracy per bin")
    ax.bar_label(bars, labels=[str(c) for c in counts[filled]], fontsize="x-small", padding=1)
    ax.plot(mean_confidence, accuracy, "o", color="C3", markersize=4,
            label=f"mean confidence (ECE = {ece:.3f})")
    ax.plot([0.0, 1.0], [0.0, 1.0], "k--", linewidth=1, label="calibrated")
    # The legend sits in headroom above accuracy 1, which no bar reaches, so it
    # never covers a bar, whatever the classifier's confidences.
    ax.set(xlim=(0.0, 1.0), ylim=(0.0, 1.45), yticks=np.linspace(0.0, 1.0, 6),
           xlabel="confidence (largest probability)", ylabel="accuracy")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_mixture_components(dist, index=0, *, y_grid=None, ax=None):
    """Density of one predictive Gaussian mixture and its weighted components.

    Parameters
    ----------
    dist : GaussianMixture or Normal
        Predictive distributions; a Normal is drawn as a mixture of one
        component.
    index : int, default=0
        The row to draw.
    y_grid : array-like of shape (m,), default=None
        Points at which the densities are evaluated. None means 512 points
        from the 0.05% to the 99.95% quantile of the row, widened by 10%.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on: the total density ``sum_k w_k N(y | mu_k,
        sigma_k^2)`` as a thick line and each term ``w_k N(y | mu_k,
        sigma_k^2)`` as a thin dashed line, in component order.

    See Also
    --------
    plot_predictive_band : Mean and intervals along a 1-D input.

    Examples
    --------
    >>> from skprob.distributions import GaussianMixture
    >>> from skprob.plotting import plot_mixture_components
    >>> dist = GaussianMixture([[0.3, 0.7]], [[-2.0, 1.0]], [[0.5, 1.0]])
    >>> ax = plot_mixture_components(dist)
    >>> len(ax.lines)  # the total and two components
    3
    """
    if isinstance(dist, Normal):
        dist = GaussianMixture(np.ones((len(dist), 1)), dist.loc[:, None], dist.scale[:, None])
    if not isinstance(dist, GaussianMixture):
        raise TypeError(
            f"plot_mixture_components needs a GaussianMixture or a Normal, got "
            f"{type(dist).__name__}."
        )
    row = dist[index]
    if y_grid is None:
        low, high = row.ppf(np.array([[_GRID_TAIL, 1.0 - _GRID_TAIL]]))[0]
        margin = 0.1 * (high - low)
        y_grid = np.linspace(low - margin, high + margin, _GRID_SIZE)
    y_grid = np.asarray(y_grid, dtype=np.float64).ravel()
    n_components = row.n_components
    components = Normal(row.means[0], row.stds[0]).pdf(
        np.broadcast_to(y_grid, (n_components, y_grid.shape[0]))
    )
    components *= row.weights[0][:, None]
    ax = _get_axes(ax)
    ax.plot(y_grid, row.pdf(y_grid[None, :])[0], color="k", linewidth=2, label="mixture")
    for k in range(n_components):
        ax.plot(y_grid, components[k], linestyle="--", linewidth=1, color=f"C{k % 10}",
                label="weighted components" if k == 0 else None)
    ax.set(xlabel="y", ylabel="density")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def _density_levels(row, masses):
    """Densities whose upper level sets hold probability ``masses`` (increasing densities)."""
    draws = row.sample(_CONTOUR_DRAWS, random_state=0)
    density = row.pdf(draws)[0]
    return np.quantile(density, 1.0 - np.sort(masses)[::-1])


def plot_joint_density(dist, index=0, *, outputs=(0, 1), true_dist=None, y_true=None,
                       masses=(0.5, 0.9), ax=None):
    """Contours of the joint predictive density of two outputs for one row.

    Parameters
    ----------
    dist : MultivariateGaussianMixture
        Predictive distributions of a vector target.
    index : int, default=0
        The row to draw.
    outputs : tuple of two int, default=(0, 1)
        The outputs on the horizontal and vertical axes; the others are
        marginalised out.
    true_dist : MultivariateGaussianMixture, default=None
        A distribution to draw beside ``dist`` (dashed), e.g. the truth of a
        :mod:`skprob.datasets` problem; its row ``index`` is used.
    y_true : array-like of shape (n_outputs,), default=None
        An observed target of that row, drawn as a cross.
    masses : sequence of float, default=(0.5, 0.9)
        Each contour encloses the smallest region holding this probability
        (a highest-density region), placed from 20000 seeded draws.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on: the predictive density as filled contours and
        lines at ``masses``, and ``true_dist`` as dashed lines at the same
        masses.

    See Also
    --------
    plot_mixture_components : The density of one output.

    Examples
    --------
    >>> from skprob.datasets import make_correlated_outputs
    >>> from skprob.plotting import plot_joint_density
    >>> X, y, dist = make_correlated_outputs(5, random_state=0, return_distribution=True)
    >>> ax = plot_joint_density(dist, 0, y_true=y[0])
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('y[0]', 'y[1]')
    """
    dists = [d for d in (dist, true_dist) if d is not None]
    for name, d in zip(("dist", "true_dist"), dists, strict=False):
        if not isinstance(d, MultivariateGaussianMixture):
            raise TypeError(f"plot_joint_density needs a MultivariateGaussianMixture as {name}, "
                            f"got {type(d).__name__}.")
    masses = np.array([_check_confidence(m) for m in np.atleast_1d(masses)])
    if len(outputs) != 2:
        raise ValueError(f"outputs must name two outputs, got {outputs!r}.")
    rows = [d[index].marginal(list(outputs)) for d in dists]
    limits = []
    for j in range(2):
        ends = np.array([r.marginal(j).ppf(np.array([[_GRID_TAIL, 1 - _GRID_TAIL]]))[0]
                         for r in rows])
        low, high = ends[:, 0].min(), ends[:, 1].max()
        margin = 0.1 * (high - low)
        limits.append(np.linspace(low - margin, high + margin, _CONTOUR_GRID_SIZE))
    grid = np.stack(np.meshgrid(*limits), axis=-1)
    ax = _get_axes(ax)
    for r, style in zip(rows, ("solid", "dashed"), strict=False):
        density = r.pdf(grid.reshape(1, -1, 2))[0].reshape(grid.shape[:2])
        levels = _density_levels(r, masses)
        if style == "solid":
            ax.contourf(*limits, density, levels=[*levels, density.max()], cmap="Blues",
                        alpha=0.6)
        ax.contour(*limits, density, levels=levels, colors="k" if style == "solid" else "C3",
                   linestyles=style, linewidths=1)
    if y_true is not None:
        point = np.asarray(y_true, dtype=np.float64)[list(outputs)]
        ax.plot(*point, marker="x", color="C1", markersize=9, linestyle="none", label="y")
    ax.set(xlabel=f"y[{outputs[0]}]", ylabel=f"y[{outputs[1]}]")
    return ax


def _curve_on_grid(name, curve, y_grid):
    """Values of an array, a callable, a scipy.stats distribution or a one-row skprob one."""
    if isinstance(curve, ContinuousDistribution):
        if len(curve) != 1:
            raise ValueError(
                f"{name} must be a distribution of one row, got {len(curve)} rows; select "
                "one with dist[i]."
            )
        values = curve.pdf(y_grid[None, :])[0]
    elif hasattr(curve, "pdf"):
        values = curve.pdf(y_grid)
    elif callable(curve):
        values = curve(y_grid)
    else:
        values = curve
    values = np.asarray(values, dtype=np.float64)
    if values.shape != y_grid.shape:
        raise ValueError(
            f"{name} must give one value per point of y_grid, shape {y_grid.shape}, got "
            f"shape {values.shape}."
        )
    return values


def plot_prior_reweighting(
    y_grid, train_prior, target_prior, posterior_before, posterior_after, *, ax=None
):
    """Training prior, target prior and the posterior before and after reweighting.

    A model trained by negative log-likelihood recovers the posterior under
    its training prior, ``p_train(y | x) ∝ p(x | y) p_train(y)``; for a
    target prior ``pi`` the posterior becomes
    ``p_pi(y | x) ∝ p_train(y | x) pi(y) / p_train(y)``. This plot shows
    the four densities over ``y_grid``: priors dashed, posteriors solid.

    Parameters
    ----------
    y_grid : array-like of shape (m,)
        Points at which the curves are drawn.
    train_prior, target_prior, posterior_before, posterior_after : array-like, \
callable, distribution or None
        Each curve as its values on ``y_grid`` (shape ``(m,)``), a callable
        mapping ``y_grid`` to them, a frozen :mod:`scipy.stats` distribution
        (its ``pdf``) or a one-row skprob distribution (e.g. ``dist[i]``).
        None leaves the curve out.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on, with one line per curve given, in the order of
        the arguments.

    See Also
    --------
    skprob.PriorReweighter : The estimator that moves a posterior to a new prior.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> from skprob.plotting import plot_prior_reweighting
    >>> grid = np.linspace(0.0, 1.0, 101)
    >>> before, after = stats.norm(0.5, 0.1), stats.norm(0.47, 0.1)
    >>> ax = plot_prior_reweighting(grid, stats.uniform(), lambda y: 2 - 2 * y, before, after)
    >>> [line.get_label() for line in ax.lines]
    ['training prior', 'target prior', 'posterior (training prior)', 'posterior (target prior)']
    """
    y_grid = np.asarray(y_grid, dtype=np.float64).ravel()
    curves = [
        ("train_prior", train_prior, "training prior", {"color": "0.4", "linestyle": "--"}),
        ("target_prior", target_prior, "target prior", {"color": "C2", "linestyle": "--"}),
        ("posterior_before", posterior_before, "posterior (training prior)", {"color": "C0"}),
        ("posterior_after", posterior_after, "posterior (target prior)", {"color": "C3"}),
    ]
    ax = _get_axes(ax)
    for name, curve, label, style in curves:
        if curve is not None:
            ax.plot(y_grid, _curve_on_grid(name, curve, y_grid), linewidth=2, label=label,
                    **style)
    ax.set(xlabel="y", ylabel="density")
    ax.legend(loc="best", fontsize="small")
    return ax
