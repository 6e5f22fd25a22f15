"""Every skprob regressor with its DEFAULTS on the UCI splits, beside NGBoost's and tuned skprob.

Per data set and fixed split: ``make_pipeline(StandardScaler(), Estimator(random_state=split))``
-- nothing else set -- fitted on the training rows and scored on the test rows:
NLL (per point, in the units of y), CRPS, RMSE of the predictive mean, coverage
of the central 50% and 90% intervals, and the fit time. Beside them:

- **NGBoost defaults**: ``NGBRegressor()`` on the same splits and the same
  ``StandardScaler`` on X, read from ``results/ngboost_defaults.json``, which
  ``ngboost_defaults.py`` writes in its own virtualenv (NGBoost is never
  needed here; without the file its column is empty);
- **skprob tuned**: the per-split records of ``uci.py`` in ``results/uci.json``
  (NLL and RMSE only; it is parsed, never rerun).

Every column is averaged over the same splits: those of the default run.
The report ends with the four targets of issue 14 item 4, each met / not met.

Usage::

    python benchmarks/defaults.py --splits 5 --json results/defaults_before.json
    python benchmarks/defaults.py --datasets yacht energy --splits 2 --estimators mdn
    python benchmarks/defaults.py --load results/defaults_before.json    # tables only
    # after a change of the defaults: rerun, and print before -> after side by side
    python benchmarks/defaults.py --splits 5 --json after.json --compare before.json
"""

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from uci import (
    DATA_DIR,
    DATASETS,
    RESULTS_DIR,
    by_dataset_and_estimator,
    dequantise,
    load_split,
    n_splits,
    standard_error,
)
from uci import SHORT_NAMES as UCI_NAMES

# The single networks whose defaults issue 14 is about (uci.py also has the ensemble).
SHORT_NAMES = {key: UCI_NAMES[key] for key in ("mdn", "dropout", "bayes")}

NGBOOST = "NGBRegressor"
LABELS = {
    "MixtureDensityRegressor": "MDN default",
    "DropoutMLPRegressor": "Dropout default",
    "BayesianMLPRegressor": "Bayes default",
    NGBOOST: "NGBoost default",
}
METRICS = {  # name -> (title, lower is better)
    "nll": ("Test NLL (nats, mean ± se over splits; lower is better)", True),
    "crps": ("Test CRPS (units of y; lower is better)", True),
    "rmse": ("Test RMSE of the predictive mean (lower is better)", True),
    "cov50": ("Coverage of the central 50% interval (target 0.50)", None),
    "cov90": ("Coverage of the central 90% interval, raw targets (target 0.90)", None),
    "nll_dequantised": ("Test NLL of the target spread over its rounding cells, y + U(-u/2, u/2) "
                        "(one fixed draw; = the NLL on continuous targets; lower is better)", True),
    "cov90_cell": ("Coverage of the central 90% interval, a rounded target counted by the "
                   "fraction of its rounding cell inside (target 0.90; goal [0.87, 0.93])", None),
    "fit_seconds": ("Fit time (seconds, mean over splits)", True),
}
# Issue 14 item 4.
NLL_WINS, CRPS_WINS, N_SETS = 7, 6, len(DATASETS)
TUNED_GAP = 0.15
COVERAGE_90 = (0.87, 0.93)


_WARM = set()


def _warm_up(estimator_class):
    """One tiny fit per estimator class and process, so no timed fit pays torch's start-up."""
    if estimator_class not in _WARM:
        rng = np.random.default_rng(0)
        X = rng.normal(size=(64, 3))
        estimator_class(max_iter=2, random_state=0).fit(X, X[:, 0]).predict_dist(X)
        _WARM.add(estimator_class)


def run_one(name, split, estimator_name, data_dir=DATA_DIR, seed_offset=0):
    """Fit one estimator with its defaults on one split and score it on the test rows.

    ``random_state`` is ``split + seed_offset``: the recorded runs use offset 0,
    a second run with another offset measures how much the seed alone moves a
    cell (``--seed-offset``).
    """
    import torch
    from sklearn.preprocessing import StandardScaler

    import skprob
    from skprob._targets import target_resolution
    from skprob.metrics import crps, interval_coverage, negative_log_likelihood
    from skprob.pipeline import make_pipeline

    torch.set_num_threads(1)  # one thread per worker process
    X_train, y_train, X_test, y_test = load_split(name, split, data_dir, dequantise_integers=False)
    estimator_class = getattr(skprob, estimator_name)
    _warm_up(estimator_class)
    seed = split + seed_offset
    model = make_pipeline(StandardScaler(), estimator_class(random_state=seed))
    record = {"dataset": name, "split": split, "estimator": estimator_name, "seed": seed,
              "loadavg_1min": os.getloadavg()[0]}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # DiscreteTargetWarning on wine's integer scores, and the like: the
            # defaults are measured as a user would get them.
            warnings.simplefilter("ignore", UserWarning)
            model.fit(X_train, y_train)
    except skprob.exceptions.TrainingDivergedError:
        nan = float("nan")
        return {**record, "nll": nan, "crps": nan, "rmse": nan, "cov50": nan, "cov90": nan,
                "cov90_cell": nan, "nll_dequantised": nan,
                "fit_seconds": time.perf_counter() - start, "predict_seconds": nan,
                "diverged": True}
    record["fit_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    dist = model.predict_dist(X_test)
    record["predict_seconds"] = time.perf_counter() - start
    resolution = target_resolution(y_train)
    y_dequantised = dequantise(y_test, seed=split, width=resolution)
    record.update(
        nll=negative_log_likelihood(y_test, dist),
        crps=crps(y_test, dist),
        rmse=float(np.sqrt(np.mean((dist.mean() - y_test) ** 2))),
        cov50=interval_coverage(y_test, dist, 0.5),
        cov90=interval_coverage(y_test, dist, 0.9),
        # The training rows' rounding unit u, as the regressors read it (0 when
        # continuous). On naval's 0.001 grid a perfect model of the rounded
        # quantity covers nearly every raw value whatever the confidence, and
        # a density's NLL on the grid values rewards spikes on them: the
        # dequantised target scores the density of the rounded quantity.
        resolution=resolution,
        nll_dequantised=negative_log_likelihood(y_dequantised, dist),
        cov90_cell=interval_coverage(y_test, dist, 0.9, resolution=resolution),
        n_iter=int(model[-1].n_iter_),
        diverged=False,
    )
    return record


# ---------------------------------------------------------------- results files


def read_records(path):
    """Records of a results file: ``{"meta": ..., "records": [...]}`` or a bare list (uci.json)."""
    data = json.loads(Path(path).read_text())
    return data["records"] if isinstance(data, dict) else data


def tuned_records(path):
    """uci.py's per-split records, renamed ``"<Estimator> tuned"``; [] if the file is absent.

    A record on dequantised targets (uci.py's wine) keeps its NLL as
    ``nll_dequantised``, the defaults' NLL of the same dequantised targets, so
    that the tuned gap compares like with like.
    """
    if not Path(path).exists():
        return []
    return [_dequantised_as_such({**r, "estimator": f"{r['estimator']} tuned"})
            for r in read_records(path)]


def _dequantised_as_such(record):
    if not record.get("dequantised", False):
        return record
    record = dict(record)
    record["nll_dequantised"] = record.pop("nll")
    return record


def on_splits(records, splits):
    """The records whose split is in ``splits[data set]``."""
    return [r for r in records if r["split"] in splits.get(r["dataset"], ())]


def splits_of(records):
    """``{data set: set of splits}`` present in records."""
    splits = {}
    for record in records:
        splits.setdefault(record["dataset"], set()).add(record["split"])
    return splits


# ---------------------------------------------------------------- summaries


def summarise(records):
    """``{(data set, estimator): {metric: (mean, standard error, n)}}`` over splits."""
    summary = {}
    for key, group in by_dataset_and_estimator(records).items():
        summary[key] = {}
        for metric in METRICS:
            values = np.array([r[metric] for r in group if metric in r], dtype=float)
            if len(values) == 0:
                continue
            summary[key][metric] = (float(values.mean()), float(standard_error(values)),
                                    len(values))
    return summary


def _digits(name, metric):
    if metric.startswith("cov"):
        return 3
    if metric == "fit_seconds":
        return 1
    return 4 if name.startswith("naval") and metric in ("crps", "rmse") else 2


def _cell(summary, name, estimator, metric, with_se=True):
    stats = summary.get((name, estimator), {}).get(metric)
    if stats is None:
        return "–"
    mean, se, _ = stats
    digits = _digits(name, metric)
    if math.isnan(mean):
        return "diverged"
    if not with_se or math.isnan(se):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


def best_tuned(summary, name, estimators):
    """The tuned skprob estimator with the lowest mean NLL on ``name`` (or None)."""
    tuned = [f"{e} tuned" for e in estimators
             if "nll" in summary.get((name, f"{e} tuned"), {})]
    return min(tuned, key=lambda e: summary[name, e]["nll"][0], default=None)


def _short(estimator):
    return LABELS.get(estimator, estimator).replace(" default", "")


def _table(header, rows):
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows)]


def markdown_tables(summary, datasets, estimators):
    """The wide NLL table, one table per metric and the tuned-gap table."""
    datasets = [n for n in datasets if any((n, e) in summary for e in estimators)]
    columns = [*estimators, NGBOOST]
    lines = ["Test NLL (nats, mean ± standard error over fits, one per split and seed; "
             "lower is better)", ""]
    rows = []
    for name in datasets:
        best = best_tuned(summary, name, list(SHORT_NAMES.values()))
        tuned = "–" if best is None else (
            f"{_cell(summary, name, best, 'nll')} ({_short(best.replace(' tuned', ''))})")
        n = max(summary.get((name, e), {}).get("nll", (0, 0, 0))[2] for e in estimators)
        rows.append([name, str(n), *(_cell(summary, name, e, "nll") for e in columns), tuned])
    lines += _table(["data set", "fits", *(LABELS[e] for e in columns),
                     "skprob tuned (best)"], rows)
    for metric, (title, _) in METRICS.items():
        if metric == "nll":
            continue
        lines += ["", title, ""]
        with_se = metric != "fit_seconds"
        lines += _table(["data set", *(LABELS[e] for e in columns)], [
            [name, *(_cell(summary, name, e, metric, with_se) for e in columns)]
            for name in datasets])
    lines += ["", "Default NLL minus the same estimator tuned by uci.py (same splits; "
              f"goal ≤ {TUNED_GAP}; where uci.py scored dequantised targets, as on wine, "
              "both sides' NLL of the dequantised targets)", ""]
    rows = []
    for name in datasets:
        cells = []
        for estimator in estimators:
            gap = _tuned_gap(summary, name, estimator)
            cells.append("–" if gap is None else f"{gap:+.2f}")
        rows.append([name, *cells])
    lines += _table(["data set", *(LABELS[e] for e in estimators)], rows)
    return "\n".join(lines)


def _coverage_90(summary, name, estimator):
    """90% coverage counted by rounding cell where the records have it, else raw."""
    cell = _mean(summary, name, estimator, "cov90_cell")
    return _mean(summary, name, estimator, "cov90") if cell is None else cell


def _mean(summary, name, estimator, metric):
    stats = summary.get((name, estimator), {}).get(metric)
    return None if stats is None else stats[0]


def _tuned_gap(summary, name, estimator):
    """Default minus tuned NLL, on dequantised targets where the tuned record has only those."""
    tuned_name = f"{estimator} tuned"
    metric = "nll"
    if _mean(summary, name, tuned_name, "nll") is None:
        metric = "nll_dequantised"
    default = _mean(summary, name, estimator, metric)
    tuned = _mean(summary, name, tuned_name, metric)
    return None if default is None or tuned is None else default - tuned


def _le(a, b):
    """a ≤ b, with a diverged (NaN) default counted as a loss."""
    return not math.isnan(a) and a <= b


def targets(summary, datasets, estimators):
    """One line per target of issue 14 item 4: met / not met, with the misses."""
    datasets = [n for n in datasets if any((n, e) in summary for e in estimators)]
    scope = f"on the {len(datasets)} of {N_SETS} sets run"
    lines = ["Targets (issue 14 item 4), " + scope + ":", ""]

    mdn = "MixtureDensityRegressor"
    pairs = {m: [(n, _mean(summary, n, mdn, m), _mean(summary, n, NGBOOST, m))
                 for n in datasets] for m in ("nll", "crps")}
    if mdn not in estimators:
        lines.append("- MDN default vs NGBoost: not evaluated (MixtureDensityRegressor not run)")
    else:
        verdicts = []
        for metric, wins_needed in (("nll", NLL_WINS), ("crps", CRPS_WINS)):
            both = [(n, a, b) for n, a, b in pairs[metric] if a is not None and b is not None]
            wins = [n for n, a, b in both if _le(a, b)]
            misses = [n for n, a, b in both if not _le(a, b)]
            allowed = N_SETS - wins_needed
            ok = len(both) == len(datasets) and len(misses) <= allowed
            verdicts.append((metric, ok, len(wins), len(both), misses, wins_needed))
        met = all(v[1] for v in verdicts)
        # On fewer than all sets a count target can be missed for sure, never met for sure.
        verdict = ("NOT MET" if any(len(v[4]) > N_SETS - v[5] for v in verdicts)
                   else "MET" if met and len(datasets) == N_SETS else "UNDECIDED")
        detail = "; ".join(
            f"{metric.upper()} ≤ NGBoost on {w} of {n} (need {need} of {N_SETS}"
            + (f", misses: {', '.join(m)}" if m else "") + ")"
            for metric, _, w, n, m, need in verdicts)
        if any(v[3] < len(datasets) for v in verdicts):
            detail += " [NGBoost results missing for some sets]"
        lines.append(f"- {verdict}: default MixtureDensityRegressor NLL ≤ "
                     f"NGBoost defaults on ≥ {NLL_WINS} of {N_SETS} and CRPS ≤ on ≥ "
                     f"{CRPS_WINS} of {N_SETS}: {detail}")

    misses, missing = [], []
    for estimator in estimators:
        for name in datasets:
            gap = _tuned_gap(summary, name, estimator)
            if gap is None:
                missing.append(f"{_short(estimator)}/{name}")
            elif not gap <= TUNED_GAP:  # NaN (diverged) is a miss
                misses.append(f"{_short(estimator)}/{name} {gap:+.2f}")
    lines.append(f"- {'MET' if not misses and not missing else 'NOT MET'}: every estimator's "
                 f"default NLL within {TUNED_GAP} nats of its own tuned result on every set: "
                 f"{len(misses)} of {len(estimators) * len(datasets) - len(missing)} miss"
                 + (f" ({', '.join(misses)})" if misses else "")
                 + (f"; no tuned result for {', '.join(missing)}" if missing else ""))

    low, high = COVERAGE_90
    misses = []
    for estimator in estimators:
        for name in datasets:
            value = _coverage_90(summary, name, estimator)
            if value is not None and not low <= value <= high:
                misses.append(f"{_short(estimator)}/{name} {value:.3f}")
    lines.append(f"- {'MET' if not misses else 'NOT MET'}: every default's 90% interval "
                 f"coverage in [{low}, {high}] on every set (rounded targets by cell where "
                 f"recorded): {len(misses)} of "
                 f"{len(estimators) * len(datasets)} outside"
                 + (f" ({', '.join(misses)})" if misses else ""))

    misses, missing = [], []
    for estimator in estimators:
        for name in datasets:
            ours = _mean(summary, name, estimator, "fit_seconds")
            theirs = _mean(summary, name, NGBOOST, "fit_seconds")
            if theirs is None:
                missing.append(name)
            elif ours is not None and not ours < theirs:
                misses.append(f"{_short(estimator)}/{name} {ours:.1f} s vs {theirs:.1f} s")
    missing = sorted(set(missing))
    lines.append(f"- {'MET' if not misses and not missing else 'NOT MET'}: default fit time "
                 f"below NGBoost's default fit time on every set: {len(misses)} of "
                 f"{len(estimators) * (len(datasets) - len(missing))} slower"
                 + (f" ({', '.join(misses)})" if misses else "")
                 + (f"; no NGBoost result for {', '.join(missing)}" if missing else ""))
    return "\n".join(lines)


def report(records, ngboost, tuned, datasets, estimators):
    """Tables and target lines, NGBoost and tuned restricted to the defaults' splits."""
    splits = splits_of(records)
    summary = summarise(records + on_splits(ngboost, splits) + on_splits(tuned, splits))
    return markdown_tables(summary, datasets, estimators) + "\n\n" + targets(
        summary, datasets, estimators)


def compare(before, after, datasets, estimators, ngboost=(), tuned=()):
    """``before → after`` for every metric on the splits both runs share, then both target lists."""
    common = {name: splits_of(before).get(name, set()) & splits
              for name, splits in splits_of(after).items()}
    before, after = on_splits(before, common), on_splits(after, common)
    old, new = summarise(before), summarise(after)
    lines = ["Before → after (means over the splits both runs share)", ""]
    rows = []
    for name in datasets:
        for estimator in estimators:
            if (name, estimator) not in new or (name, estimator) not in old:
                continue
            rows.append([name, LABELS[estimator], str(new[name, estimator]["nll"][2]), *(
                f"{_cell(old, name, estimator, m, False)} → {_cell(new, name, estimator, m, False)}"
                for m in METRICS)])
    lines += _table(["data set", "estimator", "splits", *METRICS], rows)
    extra = on_splits(list(ngboost), common) + on_splits(list(tuned), common)
    for label, records in (("Before", before), ("After", after)):
        lines += ["", label + ":", targets(summarise(records + extra), datasets, estimators)]
    return "\n".join(lines)


# ---------------------------------------------------------------- running


def _read_results(path):
    """Records and the list of runs that wrote them (a single old-style meta becomes one run)."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict):
        return data, []
    meta = data.get("meta", {})
    return data["records"], meta.get("runs", [meta] if meta else [])


def _describe_runs(runs):
    """One clause per run: fits, wall time, workers, load average at start and end."""
    def load(run, key):
        value = run.get(key)
        return "?" if not value else f"{value[0]:.2f}"

    return "; ".join(
        f"{run.get('n_fits', '?')} fits from {run.get('started', '?')} in "
        f"{run.get('wall_seconds', 0) / 60:.1f} min on {run.get('n_jobs', '?')} worker(s), "
        f"load average {load(run, 'loadavg_start')} at start, {load(run, 'loadavg_end')} at end "
        f"({run.get('cpus', '?')} CPUs)" for run in runs) + "."


def _split_limits(pairs):
    limits = {}
    for pair in pairs:
        name, _, count = pair.partition("=")
        if name not in DATASETS or not count.isdigit():
            raise argparse.ArgumentTypeError(f"--max-splits wants NAME=N, got {pair!r}")
        limits[name] = int(count)
    return limits


def versions():
    import scipy
    import sklearn
    import torch

    import skprob

    return {"python": platform.python_version(), "skprob": skprob.__version__,
            "torch": torch.__version__, "scikit-learn": sklearn.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--estimators", nargs="+", default=list(SHORT_NAMES),
                        choices=list(SHORT_NAMES))
    parser.add_argument("--splits", type=int, default=None,
                        help="the first SPLITS splits of each data set (default: all)")
    parser.add_argument("--max-splits", nargs="+", default=[], metavar="NAME=N",
                        help="fewer splits for some sets, e.g. protein-tertiary-structure=2")
    parser.add_argument("--n-jobs", type=int, default=1, help="parallel worker processes")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--json", type=Path, default=None,
                        help="write the raw per-split records here (for a later --compare)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the records already in --json and fit only the missing ones")
    parser.add_argument("--seed-offset", type=int, default=0,
                        help="fit with random_state = split + SEED_OFFSET (default 0, the "
                             "recorded runs); another offset measures the seed's own effect")
    parser.add_argument("--load", type=Path, nargs="+", default=None,
                        help="report the records of earlier --json files instead of fitting "
                             "(several: pooled, e.g. two seeds per split)")
    parser.add_argument("--compare", type=Path, default=None, metavar="BEFORE.json",
                        help="also print BEFORE → this run, side by side")
    parser.add_argument("--ngboost", type=Path, default=RESULTS_DIR / "ngboost_defaults.json")
    parser.add_argument("--tuned", type=Path, default=RESULTS_DIR / "uci.json")
    args = parser.parse_args(argv)

    estimators = [SHORT_NAMES[e] for e in args.estimators]
    if args.load is not None:
        records, runs = [], []
        for path in args.load:
            more_records, more_runs = _read_results(path)
            records += more_records
            runs += more_runs
        records = [r for r in records
                   if r["dataset"] in args.datasets and r["estimator"] in estimators]
        footer = (f"Records of {', '.join(map(str, args.load))}: " + _describe_runs(runs))
    else:
        records, runs = [], []
        if args.resume and args.json is not None and args.json.exists():
            records, runs = _read_results(args.json)
        # Records written before seeds were recorded used random_state = split.
        done = {(r["dataset"], r.get("seed", r["split"]), r["estimator"]) for r in records}
        limits = _split_limits(args.max_splits)
        tasks = [(name, split, estimator) for name in args.datasets
                 for split in range(min(n_splits(name, args.data_dir),
                                        args.splits or math.inf,
                                        limits.get(name, math.inf)))
                 for estimator in estimators
                 if (name, split + args.seed_offset, estimator) not in done]
        run = {"started": datetime.datetime.now().isoformat(timespec="seconds"),
               "loadavg_start": os.getloadavg(), "cpus": os.cpu_count(),
               "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "n_jobs": args.n_jobs,
               "argv": sys.argv[1:] if argv is None else argv, "versions": versions(),
               "n_fits": 0}
        runs.append(run)
        print(f"{len(tasks)} default fits on {args.n_jobs} worker(s) ({len(done)} resumed); "
              f"load average {run['loadavg_start'][0]:.2f}", flush=True)
        start = time.perf_counter()
        for record in Parallel(n_jobs=args.n_jobs, return_as="generator")(
                delayed(run_one)(*task, args.data_dir, args.seed_offset) for task in tasks):
            records.append(record)
            print(f"{record['dataset']} split {record['split']} {record['estimator']}: "
                  f"NLL {record['nll']:.3f}, fit {record['fit_seconds']:.1f} s", flush=True)
            run.update(finished=datetime.datetime.now().isoformat(timespec="seconds"),
                       loadavg_end=os.getloadavg(), wall_seconds=time.perf_counter() - start,
                       n_fits=run["n_fits"] + 1)
            if args.json is not None:  # after every fit, so a crash keeps what ran
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(
                    {"meta": {"runs": runs}, "records": records}, indent=1) + "\n")
        run["loadavg_end"] = os.getloadavg()
        footer = _describe_runs(runs)
        records = [r for r in records
                   if r["dataset"] in args.datasets and r["estimator"] in estimators]

    ngboost = read_records(args.ngboost) if args.ngboost.exists() else []
    tuned = tuned_records(args.tuned)
    print(report(records, ngboost, tuned, args.datasets, estimators))
    if not ngboost:
        print(f"\n(no NGBoost results: {args.ngboost} is missing; run ngboost_defaults.py)")
    print("\n" + footer)
    if args.compare is not None:
        print("\n" + compare(read_records(args.compare), records, args.datasets, estimators,
                             ngboost, tuned))


if __name__ == "__main__":
    main()
