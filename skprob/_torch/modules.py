"""Network building blocks: the MLP trunk and the distribution heads.

Every head maps trunk features to the *raw* parameters of a predictive
distribution in the space the network is trained in (standardised y for
regressors) and knows the per-sample negative log-likelihood of those
parameters. Nothing here knows about scikit-learn or numpy distributions.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
    "softplus": nn.Softplus,
}

# Smallest predicted scale, in units of the (standardised) target. Without a
# floor a mixture component can collapse onto a single training point and the
# likelihood diverges; 1e-3 of the target's spread is far below any scale a
# tabular regression problem resolves.
MIN_SCALE = 1e-3

# Initial standard deviation of every variational posterior. The posterior
# opens up from it during training (Adam moves softplus^-1 of the std by about
# the learning rate per step, whatever its size), so it sets how long the mean
# network trains nearly free of weight noise. Measured with the regressor's
# defaults (benchmarks/README.md, section 6): 1e-4 rather than 1e-3 took the
# test NLL on yacht from 0.63 to 0.19 and on energy from 1.44 to 1.36 (20
# splits each), changed no other UCI set by more than 0.02, and kept the
# epistemic std at |x| = 5 at 7-8x its level on the data on the gap problem
# (two hidden layers of 100); 3e-3 to 5e-2 were worse on both small sets
# (yacht 0.8-1.8).
INIT_POSTERIOR_STD = 1e-4

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def build_trunk(n_features, hidden_layer_sizes, activations, *, layer=nn.Linear, dropout_rate=0.0):
    """Stack ``layer -> activation [-> MCDropout]`` blocks into the MLP trunk.

    Parameters
    ----------
    n_features : int
        Width of the input.
    hidden_layer_sizes : sequence of int
        Width of each hidden layer.
    activations : sequence of str
        One activation name (a key of ``ACTIVATIONS``) per hidden layer.
    layer : callable, default=nn.Linear
        Factory ``layer(n_in, n_out)`` for the affine maps, so that the
        Bayesian network reuses this function.
    dropout_rate : float, default=0.0
        When positive, an :class:`MCDropout` follows every hidden layer.

    Returns
    -------
    trunk : nn.Sequential
    n_out : int
        Width of the trunk's output.
    """
    blocks = []
    n_in = n_features
    for width, name in zip(hidden_layer_sizes, activations, strict=True):
        blocks += [layer(n_in, width), ACTIVATIONS[name]()]
        if dropout_rate > 0:
            blocks.append(MCDropout(width, dropout_rate))
        n_in = width
    return nn.Sequential(*blocks), n_in


class MCDropout(nn.Module):
    """Dropout that can stay on at prediction time (Gal & Ghahramani 2016).

    In training mode every element gets its own mask (inverted dropout). For
    Monte Carlo prediction, :meth:`draw` fixes ``n_passes`` masks of shape
    ``(n_passes, 1, width)``; inputs then have shape ``(n_passes, n, width)``
    and each pass applies ONE mask to all rows, so a row's prediction does not
    depend on the other rows. In eval mode without drawn masks the layer is
    the identity (the usual deterministic network, used for validation).
    """

    def __init__(self, width, rate):
        super().__init__()
        self.width, self.rate = width, rate
        self.masks = None
        self.generator = None

    def forward(self, h):
        if self.training:
            # Masks drawn from the fit's own generator (F.dropout would take
            # torch's global one, which every thread of the process shares).
            keep = 1.0 - self.rate
            mask = torch.empty_like(h).bernoulli_(keep, generator=self.generator)
            return h * mask.div_(keep)
        return h if self.masks is None else h * self.masks

    def draw(self, n_passes, generator):
        keep = 1.0 - self.rate
        probs = torch.full((n_passes, 1, self.width), keep, dtype=torch.float64)
        self.masks = torch.bernoulli(probs, generator=generator) / keep

    def clear(self):
        self.masks = None


def _inverse_softplus(x):
    return x + math.log(-math.expm1(-x))


class BayesianLinear(nn.Module):
    """Affine layer with a mean-field Gaussian posterior on every weight and bias.

    Training uses the local reparameterisation trick (Kingma et al. 2015): the
    pre-activations are sampled from their Gaussian, which has lower variance
    than sampling weights and costs two matrix products. For Monte Carlo
    prediction, :meth:`draw` samples ``n_passes`` full weight matrices, shared
    by all rows; in eval mode without draws the posterior means are used.

    Parameters
    ----------
    n_in, n_out : int
        Input and output widths.
    prior_std : float
        Standard deviation of the zero-mean Gaussian prior on each parameter.
    init_std : float, default=INIT_POSTERIOR_STD
        Initial posterior standard deviation: small, so training starts close
        to a deterministic network and the KL term opens the posterior up.
    """

    def __init__(self, n_in, n_out, prior_std, init_std=INIT_POSTERIOR_STD):
        super().__init__()
        self.prior_std, self.init_std = prior_std, init_std
        self.weight_mu = nn.Parameter(torch.empty(n_out, n_in))
        self.bias_mu = nn.Parameter(torch.empty(n_out))
        self.weight_rho = nn.Parameter(torch.empty(n_out, n_in))
        self.bias_rho = nn.Parameter(torch.empty(n_out))
        self.weights = self.biases = None
        self.generator = None
        self.reset_parameters()

    def reset_parameters(self, generator=None):
        """Means uniform in ``±1/sqrt(n_in)`` (as ``nn.Linear``), stds at ``init_std``."""
        bound = 1.0 / math.sqrt(self.weight_mu.shape[1])
        with torch.no_grad():
            self.weight_mu.uniform_(-bound, bound, generator=generator)
            self.bias_mu.uniform_(-bound, bound, generator=generator)
            self.weight_rho.fill_(_inverse_softplus(self.init_std))
            self.bias_rho.fill_(_inverse_softplus(self.init_std))

    def _stds(self):
        return F.softplus(self.weight_rho), F.softplus(self.bias_rho)

    # ``x @ weight.T + bias`` for this layer's parameter layout (the stacked
    # ensemble layer stores (M, n_in, n_out) and overrides both maps).
    _affine = staticmethod(F.linear)

    def _drawn_affine(self, x):
        """The affine map of every drawn weight set: x of shape (T, n, n_in)."""
        return torch.baddbmm(self.biases, x, self.weights)

    def forward(self, x):
        if self.weights is not None:
            return self._drawn_affine(x)
        # Local reparameterisation: sample the pre-activations, not the weights.
        mean = self._affine(x, self.weight_mu, self.bias_mu)
        if not self.training:
            return mean
        weight_std, bias_std = self._stds()
        var = self._affine(x * x, weight_std * weight_std, bias_std * bias_std)
        noise = torch.randn(
            mean.shape, generator=self.generator, dtype=mean.dtype, device=mean.device
        )
        return mean + torch.sqrt(var + 1e-16) * noise

    def draw(self, n_passes, generator):
        weight_std, bias_std = (s.detach().double() for s in self._stds())
        w_mu, b_mu = self.weight_mu.detach().double(), self.bias_mu.detach().double()
        noise_w = torch.randn((n_passes, *w_mu.shape), generator=generator, dtype=torch.float64)
        noise_b = torch.randn((n_passes, 1, len(b_mu)), generator=generator, dtype=torch.float64)
        self.weights = (w_mu + weight_std * noise_w).transpose(1, 2)
        self.biases = b_mu + bias_std * noise_b

    def clear(self):
        self.weights = self.biases = None

    def kl(self):
        """Closed-form KL(q || prior) summed over the layer's parameters."""
        return kl_to_prior([self])


def kl_to_prior(layers):
    """Closed-form KL(q || prior) summed over every parameter of the Bayesian ``layers``.

    The parameters of all layers that share a prior are concatenated and the
    KL is taken in one pass. Per layer, the dozen small kernels of the KL and
    their gradients would be about a quarter of a training step of a small
    network at batch size 256 (measured on the lecture's network).
    """
    by_prior = {}
    for layer in layers:
        by_prior.setdefault(layer.prior_std, []).append(layer)
    total = 0.0
    for prior_std, group in by_prior.items():
        mu = torch.cat([p.reshape(-1) for m in group for p in (m.weight_mu, m.bias_mu)])
        rho = torch.cat([p.reshape(-1) for m in group for p in (m.weight_rho, m.bias_rho)])
        std = F.softplus(rho)
        # Per parameter: 0.5 * (std**2 + mu**2) / prior_std**2 - log(std / prior_std) - 0.5,
        # summed with the constants pulled out.
        total = total + (
            0.5 * (std.square().sum() + mu.dot(mu)) / prior_std**2
            - std.log().sum()
            + mu.numel() * (math.log(prior_std) - 0.5)
        )
    return total


# Layers whose Monte Carlo passes differ: they hold per-pass draws at prediction.
_STOCHASTIC_LAYERS = (MCDropout, BayesianLinear)


def initialize_parameters(network, generator):
    """Draw every parameter of ``network`` afresh from ``generator``.

    ``nn.Linear`` layers get PyTorch's default distribution (weights and
    biases uniform in ``±1/sqrt(fan_in)``); modules with a
    ``reset_parameters(generator)`` method of their own (Bayesian layers,
    heads with a shared scale) use it. Used on a network built on the meta
    device, so that building it touches no global random state.
    """
    for module in network.modules():
        if isinstance(module, nn.Linear):
            bound = 1.0 / math.sqrt(module.in_features)
            with torch.no_grad():
                module.weight.uniform_(-bound, bound, generator=generator)
                if module.bias is not None:
                    module.bias.uniform_(-bound, bound, generator=generator)
        elif isinstance(module, (BayesianLinear, GaussianHead, MultivariateGaussianHead)):
            module.reset_parameters(generator)
    return network


# The NLLs below run at every training step, forward and backward, and a small
# network's step is mostly per-kernel overhead: each is written in as few
# kernels (autograd nodes) as the formula allows, e.g. one addcmul for
# log(scale) + z**2 / 2, and the constant log(2 pi) / 2 added once per row.


def gaussian_nll(y, loc, scale):
    """Elementwise -log N(y | loc, scale), without torch.distributions overhead."""
    z = (y - loc) / scale
    return torch.addcmul(torch.log(scale), z, z, value=0.5) + _HALF_LOG_2PI


def mixture_nll(log_weights, means, scales, y, dim=-1):
    """-log sum_k w_k N(y | mean_k, scale_k), the components along axis ``dim``.

    ``y`` must broadcast against the component parameters (a size-1 axis at ``dim``).
    """
    z = (y - means) / scales
    log_prob = torch.addcmul(log_weights - torch.log(scales), z, z, value=-0.5)
    return _HALF_LOG_2PI - torch.logsumexp(log_prob, dim=dim)


def positive_scale(raw, min_scale=MIN_SCALE):
    """Map an unconstrained output to a scale above ``min_scale``."""
    return F.softplus(raw) + min_scale


class DistributionHead(nn.Module):
    """Base of the heads: ``forward(h)`` gives the parameter tuple, ``nll(params, y)`` its NLL."""

    def loss(self, h, y):
        """Per-sample NLL of ``y`` straight from trunk features ``h``: ``nll(self(h), y)``.

        What training calls; a head may compute it without building the
        parameters in the layout ``forward`` returns.
        """
        return self.nll(self(h), y)


class MixtureDensityHead(DistributionHead):
    """Affine map to the parameters of a K-component Gaussian mixture.

    ``forward`` returns ``(log_weights, means, scales)``, each ``(..., K)``.
    Scales are at least ``min_scale`` (see :meth:`ProbabilisticNetwork.set_min_scale`).
    """

    min_scale = MIN_SCALE

    def __init__(self, n_in, n_components, *, layer=nn.Linear):
        super().__init__()
        self.n_components = n_components
        self.linear = layer(n_in, 3 * n_components)

    def _component_major(self, h):
        # Component-major memory: each parameter a contiguous (..., K, n) block.
        # Reductions over K then run along the rows' vectorised axis; on the
        # interleaved (..., n, 3K) output, torch's last-axis kernels for K ~ 5
        # cost ~5x more, and a stacked ensemble's head math ~1.6x more (an
        # ensemble's step is then ~15% slower).
        by_component = self.linear(h).transpose(-1, -2).contiguous()
        logits, means, raw_scales = by_component.chunk(3, dim=-2)
        return (F.log_softmax(logits, dim=-2), means,
                positive_scale(raw_scales, self.min_scale))

    def forward(self, h):
        return tuple(t.transpose(-1, -2) for t in self._component_major(h))

    def loss(self, h, y):
        # The (..., K, n) blocks as they are: no transposes to autograd through.
        return mixture_nll(*self._component_major(h), y.unsqueeze(-2), dim=-2)

    @staticmethod
    def nll(params, y):
        """Per-sample negative log-likelihood of targets ``y`` of shape (n,)."""
        return mixture_nll(*params, y.unsqueeze(-1))


class GaussianHead(DistributionHead):
    """Affine map to the location and scale of a Gaussian.

    With ``heteroscedastic=False`` the scale is one learned parameter shared by
    every input. ``forward`` returns ``(loc, scale)``, each ``(...,)``; scales
    are at least ``min_scale``.
    """

    min_scale = MIN_SCALE

    def __init__(self, n_in, *, heteroscedastic=True, layer=nn.Linear):
        super().__init__()
        self.heteroscedastic = heteroscedastic
        self.linear = layer(n_in, 2 if heteroscedastic else 1)
        if not heteroscedastic:
            self.raw_scale = nn.Parameter(torch.zeros(()))

    def reset_parameters(self, generator=None):
        """Re-initialise the affine map; the shared scale starts at softplus(0)."""
        if not self.heteroscedastic:
            with torch.no_grad():
                self.raw_scale.zero_()

    def forward(self, h):
        out = self.linear(h)
        loc = out[..., 0]
        raw = out[..., 1] if self.heteroscedastic else self.raw_scale.expand_as(loc)
        return loc, positive_scale(raw, self.min_scale)

    @staticmethod
    def nll(params, y):
        loc, scale = params
        return gaussian_nll(y, loc, scale)


def scale_tril_from_raw(raw_diagonal, raw_lower, min_scale=MIN_SCALE):
    """Cholesky factors ``(..., d, d)`` from unconstrained outputs.

    The diagonal is ``softplus(raw_diagonal) + min_scale`` (the floor of every
    head's scales), so each factor is invertible and its covariance positive
    definite with eigenvalues bounded away from zero; the strictly lower part,
    ``raw_lower`` of shape ``(..., d (d - 1) / 2)`` in row-major order, is free.
    """
    d = raw_diagonal.shape[-1]
    L = torch.diag_embed(positive_scale(raw_diagonal, min_scale))
    if d > 1:
        rows, cols = torch.tril_indices(d, d, -1, device=raw_lower.device)
        L[..., rows, cols] = raw_lower
    return L


def multivariate_gaussian_log_prob(y, loc, scale_tril):
    """log N(y | loc, L L^T) over the last axis: a triangular solve and the diagonal of L."""
    diff = (y - loc).unsqueeze(-1)
    z = torch.linalg.solve_triangular(scale_tril, diff, upper=False).squeeze(-1)
    log_det = torch.log(torch.diagonal(scale_tril, dim1=-2, dim2=-1)).sum(-1)
    return -0.5 * (z * z).sum(-1) - log_det - y.shape[-1] * _HALF_LOG_2PI


def _n_lower(n_outputs):
    return n_outputs * (n_outputs - 1) // 2


class MultivariateMixtureDensityHead(DistributionHead):
    """Affine map to a K-component mixture of full-covariance Gaussians in ``d`` outputs.

    ``forward`` returns ``(log_weights, means, scale_tril)`` of shapes
    ``(..., K)``, ``(..., K, d)`` and ``(..., K, d, d)``: each component's
    covariance is parametrised by its Cholesky factor
    (:func:`scale_tril_from_raw`).
    """

    min_scale = MIN_SCALE

    def __init__(self, n_in, n_components, n_outputs, *, layer=nn.Linear):
        super().__init__()
        self.n_components, self.n_outputs = n_components, n_outputs
        self._sizes = (1, n_outputs, n_outputs, _n_lower(n_outputs))
        self.linear = layer(n_in, n_components * sum(self._sizes))

    def forward(self, h):
        out = self.linear(h).unflatten(-1, (self.n_components, sum(self._sizes)))
        logits, means, raw_diagonal, raw_lower = out.split(self._sizes, dim=-1)
        scale_tril = scale_tril_from_raw(raw_diagonal, raw_lower, self.min_scale)
        return F.log_softmax(logits.squeeze(-1), dim=-1), means, scale_tril

    @staticmethod
    def nll(params, y):
        """Per-sample negative log-likelihood of targets ``y`` of shape (n, d)."""
        log_weights, means, scale_tril = params
        log_prob = log_weights + multivariate_gaussian_log_prob(
            y.unsqueeze(-2), means, scale_tril
        )
        return -torch.logsumexp(log_prob, dim=-1)


class MultivariateGaussianHead(DistributionHead):
    """Affine map to the mean and full covariance (Cholesky factor) of a Gaussian in ``d`` outputs.

    With ``heteroscedastic=False`` the Cholesky factor is one learned set of
    parameters shared by every input. ``forward`` returns ``(loc, scale_tril)``
    of shapes ``(..., d)`` and ``(..., d, d)``.
    """

    min_scale = MIN_SCALE

    def __init__(self, n_in, n_outputs, *, heteroscedastic=True, layer=nn.Linear):
        super().__init__()
        self.n_outputs, self.heteroscedastic = n_outputs, heteroscedastic
        n_scale = n_outputs + _n_lower(n_outputs)
        self.linear = layer(n_in, n_outputs + (n_scale if heteroscedastic else 0))
        if not heteroscedastic:
            self.raw_scale = nn.Parameter(torch.zeros(n_scale))

    def reset_parameters(self, generator=None):
        """Re-initialise the affine map; a shared factor starts at softplus(0) times I."""
        if not self.heteroscedastic:
            with torch.no_grad():
                self.raw_scale.zero_()

    def forward(self, h):
        out = self.linear(h)
        loc = out[..., : self.n_outputs]
        raw = out[..., self.n_outputs :] if self.heteroscedastic else self.raw_scale.expand(
            *loc.shape[:-1], -1
        )
        raw_diagonal, raw_lower = raw.split((self.n_outputs, _n_lower(self.n_outputs)), dim=-1)
        return loc, scale_tril_from_raw(raw_diagonal, raw_lower, self.min_scale)

    @staticmethod
    def nll(params, y):
        """Per-sample negative log-likelihood of targets ``y`` of shape (n, d)."""
        loc, scale_tril = params
        return -multivariate_gaussian_log_prob(y, loc, scale_tril)


class CategoricalHead(DistributionHead):
    """Affine map to class log-probabilities; ``forward`` returns ``(log_probs,)``."""

    def __init__(self, n_in, n_classes, *, layer=nn.Linear):
        super().__init__()
        self.linear = layer(n_in, n_classes)

    def forward(self, h):
        return (F.log_softmax(self.linear(h), dim=-1),)

    @staticmethod
    def nll(params, y):
        (log_probs,) = params
        return -log_probs.gather(-1, y.unsqueeze(-1)).squeeze(-1)


# Heads whose scales (or Cholesky diagonals) have the floor of ``set_min_scale``.
_SCALE_HEADS = (GaussianHead, MixtureDensityHead, MultivariateGaussianHead,
                MultivariateMixtureDensityHead)


class ProbabilisticNetwork(nn.Module):
    """A trunk followed by a distribution head.

    ``forward(x)`` returns the head's parameter tuple; ``nll(x, y)`` the
    per-sample negative log-likelihood, the quantity every estimator trains on.
    """

    def __init__(self, trunk, head, *, kl_weight=0.0):
        super().__init__()
        self.trunk = trunk
        self.head = head
        self.kl_weight = kl_weight
        # Found once: penalty() runs at every training step.
        self._bayesian_layers = tuple(m for m in self.modules() if isinstance(m, BayesianLinear))

    def forward(self, x):
        return self.head(self.trunk(x))

    def nll(self, x, y):
        return self.head.loss(self.trunk(x), y)

    def stochastic_layers(self):
        """Layers with Monte Carlo ``draw``/``clear`` (dropout, Bayesian)."""
        return [m for m in self.modules() if isinstance(m, _STOCHASTIC_LAYERS)]

    def forward_passes(self, x, n_passes):
        """Head parameters of ``n_passes`` Monte Carlo passes over ``x`` of shape (n, d).

        Every output has shape ``(n_passes, n, ...)``; the stochastic layers
        must hold their draws (``draw``). The trunk's blocks before the first
        stochastic layer are the same in every pass, so they run once on
        ``(n, d)``: for a dropout network that is the whole first layer, most
        of the work when there is one hidden layer.
        """
        first = next(
            (i for i, m in enumerate(self.trunk) if isinstance(m, _STOCHASTIC_LAYERS)),
            len(self.trunk),
        )
        shared = self.trunk[:first](x)
        return self.head(self.trunk[first:](shared.expand(n_passes, *shared.shape)))

    def set_min_scale(self, min_scale):
        """Floor every predicted scale at ``min_scale`` (in training units), or at ``MIN_SCALE``."""
        for module in self.modules():
            if isinstance(module, _SCALE_HEADS):
                module.min_scale = max(MIN_SCALE, float(min_scale))

    def set_generator(self, generator):
        """Make every stochastic layer draw its training noise from ``generator`` (or None)."""
        for layer in self.stochastic_layers():
            layer.generator = generator

    def penalty(self):
        """``kl_weight`` times the KL divergence of the Bayesian layers, or None."""
        if not self._bayesian_layers or self.kl_weight == 0:
            return None
        return self.kl_weight * kl_to_prior(self._bayesian_layers)
