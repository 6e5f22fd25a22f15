import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from skprob.distributions import Categorical, GaussianMixture, Normal  # noqa: E402
from skprob.metrics import calibration_error, interval_coverage, pit  # noqa: E402
from skprob.plotting import (  # noqa: E402
    plot_calibration_curve,
    plot_calibration_curves,
    plot_mixture_components,
    plot_pit_histogram,
    plot_predicted_vs_true,
    plot_predictive_band,
    plot_prior_reweighting,
    plot_reliability_diagram,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def heteroscedastic():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, size=300)
    dist = Normal(loc=2.0 * x, scale=0.2 + 0.3 * (x + 1.0))
    y = dist.sample(1, random_state=1)[:, 0]
    return x, y, dist


def _render(ax, tmp_path, name):
    """Draw the figure to a PNG, as a user would, and check that it was written."""
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path, dpi=50)
    assert path.stat().st_size > 1000
    return path


def _new_axes():
    return plt.subplots()[1]


# ------------------------------------------------------------ predictive band
def test_predictive_band_draws_bands_mean_data_and_samples(heteroscedastic, tmp_path):
    x, y, dist = heteroscedastic
    ax = plot_predictive_band(x, dist, y=y, n_samples=4, random_state=0)
    _render(ax, tmp_path, "band")
    wide, narrow, data, samples = ax.collections
    assert [line.get_label() for line in ax.lines] == ["predictive mean"]
    order = np.argsort(x)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), x[order])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), dist.mean()[order])
    # The widest (95%) band first: its vertices reach the 95% interval.
    lower, upper = dist.interval(0.95)
    band_y = wide.get_paths()[0].vertices[:, 1]
    assert band_y.min() == pytest.approx(lower.min())
    assert band_y.max() == pytest.approx(upper.max())
    narrow_y = narrow.get_paths()[0].vertices[:, 1]
    assert band_y.min() < narrow_y.min() and narrow_y.max() < band_y.max()
    assert data.get_offsets().shape == (300, 2)
    assert samples.get_offsets().shape == (300 * 4, 2)
    # Data limits cover the inputs and every drawn point.
    limits = ax.dataLim
    assert limits.x0 <= x.min() and limits.x1 >= x.max()
    assert limits.y0 <= min(lower.min(), y.min()) and limits.y1 >= max(upper.max(), y.max())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["95% interval", "68% interval", "data", "samples", "predictive mean"]


def test_predictive_band_accepts_a_column_and_no_interval(heteroscedastic):
    x, _, dist = heteroscedastic
    ax = plot_predictive_band(x[:, None], dist, intervals=())
    assert len(ax.collections) == 0
    assert len(ax.lines) == 1


def test_predictive_band_honours_ax(heteroscedastic):
    x, _, dist = heteroscedastic
    ax = _new_axes()
    assert plot_predictive_band(x, dist, ax=ax) is ax


@pytest.mark.parametrize(
    "kwargs, match",
    [({"intervals": (1.5,)}, "confidence"), ({"n_samples": -1}, "n_samples")],
)
def test_predictive_band_bad_arguments(heteroscedastic, kwargs, match):
    x, _, dist = heteroscedastic
    with pytest.raises(ValueError, match=match):
        plot_predictive_band(x, dist, **kwargs)


def test_predictive_band_rejects_mismatched_lengths_and_categorical(heteroscedastic):
    x, _, dist = heteroscedastic
    with pytest.raises(ValueError, match="X_1d"):
        plot_predictive_band(x[:10], dist)
    with pytest.raises(TypeError, match="continuous"):
        plot_predictive_band(x[:2], Categorical([[0.5, 0.5], [0.1, 0.9]]))


# --------------------------------------------------------- predicted vs true
def test_predicted_vs_true_error_bars_and_identity(heteroscedastic, tmp_path):
    _, y, dist = heteroscedastic
    ax = plot_predicted_vs_true(y, dist, confidence=0.9)
    _render(ax, tmp_path, "predicted_vs_true")
    (container,) = ax.containers
    points, _, (bars,) = container
    np.testing.assert_allclose(points.get_xdata(), y)
    np.testing.assert_allclose(points.get_ydata(), dist.ppf(0.5))
    lower, upper = dist.interval(0.9)
    segments = np.array(bars.get_segments())
    np.testing.assert_allclose(segments[:, 0, 1], lower)
    np.testing.assert_allclose(segments[:, 1, 1], upper)
    identity = ax.lines[-1]
    np.testing.assert_allclose(identity.get_xdata(), identity.get_ydata())
    assert identity.get_xdata()[0] <= y.min() and identity.get_xdata()[1] >= y.max()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("true y", "predicted y")
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert sorted(legend) == ["identity", "median, 90% interval"]


def test_predicted_vs_true_honours_ax(heteroscedastic):
    _, y, dist = heteroscedastic
    ax = _new_axes()
    assert plot_predicted_vs_true(y, dist, ax=ax) is ax


# --------------------------------------------------------------------- PIT
def test_pit_histogram_bars_are_the_pit_density(heteroscedastic, tmp_path):
    _, y, dist = heteroscedastic
    ax = plot_pit_histogram(y, dist, bins=12)
    _render(ax, tmp_path, "pit")
    bars = ax.patches[:12]
    assert len(ax.patches) == 13  # 12 bars and the binomial band
    expected, _ = np.histogram(pit(y, dist), bins=12, range=(0, 1), density=True)
    np.testing.assert_allclose([bar.get_height() for bar in bars], expected)
    (reference,) = ax.lines
    np.testing.assert_allclose(reference.get_ydata(), 1.0)
    ymin, ymax = ax.get_ylim()
    half_width = 2 * np.sqrt(11 / 300)
    assert ymin <= 1 - half_width and ymax >= 1 + half_width
    assert ax.get_xlim() == (0.0, 1.0)


def test_pit_histogram_band_has_binomial_width(heteroscedastic):
    _, y, dist = heteroscedastic
    ax = plot_pit_histogram(y, dist, bins=20)
    band = ax.patches[-1]
    # axhspan spans the Axes in x and data coordinates in y.
    y_extent = band.get_transform().transform(band.get_path().vertices)[:, 1]
    low, high = ax.transData.inverted().transform(
        np.column_stack([np.zeros(2), [y_extent.min(), y_extent.max()]])
    )[:, 1]
    half_width = 2 * np.sqrt(19 / 300)
    assert low == pytest.approx(1 - half_width)
    assert high == pytest.approx(1 + half_width)


def test_pit_histogram_honours_ax_and_checks_bins(heteroscedastic):
    _, y, dist = heteroscedastic
    ax = _new_axes()
    assert plot_pit_histogram(y, dist, ax=ax) is ax
    with pytest.raises(ValueError, match="bins"):
        plot_pit_histogram(y, dist, bins=0)


# -------------------------------------------------------- calibration curve
def test_calibration_curve_shows_interval_coverage(heteroscedastic, tmp_path):
    _, y, dist = heteroscedastic
    levels = [0.5, 0.1, 0.9]
    ax = plot_calibration_curve(y, dist, levels=levels)
    _render(ax, tmp_path, "calibration")
    observed, diagonal = ax.lines
    np.testing.assert_allclose(observed.get_xdata(), sorted(levels))
    np.testing.assert_allclose(
        observed.get_ydata(), [interval_coverage(y, dist, c) for c in sorted(levels)]
    )
    np.testing.assert_allclose(diagonal.get_xdata(), diagonal.get_ydata())
    assert len(ax.collections) == 1  # the binomial band
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_ylim() == (0.0, 1.0)
    assert "central interval" in ax.get_xlabel()


def test_calibration_curve_quantiles_detect_overconfidence(heteroscedastic):
    x, y, dist = heteroscedastic
    narrow = Normal(dist.loc, 0.3 * dist.scale)
    ax = plot_calibration_curve(y, narrow, kind="quantile")
    observed = ax.lines[0]
    levels = observed.get_xdata()
    np.testing.assert_allclose(levels, np.linspace(0.05, 0.95, 19))
    np.testing.assert_allclose(
        observed.get_ydata(), [np.mean(pit(y, narrow) <= c) for c in levels]
    )
    # Too narrow: too many targets below low quantiles, too few below high ones.
    assert observed.get_ydata()[0] > 0.2 and observed.get_ydata()[-1] < 0.8
    assert ax.get_xlabel() == "nominal quantile level"


def test_calibration_curve_honours_ax_and_checks_arguments(heteroscedastic):
    _, y, dist = heteroscedastic
    ax = _new_axes()
    assert plot_calibration_curve(y, dist, ax=ax) is ax
    with pytest.raises(ValueError, match="kind"):
        plot_calibration_curve(y, dist, kind="bins")
    with pytest.raises(ValueError, match="confidence"):
        plot_calibration_curve(y, dist, levels=[0.5, 1.0])


# ------------------------------------------------------ reliability diagram
@pytest.fixture
def classification():
    rng = np.random.default_rng(0)
    p_dog = rng.uniform(size=400)
    labels = np.where(rng.uniform(size=400) < p_dog, "dog", "cat")
    dist = Categorical(np.column_stack([1 - p_dog, p_dog]), classes=["cat", "dog"])
    return labels, dist


def test_reliability_diagram_bars_are_bin_accuracies(classification, tmp_path):
    labels, dist = classification
    ax = plot_reliability_diagram(labels, dist, n_bins=5)
    _render(ax, tmp_path, "reliability")
    confidence = dist.probs.max(axis=1)  # in [0.5, 1]: bins 2, 3 and 4 of 5
    bars = ax.patches
    assert len(bars) == 3
    correct = dist.mode() == labels
    for bar, (low, high) in zip(bars, [(0.4, 0.6), (0.6, 0.8), (0.8, 1.0)], strict=True):
        in_bin = (confidence > low) & (confidence <= high)
        assert bar.get_height() == pytest.approx(correct[in_bin].mean())
        assert bar.get_x() == pytest.approx(low)
        assert bar.get_width() == pytest.approx(0.2)
    counts = [int(text.get_text()) for text in ax.texts]
    assert sum(counts) == 400
    points, diagonal = ax.lines
    assert np.all((points.get_xdata() > 0.4) & (points.get_xdata() <= 1.0))
    np.testing.assert_allclose(diagonal.get_xdata(), diagonal.get_ydata())
    ece = calibration_error(labels, dist, n_bins=5)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert f"mean confidence (ECE = {ece:.3f})" in legend


def test_reliability_diagram_honours_ax_and_rejects_regression(classification, heteroscedastic):
    labels, dist = classification
    ax = _new_axes()
    assert plot_reliability_diagram(labels, dist, ax=ax) is ax
    _, y, normal = heteroscedastic
    with pytest.raises(TypeError, match="plot_calibration_curve"):
        plot_reliability_diagram(y, normal)
    with pytest.raises(ValueError, match="not among the classes"):
        plot_reliability_diagram(np.full(400, "bird"), dist)


# ------------------------------------------------------- mixture components
def test_mixture_components_sum_to_the_mixture_density(tmp_path):
    dist = GaussianMixture(
        weights=[[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]],
        means=[[-3.0, 0.0, 4.0], [0.0, 0.0, 0.0]],
        stds=[[0.5, 1.0, 0.8], [1.0, 1.0, 1.0]],
    )
    ax = plot_mixture_components(dist, index=0)
    _render(ax, tmp_path, "mixture")
    total, *components = ax.lines
    assert len(components) == 3
    grid = total.get_xdata()
    assert grid.size == 512
    assert grid.min() < -3.0 - 3 * 0.5 and grid.max() > 4.0 + 3 * 0.8
    np.testing.assert_allclose(total.get_ydata(), dist[0].pdf(grid[None, :])[0])
    np.testing.assert_allclose(sum(c.get_ydata() for c in components), total.get_ydata())
    np.testing.assert_allclose(
        components[2].get_ydata(), 0.5 * stats.norm(4.0, 0.8).pdf(grid), rtol=1e-12
    )
    assert np.sum(total.get_ydata()) * (grid[1] - grid[0]) == pytest.approx(1.0, abs=1e-3)


def test_mixture_components_of_a_normal_on_a_given_grid():
    grid = np.linspace(-1.0, 1.0, 7)
    ax = plot_mixture_components(Normal([0.0, 5.0], [1.0, 2.0]), index=1, y_grid=grid)
    assert len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[0].get_xdata(), grid)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), stats.norm(5.0, 2.0).pdf(grid))


def test_mixture_components_honours_ax_and_rejects_categorical():
    ax = _new_axes()
    assert plot_mixture_components(Normal([0.0], [1.0]), ax=ax) is ax
    with pytest.raises(TypeError, match="GaussianMixture"):
        plot_mixture_components(Categorical([[0.5, 0.5]]))


# ---------------------------------------------------------- prior reweighting
def test_prior_reweighting_evaluates_every_kind_of_curve(tmp_path):
    grid = np.linspace(14.0, 15.5, 61)
    before = GaussianMixture([[1.0]], [[14.8]], [[0.1]])
    target = stats.expon(loc=14.0, scale=0.3)
    after = before.pdf(grid[None, :])[0] * target.pdf(grid)
    ax = plot_prior_reweighting(
        grid, lambda y: np.full_like(y, 1 / 1.5), target, before, after
    )
    _render(ax, tmp_path, "reweighting")
    assert [line.get_label() for line in ax.lines] == [
        "training prior",
        "target prior",
        "posterior (training prior)",
        "posterior (target prior)",
    ]
    for line in ax.lines:
        np.testing.assert_allclose(line.get_xdata(), grid)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 1 / 1.5)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), target.pdf(grid))
    np.testing.assert_allclose(ax.lines[2].get_ydata(), stats.norm(14.8, 0.1).pdf(grid))
    np.testing.assert_allclose(ax.lines[3].get_ydata(), after)
    assert ax.lines[0].get_linestyle() == "--" and ax.lines[2].get_linestyle() == "-"
    assert ax.dataLim.y1 >= after.max()


def test_prior_reweighting_skips_none_and_honours_ax():
    grid = np.linspace(0.0, 1.0, 11)
    ax = _new_axes()
    out = plot_prior_reweighting(grid, None, None, np.ones(11), None, ax=ax)
    assert out is ax
    assert [line.get_label() for line in ax.lines] == ["posterior (training prior)"]


def test_prior_reweighting_rejects_bad_curves():
    grid = np.linspace(0.0, 1.0, 11)
    with pytest.raises(ValueError, match="one value per point"):
        plot_prior_reweighting(grid, np.ones(5), None, None, None)
    with pytest.raises(ValueError, match="one row"):
        plot_prior_reweighting(grid, None, None, Normal([0.0, 1.0], 1.0), None)


# ------------------------------------------------------- optional dependency
def test_import_skprob_does_not_import_matplotlib():
    code = (
        "import sys, skprob, skprob.plotting; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_gives_a_clear_import_error(monkeypatch, heteroscedastic):
    x, _, dist = heteroscedastic
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_predictive_band(x, dist)


def test_calibration_curves_draw_one_curve_per_distribution_before_and_after():
    from skprob.distributions import CalibrationMap, RecalibratedDistribution

    rng = np.random.default_rng(0)
    y = rng.normal(size=2000)
    narrow = Normal(np.zeros(2000), 0.5)
    after = RecalibratedDistribution(narrow, CalibrationMap.from_pit(narrow.cdf(y)))
    ax = plot_calibration_curves(y, {"before": narrow, "after": after}, levels=[0.5, 0.9])
    before_line, after_line, diagonal = ax.lines
    np.testing.assert_allclose(before_line.get_ydata(),
                               [interval_coverage(y, narrow, c) for c in (0.5, 0.9)])
    np.testing.assert_allclose(after_line.get_ydata(), [0.5, 0.9], atol=0.02)
    assert "before" in before_line.get_label() and diagonal.get_label() == "calibrated"
    ax = plot_calibration_curves(y, {"after": after}, kind="quantile", levels=[0.25])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [np.mean(pit(y, after) <= 0.25)])
    with pytest.raises(ValueError, match="at least one"):
        plot_calibration_curves(y, {})
    with pytest.raises(TypeError, match="continuous"):
        plot_calibration_curves(y, {"c": Categorical(np.ones((2000, 1)))})
    plt.close("all")
