r"""Theory against simulation: a registry of checks.

Each check pairs one or more `simulate` configurations with predictions from
`jaxcollapse.theory` and returns `Comparison`s, one per (quantity, generation).

**Comparison rules.**

- ``"z"`` (exact results): the Monte Carlo estimate (a mean over chains, or a variance over
  chains) with its standard error; the check passes if $|z| = |\text{estimate} - \text{theory}|/
  \text{stderr} <$ `Z_BOUND` $= 4$. One bound serves the whole suite: with $N$ comparisons the
  expected number of false alarms is $N\,P(|Z| > 4) = N \times 6.3\cdot10^{-5}$ (about 0.011 for
  the ~180 comparisons of the Gaussian checks), printed in `format_table`'s summary line. Standard errors come from
  the chains themselves; every check uses a fixed key derived from the seed and its name.
- ``"rel"`` (asymptotic statements, e.g. a $t\to\infty$ limit compared at a finite $t$): the
  relative error $|\text{estimate} - \text{theory}|/|\text{theory}|$ against a tolerance whose
  reason is written beside it.

**Scale.** `scale` multiplies every chain count. At `scale=1` (the CLI default) standard errors are
well below the effects being tested (the relative standard error of a mean is typically 0.2-1%);
tests run at a reduced scale with the same $|z|$ bound, which lowers power, never the false-alarm
rate. Heavy tails are kept in check by the choice of generations: means of $\sigma_t^2$ (or of
$\det\Sigma_t$) are compared only while $\mathrm{Var}\ln\sigma_t^2 \lesssim 1$; past that,
log-moments are compared instead.

Every check runs in float64 (`jaxcollapse.x64()`; models are built inside the context).
Checks with the same static configuration (estimator, regime kind, generations, chains, metrics,
path) share one compiled program.
"""

from __future__ import annotations

import importlib
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import regimes
from . import theory as th
from ._config import x64
from .engine import Trajectory, simulate
from .families import Gaussian

__all__ = [
    "Check",
    "Comparison",
    "REGISTRY",
    "Z_BOUND",
    "all_passed",
    "compare_rel",
    "compare_z",
    "format_table",
    "register",
    "run_checks",
]

Z_BOUND = 4.0
"""The suite's $|z|$ bound: $P(|Z| > 4) = 6.3\\cdot10^{-5}$ per comparison."""


@dataclass(frozen=True)
class Comparison:
    """One theory-vs-simulation comparison of `quantity` at `generation`.

    `stat` is $|z|$ (rule ``"z"``) or the relative error (rule ``"rel"``); `passed` is
    `stat < bound` (and False for a non-finite estimate).
    """

    check: str
    quantity: str
    generation: int
    theory: float
    estimate: float
    stderr: float
    rule: str
    bound: float
    stat: float
    passed: bool


@dataclass(frozen=True)
class Check:
    """A registered check: `run(key, scale)` returns its comparisons (and runs in float64)."""

    name: str
    family: str
    source: str
    description: str
    run: Callable[[jax.Array, float], list[Comparison]]


REGISTRY: dict[str, Check] = {}


def register(name: str, *, family: str, source: str, description: str):
    """Decorator: register `fn(key, scale) -> list[Comparison]` as a check named `name`.

    The registered `run` enters `jaxcollapse.x64()` around `fn`; `fn` itself is returned unchanged.
    """

    def deco(fn: Callable[[jax.Array, float], list[Comparison]]):
        if name in REGISTRY:
            raise ValueError(f"a check named {name!r} is already registered")

        def run(key: jax.Array, scale: float = 1.0) -> list[Comparison]:
            with x64():
                return list(fn(key, scale))

        run.__name__ = getattr(fn, "__name__", name)
        run.__doc__ = fn.__doc__
        REGISTRY[name] = Check(name=name, family=family, source=source, description=description, run=run)
        return fn

    return deco


# --------------------------------------------------------------------------- comparison rules
def compare_z(check: str, quantity: str, generation: int, theory, estimate, stderr,
              bound: float = Z_BOUND) -> Comparison:
    """A ``"z"`` comparison: passes if $|\\text{estimate} - \\text{theory}|/\\text{stderr} <$ `bound`."""
    theory, estimate, stderr = float(theory), float(estimate), float(stderr)
    diff = estimate - theory
    if not (math.isfinite(estimate) and math.isfinite(theory) and math.isfinite(stderr)):
        stat = math.inf
    elif stderr > 0:
        stat = abs(diff) / stderr
    else:
        stat = 0.0 if diff == 0 else math.inf
    return Comparison(check, quantity, int(generation), theory, estimate, stderr, "z", float(bound), stat,
                      bool(stat < bound))


def compare_rel(check: str, quantity: str, generation: int, theory, estimate, stderr,
                bound: float) -> Comparison:
    """A ``"rel"`` comparison: passes if $|\\text{estimate} - \\text{theory}|/|\\text{theory}| <$ `bound`."""
    theory, estimate, stderr = float(theory), float(estimate), float(stderr)
    if math.isfinite(estimate) and math.isfinite(theory) and theory != 0:
        stat = abs(estimate - theory) / abs(theory)
    else:
        stat = math.inf
    return Comparison(check, quantity, int(generation), theory, estimate, stderr, "rel", float(bound), stat,
                      bool(stat < bound))


# --------------------------------------------------------------------------- running
def _check_key(seed: int, name: str) -> jax.Array:
    return jax.random.fold_in(jax.random.key(seed), zlib.crc32(name.encode()) & 0x7FFFFFFF)


def run_checks(names: Sequence[str] | str | None = None, *, family: str | None = None, scale: float | int = 1.0,
               seed: int = 0) -> list[Comparison]:
    """Run the named checks (default: all, or all of `family`) and return their comparisons.

    Each check gets the key `fold_in(key(seed), crc32(name))`, so its result does not depend on
    which other checks run. `scale` multiplies the chain counts.
    """
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    if isinstance(names, str):
        names = [names]
    if names is None:
        chosen = list(REGISTRY)
    else:
        unknown = [nm for nm in names if nm not in REGISTRY]
        if unknown:
            raise ValueError(f"unknown check(s) {unknown}; registered: {sorted(REGISTRY)}")
        chosen = list(dict.fromkeys(names))
    if family is not None:
        families = {c.family for c in REGISTRY.values()}
        if family not in families:
            raise ValueError(f"unknown family {family!r}; families with checks: {sorted(families)}")
        chosen = [nm for nm in chosen if REGISTRY[nm].family == family]
    out: list[Comparison] = []
    for nm in chosen:
        out.extend(REGISTRY[nm].run(_check_key(seed, nm), float(scale)))
    return out


def all_passed(comparisons: Sequence[Comparison]) -> bool:
    """True if every comparison passed (and there is at least one)."""
    return len(comparisons) > 0 and all(c.passed for c in comparisons)


def _num(x: float, spec: str = ".6g") -> str:
    return format(x, spec) if math.isfinite(x) else str(x)


def format_table(comparisons: Sequence[Comparison]) -> str:
    """An aligned text table of the comparisons, then a summary line with the failure budget."""
    head = ("check", "quantity", "t", "theory", "simulation", "stderr", "|z| or rel", "bound", "result")
    rows = [head]
    for c in comparisons:
        stat = _num(c.stat, ".2f") if c.rule == "z" else _num(c.stat, ".2%")
        bound = f"|z|<{c.bound:g}" if c.rule == "z" else f"rel<{c.bound:.0%}"
        rows.append((c.check, c.quantity, str(c.generation), _num(c.theory), _num(c.estimate),
                     _num(c.stderr, ".2e"), stat, bound, "PASS" if c.passed else "FAIL"))
    right = {2, 3, 4, 5, 6}
    widths = [max(len(r[j]) for r in rows) for j in range(len(head))]
    lines = []
    for i, r in enumerate(rows):
        cells = [r[j].rjust(widths[j]) if j in right else r[j].ljust(widths[j]) for j in range(len(head))]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(summary_line(comparisons))
    return "\n".join(lines)


def summary_line(comparisons: Sequence[Comparison]) -> str:
    """``"P/N comparisons passed in K checks; ..."`` with the expected number of false alarms."""
    n = len(comparisons)
    passed = sum(c.passed for c in comparisons)
    checks = list(dict.fromkeys(c.check for c in comparisons))
    zs = [c for c in comparisons if c.rule == "z"]
    rels = [c for c in comparisons if c.rule == "rel"]
    bounds = sorted({c.bound for c in zs})
    budget = sum(math.erfc(b / math.sqrt(2.0)) * sum(c.bound == b for c in zs) for b in bounds)
    bound_txt = ", ".join(f"{b:g}" for b in bounds) or f"{Z_BOUND:g}"
    line = (f"{passed}/{n} comparisons passed in {len(checks)} checks; rule |z| < {bound_txt} on {len(zs)} "
            f"(expected false alarms {len(zs)} x P(|Z|>{bound_txt}) = {budget:.3f})")
    if rels:
        line += f", relative tolerance on {len(rels)}"
    failed = list(dict.fromkeys(c.check for c in comparisons if not c.passed))
    line += "; FAILED: " + ", ".join(failed) if failed else "; all passed"
    return line


# --------------------------------------------------------------------------- helpers for checks
def _chains(base: int, scale: float) -> int:
    return max(int(round(base * scale)), 64)


def _sim(key, model, regime, generations: int, chains: int, metrics: tuple[str, ...], *, path: str = "exact",
         record_paths: bool = False) -> Trajectory:
    return simulate(key, model, regime, generations, chains, metrics=metrics, path=path, quantiles=(),
                    record_paths=record_paths)


def _theory(fn, ts, *args, **kwargs) -> np.ndarray:
    return np.asarray(fn(jnp.asarray(ts), *args, **kwargs), dtype=np.float64)


def _means(check: str, traj: Trajectory, metric: str, ts: Sequence[int], theory, quantity: str | None = None,
           ) -> list[Comparison]:
    """z comparisons of the cross-chain mean of `metric` at generations `ts`."""
    mean = np.asarray(traj.mean(metric), np.float64)
    se = np.asarray(traj.stderr(metric), np.float64)
    theory = np.broadcast_to(np.asarray(theory, np.float64), (len(ts),))
    return [compare_z(check, quantity or metric, t, theory[i], mean[t], se[t]) for i, t in enumerate(ts)]


def _path_means(check: str, quantity: str, values: np.ndarray, ts: Sequence[int], theory) -> list[Comparison]:
    """z comparisons of the mean over chains of per-chain `values[t]` (shape (G + 1, chains))."""
    theory = np.broadcast_to(np.asarray(theory, np.float64), (len(ts),))
    out = []
    for i, t in enumerate(ts):
        x = np.asarray(values[t], np.float64)
        out.append(compare_z(check, quantity, t, theory[i], x.mean(), x.std() / math.sqrt(x.size)))
    return out


def _path_vars(check: str, quantity: str, values: np.ndarray, ts: Sequence[int], theory) -> list[Comparison]:
    r"""z comparisons of the variance over chains; stderr $\sqrt{(m_4 - m_2^2)/N}$ (delta method)."""
    theory = np.broadcast_to(np.asarray(theory, np.float64), (len(ts),))
    out = []
    for i, t in enumerate(ts):
        x = np.asarray(values[t], np.float64)
        r = x - x.mean()
        m2 = np.mean(r * r)
        m4 = np.mean(r**4)
        out.append(compare_z(check, quantity, t, theory[i], m2, math.sqrt(max(m4 - m2 * m2, 0.0) / x.size)))
    return out


def _paths(traj: Trajectory, metric: str) -> np.ndarray:
    assert traj.paths is not None
    return np.asarray(traj.paths[metric], np.float64)


def _keys(key, k: int) -> list[jax.Array]:
    return [jax.random.fold_in(key, i) for i in range(k)]


# --------------------------------------------------------------------------- shared configurations
# Configurations are shared between checks so that each compiles once per run of the suite; the
# keys differ, so the checks' simulations are independent.

# A: 1-D MLE, replace, n = 50, 25 generations, truth N(1, 2). Var ln sigma_25^2 = 25 psi'(24.5) ~ 1.04,
# so means of sigma_t^2 are well behaved up to t = 25.
_A_N, _A_G, _A_MU, _A_S2 = 50, 25, 1.0, 2.0
_A_TS = (1, 5, 10, 25)
_A_METRICS = ("mean_sq_err", "trace", "log_det_ratio", "sigma", "w2sq", "conserved")


def _sim_a(key, scale, *, temperature=1.0) -> Trajectory:
    model = Gaussian(_A_MU, _A_S2, "mle")
    return _sim(key, model, regimes.replace(_A_N, temperature=temperature), _A_G, _chains(100_000, scale),
                _A_METRICS, record_paths=True)


# B: 1-D unbiased, replace, n = 20, 10 generations: E sigma_10^4 = (21/19)^10 ~ 2.7 (moderate tails).
_B_N, _B_G = 20, 10
_B_TS = (1, 3, 10)
_B_METRICS = ("mean_sq_err", "trace", "sigma", "w2sq")


def _sim_b(key, scale) -> Trajectory:
    return _sim(key, Gaussian(0.0, 1.0, "unbiased"), regimes.replace(_B_N), _B_G, _chains(100_000, scale),
                _B_METRICS, record_paths=True)


# M: MLE with real or accumulated data, 30-40 generations, truth N(0.5, 1.5).
_M_MU, _M_S2 = 0.5, 1.5
_M_METRICS = ("mean_sq_err", "trace", "conserved")


def _sim_accumulate(key, scale, *, path="exact") -> Trajectory:
    g, chains = (40, 100_000) if path == "exact" else (20, 50_000)
    return _sim(key, Gaussian(_M_MU, _M_S2, "mle"), regimes.accumulate(5), g, _chains(chains, scale), _M_METRICS,
                path=path)


def _sim_fresh(key, scale) -> Trajectory:
    return _sim(key, Gaussian(_M_MU, _M_S2, "mle"), regimes.fresh(10, 40), 30, _chains(100_000, scale),
                _M_METRICS)


def _sim_augment(key, scale) -> Trajectory:
    return _sim(key, Gaussian(_M_MU, _M_S2, "mle"), regimes.augment(10, 1.0), 30, _chains(100_000, scale),
                _M_METRICS)


# S: the sample path, MLE replace, n = 20, 10 generations.
_S_N, _S_G = 20, 10
_S_TS = (1, 5, 10)


def _sim_samples(key, scale, *, temperature=1.0) -> Trajectory:
    return _sim(key, Gaussian(0.0, 1.0, "mle"), regimes.replace(_S_N, temperature=temperature), _S_G,
                _chains(50_000, scale), ("mean_sq_err", "trace"), path="samples")


_SHUMAILOV = "Shumailov et al. 2024 (Nature)"


# --------------------------------------------------------------------------- checks: MLE, replace
@register("gaussian.mle_variance", family="gaussian", source=_SHUMAILOV,
          description="MLE replace: E sigma_t^2 = sigma^2 (1 - 1/n)^t")
def _mle_variance(key, scale):
    traj = _sim_a(key, scale)
    name = "gaussian.mle_variance"
    return _means(name, traj, "trace", _A_TS, _theory(th.mle_variance, _A_TS, _A_N, _A_S2))


@register("gaussian.mle_mean_sq_err", family="gaussian", source=_SHUMAILOV,
          description="MLE replace: E (mu_t - mu)^2 = sigma^2 [1 - (1 - 1/n)^t]")
def _mle_mean_sq_err(key, scale):
    traj = _sim_a(key, scale)
    name = "gaussian.mle_mean_sq_err"
    return _means(name, traj, "mean_sq_err", _A_TS, _theory(th.mle_mean_sq_err, _A_TS, _A_N, _A_S2))


@register("gaussian.mle_log_variance", family="gaussian", source=_SHUMAILOV + "; Suresh et al. 2024",
          description="MLE replace: E ln(sigma_t^2/sigma^2) = t[psi((n-1)/2) + ln(2/n)], Var = t psi'((n-1)/2)")
def _mle_log_variance(key, scale):
    traj = _sim_a(key, scale)
    name = "gaussian.mle_log_variance"
    logv = _paths(traj, "log_det_ratio")
    return (_path_means(name, "E ln var ratio", logv, _A_TS, _theory(th.log_variance_mean, _A_TS, _A_N, "mle"))
            + _path_vars(name, "Var ln var", logv, _A_TS, _theory(th.log_variance_var, _A_TS, _A_N)))


@register("gaussian.mle_sigma", family="gaussian", source=_SHUMAILOV,
          description="MLE replace: E sigma_t = sigma c^t, c = E sqrt(chi2_{n-1}/n)")
def _mle_sigma(key, scale):
    traj = _sim_a(key, scale)
    name = "gaussian.mle_sigma"
    return _means(name, traj, "sigma", _A_TS, _theory(th.sigma_mean, _A_TS, _A_N, math.sqrt(_A_S2), "mle"))


@register("gaussian.mle_w2sq", family="gaussian", source="derived here (conservation + E sigma_t)",
          description="MLE replace: E W2^2 = 2 sigma^2 (1 - c^t)")
def _mle_w2sq(key, scale):
    traj = _sim_a(key, scale)
    name = "gaussian.mle_w2sq"
    return _means(name, traj, "w2sq", _A_TS, _theory(th.w2sq_mean, _A_TS, _A_N, _A_S2, "mle"))


@register("gaussian.temperature", family="gaussian", source="derived here",
          description="MLE replace at temperature tau: E sigma_t^2 = sigma^2 (tau^2 (1 - 1/n))^t; constant at "
                      "tau_c = 1/sqrt(1 - 1/n)")
def _temperature(key, scale):
    name = "gaussian.temperature"
    tau_c = float(th.critical_temperature(_A_N))
    out = []
    for k, tau in zip(_keys(key, 3), (0.95, tau_c, 1.05), strict=True):
        traj = _sim_a(k, scale, temperature=tau)
        label = "crit" if tau == tau_c else f"{tau:g}"
        out += _means(name, traj, "trace", _A_TS, _theory(th.mle_variance_tempered, _A_TS, _A_N, tau, _A_S2),
                      quantity=f"trace tau={label}")
        out += _means(name, traj, "mean_sq_err", _A_TS[1:],
                      _theory(th.mle_mean_sq_err_tempered, _A_TS[1:], _A_N, tau, _A_S2),
                      quantity=f"mean_sq_err tau={label}")
    return out


# --------------------------------------------------------------------------- checks: unbiased
@register("gaussian.unbiased_martingale", family="gaussian", source=_SHUMAILOV,
          description="unbiased replace: E sigma_t^2 = sigma^2 (martingale); E sigma_t^4 = sigma^4 ((n+1)/(n-1))^t")
def _unbiased_martingale(key, scale):
    name = "gaussian.unbiased_martingale"
    traj = _sim_b(key, scale)
    out = _means(name, traj, "trace", _B_TS, _theory(th.unbiased_variance, _B_TS, 1.0))
    # sigma_t^4 has E sigma^8 = [(n+1)(n+3)(n+5)/(n-1)^3]^t: keep t small so its standard error is trustworthy.
    ts4 = (1, 2, 4)
    v = _paths(traj, "trace")
    out += _path_means(name, "E sigma^4", v * v, ts4, _theory(th.unbiased_variance_fourth_moment, ts4, _B_N, 1.0))
    return out


@register("gaussian.unbiased_replace", family="gaussian", source=_SHUMAILOV,
          description="unbiased replace: E (mu_t - mu)^2 = t sigma^2/n, E sigma_t = sigma c^t, "
                      "E W2^2 = sigma^2 t/n + 2 sigma^2 (1 - c^t)")
def _unbiased_replace(key, scale):
    name = "gaussian.unbiased_replace"
    traj = _sim_b(key, scale)
    ns = np.full(_B_G, float(_B_N))
    mse = np.asarray(th.unbiased_mean_sq_err(ns, 1.0))[np.asarray(_B_TS) - 1]
    return (_means(name, traj, "mean_sq_err", _B_TS, mse)
            + _means(name, traj, "sigma", _B_TS, _theory(th.sigma_mean, _B_TS, _B_N, 1.0, "unbiased"))
            + _means(name, traj, "w2sq", _B_TS, _theory(th.w2sq_mean, _B_TS, _B_N, 1.0, "unbiased")))


@register("gaussian.unbiased_log_variance", family="gaussian", source=_SHUMAILOV,
          description="unbiased replace, t >> n (n = 5, t <= 60): E ln sigma_t^2 = t[psi((n-1)/2) + ln(2/(n-1))], "
                      "Var = t psi'((n-1)/2); sigma_t -> 0 although E sigma_t^2 = sigma^2")
def _unbiased_log_variance(key, scale):
    name = "gaussian.unbiased_log_variance"
    n, ts = 5, (5, 20, 60)
    traj = _sim(key, Gaussian(0.0, 1.0, "unbiased"), regimes.replace(n), 60, _chains(50_000, scale),
                ("log_det_ratio",), record_paths=True)
    logv = _paths(traj, "log_det_ratio")
    out = _path_means(name, "E ln var ratio", logv, ts, _theory(th.log_variance_mean, ts, n, "unbiased"))
    out += _path_vars(name, "Var ln var", logv, ts, _theory(th.log_variance_var, ts, n))
    return out


@register("gaussian.unbiased_schedule", family="gaussian", source=_SHUMAILOV,
          description="unbiased replace with n_i = 4 i^2: E (mu_t - mu)^2 = sigma^2 sum 1/n_i (bounded, -> "
                      "pi^2/24), E sigma_t^2 = sigma^2, E W2^2 = sigma^2 sum 1/n_i + 2 sigma^2 (1 - prod c_i)")
def _unbiased_schedule(key, scale):
    name = "gaussian.unbiased_schedule"
    g, ts = 30, (1, 3, 10, 30)
    i = np.arange(1, g + 1, dtype=np.float64)
    ns = 4.0 * i * i  # computed here, not by the engine's Schedule: sum 1/n_i converges, no collapse of the mean
    idx = np.asarray(ts) - 1
    traj = _sim(key, Gaussian(0.0, 1.0, "unbiased"), regimes.replace(regimes.power(4, 2)), g,
                _chains(100_000, scale), _B_METRICS)
    return (_means(name, traj, "mean_sq_err", ts, np.asarray(th.unbiased_mean_sq_err(ns))[idx])
            + _means(name, traj, "trace", ts, np.asarray(th.variance_schedule(ns, 1.0, "unbiased"))[idx])
            + _means(name, traj, "w2sq", ts, np.asarray(th.w2sq_mean_schedule(ns, 1.0, "unbiased"))[idx]))


# --------------------------------------------------------------------------- checks: d dimensions
_D_N, _D_G = 30, 10
_D_TS = (1, 2, 5, 10)
_D_COV = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])


def _sim_d(key, scale) -> Trajectory:
    model = Gaussian(np.array([1.0, -1.0, 0.0]), _D_COV, "mle")
    return _sim(key, model, regimes.replace(_D_N), _D_G, _chains(50_000, scale),
                ("mean_sq_err", "trace", "log_det_ratio", "conserved"), record_paths=True)


@register("gaussian.mvn_trace", family="gaussian", source=_SHUMAILOV + "; derived here",
          description="d = 3 MLE replace: E tr Sigma_t = (1 - 1/n)^t tr Sigma, E||mu_t - mu||^2 = tr Sigma "
                      "[1 - (1-1/n)^t], E[||mu_t - mu||^2 + tr Sigma_t] = tr Sigma")
def _mvn_trace(key, scale):
    name = "gaussian.mvn_trace"
    traj = _sim_d(key, scale)
    tr = float(np.trace(_D_COV))
    return (_means(name, traj, "trace", _D_TS, _theory(th.trace_mean, _D_TS, _D_N, tr))
            + _means(name, traj, "mean_sq_err", _D_TS, _theory(th.mle_mean_sq_err, _D_TS, _D_N, tr))
            + _means(name, traj, "conserved", _D_TS, th.conserved_mean(tr)))


@register("gaussian.mvn_det", family="gaussian", source="derived here (Bartlett decomposition)",
          description="d = 3 MLE replace: E det ratio = [prod_k (1 - k/n)]^t; E ln det ratio = t[sum_k psi((n-k)/2) "
                      "+ d ln 2 - d ln n]; Var ln det ratio = t sum_k psi'((n-k)/2)")
def _mvn_det(key, scale):
    name = "gaussian.mvn_det"
    d = _D_COV.shape[0]
    traj = _sim_d(key, scale)
    logdet = _paths(traj, "log_det_ratio")
    ts_det = (1, 2, 5)  # Var ln det grows by ~0.22 per generation: keep the det ratio's tails moderate
    return (_path_means(name, "E det ratio", np.exp(logdet), ts_det, _theory(th.det_ratio_mean, ts_det, _D_N, d))
            + _path_means(name, "E ln det ratio", logdet, _D_TS, _theory(th.log_det_ratio_mean, _D_TS, _D_N, d))
            + _path_vars(name, "Var ln det", logdet, _D_TS, _theory(th.log_det_ratio_var, _D_TS, _D_N, d)))


# --------------------------------------------------------------------------- checks: conservation
@register("gaussian.conservation", family="gaussian", source="derived here",
          description="MLE: E[(mu_t - mu)^2 + sigma_t^2] = sigma^2 under replace, accumulate, fresh and augment")
def _conservation(key, scale):
    name = "gaussian.conservation"
    k = _keys(key, 4)
    out = _means(name, _sim_a(k[0], scale), "conserved", _A_TS, th.conserved_mean(_A_S2), quantity="replace")
    ts = (1, 10, 30)
    out += _means(name, _sim_accumulate(k[1], scale), "conserved", ts + (40,), th.conserved_mean(_M_S2),
                  quantity="accumulate")
    out += _means(name, _sim_fresh(k[2], scale), "conserved", ts, th.conserved_mean(_M_S2), quantity="fresh")
    out += _means(name, _sim_augment(k[3], scale), "conserved", ts, th.conserved_mean(_M_S2), quantity="augment")
    return out


# --------------------------------------------------------------------------- checks: accumulate
@register("gaussian.accumulate_known_variance", family="gaussian",
          source="Dey and Donoho 2024; Gerstgrasser et al. 2024",
          description="mean only, accumulate: n E(mu_t - mu)^2 / sigma^2 = sum_{j<=t} 1/j^2 -> pi^2/6")
def _accumulate_known_variance(key, scale):
    name = "gaussian.accumulate_known_variance"
    n, g, ts = 10, 100, (1, 10, 100)
    traj = _sim(key, Gaussian(0.0, 1.0, "mean"), regimes.accumulate(n), g, _chains(200_000, scale),
                ("mean_sq_err",))
    out = _means(name, traj, "mean_sq_err", ts, _theory(th.accumulate_mean_sq_err_known_var, ts, n, 1.0))
    # The limit pi^2/6 sigma^2/n compared at t = 100: the truncated tail sum_{j>100} 1/j^2 = 0.6% of it, and the
    # Monte Carlo error is 0.3% (scale 1) to 0.6% (scale 0.25) per standard error: a 4% tolerance covers the
    # tail plus 5 standard errors at scale >= 0.25.
    mean, se = np.asarray(traj.mean("mean_sq_err")), np.asarray(traj.stderr("mean_sq_err"))
    out.append(compare_rel(name, "limit pi^2/6 s^2/n", g, math.pi**2 / 6.0 / n, mean[g], se[g], bound=0.04))
    return out


@register("gaussian.accumulate_mle", family="gaussian", source="derived here; Gerstgrasser et al. 2024; "
          "Kazdan et al. 2024",
          description="MLE accumulate: E(mu_t - mu)^2 from e_t = e_{t-1} + (sigma^2 - e_{t-1})/(n t^2); "
                      "E sigma_t^2 = sigma^2 - e_t")
def _accumulate_mle(key, scale):
    name = "gaussian.accumulate_mle"
    n, ts = 5, (1, 3, 10, 40)
    traj = _sim_accumulate(key, scale)
    e = np.asarray(th.mean_sq_err_recursion(1.0 / np.arange(1, 41), n, _M_S2))[np.asarray(ts) - 1]
    return (_means(name, traj, "mean_sq_err", ts, e)
            + _means(name, traj, "trace", ts, _theory(th.accumulate_mle_variance, ts, n, _M_S2)))


@register("gaussian.samples_accumulate", family="gaussian", source="derived here",
          description="sample path, MLE accumulate (n = 5): the recursion and conservation law")
def _samples_accumulate(key, scale):
    name = "gaussian.samples_accumulate"
    n, ts = 5, (1, 5, 20)
    traj = _sim_accumulate(key, scale, path="samples")
    return (_means(name, traj, "mean_sq_err", ts, _theory(th.accumulate_mle_mean_sq_err, ts, n, _M_S2))
            + _means(name, traj, "conserved", ts, th.conserved_mean(_M_S2)))


# --------------------------------------------------------------------------- checks: real data
@register("gaussian.fresh_mle", family="gaussian", source="derived here; Alemohammad et al. 2024",
          description="MLE, n_r = 10 fresh real + n_s = 40 synthetic: e_t = [N sigma^2 + n_s(n_s - 1) e_{t-1}]/N^2, "
                      "E sigma_t^2 = sigma^2 - e_t")
def _fresh_mle(key, scale):
    name = "gaussian.fresh_mle"
    ts = (1, 3, 10, 30)
    traj = _sim_fresh(key, scale)
    e = _theory(th.fresh_mle_mean_sq_err, ts, 10, 40, _M_S2)
    return (_means(name, traj, "mean_sq_err", ts, e)
            + _means(name, traj, "trace", ts, _M_S2 - e))


@register("gaussian.augment", family="gaussian", source="Bertrand et al. 2024; derived here",
          description="MLE, one fixed real set of n_r = 10 plus lambda n_r = 10 synthetic samples per generation")
def _augment(key, scale):
    name = "gaussian.augment"
    ts = (1, 3, 10, 30)
    traj = _sim_augment(key, scale)
    e = _theory(th.augment_mean_sq_err, ts, 10, 1.0, _M_S2, "mle")
    return (_means(name, traj, "mean_sq_err", ts, e)
            + _means(name, traj, "trace", ts, _M_S2 - e))


@register("gaussian.weighted", family="gaussian", source="derived here",
          description="weighted MLE, real weight w = 0.2 on a fixed real set (n_r = 20, n_s = 40): mixed-data "
                      "recursion and conservation")
def _weighted(key, scale):
    name = "gaussian.weighted"
    w, nr, ns, ts = 0.2, 20, 40, (1, 3, 10, 30)
    traj = _sim(key, Gaussian(_M_MU, _M_S2, "mle"), regimes.weighted(nr, ns, w, real="fixed"), 30,
                _chains(100_000, scale), _M_METRICS)
    e = _theory(th.mixed_mean_sq_err, ts, nr, ns, 1.0 - w, _M_S2, real="fixed", estimator="mle")
    return (_means(name, traj, "mean_sq_err", ts, e)
            + _means(name, traj, "conserved", ts, th.conserved_mean(_M_S2)))


# --------------------------------------------------------------------------- checks: drift
@register("gaussian.drift", family="gaussian", source="derived here",
          description="mean only, truth moving v per generation: replace E(mu_t - mu*_t)^2 = v^2 t^2 + t sigma^2/n; "
                      "fresh (n_r = 10, n_s = 30): lag v n_s/n_r plus an AR(1) variance")
def _drift(key, scale):
    name = "gaussian.drift"
    n, g, ts = 10, 40, (1, 10, 40)
    k = _keys(key, 3)
    out = []
    for kk, v in zip(k[:2], (0.0, 0.05), strict=True):
        traj = _sim(kk, Gaussian(0.0, 1.0, "mean"), regimes.replace(n, drift=v), g, _chains(100_000, scale),
                    ("mean_sq_err",))
        out += _means(name, traj, "mean_sq_err", ts, _theory(th.drift_mean_sq_err, ts, n, v, 1.0),
                      quantity=f"replace v={v:g}")
    v = 0.05
    traj = _sim(k[2], Gaussian(0.0, 1.0, "mean"), regimes.fresh(10, 30, drift=v), g, _chains(100_000, scale),
                ("mean_sq_err",))
    out += _means(name, traj, "mean_sq_err", ts, _theory(th.fresh_drift_mean_sq_err, ts, 10, 30, v, 1.0),
                  quantity=f"fresh v={v:g}")
    return out


# --------------------------------------------------------------------------- checks: the sample path
@register("gaussian.samples_replace", family="gaussian", source=_SHUMAILOV + "; derived here",
          description="sample path, MLE replace (n = 20) at tau = 1 and tau = 1.05: E sigma_t^2 and E(mu_t - mu)^2")
def _samples_replace(key, scale):
    name = "gaussian.samples_replace"
    out = []
    for k, tau in zip(_keys(key, 2), (1.0, 1.05), strict=True):
        traj = _sim_samples(k, scale, temperature=tau)
        if tau == 1.0:
            var, mse = _theory(th.mle_variance, _S_TS, _S_N, 1.0), _theory(th.mle_mean_sq_err, _S_TS, _S_N, 1.0)
        else:
            var = _theory(th.mle_variance_tempered, _S_TS, _S_N, tau, 1.0)
            mse = _theory(th.mle_mean_sq_err_tempered, _S_TS, _S_N, tau, 1.0)
        out += _means(name, traj, "trace", _S_TS, var, quantity=f"trace tau={tau:g}")
        out += _means(name, traj, "mean_sq_err", _S_TS, mse, quantity=f"mean_sq_err tau={tau:g}")
    return out


# --------------------------------------------------------------------------- checks of other families
# Each module registers its checks on import (see jaxcollapse/checks/__init__.py).
CHECK_MODULES: tuple[str, ...] = ("jaxcollapse.checks.ngram", "jaxcollapse.checks.mixture",
                                  "jaxcollapse.checks.discrete", "jaxcollapse.checks.bayes",
                                  "jaxcollapse.checks.regression", "jaxcollapse.checks.neural")

for _module in CHECK_MODULES:
    importlib.import_module(_module)
