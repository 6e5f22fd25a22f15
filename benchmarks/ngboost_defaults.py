"""NGBoost with its defaults on the eight UCI splits: the baseline column of ``defaults.py``.

Runs in its OWN virtualenv (NGBoost pins scikit-learn < 1.7; skprob needs a
newer one), never in skprob's::

    python3 -m venv ../ngboost-venv
    ../ngboost-venv/bin/pip install ngboost "scikit-learn<1.7"
    OMP_NUM_THREADS=1 ../ngboost-venv/bin/python benchmarks/ngboost_defaults.py

Per data set and fixed split: ``NGBRegressor()`` with its defaults (Normal
distribution, 500 depth-3 trees, rate 0.01; only ``random_state=split`` and
``verbose=False`` are set) on the features standardised by a ``StandardScaler``
fitted on the training rows, raw y. Its Normal predictive is scored on the
test rows in closed form: NLL, CRPS, RMSE of the mean and the coverage of the
central 50% and 90% intervals, plus the fit time.

Records go to ``results/ngboost_defaults.json`` after every fit, splits in
order (split 0 of every data set, then split 1, ...), so an interrupted run
keeps a balanced prefix and a rerun resumes where it stopped (``--overwrite``
starts afresh). Imports only numpy, scipy, scikit-learn, ngboost and the UCI
split loader in ``uci.py`` -- never skprob.
"""

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy import special, stats
from sklearn.preprocessing import StandardScaler
from uci import DATA_DIR, DATASETS, RESULTS_DIR, load_split, n_splits, standard_error

ESTIMATOR = "NGBRegressor"
OUTPUT = RESULTS_DIR / "ngboost_defaults.json"


def normal_scores(y, loc, scale):
    """Test metrics of Normal(loc, scale) predictives: nll, crps, rmse, cov50, cov90.

    CRPS of a Normal is closed form (Gneiting & Raftery 2007):
    ``scale * (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi))`` with
    ``z = (y - loc) / scale``.
    """
    y, loc, scale = (np.asarray(a, dtype=float) for a in (y, loc, scale))
    z = (y - loc) / scale
    crps = scale * (z * (2.0 * special.ndtr(z) - 1.0) + 2.0 * stats.norm.pdf(z)
                    - 1.0 / math.sqrt(math.pi))
    scores = {
        "nll": float(-np.mean(stats.norm.logpdf(y, loc, scale))),
        "crps": float(np.mean(crps)),
        "rmse": float(np.sqrt(np.mean((loc - y) ** 2))),
    }
    for confidence in (0.5, 0.9):
        lower, upper = stats.norm.interval(confidence, loc, scale)
        scores[f"cov{round(100 * confidence)}"] = float(np.mean((lower <= y) & (y <= upper)))
    return scores


def run_one(name, split, data_dir=DATA_DIR):
    """Fit NGBoost's defaults on one split and score its Normal predictive on the test rows."""
    from ngboost import NGBRegressor

    X_train, y_train, X_test, y_test = load_split(name, split, data_dir, dequantise_integers=False)
    scaler = StandardScaler()
    load = os.getloadavg()[0]
    start = time.perf_counter()
    model = NGBRegressor(random_state=split, verbose=False)
    model.fit(scaler.fit_transform(X_train), y_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    params = model.pred_dist(scaler.transform(X_test)).params
    predict_seconds = time.perf_counter() - start
    return {
        "dataset": name,
        "split": split,
        "estimator": ESTIMATOR,
        **normal_scores(y_test, params["loc"], params["scale"]),
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "loadavg_1min": load,
    }


def versions():
    import ngboost
    import scipy
    import sklearn

    return {"python": platform.python_version(), "ngboost": ngboost.__version__,
            "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__}


def tasks(datasets, splits, data_dir=DATA_DIR):
    """``(data set, split)`` pairs, split-major so that any prefix is balanced."""
    counts = {name: min(n_splits(name, data_dir), splits or math.inf) for name in datasets}
    return [(name, split) for split in range(max(counts.values(), default=0))
            for name in datasets if split < counts[name]]


def summary_table(records, datasets):
    """Markdown table of every metric, mean ± standard error over the recorded splits."""
    metrics = ("nll", "crps", "rmse", "cov50", "cov90", "fit_seconds")
    lines = ["| data set | splits | " + " | ".join(metrics) + " |",
             "|---|---|" + "---|" * len(metrics)]
    for name in datasets:
        group = [r for r in records if r["dataset"] == name]
        if not group:
            continue
        cells = []
        for metric in metrics:
            values = np.array([r[metric] for r in group])
            se = standard_error(values)
            digits = 4 if name.startswith("naval") and metric in ("crps", "rmse") else 3
            cells.append(f"{values.mean():.{digits}f}" + (
                "" if math.isnan(se) else f" ± {se:.{digits}f}"))
        lines.append(f"| {name} | {len(group)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--splits", type=int, default=None,
                        help="the first SPLITS splits of each data set (default: all)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--json", type=Path, default=OUTPUT, help="results file (resumed)")
    parser.add_argument("--overwrite", action="store_true", help="ignore an existing --json")
    args = parser.parse_args(argv)

    results = {"meta": {"runs": []}, "records": []}
    if args.json.exists() and not args.overwrite:
        results = json.loads(args.json.read_text())
    done = {(r["dataset"], r["split"]) for r in results["records"]}
    todo = [task for task in tasks(args.datasets, args.splits, args.data_dir)
            if task not in done]
    run = {"started": datetime.datetime.now().isoformat(timespec="seconds"),
           "loadavg_start": os.getloadavg(), "cpus": os.cpu_count(),
           "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
           "versions": versions(), "argv": sys.argv[1:] if argv is None else argv,
           "n_fits": 0}
    results["meta"]["runs"].append(run)
    print(f"{len(todo)} NGBoost fits ({len(done)} already in {args.json})", flush=True)
    start = time.perf_counter()
    for name, split in todo:
        record = run_one(name, split, args.data_dir)
        results["records"].append(record)
        run["n_fits"] += 1
        run["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
        run["loadavg_end"] = os.getloadavg()
        run["wall_seconds"] = time.perf_counter() - start
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        print(f"{name} split {split}: NLL {record['nll']:.3f}, "
              f"fit {record['fit_seconds']:.1f} s", flush=True)
    print(summary_table(results["records"], args.datasets))
    print(f"\n{run['n_fits']} fits in {(time.perf_counter() - start) / 60:.1f} min; "
          f"load average {run['loadavg_start'][0]:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end. Wrote {args.json}")


if __name__ == "__main__":
    main()
