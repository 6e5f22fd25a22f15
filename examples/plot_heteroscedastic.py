"""
Heteroscedastic regression: predict a distribution, not a point
===============================================================

This is the toy problem of TensorFlow Probability's tutorial "Regression with
probabilistic layers", where the lecture starts: a line with a wiggle,
``y = 0.125 x (1 + sin x) + 5 + noise``, whose noise standard deviation grows
five-fold from the left of the input range to the right
(:func:`~skprob.datasets.make_heteroscedastic`). At every ``x`` there is a
whole distribution of plausible ``y``, so a single predicted number cannot be
the full answer.

We fit three models with the same input features and the same network, and
differing only in what the network outputs and in the loss:

1. **Least squares (mean only)**: the network predicts the mean and is trained
   by mean squared error; we give it one noise level for all ``x``, the
   standard deviation of its training residuals.
2. **Normal head**: the network predicts the mean *and* the standard deviation
   of a Gaussian, trained by negative log-likelihood (NLL) — the lecture's
   ``tfp.layers.IndependentNormal`` model, here
   ``MixtureDensityRegressor(n_components=1)``.
3. **Mixture density network**: the network predicts a mixture of three
   Gaussians, trained by NLL.
"""

# %%
# Why the negative log-likelihood?
# --------------------------------
#
# We want the model's conditional density :math:`q_\theta(y \mid x)` to be
# close to the true one, :math:`p(y \mid x)`. The Kullback-Leibler divergence,
# averaged over the inputs, measures how far it is:
#
# .. math::
#
#    \mathbb{E}_{p(x)}\,\mathrm{KL}\big(p(y \mid x) \,\|\, q_\theta(y \mid x)\big)
#    = \underbrace{\mathbb{E}_{p(x, y)} \log p(y \mid x)}_{\text{independent of } \theta}
#    \; - \; \mathbb{E}_{p(x, y)} \log q_\theta(y \mid x).
#
# The first term does not depend on the model, so minimising the divergence
# is minimising the expected negative log-likelihood
# :math:`-\mathbb{E} \log q_\theta(y \mid x)`, which we estimate by the mean
# over the training set. Because this dataset comes with its true conditional
# distribution, we can also compute the first term on test data: the test NLL
# of a model minus the NLL of the truth estimates the KL divergence, in nats,
# and is zero only for a perfect model.
#
# Least squares is the special case of a Gaussian with a *fixed* standard
# deviation: the NLL is then the squared error up to constants. It learns the
# mean but has no way to learn how the noise changes with ``x``.


import matplotlib.pyplot as plt
import numpy as np
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import SplineTransformer

from skprob import MixtureDensityRegressor
from skprob.datasets import make_heteroscedastic
from skprob.distributions import Normal
from skprob.metrics import interval_coverage, negative_log_likelihood
from skprob.pipeline import make_pipeline
from skprob.plotting import plot_predictive_band

N_TRAIN = 8000
MAX_ITER = 200
# sphinx_gallery_start_ignore
# The test suite and the documentation build set SKPROB_EXAMPLES_FAST=1 to run
# the example on shrunken data in a few seconds (this block is not shown in the
# rendered example).
import os  # noqa: E402

if os.environ.get("SKPROB_EXAMPLES_FAST") == "1":
    N_TRAIN, MAX_ITER = 1000, 100
# sphinx_gallery_end_ignore

X_train, y_train = make_heteroscedastic(N_TRAIN, random_state=0)
X_test, y_test, true_dist = make_heteroscedastic(2000, random_state=1, return_distribution=True)

# %%
# The same features and network for all three
# -------------------------------------------
#
# ``x`` spans 80 units, about 13 periods of :math:`\sin x`. A small network
# on the raw scalar needs many epochs to resolve that many wiggles, so every
# model gets the same 60-knot cubic-spline features of ``x`` in a pipeline,
# as a scikit-learn user would do. :func:`skprob.pipeline.make_pipeline`
# builds a pipeline that also forwards ``predict_dist``.

network = {
    "hidden_layer_sizes": (64, 64),
    "max_iter": MAX_ITER,
    "early_stopping": True,  # stop when the NLL (or MSE) of a held-out 10% stops improving
    "random_state": 0,
}


least_squares = make_pipeline(
    SplineTransformer(n_knots=60), MLPRegressor(**network)
).fit(X_train, y_train)
residual_std = np.std(y_train - least_squares.predict(X_train))

normal_head = make_pipeline(
    SplineTransformer(n_knots=60), MixtureDensityRegressor(**network, n_components=1)
).fit(X_train, y_train)

mdn = make_pipeline(
    SplineTransformer(n_knots=60), MixtureDensityRegressor(**network, n_components=3)
).fit(X_train, y_train)

mean_prediction = least_squares.predict(X_test)
predictions = {
    "least squares + constant noise": Normal(mean_prediction, residual_std),
    "Normal head (NLL)": normal_head.predict_dist(X_test),
    "mixture of 3 Gaussians (NLL)": mdn.predict_dist(X_test),
}

# %%
# Scores against the truth
# ------------------------
#
# The NLL of the true conditional distribution is the lowest value any model
# can reach on these test points. The constant-noise model pays for its
# too-wide intervals on the left and its too-narrow ones on the right, even
# though its mean is as good as the others'; its 90% intervals still cover
# about 90% of the points *on average*, which is why coverage alone is not
# enough. The Normal head and the mixture learn the noise level and come
# within a few hundredths of a nat of the truth. The mixture loses nothing
# when the truth is a single Gaussian: its extra components merge or fade.

true_nll = negative_log_likelihood(y_test, true_dist)
print(f"true conditional distribution: NLL = {true_nll:.3f}")
excess_nll = {}
for name, dist in predictions.items():
    nll = negative_log_likelihood(y_test, dist)
    excess_nll[name] = nll - true_nll
    rmse = np.sqrt(np.mean((dist.mean() - y_test) ** 2))
    print(
        f"{name:32s} NLL = {nll:.3f} (truth + {nll - true_nll:.3f}), RMSE = {rmse:.2f}, "
        f"90% coverage = {interval_coverage(y_test, dist, 0.9):.3f}"
    )

# %%
# Predictive bands
# ----------------
#
# Each panel shows test data, the predictive mean and the 68% and 95%
# central intervals of one model; the dashed lines are the true 95% interval.
# The last panel shows the estimated KL divergence of each model.

true_lower, true_upper = true_dist.interval(0.95)
order = np.argsort(X_test[:, 0])
shown = slice(0, 800)  # a subset of the test points keeps the bands visible
fig, axes = plt.subplots(2, 2, figsize=(11, 8), layout="constrained")
for ax, (name, dist) in zip(axes.flat[:3], predictions.items(), strict=True):
    plot_predictive_band(X_test[shown], dist[shown], y=y_test[shown], ax=ax)
    ax.plot(X_test[order, 0], true_lower[order], "k--", linewidth=0.8)
    ax.plot(X_test[order, 0], true_upper[order], "k--", linewidth=0.8)
    ax.set_title(name)
    ax.set_ylim(-5, 32)

ax = axes[1, 1]
ax.bar(range(len(excess_nll)), list(excess_nll.values()), color=["C7", "C0", "C1"])
ax.set_xticks(range(len(excess_nll)), [name.split(" (")[0] for name in excess_nll],
              rotation=10, fontsize="small")
ax.set_ylabel("test NLL − true NLL (nats) ≈ KL")
ax.set_title("distance from the true p(y | x)")
plt.show()
