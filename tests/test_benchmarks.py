"""The benchmark scripts run end to end on tiny stand-ins for the shared data.

The real runs read ``../shared/`` and take an hour; these tests only keep the
scripts from rotting: protocol code, result records and the report tables.
"""

import importlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


# The scripts import each other by their file names, as when run from benchmarks/;
# importing them the same way gives each one module (learning_rate's uci is uci).
sys.path.insert(0, str(BENCHMARKS))
uci = importlib.import_module("uci")
calibration = importlib.import_module("calibration")
speed = importlib.import_module("speed")
learning_rate = importlib.import_module("learning_rate")
threads = importlib.import_module("threads")

PUBLISHED_TABLE = """\
# UCI

| data set | rows | MC dropout, 2018 grid-search rerun | NGBoost (Duan 2020)* |
|---|---|---|---|
| energy | 40 | 1.21 / 0.54 | 0.60 / 0.46 |
| yacht | 40 | 1.25 / 0.67 | \u22120.20 / 0.50 |
"""


@pytest.fixture(scope="module")
def uci_dir(tmp_path_factory):
    """Two 40-row data sets laid out like ``../shared/data/uci/``, with 2 splits each."""
    root = tmp_path_factory.mktemp("uci")
    rng = np.random.default_rng(0)
    for name in ("energy", "yacht"):
        folder = root / name
        folder.mkdir()
        X = rng.normal(size=(40, 3))
        y = X @ [1.0, -0.5, 0.2] + 0.3 * rng.normal(size=40)
        np.savetxt(folder / "data.txt", np.column_stack([X, y]))
        np.savetxt(folder / "index_features.txt", [0, 1, 2], fmt="%d")
        np.savetxt(folder / "index_target.txt", [3], fmt="%d")
        for split in range(2):
            order = rng.permutation(40)
            np.savetxt(folder / f"index_train_{split}.txt", order[:30], fmt="%d")
            np.savetxt(folder / f"index_test_{split}.txt", order[30:], fmt="%d")
    (root / "README.md").write_text(PUBLISHED_TABLE)
    return root


def test_read_published_parses_the_table_and_unicode_minus(uci_dir):
    published = uci.read_published(uci_dir)
    assert list(published) == [uci.REFERENCE, "NGBoost (Duan 2020)"]
    assert published["NGBoost (Duan 2020)"]["yacht"] == (-0.20, 0.50)
    assert uci.n_splits("yacht", uci_dir) == 2


def test_uci_main_tunes_scores_and_reports(uci_dir, tmp_path):
    uci.main(["--datasets", "yacht", "energy", "--splits", "2", "--estimators", "mdn", "dropout",
              "--steps", "20", "--n-mc-samples", "5", "--n-jobs", "1",
              "--data-dir", str(uci_dir), "--output", str(tmp_path)])
    records = json.loads((tmp_path / "uci.json").read_text())
    assert len(records) == 2 * 2 * 2
    assert all(math.isfinite(r["nll"]) and r["rmse"] > 0 for r in records)
    dropout = [r for r in records if r["estimator"] == "DropoutMLPRegressor"]
    assert {tuple(sorted(r["best_params"])) for r in dropout} == {
        ("dropout_rate", "heteroscedastic")}
    report = (tmp_path / "uci.md").read_text()
    assert "| yacht | " in report and "| energy | " in report
    assert "at or below the reference on" in report and "of 2 data sets" in report
    assert (tmp_path / "uci_nll.png").stat().st_size > 0


def test_learning_rate_main_tables_each_estimator_at_each_rate(uci_dir, capsys):
    learning_rate.main(["--datasets", "yacht", "energy", "--splits", "1", "--n-jobs", "1",
                        "--data-dir", str(uci_dir)])
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert header.count("Regressor 0.001") == 3 and header.count("Regressor 0.01") == 3
    for name in ("yacht", "energy"):
        row = next(line for line in out.splitlines() if line.startswith(f"| {name} |"))
        assert all(np.isfinite(float(cell)) for cell in row.strip("|").split("|")[1:])


def _record(dataset, estimator, nll, rmse=1.0):
    return {"dataset": dataset, "estimator": estimator, "nll": nll, "rmse": rmse}


def test_summarise_and_scorecard_on_known_records(uci_dir):
    records = [_record("yacht", "DropoutMLPRegressor", v) for v in (1.0, 1.2, 1.4)]
    records += [_record("yacht", "MixtureDensityRegressor", v) for v in (1.5, 1.7)]
    summary = uci.summarise(records)
    mean, se, _, _, n = summary["yacht", "DropoutMLPRegressor"]
    assert (n, mean) == (3, pytest.approx(1.2))
    assert se == pytest.approx(0.2 / np.sqrt(3))
    report = uci.markdown_tables(
        summary, uci.read_published(uci_dir), ["yacht", "energy"],
        ["DropoutMLPRegressor", "MixtureDensityRegressor", "BayesianMLPRegressor"])
    # 1.20 beats the reference 1.25; energy has no records and is left out of the count
    assert "| yacht | DropoutMLPRegressor | 1.20 | 1.25 | yes | yes |" in report
    assert "| energy | – | – | – |" in report
    assert "on 1 of 1 data sets" in report


def test_calibration_main_reports_gaps_that_can_be_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(calibration, "N_TEST", 2000)
    calibration.main(["--problems", "bimodal", "--sizes", "300", "1200",
                      "--estimators", "MixtureDensityRegressor", "--steps", "100",
                      "--output", str(tmp_path)])
    report = (tmp_path / "calibration.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| bimodal")]
    assert len(rows) == 2
    gaps = [float(row.split("|")[4]) for row in rows]
    assert all(gap > -0.05 for gap in gaps)  # no model beats the truth beyond noise
    assert "- bimodal, MixtureDensityRegressor: " in report


def test_calibration_report_flags_a_gap_that_grows():
    row = {"problem": "p", "estimator": "e", "truth_ks": 0.01, "pit_ks": 0.02, "cov50": 0.5,
           "cov90": 0.9, "cov95": 0.95, "seconds": 1.0, "nll": 1.0}
    rows = [{**row, "n": 100, "gap": 0.2}, {**row, "n": 1000, "gap": 0.3}]
    assert "- p, e: 0.200 -> 0.300 (NO)" in calibration.markdown_report(rows)


FAKE_REFERENCE = """\
import numpy as np


def make_data(n, d=14, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, (X[:, 0] + 0.1 * rng.normal(size=n)).astype(np.float32)


def main(n=50000, epochs=5, batch=256, K=16):
    print(f"raw torch MDN: n={n} epochs={epochs} batch={batch} 1,000 samples/s")
"""


@pytest.fixture
def fake_references(tmp_path, monkeypatch):
    """A bench folder whose two reference scripts report 1,000 samples/s."""
    (tmp_path / "ref_mdn_torch.py").write_text(FAKE_REFERENCE)
    (tmp_path / "ref_mdn_skorch.py").write_text(FAKE_REFERENCE)
    monkeypatch.setattr(sys, "path", list(sys.path))  # load_references prepends to it
    yield tmp_path
    for name in ("ref_mdn_torch", "ref_mdn_skorch"):
        sys.modules.pop(name, None)


def test_speed_quick_fit_and_predict_tables(fake_references, capsys):
    speed.main(["--quick", "--sections", "1", "2", "--batch-sizes", "256",
                "--bench-dir", str(fake_references)])
    out = capsys.readouterr().out
    mdn_row = next(line for line in out.splitlines()
                   if line.startswith("| MixtureDensityRegressor | 256"))
    skprob, loop, skorch, ratio_loop, _ = (cell.strip() for cell in mdn_row.split("|")[3:8])
    assert (loop, skorch) == ("1,000", "1,000")
    assert float(ratio_loop.rstrip("x")) == pytest.approx(
        float(skprob.replace(",", "")) / 1000, rel=0.01)
    for estimator in ("DropoutMLPClassifier", "BayesianMLPClassifier"):
        assert f"| {estimator} | 256 |" in out
    assert "| BayesianMLPRegressor | 10 |" in out  # the T = 10 prediction row


def test_threads_table_reports_skprob_against_the_better_policy():
    jobs = [("fit x", None)]
    results = {}
    for condition, times in (("idle", (1.0, 2.0, 1.05)), ("busy", (2.0, 8.0, 2.0))):
        for policy, seconds in zip(threads.POLICIES, times, strict=True):
            results[(condition, "fit x", policy)] = seconds
    table = threads.table(jobs, results)
    assert "| fit x | idle | 1.000 | 2.000 | 1.050 | 1.05 |" in table
    assert "| fit x | busy | 2.000 | 8.000 | 2.000 | 1.00 |" in table


def test_threaded_fits_match_serial_fits():
    best = threads.parallel_fits(rounds=1, scale=0.02)  # asserts identical models itself
    assert set(best) == {"serial", "2 threads"}
