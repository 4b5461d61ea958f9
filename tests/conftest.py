"""Shared test settings and helpers.

Strict settings, as in equinox's and diffrax's suites:

- `jax_numpy_rank_promotion = "raise"`: every broadcast in jaxcollapse must be explicit.
- Runtime shape checking: every `jaxcollapse` module imported during the session gets
  `@jaxtyped(typechecker=beartype)` on its functions and dataclasses (jaxtyping's import hook,
  the same as `pytest --jaxtyping-packages=jaxcollapse,beartype.beartype`). Set
  `JAXCOLLAPSE_NO_TYPECHECK=1` to switch it off (e.g. to time the suite without it).
- x64 is *not* switched on globally: tests that need float64 use `with jaxcollapse.x64():`
  and build their models inside the block.
- `filterwarnings = error` and the `slow` marker live in pyproject.toml.
- Every process of the session (workers and the subprocesses tests start) shares JAX's persistent
  compilation cache in one temporary folder (`COMPILE_CACHE` below).

Statistical conventions used across the suite (stated here once, up front):

- `Z_BOUND = 4`: a Monte Carlo mean passes when |z| < 4. Under the null each such test fails
  with probability 6.3e-5, so a few hundred z-tests have a family-wise false-alarm rate of a
  few percent at most; every key is fixed, so a pass or a fail is reproducible.
- KS tests: each module declares its family-wise level (`FAMILY_ALPHA`) and the number of KS
  tests it runs, and every p-value must exceed the Bonferroni bound `FAMILY_ALPHA / count`.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import sys
import tempfile

import jax
import numpy as np
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")


# --------------------------------------------------------------------------- compile cache shared by the session
#
# Every process of a session (the xdist workers, and the subprocesses the tests start: notebooks, CLI sweeps,
# multi-device runs) shares JAX's persistent compilation cache in one folder, made by the first process (the
# xdist controller, or the only process under `-n 0`), passed on through the environment and removed at the
# end. A program compiled once in the session is then loaded, not compiled again, by any other process: the
# CLI sweep that runs the configuration a test ran in-process, the resume of a killed sweep, a module fixture
# computed on both workers when worksteal splits its module, the small eager programs every notebook builds.
# Every program is stored whatever its compile time. A cached executable is the serialized result of the same
# compilation, so no number changes (the sweep tests compare subprocess results with in-process ones bitwise),
# and `count_compiles` still counts a load as a compile; a failed cache read only means compiling again (its
# warning is ignored in pyproject.toml and in the notebook runner). `JAXCOLLAPSE_TEST_COMPILE_CACHE=DIR` keeps
# a cache across sessions (e.g. when rerunning the notebooks); `=0` switches it off (e.g. to time the suite
# without it). Measured (CPU seconds, user+sys, `pytest -n 2 tests/test_sweep.py`, 2-core machine, cold
# cache): 86.3 without the cache, 81.9 with it for the subprocesses only, 69.8 with it everywhere.

_CACHE_ENV = "JAXCOLLAPSE_TEST_COMPILE_CACHE"
_OWN_CACHE = None
if _CACHE_ENV not in os.environ:
    _OWN_CACHE = tempfile.mkdtemp(prefix="jaxcollapse-xla-cache-")
    os.environ[_CACHE_ENV] = _OWN_CACHE
COMPILE_CACHE = None if os.environ[_CACHE_ENV] in ("", "0") else os.environ[_CACHE_ENV]
if COMPILE_CACHE is not None:
    _CACHE_SETTINGS = {
        "jax_compilation_cache_dir": COMPILE_CACHE,
        "jax_persistent_cache_min_compile_time_secs": 0.0,
        "jax_persistent_cache_min_entry_size_bytes": -1,
    }
    for _name, _value in _CACHE_SETTINGS.items():
        jax.config.update(_name, _value)  # this process (before anything is compiled: jaxcollapse comes below)
        os.environ[_name.upper()] = str(_value)  # the workers and every subprocess (read at their `import jax`)


def pytest_unconfigure(config):
    if _OWN_CACHE is not None:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


TYPECHECK = os.environ.get("JAXCOLLAPSE_NO_TYPECHECK", "0") in ("", "0")
if TYPECHECK:
    if any(m == "jaxcollapse" or m.startswith("jaxcollapse.") for m in sys.modules):
        TYPECHECK = False  # imported before this file (by a plugin?): too late to hook; see the header
    else:
        from jaxtyping import install_import_hook

        # Installed for the whole session (not in a `with` block), so that submodules imported
        # lazily later (cli, plot, verify, ...) are checked too.
        _HOOK = install_import_hook("jaxcollapse", "beartype.beartype")

import jaxcollapse  # noqa: E402  (after the hook, on purpose)

Z_BOUND = 4.0


# Tests that run for a minute or more on 2 cores, longest first (measured in CPU seconds of the notebook's
# subprocess, cold compile cache: neural ~82, error_sources ~58, regression ~53, gaussian ~50, predicting ~46,
# wright_fisher ~37, ngram ~33; update when they change). They are moved to the front of the run so that
# `pytest -n auto --dist worksteal` packs the short tests around them, instead of a long notebook starting
# last on one worker while the other sits idle.
LONG_TESTS = ("neural_collapse", "error_sources", "regression_collapse", "gaussian_collapse",
              "predicting_collapse", "wright_fisher", "ngram_collapse")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        for i, name in enumerate(LONG_TESTS):
            if f"test_notebook_runs[{name}]" in item.nodeid:
                return i
        return len(LONG_TESTS)

    items.sort(key=rank)  # stable: everything else keeps its order


def pytest_report_header(config):
    return [f"jaxcollapse {jaxcollapse.__version__}; runtime shape checks (jaxtyping+beartype): {TYPECHECK}"]


# --------------------------------------------------------------------------- compile counting

_BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"
_TRACE = "/jax/core/compile/jaxpr_trace_duration"


class CompileCounter:
    """Counts XLA backend compilations and jaxpr traces seen by `jax.monitoring`."""

    def __init__(self):
        self.compiles = 0
        self.traces = 0

    def __call__(self, event: str, duration: float, **kwargs) -> None:
        if event == _BACKEND_COMPILE:
            self.compiles += 1
        elif event == _TRACE:
            self.traces += 1


@contextlib.contextmanager
def count_compiles():
    """``with count_compiles() as c: ...``; afterwards `c.compiles` and `c.traces` are the counts.

    Any compile at all is counted (including the tiny ones eager `jnp` calls trigger for a new
    shape), so a count of 0 means nothing was compiled inside the block.
    """
    counter = CompileCounter()
    jax.monitoring.register_event_duration_secs_listener(counter)
    try:
        yield counter
    finally:
        jax.monitoring.unregister_event_duration_listener(counter)


@pytest.fixture
def no_run(monkeypatch):
    """Make the compiled engine fail if it is reached: bad input must be caught before it."""
    import importlib

    sim = importlib.import_module("jaxcollapse.engine")  # the engine module (jaxcollapse imports it lazily)

    def refuse(*args, **kwargs):
        raise AssertionError("simulate reached the compiled engine: the bad input was not caught first")

    monkeypatch.setattr(sim, "_run", refuse)
    return refuse


@pytest.fixture
def typecheck_off():
    """Runtime type checks off for one test. Bad-input tests pass wrong Python types on purpose,
    to see the library's own `ValueError` (what a user without the import hook gets) rather than
    beartype's error for the annotation."""
    import jaxtyping

    old = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", old)


# --------------------------------------------------------------------------- statistics helpers


def mean_z(x, mean: float, var: float) -> float:
    """z-score of the sample mean of `x` against a known mean and variance (float64 arithmetic)."""
    x = np.asarray(x, np.float64)
    return float((x.mean() - mean) / math.sqrt(var / x.size))


def var_z(x, var: float, mu4: float) -> float:
    """z-score of the sample variance of `x` against a known variance.

    `mu4` is the known central fourth moment: Var(s^2) = (mu4 - var^2)/N + O(1/N^2).
    """
    x = np.asarray(x, np.float64)
    return float((x.var(ddof=1) - var) / math.sqrt((mu4 - var * var) / x.size))


def assert_z(z: float, what: str = "") -> None:
    assert abs(z) < Z_BOUND, f"{what}: |z| = {abs(z):.2f} >= {Z_BOUND}"


# --------------------------------------------------------------------------- shared simulation configs
#
# Compilation dominates the suite (a few seconds per static configuration), so the engine and
# regime tests draw their runs from this one table: the same (regime, path) always has the same
# static configuration (dimension, sizes, generations, chains, recorded outputs) and differs only
# in traced values (key, model and truth parameters, tau, drift, lambda, w, n on the exact path),
# which reuse the compiled program within a worker.

RUN_GENERATIONS = 6
RUN_CHAINS = 8
REGIME_DIMS = {"replace": 1, "accumulate": 1, "accumulate_subsample": 1, "augment": 2, "fresh": 1, "weighted": 2}
# Each metric's cross-chain summary (a sort for the quantiles) costs compile time, and metrics do
# not depend on the regime or the path: the 1-D replace configuration summarizes all of them, the
# others two; the d-dimensional metrics run through the engine in test_engine's collapse tests.
LITE_METRICS = ("mean_sq_err", "trace")
REGIME_METRICS = {name: None if name == "replace" else LITE_METRICS for name in REGIME_DIMS}
REGIME_PATHS = [
    (name, path)
    for name in REGIME_DIMS
    for path in ("exact", "samples")
    if not (name == "accumulate_subsample" and path == "exact")
]
SIGMA2 = np.array([[1.0, 0.3], [0.3, 0.5]])


def default_model(d: int, estimator: str = "mle"):
    if d == 1:
        return jaxcollapse.Gaussian(0.5, 2.0, estimator=estimator)
    return jaxcollapse.Gaussian(np.array([1.0, -1.0]), SIGMA2, estimator=estimator)


def make_regime(name: str, *, n=5, lam=0.5, w=0.3, temperature=1.0, drift=0.0):
    """The table's regime `name` (its sizes are static; the keyword knobs are traced)."""
    rg = jaxcollapse.regimes
    knobs = dict(temperature=temperature, drift=drift)
    return {
        "replace": lambda: rg.replace(n, **knobs),
        "accumulate": lambda: rg.accumulate(n, **knobs),
        "accumulate_subsample": lambda: rg.accumulate_subsample(5, 4, **knobs),
        "augment": lambda: rg.augment(6, lam, **knobs),
        "fresh": lambda: rg.fresh(3, n, **knobs),
        "weighted": lambda: rg.weighted(4, 6, w, **knobs),
    }[name]()


def run_case(name: str, path: str, *, seed: int = 0, chains: int = RUN_CHAINS, model=None, truth=None, **knobs):
    """`simulate` on the table's configuration for (`name`, `path`), recording paths and params."""
    model = default_model(REGIME_DIMS[name]) if model is None else model
    return jaxcollapse.simulate(
        jax.random.key(seed), model, make_regime(name, **knobs), RUN_GENERATIONS, chains,
        truth=truth, path=path, metrics=REGIME_METRICS[name], record_paths=True, record_params=True,
    )
