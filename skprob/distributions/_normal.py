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
        return self.scale**2

    def _z(self, y):
        return (y - self.loc[:, None]) / self.scale[:, None]

    def _logpdf(self, y):
        return -0.5 * self._z(y) ** 2 - np.log(self.scale)[:, None] - HALF_LOG_2PI

    def _cdf(self, y):
        return special.ndtr(self._z(y))

    def _logcdf(self, y):
        return special.log_ndtr(self._z(y))

    def _sf(self, y):
        return special.ndtr(-self._z(y))

    def _logsf(self, y):
        return special.log_ndtr(-self._z(y))

    def _ppf(self, q):
        return self.loc[:, None] + self.scale[:, None] * special.ndtri(q)

    def _sample(self, n_samples, rng):
        noise = rng.standard_normal((len(self), n_samples))
        return self.loc[:, None] + self.scale[:, None] * noise

    def _affine(self, shift, scale):
        return Normal(loc=shift + scale * self.loc, scale=scale * self.scale)

    def _to_scipy(self, i):
        return stats.norm(loc=self.loc[i], scale=self.scale[i])
