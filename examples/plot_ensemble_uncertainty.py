r"""
Deep ensembles: in-between uncertainty
======================================

A deep ensemble (Lakshminarayanan et al. 2017) trains several copies of one
network from different random initialisations and minibatch orders. Where the
data pin the function down, the members agree; between and beyond the
training inputs nothing does, and they disagree. That disagreement is the
ensemble's **epistemic** uncertainty, and the noise each member predicts is the
**aleatoric** part.

:class:`~skprob.DeepEnsembleRegressor` stacks its members on one axis of a
single network and trains them in one batched computation, so five members
cost far less than five fits. We compare it with MC dropout
(:class:`~skprob.DropoutMLPRegressor`) and variational inference
(:class:`~skprob.BayesianMLPRegressor`) on a 1-D problem whose training
inputs lie in :math:`[-3, -1] \cup [1, 3]`: a model that knows what it does
not know should be unsure in the gap around 0 as well as beyond :math:`|x| = 3`.
"""

# %%
# Splitting the ensemble's variance
# ---------------------------------
#
# The ensemble's predictive distribution is the equal-weight mixture of its
# :math:`M` members' :math:`p_m(y \mid x)`, each with mean :math:`\mu_m(x)`
# and variance :math:`\sigma_m^2(x)`. By the law of total variance,
#
# .. math::
#
#    \operatorname{Var}[y \mid x]
#    = \underbrace{\frac{1}{M} \sum_m \sigma_m^2(x)}_{\text{aleatoric}}
#    + \underbrace{\frac{1}{M} \sum_m \big(\mu_m(x) - \bar\mu(x)\big)^2}_{\text{epistemic}},
#
# which :meth:`~skprob.DeepEnsembleRegressor.predict_uncertainty` returns, in
# the same :class:`~skprob.Uncertainty` tuple as the Monte Carlo estimators.

import os

import matplotlib.pyplot as plt
import numpy as np

from skprob import (
    BayesianMLPRegressor,
    DeepEnsembleRegressor,
    DropoutMLPRegressor,
    MixtureDensityRegressor,
)

EPOCHS = 200
# sphinx_gallery_start_ignore
# The test suite and the documentation build set SKPROB_EXAMPLES_FAST=1 to run
# the example on shrunken data in a few seconds (this block is not shown in the
# rendered example).
if os.environ.get("SKPROB_EXAMPLES_FAST") == "1":
    EPOCHS = 40
# sphinx_gallery_end_ignore

rng = np.random.default_rng(0)
n = 400
x = np.concatenate([rng.uniform(-3, -1, n // 2), rng.uniform(1, 3, n // 2)])
X, y = x[:, None], np.sin(x) + 0.1 * rng.normal(size=n)

models = {
    "Deep ensemble (5 MDNs)": DeepEnsembleRegressor(
        MixtureDensityRegressor(n_components=1, max_iter=EPOCHS, batch_size=32),
        n_estimators=5, random_state=0,
    ),
    "MC dropout": DropoutMLPRegressor(
        max_iter=EPOCHS, batch_size=32, n_mc_samples=100, random_state=0
    ),
    "Variational inference": BayesianMLPRegressor(
        max_iter=EPOCHS, batch_size=32, learning_rate_init=1e-2, n_mc_samples=100,
        random_state=0,
    ),
}
for model in models.values():
    model.fit(X, y)

# %%
# Predictive bands and epistemic spread
# -------------------------------------
#
# Top row: the predictive mean with a band of two total standard deviations
# (light) and of two epistemic standard deviations (dark). Bottom: the
# epistemic standard deviation divided by its mean over the training inputs,
# the ratio the test suite checks for the ensemble (at least 3 at
# :math:`x = 0` and 5 at :math:`|x| = 5`).

grid = np.linspace(-6, 6, 400)[:, None]
fig, axes = plt.subplots(2, 3, figsize=(12, 6), sharex=True, sharey="row")
for column, (name, model) in enumerate(models.items()):
    mean = model.predict(grid)
    u = model.predict_uncertainty(grid)
    ax = axes[0, column]
    ax.fill_between(grid[:, 0], mean - 2 * np.sqrt(u.total), mean + 2 * np.sqrt(u.total),
                    alpha=0.2, color="C0", label="total ±2 std")
    ax.fill_between(grid[:, 0], mean - 2 * np.sqrt(u.epistemic),
                    mean + 2 * np.sqrt(u.epistemic), alpha=0.5, color="C0",
                    label="epistemic ±2 std")
    ax.plot(grid[:, 0], mean, color="C0")
    ax.scatter(x, y, s=4, color="k", alpha=0.4)
    ax.set_ylim(-3, 3)
    ax.set_title(name)
    inside = np.sqrt(model.predict_uncertainty(X).epistemic).mean()
    axes[1, column].plot(grid[:, 0], np.sqrt(u.epistemic) / inside, color="C1")
    axes[1, column].set_xlabel("x")
axes[0, 0].legend(loc="upper left")
axes[1, 0].set_ylabel("epistemic std / mean inside")
for ax in axes[1]:
    ax.set_yscale("log")
    for edge in (-3, -1, 1, 3):
        ax.axvline(edge, color="0.8", lw=0.8)
fig.tight_layout()

# %%
# The ensemble's members agree on the data and spread apart in the gap and
# beyond, because nothing there ties their independently initialised
# weights together. MC dropout grows its spread mostly outside the data: its
# passes share one set of weights, so the gap, which the network interpolates
# smoothly, looks familiar to all of them. Variational inference sits in
# between. The ensemble needs no change to the member network or to its
# training: any skprob network regressor can be a member
# (``DeepEnsembleRegressor(DropoutMLPRegressor())`` adds each member's own
# dropout spread to the epistemic part).
