"""The estimator base shared by every skprob network: parameters, validation, fit glue.

A concrete estimator supplies three things: how to build its network
(``_build_network``), how targets are encoded for training
(``_init_target`` / ``_encode_target``), and how raw head outputs become a
predictive distribution (``_distribution_from_params``). Everything else —
input validation, seeding, the validation split, sample weights, warm starts,
calling THE training loop, fitted attributes — lives here, once.
"""

import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    is_classifier,
    is_regressor,
)
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from skprob._chunks import map_row_chunks, sample_row_chunks
from skprob._state import all_or_nothing
from skprob._torch.modules import ACTIVATIONS, initialize_parameters
from skprob._torch.prediction import predict_params
from skprob._torch.threads import intra_op_threads, largest_matmul, threads_for
from skprob._torch.training import TrainingConfig, train, trimmed_mean
from skprob.distributions._base import check_n_samples, check_random_state_or_generator
from skprob.exceptions import DiscreteTargetWarning, TrainingDivergedError

_MAX_SEED = np.iinfo(np.int32).max
_PREDICT_CHUNK_ROWS = 2**14


def resolve_device(device):
    """Turn the ``device`` parameter into a :class:`torch.device`."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available.")
    return torch.device(device)


def check_float32_range(X):
    """Refuse inputs that would overflow when cast to the network's float32."""
    limit = np.finfo(np.float32).max
    if X.size and np.abs(X).max() > limit:
        raise ValueError(
            f"X has values of magnitude above {limit:.3g}, which overflow float32, the "
            "precision the network computes in; rescale X (e.g. with StandardScaler)."
        )


def numeric_target(y):
    """Regression targets as float64, or a ValueError naming the offending values."""
    if y.dtype.kind in "biuf":
        return y.astype(np.float64, copy=False)
    try:
        return y.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"A regressor needs numeric targets; could not convert y of dtype {y.dtype} "
            f"to float ({exc}). For class labels use a classifier."
        ) from exc


def weighted_quantiles(values, weights, quantiles):
    """Quantiles of a weighted sample (inverse of the weighted empirical cdf, midpoints)."""
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    cumulative = np.cumsum(weights) - 0.5 * weights
    return np.interp(np.asarray(quantiles) * weights.sum(), cumulative, values)


# The interquartile range of a standard normal, to turn an IQR into a scale.
_NORMAL_IQR = 1.3489795003921634


def target_location_scale(y, sample_weight):
    """Robust, overflow-safe location and scale for standardising a regression target.

    The location is the weighted median. The scale is the smaller of the
    standard deviation and the normal-consistent interquartile range: a few
    gross outliers inflate the standard deviation (and would squeeze every
    other row into a sliver of the standardised axis, below the networks'
    smallest scale) but not the IQR, while a sample with most values tied has
    an IQR of zero but a usable standard deviation. Moments are taken on y
    divided by its largest deviation, so that neither y ~ 1e300 nor a spread
    of 1e-300 overflows or underflows.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Finite float64 targets.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights with a positive sum.

    Returns
    -------
    location, scale : float
        ``scale`` is finite and positive.
    """
    location = float(weighted_quantiles(y, sample_weight, 0.5))
    with np.errstate(over="ignore"):
        deviation = y - location
    if not np.isfinite(deviation).all():
        raise ValueError(
            "y spans a range too wide to standardise in float64 (values from "
            f"{y.min():.3g} to {y.max():.3g}); rescale or transform y."
        )
    largest = np.abs(deviation).max()
    if largest == 0:  # a constant target: any positive scale will do
        return location, abs(location) or 1.0
    unit = deviation / largest
    centre = np.average(unit, weights=sample_weight)
    std = largest * np.sqrt(np.average((unit - centre) ** 2, weights=sample_weight))
    q25, q75 = weighted_quantiles(unit, sample_weight, [0.25, 0.75])
    iqr_scale = largest * (q75 - q25) / _NORMAL_IQR
    scale = min(std, iqr_scale) if iqr_scale > 0 else std
    if not 0 < scale < np.inf:
        raise ValueError(f"y could not be standardised (scale {scale!r}); rescale y.")
    return location, float(scale)


def target_resolution(y):
    """Typical spacing of the values of a target with many ties (0 when y is continuous).

    Rounded targets (prices, measurements to one decimal, scores) repeat a few
    values. When at least half the rows share their value with another row, the
    median gap between consecutive distinct values is the rounding unit a
    density can resolve; otherwise 0.
    """
    values = np.unique(y)
    if len(values) < 2 or len(values) > len(y) / 2:
        return 0.0
    return float(np.median(np.diff(values)))


# A regression target with at most this many distinct values, each seen on
# average at least _DISCRETE_MIN_REPEATS times, is treated as discrete: 20
# covers scores, ratings and counts of a few categories, and the repeat rule
# keeps small continuous samples that happen to tie from being flagged.
_DISCRETE_MAX_VALUES = 20
_DISCRETE_MIN_REPEATS = 5
# Standardised targets beyond this cannot be squared in float32 (the NLL's z**2).
_FLOAT32_TARGET_LIMIT = 1e18


def warn_if_discrete_target(y):
    """Warn (:class:`~skprob.exceptions.DiscreteTargetWarning`) if y takes few distinct values."""
    values = np.unique(y)
    if len(values) > _DISCRETE_MAX_VALUES or len(y) < _DISCRETE_MIN_REPEATS * len(values):
        return
    shown = ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if len(values) > 6 else "")
    warnings.warn(
        f"y takes only {len(values)} distinct values ({shown}) in {len(y)} samples. A "
        "continuous density fitted to discrete targets can put narrow spikes on those "
        "values, so its negative log-likelihood is not comparable with other models'. "
        "For ordered categories use a classifier; to model y as continuous, dequantise "
        "it, e.g. y + rng.uniform(-0.5, 0.5, len(y)) for integers.",
        DiscreteTargetWarning,
        stacklevel=7,  # the caller of fit or partial_fit
    )


# Below this many training rows "auto" minibatches hold 32 rows: scikit-learn's
# min(200, n) gives a data set of a few hundred rows 1-4 optimiser steps per
# epoch, far too few for the default budget (benchmarks/defaults.py).
_SMALL_DATA_ROWS = 2000


def auto_batch_size(n_samples):
    """The minibatch size of ``batch_size="auto"`` for ``n_samples`` training rows."""
    return 32 if n_samples < _SMALL_DATA_ROWS else min(200, n_samples)


def activations_per_layer(activation, hidden_layer_sizes):
    """Expand ``activation`` (one name, or one per hidden layer) to a tuple of names."""
    names = (activation,) * len(hidden_layer_sizes) if isinstance(activation, str) else activation
    names = tuple(names)
    if len(names) != len(hidden_layer_sizes):
        raise ValueError(
            f"activation has {len(names)} entries but hidden_layer_sizes has "
            f"{len(hidden_layer_sizes)} layers; give one activation or one per layer."
        )
    unknown = sorted({name for name in names if name not in ACTIVATIONS})
    if unknown:
        raise ValueError(f"Unknown activation(s) {unknown}; choose from {sorted(ACTIVATIONS)}.")
    return names


def hidden_layers(hidden_layer_sizes):
    """Validate ``hidden_layer_sizes`` and return it as a tuple of ints."""
    sizes = (hidden_layer_sizes,) if np.isscalar(hidden_layer_sizes) else hidden_layer_sizes
    sizes = tuple(sizes)
    if not all(
        isinstance(s, Integral) and not isinstance(s, (bool, np.bool_)) and s > 0 for s in sizes
    ):
        raise ValueError(f"hidden_layer_sizes must be positive integers, got {hidden_layer_sizes}.")
    return sizes


class BaseProbabilisticNetwork(BaseEstimator, metaclass=ABCMeta):
    """Base class of every skprob network estimator. Not for direct use."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS)), list, tuple],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"cosine", "constant"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
    }

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _build_network(self, n_features):
        """Return a fresh ``ProbabilisticNetwork`` for ``n_features`` inputs."""

    @abstractmethod
    def _init_target(self, y, sample_weight, classes=None):
        """Learn the target encoding (y scaling or ``classes_``) on the first fit."""

    @abstractmethod
    def _encode_target(self, y):
        """Map validated ``y`` to the training tensor's numpy values."""

    @abstractmethod
    def _distribution_from_params(self, params):
        """Turn head outputs (numpy, training space) into a predictive distribution."""

    def _prepare_network(self, network, n_train):
        """Hook called before training with the number of training rows."""

    def _configure_network(self, network):
        """Hook that sets fitted, non-tensor settings on ``network`` (fit and skprob.load)."""

    @abstractmethod
    def _reference_nll(self, y_encoded, sample_weight):
        """Trimmed-mean NLL of the targets' marginal distribution, to detect a blown-up fit."""

    @all_or_nothing
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network by minimising the negative log-likelihood of y given X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets: real values for regressors (several columns for a joint
            distribution of vector targets), class labels for classifiers.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; each sample's NLL is weighted in the loss
            (and, for regressors, in the standardisation of y).

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        TrainingDivergedError
            If training blows up (see :func:`~skprob._torch.training.train`).
            Whatever fails, the estimator is left exactly as it was before the
            call: a failed first fit leaves it unfitted.
        """
        return self._fit(X, y, sample_weight)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "module_")

    # -------------------------------------------------------------- fit glue
    def _validate_fit_data(self, X, y, sample_weight, reset):
        multi_output = self._check_target_shape(y)
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=(np.float32, np.float64),
            y_numeric=is_regressor(self),
            multi_output=multi_output,
        )
        check_float32_range(X)
        if is_regressor(self):
            y = numeric_target(y)
        else:
            _check_labels(y)
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        largest = sample_weight.max()
        if not largest > 0:
            raise ValueError("sample_weight has no positive weight; nothing to fit.")
        # Divided by the largest weight so that sums and means cannot overflow.
        return X, y, sample_weight / largest

    # Whether y may have several columns (a joint distribution of the outputs).
    _multi_output = False

    def _check_target_shape(self, y):
        """Whether ``y`` is a vector target; refuse one if the estimator takes scalars only.

        A column vector is not a vector target: it is ravelled, with
        scikit-learn's warning.
        """
        shape = np.asarray(y).shape
        if len(shape) == 2 and shape[1] > 1 and self._multi_output:
            return True
        if len(shape) == 2 and shape[1] > 1:
            kind, wrapper = (
                ("regressors", "MultiOutputRegressor")
                if is_regressor(self)
                else ("classifiers", "MultiOutputClassifier")
            )
            raise ValueError(
                f"y has shape {shape}: skprob {kind} take one target per row, y of shape "
                f"(n_samples,). For {shape[1]} outputs, fit one model per column, e.g. "
                f"sklearn.multioutput.{wrapper}({type(self).__name__}()), which gives "
                "independent predictive distributions for the outputs."
            )
        return False

    def _training_config(self, n_samples, max_iter, schedule):
        batch_size = auto_batch_size(n_samples) if self.batch_size == "auto" else self.batch_size
        return TrainingConfig(
            max_iter=max_iter,
            batch_size=batch_size,
            learning_rate_init=self.learning_rate_init,
            learning_rate=schedule,
            alpha=self.alpha,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            shuffle=self.shuffle,
            verbose=bool(self.verbose),
            description=type(self).__name__,
            check_fraction=self._divergence_check_fraction,
        )

    def _fit(self, X, y, sample_weight=None, *, incremental=False, classes=None):
        # Attributes are set freely below: all_or_nothing on the public methods
        # puts every one of them back if anything raises.
        fitted = hasattr(self, "module_")
        first_call = not fitted or not (incremental or self.warm_start)
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight, reset=first_call)
        if first_call:
            self._rng = check_random_state(self.random_state)
            self._init_target(y, sample_weight, classes)
        y_encoded = self._encode_target(y)
        device = resolve_device(self.device)
        seed = int(self._rng.randint(_MAX_SEED))
        # Every random draw of this fit comes from this generator, never from
        # torch's global one, so threads fitting side by side stay reproducible.
        generator = torch.Generator(device=device).manual_seed(seed)

        train_idx = np.arange(len(X))
        validation = None
        if self.early_stopping and not incremental:
            train_idx, val_idx = self._validation_split(y, seed)
            validation = self._to_tensors(X, y_encoded, sample_weight, val_idx, device)
        X_t, y_t, w_t = self._to_tensors(X, y_encoded, sample_weight, train_idx, device)

        config = self._training_config(
            len(train_idx),
            max_iter=1 if incremental else self.max_iter,
            schedule="constant" if incremental else self.learning_rate,
        )
        network = self._new_network(X.shape[1], seed) if first_call else self.module_
        reference_nll = self._reference_nll(y_encoded[train_idx], sample_weight[train_idx])
        self._prepare_network(network, len(train_idx))
        self._configure_network(network)
        network.to(device)
        threads = threads_for(largest_matmul(network, config.batch_size))
        try:
            with intra_op_threads(threads):
                history, optimizer_state = train(
                    network,
                    X_t,
                    y_t,
                    w_t,
                    config,
                    validation=validation,
                    optimizer_state=self._optimizer_state if incremental and fitted else None,
                    generator=generator,
                    reference_nll=reference_nll,
                )
        except TrainingDivergedError as exc:
            raise TrainingDivergedError(f"{exc} {self._divergence_advice(X)}") from None
        finally:
            network.to("cpu")
        self._record_history(history, first_call)
        # Monte Carlo estimators draw their prediction passes from this seed, so
        # predictions are a deterministic function of the fitted model.
        self._prediction_seed = int(self._rng.randint(_MAX_SEED))
        self.module_ = network
        self._optimizer_state = _state_to_cpu(optimizer_state)
        return self

    def _new_network(self, n_features, seed):
        """A freshly initialised network whose weights come from ``seed`` alone.

        Built on the meta device (no memory, no random draws), then given
        storage and initialised from its own generator.
        """
        with torch.device("meta"):
            network = self._build_network(n_features)
        network.to_empty(device="cpu")
        return initialize_parameters(network, torch.Generator().manual_seed(seed))

    def _divergence_causes(self):
        """Parameter settings that make divergence likely; extended by subclasses."""
        causes = []
        if self.learning_rate_init > 0.05:
            causes.append(
                f"learning_rate_init={self.learning_rate_init:g} is large (1e-3 to 1e-2 is usual)"
            )
        return causes

    def _divergence_advice(self, X):
        causes = self._divergence_causes()
        largest = float(np.abs(X).max()) if X.size else 0.0
        if largest > 1e3:
            causes.append(
                f"X has values of magnitude up to {largest:.3g}; standardise it, e.g. with "
                "sklearn.preprocessing.StandardScaler in a pipeline"
            )
        if not causes:
            return (
                "Try a smaller learning_rate_init, a larger alpha, or standardise X "
                "(e.g. with StandardScaler)."
            )
        return "Likely cause: " + "; ".join(causes) + "."

    def _validation_split(self, y, seed):
        stratify = y if is_classifier(self) else None
        idx = np.arange(len(y))
        try:
            return train_test_split(
                idx, test_size=self.validation_fraction, random_state=seed, stratify=stratify
            )
        except ValueError as exc:
            raise ValueError(
                f"early_stopping needs a validation split of {len(y)} samples with "
                f"validation_fraction={self.validation_fraction}: {exc}"
            ) from exc

    def _to_tensors(self, X, y_encoded, sample_weight, idx, device):
        X_t = torch.as_tensor(X[idx], dtype=torch.float32, device=device)
        y_t = torch.as_tensor(y_encoded[idx], device=device)
        w = sample_weight[idx]
        # Uniform weights take the unweighted path: identical numbers, less work.
        if np.all(w == w[0]):
            return X_t, y_t, None
        # The weights were divided by their maximum, so the mean is at most 1.
        w_t = torch.as_tensor(w / w.mean(), dtype=torch.float32, device=device)
        return X_t, y_t, w_t

    def _record_history(self, history, first_call):
        if first_call:
            self.loss_curve_, self.validation_scores_, self.n_iter_ = [], [], 0
        self.loss_curve_ = self.loss_curve_ + history.loss_curve
        self.validation_scores_ = self.validation_scores_ + history.validation_scores
        self.n_iter_ += history.n_iter
        self.best_loss_ = history.best_loss

    # ---------------------------------------------------------------- predict
    def _predict_params(self, X, *, n_passes=None, seed=0):
        """Validated X through the network: see ``predict_params`` for the shapes."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float32, np.float64))
        check_float32_range(X)
        # torch cannot wrap read-only arrays (e.g. joblib memmaps) without a copy
        X = np.require(X, requirements="W")
        # predict_params runs chunks of at most MAX_CHUNK_ELEMENTS activations; one chunk's
        # matrix products decide the thread count.
        rows = min(len(X) * (n_passes or 1), _PREDICT_CHUNK_ROWS)
        with intra_op_threads(threads_for(largest_matmul(self.module_, rows))):
            return predict_params(self.module_, X, n_passes=n_passes, seed=seed)

    def predict_dist(self, X):
        """Predictive distribution of y for every row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        dist : skprob distribution
            A batch of ``n_samples`` distributions, one per row of ``X``: a
            :class:`Categorical` over ``classes_`` for classifiers.
        """
        return self._distribution_from_params(self._predict_params(X))


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
        network.set_min_scale(getattr(self, "_y_resolution", 0.0) / np.sqrt(12.0))

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
            on y of shape (n_samples, n_outputs).
        """
        dist = self._distribution_from_params(self._predict_params(X))
        return dist.affine(self._y_mean, self._y_scale)

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


class ProbabilisticClassifierMixin(ClassifierMixin):
    """Label encoding and the classifier prediction API.

    Labels are encoded as indices into the sorted ``classes_``, as in
    scikit-learn; the predictive distribution is a :class:`Categorical`.
    """

    _divergence_check_fraction = 1.0

    def _init_target(self, y, sample_weight, classes=None):
        self.classes_ = np.unique(y) if classes is None else np.unique(np.asarray(classes))
        if len(self.classes_) < 2:
            raise ValueError(
                f"The number of classes has to be greater than one; got {len(self.classes_)} "
                f"class: {self.classes_.tolist()}."
            )

    @all_or_nothing
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch over ``(X, y)``, initialising the network on the first call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            Every class that can appear in any call; required on the first
            call unless its ``y`` already contains them all, ignored later.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _reference_nll(self, y_encoded, sample_weight):
        # The class frequencies of the targets, the best constant prediction.
        freq = np.bincount(y_encoded, weights=sample_weight, minlength=len(self.classes_))
        with np.errstate(divide="ignore"):
            return trimmed_mean(-np.log(freq[y_encoded] / freq.sum()), weights=sample_weight)

    def _encode_target(self, y):
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if unknown.any():
            raise ValueError(
                f"y contains labels {np.unique(y[unknown]).tolist()} that are not in "
                f"classes_ {self.classes_.tolist()}."
            )
        return index.astype(np.int64)

    def predict_proba(self, X):
        """Class probabilities for every row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class in ``classes_``; rows sum to one.
        """
        return self.predict_dist(X).probs

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Most probable class for every row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


def _check_labels(y):
    """Classification targets, or a clear error for labels of mixed types."""
    if y.dtype == object:
        kinds = sorted({"str" if isinstance(v, str) else type(v).__name__ for v in y.ravel()})
        if "str" in kinds and len(kinds) > 1:
            raise TypeError(
                f"y mixes class labels of different types ({', '.join(kinds)}), which cannot "
                "be sorted into classes_; use labels of one type, e.g. all strings."
            )
    check_classification_targets(y)


def _state_to_cpu(state):
    """Optimizer state with every tensor on the CPU, so a fitted model pickles portably.

    No copy is needed: the optimizer that owned these tensors is discarded after
    the call, and the next call loads a copy (``make_optimizer``).
    """
    def move(value):
        if isinstance(value, torch.Tensor):
            return value.detach().cpu()
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        return value

    return move(state)
