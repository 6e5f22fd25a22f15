r"""
Epistemic uncertainty: what the model does not know
===================================================

Two kinds of uncertainty enter a prediction. **Aleatoric** uncertainty is the
noise in the data themselves: even with infinite data, :math:`y` given
:math:`x` keeps a spread, and more data do not reduce it. **Epistemic**
uncertainty is the model's ignorance: with finite data many networks fit the
training set, and they disagree wherever the data do not pin them down,
between and beyond the training inputs. More data there would reduce it.

A network trained by negative log-likelihood with a single set of weights, such
as :class:`~skprob.MixtureDensityRegressor`, learns the aleatoric part only.
To get the epistemic part, the weights themselves need a distribution:

* :class:`~skprob.BayesianMLPRegressor` learns a Gaussian posterior over every
  weight by variational inference (Blundell et al. 2015);
* :class:`~skprob.DropoutMLPRegressor` keeps dropout on at prediction, which
  samples sub-networks and approximates such a posterior (Gal & Ghahramani
  2016).

We fit them to a one-dimensional problem with a gap: the training inputs
lie in :math:`[-3, -1] \cup [1, 3]`, and we predict on :math:`[-6, 6]`.
"""

# %%
# Splitting the predictive variance
# ---------------------------------
#
# The Bayesian and the dropout network predict with :math:`T` stochastic
# passes, each with its own weights :math:`w_t` (a posterior draw or a
# dropout mask), and each pass gives a Gaussian
# :math:`\mathcal{N}(\mu_t(x), \sigma_t(x)^2)`. The predictive distribution is
# their equal-weight mixture, and the law of total variance splits its
# variance in two:
#
# .. math::
#
#    \operatorname{Var}[y \mid x]
#    = \underbrace{\frac{1}{T} \sum_{t=1}^T \sigma_t(x)^2}
#      _{\text{aleatoric: noise each pass predicts}}
#    \; + \; \underbrace{\frac{1}{T} \sum_{t=1}^T \big(\mu_t(x) - \bar\mu(x)\big)^2}
#      _{\text{epistemic: disagreement of the passes}},
#    \qquad \bar\mu(x) = \frac{1}{T} \sum_{t=1}^T \mu_t(x).
#
# ``predict_uncertainty(X)`` returns the two terms and their sum. Where the
# data constrain the weights, all passes agree and the epistemic term is small;
# away from the data it should grow.


import matplotlib.pyplot as plt
import numpy as np

from skprob import BayesianMLPRegressor, DropoutMLPRegressor, MixtureDensityRegressor
from skprob.plotting import plot_predictive_band

N_TRAIN = 2000
# Half the data with half the batch size keeps most of the optimisation steps,
# which the Bayesian network needs to open up its posterior.
BATCH_SIZE = 64
MAX_ITER = 100
# sphinx_gallery_start_ignore
# The test suite and the documentation build set SKPROB_EXAMPLES_FAST=1 to run
# the example on shrunken data in a few seconds (this block is not shown in the
# rendered example).
import os  # noqa: E402

if os.environ.get("SKPROB_EXAMPLES_FAST") == "1":
    N_TRAIN, BATCH_SIZE, MAX_ITER = 1000, 32, 60
# sphinx_gallery_end_ignore


def noise_std(x):
    """The true aleatoric standard deviation, growing from left to right."""
    return 0.1 + 0.04 * (x + 3.0)


def gap_data(n, seed):
    """Inputs on [-3, -1] and [1, 3] only; y = sin(x) + heteroscedastic noise."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(-3, -1, n // 2), rng.uniform(1, 3, n - n // 2)])
    return x[:, None], np.sin(x) + noise_std(x) * rng.normal(size=n)


X_train, y_train = gap_data(N_TRAIN, seed=0)

# %%
# Four models on the same data
# ----------------------------
#
# Two hidden layers of 64 units in every network. The two dropout networks
# differ only in their activation: gelu, which ``activation="auto"`` (the
# default) picks for two or more hidden layers, and relu, because for MC
# dropout the activation changes where the uncertainty goes (see below). The
# Bayesian network's prior (``prior_std=1``) and the dropout rate (10%) set
# how far the networks may spread where there are no data; 200 passes
# estimate the mixture.

models = {
    "Bayesian MLP (variational inference)": BayesianMLPRegressor(
        (64, 64), n_mc_samples=200, max_iter=MAX_ITER, batch_size=BATCH_SIZE,
        learning_rate_init=1e-2, random_state=0,
    ),
    "MC-dropout MLP, gelu (the default)": DropoutMLPRegressor(
        (64, 64), dropout_rate=0.1, n_mc_samples=200, max_iter=MAX_ITER, batch_size=BATCH_SIZE,
        random_state=0,
    ),
    "MC-dropout MLP, relu": DropoutMLPRegressor(
        (64, 64), activation="relu", dropout_rate=0.1, n_mc_samples=200, max_iter=MAX_ITER,
        batch_size=BATCH_SIZE, random_state=0,
    ),
    "mixture density network": MixtureDensityRegressor(
        (64, 64), n_components=1, max_iter=MAX_ITER, batch_size=BATCH_SIZE, random_state=0,
    ),
}
x_grid = np.linspace(-6, 6, 400)[:, None]
predictions = {}
for name, model in models.items():
    model.fit(X_train, y_train)
    dist = model.predict_dist(x_grid)
    if hasattr(model, "predict_uncertainty"):
        aleatoric, epistemic = model.predict_uncertainty(x_grid)[1:]
    else:  # one set of weights: all the predicted variance is aleatoric
        aleatoric, epistemic = dist.var(), np.zeros(len(x_grid))
    predictions[name] = dist, aleatoric, epistemic

in_gap, outside = np.abs(x_grid[:, 0]) < 0.5, np.abs(x_grid[:, 0]) > 5
on_data = (np.abs(x_grid[:, 0]) > 1) & (np.abs(x_grid[:, 0]) < 3)
for name, (_, _, epistemic) in predictions.items():
    std = np.sqrt(epistemic)
    print(f"{name:>37}: epistemic std on the data {std[on_data].mean():.3f}, in the gap "
          f"|x| < 0.5 {std[in_gap].mean():.3f}, beyond |x| > 5 {std[outside].mean():.3f}")

# %%
# Predictive bands and the two standard deviations
# ------------------------------------------------
#
# Top: the predictive mean with its 68% and 95% intervals
# (:func:`~skprob.plotting.plot_predictive_band`), the training data and the
# true mean :math:`\sin x`; the grey regions have no training data. Bottom:
# the square roots of the aleatoric and epistemic variances, against the true
# noise standard deviation.
#
# All four models learn the noise where there are data. Beyond the data the
# Bayesian network's weight draws fan out and its epistemic standard
# deviation grows many-fold, so its intervals widen. Its aleatoric
# term grows too: the noise level the passes predict is itself uncertain there,
# and the split counts the mean predicted noise as aleatoric although part of
# it is ignorance. The mixture density network has no epistemic term at all:
# it extrapolates its mean and its noise level with the confidence it has on
# the data.
#
# MC dropout depends on the activation. Behind the gelu layers its epistemic
# standard deviation beyond :math:`|x| = 5` is four to five times that on the
# data; behind relu layers at most about twice, and in shorter runs (the
# documentation's build trains for 60 epochs on 1,000 rows) even smaller than
# on the data. A relu network is piecewise linear: once its masked copies
# agree on the data they continue the same lines beyond it, and the units
# that bend the fit at the edge of the data are switched off past it, leaving
# dropout nothing to vary. A smooth activation bends everywhere, differently
# under every mask. With a single hidden layer relu keeps its growth (three
# to five times), which is why ``activation="auto"`` is relu only there.
# Dropout's rate is the same in both networks; the shape of its uncertainty
# comes from the architecture, which is one reason to check the epistemic
# term on inputs like those the model will be asked about.
#
# In the gap between the two clusters the approximate posteriors stay about as
# confident as on the data (1.1 to 1.8 times), although :math:`\sin x` is not
# determined there. This is a known weakness of these approximations, not of
# Bayesian inference: Foong et al. (2019) showed that mean-field variational
# inference fails to give larger uncertainty in between separated regions of
# data, and Foong, Burt et al. (2020) proved that, with one hidden layer,
# neither a mean-field Gaussian nor an MC-dropout posterior can have
# substantially larger uncertainty in between well-separated regions of low
# uncertainty, and found the same behaviour in deeper networks. Posteriors
# with correlations between the weights, such as the linearised Laplace
# approximation, fill the gap better.

fig, axes = plt.subplots(2, 4, figsize=(20, 7.5), layout="constrained", sharex=True,
                         sharey="row")
for column, (name, (dist, aleatoric, epistemic)) in enumerate(predictions.items()):
    ax = plot_predictive_band(x_grid, dist, ax=axes[0, column])
    ax.scatter(X_train[:, 0], y_train, s=4, color="0.3", alpha=0.5, label="training data")
    ax.plot(x_grid, np.sin(x_grid), "k--", linewidth=1, label="true mean")
    ax.set(title=name, ylim=(-4, 4))
    ax = axes[1, column]
    ax.plot(x_grid, np.sqrt(aleatoric), color="C1", linewidth=2, label="aleatoric std")
    ax.plot(x_grid, np.sqrt(epistemic), color="C3", linewidth=2, label="epistemic std")
    ax.plot(x_grid, noise_std(x_grid), "k--", linewidth=1, label="true noise std")
    ax.set(xlabel="x", ylabel="standard deviation", ylim=(0, 2))
    for row in range(2):
        for lower, upper in [(-6, -3), (-1, 1), (3, 6)]:
            axes[row, column].axvspan(lower, upper, color="0.9", zorder=0)
axes[0, 0].legend(loc="lower left", fontsize="small")
axes[1, 0].legend(loc="upper left", fontsize="small")
plt.show()

# %%
# References
# ----------
#
# C. Blundell, J. Cornebise, K. Kavukcuoglu and D. Wierstra, "Weight
# Uncertainty in Neural Networks", ICML 2015.
#
# Y. Gal and Z. Ghahramani, "Dropout as a Bayesian Approximation: Representing
# Model Uncertainty in Deep Learning", ICML 2016.
#
# A. Y. K. Foong, Y. Li, J. M. Hernández-Lobato and R. E. Turner, "'In-Between'
# Uncertainty in Bayesian Neural Networks", ICML Workshop on Uncertainty and
# Robustness in Deep Learning, 2019 (arXiv:1906.11537).
#
# A. Y. K. Foong, D. R. Burt, Y. Li and R. E. Turner, "On the Expressiveness of
# Approximate Inference in Bayesian Neural Networks", NeurIPS 2020
# (arXiv:1909.00719).
