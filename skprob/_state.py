"""All-or-nothing calls: a method that raises leaves the estimator exactly as it was.

``fit``, ``partial_fit``, warm starts and the meta-estimators' fits change many
attributes (the target encoding, ``n_features_in_``, the network, the
optimiser state, the training history). Setting them one by one means a call
that fails half-way — a diverged fit, data with another number of features,
Ctrl-C — would leave a mix of old and new state. Instead, every fitted
attribute is copied before the call and put back if the call raises anything,
``KeyboardInterrupt`` included.
"""

import copy
import functools

__all__ = ["all_or_nothing"]


def _snapshot(estimator):
    # Constructor parameters are the user's own objects: kept by reference, as
    # scikit-learn's clone expects. Fitted state is copied, because a call may
    # change it in place (the network's weights, the optimiser's moments, the
    # random state).
    params = estimator.get_params(deep=False)
    return {
        key: value if key in params else copy.deepcopy(value)
        for key, value in vars(estimator).items()
    }


def all_or_nothing(method):
    """Decorate a fitting method so that, if it raises, no attribute changes.

    Parameters
    ----------
    method : callable
        A method ``method(self, *args, **kwargs)`` of an estimator.

    Returns
    -------
    wrapped : callable
        The same method; on any exception (``KeyboardInterrupt`` included) the
        estimator's attributes are restored to what they were before the call
        and the exception propagates. A first fit that fails leaves the
        estimator unfitted.
    """

    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
        snapshot = _snapshot(self)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            state = vars(self)
            state.clear()
            state.update(snapshot)
            raise

    return wrapped
