"""Prediction on chunks of rows of X, so that memory stays bounded for any number of rows.

A predictive distribution can be far larger than what a method returns from
it: a Monte Carlo regressor's holds a mixture of ``n_mc_samples`` Gaussians
per row, while ``predict`` returns two numbers per row. Methods that reduce
the distribution therefore run on chunks of rows and write each chunk's result
into preallocated outputs. A row's prediction does not depend on the other
rows, so chunking does not change any value.
"""

import numpy as np
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _num_samples

from skprob.distributions._sampling import check_sample_size, sample_chunk_rows

# Rows per chunk. The distribution of one chunk holds CHUNK_ROWS * T values per
# parameter array for T Monte Carlo passes (3 MiB at the default T = 100), and
# CHUNK_ROWS * T * C class probabilities for a classifier.
CHUNK_ROWS = 4096


def count_rows(X):
    """Number of rows of ``X``, or None when ``X`` is not a collection of rows."""
    try:
        return _num_samples(X)
    except TypeError:
        return None


def map_row_chunks(function, X, chunk_rows=None):
    """``function`` applied to chunks of rows of ``X``, its results stacked along rows.

    Parameters
    ----------
    function : callable
        Maps rows of ``X`` to a tuple of arrays with one row per row of input.
        Chunks are sliced from ``X`` as given (a DataFrame stays a DataFrame),
        so that ``function`` validates them as it would validate ``X``.
    X : array-like of shape (n_samples, n_features)
        Input samples.
    chunk_rows : int, default=None
        Rows per chunk; None means ``CHUNK_ROWS``.

    Returns
    -------
    outputs : tuple of ndarray
        What ``function(X)`` would return. Input that fits in one chunk, or is
        not a collection of rows, goes to ``function`` in one call (whose
        validation then reports what is wrong with it).
    """
    chunk_rows = CHUNK_ROWS if chunk_rows is None else chunk_rows
    n_rows = count_rows(X)
    if n_rows is None or n_rows <= chunk_rows:
        return function(X)
    outputs = None
    for start in range(0, n_rows, chunk_rows):
        rows = slice(start, min(start + chunk_rows, n_rows))
        results = function(_safe_indexing(X, rows))
        if outputs is None:
            outputs = tuple(np.empty((n_rows, *r.shape[1:]), dtype=r.dtype) for r in results)
        for out, result in zip(outputs, results, strict=True):
            out[rows] = result
    return outputs


def sample_row_chunks(draw, X, sample_shape, method):
    """Draws for every row of ``X``, a chunk of rows at a time, into one output array.

    Parameters
    ----------
    draw : callable
        Maps rows of ``X`` to an array of draws of shape ``(rows, *sample_shape)``.
    X : array-like of shape (n_samples, n_features)
        Input samples.
    sample_shape : tuple of int
        Shape of the draws of one row.
    method : str
        Name shown in the error for an output above the size limit.

    Returns
    -------
    samples : ndarray of shape (n_samples, *sample_shape)

    Raises
    ------
    ValueError
        If the output would hold more than
        ``skprob.distributions._sampling.MAX_SAMPLE_VALUES`` values.
    """
    n_rows = count_rows(X)
    if n_rows is not None:
        check_sample_size((n_rows, *sample_shape), method)
    chunk = min(CHUNK_ROWS, sample_chunk_rows(int(np.prod(sample_shape))))
    (samples,) = map_row_chunks(lambda X_chunk: (draw(X_chunk),), X, chunk)
    return samples
