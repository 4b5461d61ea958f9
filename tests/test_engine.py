"""The engine (`jaxcollapse.simulate`): jit vs eager, chain-prefix invariance, no retrace on a
new key or traced value, bad input caught before compiling, collapsed chains stay finite, and
the `Trajectory` it returns.

Runs come from the shared table in conftest (`run_case`), so that most tests reuse a compiled
program instead of compiling their own.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import REGIME_DIMS, RUN_CHAINS, RUN_GENERATIONS, count_compiles, default_model, run_case

import jaxcollapse
from jaxcollapse import Gaussian, regimes
from jaxcollapse.random import Stream

SIGMA3 = np.array([[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]])

# --------------------------------------------------------------------------- jit vs eager

# float32 tolerance for jit vs op-by-op: XLA may fuse and contract (FMA) a jitted program
# differently from op-by-op execution, which moves each result by a few ULP (~1e-7 relative);
# a handful of generations of multiplicative updates keeps that well below 1e-5.
JIT_RTOL = 1e-5


def test_family_functions_jit_matches_eager():
    """The Bartlett sampler `sample_stats` and `draw_samples` of one chain in d = 3 (the 1-D code
    runs in `test_simulate_eager_matches_jit`): the same numbers jitted and op by op."""
    g = Gaussian(np.array([1.0, -2.0, 0.5]), SIGMA3)
    key = jax.random.key(20)

    def step(chain):
        s = Stream.from_key(key, chain)
        exact = g.sample_stats(s.fork(1), jnp.asarray(6.0), jnp.asarray(0.8))
        return exact.mean, exact.scatter, g.draw_samples(s.fork(2), 6, jnp.asarray(0.8))

    c = jnp.asarray(3, jnp.uint32)
    jitted = jax.jit(step)(c)
    with jax.disable_jit():
        eager = step(c)
    for a, b in zip(jitted, eager, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=JIT_RTOL, atol=1e-6)


@pytest.mark.slow  # eager execution is slow; test_family_functions_jit_matches_eager stays
def test_simulate_eager_matches_jit():
    """The whole engine run op by op (`jax.disable_jit`) on a tiny configuration gives the
    compiled run's summaries and final models (tolerance JIT_RTOL, see above)."""
    model = default_model(1)
    args = (jax.random.key(7), model, regimes.replace(5), 2, 2)
    jitted = jaxcollapse.simulate(*args)
    with jax.disable_jit():
        eager = jaxcollapse.simulate(*args)
    not_recorded = jaxcollapse.engine.NotRecorded  # nothing recorded unless asked for
    assert isinstance(jitted.paths, not_recorded) and isinstance(jitted.params, not_recorded)
    for k in Gaussian.metric_names:
        for a, b in ((jitted.mean(k), eager.mean(k)), (jitted.std(k), eager.std(k)),
                     (jitted.summary[k].quantiles, eager.summary[k].quantiles)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=JIT_RTOL, atol=1e-6, err_msg=k)
    for a, b in zip(jax.tree.leaves(jitted.final), jax.tree.leaves(eager.final), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=JIT_RTOL, atol=1e-6)


# --------------------------------------------------------------------------- chain-prefix invariance

PREFIX_RTOL = 1e-5
PREFIX_CASES = [("replace", "exact"), ("replace", "samples"), ("fresh", "exact"), ("fresh", "samples"),
                ("accumulate_subsample", "samples"), ("weighted", "exact")]


@pytest.mark.parametrize(("name", "path"), PREFIX_CASES, ids=[f"{n}-{p}" for n, p in PREFIX_CASES])
def test_chain_prefix_invariance(name, path):
    """Chain i is the same whether 8 or 64 chains run: the first 8 chains' parameters and metric
    paths agree. Their random numbers are identical (counter-based streams, see test_random), and
    in 1-D so is their arithmetic: parameters agree bit for bit. In d > 1 and in some derived
    metrics XLA compiles different fusions for different batch sizes (measured: up to 1 ULP per
    generation, 8e-6 relative after 6 generations), so those get `PREFIX_RTOL`. A chain that
    drew different numbers would differ at O(1)."""
    small = run_case(name, path, seed=9, chains=RUN_CHAINS)
    big = run_case(name, path, seed=9, chains=64)

    def first(x):
        return np.asarray(x)[:, :RUN_CHAINS]

    for a, b in zip(jax.tree.leaves(small.params), jax.tree.leaves(big.params), strict=True):
        if REGIME_DIMS[name] == 1:
            np.testing.assert_array_equal(np.asarray(a), first(b))
        else:
            np.testing.assert_allclose(np.asarray(a), first(b), rtol=PREFIX_RTOL, atol=PREFIX_RTOL)
    for k in small.paths:
        np.testing.assert_allclose(np.asarray(small.paths[k]), first(big.paths[k]), rtol=PREFIX_RTOL,
                                   atol=PREFIX_RTOL, err_msg=k)
    # and the other chains are other chains
    assert not np.allclose(first(big.paths["trace"]), np.asarray(big.paths["trace"])[:, 8:16], rtol=1e-2)


# --------------------------------------------------------------------------- no retrace

def test_no_recompile_on_new_key_or_traced_values():
    """Calls that differ only in the key or in traced values reuse the compiled program: a new
    key, tau, drift, n (exact path), model and truth parameters."""
    run_case("replace", "exact")  # warm (compiles unless an earlier test on this worker did)
    g = Gaussian(-1.0, 0.3)
    with count_compiles() as c:
        run_case("replace", "exact", seed=123)
        run_case("replace", "exact", temperature=0.7)
        run_case("replace", "exact", drift=0.3)
        run_case("replace", "exact", n=7)
        run_case("replace", "exact", n=1000)
        run_case("replace", "exact", model=g)
        run_case("replace", "exact", model=g, truth=Gaussian(2.0, 5.0))
    assert c.compiles == 0 and c.traces == 0, f"{c.compiles} compiles, {c.traces} traces"


@pytest.mark.slow  # two more compiles; the sweep's tests vmap traced regime knobs in the default suite
def test_no_recompile_on_new_lambda_or_w():
    run_case("augment", "exact")
    run_case("weighted", "exact")
    with count_compiles() as c:
        run_case("augment", "exact", lam=0.9)
        run_case("weighted", "exact", w=0.8)
    assert c.compiles == 0 and c.traces == 0, f"{c.compiles} compiles, {c.traces} traces"


def test_new_chain_count_compiles():
    """The number of chains sets shapes: a new count compiles (this also shows that the counter
    used above does see compiles)."""
    with count_compiles() as c:
        run_case("replace", "exact", chains=RUN_CHAINS + 1)  # no other test uses this count
    assert c.compiles >= 1 and c.traces >= 1


# --------------------------------------------------------------------------- bad input

def _unbiased(d=1):
    return Gaussian(np.zeros(d) if d > 1 else 0.0, 1.0, estimator="unbiased")


# Each case: (keyword arguments for `simulate` over the defaults below, regex of the message).
BAD_INPUT = {
    "unbiased-n1": (dict(model=_unbiased(), regime=regimes.replace(1)), "unbiased variance needs at least 2"),
    "unbiased-schedule": (dict(model=_unbiased(), regime=regimes.replace(regimes.linear(1, 1))), "at least 2"),
    "unbiased-accumulate": (dict(model=_unbiased(), regime=regimes.accumulate(1)), "at least 2"),
    "unbiased-subsample": (dict(model=_unbiased(), regime=regimes.accumulate_subsample(5, 1), path="samples"),
                           "at least 2"),
    "generations-0": (dict(generations=0), "generations must be an integer >= 1"),
    "generations-neg": (dict(generations=-3), "generations must be an integer >= 1"),
    "generations-float": (dict(generations=2.0), "generations must be an integer >= 1"),
    "generations-bool": (dict(generations=True), "generations must be an integer >= 1"),
    "chains-0": (dict(chains=0), "chains must be an integer >= 1"),
    "chains-float": (dict(chains=1.5), "chains must be an integer >= 1"),
    "truth-dims": (dict(model=Gaussian(np.zeros(3), 1.0), truth=Gaussian(np.zeros(2), 1.0)), "mismatched dimensions"),
    "drift-dims": (dict(model=Gaussian(np.zeros(3), 1.0), regime=regimes.replace(5, drift=np.ones(2))),
                   "drift has dimension 2"),
    "metric": (dict(metrics=("trace", "entropy")), "unknown metric.*entropy"),
    "no-metrics": (dict(metrics=()), "metric"),
    "path": (dict(path="sampled"), "unknown path 'sampled'"),
    "subsample-exact": (dict(regime=regimes.accumulate_subsample(5)), "accumulate_subsample.*path='samples'"),
    "subsample-size": (dict(regime=regimes.accumulate_subsample(5, 6), path="samples"), "subsample size 6 exceeds"),
    "quantile": (dict(quantiles=(0.5, 1.5)), "quantile levels"),
    "quantile-chains": (dict(quantile_chains=0), "quantile_chains"),
    "key-raw": (dict(key=jax.random.PRNGKey(0)), "typed key"),
    "key-int": (dict(key=0), "typed key"),
    "key-rbg": (dict(key=jax.random.key(0, impl="rbg")), "threefry"),
    "model-type": (dict(model="gaussian"), "model must be a jaxcollapse family"),
    "regime-type": (dict(regime="replace"), "regime must be a jaxcollapse Regime"),
    "progress": (dict(progress="yes"), "progress must be"),
    "blocks": (dict(blocks=0), "blocks must be an integer >= 1"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_raises_before_compiling(case, no_run, typecheck_off):
    """One clear ValueError, raised before the engine is reached and before anything compiles."""
    over, match = BAD_INPUT[case]
    kw = dict(key=jax.random.key(0), model=default_model(1), regime=regimes.replace(5), generations=3, chains=4)
    kw.update(over)
    args = [kw.pop(k) for k in ("key", "model", "regime", "generations", "chains")]
    with count_compiles() as c, pytest.raises(ValueError, match=match):
        jaxcollapse.simulate(*args, **kw)
    assert c.compiles == 0


# --------------------------------------------------------------------------- collapse stays finite

def _no_nan(tr):
    for k, s in tr.summary.items():
        for name, v in (("mean", s.mean), ("std", s.std), ("quantiles", s.quantiles)):
            assert not np.any(np.isnan(np.asarray(v))), f"NaN in the {name} of {k}"
    for k, p in tr.paths.items():
        assert not np.any(np.isnan(np.asarray(p))), f"NaN in the path of {k}"


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_collapsed_chains_stay_finite_1d(estimator):
    """10,000 generations at n = 2..5: every chain's variance reaches exactly 0 (E ln sigma^2
    falls by at least 0.27 per generation, float32 underflows below e^-104), and then
    `log_det_ratio` is -inf, `kl` is +inf, their std across chains is inf, and nothing is NaN."""
    model = Gaussian(0.5, 2.0, estimator=estimator)
    for n in (2, 3, 4, 5):
        tr = jaxcollapse.simulate(jax.random.key(n), model, regimes.replace(n), 10_000, 16, record_paths=True)
        _no_nan(tr)
        trace = np.asarray(tr.paths["trace"])
        log_det = np.asarray(tr.paths["log_det_ratio"])
        assert np.all(trace[-1] == 0), f"n={n}: not every chain collapsed"
        zero = trace == 0
        assert np.all(zero[1:] | ~zero[:-1]), "a collapsed chain came back"
        np.testing.assert_array_equal(np.isneginf(log_det), zero)  # -inf exactly where the variance is 0
        assert np.all(np.isfinite(log_det[~zero]))
        kl = np.asarray(tr.paths["kl"])
        assert np.all(np.isposinf(kl[zero]))  # +inf once collapsed (and where sigma*^2/sigma^2 overflows)
        assert np.all(kl > -np.inf)
        for k in ("mean_sq_err", "w2sq", "conserved", "sigma", "trace_ratio"):
            assert np.all(np.isfinite(np.asarray(tr.paths[k]))), k
        assert float(tr.mean("log_det_ratio")[-1]) == -math.inf and float(tr.std("log_det_ratio")[-1]) == math.inf
        assert float(tr.mean("kl")[-1]) == math.inf and float(tr.std("kl")[-1]) == math.inf
        assert np.all(np.asarray(tr.summary["log_det_ratio"].quantiles[-1]) == -math.inf)
        assert math.isfinite(float(tr.std("trace")[-1])) and float(tr.std("trace")[-1]) == 0


def test_collapsed_chains_stay_finite_3d():
    """d = 3, n = 4, 3,000 generations (E ln det falls by 4.6 per generation): singular fits give
    log det -inf and KL +inf, never NaN."""
    model = Gaussian(np.array([1.0, -2.0, 0.5]), SIGMA3)
    tr = jaxcollapse.simulate(jax.random.key(3), model, regimes.replace(4), 3000, 8, record_paths=True)
    _no_nan(tr)
    assert np.all(np.isneginf(np.asarray(tr.paths["log_det_ratio"])[-1]))
    assert np.all(np.isposinf(np.asarray(tr.paths["kl"])[-1]))
    for k in ("mean_sq_err", "trace", "w2sq", "conserved"):
        assert np.all(np.isfinite(np.asarray(tr.paths[k]))), k
    assert float(tr.std("kl")[-1]) == math.inf
    assert np.all(np.isfinite(np.asarray(tr.final.mean))) and np.all(np.isfinite(np.asarray(tr.final.cov)))


# --------------------------------------------------------------------------- the Trajectory

def test_trajectory_api():
    tr = run_case("replace", "exact", seed=11)
    G, C = RUN_GENERATIONS, RUN_CHAINS
    # one return type for every per-generation accessor: a numpy array (issue 14: mean was a JAX array)
    for value in (tr.mean("trace"), tr.std("trace"), tr.stderr("trace"), tr.quantile("trace", 0.5)):
        assert type(value) is np.ndarray and value.shape == (G + 1,)
    p = np.asarray(tr.paths["trace"])
    np.testing.assert_allclose(tr.stderr("trace"), p.std(1) / math.sqrt(C), rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(tr.quantile("trace", 0.5), tr.summary["trace"].quantile(0.5))
    with pytest.raises(KeyError, match="entropy"):
        tr.mean("entropy")
    with pytest.raises(ValueError, match="not recorded"):
        tr.quantile("trace", 0.3)
    flat = tr.to_numpy()
    assert flat["generation"].tolist() == list(range(G + 1))
    for k in Gaussian.metric_names:
        assert flat[f"mean/{k}"].shape == flat[f"std/{k}"].shape == flat[f"q0.5/{k}"].shape == (G + 1,)
        assert flat[f"path/{k}"].shape == (G + 1, C)
    assert tr.config["family"] == "Gaussian" and "replace" in tr.config["regime"]
    assert tr.params.mean.shape == (G + 1, C, 1)
    np.testing.assert_array_equal(tr.params.mean[0], np.broadcast_to(default_model(1).mean, (C, 1)))


def test_generation_zero_is_the_model_and_metrics_use_the_truth():
    """With `truth` given, generation 0 is `model`, measured against the truth."""
    tr = run_case("replace", "exact", model=Gaussian(1.5, 3.0), truth=Gaussian(0.5, 2.0))
    np.testing.assert_allclose(tr.paths["mean_sq_err"][0], 1.0)
    np.testing.assert_allclose(tr.paths["trace_ratio"][0], 1.5)
    np.testing.assert_allclose(tr.params.cov[0, :, 0, 0], 3.0)


# --------------------------------------------------------------------------- the chain API by hand

def test_init_and_step_chain_by_hand_equal_simulate():
    """The module docstring's example: one chain written with `init_chain` / `step_chain`, vmapped over 8 chains
    and scanned over the generations, gives `simulate`'s per-chain metric paths and final models: the same
    counters, so the same numbers up to the last bits (another program: XLA fuses and contracts it differently,
    `PREFIX_RTOL`); a chain that drew other numbers would differ at O(1)."""
    from jaxcollapse import engine

    model, regime = default_model(1), regimes.accumulate(5)
    G, C = RUN_GENERATIONS, RUN_CHAINS
    spec = engine.make_spec(model, regime, G)
    key = jax.random.key(4)

    @jax.jit
    def by_hand(chains):
        def one_chain(chain):
            state = engine.init_chain(engine.chain_stream(key, 0, chain), spec)
            m0 = engine.measure_chain(engine.chain_stream(key, 0, chain), state, 0, spec)

            def body(carry, _):
                state, t = carry
                state, metrics = engine.step_chain(engine.chain_stream(key, t, chain), state, t, spec)
                return (state, t + 1), metrics

            (state, _), ms = jax.lax.scan(body, (state, jnp.ones((), jnp.int32)), None, length=G)
            return jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), m0, ms), state.model

        return jax.vmap(one_chain)(chains)

    paths, final = by_hand(jnp.arange(C, dtype=jnp.uint32))
    tr = jaxcollapse.simulate(key, model, regime, G, C, metrics=("mean_sq_err", "trace"), record_paths=True)
    for k in ("mean_sq_err", "trace"):
        np.testing.assert_allclose(np.asarray(paths[k]).T, np.asarray(tr.paths[k]), rtol=PREFIX_RTOL,
                                   atol=PREFIX_RTOL, err_msg=k)
    for a, b in zip(jax.tree.leaves(final), jax.tree.leaves(tr.final), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=PREFIX_RTOL, atol=PREFIX_RTOL)


@pytest.mark.parametrize(("n", "full", "counts"), [(4, True, (4, 8, 12)), (regimes.linear(2, 3), False, (2, 7, 15))])
def test_sample_path_draws_n_t_samples_masked_only_when_n_t_varies(n, full, counts):
    """On the sample path a generation draws `capacity` samples and keeps the first n_t. When n_t is the capacity
    in every generation the spec says so (`full_draws`) and no mask is built; otherwise the mask keeps exactly n_t:
    the accumulated pool counts 2, 2 + 5, 2 + 5 + 8 for n_t = 2 + 3 (t - 1)."""
    from jaxcollapse import engine

    spec = engine.make_spec(jaxcollapse.Poisson(3.0), regimes.accumulate(n), 3, path="samples")
    assert spec.options.full_draws is full
    assert spec.options.capacity == (4 if full else 8)
    key = jax.random.key(0)
    state = engine.init_chain(engine.chain_stream(key, 0, 0), spec)
    got = []
    for t in (1, 2, 3):
        state, _ = engine.step_chain(engine.chain_stream(key, t, 0), state, t, spec)
        got.append(float(state.pool.count))
    assert got == list(map(float, counts))


def test_full_draws_of_augment_follow_round_lambda_n_real():
    """augment draws round(lambda n_real) synthetic samples into a capacity of max(n_real, that): the mask is
    needed exactly when lambda < 1 leaves the capacity partly unused."""
    from jaxcollapse import engine

    for lam, full in ((2.0, True), (1.0, True), (0.5, False)):
        spec = engine.make_spec(Gaussian(0.0, 1.0), regimes.augment(10, lam), 2, path="samples")
        assert spec.options.full_draws is full, lam


def test_run_points_stacks_points_with_common_random_numbers():
    """Two points in one `run_points` call equal two one-point calls (same key, same chains: common random
    numbers; another batch shape, so up to the last bits, `PREFIX_RTOL`), and a point's chains summarize to its
    paths' mean (the block reduction)."""
    from jaxcollapse import engine

    specs = [engine.make_spec(Gaussian(0.0, v), regimes.replace(5, temperature=tau), 3) for v, tau in
             ((1.0, 1.0), (2.0, 0.9))]
    key = jax.random.key(8)
    kw = dict(chains=16, metrics=("trace",), quantiles=(0.5,), blocks=4, record_paths=True)
    both = engine.run_points(key, engine.stack_specs(specs), **kw)
    for i, spec in enumerate(specs):
        one = engine.run_points(key, engine.stack_specs([spec]), **kw)
        np.testing.assert_allclose(np.asarray(both.paths["trace"][i]), np.asarray(one.paths["trace"][0]),
                                   rtol=PREFIX_RTOL)
        np.testing.assert_allclose(np.asarray(both.summary["trace"][0][i]),
                                   np.asarray(one.paths["trace"][0]).mean(axis=1), rtol=1e-6)
    assert both.final is None and both.params is None and both.real is None  # nothing recorded unless asked


# --------------------------------------------------------------------------- progress

def test_progress_callable_change_does_not_recompile(capsys):
    """The progress callable is looked up at run time (one trampoline): a new callable reuses the program,
    and it sees the run through to (G, G)."""
    seen = {"a": [], "b": []}

    def run(name):
        return jaxcollapse.simulate(jax.random.key(1), default_model(1), regimes.replace(5), 40, 8,
                                    metrics=("trace",), progress=lambda t, g: seen[name].append((t, g)))

    tr = run("a")
    with count_compiles() as c:
        run("b")
    assert c.compiles == 0, f"{c.compiles} compiles"
    # nothing recorded but the summaries: a look-up says what to pass (not "'NoneType' is not subscriptable")
    assert not tr.paths and not tr.params
    with pytest.raises(KeyError, match=r"per-chain paths were not recorded: pass record_paths=True to simulate"):
        tr.paths["trace"]
    with pytest.raises(AttributeError, match=r"parameters were not recorded: pass record_params=True to simulate"):
        tr.params.mean  # noqa: B018
    assert "path/trace" not in tr.to_numpy()
    for name in seen:
        assert (40, 40) in seen[name] and all(g == 40 for _, g in seen[name]), seen[name]
    jaxcollapse.simulate(jax.random.key(1), default_model(1), regimes.replace(5), 40, 8, metrics=("trace",),
                         progress=True)
    assert "generation     40/40" in capsys.readouterr().err


# --------------------------------------------------------------------------- the fixed real set

def test_fixed_real_set_reads_back():
    """`Trajectory.real` holds each chain's fixed real set, and `engine.real_samples` the samples behind it:
    with w = 1 (the real data carry all the weight) every generation's model is the MLE of exactly those
    samples, chain by chain."""
    from jaxcollapse import engine

    model = Gaussian(np.array([1.0, -1.0]), np.array([[1.0, 0.3], [0.3, 0.5]]))
    regime = regimes.weighted(5, 6, 1.0)
    key = jax.random.key(12)
    tr = jaxcollapse.simulate(key, model, regime, 3, 16, path="samples", record_params=True)
    x = np.asarray(engine.real_samples(key, engine.make_spec(model, regime, 3, path="samples"), 16), np.float64)
    assert x.shape == (16, 5, 2)
    np.testing.assert_allclose(np.asarray(tr.real.count), 5.0)
    np.testing.assert_allclose(np.asarray(tr.real.mean), x.mean(axis=1), rtol=1e-5, atol=1e-6)
    for t in (1, 3):
        np.testing.assert_allclose(np.asarray(tr.params.mean[t]), x.mean(axis=1), rtol=1e-5, atol=1e-6)
        d = x - x.mean(axis=1, keepdims=True)
        np.testing.assert_allclose(np.asarray(tr.params.cov[t]), np.einsum("cni,cnj->cij", d, d) / 5,
                                   rtol=1e-4, atol=1e-5)
    assert not np.allclose(x[0], x[1])  # each chain has its own real set
    with pytest.raises(ValueError, match="no fixed real set"):
        engine.real_samples(key, engine.make_spec(model, regimes.replace(5), 3), 4)
    assert jaxcollapse.simulate(key, model, regimes.replace(5), 2, 4, record_params=True).real is None


# --------------------------------------------------------------------------- every family x regime x dtype

FAMILY_NAMES = ["gaussian", "categorical", "poisson", "bigram", "regression", "logistic", "mixture", "kde", "vae",
                "mlp", "diffusion", "transformer"]
# compiling the networks' training under six regimes takes the longest (about 8x a Gaussian's): their float32 row
# (float32 is what tests/test_neural.py runs) is in the slow set, their float64 row in the default suite
MATRIX = [pytest.param(f, x64, id=f"{f}-{'float64' if x64 else 'float32'}",
                       marks=[pytest.mark.slow] if f in ("vae", "mlp") and not x64 else [])
          for f in FAMILY_NAMES for x64 in (False, True)]


@pytest.mark.parametrize(("family", "x64"), MATRIX)
def test_every_family_every_regime_both_precisions(family, x64):
    """Each family under every regime preset (`tests/tiny_families.py`) on the sample path, 2 chains x 2 generations,
    in float32 and float64 (issue 13: accumulate_subsample crashed under x64 for every family): the models keep
    their dtype and no metric is NaN. One compiled program per family and precision runs all its regimes."""
    import tiny_families as tf

    from jaxcollapse import engine

    with jaxcollapse.x64(x64):
        model = tf.families()[family]
        dtype = jnp.dtype(jnp.float64 if x64 else jnp.float32)
        assert model.dtype == dtype
        specs = {name: engine.make_spec(model, rg, tf.GENERATIONS, path="samples") for name, rg in tf.regimes().items()}

        out = tf.run_specs(jax.random.key(0), specs, 2, tf.GENERATIONS)
    for name, (final, ms) in out.items():
        for leaf in jax.tree.leaves(final):
            if jnp.issubdtype(leaf.dtype, jnp.floating):
                assert leaf.dtype == dtype, (name, leaf.dtype)
        for k, v in ms.items():
            assert v.shape == (2, tf.GENERATIONS) and not np.any(np.isnan(np.asarray(v))), (name, k)


def test_accumulate_subsample_float64_through_simulate():
    """The reported crash, through the public entry point: accumulate_subsample on the sample path in float64."""
    with jaxcollapse.x64():
        tr = jaxcollapse.simulate(jax.random.key(0), Gaussian(0.0, 1.0), regimes.accumulate_subsample(4, 3), 2, 4,
                                  path="samples", metrics=("trace",), quantiles=())
    assert tr.mean("trace").dtype == jnp.float64 and np.all(np.isfinite(np.asarray(tr.mean("trace"))))
