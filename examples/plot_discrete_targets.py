"""
Scores, ratings and other discrete targets
==========================================

Many "regression" targets take a handful of values: a wine's quality score
from 3 to 8, a star rating, a count of a few categories. A density is not a
probability, and a flexible density fitted to such targets would put narrow
spikes on the values it has seen: its negative log-likelihood would keep
falling, to numbers no model of the actual scores can reach. skprob's
regressors warn about it (:class:`~skprob.exceptions.DiscreteTargetWarning`)
and floor every predicted scale at one rounding cell's standard deviation
(here ``1/sqrt(12)``), so the peaks stay bounded.

This example draws scores by rounding a latent Gaussian, so that the true
probability of every score is known, and compares three ways to model them:

* a mixture density network on the raw scores (what the warning is about);
* the same network on *dequantised* scores, ``y + U(-0.5, 0.5)``: its mass on
  each score's bin, ``cdf(k + 0.5) - cdf(k - 0.5)``, estimates
  :math:`P(y = k \\mid x)`;
* a classifier, :class:`~skprob.DropoutMLPClassifier`, whose log loss is the
  honest score for categories (it ignores their order).
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats
from sklearn.preprocessing import StandardScaler

from skprob import DropoutMLPClassifier, MixtureDensityRegressor
from skprob.exceptions import DiscreteTargetWarning
from skprob.metrics import negative_log_likelihood
from skprob.pipeline import make_pipeline

N_TRAIN = 3000
MAX_ITER = 100
# sphinx_gallery_start_ignore
# The test suite and the documentation build set SKPROB_EXAMPLES_FAST=1 to run
# the example on shrunken data in a few seconds (this block is not shown in the
# rendered example).
import os  # noqa: E402

if os.environ.get("SKPROB_EXAMPLES_FAST") == "1":
    N_TRAIN, MAX_ITER = 1000, 40
# sphinx_gallery_end_ignore
SCORES = np.arange(3, 9)
# Bin edges of the scores; the end scores take the tails.
EDGES = np.r_[-np.inf, SCORES[1:] - 0.5, np.inf]
NOISE = 0.7


def latent_mean(X):
    return 5.5 + X[:, 0]


def make_scores(n, rng):
    """Scores 3..8: a latent Gaussian around 5.5 + x, rounded and clipped."""
    X = rng.uniform(-2, 2, size=(n, 1))
    y = np.clip(np.round(latent_mean(X) + NOISE * rng.normal(size=n)), 3, 8)
    return X, y


def true_probabilities(X):
    """P(y = k | x) for every score k, shape (n, 6)."""
    return np.diff(stats.norm.cdf(EDGES, latent_mean(X)[:, None], NOISE), axis=1)


def score_probabilities(dist):
    """Mass of a predictive density on each score's bin, shape (n, 6)."""
    inner = dist.cdf(np.broadcast_to(EDGES[1:-1], (len(dist), len(EDGES) - 2)))
    return np.diff(np.column_stack([np.zeros(len(dist)), inner, np.ones(len(dist))]), axis=1)


rng = np.random.default_rng(0)
X_train, y_train = make_scores(N_TRAIN, rng)
X_test, y_test = make_scores(2000, rng)
columns = np.searchsorted(SCORES, y_test)
true_log_loss = -np.mean(np.log(true_probabilities(X_test)[np.arange(len(y_test)), columns]))

network = {"hidden_layer_sizes": (64, 64), "max_iter": MAX_ITER, "random_state": 0}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", DiscreteTargetWarning)
    spiky = make_pipeline(StandardScaler(), MixtureDensityRegressor(n_components=6, **network))
    spiky.fit(X_train, y_train)
print(f"{caught[0].category.__name__}: {caught[0].message}\n")

dequantised_y = y_train + rng.uniform(-0.5, 0.5, size=len(y_train))
dequantised = make_pipeline(StandardScaler(), MixtureDensityRegressor(n_components=6, **network))
dequantised.fit(X_train, dequantised_y)
classifier = make_pipeline(StandardScaler(), DropoutMLPClassifier(**network))
classifier.fit(X_train, y_train)

# %%
# Scores on held-out data
# -----------------------
#
# The raw mixture's NLL is below the log loss of the *true* model (by at most
# log(1.38) = 0.32 nats, thanks to the scale floor): it is a density evaluated
# at the peaks, not a probability of the scores. The dequantised mixture and the classifier
# give probabilities of the scores, and their log losses sit just above the
# truth's.

bin_masses = score_probabilities(dequantised.predict_dist(X_test))
classifier_probs = classifier.predict_proba(X_test)
rows = np.arange(len(y_test))
spiky_nll = negative_log_likelihood(y_test, spiky.predict_dist(X_test))
dequantised_log_loss = -np.mean(np.log(bin_masses[rows, columns]))
classifier_log_loss = -np.mean(np.log(classifier_probs[rows, columns]))
print(f"raw mixture, NLL of the scores as a density: {spiky_nll:6.3f}")
print(f"dequantised mixture, log loss of the scores: {dequantised_log_loss:6.3f}")
print(f"dropout classifier, log loss:                {classifier_log_loss:6.3f}")
print(f"true model, log loss:                        {true_log_loss:6.3f}")

# %%
# Spikes against bins
# -------------------
#
# At one input, the raw mixture's density (left, log scale) is a comb of
# peaks on the integers, as narrow as the scale floor allows; the dequantised
# one is a smooth density whose mass in each bin follows the true
# probabilities (right), as do the classifier's.

x0 = np.array([[0.3]])
grid = np.union1d(np.linspace(2.5, 8.5, 4001), SCORES)  # the spikes' centres too
fig, (ax_density, ax_probs) = plt.subplots(1, 2, figsize=(11, 4.2))
spiky_density = spiky.predict_dist(x0).pdf(grid[None, :])[0]
ax_density.plot(grid, spiky_density, lw=1, label="mixture on raw scores")
ax_density.plot(grid, dequantised.predict_dist(x0).pdf(grid[None, :])[0], lw=2,
                label="mixture on dequantised scores")
ax_density.set(xlabel="y", ylabel="predictive density", yscale="log",
               ylim=(1e-3, 5 * spiky_density.max()), title="Predictive density at x = 0.3")
ax_density.legend(loc="upper left")

width = 0.27
ax_probs.bar(SCORES - width, true_probabilities(x0)[0], width, label="truth")
ax_probs.bar(SCORES, score_probabilities(dequantised.predict_dist(x0))[0], width,
             label="dequantised mixture, bin mass")
ax_probs.bar(SCORES + width, classifier.predict_proba(x0)[0], width, label="dropout classifier")
ax_probs.set(xlabel="score", ylabel="P(score | x = 0.3)", title="Probabilities of the scores")
ax_probs.legend()
fig.tight_layout()
plt.show()
