"""Post-hoc recalibration of predictive distributions.

:class:`CalibratedRegressorCV` is the regression counterpart of
:class:`sklearn.calibration.CalibratedClassifierCV`: it fits a strictly
increasing map ``R`` of [0, 1] to PIT values of held-out rows and predicts
the recalibrated distributions with cdf ``R(F(y | x))`` and density
``R'(F(y | x)) f(y | x)`` (Kuleshov et al. 2018), so NLL and CRPS stay
computable. For classifiers, scikit-learn's own ``CalibratedClassifierCV``
works with every skprob classifier (see the user guide).
"""

import numbers
from inspect import signature

import numpy as np
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    RegressorMixin,
    _fit_context,
    clone,
    is_classifier,
)
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d

from skprob._state import all_or_nothing
from skprob.distributions import CalibrationMap, RecalibratedDistribution
from skprob.distributions._calibration_map import METHODS
from skprob.model_selection import cross_val_predict_dist
from skprob.pipeline import predict_dist

__all__ = ["CalibratedRegressorCV"]


def _unfrozen(estimator):
    """The estimator inside a ``FrozenEstimator`` (which hides pipelines' steps)."""
    return estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator


class CalibratedRegressorCV(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Recalibrate a probabilistic regressor on cross-fitted PIT values.

    ``fit`` computes the PIT values ``F(y_i | x_i)`` of every training row
    under a model that did not see it (``cv`` folds, by
    :func:`skprob.model_selection.cross_val_predict_dist`), fits a smooth
    strictly increasing map ``R`` that makes them uniform
    (:meth:`CalibrationMap.from_pit <skprob.distributions.CalibrationMap.from_pit>`),
    and refits ``estimator`` on all rows. :meth:`predict_dist` returns that
    final model's distributions recalibrated by ``R``: a
    :class:`~skprob.distributions.RecalibratedDistribution` with the full
    distribution API and a proper density.

    For a model that is already fitted, wrap it in
    :class:`sklearn.frozen.FrozenEstimator` and pass held-out calibration
    data to ``fit``: the model is used as is and ``R`` is fitted on the PIT
    values of those rows (split calibration, the replacement of the
    deprecated ``cv="prefit"`` in scikit-learn >= 1.6).

    Parameters
    ----------
    estimator : estimator
        A skprob regressor with ``predict_dist``, a pipeline ending in one, a
        :class:`skprob.compose.TransformedTargetRegressor`, a regression
        :class:`skprob.PriorReweighter`, or any of these inside a
        ``FrozenEstimator``.
    method : {"isotonic", "conformal"}, default="isotonic"
        "isotonic": Kuleshov et al. (2018), the empirical cdf of the PIT
        values smoothed into a monotone C1 map (best NLL). "conformal": a
        conformal predictive system (Vovk et al. 2017) through every PIT
        value, with a finite-sample guarantee (Notes).
    cv : int, cross-validation generator or iterable, default=5
        Folds of the cross-fitted PIT values, as in
        :func:`sklearn.model_selection.cross_val_predict`; ignored for a
        ``FrozenEstimator``.
    n_knots : "auto" or int, default="auto"
        Interior knots of the "isotonic" map ("auto": ``2 n^(1/3)``, at most
        50).
    n_jobs : int, default=None
        Number of folds fitted in parallel.

    Attributes
    ----------
    estimator_ : estimator
        The final model: ``estimator`` refitted on all rows, or the frozen
        estimator itself.
    calibration_map_ : CalibrationMap
        The fitted map ``R``.
    pit_ : ndarray of shape (n_samples,)
        The held-out PIT values ``R`` was fitted on (before recalibration).
    n_features_in_ : int
        Number of features seen during fit (when the model records it).
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit (when the model records them).

    See Also
    --------
    sklearn.calibration.CalibratedClassifierCV : The classifier counterpart;
        it works with skprob classifiers as they are.
    skprob.model_selection.cross_val_predict_dist : The out-of-fold distributions.

    Notes
    -----
    The final model is refitted on all rows, like ``CalibratedClassifierCV``
    with ``ensemble=False``: one network to predict with, trained on all the
    data; ``R`` learned from the fold models describes its miscalibration
    (a model trained on ``(k - 1) / k`` of the rows is slightly less sharp,
    so ``R`` is slightly conservative).

    Guarantee of "conformal": with a ``FrozenEstimator`` and calibration
    rows it was not trained on, exchangeable with the test row, every
    central interval ``dist.interval(c)`` covers the test target with
    probability within ``2 / (n + 1)`` of ``c`` (``n`` calibration rows,
    continuous PIT values), and the PIT of the recalibrated distribution is
    uniform to within ``1 / (n + 1)`` at every level. With cross-fitted PIT
    values the guarantee is that of cross-conformal prediction (approximate).

    References
    ----------
    .. [1] V. Kuleshov, N. Fenner and S. Ermon, "Accurate Uncertainties for
       Deep Learning Using Calibrated Regression", ICML 2018.
    .. [2] V. Vovk, J. Shen, V. Manokhin and M. Xie, "Nonparametric
       predictive distributions based on conformal prediction", COPA 2017.

    Examples
    --------
    >>> from skprob import MixtureDensityRegressor
    >>> from skprob.calibration import CalibratedRegressorCV
    >>> from skprob.datasets import make_heteroscedastic
    >>> X, y = make_heteroscedastic(300, random_state=0)
    >>> model = CalibratedRegressorCV(
    ...     MixtureDensityRegressor(n_components=2, max_iter=5, random_state=0), cv=3
    ... ).fit(X, y)
    >>> lower, upper = model.predict_dist(X[:2]).interval(0.9)
    >>> bool((lower < upper).all())
    True
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"])],
        "method": [StrOptions(set(METHODS))],
        "cv": ["cv_object"],
        "n_knots": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "n_jobs": [numbers.Integral, None],
    }

    def __init__(self, estimator, *, method="isotonic", cv=5, n_knots="auto", n_jobs=None):
        self.estimator = estimator
        self.method = method
        self.cv = cv
        self.n_knots = n_knots
        self.n_jobs = n_jobs

    @all_or_nothing
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the calibration map on held-out PIT values and the final model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs (calibration inputs for a ``FrozenEstimator``).
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the model's ``fit`` when it accepts it, and weights the
            PIT values of the "isotonic" map.
        **fit_params : dict
            Further parameters of the model's ``fit``.

        Returns
        -------
        self : CalibratedRegressorCV
        """
        if is_classifier(self.estimator):
            raise ValueError(
                "CalibratedRegressorCV recalibrates regressors; for classifiers use "
                "sklearn.calibration.CalibratedClassifierCV."
            )
        y = column_or_1d(y, warn=True)
        if sample_weight is not None and "sample_weight" in signature(
                _unfrozen(self.estimator).fit).parameters:
            fit_params = {**fit_params, "sample_weight": sample_weight}
        if isinstance(self.estimator, FrozenEstimator):
            check_is_fitted(self.estimator.estimator)
            estimator = self.estimator
            dist = predict_dist(_unfrozen(estimator), X)
        else:
            dist = cross_val_predict_dist(self.estimator, X, y, cv=self.cv, n_jobs=self.n_jobs,
                                          params=fit_params)
            estimator = clone(self.estimator).fit(X, y, **fit_params)
        pit = dist.cdf(np.asarray(y, dtype=np.float64))
        calibration_map = CalibrationMap.from_pit(
            pit, self.method, n_knots=self.n_knots,
            sample_weight=None if self.method == "conformal" else sample_weight,
        )
        # Attributes are set only once everything succeeded.
        self.estimator_, self.calibration_map_, self.pit_ = estimator, calibration_map, pit
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(_unfrozen(estimator), name):
                setattr(self, name, getattr(_unfrozen(estimator), name))
        return self

    def predict_dist(self, X):
        """Recalibrated predictive distributions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        dist : RecalibratedDistribution
            The final model's distributions with cdf ``R(F(y | x))``.
        """
        check_is_fitted(self)
        return RecalibratedDistribution(predict_dist(_unfrozen(self.estimator_), X),
                                        self.calibration_map_)

    def predict(self, X, return_std=False):
        """Mean (and standard deviation) of the recalibrated distributions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        return_std : bool, default=False
            Also return the standard deviations.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,)
        y_std : ndarray of shape (n_samples,)
            Only when ``return_std`` is True.
        """
        dist = self.predict_dist(X)
        return (dist.mean(), dist.std()) if return_std else dist.mean()

    def sample_posterior(self, X, n_samples=1, random_state=None):
        """Draws from the recalibrated predictive distributions.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
            Input samples.
        n_samples : int, default=1
            Number of draws per row.
        random_state : int, RandomState instance, Generator or None, default=None
            Seed of the draws.

        Returns
        -------
        y_samples : ndarray of shape (n_samples_X, n_samples)
        """
        return self.predict_dist(X).sample(n_samples, random_state=random_state)

    def __sklearn_tags__(self):
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        inner = get_tags(_unfrozen(self.estimator))
        tags.input_tags = inner.input_tags
        tags.target_tags.required = True
        return tags
