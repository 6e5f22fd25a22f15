"""Polyak averaging: an exponential moving average of a network's trained parameters.

THE training loop (``training.py``) keeps one whenever a fit has validation
data (early stopping): every epoch it scores the average beside the iterate.
"""

import contextlib

import torch

__all__ = ["AVERAGING_STEPS", "WeightAverage"]


# Iterates averaged, about: with minibatches of 32 and Adam at 1e-2 the last
# iterate is noisy, and a mixture network stopped early keeps a noisy one. The
# average over the last ~100 steps (3-15 epochs of the small UCI sets, 2 of
# naval) lowered the default mixture network's test NLL on 7 of the 8 UCI sets
# (benchmarks/README.md, section 6); over ~500 steps yacht was worse (0.11
# against 0.03 on splits 0-5, RMSE 1.23 against 0.90).
AVERAGING_STEPS = 100


class WeightAverage:
    """Exponential moving average of the trained parameters (Polyak averaging).

    After every optimiser step, :meth:`update` moves each average towards its
    parameter by ``1 / steps``; the averages are debiased as Adam's moments
    are (divided by ``1 - decay**t`` after ``t`` updates), so they are a
    weighted mean of the iterates alone, not of the zeros they start from.
    Averaging is elementwise, so each member of an ensemble has its own.

    Parameters
    ----------
    parameters : list of torch.nn.Parameter
        The trained parameters.
    steps : int
        Horizon of the average: iterate ``t - k`` has weight proportional to
        ``(1 - 1 / steps) ** k``.
    """

    def __init__(self, parameters, steps):
        self.parameters = list(parameters)
        self.decay = 1.0 - 1.0 / steps
        self.sums = [torch.zeros_like(p, memory_format=torch.contiguous_format)
                     for p in self.parameters]
        self.n_updates = 0

    def update(self):
        """Fold the current iterates into the averages (call after each step)."""
        # One fused kernel for all tensors, as torch.optim.swa_utils' EMA does
        # inside; its AveragedModel.update_parameters regroups the tensors on
        # every call, 50-60 us against 5 us here (a small network's step: ~500 us).
        with torch.no_grad():
            torch._foreach_lerp_(self.sums, self.parameters, 1.0 - self.decay)
        self.n_updates += 1

    def _copy_averages_in(self):
        correction = 1.0 - self.decay**self.n_updates
        with torch.no_grad():
            for param, total in zip(self.parameters, self.sums, strict=True):
                param.copy_(total / correction)

    @contextlib.contextmanager
    def swapped_in(self):
        """The averages in place of the parameters inside the block, the iterates after it."""
        if self.n_updates == 0:
            yield
            return
        iterates = [p.detach().clone() for p in self.parameters]
        self._copy_averages_in()
        try:
            yield
        finally:
            with torch.no_grad():
                for param, iterate in zip(self.parameters, iterates, strict=True):
                    param.copy_(iterate)
