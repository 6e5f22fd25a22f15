"""
Model selection by held-out negative log-likelihood
===================================================

How many Gaussians should a mixture density network have? Like any other
hyper-parameter, choose it by cross-validation, but score the candidates by
what they are trained to do: assign high probability to held-out data. The
held-out negative log-likelihood (NLL) is a *proper* scoring rule: its
expectation is minimised by the true conditional distribution, so it cannot be
gamed by intervals that are too wide or too narrow. The continuous ranked
probability score (CRPS) is another proper score, in the units of ``y``.

scikit-learn's default score for regressors, :math:`R^2`, only looks at the
predictive mean. On the two-branch problem of
:func:`~skprob.datasets.make_bimodal` the mean is the same whether the network
predicts one Gaussian or a mixture, so :math:`R^2` cannot tell the candidates
apart, while the NLL can.
"""


import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from skprob import MixtureDensityRegressor
from skprob.datasets import make_bimodal
from skprob.metrics import neg_crps_scorer, neg_nll_scorer
from skprob.pipeline import make_pipeline

N_TRAIN = 2000
MAX_ITER = 60
# sphinx_gallery_start_ignore
# The test suite and the documentation build set SKPROB_EXAMPLES_FAST=1 to run
# the example on shrunken data in a few seconds (this block is not shown in the
# rendered example).
import os  # noqa: E402

if os.environ.get("SKPROB_EXAMPLES_FAST") == "1":
    N_TRAIN = 600
# sphinx_gallery_end_ignore

X, y = make_bimodal(N_TRAIN, random_state=0)

# %%
# A grid search with distribution scorers
# ---------------------------------------
#
# :data:`skprob.metrics.neg_nll_scorer` and
# :data:`skprob.metrics.neg_crps_scorer` follow scikit-learn's scorer protocol
# (``scorer(estimator, X, y)``, greater is better): they call ``predict_dist``
# on the held-out fold, looking through the pipeline, and return the negated
# metric. They go into ``scoring=`` like any scikit-learn scorer, here together
# with ``"r2"``; ``refit="nll"`` refits the candidate with the best NLL.

model = make_pipeline(
    StandardScaler(),
    MixtureDensityRegressor(
        hidden_layer_sizes=(32, 32),
        batch_size=64,
        learning_rate_init=3e-3,
        max_iter=MAX_ITER,
        random_state=0,
    ),
)
search = GridSearchCV(
    model,
    param_grid={"mixturedensityregressor__n_components": [1, 2, 3, 5]},
    scoring={"nll": neg_nll_scorer, "crps": neg_crps_scorer, "r2": "r2"},
    refit="nll",
    cv=3,
).fit(X, y)

n_components = search.cv_results_["param_mixturedensityregressor__n_components"].data
print(f"best n_components by held-out NLL: {search.best_params_}")
for k, nll, crps, r2 in zip(
    n_components,
    -search.cv_results_["mean_test_nll"],
    -search.cv_results_["mean_test_crps"],
    search.cv_results_["mean_test_r2"],
    strict=True,
):
    print(f"n_components = {k}: NLL = {nll:.3f}, CRPS = {crps:.3f}, R² = {r2:.3f}")

# %%
# The three scores against the number of components
# -------------------------------------------------
#
# Each point is the mean over the three folds, with the standard deviation as
# error bar. One Gaussian must cover both branches and the gap between them,
# so its NLL and CRPS are much worse; from two components on, the mixture can
# put one on each branch and the scores level off. :math:`R^2` barely moves.

fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
panels = [
    ("nll", -1, "held-out NLL (lower is better)"),
    ("crps", -1, "held-out CRPS (lower is better)"),
    ("r2", 1, "held-out R² (higher is better)"),
]
for ax, (name, sign, label) in zip(axes, panels, strict=True):
    ax.errorbar(
        n_components,
        sign * search.cv_results_[f"mean_test_{name}"],
        yerr=search.cv_results_[f"std_test_{name}"],
        fmt="o-",
        capsize=3,
    )
    ax.set(xlabel="n_components", ylabel=label, xticks=n_components)
best = search.best_params_["mixturedensityregressor__n_components"]
axes[2].set_ylim(0.0, 1.0)
axes[0].axvline(best, color="C3", linestyle=":", label="selected")
axes[0].legend()
plt.show()

# %%
# The selected model is refitted on all the data (``search.best_estimator_``)
# and keeps the pipeline's ``predict_dist``. Its mixture weights give the
# probability of each branch at a given ``x``:

x_new = np.array([[-1.0], [0.0], [1.0]])
dist = search.best_estimator_.predict_dist(x_new)
for x, weights, means in zip(x_new[:, 0], dist.weights, dist.means, strict=True):
    print(f"x = {x:+.0f}: weights {np.round(weights, 2)}, means {np.round(means, 2)}")
