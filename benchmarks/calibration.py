"""Accuracy against a known truth: NLL gap, PIT uniformity and coverage as n grows.

For every problem of :mod:`skprob.datasets` and every skprob regressor, fit
on n = 10^3, 10^4, 10^5 rows and score on 10^4 fresh test rows:

* NLL gap: the model's mean test NLL minus that of the TRUE conditional
  density on the same rows (its expected value is the KL divergence from the
  truth to the model, so it is >= 0 up to noise and should shrink with n);
  ``make_galaxy_clusters`` has no closed-form truth, so its gap is blank;
* PIT KS: the Kolmogorov-Smirnov distance of the probability integral
  transforms from uniform (the truth's own KS on the same rows is printed as
  the noise floor);
* the coverage of the central 50%, 90% and 95% intervals.

Every fit uses the same recipe: StandardScaler (for the 1-D problems a
cubic SplineTransformer with 60 knots instead: an MLP on the raw input learns
the many wiggles of make_heteroscedastic far too slowly, the "spectral bias"
of neural networks), two hidden layers of 100 relu units, Adam with a
cosine-annealed rate from 1e-2, early stopping on 10% of the training rows,
about ``--steps`` steps. The last lines check that the gap
shrinks as n grows.

Usage::

    python benchmarks/calibration.py              # ~20 min on 2 CPU cores
    python benchmarks/calibration.py --sizes 1000 10000 --problems bimodal
"""

import argparse
import math
import time
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn.preprocessing import SplineTransformer, StandardScaler

RESULTS_DIR = Path(__file__).resolve().parent / "results"
N_TEST = 10_000
CONFIDENCES = (0.5, 0.9, 0.95)


def make_problem(name, n, seed):
    """``X, y, true_dist`` (None when the truth has no closed form) for ``n`` rows."""
    from skprob import datasets

    if name == "heteroscedastic":
        return datasets.make_heteroscedastic(n, random_state=seed, return_distribution=True)
    if name == "bimodal":
        return datasets.make_bimodal(n, random_state=seed, return_distribution=True)
    X, y = datasets.make_galaxy_clusters(n, random_state=seed)
    return X, y, None


PROBLEMS = ("heteroscedastic", "bimodal", "galaxy_clusters")


def make_estimators(n_train, steps):
    """The three regressors with the shared recipe and a budget of ~``steps`` steps."""
    from skprob import BayesianMLPRegressor, DropoutMLPRegressor, MixtureDensityRegressor

    batch_size = 64 if n_train < 5000 else 256
    epochs = int(np.clip(math.ceil(steps * batch_size / n_train), 20, 2000))
    common = {
        "hidden_layer_sizes": (100, 100),
        "learning_rate_init": 1e-2,
        "batch_size": batch_size,
        "max_iter": epochs,
        "early_stopping": True,
        "n_iter_no_change": max(10, epochs // 10),
        "random_state": 0,
    }
    return {
        "MixtureDensityRegressor": MixtureDensityRegressor(n_components=5, **common),
        "DropoutMLPRegressor": DropoutMLPRegressor(dropout_rate=0.05, **common),
        "BayesianMLPRegressor": BayesianMLPRegressor(**common),
    }


def scores(y, dist):
    """Mean NLL, PIT KS distance and interval coverages of ``dist`` on ``y``."""
    from skprob.metrics import interval_coverage, negative_log_likelihood, pit

    return {
        "nll": float(negative_log_likelihood(y, dist)),
        "pit_ks": float(stats.kstest(pit(y, dist), "uniform").statistic),
        **{f"cov{round(100 * c)}": float(interval_coverage(y, dist, confidence=c))
           for c in CONFIDENCES},
    }


def run(problems, sizes, estimators, steps):
    from skprob.pipeline import make_pipeline, predict_dist

    rows = []
    for problem in problems:
        X_test, y_test, true_dist = make_problem(problem, N_TEST, seed=12345)
        truth = None if true_dist is None else scores(y_test, true_dist)
        for n in sizes:
            X, y, _ = make_problem(problem, n, seed=n)
            for name, estimator in make_estimators(n, steps).items():
                if name not in estimators:
                    continue
                features = SplineTransformer(n_knots=60) if X.shape[1] == 1 else StandardScaler()
                model = make_pipeline(features, estimator)
                start = time.perf_counter()
                model.fit(X, y)
                seconds = time.perf_counter() - start
                result = scores(y_test, predict_dist(model, X_test))
                result["gap"] = math.nan if truth is None else result["nll"] - truth["nll"]
                rows.append({"problem": problem, "estimator": name, "n": n,
                             "seconds": seconds, "truth_ks": math.nan if truth is None
                             else truth["pit_ks"], **result})
                print(f"  {problem} {name} n={n}: gap {result['gap']:.3f}, "
                      f"{seconds:.0f} s", flush=True)
    return rows


def markdown_report(rows):
    lines = ["| problem | estimator | n | NLL gap (nats) | PIT KS (truth) | 50% | 90% | 95% "
             "| fit (s) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        gap = "–" if math.isnan(r["gap"]) else f"{r['gap']:.3f}"
        truth = "" if math.isnan(r["truth_ks"]) else f" ({r['truth_ks']:.3f})"
        lines.append(f"| {r['problem']} | {r['estimator']} | {r['n']:,} | {gap} | "
                     f"{r['pit_ks']:.3f}{truth} | {r['cov50']:.3f} | {r['cov90']:.3f} | "
                     f"{r['cov95']:.3f} | {r['seconds']:.0f} |")
    lines += ["", "Does the NLL gap shrink with n (largest n vs smallest n)?", ""]
    groups = {}
    for r in rows:
        if not math.isnan(r["gap"]):
            groups.setdefault((r["problem"], r["estimator"]), []).append((r["n"], r["gap"]))
    for (problem, estimator), points in groups.items():
        points.sort()
        small, large = points[0][1], points[-1][1]
        verdict = "yes" if large < small else "NO"
        trail = " -> ".join(f"{gap:.3f}" for _, gap in points)
        lines.append(f"- {problem}, {estimator}: {trail} ({verdict})")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--estimators", nargs="+", default=["MixtureDensityRegressor",
                        "DropoutMLPRegressor", "BayesianMLPRegressor"])
    parser.add_argument("--steps", type=int, default=4000, help="Adam steps per fit (about)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    rows = run(args.problems, args.sizes, args.estimators, args.steps)
    report = markdown_report(rows)
    report += f"\n\nWall time: {(time.perf_counter() - start) / 60:.1f} min."
    print(report)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "calibration.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
