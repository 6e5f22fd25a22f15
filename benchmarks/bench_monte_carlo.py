"""MC prediction (batched vs looped) and fit throughput of every estimator.

1. Monte Carlo prediction with T passes on n rows: skprob runs the T passes
   as one batched ``(T, chunk, d)`` computation; the "looped" column runs the
   same network as a Python loop of T single-pass calls.
2. Fit throughput (samples/s) of every skprob estimator on the lecture's trunk
   (14 -> 128 relu -> 128 relu -> 64 tanh), relative to the hand-written
   PyTorch MDN loop in ``../shared/bench/ref_mdn_torch.py`` (same trunk, same
   batch size), interleaved in one process, best of several rounds.

Usage::

    python benchmarks/bench_monte_carlo.py [--n-predict 100000] [--passes 100]
"""

import argparse
import time

import numpy as np
from bench_fit_speed import BENCH_DIR, _load_references, _reported_throughput

from skprob import (
    BayesianMLPClassifier,
    BayesianMLPRegressor,
    DropoutMLPClassifier,
    DropoutMLPRegressor,
    MixtureDensityRegressor,
)
from skprob._torch.training import predict_params

SEED_TRUNK = {"hidden_layer_sizes": (128, 128, 64), "activation": ("relu", "relu", "tanh")}


def _best_time(function, rounds):
    best = np.inf
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def mc_prediction_table(X, y, n_passes, rounds):
    rows = ["| estimator | batched (s) | looped (s) | looped / batched |", "|---|---|---|---|"]
    for estimator_class in (DropoutMLPRegressor, BayesianMLPRegressor):
        model = estimator_class(**SEED_TRUNK, n_mc_samples=n_passes, max_iter=1, random_state=0)
        model.fit(X[:5000], y[:5000])
        batched = _best_time(lambda m=model: m.predict_dist(X), rounds)

        def looped(m=model):
            for seed in range(n_passes):
                predict_params(m.module_, X, n_passes=1, seed=seed)

        looped_time = _best_time(looped, rounds)
        rows.append(f"| {estimator_class.__name__} | {batched:.2f} | {looped_time:.2f} | "
                    f"{looped_time / batched:.2f}x |")
    return "\n".join(rows)


def fit_throughput_table(ref_torch, n, epochs, batch, rounds):
    X, y = ref_torch.make_data(n)
    y_class = (y > np.median(y)).astype(int)
    estimators = {
        "MixtureDensityRegressor": (MixtureDensityRegressor(**SEED_TRUNK, n_components=16), y),
        "DropoutMLPRegressor": (DropoutMLPRegressor(**SEED_TRUNK), y),
        "DropoutMLPClassifier": (DropoutMLPClassifier(**SEED_TRUNK), y_class),
        "BayesianMLPRegressor": (BayesianMLPRegressor(**SEED_TRUNK), y),
        "BayesianMLPClassifier": (BayesianMLPClassifier(**SEED_TRUNK), y_class),
    }
    best = dict.fromkeys([*estimators, "torch loop"], 0.0)
    for model, target in estimators.values():  # warm-up
        model.set_params(max_iter=1, batch_size=batch, random_state=0).fit(X[:2000], target[:2000])
    for _ in range(rounds):
        best["torch loop"] = max(best["torch loop"],
                                 _reported_throughput(ref_torch.main, n, epochs, batch))
        for name, (model, target) in estimators.items():
            model.set_params(max_iter=epochs)
            start = time.perf_counter()
            model.fit(X, target)
            best[name] = max(best[name], n * epochs / (time.perf_counter() - start))
    rows = ["| estimator | samples/s | / hand-written MDN loop |", "|---|---|---|"]
    for name, throughput in best.items():
        rows.append(f"| {name} | {throughput:,.0f} | {throughput / best['torch loop']:.2f}x |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-predict", type=int, default=100_000)
    parser.add_argument("--passes", type=int, default=100)
    parser.add_argument("--n-fit", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--bench-dir", default=BENCH_DIR)
    args = parser.parse_args(argv)

    ref_torch, _ = _load_references(args.bench_dir)
    X, y = ref_torch.make_data(args.n_predict)
    print(f"MC prediction: T={args.passes} passes, n={args.n_predict} rows, seed trunk, "
          f"best of {args.rounds}")
    print(mc_prediction_table(X, y, args.passes, args.rounds))
    print(f"\nFit throughput: n={args.n_fit}, {args.epochs} epochs, batch {args.batch}, "
          f"best of {args.rounds} interleaved rounds")
    print(fit_throughput_table(ref_torch, args.n_fit, args.epochs, args.batch, args.rounds))


if __name__ == "__main__":
    main()
