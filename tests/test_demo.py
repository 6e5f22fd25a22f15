import math
import re

from skprob import demo


def test_demo_prints_a_table_and_saves_a_figure(tmp_path, capsys):
    figure = tmp_path / "demo.png"
    demo.main(["--n-train", "600", "--n-test", "300", "--max-iter", "3",
               "--output", str(figure)])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "RMSE" not in line]
    assert [row.split("|")[1].strip() for row in rows] == list(
        ("MDN (NLL, 16 Gaussians)", "MLP (MSE) + Gaussian", "M-sigma power law")
    )
    for row in rows:
        rmse, nll, cov68, cov95 = (float(v) for v in row.split("|")[2:6])
        assert rmse > 0 and math.isfinite(nll) and 0 <= cov68 <= cov95 <= 1
    assert re.search(r"figure saved to .*demo\.png", out)
    assert figure.stat().st_size > 10_000


def test_demo_without_figure_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    demo.main(["--n-train", "300", "--n-test", "100", "--max-iter", "1", "--output", ""])
    assert list(tmp_path.iterdir()) == []
    assert "figure saved" not in capsys.readouterr().out
