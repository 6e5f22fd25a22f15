"""Deep ensembles: members on one axis, trained together, mixed at prediction."""

import copy
import functools
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

import skprob
from skprob import (
    BayesianMLPRegressor,
    DeepEnsembleClassifier,
    DeepEnsembleRegressor,
    DropoutMLPClassifier,
    DropoutMLPRegressor,
    MixtureDensityRegressor,
)
from skprob._torch.modules import GaussianHead, ProbabilisticNetwork, build_trunk
from skprob._torch.prediction import predict_params
from skprob._torch.stacked import StackedNetwork, initialize_stacked, stack_network
from skprob._torch.training import TrainingConfig, evaluate_nll, train
from skprob.metrics import neg_nll_scorer
from skprob.pipeline import make_pipeline


def _gap_data(n=400, seed=0):
    """1-D inputs only on [-3, -1] and [1, 3] (as tests/test_monte_carlo.py)."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(-3, -1, n // 2), rng.uniform(1, 3, n // 2)])
    return x[:, None], np.sin(x) + 0.1 * rng.normal(size=n)


def _small_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, X[:, 0] + 0.3 * rng.normal(size=n), (X[:, 0] + X[:, 1] > 0).astype(int)


# ------------------------------------------------------------- the stacked loop
def _member_network(n_features=2):
    trunk, width = build_trunk(n_features, (8,), ("tanh",))
    return ProbabilisticNetwork(trunk, GaussianHead(width))


def _stacked_copies_of(single, n_members):
    """A stacked network whose every member has exactly ``single``'s weights."""
    stacked = stack_network(copy.deepcopy(single), n_members)
    initialize_stacked(stacked, torch.Generator().manual_seed(0))
    first, head = single.trunk[0], single.head.linear
    with torch.no_grad():
        for target, source in ((stacked.trunk[0], first), (stacked.head.linear, head)):
            target.weight.copy_(source.weight.T.expand_as(target.weight))
            target.bias.copy_(source.bias.expand_as(target.bias))
    return stacked


def _regression_tensors(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=n)).astype(np.float32)
    return torch.from_numpy(X), torch.from_numpy(y)


def _config(**kwargs):
    defaults = dict(max_iter=3, batch_size=16, learning_rate_init=1e-2,
                    learning_rate="constant", alpha=1e-2)
    return TrainingConfig(**{**defaults, **kwargs})


def test_each_member_gets_its_own_gradient():
    # The loss is the SUM of the members' mean NLLs: a member of a stacked
    # network trains exactly like the same network trained alone.
    X, y = _regression_tensors()
    single = _member_network()
    torch.manual_seed(0)
    stacked = _stacked_copies_of(single, 3)
    config = _config(shuffle=False)
    train(single, X, y, None, config, generator=torch.Generator().manual_seed(0))
    train(stacked, X, y, None, config, generator=torch.Generator().manual_seed(0))
    loc, _ = stacked(X)
    expected, _ = single(X)
    for m in range(3):
        torch.testing.assert_close(loc[m], expected, rtol=1e-4, atol=1e-5)


def test_each_member_has_its_own_minibatch_order():
    X, y = _regression_tensors()
    stacked = _stacked_copies_of(_member_network(), 2)
    train(stacked, X, y, None, _config(), generator=torch.Generator().manual_seed(0))
    loc, _ = stacked(X)
    assert not torch.allclose(loc[0], loc[1])  # same start, other batches


def test_early_stopping_keeps_each_members_best_weights():
    X, y = _regression_tensors(200)
    Xv, yv = _regression_tensors(100, seed=1)
    stacked = stack_network(_member_network(), 4)
    initialize_stacked(stacked, torch.Generator().manual_seed(0))
    config = _config(max_iter=60, n_iter_no_change=2, learning_rate_init=5e-2, alpha=0.0)
    history, _ = train(stacked, X, y, None, config, validation=(Xv, yv, None),
                       generator=torch.Generator().manual_seed(0))
    per_member = evaluate_nll(stacked, Xv, yv)
    assert per_member.shape == (4,)
    # Every member sits at its own best epoch: the mean of the bests.
    assert per_member.mean() == pytest.approx(history.best_loss, rel=1e-6)
    assert history.n_iter < 60
    assert history.validation_scores[-1] > history.best_loss


def test_prediction_is_chunked_and_row_independent():
    network = stack_network(_member_network(), 3)
    initialize_stacked(network, torch.Generator().manual_seed(0))
    X = np.random.default_rng(0).normal(size=(300, 2))
    whole = predict_params(network, X)
    chunked = predict_params(network, X, max_elements=3 * 8 * 64)  # 64-row chunks
    alone = predict_params(network, X[7:8])
    assert whole[0].shape == (3, 300)
    for a, b, c in zip(whole, chunked, alone, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a[:, 7:8], c)


# ------------------------------------------------------ in-between uncertainty
@functools.cache
def _gap_ratios():
    X, y = _gap_data()
    # Members trained to convergence without early stopping or weight decay:
    # with the MDN's defaults (alpha=1, early stopping) the members are
    # smoother and agree more between the clusters (ratio about 2 at x=0).
    member = MixtureDensityRegressor(
        n_components=1, max_iter=200, batch_size=32, learning_rate_init=1e-3, alpha=1e-4,
        early_stopping=False,
    )
    ensemble = DeepEnsembleRegressor(member, n_estimators=5, random_state=0).fit(X, y)
    epistemic_std = lambda x: np.sqrt(ensemble.predict_uncertainty(x).epistemic)  # noqa: E731
    inside = epistemic_std(X).mean()
    between = epistemic_std(np.array([[0.0]]))[0] / inside
    outside = epistemic_std(np.array([[-5.0], [5.0]])).min() / inside
    print(f"ensemble of 5 MDNs: epistemic std at x=0 / inside = {between:.2f}, "
          f"at |x|=5 / inside = {outside:.2f}")
    return between, outside


def test_epistemic_uncertainty_grows_in_the_gap_and_beyond():
    between, outside = _gap_ratios()
    assert between >= 3.0
    assert outside >= 5.0


# ------------------------------------------------------------------ the API
MEMBERS = [
    MixtureDensityRegressor(n_components=2, max_iter=5),
    DropoutMLPRegressor(max_iter=5, n_mc_samples=4),
    BayesianMLPRegressor(max_iter=5, n_mc_samples=4, heteroscedastic=False),
]


@pytest.mark.parametrize("member", MEMBERS, ids=lambda m: type(m).__name__)
def test_regressor_mixes_the_members(member):
    X, y, _ = _small_data()
    ensemble = DeepEnsembleRegressor(member, n_estimators=3, random_state=0).fit(X, y)
    dist = ensemble.predict_dist(X[:7])
    groups = 2 if isinstance(member, MixtureDensityRegressor) else 4
    # The members' components, equally weighted per member, then one tail component.
    assert dist.weights.shape == (7, 3 * groups + 1)
    tail = ensemble.tail_weight_
    np.testing.assert_allclose(dist.weights[:, -1], tail)
    np.testing.assert_allclose(dist.weights[:, :-1].reshape(7, 3, -1).sum(axis=2), (1 - tail) / 3)
    u = ensemble.predict_uncertainty(X[:7])
    np.testing.assert_allclose(u.total, dist.var(), rtol=1e-9)
    np.testing.assert_allclose(u.total, u.aleatoric + u.epistemic)
    assert np.all(u.epistemic > 0)
    mean, std = ensemble.predict(X[:7], return_std=True)
    np.testing.assert_allclose(std, np.sqrt(u.total))
    assert ensemble.sample_posterior(X[:7], 5, random_state=0).shape == (7, 5)
    # The members are the member estimator's networks: same widths, M of them.
    first = ensemble.module_.trunk[0]
    assert getattr(first, "weight_mu", getattr(first, "weight", None)).shape == (3, 3, 100)


def test_mixture_of_members_matches_the_members():
    X, y, _ = _small_data()
    # No scale factor and no tail, so that the members' raw outputs are the whole story.
    member = MixtureDensityRegressor(n_components=2, max_iter=5, calibrate_scale=False,
                                     tail_weight=0)
    ensemble = DeepEnsembleRegressor(member, n_estimators=2, random_state=0).fit(X, y)
    log_w, means, stds = predict_params(ensemble.module_, X[:5])
    scale = ensemble._y_scale
    densities = [
        (np.exp(log_w[m]) * np.exp(-0.5 * ((y[:5, None] - (ensemble._y_mean + scale * means[m]))
                                           / (scale * stds[m])) ** 2)
         / (np.sqrt(2 * np.pi) * scale * stds[m])).sum(axis=1)
        for m in range(2)
    ]
    np.testing.assert_allclose(ensemble.predict_dist(X[:5]).pdf(y[:5]), np.mean(densities, 0))


def test_classifier_api():
    X, _, labels = _small_data()
    member = DropoutMLPClassifier(max_iter=5, n_mc_samples=4)
    clf = DeepEnsembleClassifier(member, n_estimators=3, random_state=0).fit(X, labels)
    proba = clf.predict_proba(X[:6])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    u = clf.predict_uncertainty(X[:6])
    np.testing.assert_allclose(u.total, u.aleatoric + u.epistemic, atol=1e-12)
    draws = clf.sample_posterior(X[:6], 8, random_state=0)
    assert draws.shape == (6, 8, 2)
    np.testing.assert_allclose(draws.sum(axis=2), 1.0)
    assert set(clf.predict(X)) <= {0, 1}


def test_same_random_state_same_model_and_members_differ():
    X, y, _ = _small_data()
    make = lambda: DeepEnsembleRegressor(MEMBERS[0], n_estimators=3, random_state=1)  # noqa: E731
    a, b = make().fit(X, y), make().fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    weight = a.module_.trunk[0].weight
    assert not torch.equal(weight[0], weight[1])


def test_wrong_member_is_refused():
    X, y, labels = _small_data()
    with pytest.raises(ValueError, match="skprob network regressor"):
        DeepEnsembleRegressor(DropoutMLPClassifier()).fit(X, labels)
    with pytest.raises(ValueError, match="skprob network classifier"):
        DeepEnsembleClassifier(MixtureDensityRegressor()).fit(X, labels)
    with pytest.raises(ValueError):
        DeepEnsembleRegressor(MixtureDensityRegressor(n_components=0)).fit(X, y)


def test_grid_search_over_member_parameters_with_the_nll_scorer():
    X, y, _ = _small_data()
    ensemble = DeepEnsembleRegressor(MEMBERS[0], n_estimators=2, random_state=0)
    search = GridSearchCV(ensemble, {"estimator__n_components": [1, 2]},
                          scoring=neg_nll_scorer, cv=2).fit(X, y)
    assert search.best_estimator_.estimator.n_components in (1, 2)
    assert clone(ensemble).get_params()["estimator__n_components"] == 2


def test_pipeline_save_load_and_pickle(tmp_path):
    X, y, labels = _small_data()
    pipe = make_pipeline(StandardScaler(), DeepEnsembleRegressor(MEMBERS[1], n_estimators=2,
                                                                 random_state=0)).fit(X, y)
    assert neg_nll_scorer(pipe, X, y) < 0
    clf = DeepEnsembleClassifier(DropoutMLPClassifier(max_iter=3, n_mc_samples=3),
                                 n_estimators=2, random_state=0).fit(X, labels)
    for model, check in ((pipe, lambda m: m.predict_dist(X).logpdf(y)),
                         (clf, lambda m: m.predict_proba(X))):
        path = tmp_path / "model.skprob"
        skprob.save(model, path)
        np.testing.assert_array_equal(check(skprob.load(path)), check(model))
        np.testing.assert_array_equal(check(pickle.loads(pickle.dumps(model))), check(model))


def test_load_refuses_a_member_of_the_wrong_task(tmp_path):
    X, y, _ = _small_data()
    ensemble = DeepEnsembleRegressor(MEMBERS[0], n_estimators=2, random_state=0).fit(X, y)
    path = tmp_path / "model.skprob"
    skprob.save(ensemble, path)
    content = torch.load(path, weights_only=True)
    content["metadata"] = content["metadata"].replace(
        '"class": "MixtureDensityRegressor"', '"class": "DropoutMLPClassifier"')
    torch.save(content, path)
    with pytest.raises(ValueError, match="refused"):
        skprob.load(path)


def test_stacked_network_type():
    assert isinstance(stack_network(_member_network(), 2), StackedNetwork)
