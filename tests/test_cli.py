"""The command line: `jaxcollapse run | verify | bench` (the Gaussian family), run in-process through `main(argv)`.

The other families' runs, and the generic bad-input rules, are in `test_recipes.py`. Sizes are tiny
(200 chains, 5 generations) and shared, so the compiled programs are reused across tests.
Statistical assertions: the table's z-scores compare exact finite-n closed forms with means over
200 chains (fixed seed 0); every |z| must stay below 4 (12 comparisons; for normal z the chance of
any exceeding 4 is under 0.1%).
"""

from __future__ import annotations

import csv
import math
import shutil
import subprocess
import sys
import tomllib

import numpy as np
import pytest
from conftest import load_npz, run_cli

from jaxcollapse import cli, recipes

SMALL = ["--chains", "200", "--generations", "5"]
FILES = {"results.npz", "summary.csv", "chains_replace_trace.csv", "chains_accumulate_trace.csv",
         "chains_fresh_trace.csv", "config.toml", "table.txt", "variance.png"}
ONE = {"results.npz", "summary.csv", "chains_replace_trace.csv", "config.toml", "table.txt", "variance.png"}
GAUSSIAN = recipes.get("gaussian")


def _table_rows(text: str) -> list[list[str]]:
    """Data rows of the printed table, split on runs of two or more spaces."""
    import re

    rows = []
    for line in text.splitlines():
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) == 6 and parts[0] in ("replace", "accumulate", "fresh") and parts[2].isdigit():
            rows.append(parts)
    return rows


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The default experiment at a tiny size (regimes replace, accumulate, fresh; n = 100)."""
    out = tmp_path_factory.mktemp("cli") / "out"
    code, stdout, stderr = run_cli(["run", *SMALL, "--out", str(out)])
    return out, code, stdout, stderr


def test_run_writes_every_file(default_run):
    out, code, _, stderr = default_run
    assert code == 0, stderr
    assert {p.name for p in out.iterdir()} == FILES
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_png_opens(default_run):
    import matplotlib.image

    out = default_run[0]
    img = matplotlib.image.imread(out / "variance.png")
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 200
    assert np.ptp(img[..., :3]) > 0.5  # not a blank canvas


def test_results_npz_and_summary_csv_agree(default_run):
    out = default_run[0]
    z = load_npz(out / "results.npz")
    for regime in ("replace", "accumulate", "fresh"):
        np.testing.assert_array_equal(z[f"{regime}/generation"], np.arange(6))
        assert z[f"{regime}/mean/trace"].shape == (6,)
        assert z[f"{regime}/q0.5/trace"].shape == (6,)
        assert z[f"{regime}/mean/trace"][0] == 1.0  # generation 0 is the truth N(0, 1)
    with (out / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["generation"]) for r in rows] == list(range(6))
    for regime in ("replace", "accumulate", "fresh"):
        for m in ("trace", "mean_sq_err", "log_det_ratio"):
            col = np.array([float(r[f"{regime}/{m}/mean"]) for r in rows])
            np.testing.assert_allclose(col, z[f"{regime}/mean/{m}"], rtol=1e-6)
            col = np.array([float(r[f"{regime}/{m}/std"]) for r in rows])
            np.testing.assert_allclose(col, z[f"{regime}/std/{m}"], rtol=1e-6)


def test_chains_csv_per_regime(default_run):
    """One per-chain CSV per regime: the comment line `forecast` reads, the header, one row per generation."""
    out = default_run[0]
    z = load_npz(out / "results.npz")
    for regime in ("replace", "accumulate", "fresh"):
        path = out / f"chains_{regime}_trace.csv"
        lines = path.read_text().splitlines()
        assert lines[0] == f"# jaxcollapse family=gaussian regime={regime} metric=trace model=spread n=100"
        header = lines[1].split(",")
        assert header[:3] == ["generation", "chain_0", "chain_1"] and len(header) == 201
        data = np.loadtxt(path, delimiter=",", skiprows=2)
        assert data.shape == (6, 201)
        np.testing.assert_array_equal(data[:, 0], np.arange(6))
        np.testing.assert_array_equal(data[0, 1:], 1.0)
        # 200 chains <= paths_chains: these are all the chains of the run, whose mean is in results.npz
        np.testing.assert_allclose(data[:, 1:].mean(axis=1), z[f"{regime}/mean/trace"], rtol=1e-5)


def test_config_toml_is_the_resolved_config_and_reproduces_the_run(default_run, tmp_path):
    out = default_run[0]
    conf = tomllib.loads((out / "config.toml").read_text())
    assert conf["regimes"] == ["replace", "accumulate", "fresh"]
    assert (conf["n"], conf["chains"], conf["generations"], conf["seed"]) == (100, 200, 5, 0)
    assert conf["family"] == "gaussian"
    assert conf["gaussian"] == {"dim": 1, "estimator": "mle", "mean": 0.0, "variance": 1.0}
    again = tmp_path / "again"
    code, _, err = run_cli(["run", "--config", str(out / "config.toml"), "--out", str(again)])
    assert code == 0, err
    a, b = load_npz(out / "results.npz"), load_npz(again / "results.npz")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    for name in ("summary.csv", "chains_replace_trace.csv", "chains_fresh_trace.csv", "config.toml"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_table_theory_and_z(default_run):
    out, _, stdout, _ = default_run
    assert stdout.strip() == (out / "table.txt").read_text().strip()
    rows = _table_rows(stdout)
    assert len(rows) == 3 * 2 * 2  # regimes x (trace, mean_sq_err) x t in (1, G = 5)
    assert {int(r[2]) for r in rows} == {1, 5}
    z = load_npz(out / "results.npz")
    theory = {}
    for regime, metric, t, th, sim, zs in rows:
        t = int(t)
        mean, se = (float(x) for x in sim.split(" ± "))
        np.testing.assert_allclose(mean, z[f"{regime}/mean/{metric}"][t], rtol=1e-5)
        np.testing.assert_allclose(se, z[f"{regime}/std/{metric}"][t] / math.sqrt(200), rtol=1e-2)
        if th == "—":
            continue
        theory[regime, metric, t] = float(th)
        assert abs(float(zs)) < 4.0, (regime, metric, t, zs)
        np.testing.assert_allclose(float(zs), (mean - float(th)) / se, atol=0.02)
    n = 100
    for t in (1, 5):
        # replace, MLE: E sigma_t^2 = (1 - 1/n)^t and E (mu_t - mu)^2 = 1 - (1 - 1/n)^t
        assert theory["replace", "trace", t] == pytest.approx((1 - 1 / n) ** t, rel=1e-5)
        assert theory["replace", "mean_sq_err", t] == pytest.approx(1 - (1 - 1 / n) ** t, rel=1e-5)
        for regime in ("accumulate", "fresh"):  # conservation of E[(mu_t - mu)^2 + sigma_t^2] = sigma^2
            assert theory[regime, "trace", t] + theory[regime, "mean_sq_err", t] == pytest.approx(1.0, rel=1e-5)
    # generation 1 is fit on draws of the truth: n = 100 (accumulate), n_real + n = 200 (fresh)
    assert theory["accumulate", "mean_sq_err", 1] == pytest.approx(1 / n, rel=1e-5)
    assert theory["fresh", "mean_sq_err", 1] == pytest.approx(1 / (2 * n), rel=1e-5)


def test_defaults_and_the_meaning_of_fresh():
    p = GAUSSIAN.resolve({})
    assert (p["n"], p["chains"], p["generations"], p["regimes"]) == (100, 2000, 100, ("replace", "accumulate", "fresh"))
    # fresh: n_real (default n) real samples on top of the n synthetic ones
    reg = GAUSSIAN.build({**p, "regime": "fresh"})[2]
    assert (reg.real, reg.n_real, int(reg.synthetic_count(1))) == ("fresh", 100, 100)


def test_toml_config_and_flag_override(tmp_path):
    conf = tmp_path / "exp.toml"
    conf.write_text('regimes = ["replace"]\nn = 50\nchains = 200\ngenerations = 5\nseed = 3\n'
                    '[gaussian]\nvariance = 2.0\n')
    out = tmp_path / "out"
    code, stdout, err = run_cli(["run", "--config", str(conf), "--n", "20", "--out", str(out)])
    assert code == 0, err
    resolved = tomllib.loads((out / "config.toml").read_text())
    assert (resolved["n"], resolved["seed"], resolved["regimes"]) == (20, 3, ["replace"])  # flag beats file
    assert resolved["gaussian"]["variance"] == 2.0
    z = load_npz(out / "results.npz")
    assert {k.split("/")[0] for k in z} == {"replace", "theory"}
    assert z["replace/mean/trace"][0] == pytest.approx(2.0)
    # the theory curve follows the resolved n = 20 and sigma^2 = 2
    np.testing.assert_allclose(z["theory/replace/trace"], 2.0 * (1 - 1 / 20) ** np.arange(6), rtol=1e-6)


def test_refuses_non_empty_output_unless_forced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    argv = ["run", *SMALL, "--regime", "replace", "--out", str(out)]
    code, _, err = run_cli(argv)
    assert code == 2 and len(err.splitlines()) == 1 and "--force" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    code, _, err = run_cli(argv + ["--force"])
    assert code == 0, err
    assert {p.name for p in out.iterdir()} == ONE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing left beside it


def test_empty_existing_output_folder_is_used(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = run_cli(["run", *SMALL, "--regime", "replace", "--out", str(out)])
    assert code == 0, err
    assert {p.name for p in out.iterdir()} == ONE


def test_quiet_prints_nothing(tmp_path):
    code, stdout, err = run_cli(["run", *SMALL, "--regime", "replace", "--quiet", "--out", str(tmp_path / "q")])
    assert code == 0 and stdout == "" and err == ""
    assert {p.name for p in (tmp_path / "q").iterdir()} == ONE


@pytest.mark.slow  # float64 is exercised by every verify check; kept out of the 10-minute suite
def test_x64_writes_float64(tmp_path):
    code, _, err = run_cli(["run", *SMALL, "--regime", "replace", "--x64", "--out", str(tmp_path / "o")])
    assert code == 0, err
    z = load_npz(tmp_path / "o" / "results.npz")
    assert z["replace/mean/trace"].dtype == np.float64


def _bad_toml(tmp_path, text):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    return ["--config", str(p)]


BAD = {
    "unbiased n=1": (["--estimator", "unbiased", "--n", "1"], "unbiased"),
    "lam < 0": (["--lam", "-0.5"], "lam must be a number >= 0"),
    "w < 0": (["--w", "-0.1"], "w must be a number in [0, 1]"),
    "tau = 0": (["--temperature", "0"], "temperature must be a number > 0"),
    "tau < 0": (["--temperature", "-1"], "temperature"),
    "generations 0": (["--generations", "0"], "generations = 0 is invalid"),
    "chains 0": (["--chains", "0"], "chains must be an integer >= 1"),
    "dim 0": (["--dim", "0"], "dim"),
    "seed < 0": (["--seed", "-1"], "seed"),
    "unknown regime": (["--regime", "replce"], "did you mean 'replace'"),
    "duplicate regime": (["--regime", "replace", "replace"], "twice"),
    "unknown family": (["--family", "gausian"], "did you mean 'gaussian'"),
    "unknown metric": (["--metrics", "variance"], "unknown metric"),
    "unknown estimator": (["--estimator", "bayes"], "estimator must be one of"),
    "unknown path": (["--path", "fast"], "path"),
    "subsample on exact path": (["--regime", "accumulate_subsample"], "--path samples"),
    "n_real 0": (["--regime", "fresh", "--n-real", "0"], "n_real"),
    "not an int": (["--n", "abc"], "invalid int"),
    "unknown flag": (["--generatoins", "3"], "did you mean '--generations'"),
    "flag of another family": (["--vocab", "3"], "family gaussian has no option '--vocab'"),
    "missing config": (["--config", "/nonexistent/x.toml"], "not found"),
    "force on an ancestor": (["--out", "/", "--force"], "refusing to replace"),
    "devices beyond the machine": (["--devices", "64"], "--devices 64"),
    "malformed toml": (lambda p: _bad_toml(p, "n = = 3\n"), "malformed TOML"),
    "unknown toml key": (lambda p: _bad_toml(p, "chanis = 5\n"), "did you mean 'chains'"),
    "unknown table key": (lambda p: _bad_toml(p, "[gaussian]\nvarience = 2.0\n"), "did you mean 'variance'"),
    "unknown table": (lambda p: _bad_toml(p, "[gausian]\nmean = 1.0\n"), "did you mean 'gaussian'"),
    "another family's table": (lambda p: _bad_toml(p, "[ngram]\nvocab = 5\n"), "family 'ngram'"),
    "toml wrong type": (lambda p: _bad_toml(p, 'n = "many"\n'), "n must be an integer"),
    "toml float n": (lambda p: _bad_toml(p, "n = 100.5\n"), "n must be an integer"),
    "toml variance <= 0": (lambda p: _bad_toml(p, "[gaussian]\nvariance = -1.0\n"), "variance"),
    "toml lam": (lambda p: _bad_toml(p, "lam = -2.0\n"), "lam"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_one_line_exit_2_nothing_written(case, tmp_path, no_run):
    extra, expect = BAD[case]
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    extra = extra(cfg_dir) if callable(extra) else extra
    work = tmp_path / "work"
    work.mkdir()
    code, stdout, err = run_cli(["run", *SMALL, "--out", str(work / "out"), *extra])
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("jaxcollapse: error: ") and expect in lines[0], lines[0]
    assert stdout == ""
    assert list(work.iterdir()) == []  # no output folder, no temporary sibling


def test_no_command_and_help():
    code, _, err = run_cli([])
    assert code == 2 and len(err.splitlines()) == 1
    code, stdout, _ = run_cli(["run", "--help"])
    assert code == 0 and "--generations" in stdout
    code, _, err = run_cli(["frobnicate"])
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("jaxcollapse: error: ")


def test_bench_passes_arguments_through(tmp_path, monkeypatch, capfd):
    script = tmp_path / "bench_gaussian.py"
    script.write_text("import sys\nprint('ARGS', sys.argv[1:])\nsys.exit(3)\n")
    from jaxcollapse.cli import bench

    monkeypatch.setattr(bench, "bench_script", lambda: script)
    assert cli.main(["bench", "--quick", "--n", "7"]) == 3  # the script's exit status
    assert "ARGS ['--quick', '--n', '7']" in capfd.readouterr().out  # the child writes to fd 1
    monkeypatch.setattr(bench, "bench_script", lambda: tmp_path / "missing.py")
    code, _, err = run_cli(["bench"])
    assert code == 2 and len(err.splitlines()) == 1 and "not found" in err


def test_one_default_output_folder_pattern(tmp_path, monkeypatch):
    """run, sweep and forecast write to jaxcollapse_<name>_out by default (issue 14: three patterns before); their
    --help says so. The run is a real one, tiny, in an empty working folder."""
    from jaxcollapse.cli._common import default_out

    assert default_out("gaussian") == "jaxcollapse_gaussian_out"
    for cmd, shown in (("sweep", "jaxcollapse_sweep_<config name>_out"), ("forecast", "jaxcollapse_forecast_out")):
        code, stdout, _ = run_cli([cmd, "--help"])
        assert code == 0 and shown in " ".join(stdout.split()), stdout
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["run", "--family", "poisson", "--regime", "replace", "--chains", "8", "--generations", "2",
                            "--quiet"])
    assert code == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["jaxcollapse_poisson_out"]


def test_console_script_help_imports_no_jax():
    """The installed console script and ``python -m jaxcollapse.cli`` answer --help, without importing JAX."""
    exe = shutil.which("jaxcollapse")
    assert exe is not None, "the jaxcollapse console script is not installed (pip install -e .)"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    assert "run" in out.stdout and "verify" in out.stdout
    probe = ("import sys, contextlib, io\n"
             "from jaxcollapse.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()) as f:\n"
             "    code = main(['run', '--family', 'poisson', '--help'])\n"
             "assert code == 0, code\n"
             "print('JAX' if 'jax' in sys.modules else 'NOJAX')\n"
             "print(f.getvalue())\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    first, help_text = out.stdout.split("\n", 1)
    assert first == "NOJAX"
    assert "--rate" in help_text and "default: 10" in help_text  # the family's flags, with defaults
    assert "--top-p" not in help_text and "--temperature" not in help_text  # none of another family's
    assert "_cli" not in help_text and "jaxcollapse." not in help_text  # no private module names


# --------------------------------------------------------------------------- verify
def _verify_module():
    from jaxcollapse import verify

    return verify


def test_verify_list_and_one_check():
    V = _verify_module()
    code, stdout, err = run_cli(["verify", "--list"])
    assert code == 0, err
    listed = [line.split()[0] for line in stdout.splitlines() if line.strip()]
    assert listed == list(V.REGISTRY)
    name = next(iter(V.REGISTRY))
    code, stdout, err = run_cli(["verify", "--check", name, "--scale", "0.05"])
    assert code == 0, (stdout, err)
    last = stdout.strip().splitlines()[-1]
    assert "comparisons passed in 1 checks" in last and last.endswith("all passed")
    assert name in stdout


def test_verify_bad_input():
    V = _verify_module()
    name = next(iter(V.REGISTRY))
    for argv, expect in ((["verify", "--check", name + "x"], "unknown check"),
                         (["verify", "--scale", "0"], "--scale"),
                         (["verify", "--family", "gausian"], "unknown family")):
        code, _, err = run_cli(argv)
        assert code == 2 and len(err.splitlines()) == 1 and expect in err, err


# --------------------------------------------------------------------------- theory overlays
def test_theory_curves_where_a_closed_form_exists():
    """The overlays' wiring: which (regime, estimator, tau, drift) get a curve, checked against values
    derived here independently (generation 1 is fit on draws of the truth; conservation for the MLE)."""
    t = np.arange(11)
    base = dict(n=10, generations=10, dim=2, variance=1.5)  # tr Sigma = 3

    def curves(name, **kw):
        return GAUSSIAN.theory({**GAUSSIAN.resolve({**base, **kw}), "regime": name}, 10)

    c = curves("replace", estimator="unbiased")
    np.testing.assert_allclose(c["trace"], 3.0)  # a martingale
    np.testing.assert_allclose(c["mean_sq_err"], 3.0 * t / 10, rtol=1e-12)  # sigma^2 sum_{i<=t} 1/n
    c = curves("replace")
    np.testing.assert_allclose(c["trace"], 3.0 * 0.9**t, rtol=1e-12)
    np.testing.assert_allclose(c["mean_sq_err"], 3.0 * (1 - 0.9**t), rtol=1e-12)
    c = curves("replace", temperature=0.9)  # each generation scales E sigma^2 by tau^2 (1 - 1/n)
    np.testing.assert_allclose(c["trace"], 3.0 * (0.81 * 0.9) ** t, rtol=1e-12)
    assert c["mean_sq_err"][1] == pytest.approx(0.81 * 3.0 / 10, rel=1e-12)
    # MLE with real data mixed in: conservation, and generation 1 fit on draws of the truth only
    for name, kw, first in (("accumulate", {}, 3.0 / 10),
                            ("fresh", {"n_real": 4}, 3.0 / 14),  # 4 real + 10 synthetic draws of the truth, pooled
                            ("augment", {"lam": 0.5}, 3.0 / 15),  # 10 real + 5 synthetic, pooled
                            ("weighted", {"w": 0.25, "n_real": 5}, 3.0 * (0.25**2 / 5 + 0.75**2 / 10))):
        # weighted: w xbar_r + (1 - w) xbar_s with 5 real and 10 synthetic draws
        c = curves(name, **kw)
        np.testing.assert_allclose(c["trace"] + c["mean_sq_err"], 3.0, rtol=1e-12)
        assert c["mean_sq_err"][0] == 0.0
        assert c["mean_sq_err"][1] == pytest.approx(first, rel=1e-12), name
    c = curves("replace", estimator="mean")  # variance known: the mean is a random walk
    assert set(c) == {"mean_sq_err"}
    np.testing.assert_allclose(c["mean_sq_err"], 3.0 * t / 10, rtol=1e-12)
    # no closed form: "—"
    assert curves("accumulate", estimator="unbiased") == {}
    assert curves("accumulate", temperature=0.9) == {}
    assert curves("replace", estimator="unbiased", temperature=0.9) == {}
    assert curves("augment", lam=0.0) == {}  # no synthetic data at all
    # a drifting truth (v per coordinate, |v|^2 = d v^2): the yardstick moves, the variance's law does not
    c = curves("replace", drift=0.1)
    np.testing.assert_allclose(c["trace"], 3.0 * 0.9**t, rtol=1e-12)
    np.testing.assert_allclose(c["mean_sq_err"], 3.0 * (1 - 0.9**t) + 2 * 0.01 * t**2, rtol=1e-12)
    assert set(curves("accumulate", drift=0.1)) == {"trace"}
    assert curves("fresh", drift=0.1) == {}  # the real data follow the truth: no MLE formula
    assert set(curves("fresh", drift=0.1, estimator="mean")) == {"mean_sq_err"}


@pytest.mark.slow
@pytest.mark.parametrize("extra", [["--estimator", "mle"], ["--estimator", "mle", "--drift", "0.05"],
                                   ["--estimator", "mle", "--temperature", "1.05"], ["--estimator", "unbiased"],
                                   ["--estimator", "mean"], ["--estimator", "mean", "--drift", "0.05"]])
def test_every_overlay_agrees_with_simulation(extra, tmp_path):
    """Every theory curve the table shows, against 20,000 chains: |z| < 4 on each row (fixed seed)."""
    argv = ["run", "--chains", "20000", "--generations", "20", "--n", "20", "--n-real", "8", "--lam", "0.6",
            "--w", "0.3", "--regime", "replace", "accumulate", "fresh", "augment", "weighted",
            "--metrics", "trace", "mean_sq_err", "--out", str(tmp_path / "o"), *extra]
    code, stdout, err = run_cli(argv)
    assert code == 0, err
    rows = [r for r in _table_rows_any(stdout) if r[5] != "—"]
    assert rows  # every configuration here has at least one closed form
    for regime, metric, t, _, _, z in rows:
        assert abs(float(z)) < 4.0, (regime, metric, t, z)


def _table_rows_any(text: str) -> list[list[str]]:
    import re

    return [p for p in (re.split(r"\s{2,}", line.strip()) for line in text.splitlines())
            if len(p) == 6 and p[2].isdigit()]
