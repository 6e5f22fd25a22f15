"""Batch of multivariate Gaussian mixtures, for vector targets."""

import numbers

import numpy as np
from scipy import stats

from skprob.distributions._base import (
    HALF_LOG_2PI,
    BaseDistribution,
    as_float_array,
    check_finite,
    check_positive_scale,
    check_simplex,
    logsumexp_inplace,
    safe_log,
)
from skprob.distributions._mixture import GaussianMixture
from skprob.distributions._sampling import (
    check_n_samples,
    check_random_state_or_generator,
    check_sample_size,
    sample_chunk_rows,
    sample_index,
)


def _solve_lower(L, b):
    """``L^-1 b`` by forward substitution, for lower-triangular ``L`` (..., d, d), ``b`` (..., d).

    Vectorised over every leading axis (numpy has no batched triangular
    solve); the loop runs over the ``d`` outputs only.
    """
    z = np.empty(np.broadcast_shapes(L.shape[:-1], b.shape))
    for j in range(L.shape[-1]):
        partial = np.einsum("...i,...i->...", L[..., j, :j], z[..., :j])
        z[..., j] = (b[..., j] - partial) / L[..., j, j]
    return z


def _check_scale_tril(scale_tril):
    """Lower-triangular factors with a positive, finite diagonal."""
    check_finite("scale_tril", scale_tril)
    d = scale_tril.shape[-1]
    if np.any(np.triu(scale_tril, k=1) != 0):
        raise ValueError("scale_tril must be lower triangular (zeros above the diagonal).")
    diagonal = np.diagonal(scale_tril, axis1=-2, axis2=-1)
    if d and np.any(diagonal <= 0):
        raise ValueError("scale_tril must have a strictly positive diagonal.")


def _output_indices(indices, n_outputs, name):
    """Distinct output indices as an int array (negative values count from the end)."""
    index = np.atleast_1d(np.asarray(indices))
    if index.ndim != 1 or not (index.size == 0 or np.issubdtype(index.dtype, np.integer)):
        raise ValueError(f"{name} must be an int or a 1-D sequence of ints, got {indices!r}.")
    if np.any((index < -n_outputs) | (index >= n_outputs)):
        raise IndexError(f"{name} {indices!r} out of range for {n_outputs} outputs.")
    index = index % n_outputs
    if len(np.unique(index)) != len(index):
        raise ValueError(f"{name} must not repeat an output, got {indices!r}.")
    return index


class MultivariateGaussianMixture(BaseDistribution):
    """Batch of ``n`` mixtures of ``K`` Gaussians in ``d`` dimensions.

    Row ``i`` has density
    ``sum_k weights[i, k] * N(y | means[i, k], L_ik L_ik^T)`` with
    ``L_ik = scale_tril[i, k]``, the Cholesky factor of the component's
    covariance. The predictive distribution of skprob's regressors for a
    target ``y`` of shape ``(n_samples, n_outputs)``.

    Parameters
    ----------
    weights : array-like of shape (n, K)
        Non-negative mixture weights. Each row must sum to one within
        ``1e-4``; rows are renormalised to sum to one exactly.
    means : array-like of shape (n, K, d)
        Component means, finite.
    scale_tril : array-like of shape (n, K, d, d)
        Lower-triangular Cholesky factors of the component covariances, with
        a strictly positive diagonal (as ``scale_tril`` of
        :class:`torch.distributions.MultivariateNormal`).

    Attributes
    ----------
    weights : ndarray of shape (n, K)
    means : ndarray of shape (n, K, d)
    scale_tril : ndarray of shape (n, K, d, d)
    n_components : int
        Number of components ``K``.
    n_outputs : int
        Dimension ``d``.

    See Also
    --------
    GaussianMixture : The univariate case, and what :meth:`marginal` returns.
    scipy.stats.multivariate_normal : The single-Gaussian equivalent (``K = 1``).

    Notes
    -----
    Everything is computed from the Cholesky factors, never from an inverted
    covariance: the log-determinant is ``2 sum(log diag L)``, Mahalanobis
    distances come from triangular solves, and component densities are
    combined by log-sum-exp, so ``logpdf`` stays finite far from every
    component. ``cov`` follows from the law of total covariance.

    Conditioning (:meth:`condition`) keeps the family: given some outputs,
    each component's other outputs are Gaussian with the usual Schur
    complement, and the weights are updated by each component's density at
    the observed values (Bayes' rule).

    Row slicing (``d[i]``, ``d[2:5]``, a boolean mask) and ``len(d)`` work as
    for every skprob distribution.

    Examples
    --------
    >>> import numpy as np
    >>> from skprob.distributions import MultivariateGaussianMixture
    >>> dist = MultivariateGaussianMixture(
    ...     weights=[[1.0]], means=[[[0.0, 1.0]]], scale_tril=[[[[1.0, 0.0], [0.5, 1.0]]]]
    ... )
    >>> dist.cov()
    array([[[1.  , 0.5 ],
            [0.5 , 1.25]]])
    >>> dist.marginal(1).std()
    array([1.11803399])
    """

    _row_params = ("weights", "means", "scale_tril")

    def __init__(self, weights, means, scale_tril):
        weights = as_float_array("weights", weights, ndim=2)
        means = as_float_array("means", means, ndim=3)
        scale_tril = as_float_array("scale_tril", scale_tril, ndim=4)
        n, K = weights.shape
        d = means.shape[2]
        if means.shape[:2] != (n, K) or scale_tril.shape != (n, K, d, d):
            raise ValueError(
                "weights, means and scale_tril must have shapes (n, K), (n, K, d) and "
                f"(n, K, d, d), got {weights.shape}, {means.shape} and {scale_tril.shape}."
            )
        if K == 0:
            raise ValueError("A mixture needs at least one component.")
        if d == 0:
            raise ValueError("A multivariate distribution needs at least one output.")
        check_finite("means", means)
        _check_scale_tril(scale_tril)
        self.weights = check_simplex("weights", weights)
        self.means = means
        self.scale_tril = scale_tril

    def __repr__(self):
        return f"{type(self).__name__}(n={len(self)}, n_outputs={self.n_outputs})"

    @property
    def n_components(self):
        """Number of mixture components ``K``."""
        return self.weights.shape[1]

    @property
    def n_outputs(self):
        """Dimension ``d`` of the outputs."""
        return self.means.shape[2]

    # --------------------------------------------------------------- moments
    def mean(self):
        """Mean of each row.

        Returns
        -------
        mean : ndarray of shape (n, d)
        """
        return np.einsum("nk,nkd->nd", self.weights, self.means)

    def _component_cov(self):
        return self.scale_tril @ np.swapaxes(self.scale_tril, -1, -2)

    def cov(self):
        """Covariance matrix of each row, by the law of total covariance.

        Returns
        -------
        cov : ndarray of shape (n, d, d)
        """
        deviations = self.means - self.mean()[:, None, :]
        between = deviations[..., :, None] * deviations[..., None, :]
        return np.einsum("nk,nkij->nij", self.weights, self._component_cov() + between)

    def var(self):
        """Variance of every output of each row (the diagonal of :meth:`cov`).

        Returns
        -------
        var : ndarray of shape (n, d)
        """
        component_var = np.sum(self.scale_tril**2, axis=-1)
        deviations = self.means - self.mean()[:, None, :]
        return np.einsum("nk,nkd->nd", self.weights, component_var + deviations**2)

    def std(self):
        """Standard deviation of every output of each row.

        Returns
        -------
        std : ndarray of shape (n, d)
        """
        return np.sqrt(self.var())

    def corr(self):
        """Correlation matrix of each row.

        Returns
        -------
        corr : ndarray of shape (n, d, d)
        """
        cov = self.cov()
        std = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
        return cov / (std[:, :, None] * std[:, None, :])

    # ------------------------------------------------------------- densities
    def _points(self, y):
        """``y`` as ``(n, m, d)``, and whether results drop their ``m`` axis."""
        y = np.asarray(y, dtype=np.float64)
        n, d = len(self), self.n_outputs
        if y.ndim == 1 and y.shape == (d,):
            return np.broadcast_to(y, (n, 1, d)), True
        if y.ndim == 2 and y.shape == (n, d):
            return y[:, None, :], True
        if y.ndim == 3 and y.shape[0] == n and y.shape[2] == d:
            return y, False
        raise ValueError(
            f"Expected points of shape ({d},), ({n}, {d}) or ({n}, m, {d}) for {n} rows of "
            f"{d} outputs, got an array of shape {y.shape}."
        )

    def logpdf(self, y):
        """Log of the probability density at ``y``.

        Parameters
        ----------
        y : array-like of shape (d,), (n, d) or (n, m, d)
            One point for every row, one point per row, or ``m`` points per
            row (e.g. a plotting grid).

        Returns
        -------
        logpdf : ndarray of shape (n,) or (n, m)
        """
        y, squeeze = self._points(y)
        diagonal = np.diagonal(self.scale_tril, axis1=-2, axis2=-1)
        log_coefficients = (
            safe_log(self.weights)
            - np.sum(np.log(diagonal), axis=-1)
            - self.n_outputs * HALF_LOG_2PI
        )
        with np.errstate(over="ignore"):
            z = _solve_lower(
                self.scale_tril[:, None], y[:, :, None, :] - self.means[:, None, :, :]
            )
            terms = -0.5 * np.einsum("nmkd,nmkd->nmk", z, z)
        terms += log_coefficients[:, None, :]
        out = logsumexp_inplace(terms)
        return out[:, 0] if squeeze else out

    def pdf(self, y):
        """Probability density at ``y``; see :meth:`logpdf`.

        Parameters
        ----------
        y : array-like of shape (d,), (n, d) or (n, m, d)

        Returns
        -------
        pdf : ndarray of shape (n,) or (n, m)
        """
        with np.errstate(over="ignore"):
            return np.exp(self.logpdf(y))

    # -------------------------------------------------------------- sampling
    def sample(self, n_samples=1, random_state=None):
        """Draw independent samples from every row.

        Parameters
        ----------
        n_samples : int, default=1
            Number of draws per row.
        random_state : int, RandomState instance, Generator or None, default=None
            Source of randomness; an int gives reproducible draws.

        Returns
        -------
        samples : ndarray of shape (n, n_samples, d)

        Raises
        ------
        ValueError
            If the output would hold more than ``2**28`` values (2 GiB).
        """
        n_samples = check_n_samples(n_samples)
        check_sample_size((len(self), n_samples, self.n_outputs))
        rng = check_random_state_or_generator(random_state)
        out = np.empty((len(self), n_samples, self.n_outputs))
        chunk = sample_chunk_rows(n_samples * self.n_outputs)
        for start in range(0, len(self), chunk):
            rows = slice(start, start + chunk)
            out[rows] = self[rows]._sample(n_samples, rng)
        return out

    def _sample(self, n_samples, rng):
        component = sample_index(self.weights, n_samples, rng)
        rows = np.arange(len(self))[:, None]
        noise = rng.standard_normal((*component.shape, self.n_outputs))
        means = self.means[rows, component]
        return means + np.einsum("nsij,nsj->nsi", self.scale_tril[rows, component], noise)

    # ------------------------------------------------------ marginals, conditionals
    def marginal(self, outputs):
        """Marginal distribution of one output, or of several.

        Parameters
        ----------
        outputs : int or sequence of int
            An output index, or distinct indices.

        Returns
        -------
        dist : GaussianMixture or MultivariateGaussianMixture
            For an int, the univariate mixture of that output (same weights,
            the component means and standard deviations of that output); for
            a sequence, the mixture over those outputs in the order given.
        """
        if isinstance(outputs, numbers.Integral) and not isinstance(outputs, bool):
            (j,) = _output_indices(outputs, self.n_outputs, "outputs")
            stds = np.sqrt(np.sum(self.scale_tril[:, :, j, :] ** 2, axis=-1))
            return GaussianMixture(self.weights, self.means[:, :, j], stds)
        index = _output_indices(outputs, self.n_outputs, "outputs")
        if index.size == 0:
            raise ValueError("outputs must name at least one output.")
        if np.array_equal(index, np.arange(index.size)):  # a leading block: no factorisation
            scale_tril = self.scale_tril[:, :, : index.size, : index.size]
        else:
            cov = self._component_cov()[:, :, index[:, None], index]
            scale_tril = np.linalg.cholesky(cov)
        return MultivariateGaussianMixture(self.weights, self.means[:, :, index], scale_tril)

    def condition(self, indices, values):
        """Distribution of the other outputs given the outputs ``indices`` equal ``values``.

        Parameters
        ----------
        indices : int or sequence of int
            The observed outputs (at least one, not all).
        values : float or array-like of shape (len(indices),), (n,) or (n, len(indices))
            Their values: the same for every row, or one set per row.

        Returns
        -------
        dist : MultivariateGaussianMixture
            Over the remaining outputs, in increasing order. Each component is
            the conditional Gaussian (mean
            ``mu_u + S_uo S_oo^-1 (values - mu_o)``, covariance the Schur
            complement ``S_uu - S_uo S_oo^-1 S_ou``), and the weights are
            proportional to ``w_k N(values | mu_ko, S_koo)``. Use
            ``.marginal(0)`` for a :class:`GaussianMixture` when one output
            remains.

        Notes
        -----
        The covariance of every component is re-factorised with the observed
        outputs first; the blocks of that Cholesky factor give the
        conditional mean by a triangular solve and the conditional Cholesky
        factor directly, without inverting ``S_oo``.
        """
        observed = _output_indices(indices, self.n_outputs, "indices")
        rest = np.setdiff1d(np.arange(self.n_outputs), observed)
        if observed.size == 0 or rest.size == 0:
            raise ValueError(
                f"indices must name at least one and at most {self.n_outputs - 1} of the "
                f"{self.n_outputs} outputs, got {indices!r}."
            )
        values = np.asarray(values, dtype=np.float64)
        n, n_obs = len(self), observed.size
        if values.ndim == 0 or values.shape == (n_obs,):
            values = np.broadcast_to(values, (n, n_obs))
        elif values.shape == (n,) and n_obs == 1:
            values = values[:, None]
        elif values.shape != (n, n_obs):
            raise ValueError(
                f"values must have shape ({n_obs},) or ({n}, {n_obs}), got {values.shape}."
            )
        check_finite("values", values)
        order = np.concatenate([observed, rest])
        if np.array_equal(order, np.arange(self.n_outputs)):
            L = self.scale_tril
        else:
            L = np.linalg.cholesky(self._component_cov()[:, :, order[:, None], order])
        L_oo, L_uo, L_uu = L[..., :n_obs, :n_obs], L[..., n_obs:, :n_obs], L[..., n_obs:, n_obs:]
        means = self.means[:, :, order]
        z = _solve_lower(L_oo, values[:, None, :] - means[:, :, :n_obs])
        cond_means = means[:, :, n_obs:] + np.einsum("nkij,nkj->nki", L_uo, z)
        log_weights = (
            safe_log(self.weights)
            - 0.5 * np.sum(z**2, axis=-1)
            - np.sum(np.log(np.diagonal(L_oo, axis1=-2, axis2=-1)), axis=-1)
        )
        log_weights -= logsumexp_inplace(log_weights.copy())[:, None]
        return MultivariateGaussianMixture(np.exp(log_weights), cond_means, L_uu)

    # ---------------------------------------------------------------- affine
    def affine(self, shift, scale):
        """Distribution of ``shift + scale * Y``, output by output.

        Densities of the result include the Jacobian ``1 / prod(scale)``.
        Used to map predictions for per-column standardised targets back to
        the units of ``y``.

        Parameters
        ----------
        shift : float or array-like of shape (d,) or (n, d)
            Location shift of every output, for all rows or per row.
        scale : float or array-like of shape (d,) or (n, d)
            Positive scale factor of every output, for all rows or per row.

        Returns
        -------
        dist : MultivariateGaussianMixture
        """
        shape = (len(self), self.n_outputs)
        try:
            shift = np.broadcast_to(np.asarray(shift, dtype=np.float64), shape)
            scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), shape)
        except ValueError as exc:
            raise ValueError(
                f"shift and scale must be scalars or arrays of shape ({self.n_outputs},) or "
                f"{shape}: {exc}"
            ) from exc
        check_finite("shift", shift)
        check_positive_scale("scale", scale)
        return MultivariateGaussianMixture(
            self.weights,
            shift[:, None, :] + scale[:, None, :] * self.means,
            scale[:, None, :, None] * self.scale_tril,
        )

    def _to_scipy(self, i):
        if self.n_components != 1:
            raise ValueError(
                "to_scipy needs a single component (scipy.stats has no multivariate "
                f"mixture); this distribution has {self.n_components}."
            )
        L = self.scale_tril[i, 0]
        return stats.multivariate_normal(mean=self.means[i, 0], cov=L @ L.T)
