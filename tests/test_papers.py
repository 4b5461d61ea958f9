"""jaxcollapse.papers and ``jaxcollapse reproduce``: the agreement rules, the registry, the command line, and every
registered reproduction run at its statistical floor (the default suite) or at full scale (``slow``)."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import jax
import pytest

from jaxcollapse import papers
from jaxcollapse.cli import main as cli_main
from jaxcollapse.papers import Line


# --------------------------------------------------------------------------- the rules
def test_line_against_theory_uses_the_z_bound():
    assert Line("q", 1.0, 0.1, theory=1.35).agrees  # z = -3.5
    assert not Line("q", 1.0, 0.1, theory=1.45).agrees  # z = -4.5
    assert Line("q", 1.0, 0.1, theory=1.45).verdict.startswith("theory FAILS")
    assert math.isclose(Line("q", 2.0, 0.5, theory=1.0).z, 2.0)


def test_a_bound_fails_only_on_its_own_side():
    # theory an upper bound: ours far below it holds, ours 5 se above it fails
    assert Line("q", 0.0, 0.1, theory=1.0, rule="upper").agrees
    assert not Line("q", 1.5, 0.1, theory=1.0, rule="upper").agrees
    assert Line("q", 2.0, 0.1, theory=1.0, rule="lower").agrees
    assert not Line("q", 0.5, 0.1, theory=1.0, rule="lower").agrees


def test_published_values_need_their_precision_and_use_it():
    with pytest.raises(ValueError, match="reading precision"):
        Line("q", 1.0, 0.1, published=1.2)
    assert Line("q", 1.0, 0.01, published=1.1, precision=0.07).agrees  # 0.1 <= 0.07 + 0.04
    assert not Line("q", 1.0, 0.01, published=1.2, precision=0.07).agrees
    assert Line("q", 1.0, 0.01, published=1.2, precision=0.07).verdict == "published DIFFERS"


def test_deterministic_lines_and_explained_disagreements():
    assert Line("q", 2.0, 0.0, theory=2.0).agrees
    assert not Line("q", 2.0, 0.0, theory=2.0 + 1e-6).agrees
    bad = Line("q", 2.0, 0.0, theory=3.0, explained="the paper's Eq. 5 drops a factor 2/3")
    assert not bad.agrees and bad.passed and "explained" in bad.verdict
    assert not Line("q", math.nan, 0.1, theory=1.0).agrees
    with pytest.raises(ValueError, match="rule"):
        Line("q", 1.0, 0.1, theory=1.0, rule="two-sided")


def test_registry_refuses_an_incomplete_reproduction():
    class NoFigure(papers.Reproduction):
        name, paper, figure_ref, citation, setup = "x", "p", "f", "c", "s"

        def compute(self, key, scale):
            return papers.Result(self.name, scale, [])

    with pytest.raises(TypeError, match="compute and figure"):
        papers.register(NoFigure)
    with pytest.raises(ValueError, match="nearest: 'shumailov2024_gaussian'"):
        papers.get("shumailov2024_gausian")


# --------------------------------------------------------------------------- the command line
def test_reproduce_list_names_every_reproduction(capsys):
    assert cli_main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for name in papers.names():
        assert name in out
    assert out.splitlines()[0].split() == ["name", "paper", "figure", "full", "scale"]


@pytest.mark.parametrize("argv, message", [
    (["reproduce", "shumailov2024_gausian"], "nearest: 'shumailov2024_gaussian'"),
    (["reproduce", "shumailov2024_gaussian", "--scale", "0"], "--scale must be > 0"),
    (["reproduce", "shumailov2024_gaussian", "--scale", "-1"], "--scale must be > 0"),
    (["reproduce", "shumailov2024_gaussian", "--scale", "nan"], "--scale must be > 0"),
    (["reproduce"], "name a reproduction or give --all"),
    (["reproduce", "--all", "shumailov2024_gaussian"], "not both"),
    (["reproduce", "--al"], "did you mean '--all'"),
])
def test_reproduce_bad_input_is_one_line_exit_2_nothing_written(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli_main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


class _Coin(papers.Reproduction):
    """A tiny reproduction for the command-line tests: the mean of fair coin flips, in numpy (no compile)."""

    name, paper, figure_ref = "zz_test_coin", "a test", "none"
    citation, setup = "tests/test_papers.py", "the mean of 400 fair coin flips per chain"
    floor = 0.5
    bias = 0.0  # a wrong theory when set

    def compute(self, key, scale):
        import numpy as np

        chains = papers.scaled(200, scale)
        x = np.random.default_rng(0).integers(0, 2, size=(chains, 400)).mean(axis=1)
        line = Line("mean of the flips", x.mean(), x.std(ddof=1) / np.sqrt(chains), theory=0.5 + self.bias)
        return papers.Result(self.name, scale, [line], columns={"chain": np.arange(chains), "mean": x})

    def figure(self, result):
        from matplotlib.figure import Figure

        fig = Figure()
        fig.subplots().hist(result.columns["mean"])
        return fig


@pytest.fixture
def coin():
    repro = papers.register(_Coin())
    yield repro
    papers.unregister(repro.name)


def test_reproduce_writes_figure_report_and_csvs(coin, tmp_path):
    out = tmp_path / "r"
    assert cli_main(["reproduce", coin.name, "--scale", "1", "--out", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{coin.name}.png", "report.txt", "report.csv",
                                                            "curves.csv"])
    report = (out / "report.txt").read_text()
    assert "1/1 lines agree" in report and "NOT REPRODUCED" not in report and "WARNING" not in report
    rows = (out / "report.csv").read_text().splitlines()
    assert rows[0].startswith("quantity,ours,se,theory") and len(rows) == 2
    assert len((out / "curves.csv").read_text().splitlines()) == 1 + 200
    # below the floor the report warns
    out2 = tmp_path / "r2"
    assert cli_main(["reproduce", coin.name, "--scale", "0.1", "--out", str(out2), "--quiet"]) == 0
    assert "statistical floor" in (out2 / "report.txt").read_text()
    # an occupied output folder is refused without --force
    assert cli_main(["reproduce", coin.name, "--out", str(out), "--quiet"]) == 2


def test_a_disagreement_exits_1_and_says_so(coin, tmp_path, monkeypatch):
    monkeypatch.setattr(coin, "bias", 0.2)
    out = tmp_path / "r"
    assert cli_main(["reproduce", coin.name, "--out", str(out), "--quiet"]) == 1
    assert "NOT REPRODUCED" in (out / "report.txt").read_text()


def test_reproduce_all_writes_one_folder_each_and_a_summary(coin, tmp_path, monkeypatch):
    # --all over a registry holding only the coin (the real reproductions run below, one test each)
    monkeypatch.setattr(papers._base._REGISTRY, "entries", {coin.name: coin})
    monkeypatch.setattr(papers._base._REGISTRY, "discovered", True)
    out = tmp_path / "all"
    assert cli_main(["reproduce", "--all", "--out", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([coin.name, "summary.txt"])
    assert "REPRODUCED" in (out / "summary.txt").read_text()


# --------------------------------------------------------------------------- every reproduction
@pytest.mark.parametrize("name", [nm if not papers.get(nm).heavy else pytest.param(nm, marks=pytest.mark.slow)
                                  for nm in papers.names()])
def test_reproduction_agrees_at_its_floor(name):
    """Each reproduction at the smallest scale whose standard errors judge agreement: every line agrees with its
    theory (|z| < 4) and published value, or explains why not; the figure draws."""
    import matplotlib.pyplot as plt

    repro = papers.get(name)
    result = repro.run(jax.random.key(0), repro.floor)
    assert result.lines, f"{name} reports no quantity"
    assert not result.warnings
    failing = [ln.quantity + ": " + ln.verdict for ln in result.lines if not ln.passed]
    assert not failing, f"{name}: {failing}"
    plt.close(repro.figure(result))


@pytest.mark.slow
@pytest.mark.parametrize("name", papers.names())
def test_reproduction_at_full_scale_within_ten_minutes(name, tmp_path):
    """The full-scale run through the command line agrees and finishes in under 10 minutes on this CPU."""
    env = {**os.environ, "JAXCOLLAPSE_PROGRESS": ""}
    proc = subprocess.run([sys.executable, "-m", "jaxcollapse.cli", "reproduce", name, "--out", str(tmp_path / "o"),
                           "--quiet"], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
