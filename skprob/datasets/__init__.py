"""Synthetic regression problems whose true conditional densities are known.

Each generator takes a ``random_state`` and returns ``X, y``; where the truth
is known it can also return the true conditional distribution of every row as
a :mod:`skprob.distributions` object, so that tests and benchmarks can compare
a model's negative log-likelihood with the best achievable value.
"""

from skprob.datasets._galaxy_clusters import cluster_mass_prior, make_galaxy_clusters
from skprob.datasets._synthetic import (
    make_bimodal,
    make_correlated_outputs,
    make_heteroscedastic,
)

__all__ = [
    "cluster_mass_prior",
    "make_bimodal",
    "make_correlated_outputs",
    "make_galaxy_clusters",
    "make_heteroscedastic",
]
