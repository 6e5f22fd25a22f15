"""The regressor half of every skprob regressor: target standardisation, prediction API.

:class:`ProbabilisticRegressorMixin` is mixed into the regressors before
``BaseProbabilisticNetwork`` (``_base.py``); it supplies the target hooks
of the base and ``partial_fit``, ``predict_dist``, ``predict`` and
``sample_posterior``.
"""

from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from skprob._chunks import map_row_chunks, sample_row_chunks
from skprob._scale_calibration import (
    MAX_JOINT_ROWS,
    MAX_TRAINING_CHECK_ROWS,
    MIN_CALIBRATION_ROWS,
    MIN_JOINT_ROWS,
    MIN_TAIL_WEIGHT,
    MIN_TRAINING_ROWS,
    fit_scale,
    fit_scale_and_tail_weight,
    fit_tail_weight,
    seeded_subsample,
    tail_guard_is_on,
    tail_variance_factor,
    widen,
    with_tail,
)
from skprob._state import all_or_nothing
from skprob._targets import target_location_scale, target_resolution, warn_if_discrete_target
from skprob._torch.modules import MIN_SCALE
from skprob._torch.training import trimmed_mean
from skprob.distributions._sampling import check_n_samples, check_random_state_or_generator

# Standardised targets beyond this cannot be squared in float32 (the NLL's z**2).
_FLOAT32_TARGET_LIMIT = 1e18

# The parameters every network regressor has for the calibration that
# ``ProbabilisticRegressorMixin._calibrate`` does (the regressors' own
# ``_parameter_constraints`` take them from here).
CALIBRATION_CONSTRAINTS = {
    "calibrate_scale": ["boolean"],
    "tail_weight": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="left")],
}


class ProbabilisticRegressorMixin(RegressorMixin):
    """Target standardisation and the regressor prediction API.

    The network is trained on ``(y - y_mean) / y_scale``; every predictive
    distribution is mapped back by the exact affine transform (Jacobian
    included), so densities are in the user's units.
    """

    # The divergence check averages the lowest 90% of per-sample NLLs, so that
    # a few gross outliers in y cannot pass for a blown-up fit.
    _divergence_check_fraction = 0.9

    def _init_target(self, y, sample_weight, classes=None):
        if y.ndim == 1:
            warn_if_discrete_target(y)
            self.n_outputs_ = 1
            self._y_mean, self._y_scale = target_location_scale(y, sample_weight)
            self._y_resolution = target_resolution(y) / self._y_scale
            return
        # A vector target: every column standardised on its own, robustly.
        for column in y.T:
            warn_if_discrete_target(column)
        self.n_outputs_ = y.shape[1]
        location_scale = [target_location_scale(column, sample_weight) for column in y.T]
        self._y_mean, self._y_scale = (np.array(v) for v in zip(*location_scale, strict=True))
        # One scale floor serves every output: the finest column's (0 if any is continuous).
        self._y_resolution = float(min(
            target_resolution(column) / scale
            for column, scale in zip(y.T, self._y_scale, strict=True)
        ))

    def _configure_network(self, network):
        # A component narrower than the rounding unit of a tied target is a
        # spike, not a density: predicted scales are floored at the standard
        # deviation of one rounding cell, resolution / sqrt(12).
        network.set_min_scale(self._min_scale())

    def _target_cell(self):
        # The rounding unit of a tied target, in standardised units (0 if y is
        # continuous).
        return getattr(self, "_y_resolution", 0.0)

    def _min_scale(self):
        """The floor of every predicted scale, in standardised units."""
        return max(MIN_SCALE, self._target_cell() / np.sqrt(12.0))

    def _calibration_rows(self, n_samples):
        """Rows ``calibrate_scale`` holds out of ``n_samples``: a validation split, or 0."""
        if not self.calibrate_scale:
            return 0
        n_validation = self._validation_size(n_samples)
        if n_validation >= MIN_CALIBRATION_ROWS:
            return n_validation
        if n_samples - MIN_CALIBRATION_ROWS >= MIN_TRAINING_ROWS:
            return MIN_CALIBRATION_ROWS
        return 0

    def _calibrate(self, X, y_encoded, sample_weight, validation_idx):
        # The factor and the tail weight are fitted in the standardised units
        # the network predicts in: the affine map back to y's units moves
        # neither optimum.
        self.calibration_scale_ = 1.0
        self.tail_weight_ = self._unfitted_tail_weight()
        if validation_idx is None:  # _held_out_rows held out none for calibration
            return
        # One prediction of the held-out rows serves the factor and the tail weight.
        held_out = self._held_out_dist(X, validation_idx)
        y_held_out = y_encoded[validation_idx].astype(np.float64)
        weight_held_out = sample_weight[validation_idx]
        min_scale = self._min_scale()
        if self.tail_weight == "auto" and len(validation_idx) >= MIN_JOINT_ROWS:
            # The factor for the bulk of the errors, the tail for the rare gross
            # ones: fitted alone, the factor widens the bulk to cover them too
            # (MC dropout on naval, the variational network on protein and
            # power: 90% intervals 0.928-0.935 -> 0.907-0.922, NLL up to 0.03
            # better).
            n_held_out = len(validation_idx)
            rows = seeded_subsample(np.arange(n_held_out), MAX_JOINT_ROWS, self._prediction_seed)
            if len(rows) == n_held_out:
                scale, tail_weight = fit_scale_and_tail_weight(
                    held_out, y_held_out, weight_held_out, min_scale
                )
            else:  # the weight from the subsample, the factor from all the rows
                _, tail_weight = fit_scale_and_tail_weight(
                    held_out[rows], y_held_out[rows], weight_held_out[rows], min_scale
                )
                scale = fit_scale(held_out, y_held_out, weight_held_out, min_scale, tail_weight)
        else:
            # A fixed weight, or too few rows to tell a tail from a wide bulk.
            tail_weight = 0.0 if self.tail_weight == "auto" else float(self.tail_weight)
            scale = fit_scale(held_out, y_held_out, weight_held_out, min_scale, tail_weight)
        if scale < 1.0:
            # Narrowing only as far as the training rows allow too. A few
            # hundred validation rows can miss the rare gross errors of
            # contaminated data, whose NLL grows as 1 / s**2; the training rows,
            # nine times as many, rarely do (3% outliers: 0.30 from 100
            # validation rows, test NLL 3.7 -> 26, where the training rows ask
            # for no narrowing). Where the spread is too wide by construction
            # (the Monte Carlo networks) both ask for about the same factor.
            training_idx = seeded_subsample(
                np.setdiff1d(np.arange(len(X)), validation_idx),
                MAX_TRAINING_CHECK_ROWS,
                self._prediction_seed,
            )
            training = self._fitted_scale(X, y_encoded, sample_weight, training_idx, tail_weight)
            scale = min(1.0, max(scale, training))
        self.calibration_scale_ = scale
        if self.tail_weight == "auto":
            # The weight at the factor kept, on the same held-out rows.
            tail_weight = fit_tail_weight(
                widen(held_out, scale, min_scale), y_held_out, weight_held_out
            )
        self.tail_weight_ = tail_weight

    def _unfitted_tail_weight(self):
        """The tail weight without held-out rows: the parameter's, or the floor for "auto"."""
        return MIN_TAIL_WEIGHT if self.tail_weight == "auto" else float(self.tail_weight)

    def _held_out_dist(self, X, idx):
        """The network's predictive distributions of the rows ``idx`` (standardised, unscaled)."""
        return self._distribution_from_params(self._predict_params(X[idx], validated=True))

    def _fitted_scale(self, X, y_encoded, sample_weight, idx, tail_weight):
        """The factor that maximises the likelihood of the rows ``idx`` (see ``fit_scale``)."""
        return fit_scale(
            self._held_out_dist(X, idx), y_encoded[idx].astype(np.float64), sample_weight[idx],
            min_scale=self._min_scale(), tail_weight=tail_weight,
        )

    def _n_outputs(self):
        """Outputs per row of y: 1 for a scalar target (and before the first fit)."""
        return getattr(self, "n_outputs_", 1)

    def _reference_nll(self, y_encoded, sample_weight):
        # A standard normal on the standardised targets (independent outputs).
        z = y_encoded.astype(np.float64)
        nll = 0.5 * z**2 + 0.5 * np.log(2 * np.pi)
        if nll.ndim == 2:
            nll = nll.sum(axis=1)
        return trimmed_mean(nll, self._divergence_check_fraction, sample_weight)

    def _encode_target(self, y):
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if n_outputs != self._n_outputs():
            raise ValueError(
                f"y has {n_outputs} output(s) but {type(self).__name__} was first fitted on "
                f"{self._n_outputs()}; refit (warm_start=False) to change the outputs."
            )
        with np.errstate(over="ignore"):
            z = (y - self._y_mean) / self._y_scale
        largest = np.abs(z).max(axis=0) if z.size else np.zeros(n_outputs)
        if not np.all(largest < _FLOAT32_TARGET_LIMIT):
            j = int(np.argmax(largest)) if n_outputs > 1 else 0
            column = f"column {j} of y" if n_outputs > 1 else "y"
            raise ValueError(
                f"{column} has values {np.max(largest):.3g} times its typical spread (median "
                f"{np.ravel(self._y_mean)[j]:.4g}, robust scale {np.ravel(self._y_scale)[j]:.4g}) "
                "from its centre, beyond what the network's float32 can train on; remove "
                "such outliers or transform y (e.g. log)."
            )
        return z.astype(np.float32)

    @all_or_nothing
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch over ``(X, y)``, initialising the network on the first call.

        The target scaling is learned from the first call's ``y``; later calls
        continue the same Adam optimiser at a constant ``learning_rate_init``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Real-valued targets; several columns for the estimators that model
            a vector target jointly, with as many columns in every call.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict_dist(self, X):
        """Predictive distribution of y for every row of X, in the units of y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        dist : GaussianMixture, Normal or MultivariateGaussianMixture
            A batch of ``n_samples`` predictive distributions; a
            :class:`~skprob.distributions.MultivariateGaussianMixture` (the
            joint distribution of the outputs) when the estimator was fitted
            on y of shape (n_samples, n_outputs). With a positive
            ``tail_weight_`` the last component of every row is the tail
            guard (``tail_weight``).
        """
        return with_tail(self._dist_without_tail(X), self._tail_weight())

    def _dist_without_tail(self, X):
        """``predict_dist`` without the tail component: the network's, widened by the factor."""
        dist = self._distribution_from_params(self._predict_params(X))
        scale = getattr(self, "calibration_scale_", 1.0)
        if scale != 1.0:
            dist = widen(dist, scale, self._min_scale())
        return dist.affine(self._y_mean, self._y_scale)

    def _tail_weight(self):
        """The weight of the tail component in this prediction (0 inside ``tail_guard_off``)."""
        if not tail_guard_is_on():
            return 0.0
        # Files and pickles written before the tail guard have no tail_weight_.
        return getattr(self, "tail_weight_", 0.0)

    def _tail_variance_factor(self):
        """How much the tail component multiplies every row's predictive variance."""
        return tail_variance_factor(self._tail_weight())

    def predict(self, X, return_std=False):
        """Predictive mean (and standard deviation) for every row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        return_std : bool, default=False
            If True, also return the predictive standard deviation, as
            :meth:`sklearn.gaussian_process.GaussianProcessRegressor.predict`.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Mean of the predictive distribution.
        y_std : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Standard deviation of the predictive distribution (of every
            output's marginal); only returned when ``return_std`` is True.
        """
        # A chunk of rows at a time: the predictive distribution of every row at
        # once (a mixture of n_mc_samples Gaussians per row for the Monte Carlo
        # estimators) can be far larger than the vectors returned.
        def moments(X_chunk):
            dist = self.predict_dist(X_chunk)
            return (dist.mean(), dist.std()) if return_std else (dist.mean(),)

        moments = map_row_chunks(moments, X)
        return moments if return_std else moments[0]

    def sample_posterior(self, X, n_samples=1, random_state=None):
        """Draw samples of y from the posterior predictive distribution.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
            Input samples.
        n_samples : int, default=1
            Number of draws per row of ``X``.
        random_state : int, RandomState instance or None, default=None
            Seed of the draws; an int gives reproducible samples.

        Returns
        -------
        y_samples : ndarray of shape (n_samples_X, n_samples) or (n_samples_X, n_samples, n_outputs)
            Draws of y, one row per row of ``X`` (as
            :meth:`sklearn.gaussian_process.GaussianProcessRegressor.sample_y`
            for one output); for a vector target each draw is a vector, as
            :meth:`MultivariateGaussianMixture.sample` returns.

        Raises
        ------
        ValueError
            If ``n_samples`` is not a positive integer, or the output would
            hold more than ``2**28`` values (2 GiB): then draw for chunks of
            rows of ``X``, passing one ``np.random.RandomState`` to every call.
        """
        n_samples = check_n_samples(n_samples)
        rng = check_random_state_or_generator(random_state)
        return sample_row_chunks(
            lambda X_chunk: self.predict_dist(X_chunk).sample(n_samples, random_state=rng),
            X,
            (n_samples,) if self._n_outputs() == 1 else (n_samples, self._n_outputs()),
            "sample_posterior",
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = self._multi_output
        return tags
