r"""A new family from outside the package: a Bernoulli coin, defined, registered and run from this file alone.

Issue 13 asks that a new family need no edit outside its own files, one re-export line and its tests. This
file is the demonstration: everything the Bernoulli family needs lives here, written against the public
names only (`jaxcollapse.AbstractFamily`, `jaxcollapse.stats.AbstractStats`, `jaxcollapse.random`,
`jaxcollapse.recipes`, `jaxcollapse.verify`), and the generic tools serve it unchanged:

1. the family (`Bernoulli`, with an exact sampler of its sufficient statistic, a Binomial count);
2. its recipe (`BernoulliRecipe`, registered with `jaxcollapse.recipes.register`);
3. one registered check (`jaxcollapse.verify.register`): the Wright-Fisher heterozygosity law;
4. then, in-process through `jaxcollapse.cli.main`: ``run --family bernoulli`` (and ``run --config`` on
   the config it wrote, bitwise), ``sweep`` over the recipe's parameters, ``verify --family bernoulli``
   and ``forecast`` on the per-chain CSV that the run wrote.

**The law checked** (derived here; the two-type Wright-Fisher model, e.g. Ewens 2004, *Mathematical
Population Genetics*, §3.1). Under ``replace`` the refit is $p_t = S_t/n$ with
$S_t \mid p_{t-1} \sim \mathrm{Binomial}(n, p_{t-1})$, so $E[p_t \mid p_{t-1}] = p_{t-1}$ and
$E[p_t^2 \mid p_{t-1}] = p_{t-1}(1-p_{t-1})/n + p_{t-1}^2$, hence
$E[p_t(1-p_t) \mid p_{t-1}] = (1 - 1/n)\,p_{t-1}(1-p_{t-1})$ and, by the tower rule,
$E[H_t] = (1 - 1/n)^t H_0$ for the Gini-Simpson index (heterozygosity) $H = 2p(1-p)$; $p_t$ is a
martingale, $E p_t = p_0$ (also under ``accumulate``: a pooled mean of draws whose expectations are the
earlier fits, all of expectation $p_0$ by induction).

Statistical rule: |z| < 4 (`tests/conftest.py` Z_BOUND) with a fixed key and enough chains for a
standard error. Sizes are tiny: this runs in the default suite (one module-scoped run reused by the
later steps).
"""

from __future__ import annotations

import math
import tomllib
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import Array, Float

import jaxcollapse as jc
from jaxcollapse import cli, recipes, regimes, verify
from jaxcollapse import random as jr
from jaxcollapse.stats import AbstractStats

Z_BOUND = 4.0
NAME = "bernoulli"
CHECK = "bernoulli.heterozygosity"


# --------------------------------------------------------------------------- 1. the family
class BernoulliStats(AbstractStats):
    r"""Weighted count $\sum_i w_i$ and weighted number of heads $\sum_i w_i x_i$."""

    count: Float[Array, ""]
    heads: Float[Array, ""]

    def combine(self, other: BernoulliStats) -> BernoulliStats:
        return BernoulliStats(self.count + other.count, self.heads + other.heads)

    def scale(self, c) -> BernoulliStats:
        return BernoulliStats(self.count * c, self.heads * c)


def _tempered(p, temperature):
    r"""$p^{1/\tau} / (p^{1/\tau} + (1-p)^{1/\tau})$: a Bernoulli at temperature $\tau$ is still a Bernoulli."""
    a = jnp.power(p, 1.0 / temperature)
    b = jnp.power(1.0 - p, 1.0 / temperature)
    return a / (a + b)


class Bernoulli(jc.AbstractFamily):
    r"""Bernoulli($p$), refitted by the share of heads (the MLE).

    Metrics against a truth $p^*$: ``p``; ``gini_simpson`` $2p(1-p)$ (the heterozygosity); ``absorbed``
    $1\{p \in \{0, 1\}\}$ (fixation: an absorbing state under replace); ``sq_err`` $(p - p^*)^2$.
    Drift: a moving logit, `translate(delta)` gives $\sigma(\operatorname{logit} p + \delta)$.
    """

    p: Float[Array, ""]

    metric_names: ClassVar[tuple[str, ...]] = ("p", "gini_simpson", "absorbed", "sq_err")
    has_exact_stats: ClassVar[bool] = True
    supports_drift: ClassVar[bool] = True
    has_log_prob: ClassVar[bool] = True

    def __init__(self, p=0.5):
        if not isinstance(p, jax.core.Tracer) and not (np.ndim(p) == 0 and 0.0 <= float(p) <= 1.0):
            raise ValueError(f"p = {p!r} is invalid: p must be a number in [0, 1]")
        self.p = jnp.asarray(p, jnp.result_type(float))

    @property
    def dtype(self):
        return self.p.dtype

    def draw_samples(self, stream, n: int, temperature):
        q = _tempered(self.p, jnp.asarray(temperature, self.dtype))
        return (jr.uniform(stream, (n,), self.dtype) < q).astype(self.dtype)

    def sample_stats(self, stream, n, temperature) -> BernoulliStats:
        r"""Exact $(n, S)$ with $S \sim \mathrm{Binomial}(n, p)$: one draw, any $n$."""
        n = jnp.asarray(n, self.dtype)
        q = _tempered(self.p, jnp.asarray(temperature, self.dtype))
        key = jax.random.wrap_key_data(stream.bits(2), impl="threefry2x32")
        return BernoulliStats(n, jax.random.binomial(key, n, q, dtype=self.dtype))

    def stats(self, x, mask=None) -> BernoulliStats:
        x = jnp.asarray(x, self.dtype).reshape(-1)
        w = jnp.ones(x.shape, self.dtype) if mask is None else mask.astype(self.dtype)
        return BernoulliStats(jnp.sum(w), jnp.sum(w * x))

    def empty_stats(self) -> BernoulliStats:
        z = jnp.zeros((), self.dtype)
        return BernoulliStats(z, z)

    def fit(self, stats: BernoulliStats, stream) -> Bernoulli:
        """The share of heads (no randomness: `stream` is unused); no data keeps $p$."""
        has = stats.count > 0
        return eqx.tree_at(lambda m: m.p, self, jnp.where(has, stats.heads / jnp.where(has, stats.count, 1.0), self.p))

    def translate(self, delta) -> Bernoulli:
        delta = jnp.reshape(jnp.asarray(delta, self.dtype), ())
        moved = jax.nn.sigmoid(jnp.log(self.p) - jnp.log1p(-self.p) + delta)
        return eqx.tree_at(lambda m: m.p, self, jnp.where(delta != 0, moved, self.p))

    def log_prob(self, x):
        x = jnp.asarray(x, self.dtype).reshape(-1)
        lp1 = jnp.where(x > 0, jnp.log(jnp.where(self.p > 0, self.p, 1.0)), 0.0)
        lp0 = jnp.where(x > 0, 0.0, jnp.log1p(-jnp.where(self.p < 1, self.p, 0.0)))
        ok = jnp.where(x > 0, self.p > 0, self.p < 1)
        return jnp.where(ok, lp1 + lp0, -jnp.inf)

    def metrics(self, truth: Bernoulli, stream) -> dict:
        p = self.p
        return {"p": p, "gini_simpson": 2.0 * p * (1.0 - p), "absorbed": ((p <= 0) | (p >= 1)).astype(self.dtype),
                "sq_err": (p - truth.p) ** 2}


def heterozygosity(t, n: int, p0: float):
    """$E[2 p_t (1 - p_t)] = (1 - 1/n)^t\\,2 p_0 (1 - p_0)$ under replace (derived in the module docstring)."""
    return (1.0 - 1.0 / n) ** np.asarray(t, np.float64) * 2.0 * p0 * (1.0 - p0)


# --------------------------------------------------------------------------- 2. its recipe
class BernoulliRecipe(recipes.Recipe):
    name = NAME
    description = "a coin refitted by maximum likelihood on its own flips (a family registered by a test)"
    params = (
        *recipes.run_params(n=10, generations=20, chains=200, regimes=("replace", "accumulate"),
                            paths=("exact", "samples")),
        recipes.Param("p", float, 0.3, "the truth's probability of heads", static=False, low=0.0, high=1.0),
    )
    metric_names = Bernoulli.metric_names
    headline = ("gini_simpson", "p")
    bayes = "diversity"

    def build(self, params):
        return Bernoulli(params["p"]), None, recipes.regime_from(params)

    def theory(self, params, generations):
        if params["drift"] != 0.0 or params["temperature"] != 1.0:
            return {}
        t = np.arange(generations + 1)
        out = {"p": np.full(t.shape, params["p"])}  # a martingale (module docstring)
        if params["regime"] == "replace":
            out["gini_simpson"] = heterozygosity(t, params["n"], params["p"])
        return out


# --------------------------------------------------------------------------- 3. its check
def _check_heterozygosity(key, scale):
    """replace, exact path: E H_t and E p_t at t = 1, 5, 20 against the closed forms (z-tests)."""
    n, p0, ts = 10, 0.3, (1, 5, 20)
    traj = verify.sim(key, Bernoulli(p0), regimes.replace(n), max(ts), verify.scaled_chains(4000, scale),
                      ("gini_simpson", "p"))
    return (verify.means(CHECK, traj, "gini_simpson", ts, heterozygosity(ts, n, p0), quantity="E H_t")
            + verify.means(CHECK, traj, "p", ts, p0, quantity="E p_t"))


@pytest.fixture(scope="module")
def registered():
    recipe = recipes.register(BernoulliRecipe())
    verify.register(CHECK, family=NAME, source="two-type Wright-Fisher (derived in tests/test_new_family.py)",
                    description="Bernoulli replace: E 2p_t(1-p_t) = (1 - 1/n)^t 2p_0(1-p_0), E p_t = p_0",
                    )(_check_heterozygosity)
    try:
        yield recipe
    finally:
        recipes.unregister(NAME)
        verify.unregister(CHECK)


# --------------------------------------------------------------------------- 4. the tools on it
RUN_ARGS = ["run", "--family", NAME, "--regime", "replace", "accumulate", "--n", "10", "--generations", "20",
            "--chains", "200", "--quiet"]


@pytest.fixture(scope="module")
def run_out(registered, tmp_path_factory):
    """One ``jaxcollapse run --family bernoulli`` for the whole module."""
    out = tmp_path_factory.mktemp("bernoulli") / "run"
    assert cli.main([*RUN_ARGS, "--out", str(out)]) == 0
    return out


def _summary(path):
    with path.open() as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    return {h: data[:, i] for i, h in enumerate(header)}


def test_the_family_is_on_the_public_contract(registered):
    """The family needs nothing private: the engine runs it on both paths, and the contract's concrete
    methods (sample, accepts_truth, the drift check) serve it."""
    m = Bernoulli(0.3)
    x = m.sample(jax.random.key(0), 4000)
    assert set(np.unique(np.asarray(x))) <= {0.0, 1.0}
    z = (float(x.mean()) - 0.3) / math.sqrt(0.3 * 0.7 / x.size)
    assert abs(z) < Z_BOUND, z
    with pytest.raises(ValueError, match=r"p = 1.5 is invalid: p must be a number in \[0, 1\]"):
        Bernoulli(1.5)
    with pytest.raises(ValueError, match="needs a Bernoulli truth"):
        m.accepts_truth(jc.Poisson(1.0))
    for path in ("exact", "samples"):  # E H_1 on both paths (the Binomial count and the flips themselves)
        tr = jc.simulate(jax.random.key(1), m, regimes.replace(10), 1, 4000, path=path, metrics=("gini_simpson",),
                         quantiles=())
        z = (float(tr.mean("gini_simpson")[1]) - heterozygosity(1, 10, 0.3)) / float(tr.stderr("gini_simpson")[1])
        assert abs(z) < Z_BOUND, (path, z)


def test_run_writes_every_output(run_out):
    names = {p.name for p in run_out.iterdir()}
    expected = {"table.txt", "summary.csv", "results.npz", "config.toml", "chains_replace_gini_simpson.csv",
                "chains_accumulate_gini_simpson.csv", "gini_simpson.png", "p.png"}
    assert expected <= names, expected - names
    table = (run_out / "table.txt").read_text()
    assert table.startswith("bernoulli (p=0.3), n=10; 200 chains, 20 generations, exact path")
    rows = [ln.split() for ln in table.splitlines()]
    shown = {(r[0], r[1], r[2]): r[3] for r in rows if len(r) > 3 and r[0] in ("replace", "accumulate")}
    assert shown[("replace", "gini_simpson", "20")] == f"{heterozygosity(20, 10, 0.3):.6g}"  # theory beside it
    assert shown[("accumulate", "p", "20")] == "0.3" and shown[("accumulate", "gini_simpson", "20")] == "—"
    conf = tomllib.loads((run_out / "config.toml").read_text())
    assert conf["family"] == NAME and conf[NAME] == {"p": 0.3} and conf["regimes"] == ["replace", "accumulate"]
    lines = (run_out / "chains_replace_gini_simpson.csv").read_text().splitlines()
    assert lines[0] == "# jaxcollapse family=bernoulli regime=replace metric=gini_simpson model=diversity n=10"
    assert lines[1] == "generation," + ",".join(f"chain_{i}" for i in range(200))
    chains = np.loadtxt(run_out / "chains_replace_gini_simpson.csv", delimiter=",", skiprows=2)
    assert chains.shape == (21, 201) and np.allclose(chains[0, 1:], 0.42, rtol=1e-6)
    assert np.all((chains[:, 1:] >= 0) & (chains[:, 1:] <= 0.5))


def test_run_summary_agrees_with_the_theory(run_out):
    """summary.csv against the closed forms: E H_t under replace, E p_t under both regimes (z-tests, t = 20)."""
    s = _summary(run_out / "summary.csv")
    se = lambda col: s[col.replace("/mean", "/std")][20] / math.sqrt(200)  # noqa: E731
    checks = [("replace/gini_simpson/mean", heterozygosity(20, 10, 0.3)), ("replace/p/mean", 0.3),
              ("accumulate/p/mean", 0.3)]
    for col, expect in checks:
        z = (s[col][20] - expect) / se(col)
        assert abs(z) < Z_BOUND, (col, z)
    assert s["replace/gini_simpson/mean"][20] < 0.5 * s["replace/gini_simpson/mean"][0]  # the collapse itself


@pytest.mark.slow
def test_run_every_regime_on_the_samples_path_in_float64(registered, tmp_path):
    """Every regime the recipe declares, with a drifting truth and a temperature, float64, 2 generations."""
    out = tmp_path / "all"
    assert cli.main(["run", "--family", NAME, "--regime", *recipes.REGIME_NAMES, "--path", "samples", "--drift", "0.1",
                     "--temperature", "0.8", "--lam", "1.5", "--generations", "2", "--chains", "8", "--x64",
                     "--out", str(out), "--quiet"]) == 0
    s = _summary(out / "summary.csv")
    for r in recipes.REGIME_NAMES:
        assert np.all(np.isfinite(s[f"{r}/p/mean"])) and s[f"{r}/p/mean"][0] == 0.3  # float64: 0.3 exactly


def test_run_config_reruns_bitwise(run_out, tmp_path):
    again = tmp_path / "again"
    assert cli.main(["run", "--config", str(run_out / "config.toml"), "--out", str(again), "--quiet"]) == 0
    assert (again / "summary.csv").read_bytes() == (run_out / "summary.csv").read_bytes()
    assert ((again / "chains_replace_gini_simpson.csv").read_bytes()
            == (run_out / "chains_replace_gini_simpson.csv").read_bytes())


def test_run_help_and_bad_input_come_from_the_schema(registered, tmp_path, capsys, no_run):
    assert cli.main(["run", "--family", NAME, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--p P" in out and "the truth's probability of heads" in out and "default: 0.3" in out
    bad = tmp_path / "bad"
    assert cli.main(["run", "--family", NAME, "--p", "1.5", "--out", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["jaxcollapse: error: p = 1.5 is invalid (out of range): p must be a number in [0, 1]"]
    assert not bad.exists()


SWEEP = """
family = "bernoulli"
generations = 10
chains = 256
seed = 3
metrics = ["p", "gini_simpson"]
quantiles = [0.5]
chunk = 4

[params]
regime = "replace"

[grid]
n = [5, 20]
p = [0.2, 0.5]

[[plot]]
x = "n"
y = "p"
metric = "gini_simpson"
name = "heterozygosity"
"""


def test_sweep_over_the_recipe_parameters(registered, tmp_path):
    """A grid of n and p (both traced on the exact path): every point's E H_10 and E p_10 against theory."""
    cfg_path = tmp_path / "bernoulli.toml"
    cfg_path.write_text(SWEEP)
    out = tmp_path / "sweep"
    assert cli.main(["sweep", str(cfg_path), "--out", str(out), "--quiet"]) == 0
    assert (out / "phase_heterozygosity.png").is_file()
    cfg = jc.sweep.load_config(cfg_path)
    ds = jc.open_sweep(out)
    assert ds.attrs["complete"] and dict(ds.sizes)["n"] == 2 and dict(ds.sizes)["p"] == 2
    p_var = jc.sweep.metric_variable(cfg, "p")
    assert p_var == "p_metric"  # a metric named like a swept parameter
    for n in (5, 20):
        for p0 in (0.2, 0.5):
            for var, expect in (("gini_simpson", heterozygosity(10, n, p0)), (p_var, p0)):
                cell = ds[var].sel(n=n, p=p0, generation=10)
                z = (float(cell.sel(stat="mean")) - expect) / (float(cell.sel(stat="std")) / math.sqrt(256))
                assert abs(z) < Z_BOUND, (var, n, p0, z)


def test_verify_runs_the_registered_check(registered, capsys):
    assert cli.main(["verify", "--family", NAME]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == verify.RULES
    rows = [ln for ln in out.splitlines() if ln.startswith(CHECK)]
    assert len(rows) == 6 and all(ln.endswith("PASS") for ln in rows), out
    assert out.strip().splitlines()[-1].endswith("all passed")
    assert cli.main(["verify", "--list", "--family", NAME]) == 0
    assert capsys.readouterr().out.split()[:2] == [CHECK, NAME]


def test_forecast_on_the_run_csv(run_out, tmp_path, capsys):
    """The model comes from the CSV's comment line (diversity); the fitted kappa is 1 (the Wright-Fisher factor
    is exactly 1 - 1/n): within 4 posterior standard deviations."""
    out = tmp_path / "forecast"
    argv = ["forecast", str(run_out / "chains_replace_gini_simpson.csv"), "--out", str(out), "--num-warmup", "200",
            "--num-samples", "300", "--num-chains", "1"]
    assert cli.main(argv) == 0
    text = (out / "summary.txt").read_text()
    assert "model: diversity (" in text and "nominal n = 10" in text
    assert {"summary.txt", "forecast.csv", "posterior.npz", "forecast.png"} <= {p.name for p in out.iterdir()}
    with np.load(out / "posterior.npz") as post:
        lk = np.asarray(post["log_kappa"], np.float64).ravel()
    assert abs(lk.mean()) < Z_BOUND * lk.std(), (lk.mean(), lk.std())
