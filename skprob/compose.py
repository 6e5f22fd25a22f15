"""Fit a probabilistic regressor on a transformed target and predict in the user's units."""

from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d

from skprob._scale_calibration import tail_guard_off
from skprob._state import all_or_nothing
from skprob.distributions import MonotoneTransform, TransformedDistribution
from skprob.distributions._transformed import TRANSFORMS
from skprob.pipeline import final_estimator_call, predict_dist

__all__ = ["TransformedTargetRegressor"]


class TransformedTargetRegressor(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Train on ``z = transform(y)`` and return predictive distributions of y itself.

    scikit-learn's ``TransformedTargetRegressor`` maps point predictions back
    through the inverse function, which turns a predicted mean of log(y) into
    a median of y and loses the distribution. Here the model's predictive
    distribution of z becomes a :class:`TransformedDistribution` of y: the
    density carries the Jacobian, quantiles and intervals map exactly through
    the increasing transform, and :meth:`predict` returns the mean of y (not
    ``exp`` of the mean of log y). The regressor's tail guard
    (``tail_weight``) is left out of the distribution of z: a component ten
    times as wide in log space would dominate the mean and variance of y.

    Parameters
    ----------
    regressor : estimator
        A skprob regressor with ``predict_dist`` (or a pipeline ending in one).
    transform : {"log", "log10", "log1p"} or MonotoneTransform, default="log"
        The increasing map from y to the space the regressor is trained in.

    Attributes
    ----------
    regressor_ : estimator
        The fitted clone of ``regressor``, trained on transformed targets.
    transform_ : MonotoneTransform
        The transform in use.
    n_features_in_ : int
        Number of features seen during fit (when the regressor records it).

    Examples
    --------
    >>> import numpy as np
    >>> from skprob import MixtureDensityRegressor
    >>> from skprob.compose import TransformedTargetRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(0, 1, size=(300, 1))
    >>> y = np.exp(2 * X[:, 0] + 0.3 * rng.normal(size=300))
    >>> model = TransformedTargetRegressor(MixtureDensityRegressor(max_iter=5, random_state=0))
    >>> bool(model.fit(X, y).predict_dist(X[:3]).ppf(0.01).min() > 0)
    True
    """

    _parameter_constraints: dict = {
        "regressor": [HasMethods(["fit", "predict_dist"])],
        "transform": [StrOptions(set(TRANSFORMS)), MonotoneTransform],
    }

    def __init__(self, regressor, transform="log"):
        self.regressor = regressor
        self.transform = transform

    @all_or_nothing
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the regressor on transformed targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Targets inside the transform's domain (positive for "log").
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the regressor's ``fit``.

        Returns
        -------
        self : TransformedTargetRegressor
        """
        self.transform_ = TRANSFORMS[self.transform] if isinstance(self.transform, str) \
            else self.transform
        z = self.transform_.forward(self.transform_.check(column_or_1d(y)))
        fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
        self.regressor_ = clone(self.regressor).fit(X, z, **fit_params)
        if hasattr(self.regressor_, "n_features_in_"):
            self.n_features_in_ = self.regressor_.n_features_in_
        return self

    def predict_dist(self, X):
        """Predictive distribution of y (not of the transformed target).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        dist : TransformedDistribution
        """
        check_is_fitted(self)
        # Without the regressor's tail guard: ten times its spread in log
        # space has a mean exp(49.5 sd**2) times the guarded one's in y's units.
        with tail_guard_off():
            dist = predict_dist(self.regressor_, X)
        return TransformedDistribution(dist, self.transform_)

    def predict(self, X, return_std=False):
        """Predictive mean (and standard deviation) of y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        return_std : bool, default=False
            Also return the predictive standard deviation of y.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,)
        y_std : ndarray of shape (n_samples,)
            Only when ``return_std`` is True.
        """
        dist = self.predict_dist(X)
        return (dist.mean(), dist.std()) if return_std else dist.mean()

    def sample_posterior(self, X, n_samples=1, random_state=None):
        """Draws of y from the posterior predictive distribution.

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
        y_samples : ndarray of shape (n_samples_X, n_samples)
        """
        check_is_fitted(self)
        with tail_guard_off():  # as in predict_dist
            draws = final_estimator_call(self.regressor_, "sample_posterior", X,
                                         n_samples=n_samples, random_state=random_state)
        return self.transform_.inverse(draws)
