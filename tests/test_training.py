import dataclasses
import math

import numpy as np
import pytest
import torch

from skprob._torch.modules import GaussianHead, ProbabilisticNetwork, build_trunk
from skprob._torch.prediction import predict_params
from skprob._torch.training import (
    SPIKE_FACTOR,
    GradientSpikeGuard,
    TrainingConfig,
    _epoch_order,
    _lr_factor,
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


def test_early_stopping_keeps_the_better_of_the_iterate_and_its_average():
    X, y = _data(300)
    Xv, yv = _data(100, seed=1)
    config = _config(max_iter=40, learning_rate_init=5e-2, n_iter_no_change=100)
    runs = {}
    for steps in (None, 20):
        net = _network()
        history, _ = train(net, X, y, None, dataclasses.replace(config, averaging_steps=steps),
                           validation=(Xv, yv, None), generator=torch.Generator().manual_seed(0))
        runs[steps] = net, history
    (_, plain), (averaged_net, averaged) = runs[None], runs[20]
    # The minibatch losses are the iterates': identical with and without averaging.
    assert averaged.loss_curve == plain.loss_curve
    # Each epoch scores the better of the iterate (plain's score) and its average,
    scores, plain_scores = np.array(averaged.validation_scores), np.array(plain.validation_scores)
    assert np.all(scores <= plain_scores)
    assert np.any(scores < plain_scores)
    # and the weights kept are the best epoch's winner.
    assert averaged.best_loss == min(averaged.validation_scores) <= plain.best_loss
    assert evaluate_nll(averaged_net, Xv, yv) == pytest.approx(averaged.best_loss, rel=1e-6)


def test_when_to_stop_follows_the_iterates_alone():
    X, y = _data(300)
    Xv, yv = _data(100, seed=1)
    config = _config(max_iter=300, learning_rate_init=5e-2, n_iter_no_change=4)
    histories = [
        train(_network(), X, y, None, dataclasses.replace(config, averaging_steps=steps),
              validation=(Xv, yv, None), generator=torch.Generator().manual_seed(0))[0]
        for steps in (None, 20)
    ]
    assert histories[0].n_iter == histories[1].n_iter < 300
    assert histories[1].best_loss <= histories[0].best_loss


def test_without_validation_the_fit_ends_on_its_last_iterate():
    X, y = _data(300)
    config = _config(max_iter=5, learning_rate="constant", n_iter_no_change=100)
    finals = {}
    for steps in (None, 10):
        net = _network()
        train(net, X, y, None, dataclasses.replace(config, averaging_steps=steps),
              generator=torch.Generator().manual_seed(0))
        finals[steps] = net.state_dict()
    for key in finals[None]:
        torch.testing.assert_close(finals[10][key], finals[None][key], rtol=0, atol=0)


def _norm(tensors):
    return torch.sqrt(sum(t.double().square().sum() for t in tensors)).item()


def _parameters(n_members=None):
    """A weight and a bias, with a leading member axis for an ensemble."""
    if n_members is None:
        return [torch.nn.Parameter(torch.zeros(3, 4)), torch.nn.Parameter(torch.zeros(4))]
    return [torch.nn.Parameter(torch.zeros(n_members, 3, 4)),
            torch.nn.Parameter(torch.zeros(n_members, 1, 4))]


def _set_gradients(params, norm, n_members=None):
    """Gradients of a fixed direction scaled to ``norm`` (a list: one norm per member)."""
    per_norm = math.sqrt(sum(p[0].numel() if n_members else p.numel() for p in params))
    scale = torch.as_tensor(norm, dtype=torch.float32).reshape(-1) / per_norm
    for p in params:
        p.grad = torch.ones_like(p) * scale.reshape(-1, *(1,) * (p.ndim - 1))


def test_a_gradient_spike_is_scaled_down_to_its_bound_keeping_its_direction():
    params = _parameters()
    guard = GradientSpikeGuard(params)
    for _ in range(50):  # the usual level: norm 2
        _set_gradients(params, 2.0)
        guard()
    _set_gradients(params, 1e8)
    direction = [p.grad / 1e8 for p in params]
    guard()
    assert _norm([p.grad for p in params]) == pytest.approx(2.0 * SPIKE_FACTOR, rel=1e-4)
    for p, d in zip(params, direction, strict=True):
        torch.testing.assert_close(p.grad / _norm([q.grad for q in params]), d / _norm(direction))


def test_ordinary_and_slowly_growing_gradients_are_left_alone():
    # A mixture network's norms grow from ~10 to hundreds over a fit: not spikes.
    params = _parameters()
    guard = GradientSpikeGuard(params)
    for step in range(300):
        norm = 10.0 * 1.01**step * (3.0 if step % 7 == 0 else 1.0)
        _set_gradients(params, norm)
        before = [p.grad.clone() for p in params]
        guard()
        for p, g in zip(params, before, strict=True):
            torch.testing.assert_close(p.grad, g, rtol=0, atol=0)


def test_zero_gradients_neither_set_nor_move_the_level():
    # A first minibatch of zero sample weights must not make every later step a "spike".
    params = _parameters()
    guard = GradientSpikeGuard(params)
    _set_gradients(params, 0.0)
    guard()
    for _ in range(3):
        _set_gradients(params, 5.0)
        guard()
        assert _norm([p.grad for p in params]) == pytest.approx(5.0, rel=1e-5)
    for _ in range(20):  # zeros between ordinary steps do not lower the bound either
        _set_gradients(params, 0.0)
        guard()
    _set_gradients(params, 40.0)
    guard()
    assert _norm([p.grad for p in params]) == pytest.approx(40.0, rel=1e-5)


def test_each_member_of_an_ensemble_has_its_own_bound():
    params = _parameters(n_members=2)
    guard = GradientSpikeGuard(params, n_members=2)
    for _ in range(50):  # member 0 at norm 1, member 1 at norm 100
        _set_gradients(params, [1.0, 100.0], n_members=2)
        guard()
    _set_gradients(params, [1e6, 100.0], n_members=2)  # only member 0 spikes
    member_1 = [p.grad[1].clone() for p in params]
    guard()
    assert _norm([p.grad[0] for p in params]) == pytest.approx(SPIKE_FACTOR, rel=1e-4)
    for p, g in zip(params, member_1, strict=True):
        torch.testing.assert_close(p.grad[1], g, rtol=0, atol=0)


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
