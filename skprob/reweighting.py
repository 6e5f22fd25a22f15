"""Move a model's predictive posterior from its training prior to a target prior."""

import numbers

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone, is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d

from skprob._scale_calibration import tail_guard_off
from skprob._state import all_or_nothing
from skprob.distributions import Categorical, GridDistribution
from skprob.pipeline import final_estimator_call, predict_dist

# Quantiles of the model's own predictive distribution that bound the grid of
# a reweighted regression posterior: the reweighted density is the model's
# density times a prior ratio, so it carries no mass where the model has none.
_GRID_TAIL = 1e-7
# Relative floor of the estimated training density, so that the prior ratio
# stays finite where the training sample is empty (there the model's density
# is negligible too).
_TRAIN_DENSITY_FLOOR = 1e-6


def _estimator_has(attr):
    def check(self):
        getattr(self.estimator_ if hasattr(self, "estimator_") else self.estimator, attr)
        return True

    return check


def _class_prior(prior, classes, name):
    """A prior over ``classes`` given as "uniform", an array or a {class: p} mapping."""
    if isinstance(prior, str):
        if prior == "uniform":
            return np.full(len(classes), 1.0 / len(classes))
        allowed = '"auto", "uniform"' if name == "train_prior" else '"uniform"'
        raise ValueError(
            f"{name} must be {allowed}, an array of class probabilities or a "
            f"{{class: probability}} dict for a classifier, got {prior!r}."
        )
    if isinstance(prior, dict):
        unknown = set(prior) - set(classes.tolist())
        missing = [c for c in classes.tolist() if c not in prior]
        if unknown or missing:
            raise ValueError(
                f"{name} must give a probability for exactly the classes {classes.tolist()}; "
                f"unknown: {sorted(map(str, unknown))}, missing: {missing}."
            )
        prior = [prior[c] for c in classes.tolist()]
    try:
        prior = np.asarray(prior, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be class probabilities (numbers) for a classifier, got {prior!r}."
        ) from exc
    if prior.shape != (len(classes),):
        raise ValueError(
            f"{name} must have one probability per class ({len(classes)}), got shape "
            f"{prior.shape}."
        )
    if not np.all(np.isfinite(prior)) or np.any(prior < 0) or not prior.sum() > 0:
        raise ValueError(f"{name} must be finite, non-negative and not all zero, got {prior}.")
    return prior / prior.sum()


def _density_function(prior, name):
    """A vectorised log-density from a frozen scipy.stats distribution or a callable density.

    Working in log space keeps the product of the model's density and the
    prior ratio from underflowing far in the tails, where the normalised
    reweighted posterior is still well defined.
    """
    if hasattr(prior, "logpdf") and hasattr(prior, "support"):
        return prior.logpdf
    if callable(prior):
        return lambda y: _log(prior(y), name)
    allowed = '"auto", ' if name == "train_prior" else ""
    raise ValueError(
        f"{name} must be {allowed}a frozen scipy.stats distribution or a callable density for "
        f"a regressor, got {prior!r}."
    )


def _log(density, name):
    density = np.asarray(density, dtype=np.float64)
    if not np.all(np.isfinite(density)) or np.any(density < 0):
        raise ValueError(f"{name} must return finite, non-negative densities.")
    with np.errstate(divide="ignore"):
        return np.log(density)


def _evaluate_log_density(prior, y, name):
    values = _density_function(prior, name)(y)
    values = np.broadcast_to(np.asarray(values, dtype=np.float64), y.shape)
    if np.any(np.isnan(values)) or np.any(values == np.inf):
        raise ValueError(f"{name} must return finite, non-negative densities.")
    return values


class _TabulatedDensity:
    """A density tabulated on a grid, interpolated linearly, floored at ``floor``.

    A class rather than a closure so that a fitted reweighter pickles.
    """

    def __init__(self, grid, density, floor):
        self.grid, self.density, self.floor = grid, density, floor

    def __call__(self, y):
        return np.maximum(np.interp(y, self.grid, self.density, left=0.0, right=0.0), self.floor)


class PriorReweighter(MetaEstimatorMixin, BaseEstimator):
    """Reweight any model's predictions from its training prior to a target prior.

    A model trained by negative log-likelihood recovers the posterior under
    the prior of its training set, p_train(y | x) ∝ p(x | y) p_train(y).
    For a target prior π the posterior is, exactly,

        p_π(y | x) ∝ p_train(y | x) · π(y) / p_train(y),

    because the likelihood p(x | y) does not depend on the prior. This
    meta-estimator fits (a clone of) ``estimator``, learns p_train(y) from the
    training targets, and returns reweighted predictions: class probabilities
    for a classifier, a :class:`GridDistribution` for a regressor. A skprob
    regressor's distribution enters without its tail guard (``tail_weight``):
    the ratio π / p_train grows where the training prior vanishes and would
    move the mass into that wide component.

    Parameters
    ----------
    estimator : estimator
        A classifier with ``predict_proba`` (any scikit-learn or skprob
        classifier) or a skprob regressor with ``predict_dist`` (or a pipeline
        ending in one).
    target_prior : "uniform", array-like, dict, frozen scipy.stats distribution or callable, \
            default="uniform"
        Classifiers: class probabilities in the order of ``classes_``, a
        ``{class: probability}`` mapping, or "uniform". Regressors: a frozen
        ``scipy.stats`` distribution of y or a callable density ``f(y)``
        (normalisation does not matter). For classifiers the target prior can
        also be estimated from unlabelled data with :meth:`fit_target_prior`.
    train_prior : "auto", array-like, dict, frozen scipy.stats distribution or callable, \
            default="auto"
        The prior of the training set. "auto" estimates it from the ``y``
        given to :meth:`fit`: (weighted) class frequencies, or for regression
        a density estimate chosen by ``density_estimator``.
    density_estimator : {"kde", "histogram"}, default="kde"
        How "auto" estimates a regression training prior: a Gaussian kernel
        density estimate (Scott's bandwidth) or a histogram (numpy's "auto"
        bins). The histogram's empty tail bins make the prior ratio explode
        there; prefer it only when the target prior's mass lies inside
        well-populated bins.
    n_grid : int, default=512
        Number of grid points of each reweighted regression posterior. The grid
        spans the model's predictive distribution from its ``1e-7`` to its
        ``1 - 1e-7`` quantile, cut to the target prior's support.
    prefit : bool, default=False
        If True, ``estimator`` is already fitted and used as is; :meth:`fit`
        then only learns the training prior from ``y``.

    Attributes
    ----------
    estimator_ : estimator
        The fitted model whose predictions are reweighted.
    classes_ : ndarray of shape (n_classes,)
        Class labels (classification only).
    train_prior_ : ndarray of shape (n_classes,) or callable
        Training prior: class probabilities, or a density of y.
    target_prior_ : ndarray of shape (n_classes,) or callable
        Target prior: class probabilities, or a density of y.
    n_features_in_ : int
        Number of features seen by the fitted model (when it records it).
    em_n_iter_ : int
        Iterations of the EM estimate of the target prior (after
        :meth:`fit_target_prior`).

    See Also
    --------
    skprob.distributions.GridDistribution : the regression output.

    Notes
    -----
    The estimated regression training density is floored at ``1e-6`` of its
    maximum, so that the prior ratio stays finite where the training sample
    is empty; there the model's own density is negligible.

    References
    ----------
    .. [1] M. Saerens, P. Latinne and C. Decaestecker, "Adjusting the Outputs of
       a Classifier to New a Priori Probabilities: A Simple Procedure", Neural
       Computation 14, 21-41, 2002.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skprob import PriorReweighter
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 1000)
    >>> X = (rng.normal(size=1000) + 2 * y - 1)[:, None]
    >>> model = PriorReweighter(LogisticRegression(), target_prior=[0.1, 0.9]).fit(X, y)
    >>> model.predict_proba([[0.0]]).round(1)
    array([[0.1, 0.9]])
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"])],
        "target_prior": "no_validation",  # checked in fit, where the task is known
        "train_prior": "no_validation",
        "density_estimator": [StrOptions({"kde", "histogram"})],
        "n_grid": [Interval(numbers.Integral, 16, None, closed="left")],
        "prefit": ["boolean"],
    }

    def __init__(
        self,
        estimator,
        target_prior="uniform",
        *,
        train_prior="auto",
        density_estimator="kde",
        n_grid=512,
        prefit=False,
    ):
        self.estimator = estimator
        self.target_prior = target_prior
        self.train_prior = train_prior
        self.density_estimator = density_estimator
        self.n_grid = n_grid
        self.prefit = prefit

    # ------------------------------------------------------------------- fit
    @all_or_nothing
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the model (unless ``prefit``) and learn the training prior from y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Training targets; their distribution is the training prior.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the model's ``fit`` and used in the prior estimate.

        Returns
        -------
        self : PriorReweighter
        """
        if self.prefit:
            check_is_fitted(self.estimator)
            self.estimator_ = self.estimator
        else:
            fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
            self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        y = column_or_1d(y)
        weights = _check_sample_weight(sample_weight, y, ensure_non_negative=True)
        if self._is_classification():
            self._fit_class_priors(y, weights)
        else:
            self._fit_densities(y, weights)
        return self

    def _is_classification(self):
        return is_classifier(self.estimator)

    def _fit_class_priors(self, y, weights):
        self.classes_ = np.asarray(self.estimator_.classes_)
        if isinstance(self.train_prior, str) and self.train_prior == "auto":
            counts = np.array([weights[y == c].sum() for c in self.classes_])
            if np.any(counts == 0):
                raise ValueError(
                    "train_prior='auto' needs every class in y; missing: "
                    f"{self.classes_[counts == 0].tolist()}."
                )
            self.train_prior_ = counts / counts.sum()
        else:
            self.train_prior_ = _class_prior(self.train_prior, self.classes_, "train_prior")
        if np.any(self.train_prior_ == 0):
            raise ValueError("train_prior must be positive for every class.")
        self.target_prior_ = _class_prior(self.target_prior, self.classes_, "target_prior")

    def _fit_densities(self, y, weights):
        y = np.asarray(y, dtype=np.float64)
        if isinstance(self.train_prior, str) and self.train_prior == "auto":
            self.train_prior_ = self._estimate_density(y, weights)
        else:
            self.train_prior_ = self.train_prior
        self.target_prior_ = self.target_prior
        # fail in fit, not at the first prediction
        _density_function(self.train_prior_, "train_prior")
        _density_function(self.target_prior_, "target_prior")

    def _estimate_density(self, y, weights):
        """Tabulate a density estimate of the training targets; return it as a callable."""
        if len(np.unique(y)) < 2:
            raise ValueError(
                f"train_prior='auto' needs at least 2 distinct targets to estimate a density; "
                f"got {len(y)} sample(s) with {len(np.unique(y))} distinct value(s)."
            )
        if self.density_estimator == "kde":
            kde = stats.gaussian_kde(y, weights=weights)
            pad = 4.0 * np.sqrt(kde.covariance[0, 0])
            grid = np.linspace(y.min() - pad, y.max() + pad, 2048)
            density = kde(grid)
        else:
            edges = np.histogram_bin_edges(y, bins="auto")  # numpy cannot size weighted bins
            density, edges = np.histogram(y, bins=edges, weights=weights, density=True)
            grid = np.repeat(edges, 2)[1:-1]  # piecewise constant, as a piecewise-linear table
            density = np.repeat(density, 2)
        return _TabulatedDensity(grid, density, _TRAIN_DENSITY_FLOOR * density.max())

    # ------------------------------------------------------------ prediction
    def _reweighted_probs(self, probs):
        probs = probs * (self.target_prior_ / self.train_prior_)
        total = probs.sum(axis=-1, keepdims=True)
        if np.any(total <= 0):
            raise ValueError(
                "target_prior is zero on every class the model gives probability to, for "
                f"{int(np.sum(total <= 0))} sample(s)."
            )
        return probs / total

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities under the target prior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self._reweighted_probs(self.estimator_.predict_proba(X))

    def predict_dist(self, X):
        """Predictive distribution under the target prior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        dist : Categorical or GridDistribution
            Reweighted class probabilities, or the reweighted density of y
            tabulated on ``n_grid`` points per row.
        """
        check_is_fitted(self)
        if self._is_classification():
            return Categorical(self.predict_proba(X), classes=self.classes_)
        # Without the model's tail guard (tail_weight): the prior ratio grows
        # where the training prior vanishes and would move the mass into a
        # component ten times as wide, and the grid would span it.
        with tail_guard_off():
            base = predict_dist(self.estimator_, X)
        lower, upper = base.ppf(_GRID_TAIL), base.ppf(1.0 - _GRID_TAIL)
        # Outside the training prior's support the model's density is an
        # extrapolation the data never informed (the true p_train(y | x) is zero
        # there): the grid stops at both priors' supports.
        for name, prior in (("target_prior", self.target_prior_),
                            ("train_prior", self.train_prior_)):
            if hasattr(prior, "support"):
                a, b = prior.support()
                lower, upper = np.maximum(lower, a), np.minimum(upper, b)
            empty = ~(lower < upper)
            if np.any(empty):
                raise ValueError(
                    f"{name} is zero wherever the model puts mass, for {int(empty.sum())} "
                    "sample(s)."
                )
        grid = lower[:, None] + (upper - lower)[:, None] * np.linspace(0.0, 1.0, self.n_grid)
        log_model = base.logpdf(grid)
        log_target = _evaluate_log_density(self.target_prior_, grid, "target_prior")
        log_train = _evaluate_log_density(self.train_prior_, grid, "train_prior")
        unbounded = (log_train == -np.inf) & (log_model > -np.inf) & (log_target > -np.inf)
        if np.any(unbounded):
            rows, cols = np.nonzero(unbounded)
            raise ValueError(
                f"train_prior is zero at {rows.size} grid point(s) where the model and "
                f"target_prior put mass (e.g. y={grid[rows[0], cols[0]]:.6g} for sample "
                f"{rows[0]}), so the prior ratio target_prior / train_prior is infinite "
                "there. Give a train_prior that is positive wherever the model predicts "
                "mass (train_prior='auto' floors its estimate)."
            )
        log_density = log_model + log_target - log_train
        peak = log_density.max(axis=1, keepdims=True)
        no_mass = ~np.isfinite(peak[:, 0])
        if np.any(no_mass):
            raise ValueError(
                f"target_prior is zero wherever the model puts mass, for {int(no_mass.sum())} "
                "sample(s)."
            )
        return GridDistribution(grid, np.exp(log_density - peak))

    def predict(self, X):
        """Point prediction under the target prior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The most probable class, or the mean of the reweighted posterior.
        """
        if self._is_classification():
            proba = self.predict_proba(X)
            return self.classes_[np.argmax(proba, axis=1)]
        return self.predict_dist(X).mean()

    def sample_posterior(self, X, n_samples=1, random_state=None):
        """Draws from the posterior under the target prior.

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
            Regressors: draws of y, shape (n_samples_X, n_samples).
            Classifiers: reweighted class-probability vectors of the model's
            posterior draws, shape (n_samples_X, n_samples, n_classes).
        """
        check_is_fitted(self)
        if self._is_classification():
            draws = final_estimator_call(
                self.estimator_, "sample_posterior", X, n_samples=n_samples,
                random_state=random_state,
            )
            return self._reweighted_probs(draws)
        return self.predict_dist(X).sample(n_samples, random_state=random_state)

    def score(self, X, y, sample_weight=None):
        """Accuracy (classification) or R² (regression) under the target prior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
        """
        metric = accuracy_score if self._is_classification() else r2_score
        return metric(y, self.predict(X), sample_weight=sample_weight)

    @available_if(_estimator_has("predict_proba"))
    @all_or_nothing
    def fit_target_prior(self, X, *, max_iter=1000, tol=1e-8):
        """Estimate unknown target class priors from unlabelled target data by EM.

        Iterates Saerens et al. (2002): reweight the model's probabilities with
        the current prior estimate, then set the prior to their mean, until the
        estimate moves by less than ``tol``. Sets ``target_prior_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Unlabelled inputs drawn under the target prior.
        max_iter : int, default=1000
            Maximum number of EM iterations.
        tol : float, default=1e-8
            Stop when no class probability changes by more than this.

        Returns
        -------
        self : PriorReweighter
        """
        check_is_fitted(self)
        probs = self.estimator_.predict_proba(X)
        prior = self.train_prior_.copy()
        self.em_n_iter_ = 0
        while self.em_n_iter_ < max_iter:
            self.em_n_iter_ += 1
            weighted = probs * (prior / self.train_prior_)
            new_prior = (weighted / weighted.sum(axis=1, keepdims=True)).mean(axis=0)
            converged = np.max(np.abs(new_prior - prior)) < tol
            prior = new_prior
            if converged:
                break
        self.target_prior_ = prior
        return self

    def __sklearn_tags__(self):
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.input_tags = inner.input_tags
        tags.target_tags.required = True
        return tags
