"""Out-of-fold predictive distributions.

:func:`sklearn.model_selection.cross_val_predict` returns arrays and refuses
``method="predict_dist"``; :func:`cross_val_predict_dist` is its counterpart
for distributions: every row's predictive distribution comes from a model
fitted without that row, joined into one batch in the original row order.
"""

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing, indexable
from sklearn.utils.validation import _num_samples

from skprob.distributions import Categorical, concatenate
from skprob.pipeline import predict_dist

__all__ = ["cross_val_predict_dist"]


def _is_per_sample(value, n_samples):
    if isinstance(value, str):
        return False
    try:
        return _num_samples(value) == n_samples
    except TypeError:
        return False


def _fit_params_for(params, train, n_samples):
    """Rows ``train`` of every per-sample fit parameter; others are passed as they are."""
    return {
        key: _safe_indexing(np.asarray(value) if hasattr(value, "__array__") else value, train)
        if _is_per_sample(value, n_samples) else value
        for key, value in params.items()
    }


def _classifier_dist(estimator, X, classes):
    """The predicted Categorical over ``classes`` (absent classes get probability 0)."""
    if hasattr(estimator, "predict_dist"):
        dist = predict_dist(estimator, X)
        probs, fold_classes = dist.probs, dist.classes
    else:
        probs, fold_classes = estimator.predict_proba(X), estimator.classes_
    if np.array_equal(fold_classes, classes):
        return Categorical(probs, classes=classes)
    full = np.zeros((probs.shape[0], classes.shape[0]))
    full[:, np.searchsorted(classes, fold_classes)] = probs
    return Categorical(full, classes=classes)


def _fit_and_predict_dist(estimator, X, y, train, test, params, classes):
    X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
    estimator.fit(X_train, y_train, **_fit_params_for(params, train, _num_samples(X)))
    X_test = _safe_indexing(X, test)
    if classes is not None:
        return _classifier_dist(estimator, X_test, classes)
    return predict_dist(estimator, X_test)


def cross_val_predict_dist(
    estimator, X, y, *, groups=None, cv=5, n_jobs=None, verbose=0, params=None,
    pre_dispatch="2*n_jobs",
):
    """Out-of-fold predictive distributions, one batch in the original row order.

    Each row's distribution is predicted by a clone of ``estimator`` fitted
    on the other folds, as in :func:`sklearn.model_selection.cross_val_predict`;
    the folds' batches are joined by
    :func:`skprob.distributions.concatenate` and put back in the order of X.

    Parameters
    ----------
    estimator : estimator
        A skprob regressor or classifier, a pipeline ending in one (reached
        through :func:`skprob.pipeline.predict_dist`), or any classifier with
        ``predict_proba``.
    X : array-like of shape (n_samples, n_features)
        Inputs.
    y : array-like of shape (n_samples,)
        Targets.
    groups : array-like of shape (n_samples,), default=None
        Group labels for a group splitter such as ``GroupKFold``.
    cv : int, cross-validation generator or iterable, default=5
        As in :func:`sklearn.model_selection.cross_val_predict`: an int is the
        number of folds of ``KFold`` (``StratifiedKFold`` for classifiers);
        the test sets must partition the rows.
    n_jobs : int, default=None
        Number of folds fitted in parallel (joblib).
    verbose : int, default=0
        Verbosity of joblib.
    params : dict, default=None
        Parameters of the estimator's ``fit``; arrays of length
        ``n_samples`` (e.g. ``sample_weight``) are restricted to each
        training fold.
    pre_dispatch : int or str, default="2*n_jobs"
        As in :class:`joblib.Parallel`.

    Returns
    -------
    dist : distribution of length n_samples
        Row ``i`` is the prediction for ``X[i]`` by the model that did not
        see it. Classifiers give a :class:`~skprob.distributions.Categorical`
        over all classes of ``y`` (a class absent from a training fold gets
        probability 0 in that fold, as in scikit-learn); Gaussian mixtures of
        different sizes are padded with zero-weight components.

    See Also
    --------
    skprob.distributions.concatenate : Joins the folds' distributions.
    skprob.calibration.CalibratedRegressorCV : Recalibrates on out-of-fold PIT values.

    Examples
    --------
    >>> from skprob import MixtureDensityRegressor
    >>> from skprob.datasets import make_bimodal
    >>> from skprob.metrics import negative_log_likelihood
    >>> from skprob.model_selection import cross_val_predict_dist
    >>> X, y = make_bimodal(300, random_state=0)
    >>> model = MixtureDensityRegressor(n_components=3, max_iter=5, random_state=0)
    >>> dist = cross_val_predict_dist(model, X, y, cv=3)
    >>> len(dist)
    300
    """
    X, y, groups = indexable(X, y, groups)
    params = {} if params is None else params
    classifier = is_classifier(estimator)
    cv = check_cv(cv, y, classifier=classifier)
    splits = list(cv.split(X, y, groups))
    test_indices = np.concatenate([test for _, test in splits])
    n_samples = _num_samples(X)
    if not np.array_equal(np.sort(test_indices), np.arange(n_samples)):
        raise ValueError("cross_val_predict_dist needs test folds that partition the rows.")
    classes = np.unique(np.asarray(y)) if classifier else None
    parallel = Parallel(n_jobs=n_jobs, verbose=verbose, pre_dispatch=pre_dispatch)
    parts = parallel(
        delayed(_fit_and_predict_dist)(clone(estimator), X, y, train, test, params, classes)
        for train, test in splits
    )
    order = np.empty(n_samples, dtype=np.intp)
    order[test_indices] = np.arange(n_samples)
    return concatenate(parts)[order]
