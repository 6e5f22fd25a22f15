"""How many intra-op threads a training or prediction call uses, scoped to the call.

The matrix products of tabular-size networks are too small to split across
cores: with PyTorch's default (one thread per core) a step spends more time
waking and joining threads than multiplying, and when the cores are busy with
other work every step waits for the slowest thread. skprob therefore runs a
call on one thread unless its matrix products are large enough that more
threads measurably help (see benchmarks/speed.py, section "threads").

``torch.set_num_threads`` sets OpenMP's per-thread setting, so the scope is
the calling thread: fits running in other threads (joblib's threading
backend, dask workers) are not affected.
"""

import contextlib

import torch

__all__ = ["intra_op_threads", "largest_matmul", "threads_for"]

# Multiply-adds of one forward matrix product above which the default thread
# count is used. Measured on two cores (benchmarks/threads.py): for every
# tabular-size fit and prediction up to the lecture's network at batch 1024
# (1.7e7 multiply-adds) one thread was as fast idle and 2-10x faster under
# load, so only far wider networks get more.
PARALLEL_MIN_WORK = 2**28


def threads_for(work):
    """Intra-op threads for a call whose largest matrix product has ``work`` multiply-adds.

    Parameters
    ----------
    work : int
        Multiply-adds of the call's largest matrix product (rows x inputs x outputs).

    Returns
    -------
    n_threads : int
        1 for tabular-size work; otherwise the current ``torch.get_num_threads()``,
        so a user's own limit is respected.
    """
    return torch.get_num_threads() if work >= PARALLEL_MIN_WORK else 1


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
