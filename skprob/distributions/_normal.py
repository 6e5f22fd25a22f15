"""Batch of univariate normal distributions."""

import numpy as np
from scipy import special, stats

from skprob.distributions._base import (
    HALF_LOG_2PI,
    ContinuousDistribution,
    as_float_array,
    check_finite,
    check_positive_scale,
)


class Normal(ContinuousDistribution):
    """Batch of ``n`` univariate normal distributions, one per row.

    Parameters
    ----------
    loc : float or array-like of shape (n,)
        Means. Scalars and lists are converted to 1-D arrays.
    scale : float or array-like of shape (n,)
        Standard deviations, finite and strictly positive. A scalar is
        broadcast against ``loc``.

    Attributes
    ----------
    loc : ndarray of shape (n,)
        Means.
    scale : ndarray of shape (n,)
        Standard deviations.

    See Also
    --------
    GaussianMixture : Batch of Gaussian mixtures.
    scipy.stats.norm : The single-distribution equivalent.

    Notes
    -----
    Method names and semantics follow a frozen ``scipy.stats.norm(loc,
    scale)``; methods taking ``y`` accept a scalar, one value per row (shape
    ``(n,)``) or ``m`` values per row (shape ``(n, m)``), see
    :class:`~skprob.distributions.ContinuousDistribution`. ``to_scipy(i)``
    returns ``scipy.stats.norm(loc[i], scale[i])``.

    Examples
    --------
    >>> from skprob.distributions import Normal
    >>> dist = Normal(loc=[0.0, 1.0], scale=[1.0, 2.0])
    >>> dist.cdf([0.0, 1.0])
    array([0.5, 0.5])
    >>> dist.interval(0.5)[1].round(3)
    array([0.674, 2.349])
    """

    _row_params = ("loc", "scale")

    def __init__(self, loc, scale):
        loc = as_float_array("loc", loc, ndim=1)
        scale = as_float_array("scale", scale, ndim=1)
        try:
            loc, scale = np.broadcast_arrays(loc, scale)
        except ValueError as exc:
            raise ValueError(
                f"loc and scale must have the same length, got {loc.shape[0]} and "
                f"{scale.shape[0]}."
            ) from exc
        check_finite("loc", loc)
        check_positive_scale("scale", scale)
        self.loc = np.array(loc)
        self.scale = np.array(scale)

    def mean(self):
        """Mean of each row.

        Returns
        -------
        mean : ndarray of shape (n,)
        """
        return self.loc.copy()

    def var(self):
        """Variance of each row.

        Returns
        -------
        var : ndarray of shape (n,)
        """
        with np.errstate(over="ignore", under="ignore"):  # inf above 1.3e154
            return self.scale**2

    def std(self):
        """Standard deviation of each row: ``scale``, finite where ``var`` overflows.

        Returns
        -------
        std : ndarray of shape (n,)
        """
        return self.scale.copy()

    def _z(self, y):
        loc, scale = self.loc[:, None], self.scale[:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            z = (y - loc) / scale
            # y - loc overflowed (e.g. 1e308 - (-1e308)): from halves, which gives
            # the finite z there, and inf again only where z itself overflows.
            overflow = np.isinf(z) & np.isfinite(y)
            if overflow.any():
                z = np.where(overflow, (0.5 * y - 0.5 * loc) / scale * 2.0, z)
        return z

    def _logpdf(self, y):
        with np.errstate(over="ignore"):
            square = self._z(y) ** 2
        return -0.5 * square - np.log(self.scale)[:, None] - HALF_LOG_2PI

    def _cdf(self, y):
        return special.ndtr(self._z(y))

    def _logcdf(self, y):
        return special.log_ndtr(self._z(y))

    def _sf(self, y):
        return special.ndtr(-self._z(y))

    def _logsf(self, y):
        return special.log_ndtr(-self._z(y))

    def _ppf(self, q):
        return self._from_z(special.ndtri(q))

    def _sample(self, n_samples, rng):
        return self._from_z(rng.standard_normal((len(self), n_samples)))

    def _from_z(self, z):
        """``loc + scale * z``, finite wherever the result is representable."""
        loc, scale = self.loc[:, None], self.scale[:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            y = loc + scale * z
            overflow = ~np.isfinite(y) & np.isfinite(z)
            if overflow.any():  # e.g. 1e308 + 1e308 * -2: from halves
                y = np.where(overflow, 2.0 * (0.5 * loc + (0.5 * scale) * z), y)
        return y

    def _affine(self, shift, scale):
        return Normal(loc=shift + scale * self.loc, scale=scale * self.scale)

    def _to_scipy(self, i):
        return stats.norm(loc=self.loc[i], scale=self.scale[i])

