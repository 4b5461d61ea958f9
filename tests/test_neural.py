"""Neural families (VAE, MLP regressor) and the toy/digits truths.

Statistical bounds, stated before any draw was made: Monte Carlo means are z-tested with
|z| < 4 (`conftest.Z_BOUND`); "collapse" claims are one-sided z-tests that a per-chain change is
negative (or positive) beyond 4 standard errors. Compilation dominates: the engine runs share two
static configurations (`_vae_run` with 6 and with 3 chains, `_mlp_run`), and the learning rate is a
traced leaf, so the divergence run reuses the 3-chain program.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import Z_BOUND, assert_z, mean_z

import jaxcollapse
from jaxcollapse import datasets, regimes
from jaxcollapse.families.mlp_regressor import MLPRegressor, sine_target
from jaxcollapse.families.vae import VAE
from jaxcollapse.random import Stream

S0 = Stream.from_key(jax.random.key(0))  # `fit` and `metrics` take a stream

G = 4  # generations of the shared engine runs
N = 128  # samples per generation


# --------------------------------------------------------------------------- shared runs

def _vae(lr=1e-2):
    data = datasets.toy(jax.random.key(0), "mixture", 256, k=4)
    return VAE(jax.random.key(1), data, latent=2, width=16, depth=2, steps=80, learning_rate=lr, n_eval=256)


def _run_vae(model, chains, seed=2):
    return jaxcollapse.simulate(jax.random.key(seed), model, regimes.replace(N), G, chains, path="samples",
                                record_paths=True, quantiles=())


@pytest.fixture(scope="module")
def mlp_run():
    model = MLPRegressor(jax.random.key(3), width=16, steps=150, label_noise=0.3, n_grid=128)
    return jaxcollapse.simulate(jax.random.key(4), model, regimes.replace(32), G, 16, path="samples",
                                record_paths=True, quantiles=())


def _paths(traj, m):
    return np.asarray(traj.paths[m], np.float64)


# --------------------------------------------------------------------------- datasets

def test_toys_geometry():
    # moons without noise lie on unit half circles; rings on circles of radius label + 1
    for name in ("moons", "rings"):
        ds = datasets.toy(jax.random.key(5), name, 400, noise=1e-6)
        assert ds.x.shape == (400, 2) and ds.labels.shape == (400,)
        assert set(np.unique(ds.labels)) == set(range(ds.n_classes))
        if name == "moons":
            centre = np.where(ds.labels[:, None] == 0, [[-0.5, -0.25]], [[0.5, 0.25]])
            np.testing.assert_allclose(np.linalg.norm(ds.x - centre, axis=1), 1.0, atol=1e-4)
        else:
            np.testing.assert_allclose(np.linalg.norm(ds.x, axis=1), ds.labels + 1.0, atol=1e-4)


def test_mixture_components_have_their_centres_and_noise():
    s = 0.25
    ds = datasets.toy(jax.random.key(6), "mixture", 4000, k=4, noise=s)
    assert ds.params.shape == (4, 2)
    for c in range(4):
        r = ds.x[ds.labels == c] - ds.params[c][None, :]
        for j in range(2):
            assert_z(mean_z(r[:, j], 0.0, s * s), f"component {c} coordinate {j} mean")
    # centres well separated: nearest pair > 8 noise scales
    d = np.linalg.norm(ds.params[:, None] - ds.params[None], axis=2) + np.eye(4) * 1e9
    assert d.min() > 8 * s


def test_toy_sample_is_per_chain():
    # the Stream generator: chain 3's draws do not depend on how many other chains are drawn (labels
    # exactly; coordinates up to the last float32 bits, since eager and vmapped-jitted code fuse cos/sin
    # differently)
    key = jax.random.key_data(jax.random.key(7))

    def draw(c):
        return datasets.toy_sample(Stream(key, c), "rings", 16, jnp.zeros((1, 2)), 3, 0.1, jnp.float32)

    x1, l1 = draw(jnp.asarray(3, jnp.uint32))
    xs, ls = jax.jit(jax.vmap(draw))(jnp.arange(5, dtype=jnp.uint32))
    np.testing.assert_array_equal(l1, ls[3])
    np.testing.assert_allclose(x1, xs[3], rtol=1e-5, atol=1e-6)
    assert not np.allclose(xs[2], xs[3])


def test_digits_loader():
    ds = datasets.digits()
    assert ds.x.shape == (1797, 64) and ds.x.dtype == np.float32
    assert ds.x.min() == 0.0 and ds.x.max() == 1.0 and ds.n_classes == 10
    assert datasets.digits(100).x.shape == (100, 64)


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("kw, match", [
    (dict(latent=0), "latent"), (dict(learning_rate=0.0), "learning_rate"), (dict(learning_rate=-1.0), "learning_rate"),
    (dict(width=0), "width"), (dict(steps=0), "steps"), (dict(depth=0), "depth"),
    (dict(weight_decay=-0.1), "weight_decay"), (dict(batch_size=0), "batch_size"), (dict(init="hot"), "init"),
    (dict(n_eval=1), "n_eval"),
])
def test_vae_bad_knobs(kw, match, typecheck_off):
    data = datasets.toy(jax.random.key(0), "moons", 32)
    with pytest.raises(ValueError, match=match):
        VAE(jax.random.key(1), data, **kw)


def test_bad_data_and_regimes(no_run, typecheck_off):
    data = datasets.toy(jax.random.key(0), "moons", 32)
    bad = data._replace(x=np.zeros((32, 3), np.float32))
    with pytest.raises(ValueError, match="2-D"):
        VAE(jax.random.key(1), bad)
    with pytest.raises(ValueError, match="Dataset"):
        VAE(jax.random.key(1), np.zeros((32, 2)))
    with pytest.raises(ValueError, match="unknown toy"):
        datasets.toy(jax.random.key(0), "spirals")
    m = VAE(jax.random.key(1), data)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        m.fit_data(jax.random.key(0), np.zeros((10, 3)))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        m.stats(np.zeros((10, 5)))
    with pytest.raises(ValueError, match="drift"):
        jaxcollapse.simulate(jax.random.key(0), m, regimes.replace(8, drift=np.ones(3)), 2, 2, path="samples")  # d = 2
    with pytest.raises(ValueError, match="path='samples'"):
        jaxcollapse.simulate(jax.random.key(0), m, regimes.replace(8), 2, 2)
    other = VAE(jax.random.key(1), datasets.digits(40))  # 64-D truth for a 2-D model
    with pytest.raises(ValueError, match="mismatched dimensions"):
        jaxcollapse.simulate(jax.random.key(0), m, regimes.replace(8), 2, 2, truth=other, path="samples")
    for kw, match in [(dict(learning_rate=-1.0), "learning_rate"), (dict(width=0), "width"),
                      (dict(dim=0), "dim"), (dict(label_noise=-1.0), "label_noise"), (dict(steps=0), "steps")]:
        with pytest.raises(ValueError, match=match):
            MLPRegressor(jax.random.key(0), **kw)
    r = MLPRegressor(jax.random.key(0), dim=2)
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        r.stats(np.zeros((4, 2)))


# --------------------------------------------------------------------------- the VAE in the engine

@pytest.mark.slow  # the notebook runs the VAE through the engine in the default suite
def test_vae_in_the_engine():
    """One test, so that its two compiled programs (6 and 3 chains) stay in one xdist worker."""
    six, three = _run_vae(_vae(), 6), _run_vae(_vae(), 3)

    # generation 0 draws the exact 4-component mixture: all four modes present, nothing trained
    assert float(six.mean("modes")[0]) == 4.0
    assert float(six.mean("diverged")[0]) == 0.0 and float(six.mean("loss")[0]) == 0.0
    for m in VAE.metric_names:
        assert np.all(np.isfinite(_paths(six, m))), m
    assert float(np.max(_paths(six, "diverged"))) == 0.0

    # Refit on its own samples, the VAE loses spread, coverage and modes: per chain, generation G is
    # below generation 1 (one-sided, beyond Z_BOUND standard errors of the paired difference).
    for m in ("spread", "coverage"):
        p = _paths(six, m)
        diff = p[G] - p[1]
        z = diff.mean() / (diff.std(ddof=1) / math.sqrt(diff.size))
        assert z < -Z_BOUND, f"{m}: generation {G} vs 1, z = {z:.2f}"
    assert np.all(_paths(six, "modes")[G] <= _paths(six, "modes")[0])

    # chain i is the same whatever the number of chains (all training randomness from its Streams)
    for m in VAE.metric_names:
        np.testing.assert_array_equal(_paths(six, m)[:, :3], _paths(three, m), err_msg=m)
    assert not np.array_equal(_paths(six, "spread")[1:, 0], _paths(six, "spread")[1:, 1])  # chains differ

    # A learning rate of 1e6 blows the networks up; every fit keeps the previous parameters and raises
    # the flag. The learning rate is a traced leaf: this reuses the 3-chain program.
    bad = _run_vae(_vae(lr=1e6), 3)
    assert np.all(_paths(bad, "diverged")[1:] == 1.0)
    for m in VAE.metric_names:
        assert np.all(np.isfinite(_paths(bad, m))), m
    assert all(np.all(np.isfinite(np.asarray(a))) for a in jax.tree.leaves(bad.final)
               if jnp.issubdtype(a.dtype, jnp.floating))


def test_blocked_training_equals_the_plain_vmap(monkeypatch):
    """More networks than `TRAIN_BLOCK` on a CPU train in blocks (`lax.map` of `vmap`); the result is the
    plain `vmap`'s up to float32 rounding (batched kernels of other batch sizes round differently)."""
    from jaxcollapse.families import _nets as neural

    data = datasets.toy(jax.random.key(0), "moons", 128)
    model = VAE(jax.random.key(1), data, latent=2, width=8, depth=2, steps=5, n_eval=16)
    nets = neural.TRAIN_BLOCK + 8  # one full block and a remainder
    xs = jax.vmap(lambda k: model.sample(k, 64))(jax.random.split(jax.random.key(2), nets))
    stats = jax.vmap(model.stats)(xs)

    def fitted(s):
        m = model.fit(s, S0)
        return m.enc, m.dec, m.log_sigma, m.last_loss

    blocked_fn = jax.vmap(fitted)
    blocked = jax.jit(blocked_fn)(stats)
    n_scans = str(jax.make_jaxpr(blocked_fn)(stats)).count("scan[")
    monkeypatch.setattr(neural, "TRAIN_BLOCK", 10**9)
    plain_fn = jax.vmap(fitted)
    plain = jax.jit(plain_fn)(stats)
    assert n_scans > str(jax.make_jaxpr(plain_fn)(stats)).count("scan[")  # the blocked rule did run
    for a, b in zip(jax.tree.leaves(blocked), jax.tree.leaves(plain), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(blocked[3]) != 0.0)  # trained (the loss of the last step is recorded)


# --------------------------------------------------------------------------- the MLP regressor

def test_regressor_truth_labels():
    # data mode: rows (x, f*(x) + s eps) with x ~ U[-1, 1]; residual mean 0, variance s^2; x variance 1/3
    s = 0.3
    r = MLPRegressor(jax.random.key(0), label_noise=s)
    rows = np.asarray(r.sample(jax.random.key(1), 4000), np.float64)
    res = rows[:, 1] - np.asarray(sine_target(jnp.asarray(rows[:, :1])), np.float64)
    assert_z(mean_z(res, 0.0, s * s), "residual mean")
    assert_z((np.mean(res**2) - s * s) / math.sqrt(2 * s**4 / res.size), "residual variance")
    assert_z(mean_z(rows[:, 0], 0.0, 1.0 / 3.0), "input mean")


@pytest.mark.slow  # neural_collapse.py asserts the regressor's error growth in the default suite
def test_regressor_error_grows(mlp_run):
    tr = mlp_run
    p = _paths(tr, "test_mse")
    assert np.all(p[0] == 0.0)  # generation 0 is the true function
    assert float(np.max(_paths(tr, "diverged"))) == 0.0
    # labels from the previous network: the test error accumulates (paired, one-sided)
    diff = p[G] - p[1]
    z = diff.mean() / (diff.std(ddof=1) / math.sqrt(diff.size))
    assert z > Z_BOUND, f"test_mse generation {G} vs 1: z = {z:.2f}"


# --------------------------------------------------------------------------- keys and the coverage yardstick

def test_fit_keys_come_from_the_stream():
    """`fit` draws every training key from its stream: the same stream, the same network bit for bit; another
    stream (another chain), another network. `metrics` draws its model samples from its own stream."""
    data = datasets.toy(jax.random.key(0), "moons", 64)
    model = VAE(jax.random.key(1), data, latent=2, width=8, depth=1, steps=3, n_eval=32)
    st = model.stats(model.sample(jax.random.key(2), 32))
    fit = eqx.filter_jit(lambda m, s, c: m.fit(s, Stream.from_key(jax.random.key(3), c)))
    a, b, c = fit(model, st, 0), fit(model, st, 0), fit(model, st, 1)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    assert not np.array_equal(np.asarray(a.dec.weights[0]), np.asarray(c.dec.weights[0]))
    met = eqx.filter_jit(lambda m, c: m.metrics(model, Stream.from_key(jax.random.key(4), c))["spread"])
    assert float(met(a, 0)) == float(met(a, 0)) != float(met(a, 1))


def test_coverage_of_the_truth_matches_the_finite_formula():
    # Generation-0 coverage (the model is the truth): the exact finite-N mean of theory.vae.coverage_mean
    # passes and the N = M -> infinity limit 1 - 2^-k is rejected (|z| > 4) with the replicates of
    # the registered check at the suite's scale (5,000). Bounds fixed before running.
    from jaxcollapse.theory import vae as th
    from jaxcollapse.verify import vae as cn

    c = cn.coverage_replicates(jax.random.key(9), "moons", 2, 5000)
    se = c.std(ddof=1) / math.sqrt(c.size)
    exact = th.coverage_mean(cn._N_REF, cn._N_FAKE, 5)
    assert abs(c.mean() - exact) / se < Z_BOUND
    assert abs(c.mean() - (1 - 2.0**-5)) / se > Z_BOUND
    # the limit itself
    assert abs(th.coverage_mean(10**6, 10**6, 5) - (1 - 2.0**-5)) < 1e-5
    with pytest.raises(ValueError):
        th.coverage_mean(5, 5, 5)


# --------------------------------------------------------------------------- other regimes (slow)

@pytest.mark.slow
@pytest.mark.parametrize("regime", ["accumulate", "fresh", "augment"])
def test_regressor_other_regimes(regime):
    # Real data hold the error down: with fresh real rows (or a fixed real set) beside the synthetic
    # ones, and with all synthetic rows accumulated, the test error at generation G stays below the
    # replace run's (paired by key; one-sided beyond Z_BOUND standard errors).
    model = MLPRegressor(jax.random.key(3), width=16, steps=150, label_noise=0.3, n_grid=128)
    rg = {"accumulate": regimes.accumulate(32), "fresh": regimes.fresh(32, 32),
          "augment": regimes.augment(32, 1.0)}[regime]
    g = 8
    runs = [jaxcollapse.simulate(jax.random.key(4), model, r, g, 32, path="samples", record_paths=True,
                                 quantiles=()) for r in (regimes.replace(32), rg)]
    rep, other = (_paths(t, "test_mse") for t in runs)
    assert np.all(np.isfinite(other)) and float(np.max(_paths(runs[1], "diverged"))) == 0.0
    d = other[g] - rep[g]
    z = d.mean() / (d.std(ddof=1) / math.sqrt(d.size))
    assert z < -Z_BOUND, f"{regime}: z = {z:.2f}"


# --------------------------------------------------------------------------- command line
# The command-line runs of vae and mlp: tests/test_recipes_learned.py


# --------------------------------------------------------------------------- drifting truths (a shifting location)

def test_vae_translate_shifts_the_data_and_the_reference():
    data = datasets.toy(jax.random.key(0), "moons", 64)
    m = VAE(jax.random.key(1), data, width=4, depth=1, steps=1, n_eval=64)
    delta = np.array([0.5, -1.0], np.float32)
    moved = m.translate(delta)
    np.testing.assert_allclose(np.asarray(moved.sample(jax.random.key(2), 16)),
                               np.asarray(m.sample(jax.random.key(2), 16)) + delta, rtol=1e-6, atol=1e-6)
    met = eqx.filter_jit(lambda a, b: a.metrics(b, S0))
    same, both, far = met(m, m), met(moved, moved), met(m, m.translate(np.array([10.0, 10.0])))
    assert float(same["coverage"]) > 0.5  # data mode against itself
    assert float(both["coverage"]) == pytest.approx(float(same["coverage"]), abs=1e-6)  # moved together
    assert float(far["coverage"]) == 0.0 and float(far["precision"]) == 0.0  # the truth moved away


def test_mlp_translate_shifts_the_target():
    r = MLPRegressor(jax.random.key(0), width=4, depth=1, steps=1, n_grid=64)
    moved = r.translate(0.25)
    x = jnp.linspace(-1.0, 1.0, 9)[:, None]
    np.testing.assert_allclose(np.asarray(moved.predict(x)), np.asarray(sine_target(x - 0.25)), rtol=1e-6, atol=1e-6)
    g = np.asarray(r.grid_x, np.float64)
    expect = np.mean((np.sin(np.pi * g[:, 0]) - np.sin(np.pi * (g[:, 0] - 0.25))) ** 2)
    assert float(r.metrics(moved, S0)["test_mse"]) == pytest.approx(expect, rel=1e-4)
    assert float(r.metrics(r, S0)["test_mse"]) == 0.0


def test_neural_drift_runs_in_the_engine():
    data = datasets.toy(jax.random.key(0), "moons", 64)
    vae = VAE(jax.random.key(1), data, width=4, depth=1, steps=2, n_eval=32)
    tr = jaxcollapse.simulate(jax.random.key(2), vae, regimes.fresh(16, 16, drift=0.5), 2, 2, path="samples",
                              metrics=["coverage", "spread"], record_paths=True, quantiles=())
    assert np.all(np.isfinite(_paths(tr, "spread")))
    mlp = MLPRegressor(jax.random.key(3), width=4, depth=1, steps=2, n_grid=16)
    tr = jaxcollapse.simulate(jax.random.key(4), mlp, regimes.replace(16, drift=0.5), 2, 2, path="samples",
                              metrics=["test_mse"], record_paths=True, quantiles=())
    assert np.all(_paths(tr, "test_mse")[1:] > 0)  # the target moved away from the fits
