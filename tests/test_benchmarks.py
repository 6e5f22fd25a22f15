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
defaults = importlib.import_module("defaults")
ngboost_defaults = importlib.import_module("ngboost_defaults")
fit_times = importlib.import_module("fit_times")
small_data = importlib.import_module("small_data")

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
              "ensemble", "--steps", "20", "--n-mc-samples", "5", "--n-jobs", "1",
              "--data-dir", str(uci_dir), "--output", str(tmp_path)])
    records = json.loads((tmp_path / "uci.json").read_text())
    assert len(records) == 2 * 2 * 3
    assert all(math.isfinite(r["nll"]) and r["rmse"] > 0 for r in records)
    dropout = [r for r in records if r["estimator"] == "DropoutMLPRegressor"]
    assert {tuple(sorted(r["best_params"])) for r in dropout} == {
        ("dropout_rate", "heteroscedastic")}
    # The ensemble's grid is its member's: estimator__n_components, reported by name.
    ensemble = [r for r in records if r["estimator"] == "DeepEnsembleRegressor"]
    assert len(ensemble) == 4 and all(set(r["best_params"]) == {"n_components"} for r in ensemble)
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
    # yacht's best published NLL is 0.16: the best skprob estimator (1.20) is above it.
    assert "| yacht | DropoutMLPRegressor | 1.20 ± 0.12 | 0.16 | WGBoost" in report
    assert "at or below the best published NLL on 0 of 1 data sets" in report


def test_integer_targets_are_dequantised_within_their_cell_once_for_all_splits():
    y = np.repeat(np.arange(3, 9), 50).astype(float)
    noisy = uci.dequantise(y)
    assert np.all(np.abs(noisy - y) <= 0.5) and np.unique(noisy).size == y.size
    np.testing.assert_array_equal(noisy, uci.dequantise(y))  # same draw every time


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


DEFAULT_ESTIMATORS = ("MixtureDensityRegressor", "DropoutMLPRegressor", "BayesianMLPRegressor")


def _scores(dataset, split, estimator, nll, crps=1.0, cov90=0.9, fit_seconds=1.0):
    return {"dataset": dataset, "split": split, "estimator": estimator, "nll": nll,
            "crps": crps, "rmse": 1.0, "cov50": 0.5, "cov90": cov90,
            "fit_seconds": fit_seconds}


@pytest.fixture
def side_results(tmp_path):
    """NGBoost and tuned-uci.py results files for the fake yacht and energy sets."""
    ngboost = [_scores(name, split, "NGBRegressor", 5.0, crps=5.0, fit_seconds=1e6)
               for name in ("yacht", "energy") for split in range(2)]
    ngboost_path = tmp_path / "ngboost.json"
    ngboost_path.write_text(json.dumps({"meta": {"runs": []}, "records": ngboost}))
    tuned = [{**_record(name, estimator, 5.0), "split": split}
             for name in ("yacht", "energy") for split in range(2)
             for estimator in DEFAULT_ESTIMATORS]
    tuned_path = tmp_path / "tuned.json"
    tuned_path.write_text(json.dumps(tuned))  # uci.json is a bare list of records
    return ngboost_path, tuned_path


def test_defaults_main_fits_reports_and_compares(uci_dir, side_results, tmp_path, capsys):
    ngboost_path, tuned_path = side_results
    common = ["--datasets", "yacht", "energy", "--data-dir", str(uci_dir),
              "--ngboost", str(ngboost_path), "--tuned", str(tuned_path)]
    out_json = tmp_path / "before.json"
    defaults.main([*common, "--splits", "1", "--json", str(out_json)])
    out = capsys.readouterr().out
    saved = json.loads(out_json.read_text())
    assert len(saved["records"]) == 2 * 3
    (run,) = saved["meta"]["runs"]
    assert {"loadavg_start", "loadavg_end", "versions"} <= set(run) and run["n_fits"] == 6
    for record in saved["records"]:
        assert record["split"] == 0 and not record["diverged"]
        assert all(math.isfinite(record[m]) for m in defaults.METRICS)
        assert 0 <= record["cov50"] <= record["cov90"] <= 1
    header = next(line for line in out.splitlines() if line.startswith("| data set | fits"))
    assert header.split("|")[3:-1] == [
        " MDN default ", " Dropout default ", " Bayes default ", " NGBoost default ",
        " skprob tuned (best) "]
    # NGBoost and tuned are averaged over the defaults' split (0) only: 5.00, no "±"
    yacht = next(line for line in out.splitlines() if line.startswith("| yacht | 1 |"))
    assert yacht.split("|")[6].strip() == "5.00"
    for title in ("CRPS", "RMSE", "50% interval", "90% interval", "Fit time"):
        assert title in out
    assert "on the 2 of 8 sets run" in out
    assert out.count("- MET: ") + out.count("- NOT MET: ") == 3
    assert "- UNDECIDED: default MixtureDensityRegressor" in out  # 2 sets cannot make 7 of 8
    assert "- MET: default fit time below NGBoost's" in out  # NGBoost "took" 1e6 s

    # Reprint from the file without fitting, and compare a run with itself.
    defaults.main([*common, "--load", str(out_json), "--compare", str(out_json)])
    out = capsys.readouterr().out
    assert "fit" not in out.split("Test NLL")[0]  # nothing was fitted
    assert "Before → after" in out and "Before:" in out and "After:" in out
    row = next(line for line in out.splitlines() if line.startswith("| yacht | MDN default"))
    nll_before, nll_after = row.split("|")[4].split("→")
    assert nll_before.strip() == nll_after.strip()

    # --resume fits only what the file lacks: here yacht's split 1 for dropout.
    defaults.main([*common, "--datasets", "yacht", "--estimators", "dropout", "--splits", "2",
                   "--json", str(out_json), "--resume"])
    assert "1 default fits on 1 worker(s) (6 resumed)" in capsys.readouterr().out
    saved = json.loads(out_json.read_text())
    assert len(saved["records"]) == 7 and [r["n_fits"] for r in saved["meta"]["runs"]] == [6, 1]

    # Another seed per split in a second file, then both pooled: two fits a cell.
    other_json = tmp_path / "seed1000.json"
    defaults.main([*common, "--datasets", "yacht", "--estimators", "mdn", "--splits", "1",
                   "--seed-offset", "1000", "--json", str(other_json)])
    capsys.readouterr()
    (record,) = json.loads(other_json.read_text())["records"]
    assert record["split"] == 0 and record["seed"] == 1000
    (first,) = [r for r in saved["records"] if r["dataset"] == "yacht" and r["split"] == 0
                and r["estimator"] == "MixtureDensityRegressor"]
    assert record["nll"] != first["nll"]  # another initialisation, another fit
    defaults.main([*common, "--datasets", "yacht", "--estimators", "mdn",
                   "--load", str(out_json), str(other_json)])
    out = capsys.readouterr().out
    assert next(line for line in out.splitlines() if line.startswith("| yacht | 2 |"))


def test_defaults_targets_on_known_summaries():
    names = list(uci.DATASETS)
    records = []
    for i, name in enumerate(names):
        # The MDN beats NGBoost's NLL on all but one set and its CRPS on all but three.
        records.append(_scores(name, 0, "MixtureDensityRegressor", 1.0 if i else 3.0,
                               crps=1.0 if i > 2 else 3.0, cov90=0.95 if i == 4 else 0.9))
        records.append(_scores(name, 0, "NGBRegressor", 2.0, crps=2.0, fit_seconds=10.0))
        records.append({**_scores(name, 0, "MixtureDensityRegressor tuned", 0.9)})
    report = defaults.targets(defaults.summarise(records), names, ["MixtureDensityRegressor"])
    lines = report.splitlines()
    assert lines[2].startswith("- NOT MET: default MixtureDensityRegressor NLL")
    assert "NLL ≤ NGBoost on 7 of 8" in lines[2] and "CRPS ≤ NGBoost on 5 of 8" in lines[2]
    assert lines[3].startswith("- NOT MET: every estimator's default NLL within 0.15")
    assert "1 of 8 miss (MDN/concrete +2.10)" in lines[3]
    assert lines[4].startswith("- NOT MET: every default's 90%")
    assert f"MDN/{names[4]} 0.950" in lines[4]
    assert lines[5].startswith("- MET: default fit time below")

    # One CRPS loss fewer meets the first target; a diverged (NaN) default is a loss.
    records[3 * 2]["crps"] = 1.0
    assert "- MET: default MixtureDensityRegressor" in defaults.targets(
        defaults.summarise(records), names, ["MixtureDensityRegressor"])
    records[3]["nll"] = float("nan")
    assert "NLL ≤ NGBoost on 6 of 8" in defaults.targets(
        defaults.summarise(records), names, ["MixtureDensityRegressor"])


def test_defaults_coverage_target_counts_a_rounded_target_by_cell():
    names = list(uci.DATASETS)
    records = [_scores(name, 0, "MixtureDensityRegressor", 1.0) for name in names]
    # A rounded target: nearly every raw value covered, 0.90 of the cells.
    records[3].update(cov90=0.99, cov90_cell=0.90)
    # A continuous one whose cell count equals the raw count, out of range.
    records[5].update(cov90=0.80, cov90_cell=0.80)
    report = defaults.targets(defaults.summarise(records), names, ["MixtureDensityRegressor"])
    (line,) = [line for line in report.splitlines() if "90% interval coverage" in line]
    assert line.startswith("- NOT MET") and "1 of 8 outside" in line
    assert f"MDN/{names[5]} 0.800" in line and names[3] not in line


def test_ngboost_scores_match_skprob_closed_forms():
    from skprob.distributions import Normal
    from skprob.metrics import crps, interval_coverage, negative_log_likelihood

    rng = np.random.default_rng(0)
    y, loc, scale = rng.normal(size=300), rng.normal(size=300), rng.uniform(0.2, 3, 300)
    scores = ngboost_defaults.normal_scores(y, loc, scale)
    dist = Normal(loc=loc, scale=scale)
    assert scores["nll"] == pytest.approx(negative_log_likelihood(y, dist))
    assert scores["crps"] == pytest.approx(crps(y, dist))
    assert scores["cov50"] == pytest.approx(interval_coverage(y, dist, 0.5))
    assert scores["cov90"] == pytest.approx(interval_coverage(y, dist, 0.9))


def test_ngboost_script_needs_neither_skprob_nor_ngboost_to_import():
    import subprocess

    code = ("import sys; sys.modules['skprob'] = None; sys.modules['ngboost'] = None; "
            f"sys.path.insert(0, {str(BENCHMARKS)!r}); import ngboost_defaults")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ngboost_main_writes_split_major_and_resumes(uci_dir, tmp_path, monkeypatch, capsys):
    fitted = []

    def fake_run_one(name, split, data_dir):
        fitted.append((name, split))
        return {**_scores(name, split, "NGBRegressor", 1.0), "predict_seconds": 0.1,
                "loadavg_1min": 0.0}

    monkeypatch.setattr(ngboost_defaults, "run_one", fake_run_one)
    monkeypatch.setattr(ngboost_defaults, "versions", dict)
    out_json = tmp_path / "ngboost.json"
    argv = ["--datasets", "yacht", "energy", "--data-dir", str(uci_dir), "--json", str(out_json)]
    ngboost_defaults.main([*argv, "--splits", "1"])
    ngboost_defaults.main(argv)  # resumes: only split 1 is left
    assert fitted == [("yacht", 0), ("energy", 0), ("yacht", 1), ("energy", 1)]
    saved = json.loads(out_json.read_text())
    assert len(saved["records"]) == 4 and len(saved["meta"]["runs"]) == 2
    assert all("loadavg_start" in run and "loadavg_end" in run for run in saved["meta"]["runs"])
    assert "| yacht | 2 | 1.000 ± 0.000 |" in capsys.readouterr().out


def test_fit_times_interleave_take_the_best_round_and_divide_by_ngboost(monkeypatch, capsys):
    calls = []
    # Round 0 is slow for everyone; NGBoost takes 10 s, the mixture network 2 s.
    seconds = {"NGBRegressor": 10.0, "MixtureDensityRegressor": 2.0, "DropoutMLPRegressor": 4.0}

    def fake_fit_seconds(estimator, name, split, data_dir, ngboost_python):
        calls.append(estimator)
        return seconds[estimator] * (3.0 if len(calls) <= 3 else 1.0)

    monkeypatch.setattr(fit_times, "fit_seconds", fake_fit_seconds)
    fit_times.main(["--ngboost-python", "unused", "--datasets", "yacht", "--rounds", "2",
                    "--estimators", "mdn", "dropout"])
    # The order rotates by one estimator per round.
    assert calls == ["NGBRegressor", "MixtureDensityRegressor", "DropoutMLPRegressor",
                     "MixtureDensityRegressor", "DropoutMLPRegressor", "NGBRegressor"]
    assert "| yacht | 10.00 | 2.00 | 0.20x | 4.00 | 0.40x |" in capsys.readouterr().out


def test_small_data_problems_have_their_stated_noise():
    X, y = small_data.make_problem("linear", 20_000, seed=0)
    residual = y - 5.5 - X[:, 0]
    assert abs(residual.std() - 0.7) < 0.02
    # The linear Gaussian of the report scores the truth's 1.06 nats on it.
    nll = small_data.linear_gaussian_nll(X[:10_000], y[:10_000], X[10_000:], y[10_000:])
    assert abs(nll - 1.06) < 0.03
    X, y = small_data.make_problem("outliers", 20_000, seed=0)
    _, clean = small_data.make_problem("nonlinear", 20_000, seed=0)
    moved = np.abs(y - clean) > 5
    assert 0.025 < moved.mean() < 0.035
    X, y = small_data.make_problem("heteroscedastic", 20_000, seed=0)
    mean = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 / 2 - X[:, 2]
    wide, narrow = X[:, 3] > 1, X[:, 3] < -1
    assert (y - mean)[wide].std() > 5 * (y - mean)[narrow].std()
    with pytest.raises(ValueError, match="unknown problem"):
        small_data.make_problem("cubic", 10, seed=0)


def test_small_data_main_fits_reports_and_compares(tmp_path, capsys):
    records = tmp_path / "after.json"
    small_data.main(["--problems", "linear", "--sizes", "60", "--estimators", "mdn",
                     "--seeds", "1", "--n-jobs", "1", "--json", str(records)])
    table = capsys.readouterr().out
    saved = json.loads(records.read_text())
    assert len(saved) == small_data.N_FOLDS
    assert all(math.isfinite(r["nll"]) and 0 <= r["cov90"] <= 1 for r in saved)
    row = next(line for line in table.splitlines() if line.startswith("| linear | 60 |"))
    mean_nll = np.mean([r["nll"] for r in saved])
    assert row.split("|")[3].strip().startswith(f"{mean_nll:.3f} (")
    before = tmp_path / "before.json"
    before.write_text(json.dumps([{**r, "nll": r["nll"] + 1.0} for r in saved]))
    small_data.main(["--load", str(records), "--compare", str(before)])
    compared = capsys.readouterr().out
    assert f"{mean_nll + 1.0:.3f} (" in compared and " → " in compared


def test_small_data_scores_classifiers_on_the_classification_problem_only(tmp_path, capsys):
    X, y = small_data.make_problem("logistic", 20_000, seed=0)
    assert set(np.unique(y)) == {0, 1} and 0.4 < y.mean() < 0.6
    records = tmp_path / "records.json"
    small_data.main(["--problems", "logistic", "linear", "--sizes", "60", "--estimators",
                     "dropout_clf", "--seeds", "1", "--n-jobs", "1", "--json", str(records)])
    saved = json.loads(records.read_text())
    assert {r["problem"] for r in saved} == {"logistic"} and len(saved) == small_data.N_FOLDS
    assert all(0 < r["nll"] < 2 and math.isnan(r["cov90"]) for r in saved)
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith("| logistic | 60 |"))
    assert "[" not in row  # no coverage for a classifier
