"""Reach skprob's distribution methods through scikit-learn's meta-estimators.

``sklearn.pipeline.Pipeline`` forwards only the methods it knows, so
``predict_dist`` disappears behind it, and behind a fitted ``GridSearchCV``,
``sklearn.compose.TransformedTargetRegressor`` or ``MultiOutputRegressor``.
Two ways through:

- :class:`Pipeline` / :func:`make_pipeline`: a ``Pipeline`` subclass that also
  exposes ``predict_dist``, ``sample_posterior`` and ``predict_uncertainty``
  when (and only when) its final step has them;
- :func:`predict_dist` and :func:`final_estimator_call`: functions that look
  through pipelines, fitted searches, ``TransformedTargetRegressor`` and
  ``MultiOutputRegressor`` to the skprob estimator inside. The scorers in
  :mod:`skprob.metrics` use them.
"""

import contextlib

import numpy as np
from sklearn import compose as sk_compose
from sklearn import pipeline as sk_pipeline
from sklearn import preprocessing
from sklearn.model_selection._search import BaseSearchCV
from sklearn.multioutput import MultiOutputRegressor
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from skprob._scale_calibration import tail_guard_off
from skprob.distributions import TransformedDistribution
from skprob.distributions._transformed import TRANSFORMS

__all__ = ["Pipeline", "make_pipeline", "predict_dist", "final_estimator_call"]

# Target transformers of sklearn.compose.TransformedTargetRegressor whose
# inverse_transform is y = shift + scale * z, so the predictive distribution of
# z maps to that of y exactly.
_AFFINE_TRANSFORMERS = (
    preprocessing.StandardScaler,
    preprocessing.MinMaxScaler,
    preprocessing.MaxAbsScaler,
    preprocessing.RobustScaler,
)
# Functions (FunctionTransformer's func) with a skprob MonotoneTransform.
_MONOTONE_FUNCS = {np.log: "log", np.log10: "log10", np.log1p: "log1p"}


def _search_best_estimator(search):
    check_is_fitted(search)
    if not hasattr(search, "best_estimator_"):
        raise AttributeError(
            f"This {type(search).__name__} was fitted with refit=False, so it holds no "
            "fitted estimator to predict with; fit it with refit=True (the default), or "
            "with refit='<name>' for a dict of scorers."
        )
    return search.best_estimator_


def _has_method(estimator, method):
    """Whether :func:`final_estimator_call` can reach ``method`` of ``estimator``."""
    if isinstance(estimator, sk_pipeline.Pipeline):
        return _has_method(estimator._final_estimator, method)
    if isinstance(estimator, BaseSearchCV):
        return _has_method(getattr(estimator, "best_estimator_", estimator.estimator), method)
    if isinstance(estimator, MultiOutputRegressor):
        return _has_method(estimator.estimator, method)
    if isinstance(estimator, sk_compose.TransformedTargetRegressor):
        regressor = getattr(estimator, "regressor_", estimator.regressor)
        return method in ("predict_dist", "sample_posterior") and _has_method(regressor, method)
    return hasattr(estimator, method)


def _not_exact(transformer):
    return TypeError(
        "sklearn.compose.TransformedTargetRegressor maps only point predictions back to y; "
        f"its target transformer {transformer!r} is not a map whose change of variables "
        "skprob knows exactly (StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler, "
        "or func=np.log / np.log10 / np.log1p with its inverse), so there is no exact "
        "predictive distribution of y. Use skprob.compose.TransformedTargetRegressor, "
        "which transforms the distribution with its Jacobian, or one of those transformers."
    )


def _is_affine(transformer):
    return isinstance(transformer, _AFFINE_TRANSFORMERS) or (
        isinstance(transformer, preprocessing.FunctionTransformer)
        and transformer.func is None and transformer.inverse_func is None
    )


def _target_map(transformer):
    """How the distribution of z = transformer(y) maps to y: a callable dist_z -> dist_y."""
    if _is_affine(transformer):
        if getattr(transformer, "n_features_in_", 1) != 1:
            raise _not_exact(transformer)
        # inverse_transform is exactly y = shift + scale * z for these transformers.
        shift, end = transformer.inverse_transform(np.array([[0.0], [1.0]]))[:, 0]
        return lambda dist: dist.affine(shift, end - shift)
    if (
        isinstance(transformer, preprocessing.FunctionTransformer)
        and transformer.func in _MONOTONE_FUNCS
        and not transformer.kw_args and not transformer.inv_kw_args
    ):
        transform = TRANSFORMS[_MONOTONE_FUNCS[transformer.func]]
        probe = np.array([[0.5], [1.0], [3.0]])
        if np.allclose(transformer.inverse_transform(transformer.transform(probe)), probe):
            return lambda dist: TransformedDistribution(dist, transform)
    raise _not_exact(transformer)


def _transformed_target_call(estimator, method, X, **kwargs):
    """``method`` of a fitted sklearn.compose.TransformedTargetRegressor, in y's units."""
    check_is_fitted(estimator)
    transformer = estimator.transformer_
    # Through a non-affine inverse (exp) the regressor's tail guard would
    # dominate y's moments: left out, as skprob.compose.TransformedTargetRegressor does.
    tails = contextlib.nullcontext() if _is_affine(transformer) else tail_guard_off()
    if method == "predict_dist":
        to_y = _target_map(transformer)
        with tails:
            dist = final_estimator_call(estimator.regressor_, method, X, **kwargs)
        return to_y(dist)
    if method == "sample_posterior":
        # Draws of z map to draws of y through any inverse, exact or not.
        with tails:
            draws = final_estimator_call(estimator.regressor_, method, X, **kwargs)
        return transformer.inverse_transform(draws.reshape(-1, 1)).reshape(draws.shape)
    raise TypeError(
        f"{method} of the regressor inside sklearn.compose.TransformedTargetRegressor is in "
        "the units of the transformed target; use skprob.compose.TransformedTargetRegressor, "
        "or call it on the fitted regressor_ directly."
    )


def final_estimator_call(estimator, method, X, **kwargs):
    """Call ``method`` of the skprob estimator inside a fitted (meta-)estimator.

    Looks through, recursively:

    - a :class:`sklearn.pipeline.Pipeline`: X is transformed by all steps but
      the last, whose method is then called;
    - a fitted search (``GridSearchCV``, ``RandomizedSearchCV``,
      ``HalvingGridSearchCV``, ``HalvingRandomSearchCV``): its
      ``best_estimator_``;
    - a :class:`sklearn.multioutput.MultiOutputRegressor`: the method of each
      output's estimator, returned as a list with one result per output;
    - a :class:`sklearn.compose.TransformedTargetRegressor`: ``predict_dist``
      is mapped back to the units of y exactly — for an affine target
      transformer (``StandardScaler``, ``MinMaxScaler``, ``MaxAbsScaler``,
      ``RobustScaler``, identity) by the distribution's ``affine``,
      for ``func=np.log``, ``np.log10`` or ``np.log1p`` (with its inverse) as a
      :class:`~skprob.distributions.TransformedDistribution` — and any other
      transformer raises ``TypeError``; ``sample_posterior`` draws of the
      transformed target go through ``inverse_transform``.

    Any other estimator's ``method`` is called directly.

    Parameters
    ----------
    estimator : estimator
        A fitted estimator, pipeline or meta-estimator (see above).
    method : str
        Name of the final estimator's method, e.g. ``"predict_dist"``.
    X : array-like of shape (n_samples, n_features)
        Input of the whole estimator.
    **kwargs : dict
        Passed on to the method.

    Returns
    -------
    result : object or list
        What the final estimator's method returns; a list of those, one per
        output, for a ``MultiOutputRegressor``.

    Raises
    ------
    TypeError
        For a ``TransformedTargetRegressor`` whose transformer has no exact
        change of variables (use :class:`skprob.compose.TransformedTargetRegressor`).
    """
    if isinstance(estimator, sk_pipeline.Pipeline):
        for _, _, transformer in estimator._iter(with_final=False):
            X = transformer.transform(X)
        return final_estimator_call(estimator._final_estimator, method, X, **kwargs)
    if isinstance(estimator, BaseSearchCV):
        return final_estimator_call(_search_best_estimator(estimator), method, X, **kwargs)
    if isinstance(estimator, MultiOutputRegressor):
        check_is_fitted(estimator)
        return [final_estimator_call(output, method, X, **kwargs)
                for output in estimator.estimators_]
    if isinstance(estimator, sk_compose.TransformedTargetRegressor):
        return _transformed_target_call(estimator, method, X, **kwargs)
    return getattr(estimator, method)(X, **kwargs)


def predict_dist(estimator, X):
    """Predictive distribution of a fitted estimator, pipeline or meta-estimator.

    Looks through pipelines, fitted searches, scikit-learn's
    ``TransformedTargetRegressor`` and ``MultiOutputRegressor`` as
    :func:`final_estimator_call` describes.

    Parameters
    ----------
    estimator : estimator
        A fitted skprob estimator, or a pipeline, search or other
        meta-estimator around one.
    X : array-like of shape (n_samples, n_features)
        Input samples.

    Returns
    -------
    dist : skprob distribution or list of distributions
        One row per row of ``X``; for a ``MultiOutputRegressor``, a list with
        one distribution per output.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skprob import MixtureDensityRegressor
    >>> from skprob.datasets import make_bimodal
    >>> from skprob.metrics import neg_nll_scorer
    >>> from skprob.pipeline import predict_dist
    >>> X, y = make_bimodal(200, random_state=0)
    >>> pipe = make_pipeline(StandardScaler(), MixtureDensityRegressor(max_iter=2)).fit(X, y)
    >>> len(predict_dist(pipe, X[:5]))
    5
    >>> search = GridSearchCV(pipe, {"mixturedensityregressor__n_components": [1, 2]},
    ...                       scoring=neg_nll_scorer, cv=2).fit(X, y)
    >>> len(predict_dist(search, X[:5]))
    5
    """
    return final_estimator_call(estimator, "predict_dist", X)


def _final_step_has(attr):
    def check(self):
        return _has_method(self._final_estimator, attr)

    return check


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
