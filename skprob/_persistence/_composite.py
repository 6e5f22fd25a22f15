"""Pipelines and meta-estimators: a skops dump with each skprob network stored apart.

The scikit-learn parts (transformers, pipelines, skprob's meta-estimators)
are written with :mod:`skops.io`, a data-only format that refuses any type it
is not told to trust. Before the dump, every skprob network is replaced by a
``_NetworkSlot`` placeholder and stored as a network record (loaded through
the hardened path of ``_network``); a named target transform becomes a
``_TransformSlot``, a frozen ``scipy.stats`` distribution a
``_DistributionSlot`` holding its name and numeric arguments, since both are
code (callables) rather than data, and a
:class:`~skprob.distributions.CalibrationMap` a ``_CalibrationMapSlot``
holding its arrays and method (its splines are scipy objects, rebuilt from the
arrays by the map's own validating constructor on load).

On load, the types skops reports as not trusted by default are trusted only
if they are skprob's own containers and placeholders, or scikit-learn
estimator classes (except those skops flags as unsafe). No other numpy or
scipy type is trusted: skops builds objects by calling their class with
arguments from the file, and some of those classes act on the world when
built (``numpy.memmap`` creates and truncates files) or run code when their
state is restored (scipy's distribution objects ``exec`` a template kept in
their state). Such a file is refused with the types named.
"""

import copy
import importlib
import io
import math
from numbers import Real

import numpy as np
import torch
from sklearn.base import BaseEstimator

from skprob._persistence._attributes import fitted_state, owners, validate_fitted
from skprob._persistence._network import (
    FORMAT,
    FORMAT_VERSION,
    check_header,
    is_network,
    network_from_record,
    network_record,
    stored_bytes,
)
from skprob._persistence._values import UnsafeFileError, dumps, loads


class _NetworkSlot:
    """Stands for the network record ``index`` of the file in the skops dump."""

    def __init__(self, index):
        self.index = index


class _TransformSlot:
    """Stands for ``skprob.distributions._transformed.TRANSFORMS[name]``."""

    def __init__(self, name):
        self.name = name


class _DistributionSlot:
    """Stands for ``getattr(scipy.stats, name)(*args, **kwds)``."""

    def __init__(self, name, args, kwds):
        self.name, self.args, self.kwds = name, args, kwds


class _CalibrationMapSlot:
    """Stands for ``CalibrationMap(knots, values, slopes)`` with its ``method``."""

    def __init__(self, knots, values, slopes, method):
        self.knots, self.values, self.slopes, self.method = knots, values, slopes, method


_SKPROB_TYPES = {
    "skprob.pipeline.Pipeline",
    "skprob.reweighting.PriorReweighter",
    "skprob.compose.TransformedTargetRegressor",
    "skprob.calibration.CalibratedRegressorCV",
    "skprob.reweighting._TabulatedDensity",
    *(f"{__name__}.{cls.__name__}" for cls in (_NetworkSlot, _TransformSlot, _DistributionSlot,
                                               _CalibrationMapSlot)),
}


# skops is imported where it is used, not with skprob: its import takes about a
# second (a third of ``import skprob`` beyond torch and scikit-learn), and only
# saving or loading a pipeline needs it; every process of a parallel search
# would pay it otherwise.


def _is_sklearn_estimator_class(name):
    from skops.io.exceptions import UNTRUSTED_TYPE_REASONS

    module, _, attr = name.rpartition(".")
    if module.split(".")[0] != "sklearn" or name in UNTRUSTED_TYPE_REASONS:
        return False
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return False
    return isinstance(cls, type) and issubclass(cls, BaseEstimator)


def trusted_types(data):
    """The explicit trust list for a skops dump, or UnsafeFileError naming what is refused."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=data)
    refused = [t for t in untrusted if t not in _SKPROB_TYPES and not
               _is_sklearn_estimator_class(t)]
    if refused:
        raise UnsafeFileError(
            f"it holds the type(s) {refused[:10]}, which skprob.load does not trust (only "
            "scikit-learn estimators, numpy and scipy data and skprob's own containers)."
        )
    return untrusted


# -------------------------------------------------------------------- save
def _numbers(values, what):
    if not all(isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)
               for v in values):
        raise ValueError(f"Cannot save {what}: only finite numeric arguments are stored.")
    return [float(v) for v in values]


def _distribution_slot(dist):
    from scipy import stats

    name = getattr(dist.dist, "name", None)
    public = getattr(stats, name, None) if isinstance(name, str) else None
    if public is None or type(public) is not type(dist.dist):
        raise ValueError(f"Cannot save the distribution {dist!r}: only the scipy.stats "
                         "distributions are stored, not a custom one.")
    kwds = dict(zip(dist.kwds, _numbers(dist.kwds.values(), name), strict=True))
    return _DistributionSlot(name, _numbers(dist.args, name), kwds)


def _calibration_map_slot(calibration_map):
    from skprob.distributions import CalibrationMap

    if type(calibration_map) is not CalibrationMap:
        raise ValueError(f"Cannot save a {type(calibration_map).__name__}: only a "
                         "CalibrationMap itself is stored, not a subclass.")
    return _CalibrationMapSlot(**calibration_map.__getstate__())


class _Swapper:
    """A copy of an estimator tree with networks, transforms, distributions and maps replaced."""

    def __init__(self):
        self.networks, self._index, self._copies = [], {}, {}

    def __call__(self, obj):
        from scipy.stats._distn_infrastructure import rv_frozen

        from skprob.distributions import CalibrationMap, MonotoneTransform
        from skprob.distributions._transformed import TRANSFORMS

        if is_network(obj):
            if id(obj) not in self._index:
                self._index[id(obj)] = len(self.networks)
                self.networks.append(obj)
            return _NetworkSlot(self._index[id(obj)])
        if isinstance(obj, MonotoneTransform):
            names = [k for k, t in TRANSFORMS.items() if t is obj]
            if not names:
                raise ValueError("Cannot save a custom MonotoneTransform (its functions are "
                                 f"code); use one of the named transforms {sorted(TRANSFORMS)}.")
            return _TransformSlot(names[0])
        if isinstance(obj, rv_frozen):
            return _distribution_slot(obj)
        if isinstance(obj, CalibrationMap):
            return _calibration_map_slot(obj)
        if isinstance(obj, BaseEstimator):
            # One copy per estimator, so that an estimator held twice (the
            # FrozenEstimator that is both estimator and estimator_) is stored once.
            if id(obj) not in self._copies:
                if owners(obj):
                    fitted_state(obj)  # refuses attributes the table does not know
                new = self._copies[id(obj)] = copy.copy(obj)
                new.__dict__ = {k: self(v) for k, v in vars(obj).items()}
            return self._copies[id(obj)]
        if isinstance(obj, (list, tuple)):
            return type(obj)(self(v) for v in obj)
        if isinstance(obj, dict):
            return {k: self(v) for k, v in obj.items()}
        return obj


def composite_content(estimator):
    """The torch-file content of a pipeline or meta-estimator."""
    import skops.io

    swap = _Swapper()
    data = skops.io.dumps(swap(estimator))
    try:
        trusted_types(data)
    except UnsafeFileError as exc:
        raise ValueError(f"Cannot save {type(estimator).__name__}: skprob.load would refuse "
                         f"it, as {exc}") from exc
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "class": type(estimator).__name__, "networks": len(swap.networks)}
    return {
        "metadata": dumps(metadata),
        "skops": torch.frombuffer(bytearray(data), dtype=torch.uint8),
        "networks": [network_record(network) for network in swap.networks],
    }


# -------------------------------------------------------------------- load
def _slot_fields(slot, fields):
    if set(vars(slot)) != set(fields):
        raise UnsafeFileError(f"a {type(slot).__name__} in the file has the fields "
                              f"{sorted(vars(slot))}.")


def _distribution(slot):
    from scipy import stats
    from scipy.stats._distn_infrastructure import rv_generic

    _slot_fields(slot, ("name", "args", "kwds"))
    dist = getattr(stats, slot.name, None) if isinstance(slot.name, str) else None
    if not isinstance(dist, rv_generic) or not isinstance(slot.args, list) or not (
            isinstance(slot.kwds, dict) and all(isinstance(k, str) for k in slot.kwds)):
        raise UnsafeFileError(f"it holds a distribution {slot.name!r} that is not a "
                              "scipy.stats distribution with numeric arguments.")
    try:
        return dist(*_numbers(slot.args, slot.name),
                    **dict(zip(slot.kwds, _numbers(slot.kwds.values(), slot.name),
                               strict=True)))
    except (TypeError, ValueError) as exc:
        raise UnsafeFileError(f"its {slot.name} distribution is invalid: {exc}") from exc


def _calibration_map(slot):
    from skprob.distributions import CalibrationMap
    from skprob.distributions._calibration_map import METHODS

    _slot_fields(slot, ("knots", "values", "slopes", "method"))
    arrays = {name: getattr(slot, name) for name in ("knots", "values", "slopes")}
    for name, array in arrays.items():
        if type(array) is not np.ndarray or array.ndim != 1 or array.dtype != np.float64:
            raise UnsafeFileError(f"its calibration map's {name} is not a 1-D float64 array.")
    # No size bound is needed: skops read the arrays' bytes from the file (an
    # array header declaring more values than its entry holds fails there).
    if slot.method is not None and (not isinstance(slot.method, str)
                                    or slot.method not in METHODS):
        raise UnsafeFileError(f"its calibration map has the unknown method {slot.method!r} "
                              f"(one of {METHODS} or None).")
    try:  # the constructor checks lengths, finiteness, monotonicity and the slopes
        calibration_map = CalibrationMap(**arrays)
    except ValueError as exc:
        raise UnsafeFileError(f"its calibration map is invalid: {exc}") from exc
    calibration_map.method = slot.method
    return calibration_map


class _Restorer:
    """Put the loaded networks back in place of their slots; validate skprob containers."""

    def __init__(self, networks):
        self.networks, self._seen = networks, set()

    def __call__(self, obj):
        from skprob.distributions._transformed import TRANSFORMS

        if isinstance(obj, _NetworkSlot):
            _slot_fields(obj, ("index",))
            if type(obj.index) is not int or not 0 <= obj.index < len(self.networks):
                raise UnsafeFileError(f"it refers to a network {obj.index!r} it does not hold.")
            return self.networks[obj.index]
        if isinstance(obj, _TransformSlot):
            _slot_fields(obj, ("name",))
            if not isinstance(obj.name, str) or obj.name not in TRANSFORMS:
                raise UnsafeFileError(f"it holds the unknown target transform {obj.name!r}.")
            return TRANSFORMS[obj.name]
        if isinstance(obj, _DistributionSlot):
            return _distribution(obj)
        if isinstance(obj, _CalibrationMapSlot):
            return _calibration_map(obj)
        if isinstance(obj, (list, tuple)):
            return type(obj)(self(v) for v in obj)
        if isinstance(obj, dict):
            return {k: self(v) for k, v in obj.items()}
        if isinstance(obj, BaseEstimator) and id(obj) not in self._seen:
            self._seen.add(id(obj))
            for key, value in list(vars(obj).items()):
                setattr(obj, key, self(value))
            _validate_estimator(obj)
        return obj


def _validate_estimator(estimator):
    name = type(estimator).__name__
    if hasattr(estimator, "_validate_params"):
        try:
            estimator._validate_params()
        except (ValueError, TypeError) as exc:
            raise UnsafeFileError(f"its {name} parameters are invalid: {exc}") from exc
    if not owners(estimator):
        return
    params = estimator.get_params(deep=False)
    fitted = {k: v for k, v in vars(estimator).items() if k not in params}
    if fitted:  # an unfitted meta-estimator (e.g. a parameter of another) has none
        estimator.__dict__.update(validate_fitted(estimator, fitted))


def composite_from_content(content, file_size, check_zip):
    """Rebuild a pipeline or meta-estimator from the content of an untrusted file."""
    import skops.io

    metadata = loads(content["metadata"])
    check_header(metadata)
    records, data = content["networks"], content["skops"]
    if not isinstance(records, list) or len(records) != metadata.get("networks"):
        raise UnsafeFileError("its list of networks does not match its metadata.")
    if type(data) is not torch.Tensor or data.dtype != torch.uint8 or data.ndim != 1:
        raise UnsafeFileError("its skops part is not a byte array.")
    sizes = [stored_bytes(r.get("state_dict") if isinstance(r, dict) else None)
             for r in records]
    if sum(sizes) + data.numel() > file_size:
        raise UnsafeFileError("its tensors declare more bytes than the file holds.")
    networks = [network_from_record(r, file_size, allow_unfitted=True) for r in records]
    data = data.contiguous().numpy().tobytes()
    check_zip(io.BytesIO(data), len(data), "its skops part")
    trusted = trusted_types(data)
    estimator = skops.io.loads(data, trusted=trusted)
    if not isinstance(estimator, BaseEstimator) or type(estimator).__name__ != metadata.get(
            "class"):
        raise UnsafeFileError(f"its skops part holds a {type(estimator).__name__}, not the "
                              f"{metadata.get('class')!r} its metadata names.")
    return _Restorer(networks)(estimator)


def is_composite(content):
    return isinstance(content, dict) and set(content) == {"metadata", "skops", "networks"}

