"""Recipes (`jaxcollapse.recipes`) and the generic ``jaxcollapse run --family F`` built on them.

- The schema (`Param`): conversion, ranges, messages that name the parameter, its value and the range.
- The registry: discovery of the package's recipes, and a recipe registered from this file, run through the CLI.
- `regimes.from_params`: the one meaning of $n$ (synthetic per generation) and of fresh.
- Every recipe: a run at a tiny size writes every output, and its ``config.toml`` reruns with ``--config``
  to the same bytes (summary.csv, the per-chain CSVs) and the same arrays (results.npz).
- Bad input for any family: exit status 2, one line on stderr, nothing written, nothing computed.

The CLI runs in-process (`main([...])`), so runs of the same shapes share their compiled programs.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import LazyDict, load_npz, run_cli

from jaxcollapse import cli, recipes, regimes
from jaxcollapse.recipes import Param, Recipe

FAMILIES = ("categorical", "gaussian", "ngram", "poisson", "regression")


# --------------------------------------------------------------------------- the schema
def test_param_checks_and_converts():
    p = Param("lam", float, 1.0, "ratio", low=0.0)
    assert p.check(2) == 2.0 and isinstance(p.check(2), float)
    with pytest.raises(ValueError, match=r"^lam = -0.5 is invalid \(out of range\): lam must be a number >= 0$"):
        p.check(-0.5)
    with pytest.raises(ValueError, match="not finite"):
        p.check(float("inf"))
    with pytest.raises(ValueError, match="lam must be a number"):
        p.check("big")
    k = Param("K", int, 5, "categories", low=2, high=10)
    with pytest.raises(ValueError, match=r"K = 11 is invalid \(out of range\): K must be an integer in \[2, 10\]"):
        k.check(11)
    with pytest.raises(ValueError, match="K must be an integer"):
        k.check(2.5)
    with pytest.raises(ValueError, match="K must be an integer"):
        k.check(True)
    tp = Param("top_p", float, None, "nucleus", low=0.0, high=1.0, low_open=True, optional=True)
    assert tp.check(None) is None
    with pytest.raises(ValueError, match=r"top_p must be a number in \(0, 1\]"):
        tp.check(0.0)
    c = Param("estimator", str, "mle", "how", choices=("mle", "mean"))
    with pytest.raises(ValueError, match=r"estimator = 'mel' is invalid \(did you mean 'mle'\?\): estimator must be "
                                         r"one of 'mle', 'mean'"):
        c.check("mel")
    many = Param("regimes", str, ("replace",), "which", choices=recipes.REGIME_NAMES, many=True)
    assert many.check("replace, fresh") == ("replace", "fresh")
    assert many.check(["accumulate"]) == ("accumulate",)
    with pytest.raises(ValueError, match="non-empty list"):
        many.check([])
    b = Param("x64", bool, False, "float64")
    with pytest.raises(ValueError, match="x64 must be true or false"):
        b.check(1)
    with pytest.raises(ValueError, match="K = 1 is invalid"):  # a recipe whose default is invalid is a bug
        Param("K", int, 1, "categories", low=2)
    assert Param("n", int, 3, "size", flag=None).option == "--n"
    assert Param("n_real", int, None, "real", optional=True).option == "--n-real"


def test_resolve_unknown_key_and_cross_checks():
    ngram = recipes.get("ngram")
    with pytest.raises(ValueError, match=r"unknown parameter 'lenght' for family 'ngram' \(did you mean 'length'\?\)"):
        ngram.resolve({"lenght": 3})
    with pytest.raises(ValueError, match=r"support must be an integer in \[2, vocab\] = \[2, 5\]"):
        ngram.resolve({"vocab": 5, "support": 9})
    p = ngram.resolve({"vocab": 5, "support": 3, "regimes": ["replace"]})
    assert p["vocab"] == 5 and p["regimes"] == ("replace",) and p["n"] == 100
    g = recipes.get("gaussian")
    with pytest.raises(ValueError, match="accumulate_subsample acts on individual samples"):
        g.resolve({"regimes": ["accumulate_subsample"]})
    assert g.resolve({"regimes": ["accumulate_subsample"], "path": "samples"})["path"] == "samples"


def test_every_recipe_declares_the_contract():
    assert set(FAMILIES) <= set(recipes.names())
    for name in FAMILIES:
        r = recipes.get(name)
        assert r.name == name and r.bayes in recipes.BAYES_MODELS
        assert r.headline[0] in r.metric_names
        p = r.resolve({})  # the defaults are valid
        assert p["generations"] >= 1 and p["chains"] >= 1
        for param in r.params:
            assert param.help and (param.static or param.type in (int, float))
    with pytest.raises(ValueError, match=r"unknown family 'gausian' \(did you mean 'gaussian'\?\)"):
        recipes.get("gausian")


# --------------------------------------------------------------------------- regimes.from_params
def test_from_params_one_meaning_of_n():
    """n is the number of synthetic samples per generation in every regime but augment; real data come on top."""
    fresh = regimes.from_params({"regime": "fresh", "n": 10})
    assert (fresh.real, fresh.n_real, int(fresh.synthetic_count(1)), fresh.min_train_size()) == ("fresh", 10, 10, 20)
    fresh = regimes.from_params({"regime": "fresh", "n": 10, "n_real": 4})
    assert (fresh.n_real, int(fresh.synthetic_count(1)), fresh.min_train_size()) == (4, 10, 14)
    w = regimes.from_params({"regime": "weighted", "n": 10, "w": 0.3})
    assert (w.real, w.n_real, int(w.synthetic_count(1)), float(w.w)) == ("fixed", 10, 10, pytest.approx(0.3))
    assert regimes.from_params({"regime": "weighted", "n": 10, "real": "fresh"}).real == "fresh"
    aug = regimes.from_params({"regime": "augment", "n": 10, "lam": 0.5})
    assert (aug.real, aug.n_real, int(aug.synthetic_count(1))) == ("fixed", 10, 5)
    sub = regimes.from_params({"regime": "accumulate_subsample", "n": 10})
    assert (sub.memory, sub.subsample) == ("accumulate_subsample", 10)
    rep = regimes.from_params({"regime": "replace", "n": 7, "n_real": 3, "w": 0.2, "temperature": 0.9})
    assert (rep.real, rep.w, int(rep.synthetic_count(1)), float(rep.temperature)) == ("none", None, 7,
                                                                                      pytest.approx(0.9))
    with pytest.raises(ValueError, match=r"unknown regime parameter 'nreal' \(did you mean 'n_real'\?\)"):
        regimes.from_params({"regime": "fresh", "nreal": 3})
    with pytest.raises(ValueError, match="regime = 'fersh' is invalid"):
        regimes.from_params({"regime": "fersh"})
    with pytest.raises(ValueError, match="n_real = 0 is invalid: n_real must be an integer >= 1"):
        regimes.from_params({"regime": "fresh", "n_real": 0})


# --------------------------------------------------------------------------- every recipe, run and rerun
TINY = {
    "gaussian": ["--regime", "replace", "--chains", "200", "--generations", "5"],  # test_cli's size: one compile
    "categorical": ["--regime", "fresh", "--K", "5", "--n", "10", "--chains", "16", "--paths-chains", "8"],
    "poisson": ["--regime", "replace", "--n", "5", "--chains", "16"],
    "ngram": ["--regime", "replace", "--vocab", "5", "--support", "3", "--length", "3", "--n", "6",
              "--smoothing", "0", "--chains", "16"],
    "regression": ["--regime", "replace", "--d", "3", "--n", "8", "--chains", "16"],
}


def _run_and_rerun(factory, family):
    """`family` at a tiny size (3 generations but the Gaussian's), then its config.toml run again."""
    base = factory.mktemp(family)
    out, again = base / "out", base / "again"
    size = [] if "--generations" in TINY[family] else ["--generations", "3"]
    first = run_cli(["run", "--family", family, *TINY[family], *size, "--out", str(out)])
    second = (run_cli(["run", "--config", str(out / "config.toml"), "--out", str(again), "--quiet"])
              if first[0] == 0 else None)
    return out, again, first, second


@pytest.fixture(scope="module")
def family_runs(tmp_path_factory):
    """Each family at a tiny size (3 generations but the Gaussian's), then its config.toml run again."""
    return LazyDict(lambda family: _run_and_rerun(tmp_path_factory, family))


@pytest.mark.parametrize("family", FAMILIES)
def test_run_writes_every_output(family, family_runs):
    out, _, (code, stdout, stderr), _ = family_runs[family]
    assert code == 0, stderr
    recipe = recipes.get(family)
    conf = tomllib.loads((out / "config.toml").read_text())
    params = recipe.resolve({**{k: v for k, v in conf.items() if k != "family" and not isinstance(v, dict)},
                             **conf[family]})
    names = {p.name for p in out.iterdir()}
    regs = list(params["regimes"])
    assert regs == [a for a in TINY[family][TINY[family].index("--regime") + 1:] if a in recipes.REGIME_NAMES]
    metric = recipe.headline[0]
    csvs = {f"chains_{r}_{metric}.csv" for r in regs}
    assert {"table.txt", "summary.csv", "results.npz", "config.toml", *csvs} <= names
    figures = names - {"table.txt", "summary.csv", "results.npz", "config.toml", *csvs}
    assert figures and all(f.endswith(".png") for f in figures), names
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
    # the table is printed too, with the family's headline metrics
    table = (out / "table.txt").read_text()
    assert stdout.strip() == table.strip()
    for m in recipe.table(params):
        assert m in table
    # the per-chain CSVs: the comment line that `forecast` reads, the header, one row per generation
    n, chains, G = params["n"], min(params["chains"], params["paths_chains"]), params["generations"]
    for r in regs:
        lines = (out / f"chains_{r}_{metric}.csv").read_text().splitlines()
        assert lines[0] == f"# jaxcollapse family={family} regime={r} metric={metric} model={recipe.bayes} n={n}"
        assert lines[1] == "generation," + ",".join(f"chain_{i}" for i in range(chains))
        data = np.loadtxt(out / f"chains_{r}_{metric}.csv", delimiter=",", skiprows=2)
        assert data.shape == (G + 1, 1 + chains)
        np.testing.assert_array_equal(data[:, 0], np.arange(G + 1))
    # summary.csv: generation, then regimes in the order given x the family's metrics in its own order
    header = (out / "summary.csv").read_text().splitlines()[0].split(",")
    recorded = recipe.metrics(params)
    assert header == ["generation"] + [f"{r}/{m}/{s}" for r in regs for m in recorded for s in ("mean", "std")]
    z = load_npz(out / "results.npz")
    for r in regs:
        assert z[f"{r}/mean/{metric}"].shape == (G + 1,)


@pytest.mark.parametrize("family", FAMILIES)
def test_config_reruns_bitwise(family, family_runs):
    out, again, first, second = family_runs[family]
    assert first[0] == 0, first[2]
    code, stdout, stderr = second
    assert code == 0 and stdout == "" and stderr == "", stderr
    for p in out.iterdir():
        if p.suffix in (".csv", ".toml", ".txt"):
            assert p.read_bytes() == (again / p.name).read_bytes(), p.name
    a, b = load_npz(out / "results.npz"), load_npz(again / "results.npz")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_flags_override_the_config(family_runs, tmp_path):
    out = family_runs["poisson"][0]
    code, _, err = run_cli(["run", "--config", str(out / "config.toml"), "--rate", "2.0", "--out", str(tmp_path / "o"),
                         "--quiet"])
    assert code == 0, err
    conf = tomllib.loads((tmp_path / "o" / "config.toml").read_text())
    assert conf["poisson"]["rate"] == 2.0 and conf["n"] == 5 and conf["chains"] == 16
    z = load_npz(tmp_path / "o" / "results.npz")
    assert z["replace/mean/rate"][0] == pytest.approx(2.0) and z["truth/rate"] == pytest.approx(2.0)


# --------------------------------------------------------------------------- a recipe from a test file
class ShiftedGaussian(Recipe):
    """A toy recipe registered here, not in the package: the Gaussian with its own `shift` parameter."""

    name = "shifted_gaussian"
    description = "a Gaussian N(shift, 1) (a recipe registered by a test)"
    params = (*recipes.run_params(n=100, generations=5, chains=200, regimes=("replace",), drift=False),
              Param("shift", float, 0.5, "the truth's mean", static=False))
    metric_names = ("mean_sq_err", "trace")
    headline = ("trace",)
    bayes = "spread"

    def build(self, params):
        from jaxcollapse import Gaussian

        return Gaussian(params["shift"], 1.0), None, recipes.regime_from(params)

    def theory(self, params, generations):
        t = np.arange(generations + 1)  # MLE, replace: E sigma_t^2 = (1 - 1/n)^t (Shumailov et al. 2024)
        return {"trace": (1 - 1 / params["n"]) ** t} if params["regime"] == "replace" else {}


@pytest.fixture
def shifted():
    recipe = recipes.register(ShiftedGaussian())
    yield recipe
    recipes.unregister(recipe.name)


def test_a_recipe_registered_from_a_test_runs_and_reruns(shifted, tmp_path):
    assert "shifted_gaussian" in recipes.names()
    with pytest.raises(ValueError, match="registered already"):
        recipes.register(type("Other", (ShiftedGaussian,), {}))
    code, stdout, _ = run_cli(["run", "--family", "shifted_gaussian", "--help"])
    assert code == 0 and "--shift" in stdout and "default: 0.5" in stdout and "--drift" not in stdout
    out = tmp_path / "out"
    code, stdout, err = run_cli(["run", "--family", "shifted_gaussian", "--shift", "2.0", "--devices", "1",
                              "--out", str(out)])
    assert code == 0, err
    assert "trace" in stdout and "—" not in stdout.split("replace", 1)[1].splitlines()[0]  # theory shown
    assert (out / "trace.png").is_file()  # the default figure
    conf = (out / "config.toml").read_text()
    assert 'family = "shifted_gaussian"' in conf and "[shifted_gaussian]\nshift = 2.0" in conf
    z = load_npz(out / "results.npz")
    assert z["replace/mean/mean_sq_err"][0] == 0.0
    code, _, err = run_cli(["run", "--config", str(out / "config.toml"), "--out", str(tmp_path / "again"), "--quiet"])
    assert code == 0, err
    assert (out / "summary.csv").read_bytes() == (tmp_path / "again" / "summary.csv").read_bytes()


def test_a_recipe_missing_its_contract_is_refused():
    class NoBuild(Recipe):
        name = "nobuild"
        params = recipes.run_params(n=1, generations=1, chains=1)
        metric_names = ("x",)
        headline = ("x",)
        bayes = "spread"

    with pytest.raises(TypeError, match="does not implement build"):
        recipes.register(NoBuild())

    class BadBayes(ShiftedGaussian):
        name = "badbayes"
        bayes = "growth"

    with pytest.raises(TypeError, match="bayes must be one of"):
        recipes.register(BadBayes())
    assert "nobuild" not in recipes.names() and "badbayes" not in recipes.names()


# --------------------------------------------------------------------------- bad input, any family
def _toml(text):
    def write(folder):
        p = folder / "c.toml"
        p.write_text(text)
        return str(p)

    return write


BAD = {
    "toml key misspelt": (["--family", "ngram", "--config", _toml("[ngram]\nlenght = 3\n")], "did you mean 'length'"),
    "toml top-level misspelt": (["--family", "poisson", "--config", _toml("genrations = 3\n")],
                                "did you mean 'generations'"),
    "out of range": (["--family", "ngram", "--support", "1"], "support must be an integer >= 2"),
    "open range": (["--family", "categorical", "--top-p", "1.5"], "top_p must be a number in (0, 1]"),
    "cross range": (["--family", "ngram", "--vocab", "5", "--support", "9"], "[2, vocab] = [2, 5]"),
    "top_k beyond K": (["--family", "categorical", "--K", "5", "--top-k", "6"], "[1, K] = [1, 5]"),
    "rank generation": (["--family", "categorical", "--rank-generations", "500"], "[0, generations]"),
    "config of another family": (["--config", _toml('family = "ngram"\n[ngram]\nvocab = 5\n'), "--family",
                                  "gaussian"], "is a config of family 'ngram', but the family is 'gaussian'"),
    "table of another family": (["--family", "poisson", "--config", _toml("[ngram]\nvocab = 5\n")],
                                "a config of family 'ngram'"),
    "flag of another family": (["--family", "poisson", "--top-p", "0.5"], "family poisson has no option '--top-p'"),
    "no temperature for poisson": (["--family", "poisson", "--temperature", "2"], "no option '--temperature'"),
    "ngram's n": (["--family", "ngram", "--m", "6"], "no option '--m'"),
    "unknown family": (["--family", "bigram"], "unknown family 'bigram'"),
    "unknown metric": (["--family", "ngram", "--metrics", "perplexty"], "did you mean 'perplexity'"),
    "family refuses": (["--family", "categorical", "--truth", "wordfreq", "--lang", "xx"], "no word list"),
    "fixed design sizes": (["--family", "regression", "--regime", "fresh", "--n-real", "7"], "rows"),
    "regime on exact path": (["--family", "regression", "--regime", "accumulate_subsample"], "--path samples"),
    "memory": (["--family", "gaussian", "--chains", "4000000000", "--generations", "100000"], "--force-memory"),
    "devices beyond the machine": (["--family", "poisson", "--devices", "512"], "this machine has"),
    "devices 0": (["--family", "poisson", "--devices", "0"], "--devices must be >= 1"),
    "unwritable": (["--family", "poisson", "--out", lambda folder: str(_a_file(folder) / "sub")], "not writable"),
    "write-protected folder": (["--family", "poisson", "--out", lambda folder: _protected(folder)],
                               "cannot write the output folder"),
    # huge sizes: refused with the estimate before anything is allocated (kde's points, the theory curves of G + 1
    # values, the regime's range of n_t were allocated before the check) or compiled
    "memory: chains": (["--family", "poisson", "--chains", "1000000000"], "--force-memory"),
    "memory: generations": (["--family", "categorical", "--generations", "1000000000"], "--force-memory"),
    "memory: n, before build": (["--family", "kde", "--n", "1000000000"], "--force-memory"),
    "memory: kde's buffer, before build": (["--family", "kde", "--generations", "1000000000"], "--force-memory"),
}


def _protected(folder):
    """An output path in a folder this process cannot write into (chmod 555; for root, which chmod does not stop,
    sysfs)."""
    import os

    d = folder / "ro"
    d.mkdir()
    d.chmod(0o555)
    if os.access(d, os.W_OK):
        d.chmod(0o755)
        return "/sys/jaxcollapse-test-out"
    return str(d / "out")


def _a_file(folder):
    p = folder / "a_file"
    p.write_text("not a folder")
    return p


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_one_line_exit_2_nothing_written(case, tmp_path, no_run):
    argv, expect = BAD[case]
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    argv = [a(cfg) if callable(a) else a for a in argv]
    work = tmp_path / "work"
    work.mkdir()
    if "--out" not in argv:
        argv += ["--out", str(work / "out")]
    code, stdout, err = run_cli(["run", *argv, *([] if "--generations" in argv else ["--generations", "3"])])
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("jaxcollapse: error: ") and expect in lines[0], lines[0]
    assert stdout == ""
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in cfg.iterdir()) in ([], ["c.toml"], ["a_file"], ["ro"])  # nothing written beside it
    if (cfg / "ro").exists():
        assert list((cfg / "ro").iterdir()) == []
    assert not Path("/sys/jaxcollapse-test-out").exists()


def test_devices_must_divide_the_chains(monkeypatch):
    """--devices that does not divide the chains names the fix (checked with four stand-in devices)."""
    import jax

    from jaxcollapse.cli import run

    monkeypatch.setattr(jax, "devices", lambda *a: ["d0", "d1", "d2", "d3"])
    run._check_devices(4, 200)
    with pytest.raises(cli.CLIError, match="--devices 3 does not divide --chains 200: use --chains 201"):
        run._check_devices(3, 200)
    with pytest.raises(cli.CLIError, match="this machine has 4 device"):
        run._check_devices(5, 200)


def test_memory_estimate_refuses_only_what_cannot_fit():
    from jaxcollapse.cli import run

    r = recipes.get("ngram")
    p = r.resolve({"regimes": ["accumulate_subsample"]})
    m, _, reg = r.build({**p, "regime": "accumulate_subsample"})
    est = run.estimate_memory(r, p, {"a": m}, {"a": reg}, r.metrics(p))
    # the pool of every sequence so far dominates: chains x n G sequences x L tokens, twice, 4 bytes each
    pool = p["chains"] * p["n"] * p["generations"] * p["length"] * 2 * 4
    assert pool <= est <= 1.5 * pool
    run._check_memory(est, force=False)  # the default size fits here
    with pytest.raises(cli.CLIError, match="needs about .* GiB .* --force-memory"):
        run._check_memory(2**60, force=False)
    run._check_memory(2**60, force=True)  # --force-memory


ALL_FAMILIES = ("categorical", "decomposition", "diffusion", "gaussian", "kde", "logistic", "mixture", "mlp", "ngram",
                "poisson", "regression", "transformer", "vae")
# --n on the exact path is a count in the sufficient statistics: no memory grows with it
HUGE = [(f, flag) for f in ALL_FAMILIES for flag in ("--chains", "--generations", "--n")
        if not (flag == "--n" and recipes.get(f).resolve({})["path"] == "exact")]


def test_every_family_is_listed():
    assert set(ALL_FAMILIES) == set(recipes.names())


@pytest.mark.slow  # a build and an abstract draw per family (the default suite keeps the BAD rows "memory: ...")
@pytest.mark.parametrize("family, flag", HUGE)
def test_a_huge_run_is_refused_with_the_estimate(family, flag, tmp_path, no_run):
    """1e9 chains, generations or samples per generation, for every family: one line with the estimate and the
    machine's memory, before anything is allocated at that size or compiled."""
    code, stdout, err = run_cli(["run", "--family", family, flag, "1000000000", "--out", str(tmp_path / "o")])
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and stdout == "", err
    assert lines[0].startswith("jaxcollapse: error: this run needs about ") and "--force-memory" in lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # builds every family's default model
def test_default_runs_fit_the_estimate():
    """The estimate of each family's default run is positive and far below a machine's memory (the defaults are
    never refused), and grows with the chains."""
    from jaxcollapse.cli import run

    for family in ALL_FAMILIES:
        r = recipes.get(family)
        p = r.resolve({"regimes": [r.resolve({})["regimes"][0]]})
        name = p["regimes"][0]
        m, _, reg = r.build({**p, "regime": name})
        est = run.estimate_memory(r, p, {name: m}, {name: reg}, r.metrics(p))
        more = run.estimate_memory(r, {**p, "chains": 2 * p["chains"]}, {name: m}, {name: reg}, r.metrics(p))
        assert 0 < est < 2**31 and more > est, (family, est, more)


# every family's constructor: a string where a number goes is named (not numpy's "could not convert string to float")
TEXT_ARGS = {
    "Gaussian": ({"mean": "zero"}, "mean"),
    "Categorical": ({"p": ["a", "b"]}, "p"),
    "Poisson": ({"rate": "ten"}, "rate"),
    "Bigram": ({"transition": "uniform"}, "transition"),
    "Regression": ({"w": [0.0, 1.0], "noise": "big"}, "noise"),
    "GaussianMixture": ({"weights": [0.5, 0.5], "means": "two"}, "means"),
    "KDE": ({"points": ["a", "b"]}, "points"),
}


@pytest.mark.parametrize("cls", list(TEXT_ARGS))
def test_a_string_for_a_number_is_a_clear_value_error(cls):
    import jaxcollapse as jc

    kwargs, arg = TEXT_ARGS[cls]
    with pytest.raises(ValueError, match=rf"^{cls}: {arg} must be a number or an array of numbers, got "):
        getattr(jc, cls)(**kwargs)


def test_neural_families_name_a_string_hyperparameter(typecheck_off):
    import jaxcollapse as jc

    # checked first, before the key or the data are used
    with pytest.raises(ValueError, match=r"^MLPRegressor: learning_rate must be a number"):
        jc.MLPRegressor(None, learning_rate="fast")
    with pytest.raises(ValueError, match=r"^VAE: weight_decay must be a number"):
        jc.VAE(None, None, weight_decay="none")


def test_example_config_is_the_default_experiment():
    """examples/default.toml, read as `--config` reads it, resolves to the Gaussian recipe's defaults."""
    from pathlib import Path
    from types import SimpleNamespace

    from jaxcollapse.cli import run

    path = Path(__file__).resolve().parents[1] / "examples" / "default.toml"
    g = recipes.get("gaussian")
    assert run.resolve(g, SimpleNamespace(config=str(path)), {}) == g.resolve({})
