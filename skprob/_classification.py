"""The classifier half of every skprob classifier: label encoding, prediction API.

:class:`ProbabilisticClassifierMixin` is mixed into the classifiers before
``BaseProbabilisticNetwork`` (``_base.py``); it supplies the target hooks
of the base and ``partial_fit``, ``predict_proba``, ``predict_log_proba`` and
``predict``.
"""

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context

from skprob._state import all_or_nothing
from skprob._torch.training import trimmed_mean


class ProbabilisticClassifierMixin(ClassifierMixin):
    """Label encoding and the classifier prediction API.

    Labels are encoded as indices into the sorted ``classes_``, as in
    scikit-learn; the predictive distribution is a :class:`Categorical`.
    """

    _divergence_check_fraction = 1.0

    def _init_target(self, y, sample_weight, classes=None):
        self.classes_ = np.unique(y) if classes is None else np.unique(np.asarray(classes))
        if len(self.classes_) < 2:
            raise ValueError(
                f"The number of classes has to be greater than one; got {len(self.classes_)} "
                f"class: {self.classes_.tolist()}."
            )

    @all_or_nothing
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch over ``(X, y)``, initialising the network on the first call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            Every class that can appear in any call; required on the first
            call unless its ``y`` already contains them all, ignored later.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _reference_nll(self, y_encoded, sample_weight):
        # The class frequencies of the targets, the best constant prediction.
        freq = np.bincount(y_encoded, weights=sample_weight, minlength=len(self.classes_))
        with np.errstate(divide="ignore"):
            return trimmed_mean(-np.log(freq[y_encoded] / freq.sum()), weights=sample_weight)

    def _encode_target(self, y):
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if unknown.any():
            raise ValueError(
                f"y contains labels {np.unique(y[unknown]).tolist()} that are not in "
                f"classes_ {self.classes_.tolist()}."
            )
        return index.astype(np.int64)

    def predict_proba(self, X):
        """Class probabilities for every row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class in ``classes_``; rows sum to one.
        """
        return self.predict_dist(X).probs

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Most probable class for every row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
