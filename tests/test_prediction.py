"""Prediction: float64 head parameters in chunks of rows, Monte Carlo passes, ensembles."""

import numpy as np
import torch

from skprob._torch.modules import GaussianHead, ProbabilisticNetwork, build_trunk
from skprob._torch.prediction import predict_params


def _network(seed=0):
    torch.manual_seed(seed)
    trunk, width = build_trunk(1, (16,), ("tanh",))
    return ProbabilisticNetwork(trunk, GaussianHead(width))


def _inputs(n, seed=0):
    return torch.rand(n, 1, generator=torch.Generator().manual_seed(seed)) * 4 - 2


def test_predict_params_chunks_give_the_same_answer():
    X = _inputs(257)
    net = _network()
    whole = predict_params(net, X)
    chunked = predict_params(net, X, max_elements=160)  # widest layer 16: 10-row chunks
    for a, b in zip(whole, chunked, strict=True):
        assert a.shape == (257,) and a.dtype.name == "float64"
        assert (a == b).all()


def test_monte_carlo_chunks_give_the_same_answer():
    X = _inputs(257)
    torch.manual_seed(0)
    trunk, width = build_trunk(1, (16, 8), ("tanh", "relu"), dropout_rate=0.3)
    net = ProbabilisticNetwork(trunk, GaussianHead(width))
    whole = predict_params(net, X, n_passes=5, seed=3)
    chunked = predict_params(net, X, n_passes=5, seed=3, max_elements=400)  # 5 passes x 16 wide
    for a, b in zip(whole, chunked, strict=True):
        assert a.shape == (5, 257)
        np.testing.assert_allclose(a, b, rtol=1e-13)
    assert not np.allclose(whole[0][0], whole[0][1])  # the passes differ
