r"""The registry, the comparison rules and the helpers that every family's checks share.

See the package docstring (`jaxcollapse.verify`) for the rules.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .._config import x64
from ..engine import Trajectory, simulate

__all__ = [
    "Check",
    "Comparison",
    "REGISTRY",
    "RULES",
    "Z_BOUND",
    "all_passed",
    "check_key",
    "compare_gap",
    "compare_z",
    "false_alarm_budget",
    "format_table",
    "frac_z",
    "keys",
    "means",
    "path_means",
    "path_vars",
    "paths",
    "register",
    "run_checks",
    "scaled_chains",
    "sim",
    "summary_line",
    "theory_at",
    "unregister",
]

Z_BOUND = 4.0
"""The suite's $|z|$ bound: $P(|Z| > 4) = 6.3\\cdot10^{-5}$ per comparison."""

RULES = (f"rules: Monte Carlo means pass if |z| = |estimate - exact| / stderr < {Z_BOUND:g} (false-alarm budget "
         f"N x P(|Z|>{Z_BOUND:g}) = N x {math.erfc(Z_BOUND / math.sqrt(2.0)):.2e}, printed below); asymptotic "
         "formulas are checked deterministically: the exact gap to the finite value against a stated bound")
"""The rules, one line, printed by ``jaxcollapse verify`` before its table."""


@dataclass(frozen=True)
class Comparison:
    r"""One theory-vs-simulation comparison of `quantity` at `generation`.

    Rule ``"z"``: `stat` is $|z| = |\text{estimate} - \text{theory}|/\text{stderr}$, `passed` is
    `stat < bound`. Rule ``"gap"`` (deterministic): `theory` is the exact finite value, `estimate` the
    asymptotic formula, `stat` their relative gap $|\text{estimate} - \text{theory}|/|\text{theory}|$ and
    `passed` is `stat <= bound`; `note` states where the bound comes from. A non-finite value fails.
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
    note: str = ""


@dataclass(frozen=True)
class Check:
    """A registered check: `run(key, scale)` returns its comparisons (and runs in float64)."""

    name: str
    family: str
    source: str
    description: str
    run: Callable[[jax.Array, float], list[Comparison]]


REGISTRY: dict[str, Check] = {}
"""Every registered check by name. The package's modules register on import; so may any other code."""


def register(name: str, *, family: str, source: str, description: str):
    """Decorator: register `fn(key, scale) -> list[Comparison]` as a check named `name` of `family`.

    Any module may register (a family's checks outside this package included); the check then runs
    through `run_checks` and ``jaxcollapse verify`` like the package's own. The registered `run` enters
    `jaxcollapse.x64()` around `fn`; `fn` itself is returned unchanged.
    """
    if not (isinstance(name, str) and name and isinstance(family, str) and family):
        raise ValueError(f"a check needs a non-empty name and family, got name={name!r}, family={family!r}")

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


def unregister(name: str) -> None:
    """Remove the check called `name` if there is one (for code that registered its own, e.g. a test file)."""
    REGISTRY.pop(name, None)


# --------------------------------------------------------------------------- comparison rules
def compare_z(check: str, quantity: str, generation: int, theory, estimate, stderr,
              bound: float = Z_BOUND) -> Comparison:
    r"""A ``"z"`` comparison: passes if $|\text{estimate} - \text{theory}|/\text{stderr} <$ `bound`."""
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


def compare_gap(check: str, quantity: str, generation: int, exact, asymptotic, bound: float, *,
                reason: str) -> Comparison:
    r"""A deterministic ``"gap"`` comparison of an asymptotic formula with the exact finite value.

    Passes if $|\text{asymptotic} - \text{exact}|/|\text{exact}| \le$ `bound`. Both numbers are computed,
    not simulated; the simulation is compared with `exact` by `compare_z`. `reason` says where the bound
    comes from (a proved inequality, or an order of the correction with its measured size).
    """
    if not reason:
        raise ValueError("a gap comparison needs the reason for its bound")
    exact, asymptotic = float(exact), float(asymptotic)
    if math.isfinite(exact) and math.isfinite(asymptotic) and exact != 0:
        stat = abs(asymptotic - exact) / abs(exact)
    else:
        stat = math.inf
    return Comparison(check, quantity, int(generation), exact, asymptotic, 0.0, "gap", float(bound), stat,
                      bool(stat <= bound), reason)


def frac_z(check: str, quantity: str, generation: int, theory, indicator) -> Comparison:
    """A ``"z"`` comparison of the share of True in `indicator` (one value per chain) with `theory`."""
    x = np.asarray(indicator, np.float64)
    return compare_z(check, quantity, generation, theory, x.mean(), x.std() / math.sqrt(x.size))


# --------------------------------------------------------------------------- running
def check_key(seed: int, name: str) -> jax.Array:
    """The key of check `name`: `fold_in(key(seed), crc32(name))` (independent of the other checks run)."""
    return jax.random.fold_in(jax.random.key(seed), zlib.crc32(name.encode()) & 0x7FFFFFFF)


def run_checks(names: Sequence[str] | str | None = None, *, family: str | None = None, scale: float | int = 1.0,
               seed: int = 0) -> list[Comparison]:
    """Run the named checks (default: all, or all of `family`) and return their comparisons.

    Each check gets the key `check_key(seed, name)`, so its result does not depend on which other checks
    run. `scale` multiplies the chain counts.
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
        out.extend(REGISTRY[nm].run(check_key(seed, nm), float(scale)))
    return out


def all_passed(comparisons: Sequence[Comparison]) -> bool:
    """True if every comparison passed (and there is at least one)."""
    return len(comparisons) > 0 and all(c.passed for c in comparisons)


def false_alarm_budget(comparisons: Sequence[Comparison]) -> float:
    r"""Expected number of false alarms of the ``"z"`` comparisons: $\sum P(|Z| > \text{bound})$."""
    return float(sum(math.erfc(c.bound / math.sqrt(2.0)) for c in comparisons if c.rule == "z"))


def _num(x: float, spec: str = ".6g") -> str:
    return format(x, spec) if math.isfinite(x) else str(x)


def _pct(x: float) -> str:
    return f"{100.0 * x:.3g}%" if math.isfinite(x) else str(x)


def format_table(comparisons: Sequence[Comparison]) -> str:
    """An aligned text table of the comparisons, then a summary line with the failure budget."""
    head = ("check", "quantity", "t", "theory", "simulation", "stderr", "|z| or gap", "bound", "result")
    rows = [head]
    for c in comparisons:
        if c.rule == "z":
            stat, bound, sim_txt, se = _num(c.stat, ".2f"), f"|z|<{c.bound:g}", _num(c.estimate), _num(c.stderr, ".2e")
        else:
            stat, bound, sim_txt, se = _pct(c.stat), f"gap<={_pct(c.bound)}", f"asym {_num(c.estimate)}", "-"
        rows.append((c.check, c.quantity, str(c.generation), _num(c.theory), sim_txt, se, stat, bound,
                     "PASS" if c.passed else "FAIL"))
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
    gaps = [c for c in comparisons if c.rule == "gap"]
    bounds = sorted({c.bound for c in zs})
    bound_txt = ", ".join(f"{b:g}" for b in bounds) or f"{Z_BOUND:g}"
    line = (f"{passed}/{n} comparisons passed in {len(checks)} checks; rule |z| < {bound_txt} on {len(zs)} "
            f"(expected false alarms {len(zs)} x P(|Z|>{bound_txt}) = {false_alarm_budget(zs):.3f})")
    if gaps:
        line += f", deterministic gap on {len(gaps)}"
    failed = list(dict.fromkeys(c.check for c in comparisons if not c.passed))
    line += "; FAILED: " + ", ".join(failed) if failed else "; all passed"
    return line


# --------------------------------------------------------------------------- helpers for checks
def scaled_chains(base: int, scale: float) -> int:
    """`base` chains times `scale`, at least 64."""
    return max(int(round(base * scale)), 64)


def sim(key, model, regime, generations: int, chains: int, metrics: tuple[str, ...], *, path: str = "exact",
        record_paths: bool = False) -> Trajectory:
    """`simulate` without quantiles (the checks need means, standard errors and per-chain paths)."""
    return simulate(key, model, regime, generations, chains, metrics=metrics, path=path, quantiles=(),
                    record_paths=record_paths)


def theory_at(fn, ts, *args, **kwargs) -> np.ndarray:
    """`fn(ts, *args, **kwargs)` as a float64 numpy array."""
    return np.asarray(fn(jnp.asarray(ts), *args, **kwargs), dtype=np.float64)


def means(check: str, traj: Trajectory, metric: str, ts: Sequence[int], theory, quantity: str | None = None,
          ) -> list[Comparison]:
    """z comparisons of the cross-chain mean of `metric` at generations `ts`."""
    mean = np.asarray(traj.mean(metric), np.float64)
    se = np.asarray(traj.stderr(metric), np.float64)
    theory = np.broadcast_to(np.asarray(theory, np.float64), (len(ts),))
    return [compare_z(check, quantity or metric, t, theory[i], mean[t], se[t]) for i, t in enumerate(ts)]


def path_means(check: str, quantity: str, values: np.ndarray, ts: Sequence[int], theory) -> list[Comparison]:
    """z comparisons of the mean over chains of per-chain `values[t]` (shape (G + 1, chains))."""
    theory = np.broadcast_to(np.asarray(theory, np.float64), (len(ts),))
    out = []
    for i, t in enumerate(ts):
        x = np.asarray(values[t], np.float64)
        out.append(compare_z(check, quantity, t, theory[i], x.mean(), x.std() / math.sqrt(x.size)))
    return out


def path_vars(check: str, quantity: str, values: np.ndarray, ts: Sequence[int], theory) -> list[Comparison]:
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


def paths(traj: Trajectory, metric: str) -> np.ndarray:
    """The recorded per-chain values of `metric`, shape (G + 1, chains), float64."""
    if not traj.paths:
        raise ValueError("the trajectory has no recorded paths: simulate with record_paths=True")
    return np.asarray(traj.paths[metric], np.float64)


def keys(key, k: int) -> list[jax.Array]:
    """`k` independent keys folded from `key`."""
    return [jax.random.fold_in(key, i) for i in range(k)]
