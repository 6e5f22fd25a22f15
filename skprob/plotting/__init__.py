"""Plots that show whether predictive distributions are honest.

Every function takes fitted predictive distributions from
:mod:`skprob.distributions` (one row per sample), draws on a matplotlib
``Axes`` and returns it; pass ``ax=`` to draw into an existing figure, or
leave it out to get a new one. matplotlib is an optional dependency
(``pip install matplotlib``): it is imported when a function is called, so
``import skprob`` never needs it.

The numbers drawn come from the distributions' own methods (``interval``,
``ppf``, ``pdf``, ``sample``) and from :mod:`skprob.metrics` (``pit``,
``interval_coverage``, ``calibration_error``), so a plot always shows what
the corresponding metric measures.
"""

from skprob.plotting._calibration import (
    plot_calibration_curve,
    plot_calibration_curves,
    plot_pit_histogram,
    plot_reliability_diagram,
)
from skprob.plotting._predictive import (
    plot_joint_density,
    plot_mixture_components,
    plot_predicted_vs_true,
    plot_predictive_band,
)
from skprob.plotting._reweighting import plot_prior_reweighting

__all__ = [
    "plot_calibration_curve",
    "plot_calibration_curves",
    "plot_joint_density",
    "plot_mixture_components",
    "plot_pit_histogram",
    "plot_predicted_vs_true",
    "plot_predictive_band",
    "plot_prior_reweighting",
    "plot_reliability_diagram",
]
