"""A safe file format for fitted skprob estimators: :func:`save` and :func:`load`.

Pickle (and joblib) round trips work, but unpickling a file can execute
arbitrary code. This format stores only data: a JSON document with the class
name, the constructor parameters and the fitted attributes, and the network's
tensors, written with ``torch.save`` and read back with
``torch.load(weights_only=True)``, which refuses anything but tensors and
plain containers. The class is looked up in a fixed list of skprob
estimators, never imported by name from the file.
"""

import json
import pickle

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

_FORMAT = "skprob-estimator"
_FORMAT_VERSION = 1
# Fitted state that is not data, rebuilt on load instead of stored.
_REBUILT = {"module_", "_optimizer_state", "_rng"}


def _estimator_classes():
    from skprob import (
        BayesianMLPClassifier,
        BayesianMLPRegressor,
        DropoutMLPClassifier,
        DropoutMLPRegressor,
        MixtureDensityRegressor,
    )

    classes = (
        BayesianMLPClassifier,
        BayesianMLPRegressor,
        DropoutMLPClassifier,
        DropoutMLPRegressor,
        MixtureDensityRegressor,
    )
    return {cls.__name__: cls for cls in classes}


def _encode(value, name):
    if isinstance(value, np.ndarray):
        strings = value.dtype.kind == "O" and all(isinstance(v, str) for v in value.flat)
        if value.dtype.kind not in "biufU" and not strings:
            raise ValueError(f"Cannot save {name} of dtype {value.dtype}: only numbers and "
                             "strings are stored.")
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, name) for v in value]}
    if isinstance(value, list):
        return [_encode(v, name) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(
        f"Cannot save {name}={value!r}: only numbers, strings, tuples, lists and arrays are "
        "stored (e.g. pass random_state as an int or None)."
    )


def _decode(value):
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return np.asarray(value["__ndarray__"], dtype=np.dtype(value["dtype"]))
        if "__tuple__" in value:
            return tuple(_decode(v) for v in value["__tuple__"])
        raise ValueError("Unexpected mapping in the saved estimator.")
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def save(estimator, path):
    """Write a fitted skprob estimator to ``path`` in a format that loads without pickle.

    Parameters
    ----------
    estimator : skprob estimator
        A fitted :class:`MixtureDensityRegressor`, :class:`DropoutMLPRegressor`,
        :class:`DropoutMLPClassifier`, :class:`BayesianMLPRegressor` or
        :class:`BayesianMLPClassifier`.
    path : str or path-like
        Destination file.

    Notes
    -----
    The optimiser state is not stored: ``partial_fit`` or a ``warm_start``
    fit after :func:`load` starts a fresh Adam optimiser from the loaded
    weights.

    Examples
    --------
    >>> import tempfile, os
    >>> import skprob
    >>> from skprob.datasets import make_bimodal
    >>> X, y = make_bimodal(100, random_state=0)
    >>> mdn = skprob.MixtureDensityRegressor(max_iter=2, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "mdn.skprob")
    >>> skprob.save(mdn, path)
    >>> bool((skprob.load(path).predict(X) == mdn.predict(X)).all())
    True
    """
    name = type(estimator).__name__
    if _estimator_classes().get(name) is not type(estimator):
        raise ValueError(f"skprob.save stores skprob network estimators, not {name}.")
    check_is_fitted(estimator)
    params = {key: _encode(value, key) for key, value in estimator.get_params().items()}
    fitted = {
        key: _encode(value, key)
        for key, value in vars(estimator).items()
        if key not in params and key not in _REBUILT
    }
    metadata = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "class": name,
        "params": params,
        "fitted": fitted,
    }
    state = {key: value.detach().cpu() for key, value in estimator.module_.state_dict().items()}
    torch.save({"metadata": json.dumps(metadata), "state_dict": state}, path)


def load(path):
    """Read an estimator written by :func:`save`, without executing code from the file.

    Parameters
    ----------
    path : str or path-like
        File written by :func:`save`.

    Returns
    -------
    estimator : skprob estimator
        The fitted estimator, on the CPU, predicting exactly as when saved.

    Raises
    ------
    ValueError
        If the file is not a skprob estimator file, or holds anything but
        tensors and plain data (a tampered or pickled file is refused, not run).
    """
    try:
        content = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        raise ValueError(
            f"{path} was refused: it holds objects other than tensors and plain data, which "
            "skprob.load never unpickles. Use pickle/joblib only for files you trust."
        ) from exc
    try:
        metadata = json.loads(content["metadata"])
        if metadata["format"] != _FORMAT:
            raise KeyError("format")
        estimator_class = _estimator_classes()[metadata["class"]]
        params = {k: _decode(v) for k, v in metadata["params"].items()}
        fitted = {k: _decode(v) for k, v in metadata["fitted"].items()}
        state_dict = content["state_dict"]
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a file written by skprob.save ({exc!r}).") from exc
    estimator = estimator_class(**params)
    estimator._validate_params()
    for key, value in fitted.items():
        setattr(estimator, key, value)
    estimator._rng = check_random_state(estimator.random_state)
    estimator._optimizer_state = None
    network = estimator._build_network(estimator.n_features_in_)
    network.load_state_dict(state_dict, strict=True)
    estimator.module_ = network.eval()
    return estimator
