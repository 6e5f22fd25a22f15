"""Recalibrated predictive distributions: a monotone map applied to a base cdf.

A predictive distribution with cdf ``F(y | x)`` is calibrated when its PIT
values ``F(Y | X)`` are uniform. When they are not, a strictly increasing map
``R`` of ``[0, 1]`` onto itself, fitted to held-out PIT values, gives the
recalibrated cdf ``R(F(y | x))`` and density ``R'(F(y | x)) f(y | x)``
(Kuleshov, Fenner and Ermon 2018). :class:`CalibrationMap` is that map
(in ``_calibration_map.py``),
:class:`RecalibratedDistribution` the resulting batch of distributions; both
are numpy/scipy only.
"""

import numpy as np
from scipy import special

from skprob.distributions._base import ContinuousDistribution

# CalibrationMap is also looked up here by pickles written before it moved.
from skprob.distributions._calibration_map import _INVERSE_MAX_ITER, CalibrationMap
from skprob.distributions._grid import _GridRowDistribution

# Gauss nodes of the moments: trapezoid rule in z over [-Z, Z] for quantiles
# at Phi(z); the normal tail beyond 8.3 (5e-17) is below rounding of a mean.
_MOMENT_Z = 8.3
_N_MOMENT_NODES = 257
# Upper-tail base probabilities below this are solved from the base's logsf,
# since 1 - w loses their precision.
_UPPER_REFINE = 1e-8


def _upper_quantiles(base, w):
    """``y`` with ``base.sf(y) = w`` for tiny ``w``, one row of ``base`` per element.

    ``base.ppf(1 - w)`` loses ``w`` to rounding below 1e-8; Newton's method on
    ``log sf(y) = log w`` from ``ppf(1 - 1e-8)`` keeps full precision (after
    at most one overshoot it converges from above for log-concave tails).
    Elements are frozen once converged; bounded supports keep their end.
    """
    y = base.ppf(np.full(w.shape, 1.0 - _UPPER_REFINE))
    end = base.ppf(np.ones(w.shape))
    result = np.where(np.isfinite(end), end, y)
    todo = np.flatnonzero(~np.isfinite(end))
    log_w = np.log(w)
    for _ in range(_INVERSE_MAX_ITER):
        if todo.size == 0:
            break
        rows = base[todo]
        current = result[todo]
        log_sf, log_pdf = rows.logsf(current), rows.logpdf(current)
        with np.errstate(over="ignore", invalid="ignore"):
            step = (log_sf - log_w[todo]) * np.exp(log_sf - log_pdf)
        ok = np.isfinite(step)
        result[todo[ok]] = current[ok] + step[ok]
        done = ~ok | (np.abs(step) <= 4.0 * np.finfo(float).eps * np.abs(current) + 1e-300)
        todo = todo[~done]
    return result


class RecalibratedDistribution(ContinuousDistribution):
    """Batch of distributions with cdf ``R(F(y))`` for a base batch with cdf ``F``.

    Wraps any continuous skprob distribution (Normal, mixtures, Monte Carlo
    mixtures, grids, transformed or itself recalibrated distributions). Row
    ``i`` has

    - cdf ``R_i(F_i(y))`` and survival function ``1 - R_i(F_i(y))``,
    - density ``R_i'(F_i(y)) f_i(y)``, a proper density because ``R_i`` is
      increasing from 0 to 1 and continuously differentiable,
    - quantiles ``F_i^{-1}(R_i^{-1}(q))``,

    where ``R_i = calibration_map[map_index[i]]`` (one map for all rows
    unless several are given, e.g. after concatenating the out-of-fold
    predictions of several calibrated models).

    Parameters
    ----------
    base : ContinuousDistribution
        The distribution being recalibrated, with ``n`` rows.
    calibration_map : CalibrationMap or sequence of CalibrationMap
        The map, or several maps selected per row by ``map_index``.
    map_index : array-like of shape (n,), default=None
        Index of each row's map in ``calibration_map``; None means the first
        map for every row.

    Attributes
    ----------
    base : ContinuousDistribution
        The base distribution.
    calibration_map : tuple of CalibrationMap
        The maps.
    map_index : ndarray of shape (n,)
        The map of each row.

    See Also
    --------
    CalibrationMap : The map and how it is fitted.
    skprob.calibration.CalibratedRegressorCV : Returns these from ``predict_dist``.

    Notes
    -----
    Tails: where ``F(y)`` is at most 1/2 the cdf is computed from the base's
    ``cdf``, otherwise from its ``sf`` (and ``logcdf``/``logsf`` in log
    space), so that neither tail is lost to rounding; where the base tail
    probability underflows, ``log R(u)`` is its linear part ``log R'(0) +
    log u``, so ``logcdf``, ``logsf`` and ``logpdf`` stay finite wherever the
    base's are. ``ppf`` solves the cubic pieces of ``R`` by safeguarded
    Newton, then calls the base's ``ppf`` (and, for upper-tail base
    probabilities below 1e-8, Newton on the base's ``logsf``). The mean and
    variance are the base's plus a correction, ``E[Y] = E_F[Y] + integral of
    F^{-1}(u) (R'(u) - 1) du``, integrated by the trapezoid rule on 257
    points ``u = Phi(z)``, ``z`` in ``[-8.3, 8.3]``: deterministic, exact for
    the identity map, and with an error that shrinks with ``|R' - 1|``; it
    needs ``257 n`` quantiles of the base, the costliest method for a
    mixture base.

    Examples
    --------
    >>> import numpy as np
    >>> from skprob.distributions import CalibrationMap, Normal, RecalibratedDistribution
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=5000)
    >>> narrow = Normal(np.zeros(5000), 0.5)  # intervals too narrow
    >>> cmap = CalibrationMap.from_pit(narrow.cdf(y))
    >>> lower, upper = RecalibratedDistribution(narrow[:1], cmap).interval(0.9)
    >>> bool(abs(upper[0] - 1.645) < 0.1)  # the 95% quantile of the true N(0, 1)
    True
    """

    def __init__(self, base, calibration_map, map_index=None):
        if not isinstance(base, ContinuousDistribution):
            raise TypeError(
                f"base must be a continuous skprob distribution, got {type(base).__name__}."
            )
        maps = (calibration_map,) if isinstance(calibration_map, CalibrationMap) \
            else tuple(calibration_map)
        if not maps or not all(isinstance(m, CalibrationMap) for m in maps):
            raise TypeError("calibration_map must be a CalibrationMap or a sequence of them.")
        if map_index is None:
            map_index = np.zeros(len(base), dtype=np.intp)
        map_index = np.asarray(map_index)
        if map_index.shape != (len(base),) or (map_index.size and (
                not np.issubdtype(map_index.dtype, np.integer)
                or map_index.min() < 0 or map_index.max() >= len(maps))):
            raise ValueError(
                f"map_index must hold {len(base)} integers in [0, {len(maps)}), one per row."
            )
        self.base = base
        self.calibration_map = maps
        self.map_index = map_index.astype(np.intp)
        self._cached_moments = None

    def __len__(self):
        return len(self.base)

    def __getitem__(self, key):
        rows = self._row_selection(key)
        return RecalibratedDistribution(self.base[rows], self.calibration_map,
                                        self.map_index[rows])

    def _by_map(self, function, *arrays):
        """``function(map, *arrays)`` with each row's map; arrays have shape (n, m)."""
        if len(self.calibration_map) == 1:
            return function(self.calibration_map[0], *arrays)
        out = np.empty(arrays[0].shape)
        for index, calibration_map in enumerate(self.calibration_map):
            rows = self.map_index == index
            if rows.any():
                out[rows] = function(calibration_map, *(a[rows] for a in arrays))
        return out

    def _tails(self, y):
        return self.base.cdf(y), self.base.sf(y)

    def _cdf(self, y):
        return self._by_map(CalibrationMap._cdf, *self._tails(y))

    def _sf(self, y):
        return self._by_map(CalibrationMap._sf, *self._tails(y))

    def _logcdf(self, y):
        return self._by_map(CalibrationMap._logcdf, *self._tails(y), self.base.logcdf(y))

    def _logsf(self, y):
        return self._by_map(CalibrationMap._logsf, *self._tails(y), self.base.logsf(y))

    def _logpdf(self, y):
        return self.base.logpdf(y) + self._by_map(CalibrationMap._log_derivative,
                                                  *self._tails(y))

    def _quantiles(self, q, v):
        """Quantiles at levels ``q`` (n, m), given an accurate ``v = 1 - q``."""
        valid = (q >= 0) & (q <= 1)
        q, v = np.where(valid, q, 0.5), np.where(valid, v, 0.5)
        if len(self.calibration_map) == 1 and q.shape[0] > 1 and valid.all() \
                and np.all(q == q[:1]):
            # The same levels for every row (e.g. a scalar): invert R once.
            u = np.broadcast_to(self.calibration_map[0]._inverse(q[:1], v[:1]), q.shape)
        else:
            u = self._by_map(CalibrationMap._inverse, q, v)
        y = self.base.ppf(u)
        far = valid & (u > 0.5) & (q < 1)
        if far.any():
            w = self._by_map(CalibrationMap._inverse_upper, q, v)
            far &= w < _UPPER_REFINE
            if far.any():
                rows, cols = np.nonzero(far)
                y[rows, cols] = _upper_quantiles(self.base[rows], w[rows, cols])
        return np.where(valid, y, np.nan)

    def _ppf(self, q):
        return self._quantiles(q, 1.0 - q)

    def _moments(self):
        """Mean and variance of every row, computed once per object.

        ``E_G[h(Y)] = E_F[h(Y)] + integral of h(F^{-1}(u)) (R'(u) - 1) du``: the
        base's own moments plus a correction that vanishes with ``R' = 1``,
        integrated by the trapezoid rule in ``z`` with ``u = Phi(z)``.
        """
        if self._cached_moments is None:
            z = np.linspace(-_MOMENT_Z, _MOMENT_Z, _N_MOMENT_NODES)
            weights = np.exp(-0.5 * z * z)
            weights /= weights.sum()
            u = special.ndtr(z)
            u[z > 0] = np.minimum(u[z > 0], 1.0 - np.finfo(float).epsneg)
            shape = (len(self), z.shape[0])
            base_mean, base_var = self.base.mean(), self.base.var()
            y = self.base.ppf(np.broadcast_to(u, shape)) - base_mean[:, None]
            excess = self._by_map(lambda m, u: m.derivative(u) - 1.0,
                                  np.broadcast_to(u, shape)) * weights
            # Row-wise sums (not a matrix product) keep every row's result
            # independent of the other rows.
            shift = np.sum(y * excess, axis=1)
            second = base_var + np.sum(y * y * excess, axis=1)
            self._cached_moments = base_mean + shift, np.maximum(second - shift**2, 0.0)
        return self._cached_moments

    def mean(self):
        """Mean of each row, by quadrature of the quantile function.

        Returns
        -------
        mean : ndarray of shape (n,)
        """
        return self._moments()[0].copy()

    def var(self):
        """Variance of each row, by quadrature of the quantile function.

        Returns
        -------
        var : ndarray of shape (n,)
        """
        return self._moments()[1].copy()

    def _affine(self, shift, scale):
        return RecalibratedDistribution(self.base.affine(shift, scale), self.calibration_map,
                                        self.map_index)

    def _to_scipy(self, i):
        row = self[i]
        return _GridRowDistribution(row, a=float(row.ppf(0.0)[0]), b=float(row.ppf(1.0)[0]))
