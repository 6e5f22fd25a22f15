"""Fit throughput of skprob's MixtureDensityRegressor against the references.

The references live outside the repository, in ``../shared/bench/``:
``ref_mdn_torch.py`` (a hand-written PyTorch loop) and ``ref_mdn_skorch.py``
(skorch's ``NeuralNetRegressor``). All three train the lecture's network
(14 -> 128 relu -> 128 relu -> 64 tanh -> 16-component mixture) with Adam at
lr 1e-3 on the same data and batch size. They run interleaved in one process,
warm, for several rounds; the table reports the best round of each (this
machine's speed drifts) and the ratios of skprob to each reference.

Usage::

    python benchmarks/bench_fit_speed.py [--n 50000] [--epochs 5] [--rounds 3]
"""

import argparse
import contextlib
import io
import re
import sys
import time
from pathlib import Path

import torch

BENCH_DIR = Path(__file__).resolve().parents[2] / "shared" / "bench"


def _load_references(bench_dir):
    sys.path.insert(0, str(bench_dir))
    import ref_mdn_torch

    try:
        import ref_mdn_skorch
    except ImportError:  # skorch not installed: report the torch reference only
        ref_mdn_skorch = None
    return ref_mdn_torch, ref_mdn_skorch


def _reported_throughput(main, *args):
    """Run a reference ``main`` and read the samples/s it prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(*args)
    return float(re.search(r"([\d,]+) samples/s", out.getvalue()).group(1).replace(",", ""))


def _skprob_throughput(X, y, epochs, batch):
    from skprob import MixtureDensityRegressor

    mdn = MixtureDensityRegressor(
        hidden_layer_sizes=(128, 128, 64),
        activation=("relu", "relu", "tanh"),
        n_components=16,
        batch_size=batch,
        learning_rate_init=1e-3,
        max_iter=epochs,
        random_state=0,
    )
    start = time.perf_counter()
    mdn.fit(X, y)
    return len(X) * epochs / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--bench-dir", type=Path, default=BENCH_DIR)
    args = parser.parse_args(argv)

    ref_torch, ref_skorch = _load_references(args.bench_dir)
    X, y = ref_torch.make_data(args.n)
    contenders = {
        "skprob": lambda b: _skprob_throughput(X, y, args.epochs, b),
        "torch loop": lambda b: _reported_throughput(ref_torch.main, args.n, args.epochs, b),
    }
    if ref_skorch is not None:
        contenders["skorch"] = lambda b: _reported_throughput(
            ref_skorch.main, args.n, args.epochs, b
        )

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, n={args.n}, "
          f"epochs={args.epochs}, best of {args.rounds} interleaved rounds")
    # Warm-up: a first fit in a fresh process pays one-off costs that are not throughput.
    _skprob_throughput(X[:2000], y[:2000], 1, 256)
    contenders["torch loop"](args.batch_sizes[0])

    best = {(name, b): 0.0 for name in contenders for b in args.batch_sizes}
    for _ in range(args.rounds):
        for b in args.batch_sizes:
            for name, run in contenders.items():
                best[name, b] = max(best[name, b], run(b))

    header = f"| batch | {' | '.join(f'{n} (samples/s)' for n in contenders)} |"
    header += " skprob / torch loop |" + (" skprob / skorch |" if ref_skorch else "")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for b in args.batch_sizes:
        cells = [f"{best[name, b]:,.0f}" for name in contenders]
        ratios = [best["skprob", b] / best["torch loop", b]]
        if ref_skorch is not None:
            ratios.append(best["skprob", b] / best["skorch", b])
        print(f"| {b} | " + " | ".join(cells) + " | "
              + " | ".join(f"{r:.2f}x" for r in ratios) + " |")


if __name__ == "__main__":
    main()
