"""How many intra-op threads a training or prediction call uses, scoped to the call.

The matrix products of tabular-size networks are too small to split across
cores: with PyTorch's default (one thread per core) a step spends more time
waking and joining threads than multiplying, and when the cores are busy with
other work every step waits for the slowest thread (2-27x slower than one
thread in benchmarks/threads.py). skprob therefore runs a call on one thread
unless its matrix products are large enough that more threads measurably help
on idle cores (1.2-1.4x for the lecture's network at batch 1024 or a dropout
prediction of 10,000 rows) *and* the machine has an idle core: the
one-minute load average is at most the number of cores minus one half.

The load average counts the caller's own running thread, so when skprob alone
keeps one core busy it reads about 1 and a spare core about 1. The rule
``spare >= 1`` sat on that value and flipped with every tenth of load the
system added (a 5-member ensemble of two 100-unit layers at batch 256, whose
stacked products qualify for two threads, took 2.1x one member's time on two
threads and 2.8x on one); half a core is the midpoint between "only this
fit" (load ~1 on two cores) and "one other busy process" (load ~2).

``torch.set_num_threads`` sets OpenMP's per-thread setting, so the scope is
the calling thread: fits running in other threads (joblib's threading
backend, dask workers) are not affected.
"""

import contextlib
import os

import torch

__all__ = ["MIN_SPARE_CORES", "PARALLEL_MIN_WORK", "intra_op_threads", "largest_matmul",
           "spare_cores", "threads_for"]

# Multiply-adds of one forward matrix product from which more threads can help
# on idle cores. Measured on two cores (benchmarks/threads.py): below it (e.g.
# a 442-row DropoutMLPRegressor fit at batch 32) one thread is as fast idle.
PARALLEL_MIN_WORK = 2**22

# Idle cores needed, by the load average, before a call uses more threads: see above.
MIN_SPARE_CORES = 0.5


def spare_cores():
    """Cores not busy by the one-minute load average (0 where it is unknown)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average (Windows): assume busy
        return 0.0
    return (os.cpu_count() or 1) - load


def threads_for(work):
    """Intra-op threads for a call whose largest matrix product has ``work`` multiply-adds.

    Parameters
    ----------
    work : int
        Multiply-adds of the call's largest matrix product (rows x inputs x outputs).

    Returns
    -------
    n_threads : int
        The current ``torch.get_num_threads()`` (so a user's own limit is
        respected) when ``work`` reaches ``PARALLEL_MIN_WORK`` and at least one
        core is idle; otherwise 1.
    """
    n_threads = torch.get_num_threads()
    if n_threads > 1 and work >= PARALLEL_MIN_WORK and spare_cores() >= MIN_SPARE_CORES:
        return n_threads
    return 1


@contextlib.contextmanager
def intra_op_threads(n_threads):
    """Run the enclosed block with ``n_threads`` intra-op threads, then restore the count.

    Parameters
    ----------
    n_threads : int
        Threads for the block.
    """
    previous = torch.get_num_threads()
    if n_threads == previous:
        yield
        return
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def largest_matmul(network, n_rows):
    """Multiply-adds of the widest affine map of ``network`` applied to ``n_rows`` rows.

    For prediction, pass the rows of one chunk (times the Monte Carlo passes).
    """
    # Stacked ensemble weights (members, in, out) count all their members.
    sizes = [p.numel() for p in network.parameters() if p.ndim >= 2]
    return n_rows * max(sizes, default=0)
