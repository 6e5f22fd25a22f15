"""The calibration map: a smooth strictly increasing map of [0, 1] onto itself.

:class:`CalibrationMap` is the map ``R`` that turns a predictive cdf ``F``
into the recalibrated cdf ``R(F)`` of ``RecalibratedDistribution``: a
monotone cubic Hermite spline with its inverse, the tail-accurate pieces the
recalibrated distribution evaluates, and its fit to held-out PIT values
(:meth:`CalibrationMap.from_pit`). numpy/scipy only.
"""

import numbers

import numpy as np
from scipy.interpolate import CubicHermiteSpline, PchipInterpolator

from skprob.distributions._base import as_float_array, check_finite, safe_log

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
_INVERSE_MAX_ITER = 100
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
