"""Intra-op threads: fit and predict times with one thread, torch's default, and skprob's choice.

Each workload runs under three thread policies, interleaved round by round
(best of ``--rounds``), on an idle machine and again while the benchmark keeps
every core busy with a bounded background load of its own (one spinning
process per core, started before and stopped after the busy rounds):

- ``one``: every call on one intra-op thread;
- ``default``: torch's default (one thread per core);
- ``skprob``: what skprob picks per call (``skprob._torch.threads``).

The table gives seconds and skprob's time relative to the better of the other
two (the contract: at most 1.10). Run ``python benchmarks/threads.py``; it is
also section 5 of ``benchmarks/speed.py``.
"""

import argparse
import multiprocessing
import os
import time
import warnings

import numpy as np
import torch

from skprob import DropoutMLPRegressor, MixtureDensityRegressor
from skprob._torch import threads

POLICIES = ("one", "default", "skprob")
SEED_NETWORK = {
    "hidden_layer_sizes": (128, 128, 64),
    "activation": ("relu", "relu", "tanh"),
    "n_components": 16,
}


def _spin(stop_at):
    x = 0
    while time.time() < stop_at:
        x += 1


class BackgroundLoad:
    """One spinning process per core for at most ``seconds``, stopped on exit."""

    def __init__(self, seconds, n_processes=None):
        self.seconds = seconds
        self.n_processes = n_processes or os.cpu_count()

    def __enter__(self):
        stop_at = time.time() + self.seconds
        context = multiprocessing.get_context("spawn")
        self.processes = [
            context.Process(target=_spin, args=(stop_at,), daemon=True)
            for _ in range(self.n_processes)
        ]
        for process in self.processes:
            process.start()
        # skprob reads the one-minute load average: wait until it shows the load.
        _wait_for_load(lambda load: load >= 0.9 * self.n_processes)
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.terminate()
            process.join()


def _wait_for_load(condition, timeout=150.0):
    start = time.time()
    while not condition(os.getloadavg()[0]) and time.time() - start < timeout:
        time.sleep(2.0)


def _with_policy(policy, function):
    import skprob._base

    chosen = {
        "one": lambda work: 1,
        "default": lambda work: torch.get_num_threads(),
        "skprob": threads.threads_for,
    }[policy]
    saved = skprob._base.threads_for
    skprob._base.threads_for = chosen
    try:
        start = time.perf_counter()
        function()
        return time.perf_counter() - start
    finally:
        skprob._base.threads_for = saved


def workloads(scale):
    """(name, callable) pairs, each a whole fit or predict call as a user makes it."""
    rng = np.random.default_rng(0)

    def data(n, d):
        X = rng.normal(size=(n, d))
        return X, X[:, 0] + np.sin(X[:, 1]) + 0.3 * rng.normal(size=n)

    small_X, small_y = data(442, 10)  # diabetes-sized
    mid_X, mid_y = data(int(20_000 * scale), 14)
    big_X, _ = data(int(100_000 * scale), 14)
    seed_mdn = MixtureDensityRegressor(**SEED_NETWORK, max_iter=2, random_state=0)
    seed_mdn.fit(mid_X, mid_y)
    dropout = DropoutMLPRegressor(max_iter=2, random_state=0).fit(mid_X, mid_y)
    return [
        ("fit DropoutMLPRegressor, 442 rows, 200 epochs",
         lambda: DropoutMLPRegressor(max_iter=int(200 * scale) or 1, random_state=0).fit(
             small_X, small_y)),
        (f"fit seed MDN, {len(mid_X)} rows, batch 256, 2 epochs",
         lambda: MixtureDensityRegressor(**SEED_NETWORK, batch_size=256, max_iter=2,
                                         random_state=0).fit(mid_X, mid_y)),
        (f"fit seed MDN, {len(mid_X)} rows, batch 1024, 2 epochs",
         lambda: MixtureDensityRegressor(**SEED_NETWORK, batch_size=1024, max_iter=2,
                                         random_state=0).fit(mid_X, mid_y)),
        (f"predict_dist seed MDN, {len(big_X)} rows", lambda: seed_mdn.predict_dist(big_X)),
        (f"predict DropoutMLPRegressor T=100, {len(mid_X)} rows",
         lambda: dropout.predict(mid_X)),
    ]


def measure(rounds, scale, busy_seconds):
    """Best-of-rounds seconds per (condition, workload, policy)."""
    warnings.simplefilter("ignore")
    jobs = workloads(scale)
    results = {}
    for condition in ("idle", "busy"):
        if condition == "idle":  # until the one-minute load average shows an idle core
            _wait_for_load(lambda load: load <= os.cpu_count() - 1.2)
        load = BackgroundLoad(busy_seconds) if condition == "busy" else None
        if load:
            load.__enter__()
        try:
            for _ in range(rounds):
                for name, job in jobs:
                    for policy in POLICIES:
                        seconds = _with_policy(policy, job)
                        key = (condition, name, policy)
                        results[key] = min(results.get(key, np.inf), seconds)
        finally:
            if load:
                load.__exit__(None, None, None)
    return jobs, results


def parallel_fits(rounds, scale):
    """Seconds for four fits run one after another and in two threads side by side.

    Before skprob drew every random number from per-fit generators, a
    process-wide lock serialised fits in threads (joblib's threading backend,
    dask workers with ``processes=False``).
    """
    from concurrent.futures import ThreadPoolExecutor

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 8))
    y = X[:, 0] + 0.3 * rng.normal(size=2000)
    epochs = max(1, int(60 * scale))

    def fit(seed):
        return MixtureDensityRegressor(max_iter=epochs, early_stopping=False,
                                       random_state=seed).fit(X, y)

    best = {"serial": np.inf, "2 threads": np.inf}
    for _ in range(rounds):
        start = time.perf_counter()
        serial = [fit(seed).predict(X[:5]) for seed in range(4)]
        best["serial"] = min(best["serial"], time.perf_counter() - start)
        start = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            threaded = [m.predict(X[:5]) for m in pool.map(fit, range(4))]
        best["2 threads"] = min(best["2 threads"], time.perf_counter() - start)
        # Reproducible whatever runs beside them: the same four models.
        assert all(np.array_equal(a, b) for a, b in zip(serial, threaded, strict=True))
    return best


def table(jobs, results):
    lines = [
        "| workload | condition | one thread (s) | default (s) | skprob (s) | "
        "skprob / best |",
        "|---|---|---|---|---|---|",
    ]
    for condition in ("idle", "busy"):
        for name, _ in jobs:
            one, default, chosen = (results[(condition, name, p)] for p in POLICIES)
            lines.append(
                f"| {name} | {condition} | {one:.3f} | {default:.3f} | {chosen:.3f} | "
                f"{chosen / min(one, default):.2f} |"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the workloads")
    parser.add_argument("--busy-seconds", type=float, default=600.0,
                        help="upper bound on the background load's life")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, default threads "
          f"{torch.get_num_threads()}, load average before: {os.getloadavg()[0]:.2f}")
    jobs, results = measure(args.rounds, args.scale, args.busy_seconds)
    print(table(jobs, results))
    best = parallel_fits(args.rounds, args.scale)
    print(f"\nfour MixtureDensityRegressor fits (2,000 rows): serial {best['serial']:.2f} s, "
          f"in two threads {best['2 threads']:.2f} s "
          f"({best['serial'] / best['2 threads']:.2f}x), identical models")


if __name__ == "__main__":
    main()
