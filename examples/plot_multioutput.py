"""
Several outputs: a joint predictive density whose correlation changes with x
============================================================================

:func:`~skprob.datasets.make_correlated_outputs` draws two outputs whose
means and noise levels depend on ``x``, and whose noise is correlated with
:math:`\\rho(x) = 0.8 \\tanh x`: strongly negative on the left, absent in the
middle, strongly positive on the right.

A model of each output on its own (``MultiOutputRegressor``) can get every
marginal right and still miss this correlation. Fitted on ``y`` of shape
``(n_samples, 2)``, a :class:`~skprob.MixtureDensityRegressor` models the two
outputs jointly: its components are full-covariance Gaussians, and
``predict_dist`` returns a
:class:`~skprob.distributions.MultivariateGaussianMixture`.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.multioutput import MultiOutputRegressor
from sklearn.preprocessing import StandardScaler

from skprob import MixtureDensityRegressor
from skprob.datasets import make_correlated_outputs
from skprob.metrics import (
    energy_score,
    interval_coverage,
    neg_nll_scorer,
    negative_log_likelihood,
)
from skprob.pipeline import make_pipeline, predict_dist
from skprob.plotting import plot_joint_density

N_TRAIN = 4000
MAX_ITER = 100
# sphinx_gallery_start_ignore
# The test suite and the documentation build set SKPROB_EXAMPLES_FAST=1 to run
# the example on shrunken data in a few seconds (this block is not shown in the
# rendered example).
import os  # noqa: E402

if os.environ.get("SKPROB_EXAMPLES_FAST") == "1":
    N_TRAIN, MAX_ITER = 1500, 40
# sphinx_gallery_end_ignore

X_train, y_train = make_correlated_outputs(N_TRAIN, random_state=0)
X_test, y_test, true_dist = make_correlated_outputs(2000, random_state=1,
                                                    return_distribution=True)

network = {"hidden_layer_sizes": (32, 32), "max_iter": MAX_ITER, "batch_size": 100,
           "learning_rate_init": 1e-2, "alpha": 1e-4, "early_stopping": False,
           "random_state": 0}
joint = make_pipeline(
    StandardScaler(), MixtureDensityRegressor(**network, n_components=2)
).fit(X_train, y_train)
separate = make_pipeline(
    StandardScaler(), MultiOutputRegressor(MixtureDensityRegressor(**network, n_components=2))
).fit(X_train, y_train)

# %%
# Scores of the joint density
# ---------------------------
#
# The joint model's negative log-likelihood is close to the truth's. The
# separate models' joint density is the product of their marginals (skprob's
# ``neg_nll_scorer`` sums their NLLs), which costs them the mutual
# information of the outputs; their per-output 90% coverages are as good.

dist = predict_dist(joint, X_test)
marginals = predict_dist(separate, X_test)  # a list: one GaussianMixture per output
print(f"NLL  truth {negative_log_likelihood(y_test, true_dist):.3f}, "
      f"joint MDN {negative_log_likelihood(y_test, dist):.3f}, "
      f"separate MDNs {-neg_nll_scorer(separate, X_test, y_test):.3f}")
print(f"energy score  truth {energy_score(y_test, true_dist):.4f}, "
      f"joint MDN {energy_score(y_test, dist):.4f}")
print("90% coverage per output  joint", np.round(interval_coverage(y_test, dist), 3),
      " separate", [round(interval_coverage(y_test[:, j], m), 3)
                    for j, m in enumerate(marginals)])

# %%
# The correlation, learned as a function of x
# -------------------------------------------
#
# The separate models' correlation is zero by construction.

order = np.argsort(X_test[:, 0])
fig, ax = plt.subplots()
ax.plot(X_test[order, 0], true_dist.corr()[order, 0, 1], "k--", label="true")
ax.plot(X_test[order, 0], dist.corr()[order, 0, 1], label="joint MDN")
ax.axhline(0.0, color="C1", label="separate MDNs")
ax.set(xlabel="x", ylabel="corr(y[0], y[1] | x)")
ax.legend()

# %%
# The joint density at three inputs
# ---------------------------------
#
# 50% and 90% highest-density contours of the prediction (filled) and of the
# truth (dashed) at the test inputs nearest x = -2.5, 0 and 2.5: the ellipses
# tilt one way, stand upright, and tilt the other.

rows = [int(np.argmin(np.abs(X_test[:, 0] - x))) for x in (-2.5, 0.0, 2.5)]
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for row, ax in zip(rows, axes, strict=True):
    plot_joint_density(dist, row, true_dist=true_dist, y_true=y_test[row], ax=ax)
    ax.set_title(f"x = {X_test[row, 0]:.2f}")
plt.tight_layout()
plt.show()
