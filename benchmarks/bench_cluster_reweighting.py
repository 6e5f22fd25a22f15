"""The lecture's prior shift on galaxy-cluster masses, measured.

Trains the lecture's MDN on clusters drawn flat in log-mass, then predicts
clusters drawn from a steeply falling halo mass function, with and without
:class:`skprob.PriorReweighter` (training prior: the exact flat prior, or
estimated from y by a KDE). Prints the mean bias of the predicted log-mass,
RMSE, NLL and the coverage of 68% / 95% intervals.

Usage::

    python benchmarks/bench_cluster_reweighting.py [--n-train 20000] [--n-test 5000]
"""

import argparse

import numpy as np
from sklearn.preprocessing import StandardScaler

from skprob import MixtureDensityRegressor, PriorReweighter
from skprob.datasets import cluster_mass_prior, make_galaxy_clusters
from skprob.metrics import interval_coverage, negative_log_likelihood


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--n-test", type=int, default=5_000)
    parser.add_argument("--max-iter", type=int, default=100)
    args = parser.parse_args(argv)

    X, y = make_galaxy_clusters(args.n_train, mass_prior="flat", random_state=0)
    X_test, y_test = make_galaxy_clusters(args.n_test, mass_prior="halo_mass_function",
                                          random_state=1)
    scaler = StandardScaler().fit(X)
    mdn = MixtureDensityRegressor(
        (128, 128, 64), ("relu", "relu", "tanh"), n_components=16, batch_size=256,
        max_iter=args.max_iter, early_stopping=True, random_state=0,
    ).fit(scaler.transform(X), y)
    hmf = cluster_mass_prior("halo_mass_function")
    models = {
        "MDN, training prior (flat)": mdn,
        "reweighted, exact flat train prior": PriorReweighter(
            mdn, hmf, train_prior=cluster_mass_prior("flat"), prefit=True
        ).fit(scaler.transform(X), y),
        "reweighted, KDE train prior": PriorReweighter(mdn, hmf, prefit=True).fit(
            scaler.transform(X), y
        ),
    }
    print(f"train: {args.n_train} clusters flat in log M; test: {args.n_test} clusters from "
          "the halo mass function (median log M "
          f"{np.median(y_test):.2f})\n")
    print("| model | mean bias (dex) | RMSE (dex) | NLL | 68% coverage | 95% coverage |")
    print("|---|---|---|---|---|---|")
    for name, model in models.items():
        dist = model.predict_dist(scaler.transform(X_test))
        residual = dist.mean() - y_test
        print(f"| {name} | {residual.mean():+.4f} | {np.sqrt(np.mean(residual**2)):.4f} | "
              f"{negative_log_likelihood(y_test, dist):.3f} | "
              f"{interval_coverage(y_test, dist, 0.68):.3f} | "
              f"{interval_coverage(y_test, dist, 0.95):.3f} |")


if __name__ == "__main__":
    main()
