"""Shared test settings and helpers.

Strict settings, as in equinox's and diffrax's suites:

- `jax_numpy_rank_promotion = "raise"`: every broadcast in jaxcollapse must be explicit.
- Runtime shape checking, in a full-strength run (any `-m` expression, or `JAXCOLLAPSE_TEST_FULL=1`; see
  "the default suite's speed settings" below): every `jaxcollapse` module imported during the session gets
  `@jaxtyped(typechecker=beartype)` on its functions and dataclasses (jaxtyping's import hook,
  the same as `pytest --jaxtyping-packages=jaxcollapse,beartype.beartype`). Set
  `JAXCOLLAPSE_NO_TYPECHECK=1` to switch it off there too.
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


# --------------------------------------------------------------------------- the default suite's speed settings
#
# The default suite is compile-bound (every new static configuration is a few seconds of tracing and XLA
# compilation, most of its CPU time) and must finish in under 6 minutes on 2 cores. So by default
# - XLA compiles at backend optimization level 0 (`--xla_backend_optimization_level=0`: LLVM without its
#   optimization passes; measured on tests/test_engine.py + test_gaussian.py, 2 cores: 19% less CPU time). The
#   numbers are the same arithmetic, up to the last bits where LLVM would have reordered or contracted operations;
#   every comparison in the suite is statistical, or bitwise between programs compiled with the same flags (the
#   device-count test sets its own XLA_FLAGS, so it checks the default optimization level);
# - the runtime shape checks (jaxtyping + beartype, below) are off (12% less).
# A marker expression on the command line (`pytest -m slow`, `pytest -m ""` for everything) or
# `JAXCOLLAPSE_TEST_FULL=1` runs at full strength: XLA's default optimization and the shape checks on. The choice is
# made once by the first process and passed to the xdist workers and subprocesses through the environment.
def _marker_expression_given() -> bool:
    return any(a == "-m" or a.startswith("--markexpr") or (a.startswith("-m") and len(a) > 2 and a[2] != "-")
               for a in sys.argv[1:])


if "JAXCOLLAPSE_TEST_FULL" not in os.environ:
    os.environ["JAXCOLLAPSE_TEST_FULL"] = "1" if _marker_expression_given() else "0"
FULL = os.environ["JAXCOLLAPSE_TEST_FULL"] not in ("", "0")
SUITE_XLA_FLAGS = "" if FULL else "--xla_backend_optimization_level=0"
if SUITE_XLA_FLAGS and SUITE_XLA_FLAGS not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = " ".join(f for f in (os.environ.get("XLA_FLAGS", ""), SUITE_XLA_FLAGS) if f)

import jax  # noqa: E402  (after XLA_FLAGS, read when the backend starts)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

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


TYPECHECK = FULL and os.environ.get("JAXCOLLAPSE_NO_TYPECHECK", "0") in ("", "0")
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


# --------------------------------------------------------------------------- the default suite's cut
#
# The default suite must finish in under 6 minutes on the project's 2-core machine from a clean clone (cold compile
# cache); the whole suite takes about 25. These tests run only under `pytest -m slow`, each with the default-suite
# test that still checks its feature. Keys are node ids (a whole function, or one parametrization); tests that mark
# themselves (`@pytest.mark.slow`, test_verify.SLOW_CHECKS, test_devices) are not repeated here.
SLOW_IN_DEFAULT = {
    # interrupts: a subprocess each (compiles of their own); the default suite keeps run's import and mid-scan
    # moments (the crash and the swallowed interrupt), which go through the same handler and console exit
    "tests/test_interrupts.py::test_run_interrupted[compile]": "the same exit path as the mid-scan case",
    "tests/test_sweep.py::test_example_configs_are_valid": "every example is parsed by test_every_family_has_an_"
                                                          "example; planned and run by test_every_example_sweep_runs",
    "tests/test_interrupts.py::test_sweep_interrupted_then_resumed": "sweep: the same handler; resume is tested by "
                                                                     "test_sweep's full-disk resume",
    "tests/test_interrupts.py::test_verify_interrupted": "verify: the same handler and exit",
    "tests/test_interrupts.py::test_forecast_interrupted": "forecast: the same handler and exit",
    # notebooks: a subprocess each, 50-115 s; their format is checked by default (test_notebook_is_jupytext_percent),
    # their statistics are the registered checks'
    "tests/test_notebooks.py::test_notebook_runs": "notebooks run at reduced size under -m slow",
    # the family x regime x dtype matrix (the regimes' x64 code is shared by all families; the Gaussian's x64
    # accumulate_subsample, where it crashed, stays: test_accumulate_subsample_float64_through_simulate)
    "tests/test_engine.py::test_every_family_every_regime_both_precisions": "dtype matrix",
    "tests/test_engine.py::test_chain_prefix_invariance[replace-exact]": "prefix: replace-samples stays",
    "tests/test_engine.py::test_chain_prefix_invariance[fresh-exact]": "prefix: replace-samples stays",
    "tests/test_engine.py::test_chain_prefix_invariance[fresh-samples]": "prefix: replace-samples stays",
    "tests/test_engine.py::test_chain_prefix_invariance[weighted-exact]": "prefix: replace-samples stays",
    "tests/test_engine.py::test_collapsed_chains_stay_finite_1d[unbiased]": "finite: [mle] stays",
    "tests/test_engine.py::test_collapsed_chains_stay_finite_3d": "finite: 1d [mle] stays",
    "tests/test_bayes.py::test_reduced_sbc_is_calibrated_and_rejects_a_wrong_simulator": "bayes: recovery stays",
    "tests/test_categorical.py::test_fresh_drift_lag_law": "drift law: the Gaussian's stays",
    "tests/test_categorical.py::test_regimes_not_covered_by_the_checks[augment-exact]": "the samples case stays",
    "tests/test_categorical.py::test_regimes_not_covered_by_the_checks[weighted-exact]": "the samples case stays",
    "tests/test_curation.py::test_categorical_curation_speeds_up_tail_loss": "curation: the Gaussian's stays",
    "tests/test_forecast.py::test_each_model_on_a_run_csv[regression]": "forecast: the gaussian case stays",
    "tests/test_gaussian.py::test_exact_statistics_match_the_sample_path[1-25-0.7]": "exact stats: 2 cases stay",
    "tests/test_gaussian.py::test_exact_statistics_match_the_sample_path[1-3-1.0]": "exact stats: 2 cases stay",
    "tests/test_gaussian.py::test_exact_statistics_match_the_sample_path[3-2-1.0]": "exact stats: 2 cases stay",
    "tests/test_gaussian.py::test_exact_statistics_match_the_sample_path[3-20-1.3]": "exact stats: 2 cases stay",
    "tests/test_gaussian.py::test_exact_statistics_match_the_sample_path[3-3-1.0]": "exact stats: 2 cases stay",
    "tests/test_kde.py::test_weighted_fresh_real_data": "kde: the accumulate pool test stays",
    "tests/test_mixture.py::test_component_death_is_flagged_and_collapsed_chains_stay_finite": "mixture: EM, L2 stay",
    "tests/test_multinomial.py::test_moments_large_K_and_n": "multinomial: GOF, absorbed, zeros stay",
    "tests/test_multinomial_search.py::test_leaf_rank_equals_searchsorted[4]": "search: [1024] stays",
    "tests/test_multinomial_search.py::test_leaf_rank_equals_searchsorted[16]": "search: [1024] stays",
    "tests/test_multinomial_search.py::test_leaf_rank_equals_searchsorted[8192]": "search: [1024] stays",
    "tests/test_multinomial_search.py::test_rank_equals_searchsorted[5]": "search: [1000] stays",
    "tests/test_multinomial_search.py::test_rank_equals_searchsorted[2100]": "search: [1000] stays",
    "tests/test_neural.py::test_neural_drift_runs_in_the_engine": "drift: the MLP translate test stays",
    "tests/test_neural.py::test_vae_translate_shifts_the_data_and_the_reference": "drift: the MLP's stays",
    "tests/test_neural.py::test_blocked_training_equals_the_plain_vmap": "neural: fit-key test stays",
    "tests/test_ngram.py::test_wrong_theory_is_rejected": "wrong theory: verify's stays",
    "tests/test_ngram.py::test_every_regime_runs[fresh]": "ngram: accumulate stays",
    "tests/test_poisson.py::test_fresh_drift_rate_law": "drift law: the Gaussian's stays",
    **{f"tests/test_recipes.py::{t}[{fam}]": "run -> config rerun: gaussian and poisson stay (+ kde, mlp, toy)"
       for t in ("test_run_writes_every_output", "test_config_reruns_bitwise")
       for fam in ("categorical", "ngram", "regression")},
    "tests/test_recipes_learned.py::test_run_outputs_and_config_rerun_bitwise[vae]": "learned: mlp stays",
    "tests/test_recipes_learned.py::test_run_outputs_and_config_rerun_bitwise[mixture]": "learned: mlp stays",
    "tests/test_recipes_learned.py::test_run_outputs_and_config_rerun_bitwise[decomposition]": "learned: mlp stays",
    "tests/test_recipes_learned.py::test_mixture_theory_accumulate_and_replace": "verify's mixture check stays",
    "tests/test_regimes.py::test_every_regime_runs[replace-exact]": "regimes: the samples cases stay",
    "tests/test_regimes.py::test_every_regime_runs[accumulate-exact]": "regimes: the samples cases stay",
    "tests/test_regimes.py::test_every_regime_runs[augment-exact]": "regimes: the samples cases stay",
    "tests/test_regimes.py::test_every_regime_runs[fresh-exact]": "regimes: the samples cases stay",
    "tests/test_regimes.py::test_every_regime_runs[weighted-exact]": "regimes: the samples cases stay",
    "tests/test_regimes.py::test_weighted_with_fresh_real_data_runs": "regimes: weighted-samples stays",
    "tests/test_regression.py::test_exact_statistics_match_the_sample_path[3-12]": "exact stats: [3-2] stays",
    "tests/test_regression.py::test_wrong_theory_is_rejected": "wrong theory: verify's stays",
    # the pieces of the heavy reproductions (their full runs are in the slow tier of tests/test_papers.py)
    "tests/test_papers_kazdan.py::test_replace_grid_agrees_with_the_closed_forms": (
        "the Gaussian laws it compares: verify's gaussian.mle_variance (default) and the engine's run_points test"),
    "tests/test_papers_shumailov.py::test_gmm_run_follows_the_spread_law_and_starts_at_the_blob": (
        "EM and the mixture's L2: tests/test_mixture.py"),
    "tests/test_papers_shumailov.py::test_vae_sample_grid": "the VAE family: tests/test_neural.py",
    "tests/test_papers_regression.py::test_exact_grid_agrees_with_the_closed_forms_and_scales_with_sigma2": (
        "replace_risk: test_regression's exact statistics; the numpy accumulate-subsample protocol test stays"),
    # two floor runs of about 9 s each (the rule for `heavy` is 10 s; the suite's limit needed them): their closed forms
    # keep default tests of their own
    "tests/test_papers.py::test_reproduction_agrees_at_its_floor[bertrand2024_stability]": (
        "theory.stability: test_suresh's numpy augment simulation"),
    "tests/test_papers.py::test_reproduction_agrees_at_its_floor[dohmatob2024_strong_collapse]": (
        "theory.scaling: verify's scaling.strong_collapse_projection (default) and test_scaling's Monte Carlo"),
    "tests/test_categorical.py::test_wrong_theory_is_rejected": "wrong theory: test_verify's "
                                                                "test_wrong_theory_fails_on_a_real_simulation stays",
    "tests/test_repair.py::test_gamma_zero_changes_nothing": (
        "repair: the checks through the engine (test_repair_checks_pass) and the full-correction test stay"),
    "tests/test_new_family.py::test_forecast_on_the_run_csv": "forecast of a run's CSV: test_forecast's gaussian "
                                                              "case stays",
    "tests/test_logistic.py::test_newton_fit_equals_the_exact_mle_on_every_label_vector": "logistic fit: the "
                                                              "exact-enumeration test of a run stays",
    "tests/test_sweep.py::test_two_processes_equal_one": "sweep: the full-disk resume stays",
    "tests/test_sweep.py::test_four_devices_bitwise_equal_to_one": "devices: test_devices stays",
    "tests/test_regression.py::test_downstream_single_and_batched_and_bad_input": "ridge solver test stays",
    "tests/test_forecast.py::test_warnings_where_the_data_contradict_the_model": "the no-warning test stays",
    "tests/test_multinomial_search.py::test_leaf_rank_equals_searchsorted[64]": "search: rank [1000] stays",
    "tests/test_multinomial_search.py::test_categorical_draws_equal_inversion": "search: rank [1000] stays",
    "tests/test_ngram.py::test_every_regime_runs[accumulate]": "ngram: the replace prefix test stays",
    "tests/test_regimes.py::test_every_regime_runs[replace-samples]": "regimes: engine prefix tests stay",
    "tests/test_regimes.py::test_every_regime_runs[fresh-samples]": "regimes: engine prefix tests stay",
    "tests/test_regimes.py::test_every_regime_runs[accumulate-samples]": "regimes: engine prefix tests stay",
    "tests/test_recipes_learned.py::test_run_outputs_and_config_rerun_bitwise[kde]": "learned: mlp stays",
    "tests/test_forecast.py::test_each_model_on_a_run_csv[categorical]": "forecast: diversity decay test stays",
    "tests/test_forecast.py::test_arviz_future_warning_is_filtered_narrowly": "the filter is in forecast's code",
    "tests/test_mixture.py::test_chain_prefix_invariance_with_random_init": "prefix: the engine's tests stay",
    "tests/test_regimes.py::test_every_regime_runs[augment-samples]": "augment: the engine's dtype matrix stays",
    "tests/test_recipes_learned.py::test_traced_parameters_keep_the_compiled_structure[vae]": "kde, mlp stay",
    "tests/test_neural.py::test_fit_keys_come_from_the_stream": "stream keys: test_mixture's random init stays",
    # session 11 (the suite was at 7:14 on a clean clone): robustness duplicates whose feature keeps a default test
    "tests/test_sweep.py::test_kill_and_resume_is_bitwise_identical": (
        "resume: test_sweep's full-disk test resumes after a failed store, bitwise, in-process"),
    "tests/test_engine.py::test_family_functions_jit_matches_eager": "jit vs eager: both in the slow set",
    "tests/test_engine.py::test_chain_prefix_invariance[accumulate_subsample-samples]": "prefix: replace-samples stays",
    "tests/test_kde.py::test_fixed_replace_check_rejects_wrong_theories": "wrong theory: test_verify's "
                                                                         "test_wrong_theory_fails_on_a_real_simulation",
    "tests/test_mixture.py::test_column_em_matches_the_matrix_em[diag]": "column EM: [full] stays",
    "tests/test_gaussian.py::test_construction_accepts_singular_psd_covariance[float32]": "[float64] stays",
    "tests/test_new_family.py::test_sweep_over_the_recipe_parameters": (
        "sweep of a non-Gaussian recipe: test_sweep's test_sweep_of_a_non_gaussian_family"),
}


@pytest.hookimpl(tryfirst=True)  # before the mark plugin deselects by `-m`
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid in SLOW_IN_DEFAULT or item.nodeid.split("[")[0] in SLOW_IN_DEFAULT:
            item.add_marker(pytest.mark.slow)

    def rank(item):
        for i, name in enumerate(LONG_TESTS):
            if f"test_notebook_runs[{name}]" in item.nodeid:
                return i
        return len(LONG_TESTS)

    items.sort(key=rank)  # stable: everything else keeps its order


def pytest_report_header(config):
    return [f"jaxcollapse {jaxcollapse.__version__}; runtime shape checks (jaxtyping+beartype): {TYPECHECK}; "
            f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}"]


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


# --------------------------------------------------------------------------- CLI and fixture helpers


def run_cli(argv) -> tuple[int, str, str]:
    """`jaxcollapse.cli.main(argv)` in-process (sharing the worker's compiled programs), stdout and stderr
    captured: (exit code, stdout, stderr)."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from jaxcollapse import cli

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def load_npz(path) -> dict[str, np.ndarray]:
    """Every array of an `.npz` file, loaded."""
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


class LazyDict(dict):
    """`{key: make(key)}`, each value made on first use: a module fixture of per-family runs costs nothing for a
    family whose tests the default suite's cut (`SLOW_IN_DEFAULT`) deselected."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        self[key] = value = self.make(key)
        return value


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
