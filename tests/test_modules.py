import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from skprob._torch.modules import (
    MIN_SCALE,
    CategoricalHead,
    GaussianHead,
    MixtureDensityHead,
    ProbabilisticNetwork,
    build_trunk,
    gaussian_log_prob,
)


def test_build_trunk_one_activation_per_layer():
    trunk, width = build_trunk(14, (128, 128, 64), ("relu", "relu", "tanh"))
    layers = list(trunk)
    assert width == 64
    assert [type(m) for m in layers] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear, nn.Tanh]
    shapes = [(m.in_features, m.out_features) for m in layers[::2]]
    assert shapes == [(14, 128), (128, 128), (128, 64)]


def test_gaussian_log_prob_matches_scipy():
    rng = np.random.default_rng(0)
    y, loc, scale = rng.normal(size=50), rng.normal(size=50), rng.uniform(0.1, 3, size=50)
    ours = gaussian_log_prob(*(torch.as_tensor(a) for a in (y, loc, scale))).numpy()
    np.testing.assert_allclose(ours, stats.norm.logpdf(y, loc, scale), rtol=1e-12)


def test_mixture_head_nll_matches_scipy_mixture_density():
    torch.manual_seed(0)
    head = MixtureDensityHead(8, n_components=4).double()
    h, y = torch.randn(30, 8, dtype=torch.float64), torch.randn(30, dtype=torch.float64)
    log_w, means, scales = head(h)
    np.testing.assert_allclose(log_w.exp().sum(-1).detach().numpy(), 1.0, rtol=1e-12)
    assert (scales >= MIN_SCALE).all()
    density = (
        log_w.exp().detach().numpy()
        * stats.norm.pdf(y.numpy()[:, None], means.detach().numpy(), scales.detach().numpy())
    ).sum(-1)
    nll = head.nll((log_w, means, scales), y).detach().numpy()
    np.testing.assert_allclose(nll, -np.log(density), rtol=1e-10)


def test_gaussian_head_homoscedastic_shares_one_scale():
    torch.manual_seed(0)
    head = GaussianHead(5, heteroscedastic=False)
    loc, scale = head(torch.randn(10, 5))
    assert loc.shape == scale.shape == (10,)
    assert torch.all(scale == scale[0])


def test_categorical_head_nll_is_cross_entropy():
    torch.manual_seed(0)
    head = CategoricalHead(6, n_classes=3)
    h, y = torch.randn(20, 6), torch.randint(0, 3, (20,))
    expected = nn.functional.cross_entropy(head.linear(h), y, reduction="none")
    torch.testing.assert_close(head.nll(head(h), y), expected)


@pytest.mark.parametrize("leading", [(7,), (3, 7)])
def test_network_accepts_leading_batch_dimensions(leading):
    trunk, width = build_trunk(4, (8,), ("tanh",))
    net = ProbabilisticNetwork(trunk, MixtureDensityHead(width, 2))
    outputs = net(torch.randn(*leading, 4))
    assert all(o.shape == (*leading, 2) for o in outputs)
    assert net.nll(torch.randn(*leading, 4), torch.randn(*leading)).shape == leading
