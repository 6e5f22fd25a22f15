"""Mixture density network regressor (Bishop 1994)."""

from numbers import Integral

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval

from skprob._base import (
    BaseProbabilisticNetwork,
    ProbabilisticRegressorMixin,
    activations_per_layer,
    hidden_layers,
)
from skprob._torch.modules import MixtureDensityHead, ProbabilisticNetwork, build_trunk
from skprob.distributions import GaussianMixture


class MixtureDensityRegressor(ProbabilisticRegressorMixin, BaseProbabilisticNetwork):
    """Mixture density network: an MLP whose output is a Gaussian mixture p(y | x).

    The network maps each input to the weights, means and standard deviations
    of ``n_components`` Gaussians and is trained by minimising the negative
    log-likelihood of the observed targets, which is equivalent to minimising
    the Kullback-Leibler divergence from the true conditional density. The
    predictive distribution can therefore be skewed, heavy-tailed or
    multimodal, where a least-squares regressor only returns the mean.

    The lecture's galaxy-cluster network (14 inputs, 128 relu, 128 relu,
    64 tanh, 16 components) is
    ``MixtureDensityRegressor(hidden_layer_sizes=(128, 128, 64),
    activation=("relu", "relu", "tanh"), n_components=16)``.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers,), default=(100,)
        Width of each hidden layer.
    activation : str or sequence of str, default="relu"
        Activation after each hidden layer: one name for all layers, or one per
        layer. Names: "relu", "tanh", "logistic", "identity", "gelu", "elu",
        "silu", "leaky_relu", "softplus".
    n_components : int, default=5
        Number of Gaussian components of the predictive mixture.
    alpha : float, default=1e-4
        L2 penalty on the weight matrices: the training objective is the mean
        negative log-likelihood plus ``alpha / (2 n) * ||W||**2``, i.e. a
        Gaussian prior of precision ``alpha`` on the weights.
    batch_size : int or "auto", default="auto"
        Minibatch size; "auto" means ``min(200, n_samples)``.
    learning_rate : {"cosine", "constant"}, default="cosine"
        Learning-rate schedule of Adam. "cosine" anneals the rate from
        ``learning_rate_init`` to zero over ``max_iter`` epochs, which removes
        the small bias that the noise of the last constant-rate steps leaves in
        the predicted location.
    learning_rate_init : float, default=1e-3
        Initial learning rate of Adam.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Whether to shuffle the rows at every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the validation split: the
        same int gives an identical model.
    tol : float, default=1e-4
        Minimum decrease of the monitored loss (training loss, or validation
        NLL with ``early_stopping``) that counts as an improvement.
    verbose : bool, default=False
        Show a progress bar with the training loss and validation NLL.
    warm_start : bool, default=False
        Reuse the fitted network as the starting point of the next ``fit``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its NLL has not
        improved by ``tol`` for ``n_iter_no_change`` epochs, and restore the
        weights of the best epoch.
    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping.
    n_iter_no_change : int, default=10
        Number of epochs without improvement before stopping.
    device : {"cpu", "cuda", "auto"}, default="cpu"
        Where the network is trained; "auto" picks a GPU when available.
        The fitted ``module_`` is always moved back to the CPU.

    Attributes
    ----------
    module_ : torch.nn.Module
        The fitted network (on the CPU). Its outputs are in standardised y
        units; use :meth:`predict_dist` for distributions in the units of y.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    loss_curve_ : list of float
        Training loss (mean NLL in standardised units, plus penalty) per epoch.
    validation_scores_ : list of float
        Validation NLL per epoch (standardised units); empty without
        ``early_stopping``.
    best_loss_ : float
        Best monitored loss of the last fit: validation NLL with
        ``early_stopping``, training loss otherwise.
    n_iter_ : int
        Number of epochs run.

    See Also
    --------
    DropoutMLPRegressor : Gaussian MLP with MC dropout for epistemic uncertainty.
    sklearn.neural_network.MLPRegressor : least-squares MLP (point predictions).

    Notes
    -----
    y is standardised internally; :meth:`predict_dist` maps the mixture back
    with the exact affine transform, so its densities are in the units of y.
    Component scales are ``softplus(raw) + 1e-3`` in standardised units, which
    keeps a component from collapsing onto a single training point.

    References
    ----------
    .. [1] C. M. Bishop, "Mixture Density Networks", Aston University, 1994.
    .. [2] M. Ho et al., "A Robust and Efficient Deep Learning Method for
       Dynamical Mass Measurements of Galaxy Clusters", ApJ 887, 25, 2019.

    Examples
    --------
    >>> from skprob import MixtureDensityRegressor
    >>> from skprob.datasets import make_bimodal
    >>> X, y = make_bimodal(500, random_state=0)
    >>> mdn = MixtureDensityRegressor(n_components=3, max_iter=20, random_state=0)
    >>> mdn.fit(X, y).predict_dist(X[:2]).weights.shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        **BaseProbabilisticNetwork._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        n_components=5,
        alpha=1e-4,
        batch_size="auto",
        learning_rate="cosine",
        learning_rate_init=1e-3,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        device="cpu",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.n_components = n_components
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to data by minimising the negative log-likelihood.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Real-valued targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; each sample's NLL is weighted in the loss
            and in the standardisation of y.

        Returns
        -------
        self : MixtureDensityRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch over ``(X, y)``, initialising the network on the first call.

        The target scaling is learned from the first call's ``y``; later calls
        continue the same Adam optimiser at a constant ``learning_rate_init``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Real-valued targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : MixtureDensityRegressor
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _build_network(self, n_features):
        sizes = hidden_layers(self.hidden_layer_sizes)
        trunk, width = build_trunk(
            n_features, sizes, activations_per_layer(self.activation, sizes)
        )
        return ProbabilisticNetwork(trunk, MixtureDensityHead(width, self.n_components))

    def _distribution_from_params(self, params):
        log_weights, means, stds = params
        return GaussianMixture(weights=np.exp(log_weights), means=means, stds=stds)
