"""Docstring sections shared by every network estimator, written once.

Class docstrings contain markers such as ``{training_parameters}``;
:func:`fill_doc` replaces them with the text below, and writes each
``default=SIGNATURE`` as the default of the class's own ``__init__``, so that
the documented defaults cannot drift from the code (the Bayesian networks,
for instance, default to ``alpha=0``).
"""

import inspect
import re

NETWORK_PARAMETERS = """\
    hidden_layer_sizes : array-like of shape (n_layers,), default=SIGNATURE
        Width of each hidden layer.
    activation : str or sequence of str, default=SIGNATURE
        Activation after each hidden layer: one name for all layers, or one per
        layer. Names: "relu", "tanh", "logistic", "identity", "gelu", "elu",
        "silu", "leaky_relu", "softplus".
"""

# The dropout networks' activation also takes "auto" (skprob/dropout.py).
DROPOUT_NETWORK_PARAMETERS = NETWORK_PARAMETERS.replace(
    '"leaky_relu", "softplus".\n',
    '"leaky_relu", "softplus", and "auto": "relu" with one hidden\n'
    "        layer, \"gelu\" with more. Behind two or more relu layers the passes\n"
    "        agree beyond the data about as well as on it, so the epistemic\n"
    "        uncertainty does not grow away from the data; a smooth activation\n"
    "        keeps that growth (user guide, :ref:`mc_dropout`).\n",
)

TRAINING_PARAMETERS = """\
    alpha : float, default=SIGNATURE
        L2 penalty on the weight matrices: the training objective is the mean
        negative log-likelihood plus ``alpha / (2 n) * ||W||**2``, i.e. a
        Gaussian prior of precision ``alpha`` on the weights.
    batch_size : int or "auto", default=SIGNATURE
        Minibatch size; "auto" means 32 below 2,000 training rows (so that a
        small data set gets enough optimiser steps per epoch) and
        ``min(200, n_samples)`` above, as in scikit-learn's MLP
        (:class:`~skprob.BayesianMLPRegressor` and
        :class:`~skprob.DropoutMLPRegressor` take more rows below 2,000: see
        their Notes).
    learning_rate : {"cosine", "constant"}, default=SIGNATURE
        Learning-rate schedule of Adam. "cosine" anneals the rate from
        ``learning_rate_init`` to zero over ``max_iter`` epochs, which removes
        the small bias that the noise of the last constant-rate steps leaves in
        the predicted location.
    learning_rate_init : float, default=SIGNATURE
        Initial learning rate of Adam.
    max_iter : int, default=SIGNATURE
        Maximum number of epochs.
    shuffle : bool, default=SIGNATURE
        Whether to shuffle the rows at every epoch.
    random_state : int, RandomState instance or None, default=SIGNATURE
        Seeds weight initialisation, shuffling and the validation split: the
        same int gives an identical model.
    tol : float, default=SIGNATURE
        Minimum decrease of the monitored loss (validation NLL with
        ``early_stopping``, else the training loss) that counts as an
        improvement. Without ``early_stopping`` a cosine schedule always runs
        ``max_iter`` epochs: stopping it early would leave the rate high.
        With ``early_stopping``, ``fit`` also keeps an exponential moving
        average of the weights over about the last 100 optimiser steps; each
        epoch scores both the weights and their average, and the best of all
        is restored. When to stop follows the weights alone.
    verbose : bool, default=SIGNATURE
        Show a progress bar with the training loss and validation NLL.
    warm_start : bool, default=SIGNATURE
        Reuse the fitted network as the starting point of the next ``fit``.
    early_stopping : bool or "auto", default=SIGNATURE
        Hold out ``validation_fraction`` of the data, stop when its NLL has not
        improved by ``tol`` for ``n_iter_no_change`` epochs, and restore the
        weights of the best epoch (or their moving average, if that scored
        better; see ``tol``). "auto" does so whenever such a split can be held
        out: for a classifier, a stratified one with every class in both
        parts; otherwise the network trains on every row, as with False.
    validation_fraction : float, default=SIGNATURE
        Fraction of the training data held out for early stopping (and, for
        regressors, for ``calibrate_scale``).
    n_iter_no_change : int, default=SIGNATURE
        Number of epochs without improvement before stopping.
    device : {"cpu", "cuda", "auto"}, default=SIGNATURE
        Where the network is trained; "auto" picks a GPU when available.
        The fitted ``module_`` is always moved back to the CPU.
"""

FITTED_ATTRIBUTES = """\
    module_ : torch.nn.Module
        The fitted network (on the CPU). For regressors its outputs are in
        standardised y units; use :meth:`predict_dist` for distributions in
        the units of y.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.
    loss_curve_ : list of float
        Training loss per epoch: mean NLL (standardised units for regressors) plus
        any penalty. For the Bayesian networks it is the negative ELBO per
        training sample, mean NLL + ``kl_weight`` KL(q || prior) (by default
        0.3 / n for the regressor, a tempered ELBO, 1 / n for the
        classifier), whose KL part (several
        nats per sample on small data) makes it larger than the other
        estimators' curves and not comparable with them; ``validation_scores_``
        holds the NLL alone.
    validation_scores_ : list of float
        Validation NLL per epoch (standardised units); empty without
        ``early_stopping``.
    best_loss_ : float
        Best monitored loss of the last fit: validation NLL with
        ``early_stopping``, training loss otherwise.
    n_iter_ : int
        Number of epochs run.
"""

CALIBRATION_PARAMETERS = """\
    calibrate_scale : bool, default=SIGNATURE
        After training, widen or narrow every predictive distribution about its
        mean by one factor ``s`` (``calibration_scale_``) that maximises the
        likelihood of the validation split: ``validation_fraction`` of the rows,
        held out of training even without ``early_stopping``, and at least 8
        rows while 32 are left to train on (below 40 rows ``s = 1`` and no row
        is held out). With
        ``early_stopping`` on fewer than 2,000 rows, a second split of the same
        size, not the rows that chose the stopping epoch. A factor below 1
        is kept only as far as up to 2,000 training rows also support it (a
        small validation split can miss the rare gross errors that make a
        narrower distribution costly). The mean is unchanged; standard
        deviations, interval half-widths and both parts of
        ``predict_uncertainty`` are multiplied by ``s``. ``partial_fit`` has no
        held-out rows and resets ``s`` to 1. See the user guide, *Calibration*.
    tail_weight : "auto" or float in [0, 1), default=SIGNATURE
        Weight ``w`` of a heavy-tail guard: every predictive distribution
        ``p`` becomes ``(1 - w) p + w N(m, (10 sd)**2)``, with ``p``'s own
        mean ``m`` and ten times its standard deviation ``sd`` (covariance,
        for a vector target), one more mixture component per row. A Gaussian
        gives a gross error or a target unlike the training data a density
        of e^-100 and worse, and one such row can outweigh thousands in a mean
        NLL; under the guard it costs at most about ``log(1 / w)`` nats more
        than under a prediction ten times as wide. "auto" fits ``w`` in
        [0.001, 0.1] by the likelihood of the rows ``calibrate_scale`` holds
        out: from 100 such rows together with the factor (which then fits the
        bulk of the errors, the tail the rare gross ones), on fewer after it;
        0.001 where none are held out. A float fixes ``w`` (the factor is
        fitted under it); 0 turns the guard off. Its price is at most
        ``-log(1 - w)`` nats a row and standard deviations (and both parts of
        ``predict_uncertainty``) ``sqrt(1 + 99 w)`` times wider: 5% at 0.001.
        See the user guide, *Calibration*.
"""

CALIBRATION_ATTRIBUTES = """\
    calibration_scale_ : float
        The factor ``s`` of ``calibrate_scale`` (1.0 without it): above 1 the
        trained network's distributions were too narrow on the validation
        split, below 1 too wide.
    tail_weight_ : float
        The weight ``w`` of the tail component that ``tail_weight`` set or
        fitted (0: no tail component).
"""

# Notes of the Monte Carlo regressors (dropout, Bayesian) on vector targets.
VECTOR_TARGET_NOTES = """\
    For y of shape (n_samples, n_outputs) every column is standardised on its
    own and each pass predicts a Gaussian with a FULL covariance, through its
    Cholesky factor (a ``softplus(raw) + 1e-3`` diagonal, a free strictly
    lower part; heteroscedastic or shared, as ``heteroscedastic`` says).
    With a diagonal covariance the outputs of a pass would be independent,
    and the mixture over passes could show a correlation only through the
    passes' disagreement (epistemic), never the correlation of the noise
    itself; the full factor costs ``d (d + 1) / 2`` head outputs instead of
    ``d``, nothing for a few outputs. :meth:`predict_dist` returns a
    :class:`~skprob.distributions.MultivariateGaussianMixture` and
    :meth:`predict_uncertainty` one variance per output.
"""

_SECTIONS = {
    "{network_parameters}": NETWORK_PARAMETERS,
    "{dropout_network_parameters}": DROPOUT_NETWORK_PARAMETERS,
    "{training_parameters}": TRAINING_PARAMETERS,
    "{fitted_attributes}": FITTED_ATTRIBUTES,
    "{vector_target_notes}": VECTOR_TARGET_NOTES,
    "{calibration_parameters}": CALIBRATION_PARAMETERS,
    "{calibration_attributes}": CALIBRATION_ATTRIBUTES,
}


_SIGNATURE_DEFAULT = re.compile(r"^(    (\w+) : .*default=)SIGNATURE$", re.MULTILINE)


def format_default(value):
    """A parameter default as numpydoc writes it: ``"relu"``, ``0.0001``, ``(100,)``."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def fill_doc(cls):
    """Class decorator: substitute the shared sections into ``cls.__doc__``."""
    doc = cls.__doc__
    for marker, text in _SECTIONS.items():
        doc = doc.replace("    " + marker + "\n", text)
    parameters = inspect.signature(cls.__init__).parameters
    cls.__doc__ = _SIGNATURE_DEFAULT.sub(
        lambda match: match[1] + format_default(parameters[match[2]].default), doc
    )
    return cls
