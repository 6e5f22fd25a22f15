"""Speed of skprob's estimators against hand-written PyTorch loops and skorch.

Every estimator is timed against two references training the SAME network on
the same data with the same batch size and Adam at lr 1e-3:

* a hand-written PyTorch loop -- for the mixture density network the shared
  reference ``../shared/bench/ref_mdn_torch.py``; for the MC-dropout and
  Bayesian networks the same loop written below with their modules, and
* skorch -- ``../shared/bench/ref_mdn_skorch.py`` for the MDN, and skorch's
  ``NeuralNet`` with the same modules for the others.

All contenders run in one process, warm, interleaved, best of ``--rounds``
(this machine's speed drifts). The networks are the lecture's trunk
(14 -> 128 relu -> 128 relu -> 64 tanh). Sections:

1. fit throughput (samples/s) at batch 256 and 1024, with ratios;
2. prediction throughput: one pass (MDN) and T Monte Carlo passes, batched
   as skprob does vs a Python loop of single passes;
3. growth of fit time and peak memory with n (10^4 ... 10^6 rows), and of
   fit / predict time with n_components and T; peak memory is measured in a
   fresh child process per point (its maximum resident set size above what
   it held before the call);
4. skprob's fit throughput on ``device="cuda"`` beside the CPU, when a GPU
   is present;
5. deep ensembles: fit time of M stacked members against one member on
   UCI-size networks, and on the lecture's network against M hand-written
   loops run one after the other; prediction time likewise.

Usage::

    python benchmarks/speed.py                 # ~15 min on 2 CPU cores
    python benchmarks/speed.py --quick         # smaller sizes, a smoke run
"""

import argparse
import concurrent.futures
import contextlib
import copy
import io
import math
import multiprocessing
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

BENCH_DIR = Path(__file__).resolve().parents[2] / "shared" / "bench"
SEED_TRUNK = {"hidden_layer_sizes": (128, 128, 64), "activation": ("relu", "relu", "tanh")}
N_FEATURES = 14


def load_references(bench_dir=BENCH_DIR):
    """The shared reference modules ``ref_mdn_torch`` and ``ref_mdn_skorch`` (or None)."""
    sys.path.insert(0, str(bench_dir))
    import ref_mdn_torch

    try:
        import ref_mdn_skorch
    except ImportError:  # skorch not installed: the torch reference only
        ref_mdn_skorch = None
    return ref_mdn_torch, ref_mdn_skorch


def reported_throughput(main, *args):
    """Run a shared reference's ``main`` and read the samples/s it prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(*args)
    return float(re.search(r"([\d,]+) samples/s", out.getvalue()).group(1).replace(",", ""))


# --- hand-written networks: the same architectures, written without skprob ---------------


class HandBayesLinear(nn.Module):
    """Mean-field Gaussian linear layer, local reparameterisation, N(0, 1) prior."""

    def __init__(self, n_in, n_out):
        super().__init__()
        bound = 1 / math.sqrt(n_in)
        self.w_mu = nn.Parameter(torch.empty(n_out, n_in).uniform_(-bound, bound))
        self.b_mu = nn.Parameter(torch.empty(n_out).uniform_(-bound, bound))
        self.w_rho = nn.Parameter(torch.full((n_out, n_in), -6.9))
        self.b_rho = nn.Parameter(torch.full((n_out,), -6.9))

    def forward(self, x):
        w_std, b_std = F.softplus(self.w_rho), F.softplus(self.b_rho)
        mean = F.linear(x, self.w_mu, self.b_mu)
        var = F.linear(x * x, w_std**2, b_std**2)
        return mean + var.sqrt() * torch.randn_like(mean)

    def kl(self):
        total = 0.0
        for mu, rho in ((self.w_mu, self.w_rho), (self.b_mu, self.b_rho)):
            std = F.softplus(rho)
            total = total + (0.5 * (std**2 + mu**2 - 1) - std.log()).sum()
        return total


def hand_network(kind, n_out):
    """The lecture's trunk with dropout (``"dropout"``) or Bayesian layers (``"bayes"``)."""
    layer = HandBayesLinear if kind == "bayes" else nn.Linear
    blocks, n_in = [], N_FEATURES
    for width, act in ((128, nn.ReLU), (128, nn.ReLU), (64, nn.Tanh)):
        blocks += [layer(n_in, width), act()]
        if kind == "dropout":
            blocks.append(nn.Dropout(0.1))
        n_in = width
    return nn.Sequential(*blocks, layer(n_in, n_out))


def gaussian_nll(out, y):
    scale = F.softplus(out[:, 1]) + 1e-3
    return (0.5 * ((y - out[:, 0]) / scale) ** 2 + scale.log()).mean()


def kl_of(module):
    return sum(m.kl() for m in module.modules() if isinstance(m, HandBayesLinear))


def hand_loop(module, loss_fn, X, y, epochs, batch):
    """The plain PyTorch loop: shuffle, slice, forward, loss (+ KL / n), step."""
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    n = len(X)
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i : i + batch]
            loss = loss_fn(module(X[idx]), y[idx])
            kl = kl_of(module)
            if not isinstance(kl, float):
                loss = loss + kl / n
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return n * epochs / (time.perf_counter() - start)


def skorch_throughput(module, loss_fn, X, y, epochs, batch):
    """The same module and loss through skorch's ``NeuralNet`` (default DataLoader path)."""
    from skorch import NeuralNet

    n = len(X)

    class Net(NeuralNet):
        def get_loss(self, y_pred, y_true, X=None, training=False):
            loss = loss_fn(y_pred, y_true)
            kl = kl_of(self.module_)
            return loss if isinstance(kl, float) else loss + kl / n

    net = Net(module, criterion=nn.Identity, optimizer=torch.optim.Adam, lr=1e-3,
              max_epochs=epochs, batch_size=batch, train_split=None, verbose=0)
    start = time.perf_counter()
    net.fit(X, y)
    return n * epochs / (time.perf_counter() - start)


# --- section 1: fit throughput ---------------------------------------------------------


def estimator_contenders(refs, X, y, epochs, batch, device):
    """``{estimator: {contender: thunk returning samples/s}}`` for one batch size."""
    from skprob import (
        BayesianMLPClassifier,
        BayesianMLPRegressor,
        DropoutMLPClassifier,
        DropoutMLPRegressor,
        MixtureDensityRegressor,
    )

    ref_torch, ref_skorch = refs
    y_class = (y > np.median(y)).astype(np.int64)
    Xt, yt, yc = torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(y_class)
    n = len(X)
    # Fixed epochs at the references' rate: no early stopping, whatever the defaults say.
    common = {**SEED_TRUNK, "batch_size": batch, "max_iter": epochs, "random_state": 0,
              "device": device, "early_stopping": False, "learning_rate_init": 1e-3}
    cases = {
        "MixtureDensityRegressor": (MixtureDensityRegressor(n_components=16, **common), y,
                                    None, None, None),
        "DropoutMLPRegressor": (DropoutMLPRegressor(dropout_rate=0.1, **common), y,
                                "dropout", 2, gaussian_nll),
        "DropoutMLPClassifier": (DropoutMLPClassifier(dropout_rate=0.1, **common), y_class,
                                 "dropout", 2, F.cross_entropy),
        "BayesianMLPRegressor": (BayesianMLPRegressor(**common), y, "bayes", 2, gaussian_nll),
        "BayesianMLPClassifier": (BayesianMLPClassifier(**common), y_class, "bayes", 2,
                                  F.cross_entropy),
    }
    contenders = {}
    for name, (model, target, kind, n_out, loss_fn) in cases.items():
        def fit_skprob(model=model, target=target):
            start = time.perf_counter()
            model.fit(X, target)
            return n * epochs / (time.perf_counter() - start)

        entry = {"skprob": fit_skprob}
        if kind is None:  # the shared MDN references
            entry["torch loop"] = lambda: reported_throughput(ref_torch.main, n, epochs, batch)
            if ref_skorch is not None:
                entry["skorch"] = lambda: reported_throughput(ref_skorch.main, n, epochs, batch)
        else:
            target_t = yc if loss_fn is F.cross_entropy else yt
            entry["torch loop"] = lambda k=kind, o=n_out, f=loss_fn, t=target_t: hand_loop(
                hand_network(k, o), f, Xt, t, epochs, batch)
            if ref_skorch is not None:
                entry["skorch"] = lambda k=kind, o=n_out, f=loss_fn, t=target_t: (
                    skorch_throughput(hand_network(k, o), f, Xt, t, epochs, batch))
        contenders[name] = entry
    return contenders


def fit_table(refs, n, epochs, batch_sizes, rounds, device="cpu"):
    ref_torch = refs[0]
    X, y = ref_torch.make_data(n)
    rows = ["| estimator | batch | skprob (samples/s) | torch loop | skorch | "
            "skprob / torch loop | skprob / skorch |", "|---|---|---|---|---|---|---|"]
    for batch in batch_sizes:
        contenders = estimator_contenders(refs, X, y, epochs, batch, device)
        # Warm-up: the first fit of a process pays one-off costs that are not throughput.
        warm = estimator_contenders(refs, X[:2000], y[:2000], 1, batch, device)
        for entry in warm.values():
            for run in entry.values():
                run()
        best = {(name, c): 0.0 for name, entry in contenders.items() for c in entry}
        for _ in range(rounds):
            for name, entry in contenders.items():
                for contender, run in entry.items():
                    best[name, contender] = max(best[name, contender], run())
        for name in contenders:
            skprob, loop = best[name, "skprob"], best[name, "torch loop"]
            skorch = best.get((name, "skorch"), math.nan)
            rows.append(f"| {name} | {batch} | {skprob:,.0f} | {loop:,.0f} | {skorch:,.0f} | "
                        f"{skprob / loop:.2f}x | {skprob / skorch:.2f}x |")
    return "\n".join(rows)


def device_table(refs, n, epochs, batch_sizes):
    """skprob's fit throughput on the GPU beside the CPU, per estimator."""
    X, y = refs[0].make_data(n)
    rows = ["| estimator | batch | cpu (samples/s) | cuda (samples/s) | cuda / cpu |",
            "|---|---|---|---|---|"]
    for batch in batch_sizes:
        speeds = {}
        for device in ("cpu", "cuda"):
            contenders = estimator_contenders(refs, X, y, epochs, batch, device)
            estimator_contenders(refs, X[:2000], y[:2000], 1, batch, device)[
                "MixtureDensityRegressor"]["skprob"]()  # warm-up
            for name, entry in contenders.items():
                speeds[name, device] = entry["skprob"]()
        for name in contenders:
            cpu, cuda = speeds[name, "cpu"], speeds[name, "cuda"]
            rows.append(f"| {name} | {batch} | {cpu:,.0f} | {cuda:,.0f} | {cuda / cpu:.2f}x |")
    return "\n".join(rows)


# --- section 2: prediction throughput ---------------------------------------------------


def _best_time(function, rounds):
    best = math.inf
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def predict_table(refs, n, n_passes, rounds):
    from skprob import BayesianMLPRegressor, DropoutMLPRegressor, MixtureDensityRegressor
    from skprob._torch.prediction import predict_params

    X, y = refs[0].make_data(n)
    rows = ["| estimator | passes | rows/s, batched | rows/s, looped | looped / batched time |",
            "|---|---|---|---|---|"]
    mdn = MixtureDensityRegressor(**SEED_TRUNK, n_components=16, max_iter=1, random_state=0)
    mdn.fit(X[:5000], y[:5000])
    seconds = _best_time(lambda: mdn.predict_dist(X), rounds)
    rows.append(f"| MixtureDensityRegressor | 1 | {n / seconds:,.0f} | – | – |")
    for estimator_class in (DropoutMLPRegressor, BayesianMLPRegressor):
        model = estimator_class(**SEED_TRUNK, n_mc_samples=n_passes, max_iter=1, random_state=0)
        model.fit(X[:5000], y[:5000])
        batched = _best_time(lambda m=model: m.predict_dist(X), rounds)

        def looped(m=model):
            for seed in range(n_passes):
                predict_params(m.module_, X, n_passes=1, seed=seed)

        looped_time = _best_time(looped, rounds)
        rows.append(f"| {estimator_class.__name__} | {n_passes} | {n / batched:,.0f} | "
                    f"{n / looped_time:,.0f} | {looped_time / batched:.2f}x |")
    return "\n".join(rows)


# --- section 3: growth with n, n_components and T ----------------------------------------


def _peak_rss_mb():
    """Peak resident memory of this process so far, in MB.

    Linux's ``VmHWM`` belongs to the process image; ``ru_maxrss`` would also
    carry the parent's peak over the fork + exec that starts a spawned child.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure_in_child(job, *args):
    """Seconds and peak extra resident memory (MB) of ``job(*args)`` run in a fresh process."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(job, *args).result()


def _timed_with_peak(function):
    """``function()``'s result, its seconds and the peak memory (MB) it added."""
    before = _peak_rss_mb()
    start = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - start
    return result, seconds, _peak_rss_mb() - before


def _fit_job(n, epochs, n_components, threads):
    torch.set_num_threads(threads)
    from skprob import MixtureDensityRegressor

    X, y = load_references()[0].make_data(n)
    model = MixtureDensityRegressor(**SEED_TRUNK, n_components=n_components, batch_size=1024,
                                    max_iter=epochs, early_stopping=False, random_state=0)
    model.set_params(max_iter=1).fit(X[:2000], y[:2000])  # warm-up
    model.set_params(max_iter=epochs)
    _, seconds, memory = _timed_with_peak(lambda: model.fit(X, y))
    return seconds, memory


def _predict_job(n, n_passes, threads):
    torch.set_num_threads(threads)
    from skprob import DropoutMLPRegressor, MixtureDensityRegressor

    X, y = load_references()[0].make_data(n)
    if n_passes is None:
        model = MixtureDensityRegressor(**SEED_TRUNK, n_components=16, max_iter=1)
    else:
        model = DropoutMLPRegressor(**SEED_TRUNK, n_mc_samples=n_passes, max_iter=1)
    model.set_params(random_state=0).fit(X[:2000], y[:2000])
    dist, seconds, memory = _timed_with_peak(lambda: model.predict_dist(X))
    output_mb = sum(a.nbytes for a in vars(dist).values() if isinstance(a, np.ndarray)) / 2**20
    return seconds, memory, output_mb


def scaling_tables(sizes, components, passes, n_predict, threads):
    rows = ["Fit (MDN, seed network, K=16, batch 1024, 1 epoch) as n grows:", "",
            "| n | seconds | µs per row | peak extra memory (MB) | data (MB) |",
            "|---|---|---|---|---|"]
    for n in sizes:
        seconds, memory = _measure_in_child(_fit_job, n, 1, 16, threads)
        data_mb = n * (N_FEATURES + 1) * 4 / 2**20
        rows.append(f"| {n:,} | {seconds:.2f} | {seconds / n * 1e6:.1f} | {memory:.0f} | "
                    f"{data_mb:.0f} |")
    rows += ["", f"Fit (MDN, n={sizes[0]:,}, 3 epochs) as n_components grows:", "",
             "| n_components | seconds | samples/s |", "|---|---|---|"]
    for k in components:
        seconds, _ = _measure_in_child(_fit_job, sizes[0], 3, k, threads)
        rows.append(f"| {k} | {seconds:.2f} | {3 * sizes[0] / seconds:,.0f} |")
    rows += ["", f"Prediction (predict_dist, n={n_predict:,}) as T grows; T=1 is the MDN's "
             "single pass:", "",
             "| estimator | T | seconds | peak extra memory (MB) | output (MB) |",
             "|---|---|---|---|---|"]
    for n_passes in (None, *passes):
        seconds, memory, output = _measure_in_child(_predict_job, n_predict, n_passes, threads)
        name = "MixtureDensityRegressor" if n_passes is None else "DropoutMLPRegressor"
        rows.append(f"| {name} | {n_passes or 1} | {seconds:.2f} | {memory:.0f} | "
                    f"{output:.0f} |")
    rows += ["", "Prediction memory as n grows (MDN, one pass): peak extra memory should "
             "track the output, not the input size:", "",
             "| n | seconds | peak extra memory (MB) | output (MB) |", "|---|---|---|---|"]
    for n in sizes:
        seconds, memory, output = _measure_in_child(_predict_job, n, None, threads)
        rows.append(f"| {n:,} | {seconds:.2f} | {memory:.0f} | {output:.0f} |")
    return "\n".join(rows)


# --- section 5: deep ensembles ------------------------------------------------------------

ENSEMBLE_SMALL = [  # (hidden_layer_sizes, batch_size, n): UCI-size networks and data
    ((50,), 32, 1_000), ((100,), 32, 1_000), ((50,), 256, 10_000), ((100,), 256, 10_000),
    ((100,), 256, 100_000),
]


PREDICT_ROWS = [32, 256, 1_000, 10_000, 100_000]


def _fit_seconds(model, X, y, threads_seen=None):
    """Seconds of one fit; the intra-op thread count skprob chose is added to ``threads_seen``."""
    import skprob._base

    choose = skprob._base.threads_for

    def recording(work):
        n_threads = choose(work)
        if threads_seen is not None:
            threads_seen.add(n_threads)
        return n_threads

    skprob._base.threads_for = recording
    try:
        start = time.perf_counter()
        model.fit(X, y)
        return time.perf_counter() - start
    finally:
        skprob._base.threads_for = choose


def _threads_cell(seen):
    return "/".join(str(n) for n in sorted(seen)) or "?"


def ensemble_tables(refs, n_members, n_lecture, rounds, small=ENSEMBLE_SMALL):
    """Fit and prediction time of ``n_members`` stacked members against one member.

    The ensemble is one network with the members on a leading axis, trained by
    the shared loop; the references are one member fitted alone, and for the
    lecture's network ``n_members`` hand-written PyTorch loops run one after
    the other (``ref_mdn_torch``). Interleaved, best of ``rounds``.
    """
    from skprob import DeepEnsembleRegressor, MixtureDensityRegressor
    from skprob._torch.threads import intra_op_threads

    X_all, y_all = refs[0].make_data(max(n for *_, n in small))
    # The threads columns: the intra-op thread counts skprob chose in the rounds
    # (skprob._torch.threads; "1/2" when the load average changed the choice).
    rows = ["| network | batch | n | epochs | 1 member (s) | threads | ensemble of "
            f"{n_members} (s) | threads | ensemble / 1 member |",
            "|---|---|---|---|---|---|---|---|---|"]
    for hidden, batch, n in small:
        X, y = X_all[:n], y_all[:n]
        epochs = max(1, 40_000 // n)
        member = MixtureDensityRegressor(hidden, n_components=5, batch_size=batch,
                                         max_iter=epochs, early_stopping=False,
                                         random_state=0)
        ensemble = DeepEnsembleRegressor(member, n_estimators=n_members, random_state=0)
        best = {"member": math.inf, "ensemble": math.inf}
        threads = {"member": set(), "ensemble": set()}
        for _ in range(rounds + 1):  # the first round warms up
            for name, model in (("member", member), ("ensemble", ensemble)):
                best[name] = min(best[name], _fit_seconds(model, X, y, threads[name]))
        rows.append(f"| {hidden[0]} relu, K=5 | {batch} | {n:,} | {epochs} | "
                    f"{best['member']:.2f} | {_threads_cell(threads['member'])} | "
                    f"{best['ensemble']:.2f} | {_threads_cell(threads['ensemble'])} | "
                    f"{best['ensemble'] / best['member']:.2f}x |")

    X, y = refs[0].make_data(n_lecture)
    lecture = MixtureDensityRegressor(**SEED_TRUNK, n_components=16, batch_size=256,
                                      max_iter=1, early_stopping=False,
                                      learning_rate_init=1e-3, random_state=0)
    ensemble = DeepEnsembleRegressor(lecture, n_estimators=n_members, random_state=0)
    best = {"loop": 0.0, "member": math.inf, "ensemble": math.inf}
    for _ in range(rounds + 1):
        # The hand-written loop at torch's default thread count and at one thread
        # (what skprob picks for this size; faster when the cores are shared).
        for threads in (torch.get_num_threads(), 1):
            with intra_op_threads(threads):
                rate = reported_throughput(refs[0].main, n_lecture, 1, 256)
            best["loop"] = max(best["loop"], rate / n_members)  # M loops one after another
        best["member"] = min(best["member"], _fit_seconds(lecture, X, y))
        best["ensemble"] = min(best["ensemble"], _fit_seconds(ensemble, X, y))
    member_rate = n_lecture / best["ensemble"]  # each sample is seen by all members
    rows += [
        "", f"Lecture network (n={n_lecture:,}, batch 256, 1 epoch): samples/s of training "
        f"all {n_members} members", "",
        f"| {n_members} hand-written loops in a row | {n_members} skprob fits in a row | "
        f"skprob ensemble of "
        f"{n_members} | ensemble / loops | ensemble time / 1 member |",
        "|---|---|---|---|---|",
        f"| {best['loop']:,.0f} | {n_lecture / best['member'] / n_members:,.0f} | "
        f"{member_rate:,.0f} | "
        f"{member_rate / best['loop']:.2f}x | {best['ensemble'] / best['member']:.2f}x |",
    ]

    rows += ["", f"Prediction (predict_dist on {n_lecture:,} rows):", "",
             f"| network | 1 member (s) | {n_members} members' predict_dist in a row (s) | "
             f"{n_members} hand-written float64 forwards in a row (s) | ensemble (s) | "
             "ensemble / 1 member | ensemble / members in a row |",
             "|---|---|---|---|---|---|---|"]
    hidden_sizes = sorted({hidden for hidden, *_ in small})
    networks = [(f"{hidden[0]} relu, K=5", dict(hidden_layer_sizes=hidden, n_components=5))
                for hidden in hidden_sizes]
    networks.append(("lecture, K=16", dict(SEED_TRUNK, n_components=16)))
    for label, architecture in networks:
        rows.append(_prediction_row(label, architecture, X, y, n_members, rounds))
    rows += _prediction_growth(X_all, y_all, hidden_sizes, n_members, rounds)
    return "\n".join(rows)


def _prediction_growth(X, y, hidden_sizes, n_members, rounds, sizes=PREDICT_ROWS):
    """predict_dist time of the ensemble over one member's as the number of rows grows."""
    from skprob import DeepEnsembleRegressor, MixtureDensityRegressor

    sizes = [n for n in sizes if n <= len(X)]
    rows = ["", "Prediction time, ensemble / 1 member, by rows predicted:", "",
            "| network | " + " | ".join(f"{n:,} rows" for n in sizes) + " |",
            "|---|" + "---|" * len(sizes)]
    for hidden in hidden_sizes:
        member = MixtureDensityRegressor(hidden, n_components=5, max_iter=1,
                                         early_stopping=False, random_state=0)
        member.fit(X[:2000], y[:2000])
        ensemble = DeepEnsembleRegressor(member, n_estimators=n_members, random_state=0)
        ensemble.fit(X[:2000], y[:2000])
        cells = []
        for n in sizes:
            X_n = X[:n]
            best = {"member": math.inf, "ensemble": math.inf}
            for _ in range(rounds + 1):
                for name, model in (("member", member), ("ensemble", ensemble)):
                    seconds = _best_time(lambda m=model, X_n=X_n: m.predict_dist(X_n), 1)
                    best[name] = min(best[name], seconds)
            cells.append(f"{best['ensemble'] / best['member']:.2f}x")
        rows.append(f"| {hidden[0]} relu, K=5 | " + " | ".join(cells) + " |")
    return rows


def _hand_forward(member):
    """A plain float64 copy of a fitted MDN's layers: X -> mixture parameters, no chunks."""
    network = copy.deepcopy(member.module_).double().eval()

    def forward(X):
        with torch.inference_mode():
            return network(torch.from_numpy(X.astype(np.float64)))
    return forward


def _prediction_row(label, architecture, X, y, n_members, rounds):
    from skprob import DeepEnsembleRegressor, MixtureDensityRegressor

    member = MixtureDensityRegressor(**architecture, max_iter=1, early_stopping=False,
                                     random_state=0).fit(X[:2000], y[:2000])
    ensemble = DeepEnsembleRegressor(member, n_estimators=n_members,
                                     random_state=0).fit(X[:2000], y[:2000])
    hand = _hand_forward(member)
    contenders = {
        "member": lambda: member.predict_dist(X),
        "members in a row": lambda: [member.predict_dist(X) for _ in range(n_members)],
        "hand": lambda: [hand(X) for _ in range(n_members)],
        "ensemble": lambda: ensemble.predict_dist(X),
    }
    best = dict.fromkeys(contenders, math.inf)
    for _ in range(rounds + 1):  # interleaved; the first round warms up
        for name, run in contenders.items():
            best[name] = min(best[name], _best_time(run, 1))
    cells = " | ".join(f"{best[name]:.3f}" for name in contenders)
    return (f"| {label} | {cells} | {best['ensemble'] / best['member']:.2f}x | "
            f"{best['ensemble'] / best['members in a row']:.2f}x |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="rows for the fit table")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--n-predict", type=int, default=100_000)
    parser.add_argument("--passes", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--sections", type=int, nargs="+", default=[1, 2, 3, 4, 5],
                        choices=[1, 2, 3, 4, 5], help="which sections to run")
    parser.add_argument("--n-members", type=int, default=5, help="ensemble size (section 5)")
    parser.add_argument("--bench-dir", type=Path, default=BENCH_DIR)
    args = parser.parse_args(argv)
    sizes, components, passes = [10_000, 100_000, 1_000_000], [1, 4, 16, 64], [10, 30, 100]
    if args.quick:
        args.n, args.epochs, args.rounds, args.n_predict, args.passes = 4000, 1, 1, 5000, 10
        sizes, components, passes = [2_000, 8_000], [1, 16], [10]

    refs = load_references(args.bench_dir)
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads; seed network "
          "14 -> 128 relu -> 128 relu -> 64 tanh -> head")
    if 1 in args.sections:
        print(f"\n## 1. Fit throughput (n={args.n:,}, {args.epochs} epochs, Adam lr 1e-3, "
              f"best of {args.rounds} interleaved rounds)\n")
        print(fit_table(refs, args.n, args.epochs, args.batch_sizes, args.rounds))
    if 2 in args.sections:
        print(f"\n## 2. Prediction throughput (n={args.n_predict:,}, best of {args.rounds})\n")
        print(predict_table(refs, args.n_predict, args.passes, args.rounds))
    if 3 in args.sections:
        print("\n## 3. Growth with n, n_components and T (each point in a fresh process)\n")
        print(scaling_tables(sizes, components, passes, min(args.n_predict, 10_000), threads))
    if 4 in args.sections:
        print("\n## 4. GPU\n")
        if torch.cuda.is_available():
            print(device_table(refs, args.n, args.epochs, args.batch_sizes))
        else:
            print("Skipped: no CUDA device on this machine.")
    if 5 in args.sections:
        print(f"\n## 5. Deep ensembles: {args.n_members} stacked members vs one "
              f"(best of {args.rounds} interleaved rounds)\n")
        small = ENSEMBLE_SMALL[:2] if args.quick else ENSEMBLE_SMALL
        print(ensemble_tables(refs, args.n_members, min(args.n, 20_000), args.rounds, small))


if __name__ == "__main__":
    main()
