r"""Checks of the repair operators (`jaxcollapse.regimes.self_correct`, `jaxcollapse.regimes.extrapolate`) on the
Gaussian family against `jaxcollapse.theory.repair`.

Rules as in `jaxcollapse.verify`: every Monte Carlo mean is compared with the exact finite-$t$ value
($|z| < 4$, a fixed key per check); each stationary formula (a $t \to \infty$ limit) is compared
deterministically with the exact value at a large $t$, against the bound on the transient terms of the exact
solution. The grid of strengths of one configuration is stacked into one `engine.run_points` call (the
strength is traced), so each configuration compiles once.
"""

from __future__ import annotations

import math

import numpy as np

from .. import engine, regimes
from ..families import Gaussian
from ..theory import repair as th
from ._core import compare_gap, compare_z, register, scaled_chains

_ROUNDING = 1e-12  # float64 rounding of the closed forms' few dozen operations, relative

_GILLMAN = ("Gillman et al. 2024 (ICML), the idealized correction pi_gamma = p/(1+gamma) + gamma p*/(1+gamma); "
            "closed forms derived here")
_NEON = "Alemohammad, Wang and Baraniuk 2025 (Neon), theta = (1+w) theta_real - w theta_syn; closed forms derived here"


def _points(key, model, regs, generations: int, chains: int, metrics: tuple[str, ...], path: str = "exact"):
    """Means and standard errors `{metric: ((points, G + 1), (points, G + 1))}` of the stacked regimes `regs`
    (one compile: they differ in traced values only)."""
    specs = engine.stack_specs([engine.make_spec(model, r, generations, path=path) for r in regs])
    res = engine.run_points(key, specs, chains, metrics=metrics, quantiles=(), blocks=engine.default_blocks(chains))
    return {k: (np.asarray(m, np.float64), np.asarray(s, np.float64) / math.sqrt(chains))
            for k, (m, s, _) in res.summary.items()}


def _z(check, quantity, summary, metric, i, ts, theory) -> list:
    mean, se = summary[metric]
    theory = np.broadcast_to(np.asarray(theory, np.float64), (len(ts),))
    return [compare_z(check, quantity, t, theory[j], mean[i, t], se[i, t]) for j, t in enumerate(ts)]


# --------------------------------------------------------------------------- self-correction
# 2-D truth N(0.5, 1.5 I): T = tr Sigma* = 3. n_real = n_synthetic = 10.
_C_D, _C_MU, _C_S2, _C_N = 2, 0.5, 1.5, 10
_C_T = _C_D * _C_S2
_C_GAMMAS = (0.25, 1.0, 4.0)
_C_G, _C_TS = 40, (1, 5, 40)


def _correction_gap(name, gamma, real, estimator, t=200) -> list:
    r"""The stationary error against the exact value at `t`. The exact solution's transients are
    $-B'A^t/(1-A)$ and $-2bCa'(A^t - a'^t)/(A - a')$, at most $(e_\infty + 2bCt)\rho^t$ with
    $\rho = \max(A, a')$ (`correction_mean_sq_err`)."""
    exact = float(th.correction_mean_sq_err(t, _C_N, _C_N, gamma, _C_T, real=real, estimator=estimator))
    limit = float(th.correction_stationary_mean_sq_err(_C_N, _C_N, gamma, _C_T, real=real, estimator=estimator))
    q = 1.0 - float(th.correction_probability(gamma))
    a, b = (1.0, 0.0) if real == "none" else (0.5, 0.5)
    ap, s = a * q, _C_T / _C_N
    big_a = ap * ap * (1 - 1 / _C_N) if estimator == "mle" else a * a * (q * q + (1 - q) * q / _C_N)
    c = b * s / (1.0 - ap) if real == "fixed" else 0.0
    rho = max(big_a, ap)
    bound = (limit + 2.0 * b * c * t) * rho**t / exact + _ROUNDING
    return [compare_gap(name, f"stationary e_inf vs exact, {real}, gamma={gamma:g}", t, exact, limit, bound,
                        reason=f"transients <= (e_inf + 2bCt) rho^t, rho = {rho:.3g}, plus float64 rounding")]


def _correction_config(key, scale, name, real, model, make) -> list:
    """z comparisons of one configuration (`make()`: the regime) at every strength of `_C_GAMMAS`."""
    chains = scaled_chains(100_000, scale)
    est = model.estimator
    metrics = ("mean_sq_err", "trace", "conserved") if est == "mle" else ("mean_sq_err",)
    regs = [regimes.self_correct(make(), g) for g in _C_GAMMAS]
    summ = _points(key, model, regs, _C_G, chains, metrics)
    out = []
    for i, g in enumerate(_C_GAMMAS):
        label = f"{real}, {est}, gamma={g:g}"
        e = th.correction_mean_sq_err(np.asarray(_C_TS), _C_N, _C_N, g, _C_T, real=real, estimator=est)
        out += _z(name, f"mean_sq_err {label}", summ, "mean_sq_err", i, _C_TS, e)
        if est == "mle":
            v = th.correction_trace(np.asarray(_C_TS), _C_N, _C_N, g, _C_T, real=real)
            out += _z(name, f"trace {label}", summ, "trace", i, _C_TS, v)
            out += _z(name, f"conserved {label}", summ, "conserved", i, (_C_G,), _C_T)
    return out


@register("repair.self_correction", family="repair", source=_GILLMAN,
          description="self-correction, 2-D MLE, augment (a fixed real set): E|mu_t - mu|^2, E tr Sigma_t = T - e_t, "
                      "conservation; the stationary error e_inf(gamma)")
def _self_correction(key, scale):
    name = "repair.self_correction"
    model = Gaussian(np.full(_C_D, _C_MU), _C_S2, "mle")
    out = _correction_config(key, scale, name, "fixed", model, lambda: regimes.augment(_C_N, 1.0))
    for g in (0.25, 4.0):
        out += _correction_gap(name, g, "fixed", "mle")
    return out


@register("repair.self_correction_no_real", family="repair", source=_GILLMAN,
          description="self-correction without real data (2-D MLE, replace): the correction alone stops the "
                      "collapse; E|mu_t - mu|^2, E tr Sigma_t, conservation, e_inf(gamma)")
def _self_correction_no_real(key, scale):
    name = "repair.self_correction_no_real"
    model = Gaussian(np.full(_C_D, _C_MU), _C_S2, "mle")
    out = _correction_config(key, scale, name, "none", model, lambda: regimes.replace(_C_N))
    return out + _correction_gap(name, 1.0, "none", "mle")


@register("repair.self_correction_fresh", family="repair", source=_GILLMAN,
          description="self-correction with fresh real data, the covariance known (2-D mean estimator): "
                      "E|mu_t - mu|^2, e_inf(gamma)")
def _self_correction_fresh(key, scale):
    name = "repair.self_correction_fresh"
    model = Gaussian(np.full(_C_D, _C_MU), _C_S2, "mean")
    out = _correction_config(key, scale, name, "fresh", model, lambda: regimes.fresh(_C_N, _C_N))
    return out + _correction_gap(name, 1.0, "fresh", "mean")


@register("repair.self_correction_samples", family="repair", source=_GILLMAN,
          description="self-correction on the sample path (each row a truth draw with probability gamma/(1+gamma)): "
                      "2-D MLE augment, E|mu_t - mu|^2 and E tr Sigma_t")
def _self_correction_samples(key, scale):
    name = "repair.self_correction_samples"
    chains = scaled_chains(40_000, scale)
    model = Gaussian(np.full(_C_D, _C_MU), _C_S2, "mle")
    ts, g, gammas = (1, 5, 15), 15, (0.25, 4.0)
    regs = [regimes.self_correct(regimes.augment(_C_N, 1.0), x) for x in gammas]
    summ = _points(key, model, regs, g, chains, ("mean_sq_err", "trace"), path="samples")
    out = []
    for i, x in enumerate(gammas):
        out += _z(name, f"mean_sq_err samples, gamma={x:g}", summ, "mean_sq_err", i, ts,
                  th.correction_mean_sq_err(np.asarray(ts), _C_N, _C_N, x, _C_T, real="fixed"))
        out += _z(name, f"trace samples, gamma={x:g}", summ, "trace", i, ts,
                  th.correction_trace(np.asarray(ts), _C_N, _C_N, x, _C_T, real="fixed"))
    return out


# --------------------------------------------------------------------------- negative extrapolation
# 1-D MLE, a fixed real set of 100 and 100 synthetic draws at tau = 0.9 (a mode-seeking sampler), truth N(1, 2):
# the 1-D projection onto variance >= 0 acts with probability <= extrapolation_clip_bound per chain and
# generation (1.6e-10 at w = 0.5; the check refuses to run unless chains x G x bound < 0.01), so the linear
# recursions are exact there.
_E_N, _E_MU, _E_S2, _E_TAU = 100, 1.0, 2.0, 0.9
_E_G, _E_TS = 60, (1, 3, 60)
# 2-D, the covariance known (mean estimator), fresh real data: n_real = 10, n_synthetic = 20, tau = 1.
_F_D, _F_NR, _F_NS = 2, 10, 20


def _extrapolation_gap(name, w, real, estimator, n_real, n_syn, trace, tau, t=400) -> list:
    r"""The stationary error against the exact value at `t`. The transients of `extrapolation_mean_sq_err` are
    at most $(3s + kV_\infty/(1 - w^2) + k|T - V_\infty|t/\rho)\rho^t$, $k = w^2\tau^2/n_s$, $\rho = \max(w, |r|)$."""
    kw = dict(tau=tau, real=real, estimator=estimator)
    exact = float(th.extrapolation_mean_sq_err(t, n_real, n_syn, w, trace, **kw))
    limit = float(th.extrapolation_stationary_mean_sq_err(n_real, n_syn, w, trace, **kw))
    s, k = trace / n_real, w * w * tau * tau / n_syn
    if estimator == "mle":
        r = w * tau * tau * (1 - 1 / n_syn)
        v_inf = float(th.extrapolation_stationary_trace(n_real, n_syn, w, trace, tau=tau))
    else:
        r, v_inf = 0.0, trace
    rho = max(w, r)
    bound = (3 * s * (1 + w) ** 2 + k * v_inf / (1 - w * w) + k * abs(trace - v_inf) * t / rho) * rho**t / exact
    return [compare_gap(name, f"stationary e_inf vs exact, {real}, w={w:g}", t, exact, limit, bound + _ROUNDING,
                        reason=f"transients <= C rho^t, rho = {rho:.3g}, plus float64 rounding")]


@register("repair.extrapolation", family="repair", source=_NEON,
          description="negative extrapolation, 1-D MLE at tau = 0.9 with a fixed real set: E|mu_t - mu|^2, "
                      "E sigma_t^2, the weight w* whose stationary variance is the truth's, e_inf(w)")
def _extrapolation(key, scale):
    name = "repair.extrapolation"
    chains = scaled_chains(100_000, scale)
    w_star = float(th.extrapolation_unbiased_weight(_E_N, _E_N, _E_TAU))
    ws = (0.0, w_star, 0.5)
    # the clipping that would break the linear recursions: far below one event in all chains and generations
    clip = float(th.extrapolation_clip_bound(_E_N, _E_N, max(ws), _E_TAU))
    if not clip * chains * _E_G < 0.01:
        raise RuntimeError(f"configuration error: the clipping bound {clip:.3g} per generation is not negligible")
    model = Gaussian(_E_MU, _E_S2, "mle")
    regs = [regimes.extrapolate(regimes.augment(_E_N, 1.0, temperature=_E_TAU), w) for w in ws]
    summ = _points(key, model, regs, _E_G, chains, ("mean_sq_err", "trace"))
    out = []
    ts = np.asarray(_E_TS)
    for i, w in enumerate(ws):
        label = f"fixed, mle, tau={_E_TAU:g}, w={w:.4g}" + (" (w*)" if w == w_star else "")
        out += _z(name, f"mean_sq_err {label}", summ, "mean_sq_err", i, _E_TS,
                  th.extrapolation_mean_sq_err(ts, _E_N, _E_N, w, _E_S2, tau=_E_TAU))
        out += _z(name, f"trace {label}", summ, "trace", i, _E_TS,
                  th.extrapolation_trace(ts, _E_N, _E_N, w, _E_S2, tau=_E_TAU))
    # w* is defined by V_inf(w*) = T: the stationary trace is the truth's (deterministic)
    v_star = float(th.extrapolation_stationary_trace(_E_N, _E_N, w_star, _E_S2, tau=_E_TAU))
    out.append(compare_gap(name, "V_inf(w*) vs T", _E_G, _E_S2, v_star, 1e-12, reason="algebra; float64 rounding"))
    return out + _extrapolation_gap(name, 0.5, "fixed", "mle", _E_N, _E_N, _E_S2, _E_TAU)


@register("repair.extrapolation_fresh", family="repair", source=_NEON,
          description="negative extrapolation with fresh real data, the covariance known (2-D mean estimator): "
                      "E|mu_t - mu|^2, e_inf(w)")
def _extrapolation_fresh(key, scale):
    name = "repair.extrapolation_fresh"
    chains = scaled_chains(100_000, scale)
    known = Gaussian(np.full(_F_D, _E_MU), _E_S2, "mean")
    ws = (0.3, 0.8)
    regs = [regimes.extrapolate(regimes.fresh(_F_NR, _F_NS), w) for w in ws]
    summ = _points(key, known, regs, _E_G, chains, ("mean_sq_err",))
    t_f = _F_D * _E_S2
    out = []
    for i, w in enumerate(ws):
        out += _z(name, f"mean_sq_err fresh, mean, w={w:g}", summ, "mean_sq_err", i, _E_TS,
                  th.extrapolation_mean_sq_err(np.asarray(_E_TS), _F_NR, _F_NS, w, t_f, real="fresh",
                                               estimator="mean"))
    return out + _extrapolation_gap(name, 0.8, "fresh", "mean", _F_NR, _F_NS, t_f, 1.0)


