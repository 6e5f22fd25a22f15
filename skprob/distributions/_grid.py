"""Batch of densities tabulated on a grid (piecewise linear between the nodes)."""

import numpy as np
from scipy import stats

from skprob.distributions._base import (
    ContinuousDistribution,
    as_float_array,
    check_finite,
    safe_log,
)


def _flat_search(sorted_rows, values):
    """Per-row ``searchsorted(side="right") - 1`` of ``values`` (n, k) in rows (n, m) in [0, 1].

    Offsetting row ``i`` by ``2 i`` makes the flattened rows one increasing
    array, so a single ``np.searchsorted`` serves every row.
    """
    n, m = sorted_rows.shape
    offsets = 2.0 * np.arange(n)[:, None]
    flat = (sorted_rows + offsets).ravel()
    index = np.searchsorted(flat, (values + offsets).ravel(), side="right").reshape(values.shape)
    return np.clip(index - 1 - m * np.arange(n)[:, None], 0, m - 2)


class GridDistribution(ContinuousDistribution):
    """Batch of ``n`` densities tabulated on grids of ``m`` points.

    Row ``i`` has the density that interpolates ``density[i]`` linearly
    between the nodes ``grid[i]`` and is zero outside ``[grid[i, 0],
    grid[i, -1]]``, normalised to integrate to one. Every method is exact for
    that piecewise-linear density: the cdf integrates it cell by cell (the
    cumulative trapezoid rule, exact for linear pieces), ``ppf`` inverts the
    resulting piecewise-quadratic cdf in closed form (``ppf(0)`` and
    ``ppf(1)`` are the ends of the support, as in scipy), and the moments are
    exact integrals.

    Parameters
    ----------
    grid : array-like of shape (m,) or (n, m)
        Strictly increasing nodes, shared by all rows or one grid per row.
    density : array-like of shape (n, m)
        Non-negative density values at the nodes (any normalisation; each row
        is normalised). Each row needs positive mass.

    Attributes
    ----------
    grid : ndarray of shape (n, m)
        Nodes of each row.
    density : ndarray of shape (n, m)
        Normalised density at the nodes.

    See Also
    --------
    skprob.PriorReweighter : produces these for reweighted regression posteriors.

    Examples
    --------
    >>> import numpy as np
    >>> from skprob.distributions import GridDistribution
    >>> grid = np.linspace(0.0, 1.0, 3)
    >>> dist = GridDistribution(grid, [[0.0, 1.0, 0.0]])  # a triangle on [0, 1]
    >>> dist.mean(), dist.cdf(0.5), dist.ppf(0.5)
    (array([0.5]), array([0.5]), array([0.5]))
    """

    _row_params = ("grid", "density")

    def __init__(self, grid, density):
        density = as_float_array("density", density, ndim=2)
        grid = np.asarray(grid, dtype=np.float64)
        if grid.ndim == 1:
            grid = np.broadcast_to(grid, density.shape)
        grid = as_float_array("grid", grid, ndim=2)
        if grid.shape != density.shape or grid.shape[1] < 2:
            raise ValueError(
                "grid must have shape (m,) or (n, m) matching density (n, m) with m >= 2, got "
                f"{grid.shape} and {density.shape}."
            )
        check_finite("grid", grid)
        check_finite("density", density)
        if np.any(np.diff(grid, axis=1) <= 0):
            raise ValueError("grid must be strictly increasing along each row.")
        if np.any(density < 0):
            raise ValueError("density must be non-negative.")
        mass = self._cell_masses(grid, density).sum(axis=1)
        if np.any(mass <= 0):
            raise ValueError(
                f"{int(np.sum(mass <= 0))} row(s) of density have no mass on their grid."
            )
        self.grid = grid
        self.density = density / mass[:, None]
        cells = self._cell_masses(grid, self.density)
        zeros = np.zeros((len(grid), 1))
        self._cum = np.concatenate([zeros, np.cumsum(cells, axis=1)], axis=1)
        self._cum /= self._cum[:, -1:]
        # Mass right of each node, summed from the right: sf keeps its relative
        # precision in the right tail, where 1 - cdf would round to zero.
        self._tail = np.concatenate([np.cumsum(cells[:, ::-1], axis=1)[:, ::-1], zeros], axis=1)
        self._tail /= self._tail[:, :1]

    @staticmethod
    def _cell_masses(grid, density):
        return 0.5 * np.diff(grid, axis=1) * (density[:, 1:] + density[:, :-1])

    def _unit(self, y):
        """Position of ``y`` relative to each row's grid, mapped so the grid spans [0, 1]."""
        lo, hi = self.grid[:, :1], self.grid[:, -1:]
        return (y - lo) / (hi - lo), (self.grid - lo) / (hi - lo)

    def _cell(self, y):
        """Cell index, left node, width, left and right density of every ``y`` (n, k)."""
        u, nodes = self._unit(np.clip(y, self.grid[:, :1], self.grid[:, -1:]))
        j = _flat_search(nodes, u)
        take = lambda a: np.take_along_axis(a, j, axis=1)  # noqa: E731
        left = take(self.grid)
        width = take(self.grid[:, 1:]) - left
        return j, left, width, take(self.density), take(self.density[:, 1:])

    def mean(self):
        """Mean of each row (exact for the piecewise-linear density).

        Returns
        -------
        mean : ndarray of shape (n,)
        """
        a, b = self.grid[:, :-1], self.grid[:, 1:]
        pa, pb = self.density[:, :-1], self.density[:, 1:]
        return np.sum((b - a) * (pa * (2 * a + b) + pb * (a + 2 * b)) / 6.0, axis=1)

    def var(self):
        """Variance of each row (exact for the piecewise-linear density).

        Returns
        -------
        var : ndarray of shape (n,)
        """
        mean = self.mean()
        a, b = self.grid[:, :-1] - mean[:, None], self.grid[:, 1:] - mean[:, None]
        pa, pb = self.density[:, :-1], self.density[:, 1:]
        second = (b - a) * (pa * (3 * a * a + 2 * a * b + b * b)
                            + pb * (a * a + 2 * a * b + 3 * b * b)) / 12.0
        return np.maximum(np.sum(second, axis=1), 0.0)

    def _pdf(self, y):
        _, left, width, pa, pb = self._cell(y)
        t = np.clip((y - left) / width, 0.0, 1.0)
        inside = (y >= self.grid[:, :1]) & (y <= self.grid[:, -1:])
        return np.where(inside, pa + (pb - pa) * t, np.where(np.isnan(y), np.nan, 0.0))

    def _logpdf(self, y):
        return safe_log(self._pdf(y))

    def _cdf(self, y):
        j, left, width, pa, pb = self._cell(y)
        t = np.clip(y, self.grid[:, :1], self.grid[:, -1:]) - left
        partial = pa * t + (pb - pa) * t * t / (2.0 * width)
        return np.clip(np.take_along_axis(self._cum, j, axis=1) + partial, 0.0, 1.0)

    def _logcdf(self, y):
        return safe_log(self._cdf(y))

    def _sf(self, y):
        j, left, width, pa, pb = self._cell(y)
        t = left + width - np.clip(y, self.grid[:, :1], self.grid[:, -1:])  # to the cell's end
        partial = pb * t - (pb - pa) * t * t / (2.0 * width)
        return np.clip(np.take_along_axis(self._tail, j + 1, axis=1) + partial, 0.0, 1.0)

    def _logsf(self, y):
        return safe_log(self._sf(y))

    def _ppf(self, q):
        q = np.asarray(q, dtype=np.float64)
        valid = (q >= 0) & (q <= 1)
        qc = np.where(valid, q, 0.5)
        j = _flat_search(self._cum, qc)
        left = np.take_along_axis(self.grid, j, axis=1)
        width = np.take_along_axis(self.grid[:, 1:], j, axis=1) - left
        pa = np.take_along_axis(self.density, j, axis=1)
        slope = (np.take_along_axis(self.density[:, 1:], j, axis=1) - pa) / width
        rest = qc - np.take_along_axis(self._cum, j, axis=1)
        # Solve pa t + slope t^2 / 2 = rest for t in [0, width], in the form
        # that is stable when slope -> 0.
        root = np.sqrt(np.maximum(pa * pa + 2.0 * slope * rest, 0.0))
        denominator = pa + root
        t = np.divide(2.0 * rest, denominator, out=np.zeros_like(rest), where=denominator > 0)
        x = left + np.clip(t, 0.0, width)
        # The support is bounded: as in scipy, ppf(0) and ppf(1) are its ends.
        x = np.where(qc >= 1.0, self.grid[:, -1:], x)
        return np.where(valid, x, np.nan)

    def _affine(self, shift, scale):
        return GridDistribution(shift[:, None] + scale[:, None] * self.grid,
                                self.density / scale[:, None])

    def _to_scipy(self, i):
        return _GridRowDistribution(self[i], a=self.grid[i, 0], b=self.grid[i, -1])


class _GridRowDistribution(stats.rv_continuous):
    """One row of a :class:`GridDistribution` as a ``scipy.stats`` distribution."""

    def __init__(self, row, **kwargs):
        super().__init__(**kwargs)
        self._row = row

    def _pdf(self, x):
        return self._row.pdf(np.asarray(x, dtype=float).reshape(1, -1))[0].reshape(np.shape(x))

    def _cdf(self, x):
        return self._row.cdf(np.asarray(x, dtype=float).reshape(1, -1))[0].reshape(np.shape(x))

    def _ppf(self, q):
        return self._row.ppf(np.asarray(q, dtype=float).reshape(1, -1))[0].reshape(np.shape(q))
