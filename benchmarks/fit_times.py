"""Default fit times of skprob's regressors and of NGBoost, side by side in one run.

Issue 14 asks that every default fit be faster than NGBoost's default fit on
every UCI set. ``defaults.py`` and ``ngboost_defaults.py`` record fit times,
but in separate runs whose load differed; this script measures both in ONE run,
interleaved: for every data set and round the fits run in a rotating order
(NGBoost, then the three skprob regressors, then the order shifts by one), and
each fit's best time over the rounds is reported. Both follow the protocol of
those two scripts (their ``run_one``: a ``StandardScaler`` on X, defaults only,
``random_state=split``, one thread). NGBoost runs in ITS OWN virtualenv (it pins
scikit-learn < 1.7), one subprocess per fit, timed inside the subprocess::

    python3 -m venv ../ngboost-venv
    ../ngboost-venv/bin/pip install ngboost "scikit-learn<1.7"
    python benchmarks/fit_times.py --ngboost-python ../ngboost-venv/bin/python

Run it on an idle machine; the load average is printed with the table.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from defaults import NGBOOST, SHORT_NAMES, run_one
from uci import DATA_DIR, DATASETS

HERE = Path(__file__).resolve().parent

_NGBOOST_FIT = (
    "import json, sys; sys.path.insert(0, {here!r}); "
    "from ngboost_defaults import run_one; "
    "print(json.dumps(run_one({name!r}, {split}, {data_dir!r})))"
)


def ngboost_fit_seconds(python, name, split, data_dir):
    """Fit time of NGBoost's defaults on one split, measured in its own interpreter."""
    code = _NGBOOST_FIT.format(here=str(HERE), name=name, split=split, data_dir=str(data_dir))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    output = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True,
                            env=env).stdout
    return json.loads(output.strip().splitlines()[-1])["fit_seconds"]


def fit_seconds(estimator, name, split, data_dir, ngboost_python):
    if estimator == NGBOOST:
        return ngboost_fit_seconds(ngboost_python, name, split, data_dir)
    return run_one(name, split, estimator, data_dir)["fit_seconds"]


def measure(datasets, splits, rounds, data_dir, ngboost_python, estimators):
    """``{(data set, estimator): best fit seconds}`` over ``rounds`` interleaved rounds."""
    names = [NGBOOST, *estimators]
    best = {}
    for name in datasets:
        for split in splits:
            for round_ in range(rounds):
                shift = round_ % len(names)
                for estimator in names[shift:] + names[:shift]:
                    seconds = fit_seconds(estimator, name, split, data_dir, ngboost_python)
                    key = (name, split, estimator)
                    best[key] = min(best.get(key, float("inf")), seconds)
                    print(f"{name} split {split} round {round_} {estimator}: {seconds:.2f} s "
                          f"(load {os.getloadavg()[0]:.2f})", flush=True)
    return best


def table(best, datasets, splits, estimators):
    """Markdown: per data set the mean over splits of each best time, and skprob / NGBoost."""
    header = ("| data set | NGBoost s | "
              + " | ".join(f"{e} s | ratio" for e in estimators) + " |")
    lines = [header, "|---|---|" + "---|---|" * len(estimators)]
    for name in datasets:
        def mean(estimator, name=name):
            return sum(best[(name, s, estimator)] for s in splits) / len(splits)

        ngboost = mean(NGBOOST)
        cells = [f"{mean(e):.2f} | {mean(e) / ngboost:.2f}x" for e in estimators]
        lines.append(f"| {name} | {ngboost:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ngboost-python", required=True,
                        help="python of a virtualenv with ngboost and scikit-learn < 1.7")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--splits", nargs="+", type=int, default=[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--estimators", nargs="+", default=list(SHORT_NAMES),
                        choices=list(SHORT_NAMES))
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    estimators = [SHORT_NAMES[e] for e in args.estimators]
    start_load = os.getloadavg()[0]
    best = measure(args.datasets, args.splits, args.rounds, args.data_dir,
                   args.ngboost_python, estimators)
    print(f"\nBest of {args.rounds} interleaved rounds, splits {args.splits}; load average "
          f"{start_load:.2f} at start, {os.getloadavg()[0]:.2f} at end; {sys.platform}, "
          f"{os.cpu_count()} cores.\n")
    print(table(best, args.datasets, args.splits, estimators))


if __name__ == "__main__":
    main()
