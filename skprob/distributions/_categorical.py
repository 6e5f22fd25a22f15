"""Batch of categorical distributions over a fixed set of class labels."""

import numpy as np
from scipy import special, stats

from skprob.distributions._base import BaseDistribution, as_float_array, check_simplex, safe_log
from skprob.distributions._sampling import sample_index


class Categorical(BaseDistribution):
    """Batch of ``n`` categorical distributions over the same ``C`` classes.

    Parameters
    ----------
    probs : array-like of shape (n, C)
        Non-negative class probabilities. Each row must sum to one within
        ``1e-4``; rows are renormalised to sum to one exactly.
    classes : array-like of shape (C,), default=None
        Distinct class labels, in the order of the columns of ``probs``;
        labels may be numbers or strings. Defaults to ``arange(C)``.

    Attributes
    ----------
    probs : ndarray of shape (n, C)
        Class probabilities (renormalised).
    classes : ndarray of shape (C,)
        Class labels.
    n_classes : int
        Number of classes ``C``.

    See Also
    --------
    GaussianMixture : Batch of Gaussian mixtures for real-valued targets.

    Notes
    -----
    Methods taking ``labels`` accept a single label (used for every row), one
    label per row (shape ``(n,)``) or ``m`` labels per row (shape ``(n, m)``).
    A label that is not in ``classes`` raises ``ValueError``.

    ``to_scipy(i)`` returns ``scipy.stats.rv_discrete`` over the class
    *indices* ``0 .. C - 1`` (scipy's discrete distributions take numbers
    only); ``classes[k]`` is the label of index ``k``.

    Examples
    --------
    >>> from skprob.distributions import Categorical
    >>> dist = Categorical([[0.2, 0.8], [0.6, 0.4]], classes=["cat", "dog"])
    >>> dist.mode()
    array(['dog', 'cat'], dtype='<U3')
    >>> dist.pmf(["dog", "dog"])
    array([0.8, 0.4])
    """

    _row_params = ("probs",)
    _shared_params = ("classes",)

    def __init__(self, probs, classes=None):
        probs = as_float_array("probs", probs, ndim=2)
        n_classes = probs.shape[1]
        if n_classes == 0:
            raise ValueError("probs must have at least one column (class).")
        if classes is None:
            classes = np.arange(n_classes)
        classes = np.asarray(classes)
        if classes.shape != (n_classes,):
            raise ValueError(
                f"classes must be a 1-D array of {n_classes} labels (one per column of "
                f"probs), got shape {classes.shape}."
            )
        if np.unique(classes).shape[0] != n_classes:
            raise ValueError("classes must not contain duplicate labels.")
        self.probs = check_simplex("probs", probs)
        self.classes = classes

    @property
    def n_classes(self):
        """Number of classes ``C``."""
        return self.classes.shape[0]

    def pmf(self, labels):
        """Probability of ``labels``.

        Parameters
        ----------
        labels : label or array-like of shape (n,) or (n, m)
            Class labels, see the class docstring.

        Returns
        -------
        pmf : ndarray of shape (n,) or (n, m)
        """
        return self._apply(self._pmf, labels, dtype=None)

    def logpmf(self, labels):
        """Log probability of ``labels`` (``-inf`` for a class of probability 0).

        Parameters
        ----------
        labels : label or array-like of shape (n,) or (n, m)
            Class labels, see the class docstring.

        Returns
        -------
        logpmf : ndarray of shape (n,) or (n, m)
        """
        return safe_log(self.pmf(labels))

    def mode(self):
        """Most probable class of each row (the first one on ties).

        Returns
        -------
        mode : ndarray of shape (n,)
        """
        return self.classes[np.argmax(self.probs, axis=1)]

    def entropy(self):
        """Shannon entropy of each row, in nats.

        Returns
        -------
        entropy : ndarray of shape (n,)
        """
        return np.sum(special.entr(self.probs), axis=1)

    def _pmf(self, labels):
        return np.take_along_axis(self.probs, self._class_index(labels), axis=1)

    def _class_index(self, labels):
        """Column of ``classes`` holding each label; ValueError for unknown labels."""
        order = np.argsort(self.classes, kind="stable")
        sorted_classes = self.classes[order]
        try:
            position = np.searchsorted(sorted_classes, labels)
            position = np.minimum(position, self.n_classes - 1)
            known = sorted_classes[position] == labels
        except TypeError as exc:
            raise ValueError(
                f"Labels of dtype {labels.dtype} cannot match classes of dtype "
                f"{self.classes.dtype}."
            ) from exc
        if not np.all(known):
            unknown = np.unique(labels[~known])
            raise ValueError(
                f"Labels {unknown.tolist()} are not among the classes "
                f"{self.classes.tolist()}."
            )
        return order[position]

    def _sample(self, n_samples, rng):
        return self.classes[sample_index(self.probs, n_samples, rng)]

    def _to_scipy(self, i):
        return stats.rv_discrete(values=(np.arange(self.n_classes), self.probs[i]))
