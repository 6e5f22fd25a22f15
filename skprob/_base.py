"""The estimator base shared by every skprob network: parameters, validation, fit glue.

A concrete estimator supplies three things: how to build its network
(``_build_network``), how targets are encoded for training
(``_init_target`` / ``_encode_target``), and how raw head outputs become a
predictive distribution (``_distribution_from_params``). Everything else —
input validation, seeding, the validation split, sample weights, warm starts,
calling THE training loop, fitted attributes — lives here, once.
The target hooks and prediction API of regressors and classifiers are the
mixins of ``_regression.py`` and ``_classification.py``; the checks and
statistics of y they use are in ``_targets.py``.
"""

import math
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context, is_classifier, is_regressor
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

# The mixins lived in this module: pickles written before they moved look them up here.
from skprob._classification import ProbabilisticClassifierMixin  # noqa: F401
from skprob._regression import ProbabilisticRegressorMixin  # noqa: F401
from skprob._state import all_or_nothing
from skprob._targets import _check_labels, dequantised, numeric_target
from skprob._torch.modules import ACTIVATIONS, initialize_parameters
from skprob._torch.prediction import predict_params
from skprob._torch.threads import intra_op_threads, largest_matmul, threads_for
from skprob._torch.training import TrainingConfig, train
from skprob._torch.weight_average import AVERAGING_STEPS
from skprob.exceptions import TrainingDivergedError

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


# Below this many training rows "auto" minibatches hold 32 rows: scikit-learn's
# min(200, n) gives a data set of a few hundred rows 1-4 optimiser steps per
# epoch, far too few for the default budget (benchmarks/defaults.py). Below it
# early stopping and calibrate_scale also hold out separate rows (_held_out_rows).
_SMALL_DATA_ROWS = 2000


def auto_batch_size(n_samples, max_iter=None, step_budget=None, min_batches_per_epoch=None):
    """The minibatch size of ``batch_size="auto"`` for ``n_samples`` training rows.

    32 below ``_SMALL_DATA_ROWS`` rows, ``min(200, n_samples)`` above. With a
    ``step_budget`` (optimiser steps over ``max_iter`` epochs), small data sets
    take the smallest minibatch between 32 and 200 that keeps the fit within
    it: ``ceil(n_samples * max_iter / step_budget)``. With
    ``min_batches_per_epoch`` the lower bound is
    ``min(32, ceil(n_samples / min_batches_per_epoch))`` instead, so that an
    epoch of a few hundred rows still takes that many steps.
    """
    if n_samples >= _SMALL_DATA_ROWS:
        return min(200, n_samples)
    if step_budget is None:
        return 32
    smallest = 32
    if min_batches_per_epoch is not None:
        smallest = min(smallest, math.ceil(n_samples / min_batches_per_epoch))
    return min(max(smallest, math.ceil(n_samples * max_iter / step_budget)), 200)


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

    # Optimiser steps of a default fit below _SMALL_DATA_ROWS rows ("auto"
    # minibatches grow past 32 to stay within it); None: 32 rows, any number.
    _auto_step_budget = None
    # Under a step budget, "auto" minibatches hold at least 32 rows, so that
    # on fewer than 32 * step_budget / max_iter rows a fit takes fewer steps
    # than its budget; an int k lowers that bound to n / k rows (k steps an
    # epoch however few the rows).
    _auto_min_batches_per_epoch = None

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
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
    }

    # ------------------------------------------------------------------ hooks
    def _hidden_activations(self, sizes):
        """One validated activation name per hidden layer of ``sizes``."""
        return activations_per_layer(self.activation, sizes)

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

    def _calibration_rows(self, n_samples):
        """Rows held out of ``n_samples`` for calibration, even without early stopping; 0: none."""
        return 0

    def _target_cell(self):
        """Width of the rounding cell of the encoded targets (0: not rounded, or labels)."""
        return 0.0

    def _calibrate(self, X, y_encoded, sample_weight, validation_idx):
        """Hook called after training with the held-out rows' indices (None if there are none)."""

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
        # The budget counts a whole fit's epochs, so partial_fit (one epoch a
        # call) takes the same minibatches as fit.
        batch_size = (
            auto_batch_size(
                n_samples, self.max_iter, self._auto_step_budget, self._auto_min_batches_per_epoch
            )
            if self.batch_size == "auto"
            else self.batch_size
        )
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
            averaging_steps=AVERAGING_STEPS,
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
        # The held-out rows of a rounded target are spread over their rounding
        # cells (one draw), so that neither the stopping epoch nor the scale
        # factor is chosen for putting mass on the grid values: their raw
        # likelihood grows as the predictive narrows onto them.
        y_held_out = dequantised(y_encoded, self._target_cell(), seed)
        # Every random draw of this fit comes from this generator, never from
        # torch's global one, so threads fitting side by side stay reproducible.
        generator = torch.Generator(device=device).manual_seed(seed)

        train_idx, validation, calibration_idx = self._held_out_rows(
            X, y, y_held_out, sample_weight, seed, device, incremental
        )
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
        self._calibrate(X, y_held_out, sample_weight, calibration_idx)
        return self

    def _held_out_rows(self, X, y, y_encoded, sample_weight, seed, device, incremental):
        """Training rows, early-stopping tensors and calibration rows of one fit.

        Returns ``(train_idx, validation, calibration_idx)``; ``validation``
        (tensors) and ``calibration_idx`` are None when not used. With both
        early stopping and calibration, the calibration rows are a second
        split of the same size below ``_SMALL_DATA_ROWS`` rows: the rows that
        chose the stopping epoch are optimistic about it (that epoch was their
        best), and on small data a factor fitted on them came out too narrow
        (the mixture network's 90% intervals covered 0.82 on yacht, 0.87 on
        energy; 0.89 and 0.91 with the second split, at 0.03-0.07 nats of test
        NLL on the four small UCI sets). On larger data that optimism is small
        (coverage 0.89-0.90 on kin8nm and power without the second split)
        and the rows are worth more in training. Both use the same rows there,
        and wherever the two splits would leave fewer training rows than
        either holds (``validation_fraction`` above 1/3).
        """
        train_idx = np.arange(len(X))
        if incremental:
            return train_idx, None, None
        n_calibration = self._calibration_rows(len(X))
        early_stopping = self._stops_early(y)
        if not (early_stopping or n_calibration):
            return train_idx, None, None
        if not early_stopping:
            train_idx, calibration_idx = self._validation_split(y, seed, n_held_out=n_calibration)
            return train_idx, None, calibration_idx
        train_idx, val_idx = self._validation_split(y, seed)
        validation = self._to_tensors(X, y_encoded, sample_weight, val_idx, device)
        if not n_calibration:
            return train_idx, validation, None
        n_calibration = max(n_calibration, len(val_idx))
        if len(X) >= _SMALL_DATA_ROWS or len(train_idx) < 2 * n_calibration:
            return train_idx, validation, val_idx
        train_idx, calibration_idx = self._validation_split(
            y[train_idx], seed + 1, n_held_out=n_calibration, rows=train_idx
        )
        return train_idx, validation, calibration_idx

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

    def _stops_early(self, y):
        """``early_stopping`` resolved for the training target ``y``.

        "auto" stops early whenever a validation split of
        ``validation_fraction`` can be held out: for a classifier, a stratified
        one, with every class in both parts (sklearn's ``train_test_split``
        refuses it otherwise); for a regressor, one of at least one row.
        """
        if self.early_stopping != "auto":
            return self.early_stopping
        n_held_out = self._validation_size(len(y))
        if not is_classifier(self):
            return 0 < n_held_out < len(y)
        _, counts = np.unique(y, return_counts=True)
        return counts.min() >= 2 and len(counts) <= min(n_held_out, len(y) - n_held_out)

    def _validation_size(self, n_samples):
        """Rows of ``n_samples`` in a ``validation_fraction`` split (as ``train_test_split``)."""
        return math.ceil(self.validation_fraction * n_samples)

    def _validation_split(self, y, seed, *, n_held_out=None, rows=None):
        """``(kept, held_out)`` row indices; ``rows`` (default: all) are the rows of ``y``."""
        stratify = y if is_classifier(self) else None
        idx = np.arange(len(y)) if rows is None else rows
        test_size = self.validation_fraction if n_held_out is None else n_held_out
        try:
            return train_test_split(
                idx, test_size=test_size, random_state=seed, stratify=stratify
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
    def _predict_params(self, X, *, n_passes=None, seed=0, validated=False):
        """Validated X through the network: see ``predict_params`` for the shapes.

        ``validated=True`` takes X as ``fit`` validated it (rows of the training
        data), whose feature names are gone.
        """
        check_is_fitted(self)
        if not validated:
            X = validate_data(self, X, reset=False, dtype=(np.float32, np.float64))
            check_float32_range(X)
        # torch cannot wrap read-only arrays (e.g. joblib memmaps) without a copy
        X = np.require(X, requirements="W")
        # The thread count follows the matrix products of min(n x passes, 2**14)
        # rows, the scale at which benchmarks/threads.py measured more threads to
        # help. predict_params's chunks (MAX_CHUNK_ELEMENTS activations) are often
        # smaller; two threads still measured faster on them (the lecture network's
        # 5-member ensemble on 20,000 rows: 0.21 s against 0.31 s on one thread).
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
