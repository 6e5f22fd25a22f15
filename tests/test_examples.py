"""Run every gallery example, shrunken, so that a broken example fails the tests.

``SKPROB_EXAMPLES_FAST=1`` makes each example use small data and few epochs
(see examples/README.rst); the Agg backend draws without a display.
"""

import runpy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))


def test_the_gallery_has_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs_and_ends_in_a_figure(path, monkeypatch, tmp_path):
    monkeypatch.setenv("SKPROB_EXAMPLES_FAST", "1")
    monkeypatch.chdir(tmp_path)  # an example that wrote files would not litter the repo
    plt.close("all")
    try:
        runpy.run_path(str(path), run_name="__main__")
        figures = [plt.figure(number) for number in plt.get_fignums()]
        assert figures, f"{path.name} drew no figure"
        assert all(figure.axes for figure in figures), f"{path.name} left an empty figure"
    finally:
        plt.close("all")
    assert list(tmp_path.iterdir()) == [], f"{path.name} wrote files"


README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run_as_written():
    blocks = README.read_text().split("```python\n")[1:]
    assert len(blocks) >= 2
    namespace = {}
    for block in blocks:
        exec(compile(block.split("```", 1)[0], str(README), "exec"), namespace)
    # the quick start's MDN on the bimodal problem: close to the true density
    from skprob.datasets import make_bimodal
    from skprob.metrics import negative_log_likelihood

    _, y_test, truth = make_bimodal(1000, random_state=1, return_distribution=True)
    np.testing.assert_array_equal(y_test, namespace["y_test"])
    nll = negative_log_likelihood(y_test, namespace["dist"])
    gap = nll - negative_log_likelihood(y_test, truth)
    assert gap < 0.05  # measured: 0.003 nats
    u = namespace["u"]
    assert u.total == pytest.approx(u.aleatoric + u.epistemic)
    # the model-selection block: held-out NLL picks the mixture, predict_dist sees through
    assert namespace["search"].best_params_ == {"mixturedensityregressor__n_components": 3}
    assert len(namespace["best_dist"]) == len(y_test)
