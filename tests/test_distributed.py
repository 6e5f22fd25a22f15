"""GridSearchCV and cross_validate on a dask.distributed cluster (the `distributed` extra)."""

import joblib
import numpy as np
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV, cross_validate

from skprob import MixtureDensityRegressor
from skprob.datasets import make_bimodal
from skprob.metrics import neg_nll_scorer


def test_grid_search_on_a_local_dask_cluster_matches_the_serial_run():
    X, y = make_bimodal(600, random_state=0)
    grid = {"n_components": [1, 2], "learning_rate_init": [1e-3, 1e-2]}

    def search():
        return GridSearchCV(
            MixtureDensityRegressor((16,), max_iter=30, random_state=0),
            grid, scoring=neg_nll_scorer, cv=2,
        ).fit(X, y)

    serial = search()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        with joblib.parallel_backend("dask"):
            distributed = search()
            scores = cross_validate(MixtureDensityRegressor((8,), max_iter=3, random_state=0),
                                    X, y, cv=2, scoring=neg_nll_scorer)
    assert distributed.best_params_ == serial.best_params_
    np.testing.assert_allclose(distributed.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"])
    assert np.all(np.isfinite(scores["test_score"]))
