"""Shared machinery of the batched predictive distributions.

Every distribution in :mod:`skprob.distributions` is a batch of ``n``
independent distributions, one per row of the ``X`` it was predicted for. This
module holds what all of them share: row slicing, the handling of the ``y``
argument (a scalar, one value per row, or a grid of values per row), input
checks, a fast ``logsumexp`` and the generic continuous methods (``pdf``,
``std``, ``interval``, ``sample``, ``affine``); random states, index sampling
and the bounds on what one call draws are in ``_sampling.py``.
"""

import numbers

import numpy as np

from skprob.distributions._sampling import (
    check_n_samples,
    check_random_state_or_generator,
    check_sample_size,
    sample_chunk_rows,
)

# Largest tolerated deviation of a row of weights or probabilities from a sum
# of one before it is renormalised. Wide enough for float32 softmax outputs,
# narrow enough to catch unnormalised input.
SIMPLEX_ATOL = 1e-4

HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)


def as_float_array(name, value, ndim):
    """Convert ``value`` to a float64 array of ``ndim`` dimensions.

    Scalars and 1-D input are promoted to ``ndim`` dimensions only when
    ``ndim`` is 1; anything of another dimensionality raises ``ValueError``.
    """
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, got {value!r}.") from exc
    if ndim == 1:
        array = np.atleast_1d(array)
    if array.ndim != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-D array, got an array of shape {array.shape}."
        )
    return array


def check_finite(name, array):
    """Raise ``ValueError`` when ``array`` holds NaN or infinite values."""
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no NaN or inf).")


def check_positive_scale(name, array):
    """Raise ``ValueError`` unless every entry of ``array`` is finite and > 0."""
    check_finite(name, array)
    if np.any(array <= 0):
        raise ValueError(f"{name} must be strictly positive.")


def check_simplex(name, array):
    """Validate rows of non-negative weights summing to one; return them renormalised.

    Parameters
    ----------
    name : str
        Name used in error messages.
    array : ndarray of shape (n, K)
        Candidate weights, one row per distribution.

    Returns
    -------
    array : ndarray of shape (n, K)
        The rows divided by their sums, so that they sum to one to rounding.
    """
    check_finite(name, array)
    if np.any(array < 0):
        raise ValueError(f"{name} must be non-negative.")
    totals = array.sum(axis=1, keepdims=True)
    if np.any(np.abs(totals - 1.0) > SIMPLEX_ATOL):
        worst = float(np.max(np.abs(totals - 1.0)))
        raise ValueError(
            f"Each row of {name} must sum to 1 (tolerance {SIMPLEX_ATOL}); "
            f"the largest deviation is {worst:.3g}."
        )
    return array / totals


def safe_log(array):
    """Natural logarithm with ``log(0) = -inf``, NaN kept as NaN, and no RuntimeWarning."""
    out = np.where(np.isnan(array), np.nan, -np.inf)
    np.log(array, out=out, where=array > 0)
    return out


def logsumexp_inplace(a):
    """``log(sum(exp(a), axis=-1))``, computed in place: ``a`` is overwritten.

    Same result as :func:`scipy.special.logsumexp` for real input, stable for
    large entries and without warnings when every entry is ``-inf``; several
    times faster on large arrays because it needs no temporary of the size of
    ``a``.
    """
    a_max = np.max(a, axis=-1, keepdims=True)
    a_max[~np.isfinite(a_max)] = 0.0
    a -= a_max
    np.exp(a, out=a)
    total = np.einsum("...k->...", a)
    with np.errstate(divide="ignore"):
        out = np.log(total)
    out += a_max[..., 0]
    return out


class BaseDistribution:
    """Base class of batched distributions with one distribution per row.

    Subclasses list the names of their per-row array parameters (leading axis
    of length ``n``) in ``_row_params`` and of their parameters shared by all
    rows in ``_shared_params``; both are constructor arguments and public
    attributes of the same name. This class then provides ``len(d)``, row
    slicing ``d[key]``, the handling of per-row arguments, and ``sample`` and
    ``to_scipy`` on top of the subclass's ``_sample(n_samples, rng)`` and
    ``_to_scipy(i)``.

    Indexing with an int, a slice, a boolean mask of length ``n`` or an array
    of integer row indices returns a new distribution of the same class over
    the selected rows; an int keeps the batch dimension (a batch of length 1).
    """

    _row_params = ()
    _shared_params = ()

    def __len__(self):
        return getattr(self, self._row_params[0]).shape[0]

    def __repr__(self):
        return f"{type(self).__name__}(n={len(self)})"

    def __getitem__(self, key):
        rows = self._row_selection(key)
        params = {name: getattr(self, name)[rows] for name in self._row_params}
        params.update({name: getattr(self, name) for name in self._shared_params})
        return type(self)(**params)

    def _row_selection(self, key):
        """Normalise an indexing key into a slice or an integer index array."""
        n_rows = len(self)
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            if not -n_rows <= key < n_rows:
                raise IndexError(f"Row {key} is out of range for {n_rows} rows.")
            return np.array([key % n_rows])
        if isinstance(key, slice):
            return key
        key = np.asarray(key)
        if key.ndim != 1:
            raise IndexError("Rows can be selected by a 1-D mask or index array only.")
        if key.dtype == bool:
            if key.shape[0] != n_rows:
                raise IndexError(
                    f"Boolean mask of length {key.shape[0]} does not match {n_rows} rows."
                )
            return np.flatnonzero(key)
        if key.size == 0:
            return key.astype(np.intp)
        if not np.issubdtype(key.dtype, np.integer):
            raise IndexError(
                "Rows can be selected by an int, a slice, a boolean mask or an integer "
                f"array, got an array of dtype {key.dtype}."
            )
        if np.any((key < -n_rows) | (key >= n_rows)):
            raise IndexError(f"Row index out of range for {n_rows} rows.")
        return key

    def _row(self, i):
        """Validate a single row index ``i``; return it as a non-negative int."""
        if not isinstance(i, numbers.Integral) or isinstance(i, bool):
            raise IndexError(f"A single row is selected by an int, got {i!r}.")
        return int(self._row_selection(i)[0])

    def sample(self, n_samples=1, random_state=None):
        """Draw independent samples from every row.

        Parameters
        ----------
        n_samples : int, default=1
            Number of draws per row.
        random_state : int, RandomState instance, Generator or None, default=None
            Source of randomness. A :class:`numpy.random.Generator` is used as
            is; an int, None or a :class:`numpy.random.RandomState` go through
            :func:`sklearn.utils.check_random_state`. Pass an int for
            reproducible output.

        Returns
        -------
        samples : ndarray of shape (n, n_samples)

        Raises
        ------
        ValueError
            If the output would hold more than ``2**28`` values (2 GiB of
            float64): draw for chunks of rows instead, ``d[a:b].sample(...)``.
        """
        n_samples = check_n_samples(n_samples)
        check_sample_size((len(self), n_samples))
        rng = check_random_state_or_generator(random_state)
        chunk = sample_chunk_rows(n_samples)
        if len(self) <= chunk:
            return self._sample(n_samples, rng)
        out = None
        for start in range(0, len(self), chunk):
            rows = slice(start, start + chunk)
            draws = self[rows]._sample(n_samples, rng)
            if out is None:
                out = np.empty((len(self), n_samples), dtype=draws.dtype)
            out[rows] = draws
        return out

    def to_scipy(self, i):
        """Equivalent :mod:`scipy.stats` distribution of row ``i``.

        Parameters
        ----------
        i : int
            Row index (negative values count from the end).

        Returns
        -------
        dist : scipy.stats distribution
        """
        return self._to_scipy(self._row(i))

    def _per_row(self, values, dtype=np.float64):
        """Bring per-row arguments into shape ``(n, m)``.

        Parameters
        ----------
        values : scalar, array-like of shape (n,) or (n, m)
            A scalar (the same value for every row), one value per row, or
            ``m`` values per row.
        dtype : dtype or None, default=np.float64
            Dtype of the returned array; None keeps the input's dtype.

        Returns
        -------
        values : ndarray of shape (n, m)
            ``m`` is 1 for scalar and 1-D input.
        squeeze : bool
            Whether results computed on ``values`` should drop their last axis,
            so that a scalar or 1-D argument gives a result of shape ``(n,)``.
        """
        values = np.asarray(values, dtype=dtype)
        n_rows = len(self)
        if values.ndim == 0:
            return np.broadcast_to(values, (n_rows, 1)), True
        if values.ndim in (1, 2) and values.shape[0] == n_rows:
            if values.ndim == 1:
                return values[:, None], True
            return values, False
        raise ValueError(
            f"Expected a scalar, an array of shape ({n_rows},) or an array of shape "
            f"({n_rows}, m) for {n_rows} rows, got an array of shape {values.shape}."
        )

    def _apply(self, function, values, dtype=np.float64):
        """Evaluate ``function`` on per-row ``values`` of shape ``(n, m)``."""
        values, squeeze = self._per_row(values, dtype=dtype)
        out = function(values)
        return out[:, 0] if squeeze else out


class ContinuousDistribution(BaseDistribution):
    """Base class of batched real-valued distributions.

    Method names and meanings follow frozen :mod:`scipy.stats` distributions.
    Subclasses implement ``mean``, ``var`` and, on arguments of shape
    ``(n, m)``, the private ``_logpdf``, ``_cdf``, ``_logcdf``, ``_sf``,
    ``_logsf`` and ``_ppf``; optionally ``_sample`` (the default inverts
    uniforms through ``ppf``), and ``_affine`` and ``_to_scipy`` behind the
    public methods of the same names.

    Every method taking ``y`` (or ``q``) accepts a scalar (used for every
    row), an array of shape ``(n,)`` (one value per row; the result has shape
    ``(n,)``) or an array of shape ``(n, m)`` (``m`` values per row, e.g. a
    plotting grid; the result has shape ``(n, m)``).
    """

    def std(self):
        """Standard deviation of each row.

        Returns
        -------
        std : ndarray of shape (n,)
        """
        return np.sqrt(self.var())

    def logpdf(self, y):
        """Log of the probability density at ``y``.

        Parameters
        ----------
        y : float or array-like of shape (n,) or (n, m)
            Points at which to evaluate, see the class docstring.

        Returns
        -------
        logpdf : ndarray of shape (n,) or (n, m)
        """
        return self._apply(self._logpdf, y)

    def pdf(self, y):
        """Probability density at ``y``.

        Parameters
        ----------
        y : float or array-like of shape (n,) or (n, m)
            Points at which to evaluate, see the class docstring.

        Returns
        -------
        pdf : ndarray of shape (n,) or (n, m)
        """
        with np.errstate(over="ignore"):  # a density above 1.8e308 is inf
            return np.exp(self.logpdf(y))

    def cdf(self, y):
        """Cumulative distribution function at ``y``.

        Parameters
        ----------
        y : float or array-like of shape (n,) or (n, m)
            Points at which to evaluate, see the class docstring.

        Returns
        -------
        cdf : ndarray of shape (n,) or (n, m)
        """
        return self._apply(self._cdf, y)

    def logcdf(self, y):
        """Log of the cumulative distribution function, accurate in the lower tail.

        Parameters
        ----------
        y : float or array-like of shape (n,) or (n, m)
            Points at which to evaluate, see the class docstring.

        Returns
        -------
        logcdf : ndarray of shape (n,) or (n, m)
        """
        return self._apply(self._logcdf, y)

    def sf(self, y):
        """Survival function ``1 - cdf(y)``, accurate in the upper tail.

        Parameters
        ----------
        y : float or array-like of shape (n,) or (n, m)
            Points at which to evaluate, see the class docstring.

        Returns
        -------
        sf : ndarray of shape (n,) or (n, m)
        """
        return self._apply(self._sf, y)

    def logsf(self, y):
        """Log of the survival function, accurate in the upper tail.

        Parameters
        ----------
        y : float or array-like of shape (n,) or (n, m)
            Points at which to evaluate, see the class docstring.

        Returns
        -------
        logsf : ndarray of shape (n,) or (n, m)
        """
        return self._apply(self._logsf, y)

    def ppf(self, q):
        """Percent point function (inverse of ``cdf``).

        Parameters
        ----------
        q : float or array-like of shape (n,) or (n, m)
            Probabilities, see the class docstring. As in scipy,
            ``ppf(0) = -inf``, ``ppf(1) = inf`` and ``q`` outside ``[0, 1]``
            (or NaN) gives NaN.

        Returns
        -------
        ppf : ndarray of shape (n,) or (n, m)
        """
        return self._apply(self._ppf, q)

    def interval(self, confidence):
        """Equal-tailed interval holding probability ``confidence``.

        Parameters
        ----------
        confidence : float
            Probability mass of the interval, in ``[0, 1]``.

        Returns
        -------
        lower, upper : tuple of ndarray of shape (n,)
            ``ppf((1 - confidence) / 2)`` and ``ppf((1 + confidence) / 2)``.
        """
        if not isinstance(confidence, numbers.Real) or not 0.0 <= confidence <= 1.0:
            raise ValueError(f"confidence must be a float in [0, 1], got {confidence!r}.")
        alpha = (1.0 - confidence) / 2.0
        return self.ppf(alpha), self.ppf(1.0 - alpha)

    def _sample(self, n_samples, rng):
        return self._ppf(rng.random((len(self), n_samples)))

    def affine(self, shift, scale):
        """Distribution of ``shift + scale * Y`` for ``Y`` distributed as ``self``.

        Densities of the result include the Jacobian ``1 / scale``. Used to map
        predictions for a standardised target back to the units of ``y``.

        Parameters
        ----------
        shift : float or array-like of shape (n,)
            Location shift, for all rows or one per row.
        scale : float or array-like of shape (n,)
            Positive scale factor, for all rows or one per row.

        Returns
        -------
        dist : distribution of the same class
        """
        shift = self._one_per_row("shift", shift)
        scale = self._one_per_row("scale", scale)
        check_finite("shift", shift)
        check_positive_scale("scale", scale)
        return self._affine(shift, scale)

    def _one_per_row(self, name, value):
        """A scalar or an array of shape (n,) as a new float array of shape (n,)."""
        values, squeeze = self._per_row(value)
        if not squeeze:
            raise ValueError(
                f"{name} must be a scalar or an array of shape ({len(self)},), got an "
                f"array of shape {values.shape}."
            )
        return np.array(values[:, 0])
