"""scikit-learn scorers built on the distribution metrics of :mod:`skprob.metrics`.

:class:`DistributionScorer` turns a metric into a ``scoring=`` object;
``neg_nll_scorer``, ``neg_crps_scorer``, ``neg_energy_score_scorer``,
:func:`make_coverage_scorer` and :func:`get_scorer` are the scorers themselves.
All are public as ``skprob.metrics.<name>``, which re-exports them.
"""

import numpy as np

from skprob.distributions import Categorical
from skprob.metrics import crps, energy_score, interval_coverage, negative_log_likelihood


class DistributionScorer:
    """Scorer ``scorer(estimator, X, y)`` built on a distribution metric.

    Follows scikit-learn's scorer protocol (greater is better), so it can be
    passed as ``scoring=`` to ``cross_val_score``, ``cross_validate`` and
    ``GridSearchCV``. scikit-learn's ``scoring="..."`` strings name only its
    own scorers: pass the object (``scoring=neg_nll_scorer``) or
    ``get_scorer("neg_nll")`` from this module.

    The predictive distribution is obtained through
    :func:`skprob.pipeline.predict_dist`, which looks through pipelines, fitted
    searches, ``TransformedTargetRegressor`` and ``MultiOutputRegressor``;
    classifiers are scored from ``predict_proba`` so that any probabilistic
    classifier works. For a ``MultiOutputRegressor`` (``y`` of shape
    ``(n_samples, n_outputs)``, one distribution per output) the metric of
    each output is combined as ``multioutput`` says.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, dist, sample_weight=None, **kwargs)``, lower is better
        unless ``greater_is_better``.
    name : str
        Name used in ``repr`` and by :func:`get_scorer`.
    greater_is_better : bool, default=False
        Whether higher metric values are better; if False the score is the
        negated metric.
    multioutput : {"uniform_average", "sum"}, default="uniform_average"
        How the metrics of several outputs combine: their mean (scikit-learn's
        convention for multi-output regression scores), or their sum (for the
        NLL: the NLL of the joint distribution of independent outputs, which
        is what a ``MultiOutputRegressor`` models).
    **kwargs : dict
        Extra keyword arguments of the metric.
    """

    def __init__(self, metric, name, greater_is_better=False, multioutput="uniform_average",
                 **kwargs):
        if multioutput not in ("uniform_average", "sum"):
            raise ValueError(
                f"multioutput must be 'uniform_average' or 'sum', got {multioutput!r}."
            )
        self.metric = metric
        self.name = name
        self.greater_is_better = greater_is_better
        self.multioutput = multioutput
        self.kwargs = kwargs

    def __repr__(self):
        return f"DistributionScorer({self.name})"

    def __call__(self, estimator, X, y, sample_weight=None):
        """Score a fitted estimator on ``(X, y)``; greater is better.

        Parameters
        ----------
        estimator : estimator
            Fitted skprob estimator, a pipeline, search or other meta-estimator
            around one (see :func:`skprob.pipeline.predict_dist`), or any
            classifier with ``predict_proba``.
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True targets; one column per output for a ``MultiOutputRegressor``.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
        """
        from sklearn.base import is_classifier

        from skprob.pipeline import predict_dist

        if is_classifier(estimator) and hasattr(estimator, "predict_proba"):
            dist = Categorical(estimator.predict_proba(X), classes=estimator.classes_)
        else:
            dist = predict_dist(estimator, X)
        value = self._metric(y, dist, sample_weight)
        return float(value if self.greater_is_better else -value)

    def _metric(self, y, dist, sample_weight):
        if not isinstance(dist, list):
            return self.metric(y, dist, sample_weight=sample_weight, **self.kwargs)
        y = np.asarray(y)
        if y.ndim != 2 or y.shape[1] != len(dist):
            raise ValueError(
                f"The estimator predicts {len(dist)} outputs, so y must have shape "
                f"(n_samples, {len(dist)}); got shape {y.shape}."
            )
        values = [self.metric(y[:, j], output, sample_weight=sample_weight, **self.kwargs)
                  for j, output in enumerate(dist)]
        return np.sum(values) if self.multioutput == "sum" else np.mean(values)


def _nll_consistent_with_log_loss(y_true, dist, sample_weight=None):
    if isinstance(dist, Categorical):
        # Same clipping as scikit-learn's log_loss, so neg_nll == neg_log_loss.
        from sklearn.metrics import log_loss

        return log_loss(y_true, dist.probs, sample_weight=sample_weight, labels=dist.classes)
    return negative_log_likelihood(y_true, dist, sample_weight=sample_weight)


def _coverage_error(y_true, dist, confidence=0.9, sample_weight=None):
    # The mean over the outputs of a multivariate distribution.
    gap = np.abs(interval_coverage(y_true, dist, confidence, sample_weight) - confidence)
    return float(np.mean(gap))


neg_nll_scorer = DistributionScorer(_nll_consistent_with_log_loss, "neg_nll", multioutput="sum")
neg_crps_scorer = DistributionScorer(crps, "neg_crps")
neg_energy_score_scorer = DistributionScorer(energy_score, "neg_energy_score")


def make_coverage_scorer(confidence=0.9):
    """Scorer of the negated gap between interval coverage and its nominal level.

    Parameters
    ----------
    confidence : float, default=0.9
        Nominal level of the central intervals.

    Returns
    -------
    scorer : DistributionScorer
        ``-|coverage - confidence|``; 0 is perfect.
    """
    return DistributionScorer(
        _coverage_error, f"neg_coverage_error_{confidence:g}", confidence=confidence
    )


_SCORERS = {
    "neg_nll": neg_nll_scorer,
    "neg_crps": neg_crps_scorer,
    "neg_energy_score": neg_energy_score_scorer,
    "neg_coverage_error": make_coverage_scorer(0.9),
}


def get_scorer(scoring):
    """Scorer from a name: skprob's distribution scorers, else scikit-learn's.

    scikit-learn's ``scoring="..."`` strings (in ``cross_val_score``,
    ``GridSearchCV`` and the like) know only scikit-learn's own scorers, and it
    has no public way to add names, so ``scoring="neg_nll"`` fails there with
    scikit-learn's list of names. Pass ``scoring=get_scorer("neg_nll")``, or the
    object :data:`neg_nll_scorer` itself.

    Parameters
    ----------
    scoring : str or callable
        ``"neg_nll"``, ``"neg_crps"``, ``"neg_energy_score"``,
        ``"neg_coverage_error"`` (90% intervals, averaged over the outputs of a
        vector target), any name :func:`sklearn.metrics.get_scorer` knows, or a
        callable (returned unchanged).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``, greater is better.

    Raises
    ------
    ValueError
        For a name that neither skprob nor scikit-learn knows.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from skprob import MixtureDensityRegressor
    >>> from skprob.datasets import make_bimodal
    >>> from skprob.metrics import get_scorer
    >>> get_scorer("neg_nll")
    DistributionScorer(neg_nll)
    >>> X, y = make_bimodal(200, random_state=0)
    >>> scores = cross_val_score(MixtureDensityRegressor(max_iter=2), X, y, cv=2,
    ...                          scoring=get_scorer("neg_nll"))
    >>> scores.shape
    (2,)
    """
    if callable(scoring):
        return scoring
    if scoring in _SCORERS:
        return _SCORERS[scoring]
    from sklearn.metrics import get_scorer as sklearn_get_scorer
    from sklearn.metrics import get_scorer_names

    if scoring not in get_scorer_names():
        raise ValueError(
            f"{scoring!r} is not a scorer name of skprob ({', '.join(sorted(_SCORERS))}) "
            "or of scikit-learn (sklearn.metrics.get_scorer_names())."
        )
    return sklearn_get_scorer(scoring)
