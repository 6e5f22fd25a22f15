"""One skprob network as a record of data: JSON metadata and its tensors.

Loading trusts nothing in the record. The class comes from a fixed list; the
parameters must be the class's own and pass its ``_validate_params``; the
fitted attributes are checked against the table in ``_attributes``; and the
network is first built on PyTorch's ``meta`` device (no memory) and its
implied size and every tensor shape compared with the stored tensors, so a
few bytes declaring ``hidden_layer_sizes=(40000, 40000)`` are refused before
any allocation. The stored tensors themselves are then assigned to the
network, without a second copy and without touching torch's global RNG.
"""

import torch
from sklearn.utils import check_random_state

from skprob._persistence._attributes import fitted_state, validate_fitted
from skprob._persistence._values import UnsafeFileError, decode, dumps, encode, loads

FORMAT = "skprob-estimator"
FORMAT_VERSION = 1


def network_classes():
    """The skprob network estimators a file may hold, by class name."""
    from skprob import DeepEnsembleClassifier, DeepEnsembleRegressor

    classes = (DeepEnsembleClassifier, DeepEnsembleRegressor, *member_classes().values())
    return {cls.__name__: cls for cls in classes}


def member_classes():
    """The networks an ensemble's ``estimator`` may be, by class name."""
    from skprob import (
        BayesianMLPClassifier,
        BayesianMLPRegressor,
        DropoutMLPClassifier,
        DropoutMLPRegressor,
        MixtureDensityRegressor,
    )

    classes = (BayesianMLPClassifier, BayesianMLPRegressor, DropoutMLPClassifier,
               DropoutMLPRegressor, MixtureDensityRegressor)
    return {cls.__name__: cls for cls in classes}


# An ensemble's ``estimator`` parameter (an unfitted member network) is stored
# as {_MEMBER: {"class": name, "params": {...}}}, its parameters encoded alike.
_MEMBER = "__estimator__"


def _encode_params(estimator):
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if key == "estimator" and value is not None:
            if member_classes().get(type(value).__name__) is not type(value):
                raise ValueError(f"Cannot save an ensemble of {type(value).__name__}: only "
                                 f"skprob networks {sorted(member_classes())} are stored.")
            value = {_MEMBER: {"class": type(value).__name__, "params": _encode_params(value)}}
        else:
            value = encode(value, key)
        params[key] = value
    return params


def is_network(estimator):
    return network_classes().get(type(estimator).__name__) is type(estimator)


def network_record(estimator):
    """``{"metadata": JSON text, "state_dict": tensors}`` of a skprob network.

    An unfitted network (e.g. the ``estimator`` parameter of a meta-estimator)
    keeps only its class and parameters.
    """
    params = _encode_params(estimator)
    fitted = hasattr(estimator, "module_")
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(estimator).__name__,
        "params": params,
        "fitted": ({k: encode(v, k) for k, v in fitted_state(estimator).items()}
                   if fitted else None),
    }
    state = ({k: v.detach().cpu() for k, v in estimator.module_.state_dict().items()}
             if fitted else {})
    return {"metadata": dumps(metadata), "state_dict": state}


def check_header(metadata):
    """Refuse metadata that is not of this format and version."""
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise UnsafeFileError("it is not a file written by skprob.save (no skprob format tag).")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise UnsafeFileError(
            f"it has format version {version!r}, and this skprob reads version "
            f"{FORMAT_VERSION} only; load it with the skprob version that wrote it."
        )


def stored_bytes(state_dict):
    """Bytes of the tensors of a record; refuses anything but plain contiguous tensors."""
    if not isinstance(state_dict, dict):
        raise UnsafeFileError("its state_dict is not a mapping of tensors.")
    total = 0
    for key, tensor in state_dict.items():
        if not isinstance(key, str) or type(tensor) is not torch.Tensor:
            raise UnsafeFileError(f"its state_dict entry {key!r} is not a named tensor.")
        needed = (tensor.storage_offset() + tensor.numel()) * tensor.element_size()
        if not tensor.is_contiguous() or tensor.untyped_storage().nbytes() < needed:
            raise UnsafeFileError(f"the tensor {key} is not stored as a plain contiguous array.")
        total += tensor.numel() * tensor.element_size()
    return total


def _decode_param(key, value):
    if key == "estimator" and isinstance(value, dict) and set(value) == {_MEMBER}:
        if not isinstance(value[_MEMBER], dict):
            raise UnsafeFileError("its ensemble member is not a mapping.")
        return _estimator(value[_MEMBER], member_classes())
    return decode(value)


def _estimator(metadata, classes=None):
    classes = network_classes() if classes is None else classes
    cls = classes.get(metadata.get("class"))
    if cls is None:
        raise UnsafeFileError(
            f"it holds the class {metadata.get('class')!r}, which is not one of the skprob "
            f"networks {sorted(classes)}."
        )
    params = metadata.get("params")
    if not isinstance(params, dict):
        raise UnsafeFileError(f"its {cls.__name__} parameters are not a mapping.")
    unknown = sorted(set(params) - set(cls().get_params(deep=False)))
    if unknown:
        raise UnsafeFileError(f"it gives {cls.__name__} the unknown parameter(s) {unknown[:5]}.")
    estimator = cls(**{key: _decode_param(key, value) for key, value in params.items()})
    try:
        estimator._validate_params()
        if hasattr(estimator, "_check_member"):  # an ensemble: a member of its own task
            estimator._check_member()
    except (ValueError, TypeError) as exc:
        raise UnsafeFileError(f"its {cls.__name__} parameters are invalid: {exc}") from exc
    return estimator


def _meta_network(estimator, n_tensors):
    """The network the parameters and fitted attributes imply, built without memory."""
    from skprob._base import hidden_layers

    name = type(estimator).__name__
    # An ensemble's architecture is its member's.
    template = estimator._template() if hasattr(estimator, "_template") else estimator
    try:
        sizes = hidden_layers(template.hidden_layer_sizes)
        template._hidden_activations(sizes)
    except (ValueError, TypeError) as exc:
        raise UnsafeFileError(f"its {name} parameters are invalid: {exc}") from exc
    if len(sizes) >= n_tensors:  # every layer holds at least two tensors, plus the head's
        raise UnsafeFileError(
            f"its hidden_layer_sizes has {len(sizes)} layers but the file holds only "
            f"{n_tensors} tensors."
        )
    try:
        with torch.device("meta"):
            return estimator._build_network(estimator.n_features_in_)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise UnsafeFileError(f"its {name} network cannot be built: {exc}") from exc


def _check_tensors(network, state_dict, name, file_size):
    expected = network.state_dict()
    implied = sum(t.numel() * t.element_size() for t in expected.values())
    if implied > file_size:
        raise UnsafeFileError(
            f"its parameters and fitted attributes declare a {name} network of "
            f"{sum(t.numel() for t in expected.values())} values ({implied} bytes), more "
            f"than the whole file holds ({file_size} bytes)."
        )
    missing, unexpected = sorted(set(expected) - set(state_dict)), sorted(
        set(state_dict) - set(expected))
    if missing or unexpected:
        raise UnsafeFileError(
            f"its tensors do not match a {name} network: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}."
        )
    for key, want in expected.items():
        got = state_dict[key]
        if got.shape != want.shape or got.dtype != want.dtype:
            raise UnsafeFileError(
                f"the tensor {key} has shape {tuple(got.shape)} ({got.dtype}) but the "
                f"parameters and fitted attributes (hidden_layer_sizes, n_features_in_, "
                f"n_components, classes_, ...) imply {tuple(want.shape)} ({want.dtype})."
            )


def network_from_record(record, file_size, *, allow_unfitted=False):
    """Rebuild a network estimator from a record read from an untrusted file.

    ``file_size`` bounds the size of the network the record may declare.
    """
    if not isinstance(record, dict) or set(record) != {"metadata", "state_dict"}:
        raise UnsafeFileError("it is not a file written by skprob.save (unexpected layout).")
    metadata = loads(record["metadata"])
    check_header(metadata)
    state_dict = record["state_dict"]
    stored_bytes(state_dict)
    estimator = _estimator(metadata)
    name = type(estimator).__name__
    fitted = metadata.get("fitted")
    if fitted is None and allow_unfitted and not state_dict:
        return estimator
    if not isinstance(fitted, dict):
        raise UnsafeFileError(f"it holds no fitted attributes for its {name}.")
    values = validate_fitted(estimator, {k: decode(v) for k, v in fitted.items()})
    for key, value in values.items():
        setattr(estimator, key, value)
    network = _meta_network(estimator, len(state_dict))
    _check_tensors(network, state_dict, name, file_size)
    # Own copies: the loaded tensors may be views of a memory-mapped file.
    network.load_state_dict({k: t.clone() for k, t in state_dict.items()}, strict=True,
                            assign=True)
    estimator._rng = check_random_state(estimator.random_state)
    estimator._optimizer_state = None
    # Settings of the network that are fitted attributes, not tensors (the scale floor).
    estimator._configure_network(network)
    estimator.module_ = network.eval()
    return estimator
