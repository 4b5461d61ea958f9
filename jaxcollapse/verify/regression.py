r"""Registered checks of the regression family against `jaxcollapse.theory.regression`.

All in float64, rule $|z| <$ `verify.Z_BOUND` for exact results (a Monte Carlo mean over chains with
its standard error). The two asymptotic statements (the $\pi^2/6$ bound of accumulate, the
Marchenko–Pastur ridge formula) are not compared with a simulation: the simulation is z-compared with
the exact finite value, and the formula's gap to that value is checked deterministically (`compare_gap`).

Tails: the excess risk of an OLS fit on $T$ rows is $\sigma^2\mathrm{tr}(\Sigma G^{-1})$-like, with
finite variance iff $T > d + 3$; the configurations here use $T - d - 1 \ge 14$, so the means are
well behaved and their standard errors honest. Configurations are shared so that each compiles once.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import regimes
from ..families.regression import Regression, downstream_risk
from ..theory import regression as th
from . import _core as V

FAMILY = "regression"
GS = "Gerstgrasser et al. 2024 (linear regression)"
DFK = "Dohmatob, Feng and Kempe 2024, Thm 4.1"

# The base configuration: d = 5, T = 20 rows per generation, sigma = 1, 10 generations; w* = (1, ..., 1)
# and a non-isotropic Sigma (the OLS formulas hold for any Sigma).
D, T, G, NOISE = 5, 20, 10, 1.0
TS = (1, 2, 5, 10)
METRICS = ("excess_risk", "w_norm")
SIGMA = np.diag(np.linspace(0.5, 2.0, D)) + 0.2 * (np.ones((D, D)) - np.eye(D)) * 0.5


def _model(design: str, *, d: int = D, noise: float = NOISE, ridge: float = 0.0, isotropic: bool = False,
           w_scale: float = 1.0) -> Regression:
    cov = 1.0 if isotropic else SIGMA
    return Regression(w_scale * np.ones(d), cov, noise, ridge=ridge, design=design)


def _run(key, design: str, regime, scale: float, *, path: str = "exact", record_paths: bool = False,
         base_chains: int = 40_000):
    return V.sim(key, _model(design), regime, G, V.scaled_chains(base_chains, scale), METRICS, path=path,
                  record_paths=record_paths)


LONG_G, LONG_TS = 200, (50, 100, 200)


def _theory_at(fn, ts, *args):
    return np.asarray(fn(np.asarray(ts), *args), np.float64)


def _ts_theory(fn, *args):
    return np.asarray(fn(np.asarray(TS), *args), np.float64)


@V.register("regression.replace_fixed", family=FAMILY, source=GS,
            description="replace, fixed design: E||w_n - w*||^2_Sigma = n sigma^2 d/(T-d-1) (linear growth)")
def _replace_fixed(key, scale):
    traj = _run(key, "fixed", regimes.replace(T), scale)
    return V.means("regression.replace_fixed", traj, "excess_risk", TS, _ts_theory(th.replace_risk, T, D, NOISE))


@V.register("regression.accumulate_fixed", family=FAMILY, source=GS + "; Dey and Donoho 2024",
            description="accumulate, fixed design: sigma^2 d/(T-d-1) sum_{i<=n} 1/i^2 <= (pi^2/6) x first error; "
                        "the bound against a 200-generation simulation")
def _accumulate_fixed(key, scale):
    name = "regression.accumulate_fixed"
    # One 200-generation simulation: the partial sums at t = 1..10, then the pi^2/6 pathway on a long horizon: the
    # error has stopped growing (the same at 50, 100 and 200 within the partial sums), z-compared with the exact
    # partial sums; the bound's gap to the exact value at t = 200 is exact: (pi^2/6 - H_n)/H_n < 1/n,
    # H_n = sum_{i<=n} 1/i^2 >= 1.
    traj = V.sim(key, _model("fixed"), regimes.accumulate(T), LONG_G, V.scaled_chains(40_000, scale), ("excess_risk",))
    ts = TS + LONG_TS
    out = V.means(name, traj, "excess_risk", ts, _theory_at(th.accumulate_fixed_risk, ts, T, D, NOISE))
    exact = float(th.accumulate_fixed_risk(LONG_G, T, D, NOISE))
    out.append(V.compare_gap(name, "pi^2/6 bound vs exact", LONG_G, exact, float(th.accumulate_bound(T, D, NOISE)),
                             1.0 / LONG_G, reason="sum_{i>n} 1/i^2 < 1/n (integral bound)"))
    return out


@V.register("regression.replace_fresh", family=FAMILY, source=DFK,
            description="replace, fresh design each generation: n sigma^2 d/(T-d-1)")
def _replace_fresh(key, scale):
    traj = _run(key, "fresh", regimes.replace(T), scale)
    return V.means("regression.replace_fresh", traj, "excess_risk", TS, _ts_theory(th.replace_risk, T, D, NOISE))


@V.register("regression.accumulate_fresh", family=FAMILY, source="derived here (exchangeable Wishart); cf. " + GS,
            description="accumulate, fresh design: sigma^2 sum_{t<=n} d/(t (tT-d-1))")
def _accumulate_fresh(key, scale):
    traj = _run(key, "fresh", regimes.accumulate(T), scale)
    return V.means("regression.accumulate_fresh", traj, "excess_risk", TS,
                    _ts_theory(th.accumulate_fresh_risk, T, D, NOISE))


@V.register("regression.fixed_design_real", family=FAMILY, source="derived here; cf. Gerstgrasser et al. 2024, "
            "Kazdan et al. 2024", description="fixed design with real labels: augment (lambda = 1, fixed real set) "
            "and fresh real labels, pooled (w = 1/2)")
def _fixed_design_real(key, scale):
    k1, k2 = V.keys(key, 2)
    name = "regression.fixed_design_real"
    aug = _run(k1, "fixed", regimes.augment(T, 1.0), scale)
    fresh = _run(k2, "fixed", regimes.fresh(T, T), scale)
    out = V.means(name, aug, "excess_risk", TS,
                   np.asarray(th.fixed_design_mixed_risk(np.asarray(TS), T, D, 0.5, NOISE, real="fixed")),
                   quantity="excess_risk/augment")
    out += V.means(name, fresh, "excess_risk", TS,
                    np.asarray(th.fixed_design_mixed_risk(np.asarray(TS), T, D, 0.5, NOISE, real="fresh")),
                    quantity="excess_risk/fresh_real")
    return out


@V.register("regression.samples_path", family=FAMILY, source="Wishart / Bartlett; " + GS,
            description="the sample path (draw X and y, solve) against theory and against the exact path in "
                        "distribution (two-sample z of means of the log risk and of ||w||)")
def _samples_path(key, scale):
    k1, k2 = V.keys(key, 2)
    name = "regression.samples_path"
    reg = regimes.accumulate(T)
    smp = _run(k1, "fixed", reg, scale, path="samples", record_paths=True)
    exa = _run(k2, "fixed", reg, scale, record_paths=True)
    out = V.means(name, smp, "excess_risk", TS, _ts_theory(th.accumulate_fixed_risk, T, D, NOISE))
    for metric, f in (("excess_risk", np.log), ("w_norm", lambda x: x)):
        q = "log excess_risk" if metric == "excess_risk" else metric
        for t in (1, G):
            a, b = f(V.paths(smp, metric)[t]), f(V.paths(exa, metric)[t])  # > 0 for t >= 1
            diff = a.mean() - b.mean()
            se = math.sqrt(a.var() / a.size + b.var() / b.size)
            out.append(V.compare_z(name, f"{q}: samples - exact", t, 0.0, diff, se))
    return out


@V.register("regression.downstream_ols", family=FAMILY, source=DFK,
            description="downstream OLS on T = 30 rows labelled by generation n of a fresh-design chain "
                        "(T0 = 20): sigma^2 d/(T-d-1) + n sigma0^2 d/(T0-d-1)")
def _downstream_ols(key, scale):
    k1, k2, k3 = V.keys(key, 3)
    name = "regression.downstream_ols"
    T_down = 30
    truth = _model("fresh")
    traj = _run(k1, "fresh", regimes.replace(T), scale)
    chains = traj.chains
    start = jax.tree.map(lambda a: jnp.broadcast_to(a, (chains,) + a.shape), truth)
    out = []
    for n, models, k in ((0, start, k2), (G, traj.final, k3)):
        r = np.asarray(downstream_risk(k, models, truth, T_down), np.float64)
        out.append(V.compare_z(name, "downstream excess_risk", n, float(th.downstream_ols_risk(n, T_down, T, D)),
                               r.mean(), r.std() / math.sqrt(r.size)))
    return out


def _sim_wide(key, model, rows: int, scale: float):
    """d = 20, isotropic, fresh design, replace, 5 generations: shared by the ridge and min-norm checks (the
    row count, the noise and w are traced on the exact path, so both reuse one compiled program)."""
    return V.sim(key, model, regimes.replace(rows), 5, V.scaled_chains(20_000, scale), METRICS, record_paths=True)


# Ridge: isotropic, d = 20, chain T0 = 30 rows, 5 generations; downstream ridge on T = 40 rows, lambda = 0.5.
RD, RT0, RT, RG, RLAM, RW2 = 20, 30, 40, 5, 0.5, 4.0
# The finite-d value: the exact finite-d expression of `theory.regression.downstream_ridge_risk_spectral`, averaged
# over RIDGE_SPECTRA independent Wishart spectra drawn here with numpy (a fixed seed, independent of the check's
# key; relative standard error about 0.05%, carried into the z-test). The Marchenko-Pastur formula's gap to it is
# O(1/d): 1.75% at n = 0 and 0.16% at n = 5 (MP below the finite-d value at n = 0), under the stated 2.5%.
RIDGE_SPECTRA, RIDGE_SEED, RIDGE_GAP = 8000, 20240, 0.025


def ridge_spectra(count: int = RIDGE_SPECTRA, seed: int = RIDGE_SEED) -> np.ndarray:
    """`count` spectra of X^T X / T, X a T x d standard normal matrix (T = 40, d = 20), float64 numpy."""
    rng = np.random.default_rng(seed)
    out = []
    for lo in range(0, count, 2000):
        X = rng.standard_normal((min(2000, count - lo), RT, RD))
        out.append(np.linalg.eigvalsh(np.einsum("rti,rtj->rij", X, X) / RT))
    return np.concatenate(out)


@V.register("regression.downstream_ridge", family=FAMILY, source="Dohmatob, Feng and Kempe 2024, Sec. 4 "
            "(ridge counterpart; Marchenko-Pastur limit); finite-d expression derived here",
            description="downstream ridge (lambda = 0.5, T = 40) after n = 0 and 5 OLS generations (T0 = 30), "
                        "isotropic d = 20: z against the finite-d value, and the Marchenko-Pastur formula's gap to it")
def _downstream_ridge(key, scale):
    k1, k2, k3 = V.keys(key, 3)
    name = "regression.downstream_ridge"
    truth = Regression(np.full(RD, math.sqrt(RW2 / RD)), 1.0, 1.0)
    traj = _sim_wide(k1, truth, RT0, scale)
    chains = traj.chains
    start = jax.tree.map(lambda a: jnp.broadcast_to(a, (chains,) + a.shape), truth)
    eigs = ridge_spectra()
    out = []
    for n, models, k in ((0, start, k2), (RG, traj.final, k3)):
        r = np.asarray(downstream_risk(k, models, truth, RT, ridge=RLAM), np.float64)
        f = th.downstream_ridge_risk_spectral(eigs, n, RT, RT0, RD, RLAM, 1.0, 1.0, RW2)
        se = math.sqrt(r.var() / r.size + f.var() / f.size)  # two independent Monte Carlo means
        out.append(V.compare_z(name, "downstream excess_risk (finite d)", n, f.mean(), r.mean(), se))
        mp = float(th.downstream_ridge_risk(n, RT, RT0, RD, RLAM, 1.0, 1.0, RW2))
        out.append(V.compare_gap(name, "Marchenko-Pastur vs finite d", n, f.mean(), mp, RIDGE_GAP,
                                 reason="O(1/d) corrections: 1.75% (n = 0), 0.16% (n = 5) at d = 20"))
    return out


# Over-parameterized, noise-free, min-norm: d = 20, T0 = 10 rows, isotropic, fresh design, 5 generations.
OD, OT0, OG = 20, 10, 5
OTS = (1, 2, 5)


@V.register("regression.minnorm_overparameterized", family=FAMILY,
            source="Dohmatob, Feng and Kempe 2024, Sec. 4 (noise-free, d > T0)",
            description="noise-free min-norm chain, d = 20 > T0 = 10: E||w_n - w*||^2 = ||w*||^2 [1 - (T0/d)^n] "
                        "and E||w_n||^2 = ||w*||^2 (T0/d)^n (exponential collapse)")
def _minnorm(key, scale):
    name = "regression.minnorm_overparameterized"
    model = Regression(np.ones(OD), 1.0, 0.0)
    w2 = float(OD)
    traj = _sim_wide(key, model, OT0, scale)
    out = V.means(name, traj, "excess_risk", OTS, np.asarray(th.minnorm_risk(np.asarray(OTS), OT0, OD, w2)))
    out += V.path_means(name, "w_norm^2", V.paths(traj, "w_norm") ** 2, OTS,
                         np.asarray(th.minnorm_w_norm_sq(np.asarray(OTS), OT0, OD, w2)))
    return out
