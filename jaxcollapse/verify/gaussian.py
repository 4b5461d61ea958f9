r"""Checks of the Gaussian family against `jaxcollapse.theory.gaussian`.

Rules as in `jaxcollapse.verify`. Configurations are shared between checks so that each compiles once
per run of the suite; the keys differ, so the checks' simulations are independent.
"""

from __future__ import annotations

import math

import numpy as np

from .. import regimes
from ..engine import Trajectory
from ..families import Gaussian
from ..theory import gaussian as th
from ._core import (
    compare_gap,
    keys,
    means,
    path_means,
    path_vars,
    paths,
    register,
    scaled_chains,
    sim,
    theory_at,
)

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
    return sim(key, model, regimes.replace(_A_N, temperature=temperature), _A_G, scaled_chains(100_000, scale),
                _A_METRICS, record_paths=True)


# B: 1-D unbiased, replace, n = 20, 10 generations: E sigma_10^4 = (21/19)^10 ~ 2.7 (moderate tails).
_B_N, _B_G = 20, 10
_B_TS = (1, 3, 10)
_B_METRICS = ("mean_sq_err", "trace", "sigma", "w2sq")


def _sim_b(key, scale) -> Trajectory:
    return sim(key, Gaussian(0.0, 1.0, "unbiased"), regimes.replace(_B_N), _B_G, scaled_chains(100_000, scale),
                _B_METRICS, record_paths=True)


# M: MLE with real or accumulated data, 30-40 generations, truth N(0.5, 1.5).
_M_MU, _M_S2 = 0.5, 1.5
_M_METRICS = ("mean_sq_err", "trace", "conserved")


def _sim_accumulate(key, scale, *, path="exact") -> Trajectory:
    g, chains = (40, 100_000) if path == "exact" else (20, 50_000)
    return sim(key, Gaussian(_M_MU, _M_S2, "mle"), regimes.accumulate(5), g, scaled_chains(chains, scale), _M_METRICS,
                path=path)


def _sim_fresh(key, scale) -> Trajectory:
    return sim(key, Gaussian(_M_MU, _M_S2, "mle"), regimes.fresh(10, 40), 30, scaled_chains(100_000, scale),
                _M_METRICS)


def _sim_augment(key, scale) -> Trajectory:
    return sim(key, Gaussian(_M_MU, _M_S2, "mle"), regimes.augment(10, 1.0), 30, scaled_chains(100_000, scale),
                _M_METRICS)


# S: the sample path, MLE replace, n = 20, 10 generations.
_S_N, _S_G = 20, 10
_S_TS = (1, 5, 10)


def _sim_samples(key, scale, *, temperature=1.0) -> Trajectory:
    return sim(key, Gaussian(0.0, 1.0, "mle"), regimes.replace(_S_N, temperature=temperature), _S_G,
                scaled_chains(50_000, scale), ("mean_sq_err", "trace"), path="samples")


_SHUMAILOV = "Shumailov et al. 2024 (Nature)"


# --------------------------------------------------------------------------- checks: MLE, replace
@register("gaussian.mle_variance", family="gaussian", source=_SHUMAILOV,
          description="MLE replace: E sigma_t^2 = sigma^2 (1 - 1/n)^t")
def _mle_variance(key, scale):
    traj = _sim_a(key, scale)
    name = "gaussian.mle_variance"
    return means(name, traj, "trace", _A_TS, theory_at(th.mle_variance, _A_TS, _A_N, _A_S2))


@register("gaussian.mle_mean_sq_err", family="gaussian", source=_SHUMAILOV,
          description="MLE replace: E (mu_t - mu)^2 = sigma^2 [1 - (1 - 1/n)^t]")
def _mle_mean_sq_err(key, scale):
    traj = _sim_a(key, scale)
    name = "gaussian.mle_mean_sq_err"
    return means(name, traj, "mean_sq_err", _A_TS, theory_at(th.mle_mean_sq_err, _A_TS, _A_N, _A_S2))


@register("gaussian.mle_log_variance", family="gaussian", source=_SHUMAILOV + "; Suresh et al. 2024",
          description="MLE replace: E ln(sigma_t^2/sigma^2) = t[psi((n-1)/2) + ln(2/n)], Var = t psi'((n-1)/2)")
def _mle_log_variance(key, scale):
    traj = _sim_a(key, scale)
    name = "gaussian.mle_log_variance"
    logv = paths(traj, "log_det_ratio")
    return (path_means(name, "E ln var ratio", logv, _A_TS, theory_at(th.log_variance_mean, _A_TS, _A_N, "mle"))
            + path_vars(name, "Var ln var", logv, _A_TS, theory_at(th.log_variance_var, _A_TS, _A_N)))


@register("gaussian.mle_sigma", family="gaussian", source=_SHUMAILOV,
          description="MLE replace: E sigma_t = sigma c^t, c = E sqrt(chi2_{n-1}/n)")
def _mle_sigma(key, scale):
    traj = _sim_a(key, scale)
    name = "gaussian.mle_sigma"
    return means(name, traj, "sigma", _A_TS, theory_at(th.sigma_mean, _A_TS, _A_N, math.sqrt(_A_S2), "mle"))


@register("gaussian.mle_w2sq", family="gaussian", source="derived here (conservation + E sigma_t)",
          description="MLE replace: E W2^2 = 2 sigma^2 (1 - c^t)")
def _mle_w2sq(key, scale):
    traj = _sim_a(key, scale)
    name = "gaussian.mle_w2sq"
    return means(name, traj, "w2sq", _A_TS, theory_at(th.w2sq_mean, _A_TS, _A_N, _A_S2, "mle"))


@register("gaussian.temperature", family="gaussian", source="derived here",
          description="MLE replace at temperature tau: E sigma_t^2 = sigma^2 (tau^2 (1 - 1/n))^t; constant at "
                      "tau_c = 1/sqrt(1 - 1/n)")
def _temperature(key, scale):
    name = "gaussian.temperature"
    tau_c = float(th.critical_temperature(_A_N))
    out = []
    for k, tau in zip(keys(key, 3), (0.95, tau_c, 1.05), strict=True):
        traj = _sim_a(k, scale, temperature=tau)
        label = "crit" if tau == tau_c else f"{tau:g}"
        out += means(name, traj, "trace", _A_TS, theory_at(th.mle_variance_tempered, _A_TS, _A_N, tau, _A_S2),
                      quantity=f"trace tau={label}")
        out += means(name, traj, "mean_sq_err", _A_TS[1:],
                      theory_at(th.mle_mean_sq_err_tempered, _A_TS[1:], _A_N, tau, _A_S2),
                      quantity=f"mean_sq_err tau={label}")
    return out


# --------------------------------------------------------------------------- checks: unbiased
@register("gaussian.unbiased_martingale", family="gaussian", source=_SHUMAILOV,
          description="unbiased replace: E sigma_t^2 = sigma^2 (martingale); E sigma_t^4 = sigma^4 ((n+1)/(n-1))^t")
def _unbiased_martingale(key, scale):
    name = "gaussian.unbiased_martingale"
    traj = _sim_b(key, scale)
    out = means(name, traj, "trace", _B_TS, theory_at(th.unbiased_variance, _B_TS, 1.0))
    # sigma_t^4 has E sigma^8 = [(n+1)(n+3)(n+5)/(n-1)^3]^t: keep t small so its standard error is trustworthy.
    ts4 = (1, 2, 4)
    v = paths(traj, "trace")
    out += path_means(name, "E sigma^4", v * v, ts4, theory_at(th.unbiased_variance_fourth_moment, ts4, _B_N, 1.0))
    return out


@register("gaussian.unbiased_replace", family="gaussian", source=_SHUMAILOV,
          description="unbiased replace: E (mu_t - mu)^2 = t sigma^2/n, E sigma_t = sigma c^t, "
                      "E W2^2 = sigma^2 t/n + 2 sigma^2 (1 - c^t)")
def _unbiased_replace(key, scale):
    name = "gaussian.unbiased_replace"
    traj = _sim_b(key, scale)
    ns = np.full(_B_G, float(_B_N))
    mse = np.asarray(th.unbiased_mean_sq_err(ns, 1.0))[np.asarray(_B_TS) - 1]
    return (means(name, traj, "mean_sq_err", _B_TS, mse)
            + means(name, traj, "sigma", _B_TS, theory_at(th.sigma_mean, _B_TS, _B_N, 1.0, "unbiased"))
            + means(name, traj, "w2sq", _B_TS, theory_at(th.w2sq_mean, _B_TS, _B_N, 1.0, "unbiased")))


@register("gaussian.unbiased_log_variance", family="gaussian", source=_SHUMAILOV,
          description="unbiased replace, t >> n (n = 5, t <= 60): E ln sigma_t^2 = t[psi((n-1)/2) + ln(2/(n-1))], "
                      "Var = t psi'((n-1)/2); sigma_t -> 0 although E sigma_t^2 = sigma^2")
def _unbiased_log_variance(key, scale):
    name = "gaussian.unbiased_log_variance"
    n, ts = 5, (5, 20, 60)
    traj = sim(key, Gaussian(0.0, 1.0, "unbiased"), regimes.replace(n), 60, scaled_chains(50_000, scale),
                ("log_det_ratio",), record_paths=True)
    logv = paths(traj, "log_det_ratio")
    out = path_means(name, "E ln var ratio", logv, ts, theory_at(th.log_variance_mean, ts, n, "unbiased"))
    out += path_vars(name, "Var ln var", logv, ts, theory_at(th.log_variance_var, ts, n))
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
    traj = sim(key, Gaussian(0.0, 1.0, "unbiased"), regimes.replace(regimes.power(4, 2)), g,
                scaled_chains(100_000, scale), _B_METRICS)
    return (means(name, traj, "mean_sq_err", ts, np.asarray(th.unbiased_mean_sq_err(ns))[idx])
            + means(name, traj, "trace", ts, np.asarray(th.variance_schedule(ns, 1.0, "unbiased"))[idx])
            + means(name, traj, "w2sq", ts, np.asarray(th.w2sq_mean_schedule(ns, 1.0, "unbiased"))[idx])
            + means(name, traj, "sigma", ts, np.asarray(th.sigma_mean_schedule(ns, 1.0, "unbiased"))[idx]))


@register("gaussian.mle_schedule", family="gaussian", source=_SHUMAILOV + "; derived here (conservation)",
          description="MLE replace, n_i = 4 i^2: E sigma_t^2 = sigma^2 prod (1 - 1/n_i), E (mu_t - mu)^2 = sigma^2 - "
                      "E sigma_t^2, E sigma_t = sigma prod c_i, E W2^2")
def _mle_schedule(key, scale):
    name = "gaussian.mle_schedule"
    g, ts = 30, (1, 3, 10, 30)
    i = np.arange(1, g + 1, dtype=np.float64)
    ns = 4.0 * i * i
    idx = np.asarray(ts) - 1
    traj = sim(key, Gaussian(0.0, 1.0, "mle"), regimes.replace(regimes.power(4, 2)), g, scaled_chains(100_000, scale),
               _B_METRICS)
    return (means(name, traj, "mean_sq_err", ts, np.asarray(th.mean_sq_err_schedule(ns, 1.0, "mle"))[idx])
            + means(name, traj, "trace", ts, np.asarray(th.variance_schedule(ns, 1.0, "mle"))[idx])
            + means(name, traj, "sigma", ts, np.asarray(th.sigma_mean_schedule(ns, 1.0, "mle"))[idx])
            + means(name, traj, "w2sq", ts, np.asarray(th.w2sq_mean_schedule(ns, 1.0, "mle"))[idx]))


# --------------------------------------------------------------------------- checks: d dimensions
_D_N, _D_G = 30, 10
_D_TS = (1, 2, 5, 10)
_D_COV = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])


def _sim_d(key, scale) -> Trajectory:
    model = Gaussian(np.array([1.0, -1.0, 0.0]), _D_COV, "mle")
    return sim(key, model, regimes.replace(_D_N), _D_G, scaled_chains(50_000, scale),
                ("mean_sq_err", "trace", "log_det_ratio", "conserved"), record_paths=True)


@register("gaussian.mvn_trace", family="gaussian", source=_SHUMAILOV + "; derived here",
          description="d = 3 MLE replace: E tr Sigma_t = (1 - 1/n)^t tr Sigma, E||mu_t - mu||^2 = tr Sigma "
                      "[1 - (1-1/n)^t], E[||mu_t - mu||^2 + tr Sigma_t] = tr Sigma")
def _mvn_trace(key, scale):
    name = "gaussian.mvn_trace"
    traj = _sim_d(key, scale)
    tr = float(np.trace(_D_COV))
    return (means(name, traj, "trace", _D_TS, theory_at(th.trace_mean, _D_TS, _D_N, tr))
            + means(name, traj, "mean_sq_err", _D_TS, theory_at(th.mle_mean_sq_err, _D_TS, _D_N, tr))
            + means(name, traj, "conserved", _D_TS, th.conserved_mean(tr)))


@register("gaussian.mvn_det", family="gaussian", source="derived here (Bartlett decomposition)",
          description="d = 3 MLE replace: E det ratio = [prod_k (1 - k/n)]^t; E ln det ratio = t[sum_k psi((n-k)/2) "
                      "+ d ln 2 - d ln n]; Var ln det ratio = t sum_k psi'((n-k)/2)")
def _mvn_det(key, scale):
    name = "gaussian.mvn_det"
    d = _D_COV.shape[0]
    traj = _sim_d(key, scale)
    logdet = paths(traj, "log_det_ratio")
    ts_det = (1, 2, 5)  # Var ln det grows by ~0.22 per generation: keep the det ratio's tails moderate
    return (path_means(name, "E det ratio", np.exp(logdet), ts_det, theory_at(th.det_ratio_mean, ts_det, _D_N, d))
            + path_means(name, "E ln det ratio", logdet, _D_TS, theory_at(th.log_det_ratio_mean, _D_TS, _D_N, d))
            + path_vars(name, "Var ln det", logdet, _D_TS, theory_at(th.log_det_ratio_var, _D_TS, _D_N, d)))


# --------------------------------------------------------------------------- checks: conservation
@register("gaussian.conservation", family="gaussian", source="derived here",
          description="MLE: E[(mu_t - mu)^2 + sigma_t^2] = sigma^2 under replace, accumulate, fresh and augment")
def _conservation(key, scale):
    name = "gaussian.conservation"
    k = keys(key, 4)
    out = means(name, _sim_a(k[0], scale), "conserved", _A_TS, th.conserved_mean(_A_S2), quantity="replace")
    ts = (1, 10, 30)
    out += means(name, _sim_accumulate(k[1], scale), "conserved", ts + (40,), th.conserved_mean(_M_S2),
                  quantity="accumulate")
    out += means(name, _sim_fresh(k[2], scale), "conserved", ts, th.conserved_mean(_M_S2), quantity="fresh")
    out += means(name, _sim_augment(k[3], scale), "conserved", ts, th.conserved_mean(_M_S2), quantity="augment")
    return out


# --------------------------------------------------------------------------- checks: accumulate
@register("gaussian.accumulate_known_variance", family="gaussian",
          source="Dey and Donoho 2024; Gerstgrasser et al. 2024",
          description="mean only, accumulate: n E(mu_t - mu)^2 / sigma^2 = sum_{j<=t} 1/j^2 -> pi^2/6")
def _accumulate_known_variance(key, scale):
    name = "gaussian.accumulate_known_variance"
    n, g, ts = 10, 100, (1, 10, 100)
    traj = sim(key, Gaussian(0.0, 1.0, "mean"), regimes.accumulate(n), g, scaled_chains(200_000, scale),
                ("mean_sq_err",))
    out = means(name, traj, "mean_sq_err", ts, theory_at(th.accumulate_mean_sq_err_known_var, ts, n, 1.0))
    # The limit pi^2/6 sigma^2/n is not simulated: the simulation at t = 100 is z-compared above with the exact
    # partial sum, and the limit's gap to it is checked here, exactly: pi^2/6 - sum_{j<=t} 1/j^2 = sum_{j>t} 1/j^2
    # < int_t^inf dx/x^2 = 1/t, so the relative gap is below 1/t / sum_{j<=t} 1/j^2 <= 1/t.
    exact = float(th.accumulate_mean_sq_err_known_var(g, n, 1.0))
    out.append(compare_gap(name, "limit pi^2/6 s^2/n vs exact", g, exact, math.pi**2 / 6.0 / n, 1.0 / g,
                           reason="sum_{j>t} 1/j^2 < 1/t (integral bound)"))
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
    out = (means(name, traj, "mean_sq_err", ts, e)
           + means(name, traj, "trace", ts, theory_at(th.accumulate_mle_variance, ts, n, _M_S2)))
    # The t -> infinity limit sigma^2 [1 - sin(pi/sqrt n)/(pi/sqrt n)] against the exact e_40, without randomness:
    # e_t = sigma^2 (1 - P_t), P_t = prod_{j<=t}(1 - x/j^2), x = 1/n, so the relative gap (P_t - P_inf)/(1 - P_t) =
    # P_t [1 - prod_{j>t}(1 - x/j^2)]/(1 - P_t) <= P_t (x/t)/(1 - P_t) (Weierstrass, then sum_{j>t} 1/j^2 < 1/t).
    g = ts[-1]
    p_t = float(np.prod(1.0 - 1.0 / (n * np.arange(1, g + 1) ** 2)))
    out.append(compare_gap(name, "limit vs exact e_t", g, float(e[-1]),
                           float(th.accumulate_mle_mean_sq_err_limit(n, _M_S2)), p_t / (n * g) / (1.0 - p_t),
                           reason="1 - prod_{j>t}(1 - x/j^2) < x/t"))
    return out


@register("gaussian.samples_accumulate", family="gaussian", source="derived here",
          description="sample path, MLE accumulate (n = 5): the recursion and conservation law")
def _samples_accumulate(key, scale):
    name = "gaussian.samples_accumulate"
    n, ts = 5, (1, 5, 20)
    traj = _sim_accumulate(key, scale, path="samples")
    return (means(name, traj, "mean_sq_err", ts, theory_at(th.accumulate_mle_mean_sq_err, ts, n, _M_S2))
            + means(name, traj, "conserved", ts, th.conserved_mean(_M_S2)))


# --------------------------------------------------------------------------- checks: real data
@register("gaussian.fresh_mle", family="gaussian", source="derived here; Alemohammad et al. 2024",
          description="MLE, n_r = 10 fresh real + n_s = 40 synthetic: e_t = [N sigma^2 + n_s(n_s - 1) e_{t-1}]/N^2, "
                      "E sigma_t^2 = sigma^2 - e_t")
def _fresh_mle(key, scale):
    name = "gaussian.fresh_mle"
    ts = (1, 3, 10, 30)
    traj = _sim_fresh(key, scale)
    e = theory_at(th.fresh_mle_mean_sq_err, ts, 10, 40, _M_S2)
    out = means(name, traj, "mean_sq_err", ts, e) + means(name, traj, "trace", ts, _M_S2 - e)
    # The limit against the exact e_30, without randomness: e_t - e_inf = a (e_{t-1} - e_inf), a = n_s(n_s - 1)/N^2,
    # e_0 = 0, so e_t = e_inf (1 - a^t) and the relative gap is a^t/(1 - a^t) = 7.2e-7 here; bound 1e-6.
    limit = float(th.fresh_mle_mean_sq_err_limit(10, 40, _M_S2))
    out.append(compare_gap(name, "limit vs exact e_t", ts[-1], e[-1], limit, 1e-6,
                           reason="e_t = e_inf (1 - a^t): gap a^t/(1 - a^t), a = n_s(n_s-1)/N^2 = 0.624"))
    return out


@register("gaussian.augment", family="gaussian", source="Bertrand et al. 2024; derived here",
          description="MLE, one fixed real set of n_r = 10 plus lambda n_r = 10 synthetic samples per generation")
def _augment(key, scale):
    name = "gaussian.augment"
    ts = (1, 3, 10, 30)
    traj = _sim_augment(key, scale)
    e = theory_at(th.augment_mean_sq_err, ts, 10, 1.0, _M_S2, "mle")
    return (means(name, traj, "mean_sq_err", ts, e)
            + means(name, traj, "trace", ts, _M_S2 - e))


@register("gaussian.weighted", family="gaussian", source="derived here",
          description="weighted MLE, real weight w = 0.2 on a fixed real set (n_r = 20, n_s = 40): mixed-data "
                      "recursion and conservation")
def _weighted(key, scale):
    name = "gaussian.weighted"
    w, nr, ns, ts = 0.2, 20, 40, (1, 3, 10, 30)
    traj = sim(key, Gaussian(_M_MU, _M_S2, "mle"), regimes.weighted(nr, ns, w, real="fixed"), 30,
                scaled_chains(100_000, scale), _M_METRICS)
    e = theory_at(th.mixed_mean_sq_err, ts, nr, ns, 1.0 - w, _M_S2, real="fixed", estimator="mle")
    return (means(name, traj, "mean_sq_err", ts, e)
            + means(name, traj, "conserved", ts, th.conserved_mean(_M_S2)))


# --------------------------------------------------------------------------- checks: drift
@register("gaussian.drift", family="gaussian", source="derived here",
          description="mean only, truth moving v per generation: replace E(mu_t - mu*_t)^2 = v^2 t^2 + t sigma^2/n; "
                      "fresh (n_r = 10, n_s = 30): lag v n_s/n_r plus an AR(1) variance")
def _drift(key, scale):
    name = "gaussian.drift"
    n, g, ts = 10, 40, (1, 10, 40)
    k = keys(key, 3)
    out = []
    for kk, v in zip(k[:2], (0.0, 0.05), strict=True):
        traj = sim(kk, Gaussian(0.0, 1.0, "mean"), regimes.replace(n, drift=v), g, scaled_chains(100_000, scale),
                    ("mean_sq_err",))
        out += means(name, traj, "mean_sq_err", ts, theory_at(th.drift_mean_sq_err, ts, n, v, 1.0),
                      quantity=f"replace v={v:g}")
    v = 0.05
    traj = sim(k[2], Gaussian(0.0, 1.0, "mean"), regimes.fresh(10, 30, drift=v), g, scaled_chains(100_000, scale),
                ("mean_sq_err",))
    out += means(name, traj, "mean_sq_err", ts, theory_at(th.fresh_drift_mean_sq_err, ts, 10, 30, v, 1.0),
                  quantity=f"fresh v={v:g}")
    return out


@register("gaussian.fresh_drift_lag", family="gaussian", source="derived here",
          description="mean only, fresh real data (n_r = 10, n_s = 30), truth moving v = 0.05 or -0.2 per generation: "
                      "the signed lag E(mu_t - mu*_t) = -v (n_s/n_r)(1 - a^t), a = n_s/(n_r + n_s)")
def _fresh_drift_lag(key, scale):
    name = "gaussian.fresh_drift_lag"
    nr, ns, g, ts = 10, 30, 40, (1, 3, 10, 40)
    out = []
    for kk, v in zip(keys(key, 2), (0.05, -0.2), strict=True):
        traj = sim(kk, Gaussian(0.0, 1.0, "mean"), regimes.fresh(nr, ns, drift=v), g, scaled_chains(100_000, scale),
                    ("mean_error",))
        out += means(name, traj, "mean_error", ts, theory_at(th.fresh_drift_mean_error, ts, nr, ns, v),
                      quantity=f"lag v={v:g}")
    return out


# --------------------------------------------------------------------------- checks: the sample path
@register("gaussian.samples_replace", family="gaussian", source=_SHUMAILOV + "; derived here",
          description="sample path, MLE replace (n = 20) at tau = 1 and tau = 1.05: E sigma_t^2 and E(mu_t - mu)^2")
def _samples_replace(key, scale):
    name = "gaussian.samples_replace"
    out = []
    for k, tau in zip(keys(key, 2), (1.0, 1.05), strict=True):
        traj = _sim_samples(k, scale, temperature=tau)
        if tau == 1.0:
            var, mse = theory_at(th.mle_variance, _S_TS, _S_N, 1.0), theory_at(th.mle_mean_sq_err, _S_TS, _S_N, 1.0)
        else:
            var = theory_at(th.mle_variance_tempered, _S_TS, _S_N, tau, 1.0)
            mse = theory_at(th.mle_mean_sq_err_tempered, _S_TS, _S_N, tau, 1.0)
        out += means(name, traj, "trace", _S_TS, var, quantity=f"trace tau={tau:g}")
        out += means(name, traj, "mean_sq_err", _S_TS, mse, quantity=f"mean_sq_err tau={tau:g}")
    return out


# The other regimes on the sample path (draws, then a fit on the drawn samples): 10 generations, the closed forms of
# the exact-statistics checks above. MLE unless said otherwise, truth N(0.5, 1.5).
_P_G, _P_TS = 10, (1, 3, 10)


def _sim_path(key, scale, model, regime, metrics=_M_METRICS) -> Trajectory:
    return sim(key, model, regime, _P_G, scaled_chains(50_000, scale), metrics, path="samples")


@register("gaussian.samples_fresh", family="gaussian", source="derived here; Alemohammad et al. 2024",
          description="sample path, MLE, n_r = 10 fresh real + n_s = 40 synthetic: e_t = [N sigma^2 + n_s(n_s - 1) "
                      "e_{t-1}]/N^2, E sigma_t^2 = sigma^2 - e_t")
def _samples_fresh(key, scale):
    name = "gaussian.samples_fresh"
    traj = _sim_path(key, scale, Gaussian(_M_MU, _M_S2, "mle"), regimes.fresh(10, 40))
    e = theory_at(th.fresh_mle_mean_sq_err, _P_TS, 10, 40, _M_S2)
    return means(name, traj, "mean_sq_err", _P_TS, e) + means(name, traj, "trace", _P_TS, _M_S2 - e)


@register("gaussian.samples_augment", family="gaussian", source="Bertrand et al. 2024; derived here",
          description="sample path, MLE, one fixed real set of n_r = 10 plus lambda n_r = 10 synthetic samples")
def _samples_augment(key, scale):
    name = "gaussian.samples_augment"
    traj = _sim_path(key, scale, Gaussian(_M_MU, _M_S2, "mle"), regimes.augment(10, 1.0))
    e = theory_at(th.augment_mean_sq_err, _P_TS, 10, 1.0, _M_S2, "mle")
    return means(name, traj, "mean_sq_err", _P_TS, e) + means(name, traj, "trace", _P_TS, _M_S2 - e)


@register("gaussian.samples_weighted", family="gaussian", source="derived here",
          description="sample path, weighted MLE, real weight w = 0.2 on a fixed real set (n_r = 20, n_s = 40): "
                      "mixed-data recursion and conservation")
def _samples_weighted(key, scale):
    name = "gaussian.samples_weighted"
    w = 0.2
    traj = _sim_path(key, scale, Gaussian(_M_MU, _M_S2, "mle"), regimes.weighted(20, 40, w, real="fixed"))
    e = theory_at(th.mixed_mean_sq_err, _P_TS, 20, 40, 1.0 - w, _M_S2, real="fixed", estimator="mle")
    return means(name, traj, "mean_sq_err", _P_TS, e) + means(name, traj, "conserved", _P_TS, th.conserved_mean(_M_S2))


@register("gaussian.samples_drift", family="gaussian", source="derived here",
          description="sample path, mean only, truth moving v = 0.1 per generation: replace (n = 10) "
                      "E(mu_t - mu*_t)^2 = v^2 t^2 + t sigma^2/n; fresh (n_r = 10, n_s = 30)")
def _samples_drift(key, scale):
    name = "gaussian.samples_drift"
    v = 0.1
    k1, k2 = keys(key, 2)
    traj = _sim_path(k1, scale, Gaussian(0.0, 1.0, "mean"), regimes.replace(10, drift=v), ("mean_sq_err",))
    out = means(name, traj, "mean_sq_err", _P_TS, theory_at(th.drift_mean_sq_err, _P_TS, 10, v, 1.0),
                quantity=f"replace v={v:g}")
    traj = _sim_path(k2, scale, Gaussian(0.0, 1.0, "mean"), regimes.fresh(10, 30, drift=v), ("mean_sq_err",))
    out += means(name, traj, "mean_sq_err", _P_TS, theory_at(th.fresh_drift_mean_sq_err, _P_TS, 10, 30, v, 1.0),
                 quantity=f"fresh v={v:g}")
    return out
