"""THE training loop, shared by every skprob estimator (prediction: ``prediction.py``).

The loop works on in-memory tensors: each epoch shuffles the rows once and
then takes contiguous slices, which avoids both a DataLoader and a gather per
step. The loss is the (optionally sample-weighted) mean negative
log-likelihood plus the network's ``penalty()``; L2 regularisation is Adam's
coupled weight decay on weight matrices only, as in scikit-learn's MLP. A
step whose gradient norm spikes far above its recent level is scaled down
(:class:`GradientSpikeGuard`, per member for an ensemble). With validation
data and ``config.averaging_steps``, an exponential moving average of the
iterates (:class:`~skprob._torch.weight_average.WeightAverage`) competes with
them: early stopping keeps the best, by validation NLL, of every epoch's
iterate and average, while when to stop follows the iterates alone.
"""

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from skprob._torch.weight_average import WeightAverage
from skprob.exceptions import TrainingDivergedError


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of one call to :func:`train` (validated upstream)."""

    max_iter: int
    batch_size: int
    learning_rate_init: float
    learning_rate: str = "cosine"
    alpha: float = 0.0
    tol: float = 1e-4
    n_iter_no_change: int = 10
    shuffle: bool = True
    verbose: bool = False
    description: str = "fit"
    # Fraction of the per-sample NLLs (the lowest) that the divergence check
    # averages: below 1 for regression, so a few outlying targets cannot
    # trigger it; 1 for classification, where labels cannot be outliers and a
    # blown-up network is confidently wrong on a few rows only.
    check_fraction: float = 1.0
    # Optimiser steps over which WeightAverage averages the iterates, when
    # validation data can choose between the average and the iterate; None:
    # iterates only. Without validation a fit always ends on its last iterate:
    # the average of a short fit lags far behind it, and a cosine schedule
    # annealed to zero leaves little for an average to smooth.
    averaging_steps: int | None = None


@dataclass
class TrainingHistory:
    """What :func:`train` reports back: per-epoch curves and the stopping point."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_loss: float = math.inf
    n_iter: int = 0


def make_optimizer(network, config, n_train, state=None):
    """Adam with L2 decay ``alpha / n_train`` on weight matrices (or their means) only.

    Dividing by ``n_train`` makes ``alpha`` the precision of a Gaussian prior
    on the weights: the objective is ``sum(NLL) + alpha / 2 * ||W||**2``
    divided by the number of training samples.
    """
    decay, no_decay = [], []
    for name, param in network.named_parameters():
        if param.requires_grad:
            is_weight = name.rsplit(".", 1)[-1] in ("weight", "weight_mu")
            (decay if is_weight else no_decay).append(param)
    groups = [
        {"params": decay, "weight_decay": config.alpha / max(n_train, 1)},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    # The fused kernel updates every tensor of a group in one call; for the small
    # networks of tabular data the per-tensor Python loop would dominate a step.
    optimizer = torch.optim.Adam(groups, lr=config.learning_rate_init, fused=True)
    if state is not None:
        # A copy: Adam updates its moment tensors in place, and the caller's
        # stored state must survive a call that fails.
        optimizer.load_state_dict(copy.deepcopy(state))
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate_init
    return optimizer


def _lr_factor(schedule, step, total_steps):
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(step / total_steps, 1.0)))
    return 1.0


def _weighted_mean(values, weights):
    """Mean over the last (row) axis: a scalar, or one per member for ``(M, n)`` values."""
    return values.mean(-1) if weights is None else (values * weights).mean(-1)


def evaluate_nll(network, X, y, weights=None, *, chunk_size=65536):
    """Mean (weighted) negative log-likelihood of ``network`` on a data set.

    A float; for an ensemble (a network with ``n_members``), an array of one
    mean per member.
    """
    was_training = network.training
    network.eval()
    total = 0.0
    with torch.inference_mode():
        for start in range(0, len(X), chunk_size):
            stop = start + chunk_size
            w = None if weights is None else weights[start:stop]
            nll = _weighted_mean(network.nll(X[start:stop], y[start:stop]), w)
            total = total + nll.double() * min(stop - start, len(X) - start)
    network.train(was_training)
    mean = (total / len(X)).cpu().numpy()
    return float(mean) if mean.ndim == 0 else mean


# Gradient spikes: a step whose gradient norm is more than SPIKE_FACTOR times
# the running geometric mean of the recent norms (an exponential average of
# their logarithms with weight SPIKE_MEMORY, about the last 100 steps) is
# scaled down to that bound. Without it, 3 of 130 default Monte Carlo fits on
# the larger UCI sets (dropout on a protein split, the Bayesian network on two
# naval splits) were thrown off by spikes at the default rate of 1e-2 (one
# step's norm was 1e10 times the usual 0.7): the loss rose for the rest of the
# run and the predictive means came out absurd (RMSE 660 on a target in
# [0, 21]) with no error raised. A fixed cap cannot serve every network: a
# mixture network's norms are 20-600 when its components are narrow, and
# capping them at 1 cost it 0.37 nats on energy and naval. Its norms stay
# within 10x their running mean on all but a handful of steps.
SPIKE_FACTOR = 10.0
SPIKE_MEMORY = 0.01


class GradientSpikeGuard:
    """Scale a step's gradient down when its norm spikes above its recent level.

    Call it after ``backward`` and before the optimiser's step. For an
    ensemble (``n_members`` given; every parameter has the member axis first)
    each member has its own norm and its own running level, so one member's
    spike never changes another's step.

    Parameters
    ----------
    parameters : list of torch.nn.Parameter
        The trained parameters; those without a gradient in a step are skipped.
    n_members : int or None, default=None
        Members of a stacked ensemble, or None for a single network.
    factor : float, default=SPIKE_FACTOR
        Largest tolerated ratio of a step's norm to the running geometric mean.
    memory : float, default=SPIKE_MEMORY
        Weight of the newest (capped) norm in the running mean of log norms.
    """

    def __init__(self, parameters, n_members=None, *, factor=SPIKE_FACTOR, memory=SPIKE_MEMORY):
        self.parameters = list(parameters)
        self.n_members = n_members
        self.log_factor = math.log(factor)
        self.memory = memory
        self.log_level = None

    def _norms(self, grads):
        if self.n_members is None:
            return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        per_tensor = [torch.linalg.vector_norm(g.reshape(self.n_members, -1), dim=1)
                      for g in grads]
        return torch.linalg.vector_norm(torch.stack(per_tensor), dim=0)

    def __call__(self):
        grads = [p.grad for p in self.parameters if p.grad is not None]
        if not grads:
            return
        # The running levels are one float per member, kept in Python: a dozen
        # tiny tensor kernels for them cost ~25 us a step, several percent of a
        # small network's step. The gradients are only touched on a spike.
        with torch.no_grad():
            norms = self._norms(grads).reshape(-1).tolist()
        if self.log_level is None:
            self.log_level = [math.nan] * len(norms)
        scales = [self._member_scale(member, norm) for member, norm in enumerate(norms)]
        if any(scale != 1.0 for scale in scales):
            self._scale(grads, scales)

    def _member_scale(self, member, norm):
        """The factor for one member's gradient of norm ``norm``; moves its level."""
        if not math.isfinite(norm):
            return math.nan  # spreads to the weights: the fit stops as diverged
        if norm == 0.0:
            # A zero gradient (a minibatch of zero sample weights, a stopped
            # member) neither sets nor moves the level.
            return 1.0
        log_norm = math.log(norm)
        level = self.log_level[member]
        if math.isnan(level):  # the first nonzero norm sets the level
            level = log_norm
        bound = level + self.log_factor
        self.log_level[member] = level + self.memory * (min(log_norm, bound) - level)
        return math.exp(min(bound - log_norm, 0.0))

    def _scale(self, grads, scales):
        with torch.no_grad():
            if self.n_members is None:
                torch._foreach_mul_(grads, scales[0])
                return
            factors = torch.tensor(scales, dtype=grads[0].dtype, device=grads[0].device)
            for g in grads:
                g.mul_(factors.reshape(self.n_members, *(1,) * (g.ndim - 1)))


def _all_finite(network):
    return all(torch.isfinite(p).all() for p in network.parameters())


# Training blew up, even if every number is still finite, when its per-sample
# NLL (nats; for regression a trimmed mean, so that a few outliers in y cannot
# trigger it: ``TrainingConfig.check_fraction``)
# ends several times its own size above where it started, or so far
# above the NLL of predicting the targets' marginal distribution that no
# density it predicts is usable (inputs of absurd scale give this from the
# first step on). Both margins are relative to max(1, |reference|).
_EXPLODED_FACTOR = 3.0
_CHECK_ROWS = 2048
_ABSURD_FACTOR = 30.0


def trimmed_mean(values, fraction=1.0, weights=None):
    """Weighted mean of the lowest ``fraction`` (by weight) of ``values``; all of them for 1."""
    values = torch.as_tensor(values).double()
    weights = torch.ones_like(values) if weights is None else torch.as_tensor(weights).double()
    # Weights of shape (n,) broadcast over an ensemble's (M, n) values.
    weights = torch.broadcast_to(weights.to(values.device), values.shape).flatten()
    values, order = torch.sort(values.flatten())
    weights = weights[order]
    # Keep a value while the weight below it is under the fraction of the total.
    kept = (torch.cumsum(weights, 0) - weights) < fraction * weights.sum()
    kept &= weights > 0
    return ((values * weights)[kept].sum() / weights[kept].sum()).item()


def _above(nll, reference, factor):
    return nll > reference + factor * max(1.0, abs(reference))



def _epoch_order(X, y, weights, shuffle, generator, n_members):
    """This epoch's rows: one permutation, or ``(M, n)`` of them for an ensemble.

    An ensemble gets one permutation per member (its own minibatch order), so
    the epoch's tensors have a leading member axis: ``(M, n, d)``.
    """
    if not shuffle:
        return X, y, weights
    n = len(X)
    if n_members is None:
        perm = torch.randperm(n, device=X.device, generator=generator)
    else:
        perm = torch.stack([
            torch.randperm(n, device=X.device, generator=generator) for _ in range(n_members)
        ])
    # index_select: 4-5x faster than advanced indexing (``X[perm]``) on CPU.
    return tuple(None if t is None else _gather_rows(t, perm) for t in (X, y, weights))


def _gather_rows(tensor, index):
    """``tensor[index]`` for a 1-D or 2-D index of rows."""
    rows = tensor.index_select(0, index.reshape(-1))
    return rows.reshape(*index.shape, *tensor.shape[1:])


class _KeptWeights:
    """Weights kept by the loop: the best epoch's, per member for an ensemble.

    ``update(mask)`` copies the current weights of the members in ``mask`` (a
    bool array of shape (M,), or a 0-d one for a single network); ``restore``
    puts every kept member's weights back and leaves the others as they are.
    """

    def __init__(self, network):
        self.network = network
        self.state = None
        self.members = getattr(network, "n_members", None)
        self.mask = np.zeros(() if self.members is None else (self.members,), dtype=bool)

    def update(self, mask):
        if not mask.any():
            return
        current = self.network.state_dict()
        if self.state is None or self.members is None:
            self.state = copy.deepcopy(current)
        else:
            index = torch.as_tensor(mask, device=next(iter(current.values())).device)
            with torch.no_grad():
                for key, value in current.items():
                    self.state[key][index] = value[index]
        self.mask = self.mask | mask

    def restore(self):
        if self.state is None:
            return
        if self.members is None:
            self.network.load_state_dict(self.state)
            return
        current = self.network.state_dict()
        with torch.no_grad():
            for key, value in current.items():
                index = torch.as_tensor(self.mask, device=value.device)
                value[index] = self.state[key][index]


def train(
    network,
    X,
    y,
    weights,
    config,
    *,
    validation=None,
    optimizer_state=None,
    generator=None,
    reference_nll=None,
):
    """Fit ``network`` in place by minimising the mean negative log-likelihood.

    Parameters
    ----------
    network : ProbabilisticNetwork
        Module with ``nll(X, y)`` (per-sample) and ``penalty()``.
    X, y : torch.Tensor
        Training inputs ``(n, d)`` and targets ``(n,)``, already on the device.
    weights : torch.Tensor or None
        Per-sample weights normalised to mean one, or None.
    config : TrainingConfig
    validation : tuple of (X_val, y_val, w_val) or None
        Held-out data. When given, training stops after ``n_iter_no_change``
        epochs without a validation NLL improvement larger than ``tol`` and
        the weights of the best epoch are restored; with
        ``config.averaging_steps`` every epoch's weight average competes too,
        and the best of all iterates and averages is restored (the patience
        still counts the iterates' epochs without improvement). Without it, a plateau of
        the training loss stops a constant-rate run; a cosine schedule always
        runs to ``max_iter``, because stopping it early would leave the rate
        high and the location bias the schedule is there to remove.
    optimizer_state : dict or None
        State of a previous call's optimizer, to continue (``partial_fit``).
    generator : torch.Generator or None
        Source of every random draw of the call (minibatch order, dropout
        masks, weight noise), so that a fit does not depend on torch's global
        generator or on what other threads draw from it.
    reference_nll : float or None
        Mean (trimmed to ``config.check_fraction``) of the per-sample NLL of a trivial
        model of the same targets (e.g. their marginal distribution). A fit
        whose trimmed training NLL ends
        absurdly far above it has blown up, however finite its numbers; None
        skips this check.

    Returns
    -------
    history : TrainingHistory
    optimizer_state : dict
        To pass back in on the next call.

    Raises
    ------
    TrainingDivergedError
        If an epoch's loss is not finite, if the (trimmed) training NLL ends
        far above ``reference_nll`` or well above where it started, or if any
        weight is non-finite at the end.
        The network's weights are restored to what they were before the call.
    """
    n = len(X)
    batch_size = min(config.batch_size, n)
    n_batches = math.ceil(n / batch_size)
    total_steps = config.max_iter * n_batches
    optimizer = make_optimizer(network, config, n, optimizer_state)
    initial_state = copy.deepcopy(network.state_dict())

    def diverged(reason):
        network.load_state_dict(initial_state)
        network.set_generator(None)
        network.eval()
        return TrainingDivergedError(f"Training diverged: {reason}.")

    history = TrainingHistory()
    # An ensemble (a network with ``n_members``) trains its members side by
    # side: every per-member quantity below has shape (M,), and () otherwise.
    n_members = getattr(network, "n_members", None)
    members = () if n_members is None else (n_members,)
    best = np.full(members, math.inf)
    best_iterate = best.copy()  # the patience follows the iterates alone
    epochs_without_improvement = np.zeros(members, dtype=int)
    stopped = np.zeros(members, dtype=bool)
    active = None if n_members is None else torch.ones(n_members, device=X.device)
    kept = _KeptWeights(network)
    trained = [p for p in network.parameters() if p.requires_grad]
    spike_guard = GradientSpikeGuard(trained, n_members)
    average = (None if config.averaging_steps is None or validation is None
               else WeightAverage(trained, config.averaging_steps))
    start_nll = None
    network.train()
    network.set_generator(generator)
    bar = tqdm(range(config.max_iter), desc=config.description, disable=not config.verbose)
    for epoch in bar:
        X_epoch, y_epoch, w_epoch = _epoch_order(X, y, weights, config.shuffle, generator,
                                                 n_members)
        # Rows are the leading axis, or the second after a member axis.
        row_axis = X_epoch.ndim - X.ndim
        batch_losses = []
        for b, start in enumerate(range(0, n, batch_size)):
            stop = start + batch_size
            rows = (slice(None),) * row_axis + (slice(start, stop),)
            factor = _lr_factor(config.learning_rate, epoch * n_batches + b, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate_init * factor
            w_batch = None if w_epoch is None else w_epoch[rows]
            per_sample = network.nll(X_epoch[rows], y_epoch[rows])
            nll = _weighted_mean(per_sample, w_batch)
            # An ensemble's loss is the sum of its members' mean NLLs, so each
            # member's gradient is its own; a stopped member's is zero.
            total = nll if active is None else (nll * active).sum()
            penalty = network.penalty()
            loss = total if penalty is None else total + penalty
            # What optimizer.zero_grad(set_to_none=True) does, without its
            # wrappers (~25 us a call, a few percent of a small network's step).
            for param in trained:
                param.grad = None
            loss.backward()
            spike_guard()
            optimizer.step()
            if average is not None:
                average.update()
            per_member = nll if penalty is None else nll + penalty / (n_members or 1)
            batch_losses.append(per_member.detach() * (min(stop, n) - start))
            if start_nll is None:
                # Taken before any step: the untrained network's NLL on one minibatch.
                start_nll = trimmed_mean(per_sample.detach(), config.check_fraction, w_batch)
        member_losses = torch.stack(batch_losses).sum(0).double().cpu().numpy() / n
        epoch_loss = float(np.mean(member_losses))
        if not np.isfinite(np.where(stopped, 0.0, member_losses)).all():
            raise diverged(f"the loss became non-finite ({epoch_loss}) at epoch {epoch + 1}")
        history.loss_curve.append(epoch_loss)
        history.n_iter = epoch + 1

        if validation is not None:
            monitored = np.asarray(evaluate_nll(network, *validation))
            # The iterate and its average compete to be kept: an epoch's
            # candidate is whichever has the lower validation NLL (per member).
            # When to stop still follows the iterates alone, as without an
            # average, and training goes on from the iterate.
            candidate, average_wins = monitored, np.zeros(monitored.shape, dtype=bool)
            if average is not None:
                with average.swapped_in():
                    averaged = np.asarray(evaluate_nll(network, *validation))
                average_wins = averaged < monitored
                candidate = np.where(average_wins, averaged, monitored)
            history.validation_scores.append(float(np.mean(candidate)))
        else:
            monitored = candidate = member_losses
        epochs_without_improvement = np.where(
            monitored < best_iterate - config.tol, 0, epochs_without_improvement + 1
        )
        best_iterate = np.where((monitored < best_iterate) & ~stopped, monitored, best_iterate)
        improved = (candidate < best) & ~stopped
        best = np.where(improved, candidate, best)
        history.best_loss = float(np.mean(best))
        if validation is not None:
            kept.update(improved & ~average_wins)
            if (improved & average_wins).any():
                with average.swapped_in():
                    kept.update(improved & average_wins)
        if config.verbose:
            postfix = {"loss": f"{epoch_loss:.4f}"}
            if validation is not None:
                postfix["val_nll"] = f"{np.mean(candidate):.4f}"
            bar.set_postfix(postfix)
        if validation is not None or config.learning_rate != "cosine":
            newly_stopped = (epochs_without_improvement > config.n_iter_no_change) & ~stopped
            if validation is None:
                kept.update(newly_stopped)  # a stopped member keeps its weights of now
            stopped = stopped | newly_stopped
            if active is not None:
                active = torch.as_tensor(~stopped, dtype=active.dtype, device=active.device)
            if stopped.all():
                break
    bar.close()
    network.set_generator(None)
    kept.restore()
    if not _all_finite(network):
        raise diverged("the last optimiser step made some weights non-finite")
    network.eval()
    # Judged on the weights kept, after the last optimiser step (with one
    # minibatch per epoch, every recorded loss predates the step that blew up):
    # the first rows of the training set suffice to see an explosion.
    with torch.inference_mode():
        final_nll = trimmed_mean(
            network.nll(X[:_CHECK_ROWS], y[:_CHECK_ROWS]),
            config.check_fraction,
            None if weights is None else weights[:_CHECK_ROWS],
        )
    if _above(final_nll, start_nll, _EXPLODED_FACTOR):
        raise diverged(
            f"the training NLL grew from {start_nll:.4g} (untrained network) to "
            f"{final_nll:.4g} nats per sample"
        )
    if reference_nll is not None and _above(final_nll, reference_nll, _ABSURD_FACTOR):
        raise diverged(
            f"the training NLL ended at {final_nll:.4g} nats per sample, absurdly far above "
            f"the {reference_nll:.4g} of predicting the targets' marginal distribution"
        )
    return history, optimizer.state_dict()
