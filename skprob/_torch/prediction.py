"""Prediction of a trained network's head parameters: float64, in chunks of rows.

One function, :func:`predict_params`, serves every estimator (single
networks, Monte Carlo passes, stacked ensembles); training lives in
``training.py``.
"""

import copy

import numpy as np
import torch

__all__ = ["MAX_CHUNK_ELEMENTS", "ROW_BLOCK", "predict_params"]


# Rows of every matrix product at prediction are a multiple of this: see predict_params.
ROW_BLOCK = 64


# Elements of the widest activation of one chunk: 2**17 float64 (1 MiB) stay in
# cache; on two cores chunks of 2**17 predicted 15-45% faster than 2**20 for
# single networks and stacked ensembles alike (predict_params on 20,000 rows).
MAX_CHUNK_ELEMENTS = 2**17


def predict_params(network, X, *, n_passes=None, seed=0, max_elements=MAX_CHUNK_ELEMENTS):
    """Head parameters for every row of ``X``, computed in chunks, as float64 numpy.

    A row's prediction is bit-for-bit the same whatever the other rows of
    ``X``, their order, and the chunk boundaries. Three things make it so.
    Inference runs in float64 on a copy of the network (float32 products would
    also do, but the distributions downstream want float64). Every chunk is
    padded with zero rows to a multiple of ``ROW_BLOCK`` rows: BLAS computes a
    single row (a matrix-vector product) and the last rows of a matrix whose
    height is not a multiple of its register tile in another order than the
    rest, and torch's vectorised elementwise kernels (exp, tanh, softplus)
    leave a scalar tail; with whole blocks, every row goes down the same path.
    Each Monte Carlo pass draws one mask or weight sample for all rows.

    Parameters
    ----------
    network : ProbabilisticNetwork
    X : ndarray of shape (n, d)
    n_passes : int or None, default=None
        None: one deterministic pass. An int T: T Monte Carlo passes (dropout
        masks or weight draws, seeded by ``seed``, each shared by all rows), run
        as one batched computation on a ``(T, chunk, d)`` tensor.
    seed : int, default=0
        Seed of the Monte Carlo draws.
    max_elements : int, default=MAX_CHUNK_ELEMENTS
        Bound on the elements of the widest activation tensor of one chunk, so
        that memory stays bounded for any ``len(X)``.

    Returns
    -------
    params : tuple of ndarray
        One array per head output, with ``len(X)`` rows, or ``(T, len(X), ...)``
        for Monte Carlo prediction; an ensemble (a network with ``n_members``)
        adds a leading member axis: ``(M, len(X), ...)`` or ``(M, T, len(X), ...)``.
    """
    network = copy.deepcopy(network).double().eval()
    # A copy only when needed: torch rejects views with negative strides, e.g. X[::-1].
    X = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float64))
    # Stacked (ensemble) weights are (M, n_in, n_out), a single network's (n_out, n_in).
    widest = max([X.shape[1]] + [p.shape[-1] if p.ndim == 3 else p.shape[0]
                                 for p in network.parameters() if p.ndim in (2, 3)])
    n_members = getattr(network, "n_members", None)
    passes = (1 if n_passes is None else n_passes) * (n_members or 1)
    blocks = max(1, max_elements // (passes * widest * ROW_BLOCK))
    chunk_size = blocks * ROW_BLOCK
    if n_passes is not None:
        generator = torch.Generator().manual_seed(seed)
        for layer in network.stochastic_layers():
            layer.draw(n_passes, generator)
    # Outputs are (n, ...), (T, n, ...), or with a leading member axis for an ensemble.
    row_axis = (n_passes is not None) + (n_members is not None)
    # Each chunk is written straight into preallocated outputs: concatenating a
    # list of chunks would hold every output twice at the peak.
    outputs = None
    padded = None
    with torch.inference_mode():
        for start in range(0, len(X), chunk_size):
            x = X[start : start + chunk_size]
            n_rows = len(x)
            if n_rows % ROW_BLOCK:
                if padded is None:
                    padded = X.new_zeros((chunk_size, X.shape[1]))
                height = -(-n_rows // ROW_BLOCK) * ROW_BLOCK
                padded[:n_rows] = x
                x = padded[:height]
            params = network(x) if n_passes is None else network.forward_passes(x, n_passes)
            if outputs is None:
                outputs = tuple(
                    np.empty((*p.shape[:row_axis], len(X), *p.shape[row_axis + 1 :]))
                    for p in params
                )
            rows = (slice(None),) * row_axis + (slice(start, start + n_rows),)
            for out, p in zip(outputs, params, strict=True):
                out[rows] = p.numpy()[(slice(None),) * row_axis + (slice(0, n_rows),)]
    return outputs
