"""
Grid search on a dask cluster
=============================

A grid search fits one model per candidate and cross-validation fold: 4
candidates and 3 folds make 12 independent fits, an embarrassingly parallel
workload. scikit-learn's :class:`~sklearn.model_selection.GridSearchCV` hands
these fits to `joblib <https://joblib.readthedocs.io>`_, and joblib can send
them to a `dask.distributed <https://distributed.dask.org>`_ cluster instead
of running them one after the other: on a laptop, a cluster of many machines
or a batch system, with the same code.

We repeat the search of
:ref:`sphx_glr_auto_examples_plot_model_selection.py` (the number of Gaussians
of a mixture density network, chosen by held-out negative log-likelihood),
once serially and once on a local dask cluster, and check that both choose
the same model. The ``distributed`` extra installs what is needed
(``pip install "skprob[distributed]"``).
"""

import time

import joblib
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from skprob import MixtureDensityRegressor
from skprob.datasets import make_bimodal
from skprob.metrics import neg_nll_scorer
from skprob.pipeline import make_pipeline

N_TRAIN = 2000
MAX_ITER = 40
# sphinx_gallery_start_ignore
# The test suite and the documentation build set SKPROB_EXAMPLES_FAST=1 to run
# the example on shrunken data in a few seconds (this block is not shown in the
# rendered example).
import os  # noqa: E402

if os.environ.get("SKPROB_EXAMPLES_FAST") == "1":
    N_TRAIN = 600
# sphinx_gallery_end_ignore

X, y = make_bimodal(N_TRAIN, random_state=0)


def make_search():
    """The grid search of the model-selection example, scored by held-out NLL."""
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
    return GridSearchCV(
        model,
        param_grid={"mixturedensityregressor__n_components": [1, 2, 3, 5]},
        scoring=neg_nll_scorer,
        cv=3,
    )


# %%
# The serial search
# -----------------

start = time.perf_counter()
serial = make_search().fit(X, y)
serial_seconds = time.perf_counter() - start
print(f"serial search: {serial_seconds:.1f} s, best {serial.best_params_}")

# %%
# The same search on a dask cluster
# ---------------------------------
#
# :class:`distributed.LocalCluster` starts a scheduler and workers on this
# machine; :class:`distributed.Client` connects to it. Inside
# ``joblib.parallel_backend("dask")`` every joblib call, here the 12 fits and
# the final refit of ``GridSearchCV``, is submitted to the cluster's workers.
# Nothing in the estimator changes: the workers receive the pickled
# estimator and data, fit, score and send back the scores.
#
# Here the two workers are threads of this process (``processes=False``),
# which needs no extra processes and no network. The results do not depend on
# where a fit runs: each candidate is fitted with ``random_state=0`` on the
# same deterministic folds, and every fit draws its random numbers (weight
# initialisation, shuffling, dropout) from a generator of its own, never from
# PyTorch's global one, so threads cannot interleave their draws. Each fit
# runs on one intra-op thread, so two thread workers really run two fits at
# once on two cores.

start = time.perf_counter()
with (
    LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
    as cluster,
    Client(cluster),
    joblib.parallel_backend("dask"),
):
    distributed = make_search().fit(X, y)
dask_seconds = time.perf_counter() - start
print(f"dask search:   {dask_seconds:.1f} s, best {distributed.best_params_}")

assert distributed.best_params_ == serial.best_params_
np.testing.assert_allclose(
    distributed.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
)

# %%
# To run the fits in parallel, use worker processes,
# ``LocalCluster(n_workers=4, threads_per_worker=1)``, or connect to a cluster
# that is already running, ``Client("tcp://scheduler-address:8786")``, where
# every worker has skprob installed. Worker processes are started by importing
# the main script again, so in a script the code that starts the cluster
# belongs under ``if __name__ == "__main__":``. One worker thread per core is
# right: skprob's fits of tabular-size networks use one intra-op thread each.
#
# Serial and distributed results
# ------------------------------
#
# Left: the mean held-out NLL of every candidate, with its standard deviation
# over the folds, from both searches; the curves coincide and both searches
# select the same number of components. Right: a closer look at the
# candidates with two or more components, fold by fold. The serial fits
# (circles) and the dask fits (crosses) give the same scores, and the
# differences between these candidates are smaller than those between folds.

n_components = np.asarray(serial.cv_results_["param_mixturedensityregressor__n_components"],
                          dtype=int)
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), layout="constrained")
for search, name, style in [(serial, "serial", "o-"), (distributed, "dask cluster", "x--")]:
    best = search.best_params_["mixturedensityregressor__n_components"]
    axes[0].errorbar(n_components, -search.cv_results_["mean_test_score"],
                     yerr=search.cv_results_["std_test_score"], fmt=style, capsize=3,
                     markersize=8, label=f"{name}, selects {best} components")
axes[0].set(xlabel="n_components", ylabel="mean held-out NLL (lower is better)",
            xticks=n_components, title="all candidates")
axes[0].legend(fontsize="small")

several = n_components >= 2
for fold in range(serial.n_splits_):
    for search, marker, name in [(serial, "o", "serial"), (distributed, "x", "dask")]:
        axes[1].plot(n_components[several],
                     -search.cv_results_[f"split{fold}_test_score"][several], marker,
                     color=f"C{fold}", markersize=9, fillstyle="none",
                     label=f"fold {fold}, {name}")
axes[1].set(xlabel="n_components", ylabel="held-out NLL of one fold",
            xticks=n_components[several], title="two or more components, every fold")
axes[1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
plt.show()
