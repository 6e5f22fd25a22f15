"""Plain values in a saved file: the JSON encoding and its fixed dtypes.

Everything in a file's JSON document decodes to ``None``, bool, int, float,
str, lists, tuples, and numpy arrays of a fixed list of dtypes: no dtype
string from the file reaches :func:`numpy.dtype`, so a subarray, structured or
object dtype (which can declare gigabytes in a few bytes) is refused.
"""

import json
import re

import numpy as np

from skprob.exceptions import UnsafeFileError

# The only array dtypes a file may hold. Strings are fixed-width unicode of at
# most _MAX_STR_LENGTH characters, or "str": an object array of Python strings
# (how scikit-learn stores feature_names_in_ and pandas string labels).
_NUMERIC_DTYPES = {np.dtype(t).str: np.dtype(t) for t in
                   (np.bool_, np.int32, np.int64, np.float32, np.float64)}
_MAX_STR_LENGTH = 1024
_UNICODE = re.compile(r"<U([1-9][0-9]{0,3})")
_OBJECT_STRINGS = "str"
# Deeper JSON than this is not something save writes.
_MAX_DEPTH = 32


def _dtype_tag(value, name):
    dtype = value.dtype
    if dtype.str in _NUMERIC_DTYPES:
        return dtype.str
    if dtype.kind == "U" and dtype.itemsize // 4 <= _MAX_STR_LENGTH:
        return dtype.str
    if dtype.kind == "O" and all(isinstance(v, str) for v in value.flat):
        return _OBJECT_STRINGS
    raise ValueError(
        f"Cannot save {name} of dtype {dtype}: only bool, int32/int64, float32/float64 "
        f"and strings of at most {_MAX_STR_LENGTH} characters are stored."
    )


def _dtype_from_tag(tag):
    if tag in _NUMERIC_DTYPES:
        return _NUMERIC_DTYPES[tag]
    if tag == _OBJECT_STRINGS:
        return np.dtype(object)
    match = _UNICODE.fullmatch(tag) if isinstance(tag, str) else None
    if match and int(match.group(1)) <= _MAX_STR_LENGTH:
        return np.dtype(tag)
    raise UnsafeFileError(
        f"an array has dtype {tag!r}, which skprob files never hold (only bool, int32, int64, "
        f"float32, float64 and strings of at most {_MAX_STR_LENGTH} characters)."
    )


def encode(value, name):
    """``value`` as JSON-ready data, or a ValueError naming ``name`` if it is not plain data."""
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise ValueError(f"Cannot save {name}: only 1-D arrays are stored, got shape "
                             f"{value.shape}.")
        return {"__ndarray__": value.tolist(), "dtype": _dtype_tag(value, name)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, name) for v in value]}
    if isinstance(value, list):
        return [encode(v, name) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(
        f"Cannot save {name}={value!r}: only numbers, strings, tuples, lists and arrays are "
        "stored (e.g. pass random_state as an int or None)."
    )


def dumps(document):
    """JSON text of ``document``; non-finite floats are refused (load refuses them too)."""
    try:
        return json.dumps(document, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"Cannot save a non-finite number ({exc}).") from exc


def _refuse_constant(name):
    raise UnsafeFileError(f"the file holds the non-finite number {name}.")


def loads(text):
    """Parse a JSON document from a file, refusing NaN and infinities."""
    if not isinstance(text, str):
        raise UnsafeFileError(f"the metadata is a {type(text).__name__}, not JSON text.")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise UnsafeFileError(f"the metadata is not valid JSON ({exc}).") from exc


def decode(value, depth=0):
    """Inverse of :func:`encode`, for a value read from an untrusted file."""
    if depth > _MAX_DEPTH:
        raise UnsafeFileError(f"the metadata is nested deeper than {_MAX_DEPTH} levels.")
    if isinstance(value, dict):
        if set(value) == {"__ndarray__", "dtype"}:
            return _array(value["__ndarray__"], value["dtype"])
        if set(value) == {"__tuple__"} and isinstance(value["__tuple__"], list):
            return tuple(decode(v, depth + 1) for v in value["__tuple__"])
        raise UnsafeFileError(f"unexpected mapping with keys {sorted(value)[:5]} in the metadata.")
    if isinstance(value, list):
        return [decode(v, depth + 1) for v in value]
    return value


def _array(items, tag):
    dtype = _dtype_from_tag(tag)
    if not isinstance(items, list) or any(isinstance(v, (list, dict)) for v in items):
        raise UnsafeFileError("a stored array is not a flat list of values.")
    kinds = (str,) if dtype.kind in "OU" else (bool, int, float)
    if not all(isinstance(v, kinds) for v in items):
        raise UnsafeFileError(f"a stored array of dtype {tag!r} holds values of another type.")
    try:
        array = np.empty(len(items), dtype=dtype)
        array[:] = items
    except (ValueError, OverflowError) as exc:
        raise UnsafeFileError(f"a stored array does not fit its dtype {tag!r} ({exc}).") from exc
    return array
