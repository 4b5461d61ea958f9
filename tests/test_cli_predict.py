"""`jaxcollapse forecast --covariates FILE.csv` and `jaxcollapse predict CONFIG.toml` (`jaxcollapse/cli/predict.py`).

Every command runs in-process (`conftest.run_cli`). One tiny design shape serves every fit of this file (20
training rows x 3 covariates, the columns `jaxcollapse.predict` measures for the kde family: one_step, ln_n,
ln_h), with one NUTS setting (`SAMPLER`): the shape and settings of tests/test_covariates.py, so the
hierarchical model compiles once per session (the suite's persistent compilation cache shares it).

The tiny design is drawn from a known law with numpy, independent of the code under test: ln kappa = B0 +
B_ONE * one_step + B_H * ln_h exactly, and each training row holds the pooled sums (count, sum_log, sum_ratio) of
PAIRS exact log ratios y = ln kappa + ln(chi2_{n-1}/n) (the spread model's law with n_eff = n; fixed seed), so
its true rate is r = r_sample(n) - ln kappa with r_sample(n) = -psi((n - 1)/2) - ln(2/n). A row to predict has
the same law; its true rate must lie in the predicted 90% interval (a loose check, stated as such: it fails
when the command predicts the wrong row, reads the covariates in the wrong order or flips a sign).

Bad input: one line on stderr starting ``jaxcollapse: error:``, exit status 2, nothing on stdout, no output
folder (nor a temporary sibling), and no compute (`bayes.fit_covariates` and `jaxcollapse.predict.measure` fail
the test if reached).
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import load_npz, run_cli
from scipy.special import digamma

from jaxcollapse import bayes, recipes
from jaxcollapse.recipes import Recipe, run_params

ROOT = Path(__file__).resolve().parents[1]
SAMPLER = ["--num-warmup", "150", "--num-samples", "200", "--num-chains", "1"]  # test_covariates.SAMPLER
B0, B_ONE, B_H, PAIRS = -0.02, -0.5, 0.05, 200
COLUMNS = ("one_step", "ln_n", "ln_h")
# label, n, one_step, ln_h: 20 training rows, every covariate varying (drawn once with a fixed seed)
_R = np.random.default_rng(5)
TRAIN = [(f"t{i}", int(n), float(o), float(h)) for i, (n, o, h) in enumerate(zip(
    _R.choice([20, 30, 40, 60, 80], 20), _R.uniform(0.02, 0.2, 20), _R.uniform(-1.0, -0.3, 20), strict=True))]
MID = ("mid", 50, 0.09, -0.65)  # inside the design's range
FAR = ("far", 50, 0.90, -0.65)  # one_step far beyond it: an extrapolation warning naming the column
OUT_FILES = {"summary.txt", "predictions.csv", "posterior.npz", "predictions.png"}


def r_sample(n: float) -> float:
    return float(-(digamma(0.5 * (n - 1.0)) + math.log(2.0 / n)))


def true_rate(n: float, one_step: float, ln_h: float) -> float:
    return r_sample(n) - (B0 + B_ONE * one_step + B_H * ln_h)


def write_design(path: Path, train=TRAIN, predict=(MID, FAR), family: str | None = None, edit=None) -> Path:
    """The tiny design (module docstring) as a CSV; `edit(rows)` may change the rows (lists of strings) first."""
    rng = np.random.default_rng(17)
    rows = []
    for lab, n, one, h in train:
        y = (B0 + B_ONE * one + B_H * h) + np.log(rng.chisquare(n - 1, PAIRS) / n)
        rows.append([lab, str(n), repr(one), repr(math.log(n)), repr(h), str(PAIRS), repr(float(y.sum())),
                     repr(float(np.exp(y).sum()))])
    rows += [[lab, str(n), repr(one), repr(math.log(n)), repr(h), "", "", ""] for lab, n, one, h in predict]
    if edit is not None:
        edit(rows)
    lines = ([f"# family={family}"] if family else []) + ["label,n," + ",".join(COLUMNS) + ",count,sum_log,sum_ratio"]
    path.write_text("\n".join(lines + [",".join(r) for r in rows]) + "\n")
    return path


@pytest.fixture
def no_compute(monkeypatch):
    """Fail the test if a fit or a measurement starts: bad input must be found before any compute."""
    from jaxcollapse import predict as P

    def boom(*a, **k):
        raise AssertionError("compute started: the bad input was not caught first")

    monkeypatch.setattr(bayes, "fit_covariates", boom)
    monkeypatch.setattr(P, "measure", boom)


def _quantiles_row(lines: list[str], label: str) -> dict[str, str]:
    head = next(ln for ln in lines if ln.startswith("label,")).split(",")
    row = next(ln for ln in lines if ln.startswith(label + ",")).split(",")
    return dict(zip(head, row, strict=True))


# --------------------------------------------------------------------------- forecast --covariates
class _UnreliablePredict(Recipe):
    """A recipe of this test only, marked unreliable (never built: only its flag is read)."""

    name = "test_unreliable_predict"
    params = run_params(n=20, generations=5, chains=4, drift=False)
    metric_names = ("spread",)
    headline = ("spread",)
    bayes = "spread"
    forecast_reliable = False
    forecast_caveat = "measured 90% coverage 0.41 +- 0.02 (a test recipe)"

    def build(self, params):
        raise NotImplementedError


CAVEAT = (f"the forecast of family '{_UnreliablePredict.name}' is marked unreliable: "
          f"{_UnreliablePredict.forecast_caveat}")


def spied_forecast(design, out, horizon: int):
    """``forecast --covariates design --out out``, keeping the figures it drew and its fits as (design, keywords,
    posterior): `(out, code, stdout, stderr, figures, fits)`."""
    from jaxcollapse.cli import predict as cp

    figures, draw = [], cp.figure
    fits, fit = [], bayes.fit_covariates

    def keep(*a, **k):
        figures.append(draw(*a, **k))
        return figures[-1]

    def record(design, **kw):
        fits.append((design, kw, fit(design, **kw)))
        return fits[-1][2]

    cp.figure, bayes.fit_covariates = keep, record
    try:
        code, stdout, err = run_cli(["forecast", "--covariates", str(design), "--out", str(out), "--horizon",
                                     str(horizon), *SAMPLER])
    finally:
        cp.figure, bayes.fit_covariates = draw, fit
    return out, code, stdout, err, figures, fits


@pytest.fixture(scope="module")
def covariate_run(tmp_path_factory):
    """One ``forecast --covariates`` run (one fit) on the tiny design, whose ``# family=`` is a recipe marked
    unreliable; the figure it drew is kept."""
    folder = tmp_path_factory.mktemp("cov")
    design = write_design(folder / "design.csv", family=_UnreliablePredict.name)
    recipes.register(_UnreliablePredict)
    try:
        return spied_forecast(design, folder / "out", 60)
    finally:
        recipes.unregister(_UnreliablePredict.name)


def test_forecast_covariates_writes_its_files_and_predicts_the_held_out_rows(covariate_run):
    out, code, stdout, err, _, _ = covariate_run
    assert code == 0, err
    assert {p.name for p in out.iterdir()} == OUT_FILES
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
    text = (out / "summary.txt").read_text()
    assert stdout.startswith(text.rstrip("\n"))
    assert "20 configurations to learn from, 2 to predict" in text
    for c in COLUMNS:  # the fitted coefficients
        assert f"beta[{c}]" in text
    z = load_npz(out / "posterior.npz")
    assert z["rate"].shape[1] == 2 and list(z["labels"]) == ["mid", "far"]
    assert z["crossing"].shape == z["rate"].shape
    lines = (out / "predictions.csv").read_text().splitlines()
    for j, (lab, n, one, h) in enumerate((MID, FAR)):
        row = _quantiles_row(lines, lab)
        assert float(row["n"]) == n and float(row["one_step"]) == pytest.approx(one)
        q = [float(row[f"rate_q{p:g}"]) for p in (0.05, 0.25, 0.5, 0.75, 0.95)]
        np.testing.assert_allclose(q, np.quantile(z["rate"][:, j], [0.05, 0.25, 0.5, 0.75, 0.95]), rtol=1e-6)
        assert q == sorted(q)
        truth = true_rate(n, one, h)
        assert q[0] <= truth <= q[-1], (lab, q, truth)  # the truth inside the 90% interval (module docstring)
        c = z["crossing"][:, j]
        assert float(row["p_cross"]) == pytest.approx(np.mean(np.isfinite(c)))
        # the crossing of 0.1 x the start by a rate r happens near ln(10) / r generations
        assert float(row["crossing_q0.5"]) == pytest.approx(math.log(10) / float(row["rate_q0.5"]), rel=0.35)


def test_forecast_covariates_warns_of_extrapolation_in_every_output(covariate_run):
    out, _, stdout, _, (fig,), _ = covariate_run
    warn = "column 'one_step' = 0.9 is outside the training range"
    assert f"far: {warn}" in stdout and f"far: {warn}" in (out / "summary.txt").read_text()
    assert "mid: column" not in stdout  # the row inside the range gets none
    first = [ln for ln in (out / "predictions.csv").read_text().splitlines() if ln.startswith("#")]
    assert any(warn in ln for ln in first) and all(ln.startswith("# jaxcollapse forecast warning: ") for ln in first)
    assert any(warn in " ".join(t.get_text().split()) for t in fig.texts)


def test_an_unreliable_family_says_so_in_every_output(covariate_run):
    """The design's family is marked unreliable: the printed summary, summary.txt, the first line of
    predictions.csv and the figure (its title and its note) carry the caveat."""
    out, _, stdout, _, (fig,), _ = covariate_run
    assert f"warning: {CAVEAT}" in stdout and f"warning: {CAVEAT}" in (out / "summary.txt").read_text()
    assert (out / "predictions.csv").read_text().splitlines()[0] == f"# jaxcollapse forecast warning: {CAVEAT}"
    assert "FORECAST MARKED UNRELIABLE" in " ".join(fig._suptitle.get_text().split())
    assert any(CAVEAT in " ".join(t.get_text().split()) for t in fig.texts)


def test_forecast_covariates_png_opens(covariate_run):
    import matplotlib.image

    img = matplotlib.image.imread(covariate_run[0] / "predictions.png")
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 500
    assert np.ptp(img[..., :3]) > 0.5


def _nan_cell(rows):
    rows[2][4] = "nan"


def _constant(rows):
    for r in rows:
        r[4] = "-0.5"


BAD_COVARIATES = {
    "both": (lambda d: [str(d), "--covariates", str(d)], "not both"),
    "neither": (lambda d: [], "one of them"),
    "nan covariate": (lambda d: ["--covariates", str(write_design(d, edit=_nan_cell))], "column 'ln_h'"),
    "constant column": (lambda d: ["--covariates", str(write_design(d, edit=_constant))], "column 'ln_h' is constant"),
    "fewer rows than parameters": (lambda d: ["--covariates", str(write_design(d, train=TRAIN[:4]))],
                                   "4 training configuration(s)"),
    "missing file": (lambda d: ["--covariates", str(d.parent / "nope.csv")], "no such design file"),
    "model with covariates": (lambda d: ["--covariates", str(write_design(d)), "--model", "spread"],
                              "--model applies to a run's per-chain FILE"),
    "threshold 1": (lambda d: ["--covariates", str(write_design(d)), "--threshold", "1"], "--threshold must be"),
}


@pytest.mark.parametrize("case", list(BAD_COVARIATES))
def test_forecast_covariates_bad_input_one_line_exit_2_nothing_written(case, tmp_path, no_compute):
    inputs = tmp_path / "in"
    inputs.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    argv, expect = BAD_COVARIATES[case]
    code, stdout, err = run_cli(["forecast", *argv(inputs / "design.csv"), "--out", str(work / "out")])
    assert code == 2 and stdout == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxcollapse: error: ") and expect in lines[0], err
    assert list(work.iterdir()) == []


# --------------------------------------------------------------------------- predict CONFIG.toml
def _config(folder: Path, text: str, design: bool = True) -> Path:
    if design:
        write_design(folder / "tiny.csv", family="kde")
    p = folder / "config.toml"
    p.write_text(text)
    return p


TINY = ('family = "kde"\nn = 20\n\n[kde]\nbandwidth = "scott"\n\n[predict]\nfits = 8\ndesign = "tiny.csv"\n'
        "num_warmup = 150\nnum_samples = 200\nnum_chains = 1\n")  # SAMPLER's settings: the same compiled fit


MEASURED = {"one_step": 0.09, "ln_n": math.log(20), "ln_h": -0.65}  # what the stub of `measure` returns


def test_predict_a_config_with_a_tiny_design(tmp_path, monkeypatch, covariate_run):
    """The command's plumbing, cheap: `jaxcollapse.predict.measure` is replaced by a recorder, and
    `bayes.fit_covariates` by one that checks it gets the tiny design (named by a path relative to the config)
    with the config's NUTS settings and returns the posterior that `forecast --covariates` fitted to that same
    design (the real measure and fit: `test_predict_a_config_measures_it`, slow). The config's values and
    [predict] settings reach `measure`, its row is the prediction's input, and the prediction covers the design
    law's rate at that row."""
    from jaxcollapse import predict as P

    calls = []
    (d0, kw0, post), = covariate_run[5]

    def measure(recipe, values=None, *, key, fits=64):
        calls.append((recipe, dict(values), fits))
        return dict(MEASURED)

    def fit_covariates(design, **kw):
        for a in ("x", "n", "count", "sum_log", "sum_ratio"):
            np.testing.assert_array_equal(getattr(design, a), getattr(d0, a))
        assert {k: kw[k] for k in ("num_warmup", "num_samples", "num_chains")} == {
            k: kw0[k] for k in ("num_warmup", "num_samples", "num_chains")}
        calls.append("fit")
        return post

    monkeypatch.setattr(P, "measure", measure)
    monkeypatch.setattr(bayes, "fit_covariates", fit_covariates)
    cfg = _config(tmp_path, TINY)
    out = tmp_path / "out"
    code, stdout, err = run_cli(["predict", str(cfg), "--out", str(out), "--horizon", "40"])
    assert code == 0, err
    assert calls == [("kde", {"n": 20, "bandwidth": "scott"}, 8), "fit"]
    assert {p.name for p in out.iterdir()} == OUT_FILES
    text = (out / "summary.txt").read_text()
    assert "measured in 8 one-step fits" in text and "no recursion" in text and "one_step = 0.09" in text
    assert f"design: {tmp_path / 'tiny.csv'} (20 configurations)" in text
    row = _quantiles_row((out / "predictions.csv").read_text().splitlines(), "config")
    assert float(row["n"]) == 20 and {c: float(row[c]) for c in COLUMNS} == pytest.approx(MEASURED)
    z = load_npz(out / "posterior.npz")
    q = [float(row[f"rate_q{p:g}"]) for p in (0.05, 0.5, 0.95)]
    np.testing.assert_allclose(q, np.quantile(z["rate"][:, 0], [0.05, 0.5, 0.95]), rtol=1e-6)
    truth = true_rate(20, MEASURED["one_step"], MEASURED["ln_h"])
    assert q[0] <= truth <= q[-1], (q, truth)
    assert z["crossing"].shape == z["rate"].shape and np.all(z["crossing"][np.isfinite(z["crossing"])] <= 40)


@pytest.mark.slow
def test_predict_a_config_measures_it(tmp_path):
    """The same with the real `measure` (8 one-step kde fits): its covariates are the configuration's own (ln_n =
    ln 20; Scott's bandwidth about 1.06 n^-1/5 for unit variance, within the noise of 8 fits)."""
    cfg = _config(tmp_path, TINY)
    out = tmp_path / "out"
    code, stdout, err = run_cli(["predict", str(cfg), "--out", str(out)])
    assert code == 0, err
    row = _quantiles_row((out / "predictions.csv").read_text().splitlines(), "config")
    assert float(row["ln_n"]) == pytest.approx(math.log(20))
    assert abs(float(row["ln_h"]) - math.log(1.06 * 20 ** -0.2)) < 0.3
    assert np.isfinite(load_npz(out / "posterior.npz")["rate"]).all()


def _bad_predict(folder: Path, case: str) -> tuple[list[str], str]:
    table = TINY
    design = True
    if case == "unknown predict key":
        table = TINY.replace("fits = 8", "fitz = 8")
        expect = "did you mean 'fits'"
    elif case == "bad predict value":
        table = TINY.replace("fits = 8", "fits = 1")
        expect = "predict.fits must be an integer >= 2"
    elif case == "misspelt predict table":
        table = TINY.replace("[predict]", "[predcit]")
        expect = "did you mean 'predict'"
    elif case == "no family":
        table = TINY.replace('family = "kde"\n', "")
        expect = "no family key"
    elif case == "family without a design":
        table = 'family = "gaussian"\n\n[predict]\nfits = 8\n'
        expect = "family 'gaussian' has no design to predict from"
    elif case == "unknown family key":
        table = TINY.replace('bandwidth = "scott"', 'bandwith = "scott"')
        expect = "did you mean 'bandwidth'"
    elif case == "design of another family":
        table = TINY
        _config(folder, table)
        write_design(folder / "tiny.csv", family="mixture")
        design = False
        expect = "is a design of family 'mixture'"
    elif case == "design column not measured":
        _config(folder, table)
        (folder / "tiny.csv").write_text((folder / "tiny.csv").read_text().replace("ln_h", "width"))
        design = False
        expect = "column 'width' is not a covariate"
    elif case == "missing design":
        table = TINY.replace("tiny.csv", "gone.csv")
        expect = "no such design file"
    elif case == "value the shipped design holds fixed":
        table = 'family = "kde"\nn = 50\n\n[kde]\ndim = 2\n'
        design = False
        expect = "dim = 2 is outside the shipped kde design"
    elif case == "flag overrides badly":
        return [str(_config(folder, TINY)), "--horizon", "0"], "--horizon: horizon must be an integer >= 1"
    else:
        raise AssertionError(case)
    return [str(_config(folder, table, design=design))], expect


BAD_PREDICT = ["unknown predict key", "bad predict value", "misspelt predict table", "no family",
               "family without a design", "unknown family key", "design of another family",
               "design column not measured", "missing design", "value the shipped design holds fixed",
               "flag overrides badly"]


@pytest.mark.parametrize("case", BAD_PREDICT)
def test_predict_bad_input_one_line_exit_2_nothing_written(case, tmp_path, no_compute):
    inputs = tmp_path / "in"
    inputs.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    argv, expect = _bad_predict(inputs, case)
    code, stdout, err = run_cli(["predict", *argv, "--out", str(work / "out")])
    assert code == 2 and stdout == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxcollapse: error: ") and expect in lines[0], err
    assert list(work.iterdir()) == []


def test_predict_help_and_settings():
    code, stdout, _ = run_cli(["predict", "--help"])
    assert code == 0 and "[predict]" in stdout and "--design" in stdout
    from jaxcollapse.cli.predict import PREDICT_KEYS, predict_settings

    s = predict_settings({"fits": 16, "threshold": 0.5}, {"fits": 32, "seed": None}, "c.toml")
    assert s["fits"] == 32 and s["threshold"] == 0.5 and s["seed"] == 0 and set(s) == set(PREDICT_KEYS)


# --------------------------------------------------------------------------- the shipped examples
EXAMPLES = sorted((ROOT / "examples" / "predict").glob("*.toml"))


def test_every_predictable_family_has_an_example():
    from jaxcollapse import predict as P

    assert {p.stem for p in EXAMPLES} == set(P.PREDICTABLE)
    for p in EXAMPLES:
        conf = tomllib.loads(p.read_text())
        assert conf["family"] == p.stem and "predict" in conf


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_predicts(path, tmp_path):
    """`jaxcollapse predict examples/predict/<family>.toml` on the family's shipped design: it runs, writes its
    files and predicts a finite rate (an error family: a growth); the example's configuration is inside the
    design's range (no extrapolation warning)."""
    from jaxcollapse import predict as P

    out = tmp_path / "out"
    code, stdout, err = run_cli(["predict", str(path), "--out", str(out)])
    assert code == 0, err
    assert {p.name for p in out.iterdir()} == OUT_FILES
    assert "outside the training range" not in stdout
    z = load_npz(out / "posterior.npz")
    assert np.isfinite(z["growth" if P.model_of(path.stem) == "error" else "rate"]).all()


# --------------------------------------------------------------------------- an error family (growth model)
# The tiny error design (`write_error_design`): 20 training rows x 3 covariates (the columns `jaxcollapse.predict`
# measures for the transformer, whose design holds n fixed), the shape and NUTS settings of test_covariates.py's
# growth tests (one compiled program). Its law, drawn with numpy: ln g = one_step + G0 + G_W ln_width + G_L ln_lr
# exactly, one chain's increment sd s = exp(one_step + S0), a measured growth g + se z with se = 0.05 g, and a
# measured ln step_sd = ln s + N(0, 1/(2 * 95)) (96 increments). A row to predict has the same law; its true growth
# must lie in the predicted 90% interval (the same loose check as the spread design's).
G0, G_W, G_L, S0 = -0.4, 0.15, -0.1, 0.3
ERROR_COLUMNS = ("one_step", "ln_width", "ln_lr")
_E = np.random.default_rng(8)
ETRAIN = [(f"t{i}", float(o), float(w), float(lr)) for i, (o, w, lr) in enumerate(zip(
    _E.uniform(0.5, 2.5, 20), _E.uniform(math.log(16), math.log(32), 20), _E.uniform(-6.2, -4.6, 20), strict=True))]
EMID = ("mid", 1.5, math.log(24), -5.4)


def true_growth(one: float, w: float, lr: float) -> float:
    return math.exp(one + G0 + G_W * w + G_L * lr)


def write_error_design(path: Path, family: str | None = "transformer", drop: str | None = None) -> Path:
    rng = np.random.default_rng(19)
    head = ["label", "n", *ERROR_COLUMNS, "rate", "rate_se", "step_sd", "step_count", "e0"]
    rows = []
    for lab, one, w, lr in ETRAIN:
        g = true_growth(one, w, lr)
        sd = math.exp(one + S0 + rng.standard_normal() / math.sqrt(2 * 95))
        rows.append([lab, "64", repr(one), repr(w), repr(lr), repr(g * (1 + 0.05 * rng.standard_normal())),
                     repr(0.05 * g), repr(sd), "96", "20.0"])
    lab, one, w, lr = EMID
    rows.append([lab, "64", repr(one), repr(w), repr(lr), "", "", "", "", "20.0"])
    if drop is not None:
        j = head.index(drop)
        head, rows = head[:j] + head[j + 1:], [r[:j] + r[j + 1:] for r in rows]
    lines = ([f"# family={family} model=error"] if family else []) + [",".join(head)] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


CAVEAT_T = bayes.family_caveat("transformer")


@pytest.fixture(scope="module")
def growth_run(tmp_path_factory):
    """One ``forecast --covariates`` run on the tiny error design of the transformer (marked unreliable)."""
    folder = tmp_path_factory.mktemp("grow")
    return spied_forecast(write_error_design(folder / "design.csv"), folder / "out", 30)


def test_forecast_covariates_of_an_error_design_predicts_the_growth(growth_run):
    """The growth, not a decay rate, in every output; the true growth of the row to predict inside its 90%
    interval; the crossing of 2 x e_1 (the default threshold of an error design) from e_0/e_1; and the
    transformer's caveat in the printed summary, summary.txt, the first line of predictions.csv and the figure."""
    out, code, stdout, err, (fig,), ((_, _, post),) = growth_run
    assert code == 0, err
    assert isinstance(post, bayes.GrowthPosterior)
    assert {p.name for p in out.iterdir()} == OUT_FILES
    text = (out / "summary.txt").read_text()
    assert "hierarchical growth model over 20 configurations of transformer" in text
    assert "growth: per generation, E(e_t+1 - e_t) of perplexity" in text and "not a decay rate" in text
    assert "reaches 2 (" in text
    lines = (out / "predictions.csv").read_text().splitlines()
    assert lines[0] == f"# jaxcollapse forecast warning: {CAVEAT_T}"
    row = _quantiles_row(lines, "mid")
    q = [float(row[f"growth_q{p:g}"]) for p in (0.05, 0.5, 0.95)]
    z = load_npz(out / "posterior.npz")
    np.testing.assert_allclose(q, np.quantile(z["growth"][:, 0], [0.05, 0.5, 0.95]), rtol=1e-6)
    assert q[0] <= true_growth(*EMID[1:]) <= q[2], (q, true_growth(*EMID[1:]))
    # from e0/e1 = 20/(20 + e^1.5) the error needs about (2 - e0/e1) e1 / g generations to reach 2 e1
    e1 = 20.0 + math.exp(1.5)
    assert float(row["crossing_q0.5"]) == pytest.approx((2 * e1 - 20.0) / q[1], rel=0.35)
    assert f"warning: {CAVEAT_T}" in stdout and f"warning: {CAVEAT_T}" in text
    assert "FORECAST MARKED UNRELIABLE" in " ".join(fig._suptitle.get_text().split())
    assert "growth of perplexity per generation" in [a.get_xlabel() for a in fig.axes]


ETINY = ('family = "transformer"\nn = 64\n\n[transformer]\ncontext = 16\nprompt = 4\ndepth = 1\nwidth = 24\n'
         'steps = 40\nlearning_rate = 0.0045\nn_eval = 32\nn_heldout = 32\n\n[predict]\nfits = 4\n'
         'design = "tiny_error.csv"\nnum_warmup = 150\nnum_samples = 200\nnum_chains = 1\n')
EMEASURED = {"one_step": 1.5, "ln_width": math.log(24), "ln_lr": math.log(0.0045), "ln_n": math.log(64),
             "ln_steps": math.log(40), "e0": 20.0, "e1": 20.0 + math.exp(1.5)}


def test_predict_an_error_family_config(tmp_path, monkeypatch, growth_run):
    """`jaxcollapse predict` of a transformer config on the tiny error design (the stub `measure` and the fit of
    `growth_run`, as the spread family's plumbing test): it labels the growth of perplexity, prints the measured
    e_0 and e_1, starts the path at e_0 / e_1, and carries the transformer's caveat."""
    from jaxcollapse import predict as P

    post = growth_run[5][0][2]
    calls = []

    def measure(recipe, values=None, *, key, fits=64):
        calls.append((recipe, fits))
        return dict(EMEASURED)

    monkeypatch.setattr(P, "measure", measure)
    monkeypatch.setattr(bayes, "fit_covariates", lambda design, **kw: post)
    write_error_design(tmp_path / "tiny_error.csv")
    cfg = tmp_path / "config.toml"
    cfg.write_text(ETINY)
    out = tmp_path / "out"
    code, stdout, err = run_cli(["predict", str(cfg), "--out", str(out), "--horizon", "30"])
    assert code == 0, err
    assert calls == [("transformer", 4)]
    text = (out / "summary.txt").read_text()
    assert "growth: per generation, E(e_t+1 - e_t) of perplexity" in text and "reaches 2 (" in text
    assert "(levels of perplexity: e_0 = 20, e_1 = 24.4817)" in text
    assert f"warning: {CAVEAT_T}" in text
    row = _quantiles_row((out / "predictions.csv").read_text().splitlines(), "config")
    q = [float(row[f"growth_q{p:g}"]) for p in (0.05, 0.95)]
    assert q[0] <= true_growth(1.5, math.log(24), math.log(0.0045)) <= q[1]


def _bad_error(folder: Path, case: str) -> tuple[list[str], list[str], str]:
    """(command, argv, expected) of one bad input of an error family."""
    if case == "error design without step_sd":
        d = write_error_design(folder / "d.csv", drop="step_sd")
        return ["forecast"], ["--covariates", str(d)], "column 'step_sd' is missing"
    if case == "error threshold not above 1":
        d = write_error_design(folder / "d.csv")
        return ["forecast"], ["--covariates", str(d), "--threshold", "0.5"], "threshold must be above 1"
    if case == "knob the transformer design holds fixed":
        cfg = folder / "c.toml"
        cfg.write_text('family = "transformer"\nn = 64\n\n[transformer]\ncontext = 32\n')
        return ["predict"], [str(cfg)], "context = 32 is outside the shipped transformer design"
    if case == "spread design for an error family":
        write_design(folder / "s.csv")
        (folder / "s.csv").write_text((folder / "s.csv").read_text().replace("ln_h", "ln_width"))
        cfg = folder / "c.toml"
        cfg.write_text('family = "mlp"\nn = 25\n\n[predict]\ndesign = "s.csv"\n')
        return ["predict"], [str(cfg)], "is a spread design, but mlp's prediction uses the error model"
    if case == "threshold of an error config":
        write_error_design(folder / "tiny_error.csv")
        cfg = folder / "c.toml"
        cfg.write_text(ETINY.replace("fits = 4", "fits = 4\nthreshold = 0.5"))
        return ["predict"], [str(cfg)], "threshold must be above 1"
    raise AssertionError(case)


BAD_ERROR = ["error design without step_sd", "error threshold not above 1", "knob the transformer design holds fixed",
             "spread design for an error family", "threshold of an error config"]


@pytest.mark.parametrize("case", BAD_ERROR)
def test_error_family_bad_input_one_line_exit_2_nothing_written(case, tmp_path, no_compute):
    inputs = tmp_path / "in"
    inputs.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    cmd, argv, expect = _bad_error(inputs, case)
    code, stdout, err = run_cli([*cmd, *argv, "--out", str(work / "out")])
    assert code == 2 and stdout == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxcollapse: error: ") and expect in lines[0], err
    assert list(work.iterdir()) == []
