"""Prediction: float64 head parameters in chunks of rows, Monte Carlo passes, ensembles."""

import numpy as np
import pytest
import torch

from skprob import BayesianMLPRegressor, DropoutMLPRegressor, MixtureDensityRegressor
from skprob._torch.modules import GaussianHead, ProbabilisticNetwork, build_trunk
from skprob._torch.prediction import predict_params
from skprob._torch.stacked import initialize_stacked, stack_network


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


@pytest.mark.parametrize("member", [
    MixtureDensityRegressor((16, 16), n_components=3),
    DropoutMLPRegressor((16, 16), n_mc_samples=5),
    BayesianMLPRegressor((16,), n_mc_samples=5),
], ids=["mdn", "dropout", "bayes"])
def test_members_predicted_in_turn_match_the_batched_members(member):
    network = stack_network(member._build_network(2), 3)
    initialize_stacked(network, torch.Generator().manual_seed(0))
    X = np.random.default_rng(0).normal(size=(300, 2))
    n_passes = getattr(member, "n_mc_samples", None)
    batched = predict_params(network, X, n_passes=n_passes, members_in_turn=False)
    in_turn = predict_params(network, X, n_passes=n_passes, members_in_turn=True)
    chunked = predict_params(network, X, n_passes=n_passes, members_in_turn=True,
                             max_elements=16 * 64 * (n_passes or 1))
    for b, t, c in zip(batched, in_turn, chunked, strict=True):
        assert t.shape == b.shape and t.shape[0] == 3
        np.testing.assert_array_equal(t, c)  # row chunks change no value
        if n_passes is None:  # other kernels (addmm, baddbmm), same arithmetic
            np.testing.assert_allclose(t, b, rtol=1e-10, atol=1e-12)
    if n_passes is not None:
        # Each member its own draws: a member's passes differ from each other,
        # and the members' first passes are not the same draw repeated.
        loc = in_turn[0]
        assert not np.allclose(loc[0, 0], loc[0, 1])
        assert np.all(np.isfinite(loc))
        seeded = predict_params(network, X, n_passes=n_passes, members_in_turn=True, seed=0)
        np.testing.assert_array_equal(seeded[0], loc)
        other = predict_params(network, X, n_passes=n_passes, members_in_turn=True, seed=1)
        assert not np.array_equal(other[0], loc)
