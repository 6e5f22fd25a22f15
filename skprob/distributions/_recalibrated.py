"""Recalibrated predictive distributions: a monotone map applied to a base cdf.

A predictive distribution with cdf ``F(y | x)`` is calibrated when its PIT
values ``F(Y | X)`` are uniform. When they are not, a strictly increasing map
``R`` of ``[0, 1]`` onto itself, fitted to held-out PIT values, gives the
recalibrated cdf ``R(F(y | x))`` and density ``R'(F(y | x)) f(y | x)``
(Kuleshov, Fenner and Ermon 2018). :class:`CalibrationMap` is that map,
:class:`RecalibratedDistribution` the resulting batch of distributions; both
are numpy/scipy only.
"""

import numbers

import numpy as np
from scipy import special
from scipy.interpolate import CubicHermiteSpline, PchipInterpolator

from skprob.distributions._base import (
    ContinuousDistribution,
    as_float_array,
    check_finite,
    safe_log,
)
from skprob.distributions._grid import _GridRowDistribution

# Weight of the identity in the isotonic map, R = (1 - w) H + w id: it makes
# R' >= w everywhere, so no density is driven to zero by the recalibration.
_IDENTITY_WEIGHT = 0.01
# Largest number of knots of the isotonic map ("auto" uses 2 n^(1/3)).
_MAX_AUTO_KNOTS = 50
# Interior knots stay this far from 0 and 1; more extreme PIT values fall in
# the linear end pieces.
_END_GAP = 1e-12
# Fewest PIT values below the lowest (above the highest) knot level.
_MIN_TAIL_COUNT = 10
# Below this base tail probability, R(u) is replaced by its linear part
# R'(0) u in log space (the cubic terms are below rounding there), so that
# log cdf stays finite where u underflows.
_TINY = 1e-200
# Gauss nodes of the moments: trapezoid rule in z over [-Z, Z] for quantiles
# at Phi(z); the normal tail beyond 8.3 (5e-17) is below rounding of a mean.
_MOMENT_Z = 8.3
_N_MOMENT_NODES = 257
_INVERSE_MAX_ITER = 100
# Upper-tail base probabilities below this are solved from the base's logsf,
# since 1 - w loses their precision.
_UPPER_REFINE = 1e-8
METHODS = ("isotonic", "conformal")


def _monotone_slopes(knots, values):
    """Knot slopes of a monotone C1 interpolant: PCHIP inside, secants at both ends.

    The end slopes equal the secant of the first and last intervals, so the
    map is close to linear near 0 and 1; the Fritsch-Butland interior slopes
    are below three times both neighbouring secants, which keeps the cubic
    pieces monotone (Fritsch and Carlson 1980).
    """
    slopes = PchipInterpolator(knots, values)(knots, 1)
    secants = np.diff(values) / np.diff(knots)
    slopes[0], slopes[-1] = secants[0], secants[-1]
    return slopes


def _check_knots(name, array):
    if array.shape[0] < 2 or array[0] != 0.0 or array[-1] != 1.0:
        raise ValueError(f"{name} must start at 0 and end at 1, got {array[:1]}...{array[-1:]}.")
    if np.any(np.diff(array) <= 0):
        raise ValueError(f"{name} must be strictly increasing.")


def _invert_cubics(coefficients, widths, residual):
    """Solve ``c0 t^3 + c1 t^2 + c2 t = residual`` for t in [0, width], elementwise.

    Each cubic increases on its interval and ``residual`` lies between 0 and
    its value at ``width``. Safeguarded Newton: a step leaving the bracket is
    replaced by bisection; converged elements are frozen, so an element's
    result does not depend on the others.
    """
    c0, c1, c2 = (np.asarray(c, dtype=np.float64).ravel() for c in coefficients)
    width = np.asarray(widths, dtype=np.float64).ravel()
    r = np.asarray(residual, dtype=np.float64).ravel()
    lo, hi = np.zeros_like(r), width.copy()
    t = np.clip(r / ((c0 * width + c1) * width + c2), 0.0, width)
    result = np.empty_like(r)
    todo = np.arange(r.shape[0])
    for _ in range(_INVERSE_MAX_ITER):
        h = ((c0 * t + c1) * t + c2) * t - r
        lo = np.where(h < 0, t, lo)
        hi = np.where(h > 0, t, hi)
        slope = (3.0 * c0 * t + 2.0 * c1) * t + c2
        with np.errstate(divide="ignore", invalid="ignore"):
            t_newton = t - h / slope
        inside = (t_newton >= lo) & (t_newton <= hi) & np.isfinite(t_newton)
        t_next = np.where(inside, t_newton, 0.5 * (lo + hi))
        done = (h == 0) | (np.abs(t_next - t) <= 4.0 * np.finfo(float).eps * t + 1e-300)
        result[todo[done]] = np.where(h[done] == 0, t[done], t_next[done])
        keep = ~done
        if not keep.any():
            break
        todo, t, lo, hi, r, c0, c1, c2 = (
            a[keep] for a in (todo, t_next, lo, hi, r, c0, c1, c2)
        )
    else:
        result[todo] = t
    return result.reshape(np.shape(residual))


class _HermiteMap:
    """One monotone cubic Hermite spline on [0, 1] with its inverse."""

    def __init__(self, knots, values, slopes):
        self.spline = CubicHermiteSpline(knots, values, slopes)
        self.derivative = self.spline.derivative()
        self.knots, self.values = knots, values

    def __call__(self, u):
        return np.clip(self.spline(u), 0.0, 1.0)

    def slope(self, u):
        return self.derivative(u)

    def inverse(self, q):
        k = np.clip(np.searchsorted(self.values, q, side="right") - 1, 0, len(self.knots) - 2)
        c = self.spline.c[:, k]
        t = _invert_cubics(c[:3], self.knots[k + 1] - self.knots[k], q - self.values[k])
        return np.clip(self.knots[k] + t, 0.0, 1.0)


class CalibrationMap:
    """A smooth strictly increasing map ``R`` of [0, 1] onto itself.

    ``R`` is the monotone cubic Hermite interpolant through the points
    ``(knots[j], values[j])`` with slopes ``slopes[j]``: continuously
    differentiable, ``R(0) = 0``, ``R(1) = 1`` and ``R' > 0``. Applied to a
    predictive cdf ``F`` it gives the recalibrated cdf ``R(F)``, see
    :class:`RecalibratedDistribution`. Build one from held-out PIT values with
    :meth:`from_pit`.

    Parameters
    ----------
    knots : array-like of shape (n_knots,)
        Strictly increasing, from 0 to 1.
    values : array-like of shape (n_knots,)
        ``R(knots)``, strictly increasing, from 0 to 1.
    slopes : array-like of shape (n_knots,), default=None
        ``R'(knots)``, positive and at most three times the secants of the
        neighbouring intervals (the Fritsch-Carlson condition, which keeps
        every cubic piece monotone). None means PCHIP slopes inside and the
        secants of the end intervals at 0 and 1.

    Attributes
    ----------
    knots, values, slopes : ndarray of shape (n_knots,)
        The interpolation data.
    method : str or None
        How :meth:`from_pit` built the map, else None.

    See Also
    --------
    RecalibratedDistribution : A distribution recalibrated by such a map.
    skprob.calibration.CalibratedRegressorCV : Fits maps on cross-fitted PIT values.

    Notes
    -----
    The map is stored twice, as ``R`` on [0, 1] and as ``S(v) = 1 - R(1 - v)``,
    the same function seen from the upper end, so that both ``R(u)`` for
    small ``u`` and ``1 - R(u)`` for ``u`` near one keep their relative
    precision.

    Examples
    --------
    >>> from skprob.distributions import CalibrationMap
    >>> cmap = CalibrationMap([0.0, 0.5, 1.0], [0.0, 0.3, 1.0])
    >>> float(cmap(0.5)), float(cmap.inverse(0.3))
    (0.3, 0.5)
    """

    def __init__(self, knots, values, slopes=None):
        knots = as_float_array("knots", knots, ndim=1)
        values = as_float_array("values", values, ndim=1)
        if knots.shape != values.shape:
            raise ValueError(
                f"knots and values must have the same length, got {knots.shape[0]} and "
                f"{values.shape[0]}."
            )
        check_finite("knots", knots)
        check_finite("values", values)
        _check_knots("knots", knots)
        _check_knots("values", values)
        if slopes is None:
            slopes = _monotone_slopes(knots, values)
        slopes = as_float_array("slopes", slopes, ndim=1)
        if slopes.shape != knots.shape:
            raise ValueError(f"slopes must have shape {knots.shape}, got {slopes.shape}.")
        check_finite("slopes", slopes)
        secants = np.diff(values) / np.diff(knots)
        limit = 3.0 * (1.0 + 1e-12) * secants
        if np.any(slopes <= 0) or np.any(slopes[:-1] > limit) or np.any(slopes[1:] > limit):
            raise ValueError(
                "slopes must be positive and at most 3 times the secants of the neighbouring "
                "intervals, so that the map is increasing."
            )
        self.knots, self.values, self.slopes = knots, values, slopes
        self.method = None
        self._set_splines()

    def _set_splines(self):
        self._lower = _HermiteMap(self.knots, self.values, self.slopes)
        knots, values = 1.0 - self.knots[::-1], 1.0 - self.values[::-1]
        # Knots closer to 0 than rounding of 1 - x merge with the end at 1 of
        # the reversed map; S is used for v < 1/2 only, far from them.
        keep = np.r_[(np.diff(knots) > 0) & (np.diff(values) > 0), True]
        self._upper = _HermiteMap(knots[keep], values[keep], self.slopes[::-1][keep])

    def __getstate__(self):
        return {"knots": self.knots, "values": self.values, "slopes": self.slopes,
                "method": self.method}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._set_splines()

    def __repr__(self):
        return f"CalibrationMap(n_knots={self.knots.shape[0]}, method={self.method!r})"

    def __eq__(self, other):
        return isinstance(other, CalibrationMap) and all(
            np.array_equal(getattr(self, name), getattr(other, name))
            for name in ("knots", "values", "slopes")
        )

    __hash__ = None

    @classmethod
    def from_pit(cls, pit, method="isotonic", *, sample_weight=None, n_knots="auto"):
        """Fit the map to held-out PIT values, so that ``R(PIT)`` is uniform.

        Parameters
        ----------
        pit : array-like of shape (n_samples,)
            Values ``F(y_i | x_i)`` in [0, 1] of the predictive cdf at targets
            the model did not see in training.
        method : {"isotonic", "conformal"}, default="isotonic"
            "isotonic": the recalibration of Kuleshov et al. (2018), a smooth
            version of the (weighted) empirical cdf of the PIT values through
            ``n_knots`` of its quantiles (plus a few further into each tail),
            mixed with 1 % of the identity.
            "conformal": a conformal predictive system (Vovk et al. 2017),
            ``R(pit_(k)) = k / (n + 1)`` at every order statistic, with the
            finite-sample guarantee of the Notes.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the PIT values ("isotonic" only; the conformal ranks
            count every row once).
        n_knots : "auto" or int, default="auto"
            Number of interior knots of the "isotonic" map, at the quantile
            levels ``j / (n_knots + 1)``, plus levels halving the first one
            toward 0 (and 1) while at least 10 PIT values lie beyond them;
            "auto" is ``2 n^(1/3)`` rounded, between 1 and 50. Ignored by
            "conformal".

        Returns
        -------
        calibration_map : CalibrationMap

        Notes
        -----
        The isotonic regression of Kuleshov et al. fits the empirical
        frequency of ``PIT <= p`` against ``p``; that frequency is already
        monotone, so the fit is the empirical cdf itself. Interpolating its
        quantiles (rather than every point) by a monotone cubic gives a
        continuously differentiable map whose derivative, the density factor
        ``R'``, is not noisier than the PIT values support; tied and
        boundary PIT values are merged into strictly increasing knots, and
        the end slopes are the secants, so ``R`` is near linear in the tails.

        "conformal": if the PIT values come from a model that did not see
        them (split conformal, e.g. a ``FrozenEstimator`` and a separate
        calibration set) and the test row is exchangeable with them, then
        with continuous PIT values ``P(R(F(Y | X)) <= k / (n + 1)) = k /
        (n + 1)`` exactly, and for every level ``t``, ``|P(R(F(Y | X)) <= t) -
        t| < 1 / (n + 1)``. Central intervals at level ``c`` therefore cover
        with probability within ``2 / (n + 1)`` of ``c``. With cross-fitted
        PIT values and a refitted model the guarantee is approximate (as for
        cross-conformal prediction). The price is a rougher density: ``R'``
        follows the gaps between individual calibration points. PIT values
        within 1e-12 of 0 or 1 are not knots (the guarantee holds at levels
        above their share of the rows).

        References
        ----------
        .. [1] V. Kuleshov, N. Fenner and S. Ermon, "Accurate Uncertainties for
           Deep Learning Using Calibrated Regression", ICML 2018.
        .. [2] V. Vovk, J. Shen, V. Manokhin and M. Xie, "Nonparametric
           predictive distributions based on conformal prediction", COPA 2017.

        Examples
        --------
        >>> import numpy as np
        >>> from skprob.distributions import CalibrationMap
        >>> pit = np.random.default_rng(0).beta(0.5, 0.5, size=2000)  # too narrow
        >>> cmap = CalibrationMap.from_pit(pit)
        >>> bool(abs(np.mean(cmap(pit) <= 0.1) - 0.1) < 0.01)
        True
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
        pit = as_float_array("pit", pit, ndim=1)
        check_finite("pit", pit)
        if pit.shape[0] == 0:
            raise ValueError("pit is empty.")
        if np.any((pit < 0) | (pit > 1)):
            raise ValueError("pit values must lie in [0, 1].")
        order = np.argsort(pit, kind="stable")
        sorted_pit = pit[order]
        if method == "conformal":
            knots = sorted_pit
            levels = np.arange(1, pit.shape[0] + 1) / (pit.shape[0] + 1)
        else:
            weights = np.ones_like(pit) if sample_weight is None else as_float_array(
                "sample_weight", sample_weight, ndim=1)
            if weights.shape != pit.shape or not np.all(np.isfinite(weights)) \
                    or np.any(weights < 0) or not weights.sum() > 0:
                raise ValueError(
                    "sample_weight must be finite, non-negative, not all zero and of the "
                    "length of pit."
                )
            weights = weights[order]
            cumulative = np.cumsum(weights)
            positions = (cumulative - 0.5 * weights) / cumulative[-1]
            levels = _isotonic_levels(_n_knots(n_knots, pit.shape[0]), pit.shape[0])
            knots = np.interp(levels, positions, sorted_pit)
        # Strictly increasing interior knots: drop those within 1e-12 of 0 or 1
        # (whose slopes would overflow the cubic coefficients), keep the
        # highest level of each run of ties (the empirical cdf's value there).
        last_of_run = np.r_[knots[1:] > knots[:-1], True]
        keep = last_of_run & (knots > _END_GAP) & (knots < 1.0 - _END_GAP)
        knots = np.r_[0.0, knots[keep], 1.0]
        values = np.r_[0.0, levels[keep], 1.0]
        slopes = _monotone_slopes(knots, values)
        if method == "isotonic":
            values = (1.0 - _IDENTITY_WEIGHT) * values + _IDENTITY_WEIGHT * knots
            slopes = (1.0 - _IDENTITY_WEIGHT) * slopes + _IDENTITY_WEIGHT
        calibration_map = cls(knots, values, slopes)
        calibration_map.method = method
        return calibration_map

    def __call__(self, u):
        """``R(u)``.

        Parameters
        ----------
        u : array-like
            Probabilities in [0, 1].

        Returns
        -------
        r : ndarray of the shape of ``u``
        """
        u = np.asarray(u, dtype=np.float64)
        return np.where(u <= 0.5, self._lower(u), 1.0 - self._upper(1.0 - u))

    def derivative(self, u):
        """``R'(u)``, positive on [0, 1].

        Parameters
        ----------
        u : array-like
            Probabilities in [0, 1].

        Returns
        -------
        slope : ndarray of the shape of ``u``
        """
        return self._lower.slope(np.asarray(u, dtype=np.float64))

    def inverse(self, q):
        """``R^{-1}(q)``.

        Parameters
        ----------
        q : array-like
            Probabilities in [0, 1].

        Returns
        -------
        u : ndarray of the shape of ``q``
        """
        q = np.asarray(q, dtype=np.float64)
        return np.where(q <= 0.5, self._lower.inverse(q), 1.0 - self._upper.inverse(1.0 - q))

    # Tail-accurate pieces used by RecalibratedDistribution: ``u`` is the base
    # cdf, ``v`` its survival function, both accurate in their own tail.
    def _cdf(self, u, v):
        return np.where(u <= 0.5, self._lower(u), 1.0 - self._upper(v))

    def _sf(self, u, v):
        return np.where(u <= 0.5, 1.0 - self._lower(u), self._upper(v))

    def _log_tail(self, spline, end_slope, p, log_p):
        with np.errstate(divide="ignore"):
            return np.where(p > _TINY, safe_log(spline(p)), np.log(end_slope) + log_p)

    def _logcdf(self, u, v, log_u):
        with np.errstate(divide="ignore", invalid="ignore"):
            upper = np.log1p(-self._upper(v))
        return np.where(u <= 0.5, self._log_tail(self._lower, self.slopes[0], u, log_u), upper)

    def _logsf(self, u, v, log_v):
        with np.errstate(divide="ignore", invalid="ignore"):
            lower = np.log1p(-self._lower(u))
        return np.where(u <= 0.5, lower, self._log_tail(self._upper, self.slopes[-1], v, log_v))

    def _log_derivative(self, u, v):
        slope = np.where(u <= 0.5, self._lower.slope(u), self._upper.slope(v))
        return safe_log(slope)

    def _inverse(self, q, v):
        """``R^{-1}(q)`` from ``q`` and an accurate ``v = 1 - q``."""
        lower = q <= 0.5
        u_lower = self._lower.inverse(np.where(lower, q, 0.5))
        w_upper = self._upper.inverse(np.where(lower, 0.5, v))
        return np.where(lower, u_lower, 1.0 - w_upper)

    def _inverse_upper(self, q, v):
        """``1 - R^{-1}(q)``, accurate where it is small."""
        lower = q <= 0.5
        return np.where(lower, 1.0 - self._lower.inverse(np.where(lower, q, 0.5)),
                        self._upper.inverse(np.where(lower, 0.5, v)))


def _isotonic_levels(n_knots, n_samples):
    """Knot levels: ``j / (n_knots + 1)``, plus halvings of the first level toward 0 and 1.

    The extra levels, each with at least ``_MIN_TAIL_COUNT`` PIT values
    beyond it, follow the map further into the tails before its linear end
    pieces take over.
    """
    first = 1.0 / (n_knots + 1)
    halvings = int(max(np.floor(np.log2(first * n_samples / _MIN_TAIL_COUNT)), 0))
    tail = first * 0.5 ** np.arange(halvings, 0, -1)
    return np.r_[tail, np.arange(1, n_knots + 1) * first, 1.0 - tail[::-1]]


def _n_knots(n_knots, n_samples):
    if isinstance(n_knots, str) and n_knots == "auto":
        return int(np.clip(round(2.0 * n_samples ** (1.0 / 3.0)), 1, _MAX_AUTO_KNOTS))
    if not isinstance(n_knots, numbers.Integral) or isinstance(n_knots, bool) or n_knots < 1:
        raise ValueError(f"n_knots must be 'auto' or a positive integer, got {n_knots!r}.")
    return int(n_knots)


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
