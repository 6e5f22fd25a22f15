import math

import pytest
import torch

from skprob._torch.modules import GaussianHead, ProbabilisticNetwork, build_trunk
from skprob._torch.prediction import predict_params
from skprob._torch.training import (
    MAX_GRAD_NORM,
    TrainingConfig,
    _epoch_order,
    _lr_factor,
    clip_gradient_norms,
    evaluate_nll,
    make_optimizer,
    train,
)
from skprob.exceptions import TrainingDivergedError


def _network(seed=0):
    torch.manual_seed(seed)
    trunk, width = build_trunk(1, (16,), ("tanh",))
    return ProbabilisticNetwork(trunk, GaussianHead(width))


def _data(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 1, generator=g) * 4 - 2
    y = 2 * X[:, 0] + (0.2 + 0.3 * (X[:, 0] + 2)) * torch.randn(n, generator=g)
    return X, y


def _config(**kw):
    return TrainingConfig(**{"max_iter": 30, "batch_size": 50, "learning_rate_init": 1e-2, **kw})


def test_training_reaches_the_true_conditional_nll():
    X, y = _data(2000)
    net = _network()
    torch.manual_seed(1)
    history, _ = train(net, X, y, None, _config(max_iter=60))
    true_scale = 0.2 + 0.3 * (X[:, 0] + 2)
    true_nll = (0.5 * math.log(2 * math.pi) + torch.log(true_scale) + 0.5).mean().item()
    assert evaluate_nll(net, X, y) == pytest.approx(true_nll, abs=0.05)
    assert history.n_iter == len(history.loss_curve) <= 60
    assert history.loss_curve[-1] < history.loss_curve[0]


def test_same_seed_gives_identical_network():
    X, y = _data()
    states = []
    for _ in range(2):
        net = _network(seed=3)
        torch.manual_seed(4)
        train(net, X, y, None, _config(max_iter=3))
        states.append(net.state_dict())
    for key in states[0]:
        torch.testing.assert_close(states[0][key], states[1][key], rtol=0, atol=0)


def test_early_stopping_restores_the_best_validation_epoch():
    X, y = _data(300)
    Xv, yv = _data(100, seed=1)
    net = _network()
    history, _ = train(
        net, X, y, None, _config(max_iter=200, learning_rate_init=5e-2, n_iter_no_change=5),
        validation=(Xv, yv, None),
    )
    assert history.n_iter < 200
    assert len(history.validation_scores) == history.n_iter
    assert history.best_loss == min(history.validation_scores)
    assert evaluate_nll(net, Xv, yv) == pytest.approx(history.best_loss, rel=1e-6)


def _norm(tensors):
    return torch.sqrt(sum(t.double().square().sum() for t in tensors)).item()


def test_a_gradient_spike_is_scaled_down_to_the_cap_keeping_its_direction():
    X, y = _data(50)
    net = _network()
    (1e4 * net.nll(X, y).mean()).backward()
    params = list(net.parameters())
    before = [p.grad.clone() for p in params]
    assert _norm(before) > 100 * MAX_GRAD_NORM
    clip_gradient_norms(params)
    assert _norm([p.grad for p in params]) == pytest.approx(MAX_GRAD_NORM, rel=1e-4)
    factor = MAX_GRAD_NORM / _norm(before)
    for p, g in zip(params, before, strict=True):
        torch.testing.assert_close(p.grad, g * factor, rtol=1e-4, atol=1e-9)


def test_a_gradient_below_the_cap_is_left_alone():
    X, y = _data(50)
    net = _network()
    (1e-4 * net.nll(X, y).mean()).backward()
    params = list(net.parameters())
    before = [p.grad.clone() for p in params]
    assert _norm(before) < MAX_GRAD_NORM
    clip_gradient_norms(params)
    for p, g in zip(params, before, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=0, atol=0)


def test_each_member_of_an_ensemble_is_capped_on_its_own():
    # Member 0 spikes, member 1 does not: only member 0's step changes.
    weight = torch.nn.Parameter(torch.zeros(2, 3, 4))
    bias = torch.nn.Parameter(torch.zeros(2, 1, 4))
    weight.grad = torch.stack([torch.full((3, 4), 50.0), torch.full((3, 4), 1e-3)])
    bias.grad = torch.stack([torch.full((1, 4), -50.0), torch.full((1, 4), 2e-3)])
    small = (weight.grad[1].clone(), bias.grad[1].clone())
    clip_gradient_norms([weight, bias], n_members=2)
    assert _norm([weight.grad[0], bias.grad[0]]) == pytest.approx(MAX_GRAD_NORM, rel=1e-5)
    torch.testing.assert_close(weight.grad[1], small[0], rtol=0, atol=0)
    torch.testing.assert_close(bias.grad[1], small[1], rtol=0, atol=0)


def test_divergence_raises_and_restores_the_weights():
    X, y = _data()
    y = y * 1e30  # float32 NLL of these targets overflows to inf
    net = _network()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(TrainingDivergedError, match="non-finite"):
        train(net, X, y, None, _config(max_iter=2))
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def test_sample_weights_select_which_rows_are_fitted():
    X, _ = _data(800)
    y = torch.where(torch.arange(800) % 2 == 0, 3.0, -3.0)
    weights = (torch.arange(800) % 2 == 0).float() * 2.0  # mean one, odd rows ignored
    net = _network()
    train(net, X, y, weights, _config(max_iter=40))
    loc, _ = predict_params(net, X)
    assert abs(loc.mean() - 3.0) < 0.1


@pytest.mark.parametrize("members", [None, 3])
def test_epoch_order_gathers_the_permuted_rows(members):
    X, y = torch.randn(50, 4), torch.randn(50)
    weights = torch.rand(50)
    X_epoch, y_epoch, w_epoch = _epoch_order(X, y, weights, True,
                                             torch.Generator().manual_seed(0), members)
    order = _epoch_order(torch.arange(50)[:, None], torch.arange(50), None, True,
                         torch.Generator().manual_seed(0), members)[1]
    assert X_epoch.shape == (*order.shape, 4)
    torch.testing.assert_close(X_epoch, X[order])
    torch.testing.assert_close(y_epoch, y[order])
    torch.testing.assert_close(w_epoch, weights[order])
    if members is not None:  # each member its own permutation of all rows
        assert all(sorted(row.tolist()) == list(range(50)) for row in order)
        assert not torch.equal(order[0], order[1])


def test_cosine_schedule_anneals_to_zero():
    assert _lr_factor("cosine", 0, 100) == 1.0
    assert _lr_factor("cosine", 50, 100) == pytest.approx(0.5)
    assert _lr_factor("cosine", 100, 100) == pytest.approx(0.0, abs=1e-12)
    assert _lr_factor("constant", 99, 100) == 1.0


def test_weight_decay_applies_to_weight_matrices_only():
    net = _network()
    optimizer = make_optimizer(net, _config(alpha=2.0), n_train=100)
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == pytest.approx(0.02)
    assert all(p.ndim >= 2 for p in decayed["params"])
    assert plain["weight_decay"] == 0 and all(p.ndim < 2 for p in plain["params"])


def test_optimizer_state_continues_between_calls():
    X, y = _data()
    net = _network()
    _, state = train(net, X, y, None, _config(max_iter=1))
    _, state2 = train(net, X, y, None, _config(max_iter=1), optimizer_state=state)
    steps = next(iter(state2["state"].values()))["step"]
    assert int(steps) == 2 * math.ceil(len(X) / 50)


def test_verbose_shows_loss_in_progress_bar(capsys):
    X, y = _data(100)
    train(_network(), X, y, None, _config(max_iter=2, verbose=True))
    assert "loss=" in capsys.readouterr().err
