"""Ensembles of networks on one leading member axis: stacked layers, one computation.

:func:`stack_network` turns a member network, as any skprob estimator builds
it (``nn.Linear``, :class:`BayesianLinear`, :class:`MCDropout` and the heads
of ``modules.py``), into ONE network holding ``n_members`` independent copies
of every parameter on a leading axis. Each affine map is a batched matrix
product (``torch.baddbmm``, as yandex-research/tabm does), so M members cost
one kernel per layer rather than M; activations and the heads' math broadcast
over the member axis unchanged.

Shapes: inputs are ``(n, d)`` (the same rows for every member) or
``(M, n, d)`` (each member its own rows, e.g. its own minibatch order); every
head output gains a leading member axis, ``(M, n, ...)``, and ``nll`` returns
``(M, n)``. For Monte Carlo prediction, ``forward_passes`` returns
``(M, T, n, ...)``: each member with T passes of its own dropout masks or
weight draws.
"""

import math

import torch
from torch import nn

from skprob._torch.modules import (
    INIT_POSTERIOR_STD,
    BayesianLinear,
    GaussianHead,
    MCDropout,
    ProbabilisticNetwork,
    positive_scale,
)

__all__ = ["StackedNetwork", "initialize_stacked", "stack_network"]


def _batched_affine(x, weight, bias):
    """``x @ weight + bias`` per member: weight ``(M, d, o)``, bias ``(M, 1, o)``.

    ``x`` is ``(n, d)`` (shared by the members), ``(M, n, d)``, or
    ``(M, ..., n, d)``, whose middle axes are folded into the rows.
    """
    n_members = weight.shape[0]
    if x.ndim == 2:
        return torch.baddbmm(bias, x.expand(n_members, *x.shape), weight)
    if x.ndim == 3:
        return torch.baddbmm(bias, x, weight)
    out = torch.baddbmm(bias, x.reshape(n_members, -1, x.shape[-1]), weight)
    return out.reshape(*x.shape[:-1], weight.shape[-1])


class StackedLinear(nn.Module):
    """``n_members`` independent affine maps, applied by one batched matrix product."""

    def __init__(self, n_members, n_in, n_out):
        super().__init__()
        self.n_members, self.in_features, self.out_features = n_members, n_in, n_out
        self.weight = nn.Parameter(torch.empty(n_members, n_in, n_out))
        self.bias = nn.Parameter(torch.empty(n_members, 1, n_out))

    def reset_parameters(self, generator=None):
        """Each member as ``nn.Linear``: uniform in ``±1/sqrt(n_in)``, its own draws."""
        bound = 1.0 / math.sqrt(self.in_features)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound, generator=generator)
            self.bias.uniform_(-bound, bound, generator=generator)

    def forward(self, x):
        return _batched_affine(x, self.weight, self.bias)


class StackedBayesianLinear(BayesianLinear):
    """:class:`BayesianLinear` with a leading member axis: mean-field posterior per member.

    Parameters are stored ``(M, n_in, n_out)`` (biases ``(M, 1, n_out)``);
    training uses the local reparameterisation trick per member; ``draw``
    samples ``(M, T)`` weight sets. The KL of :func:`kl_to_prior` sums over
    every parameter, hence over the members: the sum of the members' KLs.
    """

    def __init__(self, n_members, n_in, n_out, prior_std, init_std=INIT_POSTERIOR_STD):
        nn.Module.__init__(self)
        self.n_members = n_members
        self.prior_std, self.init_std = prior_std, init_std
        self.weight_mu = nn.Parameter(torch.empty(n_members, n_in, n_out))
        self.bias_mu = nn.Parameter(torch.empty(n_members, 1, n_out))
        self.weight_rho = nn.Parameter(torch.empty(n_members, n_in, n_out))
        self.bias_rho = nn.Parameter(torch.empty(n_members, 1, n_out))
        self.weights = self.biases = None
        self.generator = None

    _affine = staticmethod(_batched_affine)

    def _drawn_affine(self, x):
        """(M, T, d, o) drawn weights applied to x of shape (M, T, n, d)."""
        M, T = self.weights.shape[:2]
        out = torch.baddbmm(
            self.biases.reshape(M * T, 1, -1),
            x.reshape(M * T, -1, x.shape[-1]),
            self.weights.reshape(M * T, *self.weights.shape[2:]),
        )
        return out.reshape(*x.shape[:-1], out.shape[-1])

    def draw(self, n_passes, generator):
        weight_std, bias_std = (s.detach().double() for s in self._stds())
        w_mu, b_mu = self.weight_mu.detach().double(), self.bias_mu.detach().double()
        shape = (self.n_members, n_passes)
        noise_w = torch.randn((*shape, *w_mu.shape[1:]), generator=generator, dtype=torch.float64)
        noise_b = torch.randn((*shape, *b_mu.shape[1:]), generator=generator, dtype=torch.float64)
        self.weights = w_mu.unsqueeze(1) + weight_std.unsqueeze(1) * noise_w
        self.biases = b_mu.unsqueeze(1) + bias_std.unsqueeze(1) * noise_b


class StackedMCDropout(MCDropout):
    """:class:`MCDropout` whose prediction masks are ``(M, T, 1, width)``: per member and pass."""

    def __init__(self, n_members, width, rate):
        super().__init__(width, rate)
        self.n_members = n_members

    def draw(self, n_passes, generator):
        super().draw(self.n_members * n_passes, generator)
        self.masks = self.masks.reshape(self.n_members, n_passes, 1, self.width)


class StackedGaussianHead(GaussianHead):
    """:class:`GaussianHead` over a stacked affine map; a shared scale is one per member."""

    def __init__(self, n_members, linear, heteroscedastic):
        nn.Module.__init__(self)
        self.heteroscedastic = heteroscedastic
        self.linear = linear
        if not heteroscedastic:
            self.raw_scale = nn.Parameter(torch.zeros(n_members))

    def forward(self, h):
        out = self.linear(h)
        loc = out[..., 0]
        if self.heteroscedastic:
            raw = out[..., 1]
        else:  # one scale per member, broadcast over (M, [T,] n)
            raw = self.raw_scale.reshape(-1, *(1,) * (loc.ndim - 1)).expand_as(loc)
        return loc, positive_scale(raw, self.min_scale)


class StackedNetwork(ProbabilisticNetwork):
    """A :class:`ProbabilisticNetwork` of ``n_members`` members on a leading axis.

    ``nll(x, y)`` returns ``(M, n)``: row i of member m's own minibatch when
    ``x`` is ``(M, n, d)`` and ``y`` is ``(M, n)``, or the same rows for every
    member when ``x`` is ``(n, d)`` and ``y`` is ``(n,)``. THE training loop
    reads ``n_members`` to train the members together (see ``training.train``).
    """

    def __init__(self, trunk, head, n_members, *, kl_weight=0.0):
        super().__init__(trunk, head, kl_weight=kl_weight)
        self.n_members = n_members

    def nll(self, x, y):
        if y.ndim == 1:  # the same targets for every member
            y = y.expand(self.n_members, *y.shape)
        return super().nll(x, y)

    def forward_passes(self, x, n_passes):
        """Head parameters of ``n_passes`` passes of every member over ``x`` of shape (n, d).

        Outputs have shape ``(M, n_passes, n, ...)``. As in the single network,
        the blocks before the first stochastic layer run once.
        """
        first = next(
            (i for i, m in enumerate(self.trunk) if isinstance(m, (MCDropout, BayesianLinear))),
            len(self.trunk),
        )
        shared = self.trunk[:first](x)
        if shared.ndim == 2:  # no member-specific layer yet: the raw input
            shared = shared.expand(self.n_members, *shared.shape)
        shared = shared.unsqueeze(1).expand(self.n_members, n_passes, *shared.shape[1:])
        return self.head(self.trunk[first:](shared))


def _stacked_layer(module, n_members):
    """The stacked counterpart of one building block, or None if it has no parameters."""
    if isinstance(module, BayesianLinear):
        return StackedBayesianLinear(
            n_members, module.weight_mu.shape[1], module.weight_mu.shape[0],
            module.prior_std, module.init_std,
        )
    if isinstance(module, nn.Linear):
        return StackedLinear(n_members, module.in_features, module.out_features)
    if isinstance(module, MCDropout):
        return StackedMCDropout(n_members, module.width, module.rate)
    if isinstance(module, GaussianHead):
        linear = _stacked_layer(module.linear, n_members)
        return StackedGaussianHead(n_members, linear, module.heteroscedastic)
    return None


def _stack_children(module, n_members):
    for name, child in module.named_children():
        replacement = _stacked_layer(child, n_members)
        if replacement is None:
            _stack_children(child, n_members)
        else:
            setattr(module, name, replacement)
    leftover = [name for name, _ in module.named_parameters(recurse=False)]
    if leftover:
        raise TypeError(
            f"{type(module).__name__} has parameters {leftover} that cannot be stacked into "
            "an ensemble; only nn.Linear, BayesianLinear, MCDropout and the heads of "
            "skprob._torch.modules are supported."
        )


def stack_network(network, n_members):
    """An ensemble of ``n_members`` copies of ``network``'s architecture on one axis.

    Parameters
    ----------
    network : ProbabilisticNetwork
        A member, as an estimator's ``_build_network`` returns it (its weights
        are not used; build it on the ``meta`` device). It is modified in place.
    n_members : int
        Number of members M.

    Returns
    -------
    stacked : StackedNetwork
        Uninitialised (see :func:`initialize_stacked`).
    """
    _stack_children(network.trunk, n_members)
    head = _stacked_layer(network.head, n_members)
    if head is None:
        _stack_children(network.head, n_members)
        head = network.head
    return StackedNetwork(network.trunk, head, n_members, kl_weight=network.kl_weight)


def initialize_stacked(network, generator):
    """Draw every member's parameters afresh from ``generator``: M independent inits."""
    for module in network.modules():
        if isinstance(module, (StackedLinear, StackedBayesianLinear, StackedGaussianHead)):
            module.reset_parameters(generator)
    return network
