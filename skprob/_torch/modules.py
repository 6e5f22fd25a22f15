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

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def build_trunk(n_features, hidden_layer_sizes, activations, *, layer=nn.Linear):
    """Stack ``layer -> activation`` blocks into the MLP trunk.

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
        Bayesian and dropout networks reuse this function.

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
        n_in = width
    return nn.Sequential(*blocks), n_in


def gaussian_log_prob(y, loc, scale):
    """Elementwise log N(y | loc, scale), without torch.distributions overhead."""
    z = (y - loc) / scale
    return -0.5 * z * z - torch.log(scale) - _HALF_LOG_2PI


def positive_scale(raw):
    """Map an unconstrained output to a scale above ``MIN_SCALE``."""
    return F.softplus(raw) + MIN_SCALE


class MixtureDensityHead(nn.Module):
    """Affine map to the parameters of a K-component Gaussian mixture.

    ``forward`` returns ``(log_weights, means, scales)``, each ``(..., K)``.
    """

    def __init__(self, n_in, n_components, *, layer=nn.Linear):
        super().__init__()
        self.n_components = n_components
        self.linear = layer(n_in, 3 * n_components)

    def forward(self, h):
        logits, means, raw_scales = self.linear(h).chunk(3, dim=-1)
        return F.log_softmax(logits, dim=-1), means, positive_scale(raw_scales)

    @staticmethod
    def nll(params, y):
        """Per-sample negative log-likelihood of targets ``y`` of shape (n,)."""
        log_weights, means, scales = params
        log_prob = log_weights + gaussian_log_prob(y.unsqueeze(-1), means, scales)
        return -torch.logsumexp(log_prob, dim=-1)


class GaussianHead(nn.Module):
    """Affine map to the location and scale of a Gaussian.

    With ``heteroscedastic=False`` the scale is one learned parameter shared by
    every input. ``forward`` returns ``(loc, scale)``, each ``(...,)``.
    """

    def __init__(self, n_in, *, heteroscedastic=True, layer=nn.Linear):
        super().__init__()
        self.heteroscedastic = heteroscedastic
        self.linear = layer(n_in, 2 if heteroscedastic else 1)
        if not heteroscedastic:
            self.raw_scale = nn.Parameter(torch.zeros(()))

    def forward(self, h):
        out = self.linear(h)
        loc = out[..., 0]
        raw = out[..., 1] if self.heteroscedastic else self.raw_scale.expand_as(loc)
        return loc, positive_scale(raw)

    @staticmethod
    def nll(params, y):
        loc, scale = params
        return -gaussian_log_prob(y, loc, scale)


class CategoricalHead(nn.Module):
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


class ProbabilisticNetwork(nn.Module):
    """A trunk followed by a distribution head.

    ``forward(x)`` returns the head's parameter tuple; ``nll(x, y)`` the
    per-sample negative log-likelihood, the quantity every estimator trains on.
    """

    def __init__(self, trunk, head):
        super().__init__()
        self.trunk = trunk
        self.head = head

    def forward(self, x):
        return self.head(self.trunk(x))

    def nll(self, x, y):
        return self.head.nll(self(x), y)

    def penalty(self):
        """Extra term added to the mean training loss (e.g. a KL divergence)."""
        return None
