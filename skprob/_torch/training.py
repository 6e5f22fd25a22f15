"""THE training loop, shared by every skprob estimator, and chunked inference.

The loop works on in-memory tensors: each epoch shuffles the rows once and
then takes contiguous slices, which avoids both a DataLoader and a gather per
step. The loss is the (optionally sample-weighted) mean negative
log-likelihood plus the network's ``penalty()``; L2 regularisation is Adam's
coupled weight decay on weight matrices only, as in scikit-learn's MLP.
"""

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

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
        optimizer.load_state_dict(state)
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate_init
    return optimizer


def _lr_factor(schedule, step, total_steps):
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(step / total_steps, 1.0)))
    return 1.0


def _weighted_mean(values, weights):
    return values.mean() if weights is None else (values * weights).mean()


def evaluate_nll(network, X, y, weights=None, *, chunk_size=65536):
    """Mean (weighted) negative log-likelihood of ``network`` on a data set."""
    was_training = network.training
    network.eval()
    total = 0.0
    with torch.inference_mode():
        for start in range(0, len(X), chunk_size):
            stop = start + chunk_size
            nll = network.nll(X[start:stop], y[start:stop])
            w = None if weights is None else weights[start:stop]
            total += _weighted_mean(nll, w).item() * len(nll)
    network.train(was_training)
    return total / len(X)


def train(network, X, y, weights, config, *, validation=None, optimizer_state=None):
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
        the weights of the best epoch are restored. Without it, a plateau of
        the training loss stops a constant-rate run; a cosine schedule always
        runs to ``max_iter``, because stopping it early would leave the rate
        high and the location bias the schedule is there to remove.
    optimizer_state : dict or None
        State of a previous call's optimizer, to continue (``partial_fit``).

    Returns
    -------
    history : TrainingHistory
    optimizer_state : dict
        To pass back in on the next call.

    Raises
    ------
    TrainingDivergedError
        If an epoch's loss is not finite. The network's weights are restored
        to what they were before the call.
    """
    n = len(X)
    batch_size = min(config.batch_size, n)
    n_batches = math.ceil(n / batch_size)
    total_steps = config.max_iter * n_batches
    optimizer = make_optimizer(network, config, n, optimizer_state)
    initial_state = copy.deepcopy(network.state_dict())
    initial_optimizer_state = copy.deepcopy(optimizer.state_dict())

    history = TrainingHistory()
    best_state = None
    epochs_without_improvement = 0
    network.train()
    bar = tqdm(range(config.max_iter), desc=config.description, disable=not config.verbose)
    for epoch in bar:
        if config.shuffle:
            perm = torch.randperm(n, device=X.device)
            X_epoch, y_epoch = X[perm], y[perm]
            w_epoch = None if weights is None else weights[perm]
        else:
            X_epoch, y_epoch, w_epoch = X, y, weights
        batch_losses = []
        for b, start in enumerate(range(0, n, batch_size)):
            stop = start + batch_size
            factor = _lr_factor(config.learning_rate, epoch * n_batches + b, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate_init * factor
            w_batch = None if w_epoch is None else w_epoch[start:stop]
            loss = _weighted_mean(network.nll(X_epoch[start:stop], y_epoch[start:stop]), w_batch)
            penalty = network.penalty()
            if penalty is not None:
                loss = loss + penalty
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.detach() * (min(stop, n) - start))
        epoch_loss = torch.stack(batch_losses).sum().item() / n
        if not math.isfinite(epoch_loss):
            network.load_state_dict(initial_state)
            optimizer.load_state_dict(initial_optimizer_state)
            raise TrainingDivergedError(
                f"Training diverged: the loss became non-finite ({epoch_loss}) at epoch "
                f"{epoch + 1}. Try a smaller learning_rate_init, a larger alpha, or check "
                "the scale of X (standardise it, e.g. with StandardScaler)."
            )
        history.loss_curve.append(epoch_loss)
        history.n_iter = epoch + 1

        if validation is not None:
            monitored = evaluate_nll(network, *validation)
            history.validation_scores.append(monitored)
        else:
            monitored = epoch_loss
        if monitored < history.best_loss - config.tol:
            epochs_without_improvement = 0
        else:
            epochs_without_improvement += 1
        if monitored < history.best_loss:
            history.best_loss = monitored
            if validation is not None:
                best_state = copy.deepcopy(network.state_dict())
        if config.verbose:
            postfix = {"loss": f"{epoch_loss:.4f}"}
            if validation is not None:
                postfix["val_nll"] = f"{monitored:.4f}"
            bar.set_postfix(postfix)
        if epochs_without_improvement > config.n_iter_no_change and (
            validation is not None or config.learning_rate != "cosine"
        ):
            break
    bar.close()
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return history, optimizer.state_dict()


def predict_params(network, X, *, n_passes=None, seed=0, max_elements=2**20):
    """Head parameters for every row of ``X``, computed in chunks, as float64 numpy.

    Inference runs in float64 on a copy of the network: float32 matrix products
    round differently depending on how many rows share a call, and a row's
    prediction must not depend on the other rows in ``X``.

    Parameters
    ----------
    network : ProbabilisticNetwork
    X : ndarray of shape (n, d)
    n_passes : int or None, default=None
        None: one deterministic pass. An int T: T Monte Carlo passes (dropout
        masks or weight draws, seeded by ``seed``, each shared by all rows), run
        as one batched computation on a ``(T, chunk, d)`` tensor.
    seed : int, default=0
        Seed of the Monte Carlo draws.
    max_elements : int, default=2**20
        Bound on the elements of the widest activation tensor of one chunk, so
        that memory stays bounded for any ``len(X)``.

    Returns
    -------
    params : tuple of ndarray
        One array per head output, with ``len(X)`` rows, or ``(T, len(X), ...)``
        for Monte Carlo prediction.
    """
    network = copy.deepcopy(network).double().eval()
    # A copy only when needed: torch rejects views with negative strides, e.g. X[::-1].
    X = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float64))
    widest = max([X.shape[1]] + [p.shape[0] for p in network.parameters() if p.ndim == 2])
    passes = 1 if n_passes is None else n_passes
    chunk_size = max(1, max_elements // (passes * widest))
    if n_passes is not None:
        generator = torch.Generator().manual_seed(seed)
        for layer in network.stochastic_layers():
            layer.draw(n_passes, generator)
    row_axis = 0 if n_passes is None else 1
    # Each chunk is written straight into preallocated outputs: concatenating a
    # list of chunks would hold every output twice at the peak.
    outputs = None
    with torch.inference_mode():
        for start in range(0, len(X), chunk_size):
            x = X[start : start + chunk_size]
            params = network(x) if n_passes is None else network.forward_passes(x, n_passes)
            if outputs is None:
                outputs = tuple(
                    np.empty((*p.shape[:row_axis], len(X), *p.shape[row_axis + 1 :]))
                    for p in params
                )
            rows = (slice(None),) * row_axis + (slice(start, start + len(x)),)
            for out, p in zip(outputs, params, strict=True):
                out[rows] = p.numpy()
    return outputs
