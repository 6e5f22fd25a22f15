"""Parameter constraints shared by the dataset generators."""

from numbers import Integral

from sklearn.utils._param_validation import Interval

# The number of samples (rows) any generator draws: a positive integer.
N_SAMPLES_CONSTRAINT = [Interval(Integral, 1, None, closed="left")]
