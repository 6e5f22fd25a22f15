from copy import deepcopy

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from skprob._torch.modules import (
    MIN_SCALE,
    BayesianLinear,
    CategoricalHead,
    GaussianHead,
    MCDropout,
    MixtureDensityHead,
    ProbabilisticNetwork,
    build_trunk,
    gaussian_nll,
)


def test_build_trunk_one_activation_per_layer():
    trunk, width = build_trunk(14, (128, 128, 64), ("relu", "relu", "tanh"))
    layers = list(trunk)
    assert width == 64
    assert [type(m) for m in layers] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear, nn.Tanh]
    shapes = [(m.in_features, m.out_features) for m in layers[::2]]
    assert shapes == [(14, 128), (128, 128), (128, 64)]


def test_gaussian_nll_matches_scipy():
    rng = np.random.default_rng(0)
    y, loc, scale = rng.normal(size=50), rng.normal(size=50), rng.uniform(0.1, 3, size=50)
    ours = gaussian_nll(*(torch.as_tensor(a) for a in (y, loc, scale))).numpy()
    np.testing.assert_allclose(ours, -stats.norm.logpdf(y, loc, scale), rtol=1e-12)


@pytest.mark.parametrize("head", [
    MixtureDensityHead(8, n_components=4),
    GaussianHead(8),
    GaussianHead(8, heteroscedastic=False),
    CategoricalHead(8, n_classes=3),
], ids=["mixture", "gaussian", "homoscedastic", "categorical"])
@pytest.mark.parametrize("leading", [(), (3,)])
def test_training_loss_is_the_nll_of_the_predicted_parameters(head, leading):
    # Training calls head.loss(h, y); prediction reads head(h). Both must be
    # the same distribution, whatever layout loss computes in.
    torch.manual_seed(0)
    head = head.double()
    h = torch.randn(*leading, 30, 8, dtype=torch.float64)
    if isinstance(head, CategoricalHead):
        y = torch.randint(0, 3, (*leading, 30))
    else:
        y = torch.randn(*leading, 30, dtype=torch.float64)
    loss = head.loss(h, y)
    assert loss.shape == (*leading, 30)
    torch.testing.assert_close(loss, head.nll(head(h), y), rtol=1e-12, atol=1e-12)


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


@pytest.mark.parametrize("leading", [(), (3,), (2, 3)])
def test_mixture_head_reads_its_outputs_in_the_saved_order(leading):
    # Saved and pickled models hold the affine map's rows as [logits, means,
    # raw scales]; the head's component-major memory layout must not change that.
    torch.manual_seed(0)
    head = MixtureDensityHead(8, n_components=4).double()
    h = torch.randn(*leading, 30, 8, dtype=torch.float64)
    log_w, means, scales = head(h)
    out = head.linear(h)
    assert log_w.shape == means.shape == scales.shape == (*leading, 30, 4)
    torch.testing.assert_close(log_w, torch.log_softmax(out[..., :4], dim=-1))
    torch.testing.assert_close(means, out[..., 4:8])
    torch.testing.assert_close(scales, nn.functional.softplus(out[..., 8:]) + MIN_SCALE)


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


def test_mc_dropout_masks_are_shared_by_all_rows_of_a_pass():
    layer = MCDropout(width=50, rate=0.5).eval()
    layer.draw(4, torch.Generator().manual_seed(0))
    out = layer(torch.ones(4, 30, 50, dtype=torch.float64))
    assert torch.all(out == out[:, :1, :])  # every row of a pass sees the same mask
    assert not torch.all(out[0] == out[1])  # passes differ
    assert set(out.unique().tolist()) <= {0.0, 2.0}  # inverted dropout keeps the mean
    layer.clear()
    x = torch.randn(3, 50)
    assert torch.equal(layer(x), x)


def test_mc_dropout_in_training_drops_elements_independently():
    torch.manual_seed(0)
    out = MCDropout(width=200, rate=0.3).train()(torch.ones(100, 200))
    assert abs((out == 0).float().mean().item() - 0.3) < 0.02
    assert not torch.all(out == out[:1])


def test_bayesian_linear_kl_matches_monte_carlo_estimate():
    torch.manual_seed(0)
    layer = BayesianLinear(3, 2, prior_std=0.7, init_std=0.3).double()
    with torch.no_grad():
        layer.weight_mu.normal_()
    q = torch.distributions.Normal(layer.weight_mu, torch.nn.functional.softplus(layer.weight_rho))
    qb = torch.distributions.Normal(layer.bias_mu, torch.nn.functional.softplus(layer.bias_rho))
    prior = torch.distributions.Normal(0.0, 0.7)
    expected = (torch.distributions.kl_divergence(q, prior).sum()
                + torch.distributions.kl_divergence(qb, prior).sum())
    torch.testing.assert_close(layer.kl(), expected)


def test_bayesian_linear_draws_match_the_posterior_and_are_shared_by_rows():
    torch.manual_seed(0)
    layer = BayesianLinear(2, 1, prior_std=1.0, init_std=0.5).double().eval()
    layer.draw(20000, torch.Generator().manual_seed(1))
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    out = layer(x.expand(20000, 3, 2))[..., 0]
    assert torch.equal(out[:, 0], out[:, 1])  # identical rows, identical draws
    sd = torch.nn.functional.softplus(layer.weight_rho[0, 0])
    expected_std = torch.sqrt(sd**2 + torch.nn.functional.softplus(layer.bias_rho[0]) ** 2)
    assert abs(out[:, 0].std() / expected_std - 1) < 0.03
    assert abs(out[:, 0].mean() - layer.weight_mu[0, 0] - layer.bias_mu[0]) < 0.02
    layer.clear()
    torch.testing.assert_close(layer(x), torch.nn.functional.linear(x, layer.weight_mu,
                                                                     layer.bias_mu))


def test_network_penalty_is_the_weighted_kl():
    # Two priors in one network: the fused KL groups the layers by prior.
    torch.manual_seed(0)
    trunk, width = build_trunk(2, (4, 3), ("relu", "tanh"),
                               layer=lambda i, o: BayesianLinear(i, o, 1.0, init_std=0.2))
    head = GaussianHead(width, layer=lambda i, o: BayesianLinear(i, o, 0.5, init_std=0.1))
    net = ProbabilisticNetwork(trunk, head, kl_weight=0.25).double()
    layers = [m for m in net.modules() if isinstance(m, BayesianLinear)]
    per_layer = 0.25 * sum(m.kl() for m in layers)
    torch.testing.assert_close(net.penalty(), per_layer)
    # the same gradients as the layer-by-layer sum
    fused_grads = torch.autograd.grad(net.penalty(), list(net.parameters()), allow_unused=True)
    grads = torch.autograd.grad(per_layer, list(net.parameters()), allow_unused=True)
    for fused, expected in zip(fused_grads, grads, strict=True):
        assert (fused is None) == (expected is None)
        if fused is not None:
            torch.testing.assert_close(fused, expected)
    # the copies made for prediction keep their own layers
    copy = deepcopy(net)
    with torch.no_grad():
        copy.head.linear.weight_mu.add_(1.0)
    assert not torch.equal(copy.penalty(), net.penalty())
    assert ProbabilisticNetwork(trunk, head, kl_weight=0.0).penalty() is None
    trunk, width = build_trunk(2, (4,), ("relu",))
    plain = ProbabilisticNetwork(trunk, GaussianHead(width), kl_weight=1.0)
    assert plain.penalty() is None


@pytest.mark.parametrize("kind", ["dropout", "bayes", "deterministic"])
def test_forward_passes_equal_the_full_batched_forward(kind):
    # The blocks before the first stochastic layer run once, not once per pass:
    # the result must be what every pass computing everything would give.
    torch.manual_seed(0)
    layer = (lambda i, o: BayesianLinear(i, o, 1.0, init_std=0.3)) if kind == "bayes" else nn.Linear
    trunk, width = build_trunk(3, (8, 5), ("relu", "tanh"), layer=layer,
                               dropout_rate=0.3 if kind == "dropout" else 0.0)
    net = ProbabilisticNetwork(trunk, MixtureDensityHead(width, 2, layer=layer)).double().eval()
    for m in net.stochastic_layers():
        m.draw(7, torch.Generator().manual_seed(1))
    x = torch.randn(11, 3, dtype=torch.float64)
    fast = net.forward_passes(x, 7)
    full = net(x.expand(7, *x.shape))
    for a, b in zip(fast, full, strict=True):
        assert a.shape == (7, 11, 2)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    if kind != "deterministic":  # the passes differ from each other
        assert not torch.allclose(fast[1][0], fast[1][1])
