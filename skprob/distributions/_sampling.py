"""Drawing from the batched distributions: random states, index sampling, size bounds.

What every ``sample`` method (and an estimator's ``sample_posterior``) shares:
turning ``random_state`` into a source of draws, checking ``n_samples``,
refusing outputs too large for memory, and the rows drawn per chunk.
"""

import math
import numbers

import numpy as np
from sklearn.utils import check_random_state

# Largest number of values one call to ``sample`` or an estimator's
# ``sample_posterior`` returns: 2**28 float64 values are 2 GiB. Larger requests
# are refused with a ValueError that says how to draw them in chunks of rows.
MAX_SAMPLE_VALUES = 2**28
# Values drawn per chunk of rows. Sampling needs a few temporaries of the size
# of what it draws (uniforms, component indices, gathered parameters); drawing
# a chunk of rows at a time into the preallocated output bounds them.
SAMPLE_CHUNK_VALUES = 2**20


def check_random_state_or_generator(random_state):
    """Turn ``random_state`` into an object with ``random`` and ``standard_normal``.

    A :class:`numpy.random.Generator` is used as is; ``None``, an int or a
    :class:`numpy.random.RandomState` go through
    :func:`sklearn.utils.check_random_state`, as in scikit-learn.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    return check_random_state(random_state)


def sample_index(weights, n_samples, rng):
    """Draw category indices per row from rows of probabilities.

    Parameters
    ----------
    weights : ndarray of shape (n, K)
        Row-wise probabilities summing to one.
    n_samples : int
        Number of draws per row.
    rng : numpy.random.Generator or numpy.random.RandomState
        Source of uniforms.

    Returns
    -------
    index : ndarray of shape (n, n_samples)
        Integers in ``[0, K)``; a category with zero probability is never drawn.
    """
    n_rows, n_categories = weights.shape
    uniforms = rng.random((n_rows, n_samples))
    cumulative = np.cumsum(weights, axis=1)
    index = np.zeros((n_rows, n_samples), dtype=np.intp)
    for k in range(n_categories - 1):
        index += uniforms >= cumulative[:, k : k + 1]
    # Rounding of the cumulative sum may push a uniform past the last positive
    # category; map it back onto that category.
    last_positive = n_categories - 1 - np.argmax(weights[:, ::-1] > 0, axis=1)
    return np.minimum(index, last_positive[:, None])


def check_n_samples(n_samples):
    """Return ``n_samples`` as an int; ``ValueError`` unless it is a positive integer."""
    if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool):
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    if n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    return int(n_samples)


def check_sample_size(shape, method="sample"):
    """Raise ``ValueError`` if an output of ``shape`` holds more than ``MAX_SAMPLE_VALUES``."""
    size = math.prod(shape)
    if size > MAX_SAMPLE_VALUES:
        dims = " x ".join(str(d) for d in shape)
        raise ValueError(
            f"{method} would return {dims} = {size:.3g} values ({size * 8 / 2**30:.1f} GiB "
            f"as float64), more than the limit of {MAX_SAMPLE_VALUES} values "
            f"({MAX_SAMPLE_VALUES * 8 / 2**30:.0f} GiB). Draw for chunks of rows and use "
            "each chunk before drawing the next, e.g. with rng = np.random.RandomState(0): "
            f"for rows in np.array_split(np.arange(n), {math.ceil(size / MAX_SAMPLE_VALUES)}): "
            f"{method}(...[rows], n_samples, random_state=rng); or ask for fewer samples."
        )


def sample_chunk_rows(values_per_row):
    """Rows per chunk when each row draws ``values_per_row`` values."""
    return max(1, SAMPLE_CHUNK_VALUES // values_per_row)
