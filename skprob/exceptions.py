"""Warnings and errors raised by skprob, so that callers can filter or catch them."""

__all__ = ["DiscreteTargetWarning", "TrainingDivergedError", "UnsafeFileError"]


class TrainingDivergedError(ValueError):
    """Raised when the training loss becomes non-finite.

    The estimator is left as it was before the call to ``fit`` (or
    ``partial_fit``): no weights that predict NaN are kept. A smaller
    ``learning_rate_init``, a larger ``alpha`` or standardised inputs usually
    cure it.
    """


class DiscreteTargetWarning(UserWarning):
    """Warns that a regressor's targets take only a few distinct values.

    A continuous density fitted to targets on a few points (integer scores,
    star ratings, a 0/1 label) can put narrow spikes on those points: its
    log-likelihood then grows with the flexibility of the model rather than
    with the quality of its predictions, and is not comparable with the
    log-likelihood of another model. Use a classifier for ordered categories,
    or dequantise the targets (add uniform noise of one grid step) to model
    them as continuous.
    """


class UnsafeFileError(ValueError):
    """Raised by :func:`skprob.load` when a file is refused; the message says why.

    A subclass of :class:`ValueError`: a damaged, truncated or tampered file,
    a file from another format version, or one whose content is inconsistent
    (sizes, attributes, parameters) is refused before anything is built.
    """
