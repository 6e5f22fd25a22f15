"""
Galaxy-cluster masses with a mixture density network
====================================================

The lecture's worked example: measure the mass of a galaxy cluster from the
line-of-sight velocities and projected radii of its member galaxies, as Ho et
al. (2019) did with a deep network. Heavier clusters have faster galaxies (the
classical M–σ power law), but interlopers, the velocity window and the scatter
of the member counts make the relation noisy and skewed, so the mass given the
observations is a *distribution*.

:func:`~skprob.datasets.make_galaxy_clusters` mocks the problem from physics
and summarises every cluster in 14 features (a velocity histogram, the number
of galaxies, the velocity dispersion and radius statistics); the target is
``log10 M200c``. We compare, on the same data:

* the lecture's network, 14 → 128 relu → 128 relu → 64 tanh → a mixture of 16
  Gaussians, trained by negative log-likelihood
  (``MixtureDensityRegressor(hidden_layer_sizes=(128, 128, 64),
  activation=("relu", "relu", "tanh"), n_components=16)``);
* a network of the same sizes trained by mean squared error (scikit-learn's
  ``MLPRegressor``), given the Gaussian noise of its training residuals;
* the classical M–σ power law, a straight line in log-mass against the log of
  the velocity dispersion, with the same Gaussian noise treatment.

The three models are fitted by ``skprob.demo.fit_models``, exactly as in
``python -m skprob.demo``.
"""


import matplotlib.pyplot as plt
import numpy as np

from skprob.datasets import make_galaxy_clusters
from skprob.demo import fit_models, score_table
from skprob.distributions import GaussianMixture
from skprob.plotting import plot_mixture_components, plot_pit_histogram, plot_predicted_vs_true

N_TRAIN = 20_000
MAX_ITER = 100
# sphinx_gallery_start_ignore
# The test suite and the documentation build set SKPROB_EXAMPLES_FAST=1 to run
# the example on shrunken data in a few seconds (this block is not shown in the
# rendered example).
import os  # noqa: E402

if os.environ.get("SKPROB_EXAMPLES_FAST") == "1":
    import warnings  # noqa: E402

    from sklearn.exceptions import ConvergenceWarning  # noqa: E402

    N_TRAIN = 3000
    # the shrunken run stops the least-squares network before it converges
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
# sphinx_gallery_end_ignore

X_train, y_train = make_galaxy_clusters(N_TRAIN, random_state=0)
X_test, y_test = make_galaxy_clusters(4000, random_state=1)
models = fit_models(X_train, y_train, max_iter=MAX_ITER, random_state=0)
predictions = {name: predict_dist(X_test) for name, predict_dist in models.items()}

# %%
# Scores
# ------
#
# The root-mean-square error (RMSE) judges the point predictions (the
# predictive means), the NLL judges the whole distributions, and the coverage
# of the 68% and 95% central intervals says whether their widths can be
# trusted. Both networks beat the M–σ power law by a wide margin, as in Ho et
# al. (2019); the mixture density network also has the lower NLL, because it
# learns how the uncertainty changes from cluster to cluster, where the MSE
# network can only add one noise level for all.

print(score_table(models, X_test, y_test))

# %%
# Predicted against true mass, and PIT histograms
# -----------------------------------------------
#
# Top: the predictive median and 68% interval of 300 test clusters against
# their true mass. Bottom: histograms of the probability integral transform
# ``PIT = F(y_true)``, uniform for calibrated distributions; the grey band is
# where 95% of the bins of a uniform histogram fall. A slope or a U shape in
# a model's PIT histogram shows a bias or intervals of the wrong width in parts
# of the mass range, which a single coverage number averages away. Note the
# edges of the flat training prior (``14 <= log10 M <= 15.5``): near them the
# true mass is bounded, and a Gaussian of fixed width puts probability outside.

shown = np.random.default_rng(0).choice(len(y_test), size=300, replace=False)
fig, axes = plt.subplots(2, len(models), figsize=(4.2 * len(models), 8), layout="constrained")
for column, (name, dist) in enumerate(predictions.items()):
    ax = plot_predicted_vs_true(y_test[shown], dist[shown], ax=axes[0, column])
    ax.set(title=name, xlabel="true log10 M200c", ylabel="predicted log10 M200c")
    plot_pit_histogram(y_test, dist, ax=axes[1, column])

# %%
# The predicted distribution of single clusters
# ---------------------------------------------
#
# The mixture density network returns a full density for every cluster: here
# it is for three test clusters of low, intermediate and high mass, with the 16
# weighted Gaussians it is made of (most have negligible weight) and, dotted,
# the Gaussian of the MSE network. Near the edges of the training range
# (``log10 M200c`` of 14 and 15.5) the mixture is skewed, piling up against
# the boundary that no training mass crosses, where the MSE network's Gaussian
# spills over it; in the middle of the range the mixture is close to a
# Gaussian.

mdn_name = next(name for name, dist in predictions.items() if isinstance(dist, GaussianMixture))
mse_name = next(name for name in predictions if "MSE" in name)
targets = [14.1, 14.75, 15.4]
fig, axes = plt.subplots(1, len(targets), figsize=(13, 3.8), layout="constrained")
for ax, target in zip(axes, targets, strict=True):
    index = int(np.argmin(np.abs(y_test - target)))
    grid = np.linspace(y_test[index] - 0.6, y_test[index] + 0.6, 400)
    plot_mixture_components(predictions[mdn_name], index, y_grid=grid, ax=ax)
    mse_density = predictions[mse_name][index].pdf(grid[None, :])[0]
    ax.plot(grid, mse_density, ":", color="C7", linewidth=2, label="MSE network + noise")
    ax.axvline(y_test[index], color="C3", linewidth=1.5, label="true mass")
    ax.set(title=f"cluster of true log10 M200c = {y_test[index]:.2f}", xlabel="log10 M200c")
    ax.legend(loc="upper right", fontsize="small")
plt.show()

# %%
# References
# ----------
#
# M. Ho, M. M. Rau, M. Ntampaka, A. Farahi, H. Trac and B. Póczos, "A Robust
# and Efficient Deep Learning Method for Dynamical Mass Measurements of Galaxy
# Clusters", The Astrophysical Journal 887, 25 (2019).
