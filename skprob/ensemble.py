"""Deep ensembles (Lakshminarayanan et al. 2017): regressor and classifier.

The members are clones of one skprob network estimator, stacked on a leading
member axis of ONE module (``skprob._torch.stacked``) and trained together by
THE training loop: one batched computation and one optimiser step for all of
them, each with its own initialisation, its own minibatch order and its own
early-stopping weights. The predictive distribution is the equal-weight
mixture of the members'.
"""

import dataclasses
from numbers import Integral

import numpy as np
import torch
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from skprob._base import BaseProbabilisticNetwork
from skprob._chunks import map_row_chunks, sample_row_chunks
from skprob._classification import ProbabilisticClassifierMixin
from skprob._monte_carlo import (
    MonteCarloMixin,
    PassAveragedClassifierMixin,
    Uncertainty,
)
from skprob._regression import ProbabilisticRegressorMixin
from skprob._torch.stacked import initialize_stacked, stack_network
from skprob.distributions._sampling import check_n_samples
from skprob.dropout import DropoutMLPClassifier
from skprob.mixture_density import MixtureDensityRegressor

__all__ = ["DeepEnsembleClassifier", "DeepEnsembleRegressor"]

_MAX_SEED = np.iinfo(np.int32).max

# The member's hyper-parameters that the shared fit glue (``_base._fit``)
# reads from ``self``, exposed read-only; the others reach the loop through
# the member's own ``_training_config``. ``random_state`` is the ensemble's.
_MEMBER_PARAMETERS = (
    "warm_start", "early_stopping", "validation_fraction", "max_iter", "learning_rate", "device",
)


class _BaseDeepEnsemble(BaseProbabilisticNetwork):
    """Members of one skprob network on a leading axis, trained in one loop."""

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_dist"]), None],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, n_estimators=5, *, random_state=None):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.random_state = random_state

    # ------------------------------------------------------------ members
    def _template(self):
        """The member estimator, unfitted and not copied: its parameters are read."""
        return self._default_estimator() if self.estimator is None else self.estimator

    def _member(self):
        """A clone of the member estimator, with ``classes_`` once they are known."""
        member = clone(self._template())
        if hasattr(self, "classes_"):
            member.classes_ = self.classes_
        return member

    def _check_member(self):
        member = self._template()
        task_ok = is_regressor(member) if is_regressor(self) else is_classifier(member)
        if not isinstance(member, BaseProbabilisticNetwork) or isinstance(
            member, _BaseDeepEnsemble
        ) or not task_ok:
            kind = "regressor" if is_regressor(self) else "classifier"
            raise ValueError(
                f"{type(self).__name__} needs a skprob network {kind} as its estimator "
                "(MixtureDensityRegressor, DropoutMLP*, BayesianMLP*), got "
                f"{type(member).__name__}."
            )
        member._validate_params()

    def _is_monte_carlo(self):
        return isinstance(self._template(), MonteCarloMixin)

    # --------------------------------------------------------- base hooks
    def _fit(self, X, y, sample_weight=None, **kwargs):
        self._check_member()
        return super()._fit(X, y, sample_weight, **kwargs)

    def _build_network(self, n_features):
        member_network = self._member()._build_network(n_features)
        return stack_network(member_network, self.n_estimators)

    def _new_network(self, n_features, seed):
        """M freshly initialised members, every draw from ``seed``'s generator."""
        with torch.device("meta"):
            network = self._build_network(n_features)
        network.to_empty(device="cpu")
        return initialize_stacked(network, torch.Generator().manual_seed(seed))

    def _training_config(self, n_samples, max_iter, schedule):
        config = self._member()._training_config(n_samples, max_iter, schedule)
        return dataclasses.replace(config, description=type(self).__name__)

    def _prepare_network(self, network, n_train):
        self._member()._prepare_network(network, n_train)

    def _divergence_causes(self):
        return self._member()._divergence_causes()

    def _predict_params(self, X, *, n_passes=None, seed=None, validated=False):
        check_is_fitted(self)
        if n_passes is None and self._is_monte_carlo():
            n_passes = self._template().n_mc_samples
        return super()._predict_params(
            X,
            n_passes=n_passes,
            seed=self._prediction_seed if seed is None else seed,
            validated=validated,
        )

    def _distribution_from_params(self, params):
        """The equal-weight mixture of the members' predictive distributions."""
        member = self._member()
        if self._is_monte_carlo():
            # (M, T, n, ...): M * T equally weighted passes, as one member's T.
            return member._distribution_from_params(
                tuple(p.reshape(-1, *p.shape[2:]) for p in params)
            )
        # Otherwise the members are mixture networks (every classifier member is
        # Monte Carlo, and DeepEnsembleClassifier predicts from _pass_probabilities):
        # (log_weights, means, scales) of shape (M, n, K). The members' K components
        # become the M * K components of one mixture, each member's weights divided
        # by M. Built once, so validated once.
        log_weights, means, scales = (np.moveaxis(p, 0, 1).reshape(p.shape[1], -1)
                                      for p in params)
        return member._distribution_from_params(
            (log_weights - np.log(self.n_estimators), means, scales)
        )

    def _components_per_group(self):
        """Mixture components of one draw of the weights: a pass, or a member's mixture."""
        return 1 if self._is_monte_carlo() else self._template().n_components


def _forward_member_parameter(name):
    def read(self):
        return getattr(self._template(), name)

    return property(read, doc=f"The member estimator's ``{name}`` (read-only).")


for _name in _MEMBER_PARAMETERS:
    setattr(_BaseDeepEnsemble, _name, _forward_member_parameter(_name))


_ENSEMBLE_PARAMETERS = """\
    n_estimators : int, default=5
        Number of members M.
    random_state : int, RandomState instance or None, default=None
        Seeds every member's initialisation, minibatch order, dropout masks
        or weight noise, the validation split and the Monte Carlo draws of
        prediction (the member estimator's own ``random_state`` is not used):
        the same int gives an identical ensemble.

"""

_ENSEMBLE_NOTES = """\
    Notes
    -----
    The members are not M separate fits: they live on a leading axis of one
    network (every affine map a batched matrix product) and THE training
    loop trains them together, one optimiser step for all. The loss is the
    sum of the members' mean NLLs, so each member's gradient is its own.
    Each member has its own initialisation and its own minibatch order; with
    the member's ``early_stopping`` each monitors its own validation NLL,
    keeps the weights of its own best epoch and is frozen when it stops, and
    training ends when all have stopped. Every training hyper-parameter
    (``hidden_layer_sizes``, ``batch_size``, ``max_iter``, ``alpha``,
    ``early_stopping``, ...) is the member estimator's; set them with
    ``estimator__<name>`` (e.g. in a grid search). The fitted curves
    ``loss_curve_``, ``validation_scores_`` and ``best_loss_`` are means over
    the members, and ``n_iter_`` counts the epochs until the last one stopped.

"""


class DeepEnsembleRegressor(ProbabilisticRegressorMixin, _BaseDeepEnsemble):
    """Deep ensemble of skprob network regressors, trained as one batched network.

    ``n_estimators`` members, each a copy of ``estimator`` with its own
    initialisation and minibatch order, are trained side by side in one
    vectorised computation (members on one axis, as in TabM [2]_). The
    predictive distribution is the equal-weight mixture of the members' (a
    :class:`~skprob.distributions.GaussianMixture` with members x
    components); the disagreement between members is epistemic uncertainty,
    which grows between and beyond the training inputs
    (:meth:`predict_uncertainty`).

    Parameters
    ----------
    estimator : skprob network regressor, default=None
        The member: :class:`MixtureDensityRegressor` (None means
        ``MixtureDensityRegressor()``), :class:`DropoutMLPRegressor` or
        :class:`BayesianMLPRegressor`, unfitted; its parameters define every
        member's network and training.
    {ensemble_parameters}
    Attributes
    ----------
    module_ : torch.nn.Module
        The fitted members, stacked on a leading axis of one network (on the
        CPU); outputs are in standardised y units.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.
    loss_curve_ : list of float
        Training loss per epoch, averaged over the members.
    validation_scores_ : list of float
        Validation NLL per epoch, averaged over the members; empty without
        the member's ``early_stopping``.
    best_loss_ : float
        Mean over the members of each one's best monitored loss.
    n_iter_ : int
        Number of epochs run (until the last member stopped).
    calibration_scale_ : float
        With the member's ``calibrate_scale``, the one factor by which the
        ensemble's mixture is widened (above 1) or narrowed about its mean,
        fitted on the validation split after training (1.0 without it).
    tail_weight_ : float
        The weight of the tail component of the ensemble's mixture (the
        member's ``tail_weight``), fitted on the same rows.

    See Also
    --------
    DropoutMLPRegressor : epistemic uncertainty from one network by MC dropout.
    BayesianMLPRegressor : epistemic uncertainty by variational inference.
    sklearn.ensemble.BaggingRegressor : the API precedent (``estimator``, ``n_estimators``).

    {notes}
    References
    ----------
    .. [1] B. Lakshminarayanan, A. Pritzel and C. Blundell, "Simple and
       Scalable Predictive Uncertainty Estimation using Deep Ensembles",
       NeurIPS 2017.
    .. [2] Y. Gorishniy, A. Kotelnikov and A. Babenko, "TabM: Advancing
       Tabular Deep Learning with Parameter-Efficient Ensembling", ICLR 2025.

    Examples
    --------
    >>> from skprob import DeepEnsembleRegressor, MixtureDensityRegressor
    >>> from skprob.datasets import make_bimodal
    >>> X, y = make_bimodal(300, random_state=0)
    >>> member = MixtureDensityRegressor(n_components=2, max_iter=10)
    >>> ens = DeepEnsembleRegressor(member, n_estimators=3, random_state=0).fit(X, y)
    >>> ens.predict_dist(X[:2]).weights.shape  # 3 members x 2 components, and the tail guard
    (2, 7)
    """

    def _default_estimator(self):
        return MixtureDensityRegressor()

    def predict_uncertainty(self, X):
        """Split the predictive variance into aleatoric and epistemic parts.

        The mixture's components come in equally weighted groups, one per
        draw of the weights: a member's whole mixture (MDN members) or one
        Monte Carlo pass of a member (dropout and Bayesian members). By the
        law of total variance, the mean of the groups' variances is the
        aleatoric part (including a member's own multimodality) and the
        variance of the groups' means the epistemic part: the spread between
        members, plus the members' own Monte Carlo spread. The tail component
        (``tail_weight_``) widens the whole mixture about its mean: both parts
        are multiplied by ``1 + 99 tail_weight_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        uncertainty : Uncertainty
            Named tuple ``(total, aleatoric, epistemic)`` of arrays of shape
            (n_samples,), variances in squared units of y.
        """
        return Uncertainty(*map_row_chunks(self._uncertainty_split, X))

    def _uncertainty_split(self, X):
        dist = self._dist_without_tail(X)
        shape = (len(dist.weights), -1, self._components_per_group())
        w, mu, sd = (a.reshape(shape) for a in (dist.weights, dist.means, dist.stds))
        group_weight = w.sum(axis=2)
        group_mean = (w * mu).sum(axis=2) / group_weight
        group_var = (w * (sd**2 + (mu - group_mean[..., None]) ** 2)).sum(axis=2) / group_weight
        mean = (group_weight * group_mean).sum(axis=1) / group_weight.sum(axis=1)
        aleatoric = (group_weight * group_var).sum(axis=1) / group_weight.sum(axis=1)
        epistemic = (group_weight * (group_mean - mean[:, None]) ** 2).sum(axis=1) / (
            group_weight.sum(axis=1)
        )
        # The tail component widens the whole mixture about its mean.
        factor = self._tail_variance_factor()
        return factor * (aleatoric + epistemic), factor * aleatoric, factor * epistemic


class DeepEnsembleClassifier(
    PassAveragedClassifierMixin, ProbabilisticClassifierMixin, _BaseDeepEnsemble
):
    """Deep ensemble of skprob network classifiers, trained as one batched network.

    ``n_estimators`` members, each a copy of ``estimator`` with its own
    initialisation and minibatch order, are trained side by side in one
    vectorised computation; the class probabilities are the members'
    average, and their disagreement (plus each member's Monte Carlo spread)
    is the epistemic uncertainty (:meth:`predict_uncertainty`,
    :meth:`sample_posterior`).

    Parameters
    ----------
    estimator : skprob network classifier, default=None
        The member: :class:`DropoutMLPClassifier` (None means
        ``DropoutMLPClassifier(n_mc_samples=10)``: light dropout regularises
        each member, and 10 passes per member keep prediction cheap) or
        :class:`BayesianMLPClassifier`, unfitted.
    {ensemble_parameters}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    module_ : torch.nn.Module
        The fitted members, stacked on a leading axis of one network (on the CPU).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.
    loss_curve_ : list of float
        Training loss per epoch, averaged over the members.
    validation_scores_ : list of float
        Validation NLL per epoch, averaged over the members; empty without
        the member's ``early_stopping``.
    best_loss_ : float
        Mean over the members of each one's best monitored loss.
    n_iter_ : int
        Number of epochs run (until the last member stopped).

    See Also
    --------
    DeepEnsembleRegressor : the same for regression.
    DropoutMLPClassifier : epistemic uncertainty from one network by MC dropout.

    {notes}
    References
    ----------
    .. [1] B. Lakshminarayanan, A. Pritzel and C. Blundell, "Simple and
       Scalable Predictive Uncertainty Estimation using Deep Ensembles",
       NeurIPS 2017.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from skprob import DeepEnsembleClassifier, DropoutMLPClassifier
    >>> X, y = make_moons(200, noise=0.2, random_state=0)
    >>> member = DropoutMLPClassifier(max_iter=20, n_mc_samples=10)
    >>> clf = DeepEnsembleClassifier(member, n_estimators=3, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).sum(axis=1)
    array([1., 1.])
    """

    def _default_estimator(self):
        return DropoutMLPClassifier(n_mc_samples=10)

    def _pass_probabilities(self, X, n_passes=None, seed=None):
        """Class probabilities of every member's passes, ``(M * T, n, n_classes)``."""
        (log_probs,) = self._predict_params(X, n_passes=n_passes, seed=seed)
        probs = np.exp(log_probs)
        return probs.reshape(-1, *probs.shape[-2:])

    def sample_posterior(self, X, n_samples=1, random_state=None):
        """Class-probability vectors of randomly drawn members (and passes).

        Each draw is one member chosen uniformly at random, with a fresh Monte
        Carlo pass for dropout or Bayesian members, so the spread of the draws
        shows the epistemic uncertainty.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
            Input samples.
        n_samples : int, default=1
            Number of draws.
        random_state : int, RandomState instance or None, default=None
            Seed of the draws; an int gives reproducible draws.

        Returns
        -------
        probs : ndarray of shape (n_samples_X, n_samples, n_classes)
            Class probabilities of each draw; each vector sums to one.
        """
        n_samples = check_n_samples(n_samples)
        check_is_fitted(self)
        rng = check_random_state(random_state)
        seed = int(rng.randint(_MAX_SEED))
        members = rng.randint(self.n_estimators, size=n_samples)
        n_passes = n_samples if self._is_monte_carlo() else None

        def draw(X_chunk):  # the same seed and members for every chunk of rows
            (log_probs,) = self._predict_params(X_chunk, n_passes=n_passes, seed=seed)
            if n_passes is None:  # (M, n, C): one deterministic pass per member
                log_probs = np.repeat(log_probs[:, None], n_samples, axis=1)
            return np.exp(log_probs[members, np.arange(n_samples)]).transpose(1, 0, 2)

        return sample_row_chunks(draw, X, (n_samples, len(self.classes_)), "sample_posterior")


# Regressors only: the ensemble's own predictive mixture is calibrated, not its members'.
DeepEnsembleRegressor.calibrate_scale = _forward_member_parameter("calibrate_scale")
DeepEnsembleRegressor.tail_weight = _forward_member_parameter("tail_weight")

for _cls in (DeepEnsembleRegressor, DeepEnsembleClassifier):
    _cls.__doc__ = _cls.__doc__.replace(
        "    {ensemble_parameters}\n", _ENSEMBLE_PARAMETERS
    ).replace("    {notes}\n", _ENSEMBLE_NOTES)
