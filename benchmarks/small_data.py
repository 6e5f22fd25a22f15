"""Every estimator with its defaults on 50-300 rows of synthetic data, beside a linear baseline.

The UCI sets start at 308 rows (yacht); the defaults must also hold on the
hundred-row tables users bring first. Each problem is drawn fresh for every
seed and scored by 5-fold cross-validation (every regressor with its
defaults behind a ``StandardScaler``, only ``random_state`` set):

* ``linear``: y = 5.5 + x0 + 0.7 e, 3 standard-normal features (the truth
  scores 1.06 nats);
* ``nonlinear``: y = sin 2 x0 + x1^2 / 2 - x2 + 0.3 e, 5 features;
* ``t3``: the same mean, noise 0.3 times a Student t with 3 degrees of freedom;
* ``heteroscedastic``: the same mean, noise 0.2 exp(x3) e;
* ``outliers``: the nonlinear problem with 3% of its rows moved by +-10;
* ``logistic``: two classes, p(1 | x) = expit(1.5 x0 - x1), 5 features, for
  the classifiers (stratified folds).

Per problem, size and estimator: the mean test NLL (the log loss for the
classifiers) over folds and seeds, its worst fold, the mean 90% interval
coverage (regressors) and the median fit time; the last column is a linear
baseline, the floor issue 14 asks the defaults not to fall below: a linear
Gaussian (least squares, the training residuals' standard deviation) or
scikit-learn's ``LogisticRegression``.

Usage::

    python benchmarks/small_data.py                       # ~12 min on 2 CPU cores
    python benchmarks/small_data.py --estimators bayes --sizes 100 --seeds 1
    python benchmarks/small_data.py --json after.json --compare before.json
"""

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy import special, stats

PROBLEMS = ("linear", "nonlinear", "t3", "heteroscedastic", "outliers", "logistic")
CLASSIFICATION = ("logistic",)
ESTIMATORS = {
    "mdn": "MixtureDensityRegressor",
    "dropout": "DropoutMLPRegressor",
    "bayes": "BayesianMLPRegressor",
    "dropout_clf": "DropoutMLPClassifier",
    "bayes_clf": "BayesianMLPClassifier",
}
N_FOLDS = 5


def make_problem(name, n, seed):
    """``X, y`` of problem ``name``: ``n`` rows drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    if name == "logistic":
        X = rng.normal(size=(n, 5))
        return X, (rng.random(n) < special.expit(1.5 * X[:, 0] - X[:, 1])).astype(int)
    if name == "linear":
        X = rng.normal(size=(n, 3))
        return X, 5.5 + X[:, 0] + 0.7 * rng.normal(size=n)
    X = rng.normal(size=(n, 5))
    mean = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 / 2 - X[:, 2]
    if name == "nonlinear":
        return X, mean + 0.3 * rng.normal(size=n)
    if name == "t3":
        return X, mean + 0.3 * rng.standard_t(3, size=n)
    if name == "heteroscedastic":
        return X, mean + 0.2 * np.exp(X[:, 3]) * rng.normal(size=n)
    if name == "outliers":
        noise = 0.3 * rng.normal(size=n)
        moved = rng.random(n) < 0.03
        noise[moved] = rng.choice([-10.0, 10.0], size=moved.sum())
        return X, mean + noise
    raise ValueError(f"unknown problem {name!r}; choose from {PROBLEMS}")


def linear_gaussian_nll(X_train, y_train, X_test, y_test):
    """Test NLL of least squares with the training residuals' standard deviation."""
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(X_train, y_train)
    scale = np.std(y_train - model.predict(X_train))
    return float(-stats.norm.logpdf(y_test, model.predict(X_test), scale).mean())


def linear_baseline_nll(problem, X_train, y_train, X_test, y_test):
    """Test NLL of the linear baseline: a linear Gaussian, or logistic regression."""
    if problem not in CLASSIFICATION:
        return linear_gaussian_nll(X_train, y_train, X_test, y_test)
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    model = LogisticRegression().fit(X_train, y_train)
    return float(log_loss(y_test, model.predict_proba(X_test), labels=[0, 1]))


def is_classifier_name(estimator):
    """Whether ``estimator`` (a key of ESTIMATORS) names a classifier."""
    return ESTIMATORS[estimator].endswith("Classifier")


def run_one(problem, n, estimator, seed):
    """The records of one problem, size, estimator and seed: one per fold.

    The estimator must suit the problem (a classifier for ``CLASSIFICATION``);
    ``run`` pairs them.
    """
    import torch
    from sklearn.metrics import log_loss
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import skprob
    from skprob.metrics import interval_coverage, negative_log_likelihood

    classification = problem in CLASSIFICATION
    torch.set_num_threads(1)
    X, y = make_problem(problem, n, seed)
    folds = (StratifiedKFold if classification else KFold)(N_FOLDS, shuffle=True,
                                                          random_state=seed)
    records = []
    for fold, (train, test) in enumerate(folds.split(X, y)):
        model = make_pipeline(StandardScaler(), getattr(skprob, ESTIMATORS[estimator])(
            random_state=seed))
        start = time.perf_counter()
        model.fit(X[train], y[train])
        fit_time = time.perf_counter() - start
        if classification:
            nll = log_loss(y[test], model.predict_proba(X[test]), labels=[0, 1])
            coverage = float("nan")
        else:
            dist = model[-1].predict_dist(model[:-1].transform(X[test]))
            nll = negative_log_likelihood(y[test], dist)
            coverage = interval_coverage(y[test], dist, 0.9)
        records.append({
            "problem": problem, "n": n, "estimator": estimator, "seed": seed, "fold": fold,
            "nll": float(nll), "cov90": float(coverage), "fit_time": fit_time,
            "linear_nll": linear_baseline_nll(problem, X[train], y[train], X[test], y[test]),
        })
    return records


def run(problems, sizes, estimators, seeds, n_jobs):
    """Every record, fitted on ``n_jobs`` worker processes."""
    tasks = [(p, n, e, s) for p in problems for n in sizes for e in estimators
             for s in range(seeds) if (p in CLASSIFICATION) == is_classifier_name(e)]
    with ProcessPoolExecutor(n_jobs) as pool:
        results = pool.map(run_one, *zip(*tasks, strict=True))
        return [record for records in results for record in records]


def summarise(records):
    """``{(problem, n, estimator): summary}`` over folds and seeds."""
    groups = {}
    for r in records:
        groups.setdefault((r["problem"], r["n"], r["estimator"]), []).append(r)
    return {key: {
        "nll": np.mean([r["nll"] for r in rows]),
        "worst": np.max([r["nll"] for r in rows]),
        "cov90": np.mean([r["cov90"] for r in rows]),
        "fit_time": np.median([r["fit_time"] for r in rows]),
        "linear_nll": np.mean([r["linear_nll"] for r in rows]),
    } for key, rows in groups.items()}


def markdown_report(records, before=None):
    """NLL (worst fold) [90% coverage] per estimator; ``before → after`` given ``before``."""
    after = summarise(records)
    previous = summarise(before) if before else {}
    estimators = [e for e in ESTIMATORS if any(key[2] == e for key in after)]
    cells = sorted({key[:2] for key in after}, key=lambda k: (PROBLEMS.index(k[0]), k[1]))
    header = ["problem", "rows"] + [ESTIMATORS[e] for e in estimators] + ["linear baseline"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def cell(summary):
        coverage = "" if np.isnan(summary["cov90"]) else f" [{summary['cov90']:.2f}]"
        return f"{summary['nll']:.3f} ({summary['worst']:.1f}){coverage}"

    for problem, n in cells:
        row = [problem, f"{n:,}"]
        for e in estimators:
            summary = after.get((problem, n, e))
            if summary is None:
                row.append("–")
            elif (problem, n, e) in previous:
                row.append(f"{cell(previous[(problem, n, e)])} → {cell(summary)}")
            else:
                row.append(cell(summary))
        linear = next(after[(problem, n, e)]["linear_nll"] for e in estimators
                      if (problem, n, e) in after)
        row.append(f"{linear:.3f}")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Cells: mean test NLL (log loss) over folds and seeds (worst fold) "
              "[mean 90% coverage]; the baseline is a linear Gaussian (logistic regression).",
              "", "Median fit time (s):", ""]
    lines += ["| problem | rows | " + " | ".join(ESTIMATORS[e] for e in estimators) + " |",
              "|---|---|" + "---|" * len(estimators)]
    for problem, n in cells:
        times = []
        for e in estimators:
            summary = after.get((problem, n, e))
            times.append("–" if summary is None else (
                f"{previous[(problem, n, e)]['fit_time']:.2f} → {summary['fit_time']:.2f}"
                if (problem, n, e) in previous else f"{summary['fit_time']:.2f}"))
        lines.append(f"| {problem} | {n:,} | " + " | ".join(times) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 300])
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS), choices=ESTIMATORS)
    parser.add_argument("--seeds", type=int, default=3, help="fresh draws of every problem")
    parser.add_argument("--n-jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--json", type=Path, default=None, help="write the per-fold records here")
    parser.add_argument("--load", type=Path, default=None,
                        help="report the records of an earlier --json instead of fitting")
    parser.add_argument("--compare", type=Path, default=None, metavar="BEFORE.json",
                        help="print before → after against an earlier --json")
    args = parser.parse_args(argv)
    if args.load is not None:
        records = json.loads(args.load.read_text())
    else:
        records = run(args.problems, args.sizes, args.estimators, args.seeds, args.n_jobs)
        if args.json is not None:
            args.json.write_text(json.dumps(records, indent=1))
    before = json.loads(args.compare.read_text()) if args.compare is not None else None
    print(markdown_report(records, before))


if __name__ == "__main__":
    main()
