"""The priors and posteriors of prior reweighting, drawn as densities over y."""

import numpy as np

from skprob.distributions import ContinuousDistribution
from skprob.plotting._common import get_axes


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
    ax = get_axes(ax)
    for name, curve, label, style in curves:
        if curve is not None:
            ax.plot(y_grid, _curve_on_grid(name, curve, y_grid), linewidth=2, label=label,
                    **style)
    ax.set(xlabel="y", ylabel="density")
    ax.legend(loc="best", fontsize="small")
    return ax
