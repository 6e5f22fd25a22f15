"""Toy regression problems with a known conditional density.

The one-dimensional problems :func:`make_heteroscedastic` and
:func:`make_bimodal`, and the vector-target problem
:func:`make_correlated_outputs`; each can return the true conditional
distribution of every row.
"""

from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from skprob.datasets._constraints import N_SAMPLES_CONSTRAINT
from skprob.distributions import GaussianMixture, MultivariateGaussianMixture, Normal

# Constants of the TensorFlow Probability "Regression with probabilistic
# layers" toy problem.
_HETERO_X_RANGE = (-20.0, 60.0)
_HETERO_SLOPE = 0.125
_HETERO_INTERCEPT = 5.0

# Constants of the two-branch problem; see the Notes of make_bimodal for why
# they leave the middle between the branches empty.
_BIMODAL_X_RANGE = (-3.0, 3.0)

# Input range of the correlated-outputs problem, and the largest |correlation|
# between neighbouring outputs (reached at its ends).
_CORRELATED_X_RANGE = (-3.0, 3.0)
_CORRELATED_MAX_RHO = 0.8


def _heteroscedastic_params(x):
    """Location and scale of the true Normal p(y | x) of make_heteroscedastic."""
    low, high = _HETERO_X_RANGE
    g = (x - low) / (high - low)
    loc = _HETERO_SLOPE * x * (1.0 + np.sin(x)) + _HETERO_INTERCEPT
    scale = 3.0 * (0.25 + g**2)
    return loc, scale


@validate_params(
    {
        "n_samples": N_SAMPLES_CONSTRAINT,
        "random_state": ["random_state"],
        "return_distribution": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_heteroscedastic(n_samples=1000, *, random_state=None, return_distribution=False):
    """Generate the heteroscedastic "line with a wiggle" regression problem.

    This is the toy problem of the TensorFlow Probability tutorial
    "Regression with probabilistic layers" [1]_. The single input is uniform,
    ``x ~ U(-20, 60)``, and the target is::

        y = 0.125 * x * (1 + sin(x)) + 5 + s(x) * N(0, 1),
        s(x) = 3 * (0.25 + g ** 2),  g = (x + 20) / 80,

    so the noise standard deviation grows from 0.75 at the left end of the
    input range to 3.75 at the right end. A model that predicts one noise
    level for all ``x`` is miscalibrated everywhere.

    Parameters
    ----------
    n_samples : int, default=1000
        The number of samples.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation for the dataset. Pass an int for
        reproducible output across multiple function calls.

    return_distribution : bool, default=False
        If True, also return the true conditional distribution of ``y`` given
        each row of ``X``.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        The input samples.

    y : ndarray of shape (n_samples,)
        The output values.

    distribution : Normal
        The true conditional distribution ``p(y | x)`` of every row, with
        ``loc`` and ``scale`` of shape (n_samples,). Only returned if
        ``return_distribution`` is True.

    References
    ----------
    .. [1] TensorFlow Probability, "Regression with probabilistic layers",
           https://blog.tensorflow.org/2019/03/regression-with-probabilistic-layers-in.html

    Examples
    --------
    >>> from skprob.datasets import make_heteroscedastic
    >>> X, y, dist = make_heteroscedastic(50, random_state=0, return_distribution=True)
    >>> X.shape, y.shape
    ((50, 1), (50,))
    >>> dist.mean().shape
    (50,)
    """
    generator = check_random_state(random_state)
    x = generator.uniform(*_HETERO_X_RANGE, size=n_samples)
    loc, scale = _heteroscedastic_params(x)
    y = loc + scale * generator.standard_normal(n_samples)
    X = x[:, np.newaxis]
    if return_distribution:
        return X, y, Normal(loc, scale)
    return X, y


def _bimodal_params(x):
    """Weights, means and stds, each (n, 2), of the true mixture of make_bimodal."""
    upper_weight = 0.5 + 0.15 * np.tanh(x)
    centre = np.sin(x)
    half_gap = 2.0 + 0.5 * np.cos(x)
    std = 0.2 + 0.1 * (x / _BIMODAL_X_RANGE[1]) ** 2
    weights = np.column_stack([upper_weight, 1.0 - upper_weight])
    means = np.column_stack([centre + half_gap, centre - half_gap])
    stds = np.column_stack([std, std])
    return weights, means, stds


@validate_params(
    {
        "n_samples": N_SAMPLES_CONSTRAINT,
        "random_state": ["random_state"],
        "return_distribution": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_bimodal(n_samples=1000, *, random_state=None, return_distribution=False):
    """Generate a regression problem whose conditional density has two branches.

    The single input is uniform, ``x ~ U(-3, 3)``. Given ``x``, the target
    lies on the upper branch with probability ``w(x)`` and on the lower
    branch otherwise::

        w(x)   = 0.5 + 0.15 * tanh(x)
        y      = sin(x) +/- (2 + 0.5 * cos(x)) + s(x) * N(0, 1),
        s(x)   = 0.2 + 0.1 * (x / 3) ** 2.

    A regressor trained by mean squared error predicts the conditional mean,
    which falls in the empty gap between the branches; a mixture density
    network recovers both.

    Parameters
    ----------
    n_samples : int, default=1000
        The number of samples.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation for the dataset. Pass an int for
        reproducible output across multiple function calls.

    return_distribution : bool, default=False
        If True, also return the true conditional distribution of ``y`` given
        each row of ``X``.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        The input samples.

    y : ndarray of shape (n_samples,)
        The output values.

    distribution : GaussianMixture
        The true conditional distribution ``p(y | x)`` of every row, a
        two-component mixture whose ``weights``, ``means`` and ``stds`` have
        shape (n_samples, 2); component 0 is the upper branch. Only returned if
        ``return_distribution`` is True.

    Notes
    -----
    The middle is empty by construction. The conditional mean is
    ``sin(x) + (2 w(x) - 1) d(x)`` with half-gap ``d(x) >= 1.5``, and
    ``0.35 <= w(x) <= 0.65``, so it lies at least ``2 d(x) min(w, 1 - w) >=
    1.05`` from both branch means, which is at least 3.5 noise standard
    deviations (``s(x) <= 0.3``). The true density at the conditional mean is
    therefore below 1 % of the density at either branch mean, for every ``x``.

    Examples
    --------
    >>> from skprob.datasets import make_bimodal
    >>> X, y, dist = make_bimodal(50, random_state=0, return_distribution=True)
    >>> X.shape, y.shape
    ((50, 1), (50,))
    >>> dist.means.shape
    (50, 2)
    """
    generator = check_random_state(random_state)
    x = generator.uniform(*_BIMODAL_X_RANGE, size=n_samples)
    weights, means, stds = _bimodal_params(x)
    branch = (generator.uniform(size=n_samples) >= weights[:, 0]).astype(np.intp)
    rows = np.arange(n_samples)
    y = means[rows, branch] + stds[rows, branch] * generator.standard_normal(n_samples)
    X = x[:, np.newaxis]
    if return_distribution:
        return X, y, GaussianMixture(weights, means, stds)
    return X, y


def _correlated_params(x, n_outputs):
    """Means (n, d), stds (n, d) and the neighbour correlation (n,) of make_correlated_outputs."""
    j = np.arange(n_outputs)
    means = np.sin(x[:, None] + j) + 0.5 * j * x[:, None] / _CORRELATED_X_RANGE[1]
    stds = 0.3 + 0.15 * (1.0 + np.cos(x[:, None] + 2.0 * j))
    rho = _CORRELATED_MAX_RHO * np.tanh(x)
    return means, stds, rho


def _ar1_scale_tril(stds, rho):
    """Cholesky factors (n, d, d) of ``diag(s) R diag(s)``, ``R_ij = rho ** |i - j|``.

    The AR(1) recursion ``e_0 = u_0``, ``e_i = rho e_(i-1) + sqrt(1 - rho**2) u_i``
    gives the factor in closed form: ``L_ij = rho ** (i - j)`` times
    ``sqrt(1 - rho**2)`` for ``j > 0``.
    """
    d = stds.shape[1]
    i, j = np.tril_indices(d)
    L = np.zeros((len(rho), d, d))
    L[:, i, j] = rho[:, None] ** (i - j) * np.where(j > 0, np.sqrt(1.0 - rho**2)[:, None], 1.0)
    return stds[:, :, None] * L


@validate_params(
    {
        "n_samples": N_SAMPLES_CONSTRAINT,
        "n_outputs": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
        "return_distribution": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_correlated_outputs(
    n_samples=1000, *, n_outputs=2, random_state=None, return_distribution=False
):
    """Generate a regression problem with several outputs whose correlation changes with x.

    The single input is uniform, ``x ~ U(-3, 3)``. Given ``x``, the outputs
    ``y_0 .. y_(d-1)`` are jointly Gaussian::

        y_j    = m_j(x) + s_j(x) * e_j,
        m_j(x) = sin(x + j) + j * x / 6,
        s_j(x) = 0.3 + 0.15 * (1 + cos(x + 2 j)),
        corr(e_i, e_j) = rho(x) ** |i - j|,  rho(x) = 0.8 * tanh(x),

    an AR(1) correlation between the outputs that goes from strongly
    negative (neighbouring outputs move in opposite directions) at ``x = -3``
    through independence at ``x = 0`` to strongly positive at ``x = 3``. A
    model of each output on its own (``MultiOutputRegressor``) gets every
    marginal right and the joint density wrong.

    Parameters
    ----------
    n_samples : int, default=1000
        The number of samples.

    n_outputs : int, default=2
        The number of outputs ``d``, at least 2.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation for the dataset. Pass an int for
        reproducible output across multiple function calls.

    return_distribution : bool, default=False
        If True, also return the true conditional distribution of ``y`` given
        each row of ``X``.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        The input samples.

    y : ndarray of shape (n_samples, n_outputs)
        The output values.

    distribution : MultivariateGaussianMixture
        The true conditional distribution ``p(y | x)`` of every row, one
        component (weights of shape (n_samples, 1)). Only returned if
        ``return_distribution`` is True.

    Examples
    --------
    >>> from skprob.datasets import make_correlated_outputs
    >>> X, y, dist = make_correlated_outputs(50, random_state=0, return_distribution=True)
    >>> X.shape, y.shape
    ((50, 1), (50, 2))
    >>> dist.cov().shape
    (50, 2, 2)
    """
    generator = check_random_state(random_state)
    x = generator.uniform(*_CORRELATED_X_RANGE, size=n_samples)
    means, stds, rho = _correlated_params(x, n_outputs)
    scale_tril = _ar1_scale_tril(stds, rho)
    noise = generator.standard_normal((n_samples, n_outputs))
    y = means + np.einsum("nij,nj->ni", scale_tril, noise)
    X = x[:, np.newaxis]
    if return_distribution:
        return X, y, MultivariateGaussianMixture(
            np.ones((n_samples, 1)), means[:, None, :], scale_tril[:, None]
        )
    return X, y
