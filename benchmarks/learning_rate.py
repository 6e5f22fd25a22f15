"""Test NLL of every skprob regressor with its defaults, at two learning rates, on UCI splits.

The defaults follow scikit-learn's MLP (Adam from 1e-3, 200 epochs of batches
of min(200, n)); on small data sets that is a few hundred steps. This script
measures what the defaults give, untuned, beside the same estimators with
``learning_rate_init=1e-2``: each estimator with its default network behind a
``StandardScaler``, fitted on the training rows of a fixed split and scored
(mean test NLL in the units of y) on its test rows. The table is the one in
the user guide's "What to tune first" section.

Usage::

    python benchmarks/learning_rate.py            # 6 data sets x 3 splits, ~5 min on 2 cores
    python benchmarks/learning_rate.py --datasets yacht energy --splits 1
"""

import argparse
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from uci import DATA_DIR, load_split

DATASETS = (
    "yacht",
    "energy",
    "concrete",
    "kin8nm",
    "power-plant",
    "naval-propulsion-plant",
)
ESTIMATORS = ("MixtureDensityRegressor", "DropoutMLPRegressor", "BayesianMLPRegressor")
RATES = (1e-3, 1e-2)


def fit_and_score(name, split, estimator_name, learning_rate_init, data_dir=DATA_DIR):
    """Test NLL of one estimator, defaults but the rate, on one split (NaN if it diverged)."""
    import torch
    from sklearn.preprocessing import StandardScaler

    import skprob
    from skprob.metrics import negative_log_likelihood
    from skprob.pipeline import make_pipeline

    torch.set_num_threads(1)  # the workers run in parallel
    X_train, y_train, X_test, y_test = load_split(name, split, data_dir, dequantise_integers=False)
    estimator = getattr(skprob, estimator_name)(
        learning_rate_init=learning_rate_init, random_state=split
    )
    model = make_pipeline(StandardScaler(), estimator)
    try:
        model.fit(X_train, y_train)
    except skprob.exceptions.TrainingDivergedError:
        return float("nan")
    return float(negative_log_likelihood(y_test, model.predict_dist(X_test)))


def markdown_table(results, datasets, estimators, rates):
    """Mean test NLL per data set, one column per (estimator, rate)."""
    columns = [(e, r) for e in estimators for r in rates]
    lines = ["| data set | " + " | ".join(f"{e} {r:g}" for e, r in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for name in datasets:
        cells = [np.mean(results[name, e, r]) for e, r in columns]
        lines.append(f"| {name} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--splits", type=int, default=3, help="the first SPLITS splits")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)

    tasks = [(name, split, estimator, rate) for name in args.datasets
             for split in range(args.splits) for estimator in ESTIMATORS for rate in RATES]
    start = time.perf_counter()
    scores = Parallel(n_jobs=args.n_jobs)(
        delayed(fit_and_score)(*task, args.data_dir) for task in tasks
    )
    results = {}
    for (name, _, estimator, rate), score in zip(tasks, scores, strict=True):
        results.setdefault((name, estimator, rate), []).append(score)
    print(markdown_table(results, args.datasets, ESTIMATORS, RATES))
    print(f"\n{len(tasks)} fits in {(time.perf_counter() - start) / 60:.1f} min "
          f"on {args.n_jobs} workers; test NLL, mean over {args.splits} splits, lower is better.")


if __name__ == "__main__":
    main()
