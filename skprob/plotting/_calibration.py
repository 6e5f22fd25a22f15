"""Calibration diagnostics: PIT histogram, calibration curves, reliability diagram.

Each plot draws what a metric of :mod:`skprob.metrics` measures (``pit``,
``interval_coverage``, ``calibration_error``), with the binomial band that a
calibrated model stays inside.
"""

import numpy as np

from skprob.distributions import Categorical
from skprob.metrics import calibration_error, interval_coverage, pit
from skprob.plotting._common import check_confidence, check_continuous, check_positive_int, get_axes


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
    check_continuous(dist, "plot_pit_histogram")
    bins = check_positive_int("bins", bins)
    values = pit(y_true, dist)
    ax = get_axes(ax)
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
    check_continuous(dist, "plot_calibration_curve")
    levels = _check_levels(levels, kind)
    observed = _observed_frequencies(y_true, dist, levels, kind)
    ax = get_axes(ax)
    ax.plot(levels, observed, "o-", color="C0", markersize=4, label="observed")
    grid = np.linspace(0.0, 1.0, 101)
    half_width = 2.0 * np.sqrt(grid * (1.0 - grid) / len(dist))
    ax.fill_between(grid, grid - half_width, grid + half_width, color="0.5", alpha=0.2,
                    linewidth=0, label="± 2σ (binomial)")
    return _finish_calibration_axes(ax, kind)


def _check_levels(levels, kind):
    """Sorted nominal levels in (0, 1) (default 0.05, ..., 0.95), after checking ``kind``."""
    if kind not in ("interval", "quantile"):
        raise ValueError(f"kind must be 'interval' or 'quantile', got {kind!r}.")
    levels = np.linspace(0.05, 0.95, 19) if levels is None else np.asarray(levels, dtype=float)
    return np.sort([check_confidence(float(c)) for c in np.ravel(levels)])


def _observed_frequencies(y_true, dist, levels, kind):
    """Observed coverage of the central intervals, or fraction of PIT values <= each level."""
    if kind == "interval":
        return np.array([interval_coverage(y_true, dist, c) for c in levels])
    return np.mean(pit(y_true, dist)[:, None] <= levels, axis=0)


def _finish_calibration_axes(ax, kind):
    """The diagonal, limits, labels and legend shared by the calibration curves."""
    ax.plot([0.0, 1.0], [0.0, 1.0], "k--", linewidth=1, label="calibrated")
    xlabel = ("nominal coverage of the central interval" if kind == "interval"
              else "nominal quantile level")
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
    levels = _check_levels(levels, kind)
    ax = get_axes(ax)
    for k, (label, dist) in enumerate(dists.items()):
        check_continuous(dist, "plot_calibration_curves")
        observed = _observed_frequencies(y_true, dist, levels, kind)
        gap = np.mean(np.abs(observed - levels))
        ax.plot(levels, observed, "o-", color=f"C{k}", markersize=4,
                label=f"{label} (mean gap {gap:.3f})")
    return _finish_calibration_axes(ax, kind)


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
    n_bins = check_positive_int("n_bins", n_bins)
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
    ax = get_axes(ax)
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


