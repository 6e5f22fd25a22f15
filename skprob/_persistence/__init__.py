"""A safe file format for fitted skprob estimators: :func:`save` and :func:`load`.

Pickle (and joblib) round trips work, but unpickling a file can execute
arbitrary code. This format stores only data, in one ``torch.save`` zip file
read back with ``torch.load(weights_only=True)``, which refuses anything but
tensors and plain containers:

- a skprob network is a JSON document (class name, constructor parameters,
  fitted attributes) and the network's tensors (``_network``);
- a pipeline or meta-estimator is a :mod:`skops.io` dump with each skprob
  network replaced by a placeholder, plus each network as above
  (``_composite``).

:func:`load` trusts nothing in a file: the zip layout, the dtypes, the
classes, the parameters, the fitted attributes (one table, ``_attributes``)
and every size are checked before anything is built, and every refusal is an
:class:`UnsafeFileError`, a :class:`ValueError`.
"""

import os
import pickle
import zipfile

import torch
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from skprob._persistence._composite import (
    composite_content,
    composite_from_content,
    is_composite,
)
from skprob._persistence._network import is_network, network_from_record, network_record
from skprob._persistence._values import UnsafeFileError

__all__ = ["UnsafeFileError", "load", "save"]


def _containers():
    from skprob.calibration import CalibratedRegressorCV
    from skprob.compose import TransformedTargetRegressor
    from skprob.reweighting import PriorReweighter

    return (Pipeline, PriorReweighter, TransformedTargetRegressor, CalibratedRegressorCV)


def save(estimator, path):
    """Write a fitted skprob estimator or pipeline to ``path``, in a format read without pickle.

    Parameters
    ----------
    estimator : estimator
        A fitted :class:`~skprob.MixtureDensityRegressor`,
        :class:`~skprob.DropoutMLPRegressor`, :class:`~skprob.DropoutMLPClassifier`,
        :class:`~skprob.BayesianMLPRegressor` or :class:`~skprob.BayesianMLPClassifier`;
        or a fitted :class:`sklearn.pipeline.Pipeline` (or
        :class:`skprob.pipeline.Pipeline`), :class:`~skprob.PriorReweighter`,
        :class:`skprob.compose.TransformedTargetRegressor` or
        :class:`skprob.calibration.CalibratedRegressorCV` built from
        scikit-learn estimators (a ``FrozenEstimator`` too) and skprob
        networks, nested in any way.
    path : str or path-like
        Destination file.

    Raises
    ------
    ValueError
        If ``estimator`` holds something that is code rather than data: an
        estimator other than the above, a callable (a custom target transform,
        a callable prior density, a ``FunctionTransformer`` of a Python
        function), a custom ``scipy.stats`` distribution, or a parameter such
        as a ``RandomState`` instance.

    See Also
    --------
    load : read the file back.

    Notes
    -----
    The optimiser state is not stored: ``partial_fit`` or a ``warm_start``
    fit after :func:`load` starts a fresh Adam optimiser from the loaded
    weights. Frozen ``scipy.stats`` distributions (e.g. the ``target_prior``
    of a :class:`~skprob.PriorReweighter`) are stored by name and numeric
    arguments, and a :class:`~skprob.distributions.CalibrationMap` by its
    knots, values, slopes and method.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn.preprocessing import StandardScaler
    >>> import skprob
    >>> from skprob.datasets import make_bimodal
    >>> from skprob.pipeline import make_pipeline
    >>> X, y = make_bimodal(100, random_state=0)
    >>> mdn = skprob.MixtureDensityRegressor(max_iter=2, random_state=0)
    >>> pipe = make_pipeline(StandardScaler(), mdn).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "pipe.skprob")
    >>> skprob.save(pipe, path)
    >>> bool((skprob.load(path).predict_dist(X).logpdf(y) == pipe.predict_dist(X).logpdf(y)).all())
    True
    """
    if is_network(estimator):
        check_is_fitted(estimator)
        content = network_record(estimator)
    elif isinstance(estimator, _containers()):
        check_is_fitted(estimator)
        content = composite_content(estimator)
    else:
        raise ValueError(
            f"skprob.save stores skprob network estimators, pipelines, PriorReweighter, "
            f"TransformedTargetRegressor and CalibratedRegressorCV, not "
            f"{type(estimator).__name__}."
        )
    torch.save(content, path)


def _check_zip(file, size, what):
    """Refuse a file that is not a plain (uncompressed) zip archive no larger than ``size``."""
    try:
        with zipfile.ZipFile(file) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise UnsafeFileError(f"{what} is not a zip archive written by skprob.save (a damaged, "
                              "truncated or foreign file).") from exc
    if any(entry.compress_type != zipfile.ZIP_STORED for entry in entries):
        raise UnsafeFileError(f"{what} has compressed entries, which skprob.save never writes.")
    if sum(entry.file_size for entry in entries) > size:
        raise UnsafeFileError(f"{what} declares entries larger than the file itself.")


def _read(path, size):
    _check_zip(path, size, "it")
    try:
        content = torch.load(path, weights_only=True, map_location="cpu", mmap=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeFileError(
            "it holds objects other than tensors and plain data, which skprob.load never "
            "unpickles. Use pickle/joblib only for files you trust."
        ) from exc
    except Exception as exc:  # torch reports a damaged archive with many error types
        raise UnsafeFileError(f"it cannot be read as a skprob file ({exc!r}).") from exc
    if is_composite(content):
        return composite_from_content(content, size, _check_zip)
    return network_from_record(content, size)


def load(path):
    """Read an estimator written by :func:`save`, without executing code from the file.

    Parameters
    ----------
    path : str or path-like
        File written by :func:`save`.

    Returns
    -------
    estimator : estimator
        The fitted estimator or pipeline, on the CPU, predicting exactly as
        when saved.

    Raises
    ------
    UnsafeFileError
        A :class:`ValueError` saying why the file is refused: it is not a
        skprob file (damaged, truncated, random bytes, another format), has
        another format version, holds objects other than tensors and plain
        data (a tampered or pickled file is refused, not run), holds a type
        that is not trusted (only scikit-learn estimators, skprob's own
        containers, numpy and scipy data), an array dtype other than bool,
        int32/int64, float32/float64 or bounded strings, an unknown or
        invalid parameter or fitted attribute, or tensors whose shapes do not
        match the network its parameters describe (checked on PyTorch's
        ``meta`` device, before any memory is allocated) or that exceed the
        size of the file.

    See Also
    --------
    save : write a file.

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
    >>> with open(path, "r+b") as f:
    ...     _ = f.truncate(1000)
    >>> skprob.load(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skprob.exceptions.UnsafeFileError: ... was refused: it is not a zip archive ...
    """
    size = os.path.getsize(path)  # a missing file is an OSError, not a refusal
    try:
        return _read(path, size)
    except UnsafeFileError as exc:
        raise UnsafeFileError(f"{os.fspath(path)} was refused: {exc}") from exc
    except Exception as exc:  # anything else a damaged file provokes is a refusal too
        raise UnsafeFileError(
            f"{os.fspath(path)} was refused: it is not a consistent skprob file ({exc!r})."
        ) from exc
