"""Fit throughput of skprob's regressors with one output against three.

A vector target changes only the head: d (d + 3) / 2 outputs per Gaussian
(mean, Cholesky diagonal, strictly lower part) instead of 2, and a batched
triangular solve in the NLL. This prints the fit throughput (samples per
second, best of ``--rounds``) of each regressor on ``make_correlated_outputs``
inputs with d = 1 (the first output, the scalar code path) and d = 3.

Usage::

    python benchmarks/multioutput.py            # ~1 min on 2 CPU cores
    python benchmarks/multioutput.py --rounds 1 --n 2000
"""

import argparse
import time

from skprob import BayesianMLPRegressor, DropoutMLPRegressor, MixtureDensityRegressor
from skprob.datasets import make_correlated_outputs

ESTIMATORS = {
    "MixtureDensityRegressor (K=5)": (MixtureDensityRegressor, {"n_components": 5}),
    "DropoutMLPRegressor": (DropoutMLPRegressor, {}),
    "BayesianMLPRegressor": (BayesianMLPRegressor, {}),
}


def throughput(cls, params, X, y, epochs, rounds):
    """Best samples/s of ``rounds`` fits of ``epochs`` epochs."""
    best = float("inf")
    for _ in range(rounds):
        model = cls(hidden_layer_sizes=(64, 64), max_iter=epochs, batch_size=256,
                    early_stopping=False, random_state=0, **params)
        start = time.perf_counter()
        model.fit(X, y)
        best = min(best, time.perf_counter() - start)
    return len(X) * epochs / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    X, y = make_correlated_outputs(args.n, n_outputs=3, random_state=0)
    print(f"fit throughput, samples/s (n={args.n}, {args.epochs} epochs, batch 256, "
          f"64-64 relu trunk, best of {args.rounds})\n")
    print("| estimator | d = 1 | d = 3 | d = 3 / d = 1 |")
    print("|---|---:|---:|---:|")
    for name, (cls, params) in ESTIMATORS.items():
        one = throughput(cls, params, X, y[:, 0], args.epochs, args.rounds)
        three = throughput(cls, params, X, y, args.epochs, args.rounds)
        print(f"| {name} | {one:,.0f} | {three:,.0f} | {three / one:.2f} |")


if __name__ == "__main__":
    main()
