"""The recipes of the learned families (mixture, kde, decomposition, vae, mlp) through ``jaxcollapse run``.

Each recipe runs once at a tiny size, in process (`cli.main`), and again from the ``config.toml`` it
wrote: every output is there (the table with theory, the figures, the per-chain CSVs with their comment
line, results.npz, summary.csv) and the rerun is bitwise the same. The rerun reuses the first run's
compiled programs, and the decomposition's statistical source is the mixture run's configuration, so
it reuses that one too. Bad input: one line on stderr, exit status 2, nothing written, the engine never
reached. Statistical test (the mixture's accumulate law, derived in `jaxcollapse.recipes.mixture`):
|z| < Z_BOUND at fixed key, with a control that a wrong law is rejected.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Z_BOUND, load_npz, run_cli

from jaxcollapse import recipes

# tiny runs: one compile per recipe (and per decomposition source but the statistical one)
TINY = {
    "mixture": ["--n", "20", "--generations", "2", "--chains", "4", "--regime", "replace", "--em-iters", "5"],
    "decomposition": ["--n", "20", "--generations", "2", "--chains", "4", "--source", "statistical",
                      "expressivity", "--em-iters", "5"],
    "kde": ["--n", "10", "--generations", "2", "--chains", "4", "--regime", "replace", "--bandwidth", "fixed"],
    "vae": ["--n", "16", "--generations", "2", "--chains", "2", "--steps", "3", "--width", "4", "--depth", "1",
            "--n-eval", "16"],
    "mlp": ["--n", "8", "--generations", "2", "--chains", "2", "--steps", "3", "--width", "4", "--depth", "1",
            "--regime", "replace"],
}
REGIMES = {"mixture": ("replace",), "decomposition": ("statistical", "expressivity"), "kde": ("replace",),
           "vae": ("replace",), "mlp": ("replace",)}
FIGURES = {"mixture": ["mixture.png"], "decomposition": ["decomposition.png", "rates.txt"], "kde": ["kde.png"],
           "vae": ["vae.png"], "mlp": ["mlp.png"]}


@pytest.mark.parametrize("family", list(TINY))
def test_run_outputs_and_config_rerun_bitwise(family, tmp_path):
    recipe = recipes.get(family)
    first, second = tmp_path / "a", tmp_path / "b"
    code, stdout, stderr = run_cli(["run", "--family", family, *TINY[family], "--out", str(first)])
    assert code == 0, stderr
    regimes = REGIMES[family]
    metric = recipe.headline[0]
    files = {p.name for p in first.iterdir()}
    want = {"table.txt", "summary.csv", "results.npz", "config.toml", *FIGURES[family],
            *(f"chains_{r}_{metric}.csv" for r in regimes)}
    assert want <= files, (want - files, files)
    # the table: printed, with every regime and headline metric, and theory where the recipe has one
    table = (first / "table.txt").read_text()
    assert stdout.strip() == table.strip()
    for r in regimes:
        for m in recipe.headline:
            assert any(line.split()[:2] == [r, m] for line in table.splitlines()), (r, m)
    if family in ("mixture", "kde", "decomposition"):  # a theory value and a z in the spread rows
        rows = [line.split() for line in table.splitlines() if line.split()[1:2] == ["spread"]]
        assert rows and all(row[3] != "—" and row[-1] != "—" for row in rows), rows
    # the per-chain CSV: comment line, header, one row per generation, one column per chain
    lines = (first / f"chains_{regimes[0]}_{metric}.csv").read_text().splitlines()
    assert lines[0] == (f"# jaxcollapse family={family} regime={regimes[0]} metric={metric} model={recipe.bayes} "
                        f"n={TINY[family][1]}")
    chains = int(TINY[family][TINY[family].index("--chains") + 1])
    gens = int(TINY[family][TINY[family].index("--generations") + 1])
    assert lines[1] == "generation," + ",".join(f"chain_{i}" for i in range(chains))
    data = np.loadtxt(first / f"chains_{regimes[0]}_{metric}.csv", delimiter=",", skiprows=2, ndmin=2)
    assert data.shape == (gens + 1, chains + 1) and np.all(np.isfinite(data))
    for name in FIGURES[family]:
        assert (first / name).stat().st_size > 0
    # the written config reruns bitwise
    code, _, stderr = run_cli(["run", "--config", str(first / "config.toml"), "--out", str(second), "--quiet"])
    assert code == 0, stderr
    for name in ["summary.csv", "table.txt", *(f"chains_{r}_{metric}.csv" for r in regimes)]:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    a, b = load_npz(first / "results.npz"), load_npz(second / "results.npz")
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes(), k


@pytest.mark.parametrize("argv, expect", [
    (["--family", "mixture", "--K", "0"], "K = 0 is invalid (out of range): K must be an integer >= 1"),
    (["--family", "mixture", "--keep", "0"], "keep must be a number in (0, 1]"),
    (["--family", "mixture", "--regime", "replce"], "did you mean 'replace'"),
    (["--family", "mixture", "--covariance", "spherical"], "covariance must be one of 'full', 'diag'"),
    (["--family", "mixture", "--n", "0"], "n must be an integer >= 1"),
    (["--family", "mixture", "--init", "random", "--K", "3", "--n", "2"], "needs n >= K"),
    (["--family", "mixture", "--top-p", "0.5"], "family mixture has no option '--top-p'"),
    (["--family", "kde", "--bandwidth", "wide"], "bandwidth must be one of 'scott', 'silverman', 'fixed'"),
    (["--family", "kde", "--h", "0"], "h must be a number > 0"),
    (["--family", "kde", "--variance", "-1"], "variance must be a number > 0"),
    (["--family", "decomposition", "--K", "0"], "K must be an integer >= 1"),
    (["--family", "decomposition", "--source", "statistcal"], "did you mean 'statistical'"),
    (["--family", "decomposition", "--regime", "replace"], "family decomposition has no option '--regime'"),
    (["--family", "decomposition", "--truncated-iters", "0"], "truncated_iters must be an integer >= 1"),
    (["--family", "vae", "--latent", "0"], "latent must be an integer >= 1"),
    (["--family", "vae", "--learning-rate", "0"], "learning_rate must be a number > 0"),
    (["--family", "vae", "--width", "0"], "width must be an integer >= 1"),
    (["--family", "vae", "--data", "spiral"], "data must be one of 'moons', 'rings', 'mixture', 'digits'"),
    (["--family", "vae", "--n-eval", "1"], "n_eval must be an integer >= 2"),
    (["--family", "mlp", "--regime", "acumulate"], "did you mean 'accumulate'"),
    (["--family", "mlp", "--steps", "0"], "steps must be an integer >= 1"),
    (["--family", "mlp", "--label-noise", "-0.1"], "label_noise must be a number >= 0"),
])
def test_bad_input_one_line_exit_2_nothing_written(argv, expect, tmp_path, no_run):
    work = tmp_path / "work"
    work.mkdir()
    code, stdout, stderr = run_cli(["run", *argv, "--out", str(work / "out")])
    assert code == 2 and stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxcollapse: error: ") and expect in lines[0], lines
    assert list(work.iterdir()) == []


def test_config_of_another_family_is_refused(tmp_path, no_run):
    cfg = tmp_path / "c.toml"
    cfg.write_text('family = "kde"\nn = 10\n[kde]\nh = 0.2\n')
    code, _, stderr = run_cli(["run", "--family", "mixture", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert code == 2 and "a config of family 'kde'" in stderr and not (tmp_path / "o").exists()


@pytest.mark.parametrize("family", list(TINY))
def test_traced_parameters_keep_the_compiled_structure(family, typecheck_off):
    """Every parameter a learned recipe declares traced (`Param.static` False) changes only array values:
    the built `(model, truth, regime)` keeps its tree structure, shapes and dtypes, so a sweep vmaps it
    inside one compiled program. A static one that sets a shape (the components, the dimension, the width)
    does not (the sample size sets the engine's buffers, not the tree: `test_sweep` checks its grouping)."""
    import jax

    recipe = recipes.get(family)
    schema = recipe.schema()
    base = recipe.resolve({"keep": 0.5} if family == "mixture" else {})

    def structure(params):
        model, truth, regime = recipe.build({**params, "regime": params["regimes"][0]})
        leaves, treedef = jax.tree.flatten((model, model if truth is None else truth, regime))
        return treedef, [(np.shape(x), np.asarray(x).dtype) for x in leaves]

    ref = structure(base)
    traced = [p for p in schema.values() if not p.static]
    assert traced, family
    for p in traced:
        v = base[p.name]
        alt = v + 0.1 if p.high is None or v + 0.1 <= p.high else v - 0.1
        assert structure({**base, p.name: p.check(alt)}) == ref, p.name
    name, value = {"mixture": ("K", 3), "decomposition": ("K", 3), "kde": ("dim", 2), "vae": ("width", 8),
                   "mlp": ("width", 8)}[family]
    assert structure({**base, name: value}) != ref


def test_mixture_theory_accumulate_and_replace():
    """The mixture recipe's theory (derived in `jaxcollapse.recipes.mixture`) against the engine: spread and
    mean error at t = 3 under accumulate and replace, K = 2, d = 2, n = 20, 400 chains, |z| < Z_BOUND;
    the Gaussian replace law applied to accumulate is rejected (|z| > Z_BOUND) for the mean error."""
    import jax

    import jaxcollapse as jc

    recipe = recipes.get("mixture")
    params = recipe.resolve({"n": 20, "generations": 3, "chains": 400, "em_iters": 5})
    G, chains = 3, 400
    for regime in ("accumulate", "replace"):
        point = {**params, "regime": regime}
        model, _, reg = recipe.build(point)
        curves = recipe.theory(point, G)
        traj = jc.simulate(jax.random.key(11), model, reg, G, chains, path="samples",
                           metrics=("spread", "mean_sq_err"), quantiles=())
        for m in ("spread", "mean_sq_err"):
            z = (float(traj.mean(m)[G]) - curves[m][G]) / float(traj.stderr(m)[G])
            assert abs(z) < Z_BOUND, (regime, m, z)
        if regime == "accumulate":
            wrong = recipe.theory({**point, "regime": "replace"}, G)["mean_sq_err"][G]
            z = (float(traj.mean("mean_sq_err")[G]) - wrong) / float(traj.stderr("mean_sq_err")[G])
            assert abs(z) > Z_BOUND, z
