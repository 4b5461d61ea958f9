"""The diffusion family (`jaxcollapse.Diffusion`): contract, regimes, the affine refit, divergence, metrics.

Statistical bounds, stated before any draw was made: Monte Carlo means are z-tested with |z| < 4
(`conftest.Z_BOUND`); deterministic properties (the affine refit, the closed-form optimum, masking) are
asserted exactly or against a bound stated with its reason. The default tier shares tiny shapes (width 4,
2 training steps) and compiles each program once; the learning runs are under `slow`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tiny_families as tf
from conftest import Z_BOUND

import jaxcollapse as jc
from jaxcollapse import curation, datasets, engine, regimes
from jaxcollapse.families.diffusion import Diffusion
from jaxcollapse.random import Stream
from jaxcollapse.theory.diffusion import affine_flow_optimum as affine_optimum

S0 = Stream.from_key(jax.random.key(0))
COV = np.array([[1.0, 0.3], [0.3, 0.5]])


def _tiny(**kw) -> Diffusion:
    """The `tests/tiny_families.py` entry (same truth, same sizes), with knobs overridden by `kw`."""
    return Diffusion(jax.random.key(2), datasets.toy(jax.random.key(0), "mixture", 16, k=2),
                     **{"width": 4, "depth": 1, "freqs": 1, "steps": 2, "sample_steps": 2, "n_eval": 8, **kw})


# --------------------------------------------------------------------------- bad input, before compiling
@pytest.mark.parametrize(("kw", "match"), [
    ({"steps": 0}, "steps must be an integer >= 1, got 0"),
    ({"sample_steps": 0}, "sample_steps must be an integer >= 1, got 0"),
    ({"freqs": -1}, "freqs must be an integer >= 0"),
    ({"n_eval": 5}, "n_eval must be an integer >= 6"),
    ({"n_ref": 3}, "n_ref must be an integer >= 6"),
    ({"net": "unet"}, "unknown net 'unet'; choose one of"),
    ({"sampler": "rk4"}, "unknown sampler 'rk4'; choose one of"),
    ({"learning_rate": 0.0}, "learning_rate must be a finite scalar > 0"),
    ({"weight_decay": -1.0}, "weight_decay must be a finite scalar >= 0"),
    ({"batch_size": 0}, "batch_size must be None"),
    ({"init": "cold"}, "unknown init 'cold'"),
])
def test_bad_knobs_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        _tiny(**kw)


def test_bad_data_and_truth_are_refused():
    with pytest.raises(ValueError, match="data must be a jaxcollapse.datasets.Dataset"):
        Diffusion(jax.random.key(0), np.zeros((10, 2)))
    m = _tiny()
    with pytest.raises(ValueError, match="Diffusion model has d=2 dimensions but the truth has d=3"):
        m.accepts_truth(jc.Gaussian(np.zeros(3), 1.0))
    with pytest.raises(ValueError, match="truth"):
        m.accepts_truth(jc.Poisson(1.0))
    with pytest.raises(ValueError, match="has_log_prob"):  # curation scored by the model: no density
        engine.make_spec(m, curation.curate(regimes.replace(4), keep=0.5, score="model"), 2, path="samples")
    with pytest.raises(ValueError, match="path='samples'"):
        engine.make_spec(m, regimes.replace(4), 2)


# --------------------------------------------------------------------------- contract, regimes, divergence
def test_contract():
    m = _tiny()
    assert not m.has_exact_stats and m.supports_drift and not m.has_log_prob and m.supports_correction
    assert len(set(m.metric_names)) == len(m.metric_names)
    moved = m.translate(jnp.zeros((), m.dtype))
    for a, b in zip(jax.tree.leaves(moved), jax.tree.leaves(m), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(NotImplementedError, match="has_log_prob"):
        m.log_prob(np.zeros((2, 2)))
    m.accepts_truth(m)
    m.accepts_truth(jc.Gaussian(np.zeros(2), 1.0))
    m.accepts_truth(jc.GaussianMixture([0.5, 0.5], [[-1.0, 0.0], [1.0, 0.0]], 0.5))
    with pytest.raises(ValueError, match="affine_moments needs net='affine'"):
        m.affine_moments()


def _run_program(specs: dict, chains: int = 2):
    """Every spec of `specs` (each a stack of points) run by `engine.init_chain`/`step_chain` in one compiled
    program: `{name: (final models, metrics per generation)}`, leading axes (points, chains)."""

    return tf.run_specs(jax.random.key(0), specs, chains, tf.GENERATIONS, points=True)


def test_weighted_regime_divergence_and_masking_in_one_program():
    """Three points of one compiled program under the weighted regime (a fixed real set, weights), 2 chains x 2
    generations: (a) a healthy model: it trains (loss > 0), leaves data mode, stays unflagged, no NaN; (b) the same
    with a NaN learning rate: every fit diverges, so the chain keeps its generation-0 parameters (data mode) and is
    flagged for good; (c) a network whose flow overflows (biases 1e30, finite): flagged at generation 0 with its
    metrics masked to their worst values: its samples overflow the loss, so it keeps its parameters and stays
    masked."""
    m = _tiny()
    blown = eqx.tree_at(lambda d: (d.is_data, d.net.biases), m,
                        (jnp.asarray(False), tuple(jnp.full_like(b, 1e30) for b in m.net.biases)))
    nan_lr = eqx.tree_at(lambda d: d.learning_rate, m, jnp.asarray(jnp.nan, m.dtype))
    regime = tf.regimes()["weighted"]
    spec = engine.stack_specs([engine.make_spec(x, regime, tf.GENERATIONS, truth=m, path="samples")
                               for x in (m, nan_lr, blown)])
    final, ms = _run_program({"weighted": spec})["weighted"]
    assert sorted(ms) == sorted(m.metric_names)
    for k in m.metric_names:
        assert ms[k].shape == (3, 2, tf.GENERATIONS) and not np.any(np.isnan(np.asarray(ms[k]))), k
    div = np.asarray(ms["diverged"])
    assert np.all(div[0] == 0.0) and np.all(div[1] == 1.0) and np.all(div[2] == 1.0)
    assert np.all(np.asarray(ms["loss"])[0] > 0)
    isdata = np.asarray(final.is_data)
    assert not np.any(isdata[0]) and np.all(isdata[1])
    for a, b in zip(jax.tree.leaves(final.net), jax.tree.leaves(m.net), strict=True):  # (b) kept its start
        np.testing.assert_array_equal(np.asarray(a)[1], np.broadcast_to(np.asarray(b), np.asarray(a)[1].shape))
    assert np.all(np.isinf(np.asarray(ms["w2sq"])[2])) and np.all(np.asarray(ms["precision"])[2] == 0.0)
    assert np.all(np.asarray(ms["mode_mass_tv"])[2] == 1.0) and np.all(np.isfinite(np.asarray(ms["w2sq"])[:2]))
    assert np.all(np.asarray(ms["modes"])[2] == 0.0)


@pytest.mark.slow
def test_every_regime_curation_and_correction():
    """The tiny model under every preset, curation scored by a Gaussian truth (the family has no density of its
    own), and self-correction: models keep their dtype, leave data mode, train, no NaN."""
    model = _tiny()
    gauss = jc.Gaussian(np.zeros(2), COV)
    rg = dict(tf.regimes())
    rg["correct"] = regimes.self_correct(regimes.replace(tf.N), 0.5)
    specs = {k: engine.stack_specs([engine.make_spec(model, r, tf.GENERATIONS, path="samples")])
             for k, r in rg.items()}
    specs["curate"] = engine.stack_specs([engine.make_spec(
        model, curation.curate(regimes.replace(tf.N), keep=0.5), tf.GENERATIONS, truth=gauss, path="samples")])
    for k, (final, ms) in _run_program(specs).items():
        assert not np.any(np.asarray(final.is_data)), k
        for leaf in jax.tree.leaves(final):
            if jnp.issubdtype(leaf.dtype, jnp.floating):
                assert leaf.dtype == model.dtype, (k, leaf.dtype)
        for name, v in ms.items():
            assert not np.any(np.isnan(np.asarray(v))), (k, name)
        assert np.all(np.asarray(ms["loss"]) > 0) and np.all(np.asarray(ms["diverged"]) == 0), k


# --------------------------------------------------------------------------- the affine refit (theory link)
def test_affine_refit_is_the_gaussian_mle():
    """Trained on n = 32 rows, the affine model's exact law is N(sample mean, sample covariance / n) within a tenth
    of the per-generation collapse 1/n (the bound of `verify.diffusion`), and A(t) at the sampler's times is the
    closed-form optimum `theory.diffusion.affine_flow_optimum` to 1e-2."""
    n = 32
    with jc.x64():
        g = jc.Gaussian(np.zeros(2), COV)
        x = np.asarray(g.sample(jax.random.key(5), n), np.float64)
        model = Diffusion(jax.random.key(0), g, net="affine", width=16, depth=2, steps=1000, learning_rate=1e-2,
                          sampler="heun", sample_steps=16, n_eval=8, n_ref=8)
        fit = model.fit_data(jax.random.key(1), x)
        q, p = (np.asarray(a) for a in fit.affine_moments())
        t = np.asarray(fit.velocity_times())
        a_fit, b_fit = (np.asarray(v) for v in fit.affine_field(jnp.asarray(t)))
    m = x.mean(0)
    c = (x - m).T @ (x - m) / n
    assert not bool(fit.is_data) and float(fit.diverged) == 0.0
    assert abs(np.trace(p) / np.trace(c) - 1.0) < 1.0 / (10 * n)
    assert np.linalg.norm(p - c) / np.linalg.norm(c) < 1.0 / (10 * n)
    assert np.linalg.norm(q - m) / np.sqrt(np.trace(c)) < 1.0 / (10 * n)
    with jc.x64():
        opt = [affine_optimum(jnp.asarray(m), jnp.asarray(c), jnp.asarray(tk)) for tk in t]
    for k, (a, b) in enumerate(opt):
        np.testing.assert_allclose(a_fit[k], np.asarray(a), atol=1e-2, err_msg=f"A(t={t[k]})")
        np.testing.assert_allclose(b_fit[k], np.asarray(b), atol=1e-2, err_msg=f"b(t={t[k]})")


def test_affine_optimum_carries_noise_to_the_gaussian():
    """The closed-form optimum is the exact velocity: its flow, integrated finely (Heun, 2,000 steps), carries
    N(0, I) to N(m, C) (derived: the flow of a Gaussian path)."""
    with jc.x64():
        m = jnp.asarray([0.5, -1.0])
        c = jnp.asarray(COV)

        def flow(x0):
            def step(x, k):
                t = k / 2000.0
                a0, b0 = affine_optimum(m, c, t)
                xe = x + (a0 @ x + b0) / 2000.0
                a1, b1 = affine_optimum(m, c, t + 1 / 2000.0)
                return x + 0.5 * ((a0 @ x + b0) + (a1 @ xe + b1)) / 2000.0, None
            return jax.lax.scan(step, x0, jnp.arange(2000.0))[0]

        pts = jax.vmap(flow)(jnp.concatenate([jnp.zeros((1, 2)), jnp.eye(2)]))
    q = np.asarray(pts[0])
    p = np.asarray(pts[1:] - pts[0][None, :]).T
    np.testing.assert_allclose(q, np.asarray(m), atol=1e-6)
    np.testing.assert_allclose(p @ p.T, COV, atol=1e-5)


# --------------------------------------------------------------------------- slow: learning and metrics
@pytest.mark.slow
def test_generation_zero_metrics_of_a_gaussian_truth():
    """Data mode draws the truth exactly: over 200 metric streams the trace of n_eval = 256 draws (divisor m - 1)
    is unbiased for tr Sigma (|z| < 4), one mode is found, nothing is flagged, and precision and recall against
    fresh held-out truth draws are near 1 (> 0.9)."""
    with jc.x64():
        g = jc.Gaussian(np.zeros(2), COV)
        m = Diffusion(jax.random.key(0), g, width=4, depth=1, steps=2, n_eval=256)
        met = eqx.filter_jit(jax.vmap(lambda c: m.metrics(m, Stream(jax.random.key_data(jax.random.key(9)), c))))(
            jnp.arange(200, dtype=jnp.uint32))
    met = {k: np.asarray(v) for k, v in met.items()}
    tr = met["trace"]
    z = (tr.mean() - np.trace(COV)) / (tr.std(ddof=1) / np.sqrt(tr.size))
    assert abs(z) < Z_BOUND
    assert np.mean(met["precision"]) > 0.9 and np.mean(met["recall"]) > 0.9
    assert np.all(met["modes"] == 1.0) and np.all(met["diverged"] == 0.0)


@pytest.mark.slow
def test_mlp_learns_the_mixture_and_its_modes():
    """One generation of the MLP velocity network on 512 draws of a 4-component mixture (width 32, 600 steps):
    every mode kept, mode masses within 0.1 of the weights in total variation, precision and recall > 0.7."""
    mix = jc.GaussianMixture([0.25, 0.25, 0.25, 0.25], [[-3.0, 0.0], [3.0, 0.0], [0.0, 3.0], [0.0, -3.0]], 0.25)
    m = Diffusion(jax.random.key(0), mix, width=32, depth=2, steps=600, learning_rate=5e-3, sampler="heun",
                  sample_steps=16, n_eval=512)
    tr = jc.simulate(jax.random.key(1), m, regimes.replace(512), 1, 4, path="samples", quantiles=())
    assert tr.mean("modes")[1] == 4.0
    assert tr.mean("mode_mass_tv")[1] < 0.1
    assert tr.mean("precision")[1] > 0.7 and tr.mean("recall")[1] > 0.7
    assert np.all(tr.mean("diverged") == 0.0)


@pytest.mark.slow
def test_chain_prefix_invariance():
    m = _tiny()
    a = jc.simulate(jax.random.key(3), m, regimes.replace(tf.N), 2, 2, path="samples", quantiles=(),
                    record_paths=True)
    b = jc.simulate(jax.random.key(3), m, regimes.replace(tf.N), 2, 4, path="samples", quantiles=(),
                    record_paths=True)
    for k in m.metric_names:
        np.testing.assert_array_equal(np.asarray(a.paths[k]), np.asarray(b.paths[k])[:, :2], err_msg=k)


# --------------------------------------------------------------------------- the recipe
def test_recipe_schema_overlay_and_bad_input():
    """The defaults resolve; the Gaussian-limit overlay is (1 - 1/n)^t (replace) and prod_j (1 - 1/(n j^2))
    (accumulate) for the affine net on the Gaussian truth only, NaN at t = 0; bad knobs name the valid range."""
    from jaxcollapse import recipes

    r = recipes.get("diffusion")
    p = r.resolve({})
    assert p["n"] == 256 and p["generations"] == 5 and p["chains"] == 4 and p["data"] == "mixture"
    g = {**r.resolve({"data": "gaussian", "net": "affine", "n": 32}), "regime": "replace"}
    t = np.arange(6)
    curve = r.theory(g, 5)["trace_ratio"]
    assert np.isnan(curve[0])
    np.testing.assert_allclose(curve[1:], (1 - 1 / 32) ** t[1:], rtol=1e-6)  # float32 theory
    acc = r.theory({**g, "regime": "accumulate"}, 5)["trace_ratio"]
    np.testing.assert_allclose(acc[1:], [np.prod([1 - 1 / (32 * j * j) for j in range(1, s + 1)]) for s in t[1:]],
                               rtol=1e-6)
    assert r.theory({**g, "net": "mlp"}, 5) == {} and r.theory({**g, "data": "moons"}, 5) == {}
    for bad, match in (({"steps": 0}, "steps"), ({"sample_steps": 0}, "sample_steps"), ({"net": "unet"}, "net"),
                       ({"sampler": "rk4"}, "sampler"), ({"n_eval": 2}, "n_eval")):
        with pytest.raises(ValueError, match=match):
            r.resolve(bad)


@pytest.mark.slow
def test_cli_run_writes_the_figures_and_reruns_bitwise(tmp_path):
    from conftest import load_npz, run_cli

    first, second = tmp_path / "a", tmp_path / "b"
    tiny = ["--n", "16", "--generations", "2", "--chains", "2", "--steps", "3", "--width", "4", "--depth", "1",
            "--n-eval", "16", "--sample-steps", "2", "--regime", "replace"]
    code, _, stderr = run_cli(["run", "--family", "diffusion", *tiny, "--out", str(first)])
    assert code == 0, stderr
    assert {"diffusion.png", "diffusion_samples.png", "table.txt", "config.toml"} <= {p.name for p in first.iterdir()}
    code, _, stderr = run_cli(["run", "--config", str(first / "config.toml"), "--out", str(second), "--quiet"])
    assert code == 0, stderr
    a, b = load_npz(first / "results.npz"), load_npz(second / "results.npz")
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    code, _, stderr = run_cli(["run", "--family", "diffusion", "--steps", "0", "--out", str(tmp_path / "c")])
    assert code == 2 and "steps" in stderr and not (tmp_path / "c").exists()
