"""
Two branches: where least squares predicts the empty middle
===========================================================

When the conditional distribution :math:`p(y \\mid x)` has two modes, the
best prediction in the mean-squared-error sense is their weighted average,
which can fall where no data ever lies.
:func:`~skprob.datasets.make_bimodal` draws ``y`` on one of two branches,
``sin(x) ± (2 + 0.5 cos x)``, with the upper branch slightly more likely for
positive ``x``.

A network trained by mean squared error dutifully learns the conditional
*mean*, in the gap. A mixture density network (Bishop 1994) trained by
negative log-likelihood learns the whole conditional density and finds both
branches, with their weights.
"""


import matplotlib.pyplot as plt
import numpy as np
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from skprob import MixtureDensityRegressor
from skprob.datasets import make_bimodal
from skprob.metrics import negative_log_likelihood
from skprob.pipeline import make_pipeline
from skprob.plotting import plot_mixture_components, plot_predictive_band

N_TRAIN = 4000
MAX_ITER = 150
# sphinx_gallery_start_ignore
# The test suite and the documentation build set SKPROB_EXAMPLES_FAST=1 to run
# the example on shrunken data in a few seconds (this block is not shown in the
# rendered example).
import os  # noqa: E402

if os.environ.get("SKPROB_EXAMPLES_FAST") == "1":
    N_TRAIN, MAX_ITER = 2000, 100
# sphinx_gallery_end_ignore

X_train, y_train = make_bimodal(N_TRAIN, random_state=0)
X_test, y_test, true_dist = make_bimodal(1000, random_state=1, return_distribution=True)

network = {"hidden_layer_sizes": (64, 64), "max_iter": MAX_ITER, "random_state": 0}
least_squares = make_pipeline(StandardScaler(), MLPRegressor(**network)).fit(X_train, y_train)
mdn = make_pipeline(
    StandardScaler(), MixtureDensityRegressor(**network, n_components=3)
).fit(X_train, y_train)

# %%
# The mean is not a typical value
# -------------------------------
#
# The MDN's predictive mean agrees with the least-squares prediction: both
# estimate :math:`\mathbb{E}[y \mid x]`. But the MDN's density at its own mean
# is tiny compared with its density at the observed targets, because the mean
# lies between the branches. The test NLL of the MDN is close to that of the
# true distribution.

dist = mdn.predict_dist(X_test)
mean_gap = np.sqrt(np.mean((dist.mean() - least_squares.predict(X_test)) ** 2))
print(f"RMS difference between the MDN mean and the least-squares prediction: {mean_gap:.3f}")
print(f"MDN density at its mean:          {dist.pdf(dist.mean()).mean():.3f}")
print(f"MDN density at the test targets:  {dist.pdf(y_test).mean():.3f}")
print(f"test NLL: MDN {negative_log_likelihood(y_test, dist):.3f}, "
      f"truth {negative_log_likelihood(y_test, true_dist):.3f}")

# %%
# Predictive band, density and one slice
# --------------------------------------
#
# Left: the least-squares prediction runs through the gap; so do the MDN's
# mean and its central intervals, which must cover both branches. Draws from
# the MDN (red) land on the branches. Middle: the predicted density
# :math:`p(y \mid x)` on a grid, evaluated for all rows at once with
# ``dist.pdf`` on an array of shape ``(n, m)``. Right: the mixture at
# ``x ≈ 1``, with its weighted components, the true density (dashed) and the
# least-squares prediction (vertical line).

x_grid = np.linspace(-3, 3, 300)[:, None]
grid_dist = mdn.predict_dist(x_grid)
y_grid = np.linspace(-4.5, 4.5, 250)

fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
ax = plot_predictive_band(x_grid, grid_dist, n_samples=3, random_state=0, ax=axes[0])
ax.scatter(X_train[:500, 0], y_train[:500], s=3, color="0.5", alpha=0.4, label="training data")
ax.plot(x_grid[:, 0], least_squares.predict(x_grid), color="C1", linewidth=2,
        label="least squares")
ax.legend(loc="lower right", fontsize="small")
ax.set_title("MDN predictive band and least squares")

density = grid_dist.pdf(np.broadcast_to(y_grid, (len(grid_dist), y_grid.size)))
axes[1].pcolormesh(x_grid[:, 0], y_grid, density.T, shading="auto", cmap="viridis")
axes[1].set(title="MDN density p(y | x)", xlabel="x", ylabel="y")

# The test point nearest to x = 1 gives the true density of that slice.
i = int(np.argmin(np.abs(X_test[:, 0] - 1.0)))
ax = plot_mixture_components(dist, i, y_grid=y_grid, ax=axes[2])
ax.plot(y_grid, true_dist[i].pdf(y_grid[None, :])[0], "k--", linewidth=1, label="truth")
ax.axvline(least_squares.predict(X_test[i : i + 1])[0], color="C1", linewidth=2,
           label="least squares")
ax.legend(loc="upper left", fontsize="small")
ax.set_title(f"p(y | x = {X_test[i, 0]:.2f})")
plt.show()
