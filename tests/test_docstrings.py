"""Every public estimator documents each parameter once, with its true default."""

import ast
import inspect
import re

import pytest

import skprob
from skprob._docstrings import fill_doc, format_default
from skprob.calibration import CalibratedRegressorCV
from skprob.compose import TransformedTargetRegressor

ESTIMATORS = [
    skprob.MixtureDensityRegressor,
    skprob.DropoutMLPRegressor,
    skprob.DropoutMLPClassifier,
    skprob.BayesianMLPRegressor,
    skprob.BayesianMLPClassifier,
    skprob.PriorReweighter,
    skprob.DeepEnsembleRegressor,
    skprob.DeepEnsembleClassifier,
    CalibratedRegressorCV,
    TransformedTargetRegressor,
]
_PARAMETER_LINE = re.compile(r"^    (\w+) : (.*)$", re.MULTILINE)


def _documented_parameters(cls):
    section = cls.__doc__.split("Parameters\n    ----------\n", 1)[1]
    section = re.split(r"\n    \w[\w ]*\n    -{3,}\n", section, maxsplit=1)[0]
    return {name: spec for name, spec in _PARAMETER_LINE.findall(section)}


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_every_parameter_is_documented_once_with_its_default(cls):
    signature = inspect.signature(cls.__init__).parameters
    documented = _documented_parameters(cls)
    assert list(documented) == [name for name in signature if name != "self"]
    for name, spec in documented.items():
        if "default=" not in spec:
            continue
        text = spec.rsplit("default=", 1)[1]
        default = signature[name].default
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text  # e.g. default=norm(0, 1) in prose: compare as written
            default = format_default(default)
        assert value == default, f"{cls.__name__}.{name}: documented {text}, is {default!r}"


class _Toy:
    """Doc.

    Parameters
    ----------
    {training_parameters}
    """

    def __init__(self, alpha=0.5, batch_size=32, learning_rate="constant",
                 learning_rate_init=0.01, max_iter=5, shuffle=False, random_state=0, tol=0.0,
                 verbose=True, warm_start=True, early_stopping=True, validation_fraction=0.2,
                 n_iter_no_change=3, device="cuda"):
        pass


def test_fill_doc_writes_the_signature_default_of_each_class():
    doc = fill_doc(_Toy).__doc__
    assert "    alpha : float, default=0.5\n" in doc
    assert '    batch_size : int or "auto", default=32\n' in doc
    assert '    device : {"cpu", "cuda", "auto"}, default="cuda"\n' in doc
    assert "SIGNATURE" not in doc
    assert _documented_parameters(_Toy)["tol"] == "float, default=0.0"


@pytest.mark.parametrize("cls", [skprob.DropoutMLPRegressor, skprob.DropoutMLPClassifier])
def test_dropout_networks_document_the_auto_activation(cls):
    # DROPOUT_NETWORK_PARAMETERS is NETWORK_PARAMETERS with one sentence
    # replaced; if the shared text changes, the replacement must follow.
    assert '"softplus", and "auto": "relu" with one hidden\n        layer' in cls.__doc__
    assert '"auto"' not in skprob.MixtureDensityRegressor.__doc__.split("alpha :")[0]
