"""Monte Carlo predictive distributions, shared by MC-dropout and Bayesian networks.

These estimators have a distribution over their weights (a dropout mask or a
variational posterior). Prediction runs ``n_mc_samples`` stochastic passes —
one batched tensor computation, each pass's mask or weight draw shared by all
rows — and averages: an equal-weight Gaussian mixture for regressors, the
mean class probabilities for classifiers. The spread *between* passes is the
epistemic uncertainty; the noise *within* a pass is the aleatoric part.
"""

from collections import namedtuple
from numbers import Integral

import numpy as np
from scipy.special import xlogy
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skprob._chunks import map_row_chunks, sample_row_chunks
from skprob.distributions import Categorical, GaussianMixture, MultivariateGaussianMixture
from skprob.distributions._sampling import check_n_samples


class Uncertainty(namedtuple("Uncertainty", ["total", "aleatoric", "epistemic"])):
    """Split of predictive uncertainty into aleatoric and epistemic parts.

    For regressors the fields are variances in squared units of y (law of total
    variance: total = aleatoric + epistemic); for classifiers they are entropies
    in nats (total = entropy of the mean probabilities, aleatoric = mean entropy
    of the passes, epistemic = their difference, the mutual information between
    the label and the weights). Its repr summarises the fields by their means.
    """

    __slots__ = ()

    def __repr__(self):
        fields = zip(self._fields, self, strict=True)
        means = ", ".join(f"mean {name}={np.mean(value):.3g}" for name, value in fields)
        return f"Uncertainty(n_samples={len(self.total)}, {means})"


def _entropy(probs):
    return -xlogy(probs, probs).sum(axis=-1)


def entropy_split(probs):
    """``(total, aleatoric, epistemic)`` entropies from pass probabilities ``(T, n, C)``.

    Total is the entropy of the mean probabilities, aleatoric the mean entropy
    of the passes, epistemic their difference (the mutual information between
    the label and the pass).
    """
    total = _entropy(probs.mean(axis=0))
    aleatoric = _entropy(probs).mean(axis=0)
    return total, aleatoric, np.maximum(total - aleatoric, 0.0)


class MonteCarloMixin:
    """Run ``n_mc_samples`` seeded passes wherever the base class predicts."""

    def _predict_params(self, X, *, n_passes=None, seed=None, validated=False):
        check_is_fitted(self)
        return super()._predict_params(
            X,
            n_passes=self._n_passes() if n_passes is None else n_passes,
            seed=self._prediction_seed if seed is None else seed,
            validated=validated,
        )

    def _n_passes(self):
        """``n_mc_samples``, checked: ``set_params`` does not validate it, fit does."""
        n = self.n_mc_samples
        if not isinstance(n, Integral) or isinstance(n, bool) or n < 1:
            raise ValueError(
                f"n_mc_samples must be a positive integer, got {n!r}; set it with "
                "set_params(n_mc_samples=...)."
            )
        return int(n)


class MonteCarloRegressorMixin(MonteCarloMixin):
    """Equal-weight Gaussian mixture over the passes of a Gaussian-head network."""

    def _distribution_from_params(self, params):
        loc, scale = params
        n_passes = loc.shape[0]
        weights = np.full((loc.shape[1], n_passes), 1.0 / n_passes)
        if loc.ndim == 3:  # (T, n, d) means, (T, n, d, d) Cholesky factors: a vector target
            return MultivariateGaussianMixture(
                weights, loc.transpose(1, 0, 2), scale.transpose(1, 0, 2, 3)
            )
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
            (n_samples,), or (n_samples, n_outputs) for a vector target (one
            variance per output): the mean over passes of the predicted noise
            variance (aleatoric), the variance over passes of the predicted
            mean (epistemic), and their sum, the predictive variance.
        """

        # The tail component (tail_weight) widens the whole distribution about
        # its mean, so it multiplies both parts alike.
        factor = self._tail_variance_factor()

        def split(X_chunk):
            dist = self._dist_without_tail(X_chunk)
            if isinstance(dist, MultivariateGaussianMixture):
                noise_variance = np.sum(dist.scale_tril**2, axis=-1)
            else:
                noise_variance = dist.stds**2
            aleatoric = factor * np.mean(noise_variance, axis=1)
            epistemic = factor * np.var(dist.means, axis=1)
            return aleatoric + epistemic, aleatoric, epistemic

        return Uncertainty(*map_row_chunks(split, X))


class PassAveragedClassifierMixin:
    """``predict_dist`` and ``predict_uncertainty`` from the probabilities of draws of the weights.

    A class using it defines ``_pass_probabilities(X)``: the class
    probabilities of every draw of the weights, ``(n_draws, n, n_classes)``
    (a network's Monte Carlo passes, or an ensemble's members and their passes),
    all equally weighted.
    """

    def predict_dist(self, X):
        """Predictive distribution of the label for every row of X: the mean over the draws.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        dist : Categorical
            The class probabilities averaged over the draws of the weights
            (the Monte Carlo passes; for an ensemble its members and their passes).
        """
        # A chunk of rows at a time: the draws' probabilities of every row at
        # once, (n_draws, n, n_classes), can be far larger than their mean.
        (probs,) = map_row_chunks(
            lambda X_chunk: (self._pass_probabilities(X_chunk).mean(axis=0),), X
        )
        return Categorical(probs, classes=self.classes_)

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
            mean entropy of the individual draws (passes; for an ensemble, its
            members' passes), and their difference (the mutual information
            between the label and the weights).
        """

        def split(X_chunk):
            return entropy_split(self._pass_probabilities(X_chunk))

        return Uncertainty(*map_row_chunks(split, X))


class MonteCarloClassifierMixin(PassAveragedClassifierMixin, MonteCarloMixin):
    """Mean class probabilities over the passes of a softmax network."""

    def _distribution_from_params(self, params):
        (log_probs,) = params
        return Categorical(np.exp(log_probs).mean(axis=0), classes=self.classes_)

    def _pass_probabilities(self, X, n_passes=None, seed=None):
        (log_probs,) = self._predict_params(X, n_passes=n_passes, seed=seed)
        return np.exp(log_probs)

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

        Raises
        ------
        ValueError
            If ``n_samples`` is not a positive integer, or the output would
            hold more than ``2**28`` values (2 GiB): then draw for chunks of
            rows of ``X``, passing one ``np.random.RandomState`` to every call.
        """
        n_samples = check_n_samples(n_samples)
        check_is_fitted(self)
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        # Every chunk runs the same n_samples passes (one seed), so each row's
        # draws do not depend on the other rows of X.
        return sample_row_chunks(
            lambda X_chunk: self._pass_probabilities(
                X_chunk, n_passes=n_samples, seed=seed
            ).transpose(1, 0, 2),
            X,
            (n_samples, len(self.classes_)),
            "sample_posterior",
        )
