"""MC-dropout networks (Gal & Ghahramani 2016): regressor and classifier."""

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from skprob._base import BaseProbabilisticNetwork, hidden_layers
from skprob._classification import ProbabilisticClassifierMixin
from skprob._docstrings import fill_doc
from skprob._monte_carlo import MonteCarloClassifierMixin, MonteCarloRegressorMixin
from skprob._regression import CALIBRATION_CONSTRAINTS, ProbabilisticRegressorMixin
from skprob._torch.modules import (
    ACTIVATIONS,
    CategoricalHead,
    GaussianHead,
    MultivariateGaussianHead,
    ProbabilisticNetwork,
    build_trunk,
)


class _BaseDropoutMLP(BaseProbabilisticNetwork):
    """Trunk with dropout after every hidden layer, kept on at prediction."""

    _parameter_constraints: dict = {
        **BaseProbabilisticNetwork._parameter_constraints,
        "activation": [StrOptions({*ACTIVATIONS, "auto"}), list, tuple],
        "dropout_rate": [Interval(Real, 0, 1, closed="neither")],
        "n_mc_samples": [Interval(Integral, 1, None, closed="left")],
    }

    def _hidden_activations(self, sizes):
        # "auto": behind two or more relu layers the dropout masks agree beyond
        # the data about as well as on it (epistemic std at |x| = 5 of the gap
        # problem ~1x its level on the data with (100, 100), 3-18x with gelu);
        # one relu layer keeps its growth and fits small data better than one
        # gelu layer. See the user guide, mc_dropout.rst.
        if isinstance(self.activation, str) and self.activation == "auto":
            return ("relu",) if len(sizes) == 1 else ("gelu",) * len(sizes)
        return super()._hidden_activations(sizes)

    def _build_trunk(self, n_features):
        sizes = hidden_layers(self.hidden_layer_sizes)
        return build_trunk(
            n_features,
            sizes,
            self._hidden_activations(sizes),
            dropout_rate=self.dropout_rate,
        )


@fill_doc
class DropoutMLPRegressor(MonteCarloRegressorMixin, ProbabilisticRegressorMixin, _BaseDropoutMLP):
    """Gaussian MLP regressor whose dropout stays on at prediction (MC dropout).

    Dropout follows every hidden layer. Training minimises the Gaussian
    negative log-likelihood with dropout on, which approximates variational
    inference over the weights (Gal & Ghahramani 2016). At prediction,
    ``n_mc_samples`` passes with independent dropout masks give ``T``
    Gaussians; the predictive distribution is their equal-weight mixture, and
    :meth:`predict_uncertainty` separates the noise the network predicts
    (aleatoric) from the disagreement between passes (epistemic).

    Parameters
    ----------
    {dropout_network_parameters}
    dropout_rate : float, default=0.05
        Probability of zeroing each hidden unit, in training and prediction.
        0.05 rather than the classifier's 0.1: on the UCI sets the regressor's
        test NLL was better on seven of eight at 0.05 (energy 1.26 to 0.99)
        and its 90% intervals as well calibrated (user guide, :ref:`mc_dropout`).
    n_mc_samples : int, default=100
        Number of stochastic passes ``T`` at prediction. They run as one
        batched tensor computation; each pass uses one dropout mask shared by
        all rows, so a row's prediction does not depend on the other rows.
    heteroscedastic : bool, default=True
        Predict the noise scale from x; when False one noise scale is learned
        for all inputs.
    {training_parameters}
    {calibration_parameters}

    Attributes
    ----------
    {fitted_attributes}
    {calibration_attributes}
    n_outputs_ : int
        Number of outputs of y: 1 for y of shape (n_samples,), ``n_outputs``
        for y of shape (n_samples, n_outputs), whose outputs are then modelled
        jointly.

    See Also
    --------
    BayesianMLPRegressor : variational inference over the weights.
    MixtureDensityRegressor : multimodal aleatoric uncertainty, no epistemic part.

    Notes
    -----
    The predictive draws of one fitted model are seeded from ``random_state``
    at fit time, so ``predict`` and ``predict_dist`` are deterministic; use
    :meth:`sample_posterior` with a ``random_state`` for fresh draws of y.
    Early stopping monitors the NLL of the deterministic network (dropout
    off, the usual weight-scaling approximation). ``batch_size="auto"``
    below 2,000 training rows means ``ceil(n_samples * max_iter / 4000)``
    rows between 32 and 200, i.e. at most about 4,000 optimiser steps: below
    ~640 rows that is 32 rows, above it fewer, larger steps, which fit as
    well in less time.

    {vector_target_notes}

    References
    ----------
    .. [1] Y. Gal and Z. Ghahramani, "Dropout as a Bayesian Approximation:
       Representing Model Uncertainty in Deep Learning", ICML 2016.
    .. [2] N. Srivastava et al., "Dropout: A Simple Way to Prevent Neural
       Networks from Overfitting", JMLR 15, 2014.

    Examples
    --------
    >>> from skprob import DropoutMLPRegressor
    >>> from skprob.datasets import make_heteroscedastic
    >>> X, y = make_heteroscedastic(300, random_state=0)
    >>> reg = DropoutMLPRegressor(max_iter=5, n_mc_samples=20, random_state=0).fit(X / 20, y)
    >>> reg.predict_dist(X[:3] / 20).means.shape  # 20 passes and the tail guard
    (3, 21)
    """

    _multi_output = True

    # Below 2,000 rows, "auto" minibatches keep a default fit at about 4,000
    # steps: half the fit time on 1,300-1,900 rows, the same test NLL on the
    # small UCI sets (concrete, wine); smaller sets keep 32 rows. See
    # benchmarks/README.md, section 6.
    _auto_step_budget = 4000

    _parameter_constraints: dict = {
        **_BaseDropoutMLP._parameter_constraints,
        "heteroscedastic": ["boolean"],
        **CALIBRATION_CONSTRAINTS,
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="auto",
        *,
        dropout_rate=0.05,
        n_mc_samples=100,
        heteroscedastic=True,
        alpha=1e-4,
        batch_size="auto",
        learning_rate="cosine",
        learning_rate_init=1e-2,
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
        calibrate_scale=True,
        tail_weight="auto",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout_rate = dropout_rate
        self.n_mc_samples = n_mc_samples
        self.heteroscedastic = heteroscedastic
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
        self.calibrate_scale = calibrate_scale
        self.tail_weight = tail_weight

    def _build_network(self, n_features):
        trunk, width = self._build_trunk(n_features)
        if self._n_outputs() == 1:
            head = GaussianHead(width, heteroscedastic=self.heteroscedastic)
        else:
            head = MultivariateGaussianHead(
                width, self._n_outputs(), heteroscedastic=self.heteroscedastic
            )
        return ProbabilisticNetwork(trunk, head)


@fill_doc
class DropoutMLPClassifier(
    MonteCarloClassifierMixin, ProbabilisticClassifierMixin, _BaseDropoutMLP
):
    """Softmax MLP classifier whose dropout stays on at prediction (MC dropout).

    Trained by cross-entropy (the negative log-likelihood of a categorical
    posterior) with dropout after every hidden layer. At prediction,
    ``n_mc_samples`` passes with independent dropout masks are averaged into
    the class probabilities; their spread is the epistemic uncertainty
    (:meth:`predict_uncertainty`, :meth:`sample_posterior`).

    Parameters
    ----------
    {dropout_network_parameters}
    dropout_rate : float, default=0.1
        Probability of zeroing each hidden unit, in training and prediction.
    n_mc_samples : int, default=100
        Number of stochastic passes ``T`` at prediction, run as one batched
        tensor computation; each pass's mask is shared by all rows.
    {training_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    {fitted_attributes}

    See Also
    --------
    BayesianMLPClassifier : variational inference over the weights.
    sklearn.neural_network.MLPClassifier : the deterministic counterpart.

    References
    ----------
    .. [1] Y. Gal and Z. Ghahramani, "Dropout as a Bayesian Approximation:
       Representing Model Uncertainty in Deep Learning", ICML 2016.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from skprob import DropoutMLPClassifier
    >>> X, y = make_moons(200, noise=0.2, random_state=0)
    >>> clf = DropoutMLPClassifier(max_iter=20, n_mc_samples=10, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).sum(axis=1)
    array([1., 1.])
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        dropout_rate=0.1,
        n_mc_samples=100,
        alpha=1e-4,
        batch_size="auto",
        learning_rate="cosine",
        learning_rate_init=1e-2,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        device="cpu",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout_rate = dropout_rate
        self.n_mc_samples = n_mc_samples
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

    def _build_network(self, n_features):
        trunk, width = self._build_trunk(n_features)
        return ProbabilisticNetwork(trunk, CategoricalHead(width, len(self.classes_)))
