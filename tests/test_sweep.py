"""Sweeps: configuration checks, compile counts, theory across a grid, devices, hosts, kill and resume.

Every sweep here uses one small static configuration (`BASE`: replace, 1-D Gaussian, 64 chains,
12 generations, two metrics) so the in-process runs share one compiled program per worker; the
subprocess runs (4 host devices, two `jax.distributed` processes, a killed and resumed CLI run)
compile it once each. Statistical test: |z| < Z_BOUND (conftest) for each grid point's mean.
"""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SUITE_XLA_FLAGS, Z_BOUND, count_compiles

import jaxcollapse
from jaxcollapse import cli, sweep

REPO = Path(__file__).resolve().parents[1]
GRID = {"n": [4, 8, 16], "temperature": [0.9, 1.0, 1.1]}
BASE = {"generations": 12, "chains": 64, "seed": 3, "metrics": ["trace_ratio", "log_det_ratio", "w2sq"],
        "quantiles": [0.05, 0.5, 0.95], "quantile_chains": 20, "chunk": 2,
        "params": {"regime": "replace", "variance": 2.0}, "grid": GRID}
TOML = textwrap.dedent("""\
    generations = 12
    chains = 64
    seed = 3
    metrics = ["trace_ratio", "log_det_ratio", "w2sq"]
    quantiles = [0.05, 0.5, 0.95]
    quantile_chains = 20
    chunk = 2
    [params]
    regime = "replace"
    variance = 2.0
    [grid]
    n = [4, 8, 16]
    temperature = [0.9, 1.0, 1.1]
    [[plot]]
    x = "n"
    y = "temperature"
    metric = "trace_ratio"
    boundary = "critical_temperature"
    """)


@pytest.fixture(scope="module")
def reference():
    """The uninterrupted, in-memory, one-device sweep of BASE (compiled once per worker).

    64 chains run in 8 blocks of 8 and the quantiles use the first 20 chains: blocks 0-2 record heads
    (block 2 in part) and the rest do not, so on 4 devices (2 blocks each) device 1 holds one block of
    each kind and devices 2-3 none."""
    return sweep.run_sweep(BASE)


@pytest.fixture
def no_compute(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the sweep reached the compiled chunk: the bad input was not caught first")

    monkeypatch.setattr(sweep, "_chunk_run", refuse)


def _env(**extra):
    env = dict(os.environ)
    env.update({"JAXCOLLAPSE_NO_TYPECHECK": "1", "PYTHONPATH": str(REPO), **extra})
    # the suite's own XLA flags (conftest.SUITE_XLA_FLAGS: the optimization level the in-process runs compiled at, so
    # the subprocess's numbers are comparable bit for bit), plus the test's (host devices)
    env["XLA_FLAGS"] = " ".join(f for f in (SUITE_XLA_FLAGS, extra.get("XLA_FLAGS", "")) if f)
    return env


def _cli(args, **env):
    return subprocess.run([sys.executable, "-m", "jaxcollapse.cli", "sweep", *args], cwd=REPO, env=_env(**env),
                          capture_output=True, text=True, timeout=300)


def _same(a, b):
    """Bitwise equality of every data variable and coordinate (NaN-aware for never-run cells)."""
    assert set(a.data_vars) == set(b.data_vars)
    assert dict(a.sizes) == dict(b.sizes)
    for k in a.data_vars:
        x, y = np.asarray(a[k].values), np.asarray(b[k].values)
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), f"{k} differs"
    for k in a.coords:
        assert np.array_equal(a[k].values, b[k].values), f"coordinate {k} differs"
    assert a.attrs["config"] == b.attrs["config"]


# --------------------------------------------------------------------------- configuration errors
@pytest.mark.parametrize("raw, message", [
    ({**BASE, "grid": {"n": [4], "tempreature": [1.0]}}, "unknown parameter 'tempreature'.*did you mean 'temperature'"),
    ({**BASE, "chians": 3}, "unknown key 'chians'"),
    ({**BASE, "grid": {"n": []}}, "no values"),
    ({k: v for k, v in BASE.items() if k != "grid"}, "empty"),
    ({**BASE, "grid": {"n": [4, 8, 4]}}, "lists 4 twice"),
    ({**BASE, "grid": {"n": [4], "lam": [0.1, 0.5]}}, "'lam' has no effect on regime"),
    ({**BASE, "params": {}, "grid": {"regime": ["replace", "fresh"], "n_real": [5, 10]}}, "duplicate grid points"),
    ({**BASE, "points": [{"n": 4}, {"n": 4}], "grid": {}}, "duplicate grid points"),
    ({**BASE, "points": [{"n": 4}]}, "either"),
    ({**BASE, "grid": {"n": [4, 0]}}, r"\[grid\]: n = 0 is invalid.*n must be an integer >= 1"),
    ({**BASE, "grid": {"temperature": [1.0, -1.0]}}, "temperature must be a number > 0"),
    ({**BASE, "grid": {"n": [4, 2.5]}}, "must be an integer"),
    ({**BASE, "chains": 0}, "chains must be >= 1"),
    ({**BASE, "path": "fast"}, "unknown path"),
    ({**BASE, "metrics": ["trace", "nope"]}, "unknown metric"),
    ({**BASE, "params": {"regime": "replace", "estimator": "unbiased"}, "grid": {"n": [1, 4]}},
     r"point 0 \(.*n=1.*needs n >= 2 samples"),
    ({**BASE, "grid": {"regime": ["replace", "recycle"]}, "params": {}}, "regime = 'recycle' is invalid.*one of"),
    ({**BASE, "plot": {"x": "n", "y": "w", "metric": "trace"}}, "not a swept parameter"),
])
def test_bad_configs_fail_before_anything_runs(raw, message, no_compute, tmp_path):
    with pytest.raises(ValueError, match=message):
        sweep.run_sweep(raw, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_errors_are_one_line_and_write_nothing(tmp_path, capsys, no_compute):
    bad = tmp_path / "bad.toml"
    cases = [
        ("generations = 5\n[grid]\nn = []\n", "no values"),
        ("generations = 5\n[grid]\nnn = [3]\n", "unknown parameter 'nn'"),
        ("generations = [\n", "malformed TOML"),
    ]
    for text, message in cases:
        bad.write_text(text)
        out = tmp_path / "out"
        assert cli.main(["sweep", str(bad), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("jaxcollapse: error:") and message in err, err
        assert not out.exists()
    good = tmp_path / "good.toml"
    good.write_text(TOML)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["sweep", str(good), "--out", str(blocker / "sub")]) == 2  # not a folder: unwritable
    assert "not a folder" in capsys.readouterr().err
    assert cli.main(["sweep", str(good), "--bogus"]) == 2
    assert "unrecognized argument '--bogus'" in capsys.readouterr().err


def test_example_configs_are_valid(no_compute):
    """Every shipped example loads, plans (every point built and checked) and names swept plot axes."""
    files = sorted((REPO / "examples" / "sweeps").glob("*.toml"))
    assert len(files) >= 3
    groups = {}
    for f in files:
        cfg = sweep.load_config(f)
        groups[f.stem] = len(sweep.plan(cfg).groups)
        assert cfg.plot, f"{f.name} draws no phase diagram"
    assert groups["regime_vs_n"] == 3 and groups["temperature_vs_n"] == 1  # static regime; traced n, tau


def test_static_grouping(no_compute):
    """n is traced on the exact path (one group) and sets shapes on the samples path (one group per n)."""
    exact = sweep.plan(sweep.SweepConfig.from_dict(BASE))
    assert len(exact.groups) == 1 and len(exact.chunks) == 5  # 9 points, chunks of 2
    samples = sweep.plan(sweep.SweepConfig.from_dict({**BASE, "path": "samples"}))
    assert len(samples.groups) == 3 and [g.width for g in samples.groups] == [2, 2, 2]
    pts = [{"regime": "fresh", "n_real": 5}, {"regime": "fresh", "n_real": 10},
           {"regime": "weighted", "n_real": 5, "w": 0.2}, {"regime": "weighted", "n_real": 5, "w": 0.5}]
    mixed = sweep.plan(sweep.SweepConfig.from_dict({**BASE, "params": {}, "grid": {}, "points": pts}))
    assert [len(g.indices) for g in mixed.groups] == [1, 1, 2]  # n_real and the preset are static, w traced


def test_key_data_matches_jax():
    import jax

    for seed in (0, 3, 2**32 - 1):
        assert np.array_equal(sweep._key_data(seed), np.asarray(jax.random.key_data(jax.random.key(seed))))


# --------------------------------------------------------------------------- engine, compiles, theory
def test_compiles_once_per_static_shape():
    """3 static groups (memory x dimension) x traced values, 2 chunks each: exactly 3 compiles; a rerun
    with other traced values (n, tau, variance) compiles nothing."""
    raw = {**BASE, "generations": 2, "chains": 8, "chunk": 2, "params": {}, "metrics": ["trace"], "quantiles": [],
           "points": [{"regime": r, "n": n, "dim": d} for r, d in (("replace", 1), ("accumulate", 1), ("replace", 2))
                      for n in (4, 6, 8)], "grid": {}}
    cfg = sweep.SweepConfig.from_dict(raw)
    pl = sweep.plan(cfg)
    assert len(pl.groups) == 3 and len(pl.chunks) == 6
    with count_compiles() as c:
        sweep.run_sweep(cfg)
    assert c.compiles == 3
    other = {**raw, "points": [{**p, "n": p["n"] + 1, "temperature": 1.05, "variance": 3.0} for p in raw["points"]]}
    with count_compiles() as c:
        sweep.run_sweep(other)
    assert c.compiles == 0


def test_sweep_equals_simulate_and_theory(reference):
    """Each grid point equals `simulate` at that point (same key, same chains), and its mean log variance
    ratio matches E ln(sigma_t^2/sigma^2) = t [2 ln tau + psi((n-1)/2) + ln(2/n)], with variance
    t psi'((n-1)/2) (tau^(2t) times a random walk of log chi-squares), within |z| < Z_BOUND at all 9 points."""
    import jax

    ds = reference
    assert ds["trace_ratio"].dims == ("n", "temperature", "generation", "stat")
    G = BASE["generations"]
    n, tau = 8, 1.1
    traj = jaxcollapse.simulate(jax.random.key(BASE["seed"]), jaxcollapse.Gaussian(0.0, 2.0),
                                jaxcollapse.regimes.replace(n, temperature=tau), G, BASE["chains"],
                                metrics=BASE["metrics"], quantiles=BASE["quantiles"],
                                quantile_chains=BASE["quantile_chains"])
    got = ds["trace_ratio"].sel(n=n, temperature=tau)
    np.testing.assert_allclose(got.sel(stat="q0.5").values, np.asarray(traj.quantile("trace_ratio", 0.5)), rtol=1e-6)
    # a different (device-count independent) summation order than simulate's, and no FMA in the quantiles
    np.testing.assert_allclose(got.sel(stat="mean").values, np.asarray(traj.mean("trace_ratio")), rtol=1e-5)
    th = jaxcollapse.theory

    def z(nn, tt, with_temperature=True):
        cell = ds["log_det_ratio"].sel(n=nn, temperature=tt, generation=G)
        mean = float(th.log_variance_mean(G, nn)) + (2 * G * math.log(tt) if with_temperature else 0.0)
        se = math.sqrt(float(th.log_variance_var(G, nn)) / BASE["chains"])
        return (float(cell.sel(stat="mean")) - mean) / se

    for nn in GRID["n"]:
        for tt in GRID["temperature"]:
            assert abs(z(nn, tt)) < Z_BOUND, (nn, tt, z(nn, tt))
    assert abs(z(16, 1.1, with_temperature=False)) > Z_BOUND  # a theory that ignores tau is rejected


def test_progress_bar(capsys):
    clock = iter([0.0, 10.0, 30.0])
    # one chunk was done before a resume
    bar = sweep.ProgressBar(total=4, done=1, points=8, quiet=False, clock=lambda: next(clock))
    bar.update(2)
    assert "chunk 2/4" in capsys.readouterr().err.split("\r")[-1]
    bar.update(2)
    err = capsys.readouterr().err.split("\r")[-1]
    assert "chunk 3/4" in err and "75.0%" in err and "elapsed 00:30" in err and "ETA 00:15" in err
    quiet = sweep.ProgressBar(total=2, done=0, points=2, quiet=True)
    quiet.update(1)
    assert capsys.readouterr().err == ""


def test_phase_diagram(reference):
    from jaxcollapse.plot import phase_diagram

    fig = phase_diagram(reference, "n", "temperature", "trace_ratio", log=True, center=1.0,
                        boundary="critical_temperature")
    (line,) = [ln for ln in fig.axes[0].lines if ln.get_label().startswith("theory")]
    xs, ys = line.get_data()
    np.testing.assert_allclose(ys, np.sqrt(xs / (xs - 1.0)), rtol=1e-6)
    fig = phase_diagram(reference, "n", "temperature", "trace_ratio", below=0.5)
    assert fig.axes[0].get_xlabel() == "n"
    with pytest.raises(ValueError, match="not a swept dimension"):
        phase_diagram(reference, "n", "w", "trace_ratio")
    with pytest.raises(ValueError, match="stat 'q0.25' was not recorded"):
        phase_diagram(reference, "n", "temperature", "trace_ratio", stat="q0.25")


# --------------------------------------------------------------------------- storage, resume
def test_resume_refuses_a_different_config_and_survives_a_full_disk(tmp_path, reference, monkeypatch, capsys):
    """A write that fails (ENOSPC) mid-sweep: one-line error, exit 2, finished chunks kept; --resume
    then completes bitwise equal to the uninterrupted run. A different config is refused, naming it."""
    cfg = tmp_path / "s.toml"
    cfg.write_text(TOML)
    out = tmp_path / "out"
    real_store = sweep._store
    calls = {"n": 0}

    def full_disk(group, res, a, b):
        calls["n"] += 1
        if calls["n"] > 2:  # two chunks go through
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_store(group, res, a, b)

    monkeypatch.setattr(sweep, "_store", full_disk)
    assert cli.main(["sweep", str(cfg), "--out", str(out), "--quiet", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "--resume" in err
    assert json.loads((out / "progress.json").read_text())["done"] == [0, 1]
    kept = sweep.open_sweep(out, grid=False)
    monkeypatch.setattr(sweep, "_store", real_store)

    other = tmp_path / "other.toml"
    other.write_text(TOML.replace("seed = 3", "seed = 4"))
    assert cli.main(["sweep", str(other), "--out", str(out), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "different config" in err and "seed: 3 != 4" in err
    assert cli.main(["sweep", str(cfg), "--out", str(out), "--quiet"]) == 2  # no --resume: refused
    assert "--resume" in capsys.readouterr().err

    assert cli.main(["sweep", str(cfg), "--out", str(out), "--resume", "--quiet"]) == 0
    final = sweep.open_sweep(out)
    assert final.attrs["complete"]
    _same(final, reference)
    head = sweep.open_sweep(out, grid=False).isel(point=slice(0, 4))
    _same(head, kept.isel(point=slice(0, 4)))  # what was written before the failure was not changed
    assert (out / "phase_trace_ratio_temperature_vs_n.png").is_file()


def test_kill_and_resume_is_bitwise_identical(tmp_path, reference):
    """SIGKILL a CLI sweep after its second chunk is stored, resume it: the same dataset, bit for bit."""
    cfg = tmp_path / "s.toml"
    cfg.write_text(TOML)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "jaxcollapse.cli", "sweep", str(cfg), "--out", str(out),
                             "--quiet", "--no-plots"], cwd=REPO, env=_env(JAXCOLLAPSE_SWEEP_PAUSE="0.4"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            try:
                done = json.loads((out / "progress.json").read_text())["done"]
            except (OSError, json.JSONDecodeError):
                done = []
            if len(done) >= 2 or proc.poll() is not None:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = json.loads((out / "progress.json").read_text())["done"]
    assert 2 <= len(done) < 5, done  # killed mid-way
    r = _cli([str(cfg), "--out", str(out), "--resume", "--quiet", "--no-plots"])
    assert r.returncode == 0, r.stderr
    _same(sweep.open_sweep(out), reference)


# --------------------------------------------------------------------------- devices and hosts
def test_four_devices_bitwise_equal_to_one(tmp_path, reference):
    cfg = tmp_path / "s.toml"
    cfg.write_text(TOML)
    r = _cli([str(cfg), "--out", str(tmp_path / "out"), "--no-plots"],
             XLA_FLAGS="--xla_force_host_platform_device_count=4")
    assert r.returncode == 0, r.stderr
    assert "64 chains on 4 device(s) of 1 process(es)" in r.stderr
    _same(sweep.open_sweep(tmp_path / "out"), reference)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one(tmp_path, reference):
    """Two `jax.distributed` processes on localhost (one CPU device each, chains sharded across them)."""
    cfg = tmp_path / "s.toml"
    cfg.write_text(TOML)
    out = tmp_path / "out"
    addr = f"localhost:{_free_port()}"
    procs = [subprocess.Popen([sys.executable, "-m", "jaxcollapse.cli", "sweep", str(cfg), "--out", str(out),
                               "--no-plots", "--coordinator", addr, "--num-processes", "2",
                               "--process-id", str(i)], cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    try:
        res = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, res, strict=True):
        assert p.returncode == 0, err[-3000:]
    assert "64 chains on 2 device(s) of 2 process(es)" in res[0][1]
    _same(sweep.open_sweep(out), reference)


# --------------------------------------------------------------------------- any recipe
KDE = {"family": "kde", "generations": 3, "chains": 64, "seed": 5, "metrics": ["spread", "mean_sq_err"],
       "quantiles": [], "chunk": 2, "params": {"regime": "replace", "n": 10, "bandwidth": "fixed"},
       "grid": {"h": [0.2, 0.5]}}


def test_sweep_of_a_non_gaussian_family():
    """A KDE (fixed bandwidth h, replace, n = 10): h is traced, so the 2 points compile once and other values
    of h compile nothing. Each point's mean spread and mean error at t = G match the recipe's theory
    (`theory.kde_fixed_moments` from the same model 0) within |z| < Z_BOUND; the h = 0.2 theory is rejected
    at the h = 0.5 point (|z| > Z_BOUND)."""
    from jaxcollapse import recipes

    sweep.plan(sweep.SweepConfig.from_dict(KDE))  # building model 0 runs small eager programs: not counted
    with count_compiles() as c:
        ds = sweep.run_sweep(KDE)
    assert c.compiles == 1
    assert ds["spread"].dims == ("h", "generation", "stat")
    recipe, G = recipes.get("kde"), KDE["generations"]
    curves = {}
    for h in KDE["grid"]["h"]:
        params = recipe.resolve({"n": 10, "bandwidth": "fixed", "h": h, "generations": G, "seed": KDE["seed"]})
        curves[h] = recipe.theory({**params, "regime": "replace"}, G)

    def z(metric, h, theory_h):
        cell = ds[metric].sel(h=h, generation=G)
        se = float(cell.sel(stat="std")) / math.sqrt(KDE["chains"])
        return (float(cell.sel(stat="mean")) - curves[theory_h][metric][G]) / se

    for h in KDE["grid"]["h"]:
        for metric in ("spread", "mean_sq_err"):
            assert abs(z(metric, h, h)) < Z_BOUND, (metric, h, z(metric, h, h))
    assert abs(z("spread", 0.5, 0.2)) > Z_BOUND
    other = {**KDE, "grid": {"h": [0.3, 0.4]}}
    sweep.plan(sweep.SweepConfig.from_dict(other))
    with count_compiles() as c:
        sweep.run_sweep(other)
    assert c.compiles == 0


@pytest.mark.parametrize("raw, message", [
    ({**KDE, "grid": {"estimator": ["mle", "mean"]}}, r"unknown parameter 'estimator' in \[grid\].*family 'kde'"),
    ({**KDE, "grid": {"bandwidht": ["scott"]}}, "did you mean 'bandwidth'"),
    ({**KDE, "params": {"regime": "replace", "h": -1.0}}, r"\[params\]: h = -1.0 is invalid.*h must be a number > 0"),
    ({**KDE, "family": "decomposition", "params": {"lam": 0.5}, "grid": {"n": [5, 10]}},
     "unknown parameter 'lam' in \\[params\\]"),
    ({**KDE, "family": "decomposition", "params": {}, "grid": {"regime": ["statistical", "expresivity"]}},
     "did you mean 'expressivity'"),
    ({**KDE, "family": "gausian"}, "unknown family 'gausian' \\(did you mean 'gaussian'\\?\\)"),
    ({**KDE, "path": "exact"}, "unknown path 'exact'.*family 'kde'"),
    ({**KDE, "metrics": ["spread", "trace"]}, "unknown metric 'trace'.*family 'kde' measures"),
    ({**KDE, "plot": {"x": "h", "y": "h", "metric": "nll"}}, "plot metric = 'nll' is not recorded"),
    ({**KDE, "plot": {"x": "h", "y": "h", "metric": "spread", "stat": "q0.5"}}, "plot stat = 'q0.5' is not recorded"),
    ({**KDE, "plot": {"x": "h", "y": "h", "metric": "spread", "boundary": "nope"}}, "not a function of jaxcollapse"),
    ({**KDE, "plot": {"x": "h", "y": "h", "metric": "spread", "generation": 9}}, "out of range"),
])
def test_any_recipe_bad_configs_fail_before_anything_runs(raw, message, no_compute, tmp_path):
    with pytest.raises(ValueError, match=message):
        sweep.run_sweep(raw, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_plot_of_an_unrecorded_metric_is_refused_before_compute(tmp_path, capsys, no_compute):
    """Refused at load, so also on --resume: one line, exit 2, nothing written or changed."""
    cfg = tmp_path / "s.toml"
    cfg.write_text(TOML.replace('metric = "trace_ratio"', 'metric = "kl"'))
    out = tmp_path / "out"
    assert cli.main(["sweep", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "plot metric = 'kl' is not recorded" in err and not out.exists()
    out.mkdir()
    (out / "config.json").write_text("{}")
    assert cli.main(["sweep", str(cfg), "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("jaxcollapse: error: ") and "is not recorded" in err
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]


def test_devices_refused_with_the_fix(tmp_path, capsys, no_compute, monkeypatch):
    import jax

    cfg = tmp_path / "s.toml"
    cfg.write_text(TOML)
    n = len(jax.devices())
    assert cli.main(["sweep", str(cfg), "--out", str(tmp_path / "out"), "--devices", str(n + 1)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"this machine has {n} device(s)" in err and not (tmp_path / "out").exists()
    assert cli.main(["sweep", str(cfg), "--out", str(tmp_path / "out"), "--devices", "0"]) == 2
    assert "devices must be an integer >= 1" in capsys.readouterr().err
    monkeypatch.setattr(sweep.jax, "devices", lambda: ["d0", "d1", "d2", "d3"])
    with pytest.raises(ValueError, match=r"devices = 3 does not divide the 8 chain blocks.*set blocks"):
        sweep.check_devices(3, 64, 8)
    with pytest.raises(ValueError, match=r"does not divide the 2 chain blocks \(gcd\(chains = 6"):
        sweep.check_devices(4, 6, 8)
    sweep.check_devices(2, 6, 8)
    sweep.check_devices(4, 64, 8)


def test_every_family_has_an_example(no_compute):
    """examples/sweeps/ holds a valid config of every recipe shipped in jaxcollapse.recipes (nothing runs)."""
    from jaxcollapse import recipes

    shipped = {n for n in recipes.names() if type(recipes.get(n)).__module__.startswith("jaxcollapse.recipes.")}
    families = {sweep.load_config(f).family for f in (REPO / "examples" / "sweeps").glob("*.toml")}
    assert len(shipped) >= 10 and shipped <= families, shipped - families


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted((REPO / "examples" / "sweeps").glob("*.toml")), ids=lambda p: p.stem)
def test_every_example_sweep_runs(path, tmp_path):
    """Each example config runs through `jaxcollapse sweep CFG --out D` (shrunk to 8 chains and 3 generations in a
    copy: the grid, the family and the plots as shipped): exit 0, every point and metric finite at t = 0, and the
    plots it asks for written."""
    import tomllib

    raw = tomllib.loads(path.read_text())
    raw["chains"], raw["generations"] = 8, min(3, raw.get("generations", 3))
    raw.pop("quantile_chains", None)
    cfg = tmp_path / path.name
    cfg.write_text(_toml_dumps(raw))
    out = tmp_path / "out"
    r = _cli([str(cfg), "--out", str(out), "--quiet"])
    assert r.returncode == 0, r.stderr
    ds = sweep.open_sweep(out)
    for v in ds.data_vars:
        assert np.all(np.isfinite(ds[v].isel(generation=0).sel(stat="mean").values)), v
    for plot in raw.get("plot", []):
        assert any(p.name.startswith("phase_") for p in out.iterdir()), plot


def _toml_dumps(raw: dict) -> str:
    """A TOML text of a sweep config (top-level keys, [params], [grid], [[plot]])."""
    top = [f"{k} = {json.dumps(v)}" for k, v in raw.items() if not isinstance(v, (dict, list)) or
           (isinstance(v, list) and not (v and isinstance(v[0], dict)))]
    parts = ["\n".join(top)]
    for table in ("params", "grid"):
        if table in raw:
            parts.append(f"[{table}]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in raw[table].items()))
    for plot in raw.get("plot", []):
        parts.append("[[plot]]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in plot.items()))
    return "\n\n".join(parts) + "\n"


@pytest.mark.slow
def test_devices_flag_bitwise_equal_for_a_non_gaussian_family(tmp_path):
    """The KDE sweep on 2 of 4 host devices (``--devices 2``) equals the in-process one-device sweep."""
    text = "\n".join(f"{k} = {json.dumps(v)}" for k, v in KDE.items() if not isinstance(v, dict))
    text += "\n[params]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in KDE["params"].items())
    text += "\n[grid]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in KDE["grid"].items()) + "\n"
    cfg = tmp_path / "kde.toml"
    cfg.write_text(text)
    r = _cli([str(cfg), "--out", str(tmp_path / "out"), "--devices", "2"],
             XLA_FLAGS="--xla_force_host_platform_device_count=4")
    assert r.returncode == 0, r.stderr
    assert "64 chains on 2 device(s)" in r.stderr
    _same(sweep.open_sweep(tmp_path / "out"), sweep.run_sweep(KDE))


def test_a_parameter_and_a_metric_of_the_same_name():
    """The Poisson family's ``rate`` is a parameter (the truth's rate, swept) and a metric: the metric is stored
    as ``rate_metric`` beside the ``rate`` dimension. The refit rate is a martingale (the MLE is the sample
    mean, unbiased given the previous rate), so its mean at t = G is the truth's rate: |z| < Z_BOUND."""
    raw = {"family": "poisson", "generations": 3, "chains": 256, "seed": 1, "metrics": ["rate", "extinct"],
           "quantiles": [], "params": {"regime": "replace", "n": 5}, "grid": {"rate": [0.5, 2.0]}}
    assert sweep.metric_variable(sweep.SweepConfig.from_dict(raw), "rate") == "rate_metric"
    ds = sweep.run_sweep(raw)
    assert set(ds.data_vars) == {"rate_metric", "extinct"} and list(ds["rate"].values) == [0.5, 2.0]
    for rate in (0.5, 2.0):
        cell = ds["rate_metric"].sel(rate=rate, generation=3)
        z = (float(cell.sel(stat="mean")) - rate) / (float(cell.sel(stat="std")) / math.sqrt(256))
        assert abs(z) < Z_BOUND, (rate, z)
