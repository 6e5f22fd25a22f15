"""Distribution of y = h(Z) for a batch of distributions of Z and a monotone map h."""

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from skprob.distributions._base import ContinuousDistribution
from skprob.distributions._mixture import GaussianMixture
from skprob.distributions._normal import Normal

# Moments have no closed form in general. For Gaussian bases (Normal,
# GaussianMixture) they use Gauss-Hermite quadrature per component; otherwise
# the midpoint rule over quantile levels, E[Y^k] = ∫ ppf(u)^k du over (0, 1).
_N_HERMITE_NODES = 64
_N_MOMENT_QUANTILES = 1024


class MonotoneTransform:
    """An increasing map ``inverse`` from the model's space to the user's, with its inverse.

    Parameters
    ----------
    forward : callable
        ``z = forward(y)``, applied to targets before fitting.
    inverse : callable
        ``y = inverse(z)``, its inverse.
    log_abs_jacobian : callable
        ``log |d forward / dy|`` at ``y``: the density correction
        ``p_Y(y) = p_Z(forward(y)) |forward'(y)|``.
    domain : tuple of float
        Open interval of valid ``y``.
    name : str
        Name shown in errors.
    """

    def __init__(self, forward, inverse, log_abs_jacobian, domain=(-np.inf, np.inf), name=""):
        self.forward = forward
        self.inverse = inverse
        self.log_abs_jacobian = log_abs_jacobian
        self.domain = domain
        self.name = name

    def check(self, y):
        """Raise ``ValueError`` if some ``y`` lies outside the transform's domain."""
        y = np.asarray(y, dtype=np.float64)
        lo, hi = self.domain
        outside = ~((y > lo) & (y < hi))
        if np.any(outside):
            raise ValueError(
                f"The {self.name} target transform needs y in ({lo}, {hi}); "
                f"{int(outside.sum())} value(s) are outside, e.g. {y[outside][:3].tolist()}."
            )
        return y


TRANSFORMS = {
    "log": MonotoneTransform(np.log, np.exp, lambda y: -np.log(y), (0.0, np.inf), "log"),
    "log10": MonotoneTransform(
        np.log10, lambda z: 10.0**z, lambda y: -np.log(y * np.log(10.0)), (0.0, np.inf), "log10"
    ),
    "log1p": MonotoneTransform(np.log1p, np.expm1, lambda y: -np.log1p(y), (-1.0, np.inf),
                               "log1p"),
}


class TransformedDistribution(ContinuousDistribution):
    """Batch distribution of ``Y = transform.inverse(Z)`` for a batch ``base`` of Z.

    Densities carry the Jacobian, the cdf and quantiles map through the
    increasing transform exactly, and sampling transforms samples of Z. The
    moments have no closed form in general: for a Normal or GaussianMixture
    base they use 64-node Gauss-Hermite quadrature per component, otherwise
    the midpoint rule over 1024 quantile levels.

    Parameters
    ----------
    base : ContinuousDistribution
        Distribution of Z, e.g. a model's prediction for log-targets.
    transform : MonotoneTransform
        The increasing map between y and z.

    Examples
    --------
    >>> import numpy as np
    >>> from skprob.distributions import Normal, TransformedDistribution
    >>> from skprob.distributions._transformed import TRANSFORMS
    >>> lognormal = TransformedDistribution(Normal([0.0], [1.0]), TRANSFORMS["log"])
    >>> float(lognormal.ppf(0.5)[0]), round(float(lognormal.mean()[0]), 2)
    (1.0, 1.65)
    """

    _row_params = ("base",)
    _shared_params = ("transform",)

    def __init__(self, base, transform):
        self.base = base
        self.transform = transform

    def __len__(self):
        return len(self.base)

    def __getitem__(self, key):
        return TransformedDistribution(self.base[key], self.transform)

    def _nodes_and_weights(self):
        """Quadrature nodes in y (n, N) and weights (n, N) summing to one per row."""
        base = self.base
        if isinstance(base, (GaussianMixture, Normal)):
            if isinstance(base, Normal):
                weights = np.ones((len(base), 1))
                means, stds = base.loc[:, None], base.scale[:, None]
            else:
                weights, means, stds = base.weights, base.means, base.stds
            nodes, node_weights = hermegauss(_N_HERMITE_NODES)
            node_weights = node_weights / node_weights.sum()
            z = means[:, :, None] + stds[:, :, None] * nodes
            w = weights[:, :, None] * node_weights
            return self.transform.inverse(z).reshape(len(base), -1), w.reshape(len(base), -1)
        levels = (np.arange(_N_MOMENT_QUANTILES) + 0.5) / _N_MOMENT_QUANTILES
        y = self.ppf(np.broadcast_to(levels, (len(self), _N_MOMENT_QUANTILES)))
        return y, np.full(y.shape, 1.0 / _N_MOMENT_QUANTILES)

    def mean(self):
        """Mean of each row, by quadrature.

        Returns
        -------
        mean : ndarray of shape (n,)
        """
        y, w = self._nodes_and_weights()
        return np.sum(w * y, axis=1)

    def var(self):
        """Variance of each row, by quadrature.

        Returns
        -------
        var : ndarray of shape (n,)
        """
        y, w = self._nodes_and_weights()
        mean = np.sum(w * y, axis=1, keepdims=True)
        return np.sum(w * (y - mean) ** 2, axis=1)

    def _inside(self, y):
        lo, hi = self.transform.domain
        return (y > lo) & (y < hi)

    def _z(self, y):
        inside = self._inside(y)
        # Points outside the domain are replaced by one inside (inverse(0)) before
        # the transform, so no warning is raised; their results are overwritten.
        safe = np.where(inside, y, self.transform.inverse(0.0))
        return inside, safe, self.transform.forward(safe)

    def _logpdf(self, y):
        inside, safe, z = self._z(y)
        values = self.base.logpdf(z) + self.transform.log_abs_jacobian(safe)
        return _nan_at_nan(y, np.where(inside, values, -np.inf))

    def _cdf(self, y):
        inside, _, z = self._z(y)
        outside = np.where(y <= self.transform.domain[0], 0.0, 1.0)
        return _nan_at_nan(y, np.where(inside, self.base.cdf(z), outside))

    def _logcdf(self, y):
        inside, _, z = self._z(y)
        outside = np.where(y <= self.transform.domain[0], -np.inf, 0.0)
        return _nan_at_nan(y, np.where(inside, self.base.logcdf(z), outside))

    def _sf(self, y):
        # From the base's sf, not 1 - cdf, which rounds a far right tail to zero.
        inside, _, z = self._z(y)
        outside = np.where(y <= self.transform.domain[0], 1.0, 0.0)
        return _nan_at_nan(y, np.where(inside, self.base.sf(z), outside))

    def _logsf(self, y):
        inside, _, z = self._z(y)
        outside = np.where(y <= self.transform.domain[0], 0.0, -np.inf)
        return _nan_at_nan(y, np.where(inside, self.base.logsf(z), outside))

    def _ppf(self, q):
        return self.transform.inverse(self.base.ppf(q))

    def _sample(self, n_samples, rng):
        return self.transform.inverse(self.base.sample(n_samples, random_state=rng))

    def _affine(self, shift, scale):
        raise ValueError(
            "affine() is not defined for a TransformedDistribution; transform the base "
            "distribution instead."
        )


def _nan_at_nan(y, values):
    """``values`` with NaN wherever ``y`` is NaN, as every other distribution gives."""
    return np.where(np.isnan(y), np.nan, values)
