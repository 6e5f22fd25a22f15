"""Monte Carlo predictive distributions, shared by MC-dropout and Bayesian networks.

These estimators have a distribution over their weights (a dropout mask or a
variational posterior). Prediction runs ``n_mc_samples`` stochastic passes —
one batched tensor computation, each pass's mask or weight draw shared by all
rows — and averages: an equal-weight Gaussian mixture for regressors, the
mean class probabilities for classifiers. The spread *between* passes is the
epistemic uncertainty; the noise *within* a pass is the aleatoric part.
"""

from collections import namedtuple

import numpy as np
from scipy.special import xlogy
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skprob.distributions import Categorical, GaussianMixture

Uncertainty = namedtuple("Uncertainty", ["total", "aleatoric", "epistemic"])
Uncertainty.__doc__ = """Split of predictive uncertainty into aleatoric and epistemic parts.

For regressors the fields are variances in squared units of y (law of total
variance: total = aleatoric + epistemic); for classifiers they are entropies
in nats (total = entropy of the mean probabilities, aleatoric = mean entropy
of the passes, epistemic = their difference, the mutual information between
the label and the weights).
"""


def _entropy(probs):
    return -xlogy(probs, probs).sum(axis=-1)


class MonteCarloMixin:
    """Run ``n_mc_samples`` seeded passes wherever the base class predicts."""

    def _predict_params(self, X, *, n_passes=None, seed=None):
        check_is_fitted(self)
        return super()._predict_params(
            X,
            n_passes=self.n_mc_samples if n_passes is None else n_passes,
            seed=self._prediction_seed if seed is None else seed,
        )


class MonteCarloRegressorMixin(MonteCarloMixin):
    """Equal-weight Gaussian mixture over the passes of a Gaussian-head network."""

    def _distribution_from_params(self, params):
        loc, scale = params
        n_passes = loc.shape[0]
        weights = np.full((loc.shape[1], n_passes), 1.0 / n_passes)
        return GaussianMixture(weights=weights, means=loc.T, stds=scale.T)

    def predict_uncertainty(self, X):
        """Split the predictive variance into aleatoric and epistemic parts.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        uncertainty : Uncertainty
            Named tuple ``(total, aleatoric, epistemic)`` of arrays of shape
            (n_samples,): the mean over passes of the predicted noise variance
            (aleatoric), the variance over passes of the predicted mean
            (epistemic), and their sum, the predictive variance.
        """
        dist = self.predict_dist(X)
        aleatoric = np.mean(dist.stds**2, axis=1)
        epistemic = np.var(dist.means, axis=1)
        return Uncertainty(aleatoric + epistemic, aleatoric, epistemic)


class MonteCarloClassifierMixin(MonteCarloMixin):
    """Mean class probabilities over the passes of a softmax network."""

    def _distribution_from_params(self, params):
        (log_probs,) = params
        return Categorical(np.exp(log_probs).mean(axis=0), classes=self.classes_)

    def _pass_probabilities(self, X, n_passes=None, seed=None):
        (log_probs,) = self._predict_params(X, n_passes=n_passes, seed=seed)
        return np.exp(log_probs)

    def predict_uncertainty(self, X):
        """Split the predictive entropy into aleatoric and epistemic parts.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        uncertainty : Uncertainty
            Named tuple ``(total, aleatoric, epistemic)`` of arrays of shape
            (n_samples,), in nats: the entropy of the mean probabilities, the
            mean entropy of the individual passes, and their difference (the
            mutual information between label and weights).
        """
        probs = self._pass_probabilities(X)
        total = _entropy(probs.mean(axis=0))
        aleatoric = _entropy(probs).mean(axis=0)
        return Uncertainty(total, aleatoric, np.maximum(total - aleatoric, 0.0))

    def sample_posterior(self, X, n_samples=1, random_state=None):
        """Class-probability vectors from the posterior over the weights.

        Each draw is one stochastic pass (a dropout mask or a weight sample),
        so the spread of the draws shows the epistemic uncertainty.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
            Input samples.
        n_samples : int, default=1
            Number of passes.
        random_state : int, RandomState instance or None, default=None
            Seed of the passes; an int gives reproducible draws.

        Returns
        -------
        probs : ndarray of shape (n_samples_X, n_samples, n_classes)
            Class probabilities of each pass; each vector sums to one.
        """
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        probs = self._pass_probabilities(X, n_passes=n_samples, seed=seed)
        return probs.transpose(1, 0, 2)
