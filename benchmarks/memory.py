"""Peak memory of prediction on a million rows: extra resident memory per call.

Each case runs in a fresh process: fit a small model, build X (10^6 rows, 5
features), reset the kernel's peak-RSS counter (``/proc/self/clear_refs``),
call the method, and report the peak resident memory above what the process
held before the call, next to the size of the result. Linux only.

    python benchmarks/memory.py            # every case
    python benchmarks/memory.py --rows 100000
"""

import argparse
import json
import subprocess
import sys
import time

CASES = {
    "DropoutMLPRegressor.predict": ("DropoutMLPRegressor", "predict", {}),
    "DropoutMLPRegressor.predict(return_std=True)": (
        "DropoutMLPRegressor", "predict", {"return_std": True}),
    "DropoutMLPRegressor.predict_uncertainty": ("DropoutMLPRegressor", "predict_uncertainty", {}),
    "DropoutMLPRegressor.sample_posterior(n_samples=100)": (
        "DropoutMLPRegressor", "sample_posterior", {"n_samples": 100, "random_state": 0}),
    "BayesianMLPRegressor.predict(return_std=True)": (
        "BayesianMLPRegressor", "predict", {"return_std": True}),
    "MixtureDensityRegressor.predict(return_std=True)": (
        "MixtureDensityRegressor", "predict", {"return_std": True}),
    "DropoutMLPClassifier.predict_proba": ("DropoutMLPClassifier", "predict_proba", {}),
    "DropoutMLPClassifier.sample_posterior(n_samples=10)": (
        "DropoutMLPClassifier", "sample_posterior", {"n_samples": 10, "random_state": 0}),
}


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _result_bytes(result):
    if isinstance(result, tuple):
        return sum(_result_bytes(r) for r in result)
    return result.nbytes


def run_case(name, n_rows):
    import numpy as np

    import skprob

    estimator, method, kwargs = CASES[name]
    rng = np.random.default_rng(0)
    X_train = rng.normal(size=(2000, 5))
    y_train = X_train[:, 0] + 0.1 * rng.normal(size=2000)
    if estimator.endswith("Classifier"):
        y_train = np.digitize(y_train, [-0.5, 0.5])  # three classes
    params = {"max_iter": 2, "random_state": 0}
    if estimator == "MixtureDensityRegressor":
        params["n_components"] = 16
    else:
        params["n_mc_samples"] = 100
    model = getattr(skprob, estimator)(**params).fit(X_train, y_train)
    X = rng.normal(size=(n_rows, 5))
    getattr(model, method)(X[:100], **kwargs)  # warm up torch's allocator and kernels
    before = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM, the peak resident set size
    start = time.perf_counter()
    result = getattr(model, method)(X, **kwargs)
    seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM")
    return {
        "extra_mib": (peak - before) / 1024,
        "result_mib": _result_bytes(result) / 2**20,
        "seconds": seconds,
        "skprob": skprob.__file__,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10**6)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.rows)))
        return
    print(f"{args.rows} rows, 5 features, T = 100 passes (K = 16 for the MDN), hidden (100,)\n")
    print("| call | result (MiB) | extra peak RSS (MiB) | time (s) |")
    print("|---|---:|---:|---:|")
    for name in CASES:
        out = subprocess.run(
            [sys.executable, __file__, "--rows", str(args.rows), "--case", name],
            capture_output=True, text=True, check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {name} | {r['result_mib']:.1f} | {r['extra_mib']:.0f} | {r['seconds']:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
