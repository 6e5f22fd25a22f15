"""Predictive distributions drawn against the inputs, the targets or the outputs.

The mean and central intervals along a one-dimensional input, the median and
interval against the true target, the density of one row of a Gaussian
mixture with its components, and the joint density of two outputs.
"""

import numbers

import numpy as np

from skprob.distributions import GaussianMixture, MultivariateGaussianMixture, Normal
from skprob.plotting._common import check_1d, check_confidence, check_continuous, get_axes

# Number of points of the default grid of plot_mixture_components, and the
# tail probability left out at each end of it.
_GRID_SIZE = 512
_GRID_TAIL = 5e-4
# Draws that place the highest-density contours of plot_joint_density, and
# the points per axis of its grid.
_CONTOUR_DRAWS = 20000
_CONTOUR_GRID_SIZE = 120


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
    check_continuous(dist, "plot_predictive_band")
    x = check_1d("X_1d", X_1d, len(dist))
    confidences = sorted((check_confidence(c) for c in intervals), reverse=True)
    if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool) or n_samples < 0:
        raise ValueError(f"n_samples must be a non-negative integer, got {n_samples!r}.")
    ax = get_axes(ax)
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
        y = check_1d("y", y, len(dist))
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
    check_continuous(dist, "plot_predicted_vs_true")
    y_true = check_1d("y_true", y_true, len(dist))
    confidence = check_confidence(confidence)
    ax = get_axes(ax)
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
    ax = get_axes(ax)
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
    masses = np.array([check_confidence(m) for m in np.atleast_1d(masses)])
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
    ax = get_axes(ax)
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


