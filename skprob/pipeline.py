"""Reach skprob's distribution methods through scikit-learn pipelines.

``sklearn.pipeline.Pipeline`` forwards only the methods it knows, so
``predict_dist`` disappears behind it. Two ways through:

- :class:`Pipeline` / :func:`make_pipeline`: a ``Pipeline`` subclass that also
  exposes ``predict_dist``, ``sample_posterior`` and ``predict_uncertainty``
  when (and only when) its final step has them;
- :func:`predict_dist`: a function that works on any estimator, including a
  plain scikit-learn ``Pipeline`` whose last step is a skprob estimator. The
  scorers in :mod:`skprob.metrics` use it.
"""

from sklearn import pipeline as sk_pipeline
from sklearn.utils.metaestimators import available_if

__all__ = ["Pipeline", "make_pipeline", "predict_dist", "final_estimator_call"]


def _final_step_has(attr):
    def check(self):
        getattr(self._final_estimator, attr)  # raises AttributeError when absent
        return True

    return check


def final_estimator_call(estimator, method, X, **kwargs):
    """Call ``method`` of a pipeline's final step on X transformed by the others.

    Parameters
    ----------
    estimator : estimator or sklearn.pipeline.Pipeline
        A fitted estimator, or a fitted pipeline (nested pipelines included).
    method : str
        Name of the final estimator's method, e.g. ``"predict_dist"``.
    X : array-like of shape (n_samples, n_features)
        Input of the whole pipeline.
    **kwargs : dict
        Passed on to the method.

    Returns
    -------
    result : object
        What the final estimator's method returns.
    """
    while isinstance(estimator, sk_pipeline.Pipeline):
        for _, _, transformer in estimator._iter(with_final=False):
            X = transformer.transform(X)
        estimator = estimator._final_estimator
    return getattr(estimator, method)(X, **kwargs)


def predict_dist(estimator, X):
    """Predictive distribution of a fitted estimator or pipeline.

    Parameters
    ----------
    estimator : estimator or sklearn.pipeline.Pipeline
        A fitted skprob estimator, or a pipeline ending in one.
    X : array-like of shape (n_samples, n_features)
        Input samples.

    Returns
    -------
    dist : skprob distribution
        One row per row of ``X``.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skprob import MixtureDensityRegressor
    >>> from skprob.datasets import make_bimodal
    >>> from skprob.pipeline import predict_dist
    >>> X, y = make_bimodal(200, random_state=0)
    >>> pipe = make_pipeline(StandardScaler(), MixtureDensityRegressor(max_iter=2)).fit(X, y)
    >>> len(predict_dist(pipe, X[:5]))
    5
    """
    return final_estimator_call(estimator, "predict_dist", X)


class Pipeline(sk_pipeline.Pipeline):
    """A scikit-learn ``Pipeline`` that also forwards skprob's distribution methods.

    Identical to :class:`sklearn.pipeline.Pipeline` (same parameters), plus
    :meth:`predict_dist`, :meth:`sample_posterior` and
    :meth:`predict_uncertainty`, available when the final step has them.

    Parameters
    ----------
    steps : list of tuple
        ``(name, estimator)`` pairs, the last one a skprob estimator.
    transform_input : list of str, default=None
        See :class:`sklearn.pipeline.Pipeline`.
    memory : str or object with the joblib.Memory interface, default=None
        See :class:`sklearn.pipeline.Pipeline`.
    verbose : bool, default=False
        See :class:`sklearn.pipeline.Pipeline`.

    See Also
    --------
    make_pipeline : build one without naming the steps.
    predict_dist : the same access for a plain scikit-learn pipeline.
    """

    @available_if(_final_step_has("predict_dist"))
    def predict_dist(self, X):
        """Transform X through the steps, then ``predict_dist`` of the final step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        dist : skprob distribution
        """
        return final_estimator_call(self, "predict_dist", X)

    @available_if(_final_step_has("sample_posterior"))
    def sample_posterior(self, X, n_samples=1, random_state=None):
        """Transform X through the steps, then ``sample_posterior`` of the final step.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
            Input samples.
        n_samples : int, default=1
            Number of draws per row.
        random_state : int, RandomState instance or None, default=None
            Seed of the draws.

        Returns
        -------
        samples : ndarray
            See the final estimator's ``sample_posterior``.
        """
        return final_estimator_call(
            self, "sample_posterior", X, n_samples=n_samples, random_state=random_state
        )

    @available_if(_final_step_has("predict_uncertainty"))
    def predict_uncertainty(self, X):
        """Transform X through the steps, then ``predict_uncertainty`` of the final step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        uncertainty : Uncertainty
        """
        return final_estimator_call(self, "predict_uncertainty", X)


def make_pipeline(*steps, memory=None, transform_input=None, verbose=False):
    """Build a :class:`Pipeline` from estimators, naming the steps automatically.

    Parameters
    ----------
    *steps : list of estimators
        Transformers followed by a final estimator.
    memory : str or object with the joblib.Memory interface, default=None
        See :func:`sklearn.pipeline.make_pipeline`.
    transform_input : list of str, default=None
        See :func:`sklearn.pipeline.make_pipeline`.
    verbose : bool, default=False
        See :func:`sklearn.pipeline.make_pipeline`.

    Returns
    -------
    pipeline : Pipeline

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skprob import MixtureDensityRegressor
    >>> from skprob.datasets import make_bimodal
    >>> from skprob.pipeline import make_pipeline
    >>> X, y = make_bimodal(200, random_state=0)
    >>> pipe = make_pipeline(StandardScaler(), MixtureDensityRegressor(max_iter=2)).fit(X, y)
    >>> pipe.sample_posterior(X[:5], n_samples=3, random_state=0).shape
    (5, 3)
    """
    return Pipeline(
        sk_pipeline._name_estimators(steps),
        memory=memory,
        transform_input=transform_input,
        verbose=verbose,
    )
