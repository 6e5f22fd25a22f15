"""Concatenate batches of distributions along the row axis."""

import numpy as np

from skprob.distributions._base import BaseDistribution
from skprob.distributions._categorical import Categorical
from skprob.distributions._grid import GridDistribution
from skprob.distributions._mixture import GaussianMixture
from skprob.distributions._normal import Normal
from skprob.distributions._recalibrated import RecalibratedDistribution
from skprob.distributions._transformed import TransformedDistribution


def concatenate(dists):
    """Join batches of distributions into one batch, rows in the order given.

    The rows of ``dists[0]`` come first, then those of ``dists[1]``, and so
    on; every row keeps its distribution exactly. Combine with row indexing,
    ``concatenate(parts)[order]``, to put rows back in any order.

    Parameters
    ----------
    dists : sequence of distributions
        Batches of one family:

        - :class:`Normal`: a Normal;
        - :class:`Normal` and :class:`GaussianMixture`: a GaussianMixture
          with as many components as the largest input; rows with fewer
          components (a Normal has one) are padded with components of weight
          zero, copies of their first component, so every density, cdf,
          quantile and moment is unchanged;
        - :class:`Categorical`: the same ``classes`` in the same order;
        - :class:`GridDistribution`: the same number of grid points;
        - :class:`TransformedDistribution`: the same transform (the bases are
          concatenated by these rules);
        - :class:`RecalibratedDistribution`: the bases are concatenated, and
          rows keep their own calibration map.

    Returns
    -------
    dist : distribution
        A batch with ``sum(len(d) for d in dists)`` rows.

    Examples
    --------
    >>> from skprob.distributions import GaussianMixture, Normal, concatenate
    >>> both = concatenate([Normal([0.0], [1.0]),
    ...                     GaussianMixture([[0.5, 0.5]], [[-1.0, 1.0]], [[1.0, 1.0]])])
    >>> type(both).__name__, len(both), both.weights.tolist()
    ('GaussianMixture', 2, [[1.0, 0.0], [0.5, 0.5]])
    """
    dists = list(dists)
    if not dists:
        raise ValueError("concatenate needs at least one distribution.")
    if not all(isinstance(d, BaseDistribution) for d in dists):
        raise TypeError("concatenate takes skprob distributions only.")
    kinds = {type(d) for d in dists}
    if kinds == {Normal}:
        return Normal(np.concatenate([d.loc for d in dists]),
                      np.concatenate([d.scale for d in dists]))
    if kinds <= {Normal, GaussianMixture}:
        return _concatenate_mixtures(dists)
    if kinds == {Categorical}:
        classes = dists[0].classes
        if not all(np.array_equal(d.classes, classes) for d in dists):
            raise ValueError(
                "Categorical distributions can be concatenated only with the same classes in "
                f"the same order; got {[d.classes.tolist() for d in dists]}."
            )
        return Categorical(np.concatenate([d.probs for d in dists]), classes=classes)
    if kinds == {GridDistribution}:
        sizes = {d.grid.shape[1] for d in dists}
        if len(sizes) > 1:
            raise ValueError(
                f"GridDistributions need the same number of grid points, got {sorted(sizes)}."
            )
        return GridDistribution(np.concatenate([d.grid for d in dists]),
                                np.concatenate([d.density for d in dists]))
    if kinds == {TransformedDistribution}:
        transform = dists[0].transform
        if not all(_same_transform(d.transform, transform) for d in dists):
            raise ValueError("TransformedDistributions need the same transform.")
        return TransformedDistribution(concatenate([d.base for d in dists]), transform)
    if kinds == {RecalibratedDistribution}:
        return _concatenate_recalibrated(dists)
    raise TypeError(
        "Cannot concatenate distributions of the types "
        f"{sorted(kind.__name__ for kind in kinds)}."
    )


def _as_mixture(dist, n_components):
    """A Normal or GaussianMixture as arrays of ``n_components``, zero-weight padded."""
    if isinstance(dist, Normal):
        weights, means, stds = np.ones((len(dist), 1)), dist.loc[:, None], dist.scale[:, None]
    else:
        weights, means, stds = dist.weights, dist.means, dist.stds
    pad = n_components - weights.shape[1]
    return (
        np.pad(weights, ((0, 0), (0, pad))),
        np.concatenate([means, np.repeat(means[:, :1], pad, axis=1)], axis=1),
        np.concatenate([stds, np.repeat(stds[:, :1], pad, axis=1)], axis=1),
    )


def _concatenate_mixtures(dists):
    n_components = max(1 if isinstance(d, Normal) else d.n_components for d in dists)
    parts = [_as_mixture(d, n_components) for d in dists]
    return GaussianMixture(*(np.concatenate(arrays) for arrays in zip(*parts, strict=True)))


def _same_transform(a, b):
    return a is b or all(
        getattr(a, name) is getattr(b, name) for name in ("forward", "inverse", "log_abs_jacobian")
    ) and tuple(a.domain) == tuple(b.domain)


def _concatenate_recalibrated(dists):
    maps, index = [], []
    for dist in dists:
        # the position of each of this batch's maps in the combined list
        position = []
        for calibration_map in dist.calibration_map:
            found = next((j for j, m in enumerate(maps) if m == calibration_map), None)
            if found is None:
                maps.append(calibration_map)
                found = len(maps) - 1
            position.append(found)
        index.append(np.asarray(position, dtype=np.intp)[dist.map_index])
    return RecalibratedDistribution(concatenate([d.base for d in dists]), maps,
                                    np.concatenate(index))
