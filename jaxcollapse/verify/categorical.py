r"""Checks of the categorical (Wright–Fisher) family against `jaxcollapse.theory.categorical`.

Rules as in `jaxcollapse.verify`: exact results are z-comparisons ($|z| < 4$, standard errors from the
chains); the asymptotic formulas (the accumulate limit, Littler's diffusion time, the Zipf tail) are
never compared with the simulation: the simulation is z-compared with the exact finite value, and the
formula's gap to that value is checked deterministically against a stated bound. Every simulation runs
in float64 with a fixed key per check.

Absorption times are measured per chain from the recorded `surviving` paths: a chain is absorbed at the
first $t$ with one surviving category, so $T = \#\{t \le G : \text{surviving}_t \ge 2\}$. The horizons $G$ are
chosen so that an unabsorbed chain at $G$ is negligible: the slowest mode of the Wright–Fisher chain decays
as $(1 - 1/n)^t$, and $E H_G \le 10^{-9}$ in every absorption configuration below.
"""

from __future__ import annotations

import numpy as np

from .. import regimes
from ..engine import simulate
from ..families.categorical import Categorical, zipf_probabilities
from ..theory import categorical as th
from ._core import compare_gap, frac_z, means, path_means, paths, register, scaled_chains, sim

_SEDDIK = "Seddik et al. 2024 (COLM); Wright-Fisher heterozygosity (Ewens 2004, 1.2)"

# P5: five categories with a spread of frequencies; H0 = 1 - sum p^2 = 0.715.
_P5 = np.array([0.4, 0.3, 0.15, 0.1, 0.05])
_H5 = float(1.0 - np.sum(_P5**2))
_H_N, _H_G, _H_TS = 20, 30, (1, 5, 10, 30)


def _cat(p, **kw) -> Categorical:
    return Categorical(p, **kw)


# --------------------------------------------------------------------------- heterozygosity
# A: K = 5, replace with a linear schedule n_t = n0 + r(t - 1) (r = 0 is a constant n), 30 generations. The
# schedule's values and the smoothing alpha are traced, so every use of A shares one compiled program.
_A_METRICS = ("gini_simpson",)


def _sim_a(key, scale, n0, rate=0.0, alpha=0.0):
    model = _cat(_P5, alpha=alpha, capacity=32)
    return sim(key, model, regimes.replace(regimes.linear(n0, rate)), _H_G, scaled_chains(40_000, scale), _A_METRICS)


@register("categorical.heterozygosity_replace", family="categorical", source=_SEDDIK,
          description="replace, n = 20, K = 5: E[1 - sum p_t^2] = (1 - 1/n)^t H0; with n_t = 5 + 5(t-1): "
                      "H0 prod (1 - 1/n_i)")
def _het_replace(key, scale):
    name = "categorical.heterozygosity_replace"
    import jax

    k1, k2 = jax.random.split(key)
    traj = _sim_a(k1, scale, _H_N)
    out = means(name, traj, "gini_simpson", _H_TS, th.heterozygosity_mean(np.array(_H_TS), _H_N, _H5),
                 quantity="H replace n=20")
    traj = _sim_a(k2, scale, 5, 5)
    ns = 5.0 + 5.0 * np.arange(_H_G)
    out += means(name, traj, "gini_simpson", _H_TS, th.heterozygosity_schedule(ns, _H5)[np.asarray(_H_TS) - 1],
                  quantity="H linear schedule")
    return out


@register("categorical.heterozygosity_smoothing", family="categorical", source="derived here",
          description="additive smoothing alpha = 0.5, n = 20, K = 5: E sum p_t^2 = s_inf + a^t (s0 - s_inf); "
                      "the limit 1 - s_inf > 0 (no absorption)")
def _het_smoothing(key, scale):
    name = "categorical.heterozygosity_smoothing"
    alpha = 0.5
    traj = _sim_a(key, scale, _H_N, alpha=alpha)
    theory = th.heterozygosity_smoothed(np.array(_H_TS), _H_N, 5, alpha, _H5)
    return means(name, traj, "gini_simpson", _H_TS, theory, quantity="H alpha=0.5")


@register("categorical.accumulate", family="categorical", source="derived here; Euler's sine product",
          description="accumulate, n = 5, K = 5: E H_t = H0 prod_{j<=t} (1 - 1/(n j^2)) -> "
                      "H0 sin(pi/sqrt n)/(pi/sqrt n)")
def _het_accumulate(key, scale):
    name = "categorical.accumulate"
    n, g, ts = 5, 50, (1, 3, 10, 50)
    traj = sim(key, _cat(_P5, capacity=32), regimes.accumulate(n), g, scaled_chains(40_000, scale), ("gini_simpson",))
    out = means(name, traj, "gini_simpson", ts, th.heterozygosity_accumulate(np.array(ts), n, _H5))
    # The t -> infinity limit is not simulated: the simulation at t = 50 is z-compared above with the exact
    # product, and the limit's gap to it is exact: 1 - H_inf/H_t = 1 - prod_{j>t}(1 - 1/(n j^2)) <= sum_{j>t} 1/(n j^2)
    # < 1/(n t) (Weierstrass' product inequality, then the integral bound).
    exact = float(th.heterozygosity_accumulate(g, n, _H5)[0])
    out.append(compare_gap(name, "limit H0 sin(x)/x vs exact", g, exact, th.heterozygosity_accumulate_limit(n, _H5),
                           1.0 / (n * g), reason="1 - prod_{j>t}(1 - x/j^2) <= x sum_{j>t} 1/j^2 < x/t, x = 1/n"))
    return out


@register("categorical.fresh", family="categorical", source="derived here",
          description="fresh real data (n_r = 10) + n_s = 20 synthetic: E H_t = H0 (1 - eps_t), "
                      "eps_t = [N + n_s(n_s - 1) eps_{t-1}]/N^2")
def _het_fresh(key, scale):
    name = "categorical.fresh"
    ts = (1, 3, 10, 30)
    traj = sim(key, _cat(_P5, capacity=32), regimes.fresh(10, 20), 30, scaled_chains(40_000, scale), ("gini_simpson",))
    return means(name, traj, "gini_simpson", ts, th.heterozygosity_fresh(np.array(ts), 10, 20, _H5))


@register("categorical.fresh_drift", family="categorical", source="derived here (linear conditional means)",
          description="fresh real data (n_r = 10, n_s = 20), K = 5, logits tilted by 0.05 i per generation "
                      "(p*_20 ~ (0.06, 0.12, 0.16, 0.28, 0.39)): E p_t = a^t p_0 + (1-a) sum_{s<=t} a^(t-s) p*_s "
                      "per category, a = n_s/(n_r + n_s)")
def _fresh_drift(key, scale):
    name = "categorical.fresh_drift"
    nr, ns, delta, g, ts = 10, 20, 0.05, 20, (1, 3, 10, 20)
    # A gentle tilt keeps every category's mean far above its standard error up to g (a tilt of 0.2 i drives p[0] to
    # ~1e-5 by t = 30, where no chain keeps it); the lag behind p*_20 is 0.02-0.05 on the outer categories, over 20
    # standard errors. The per-category probabilities are parameters, not metrics: every generation's p is recorded.
    traj = simulate(key, _cat(_P5, capacity=32), regimes.fresh(nr, ns, drift=delta), g, scaled_chains(40_000, scale),
                    metrics=("gini_simpson",), quantiles=(), record_params=True)
    p = np.asarray(traj.params.p, np.float64)  # (G + 1, chains, K)
    exact = th.fresh_drift_probabilities(np.array(ts), nr, ns, delta, _P5)
    return [c for i in range(_P5.size) for c in path_means(name, f"E p[{i}]", p[..., i], ts, exact[:, i])]


# --------------------------------------------------------------------------- absorption
# W: K = 3, replace n = 20, 500 generations (E H_500 <= 0.95^500 ~ 7e-12), surviving paths recorded. A
# two-type start is p0 = (k/n, 1 - k/n, 0): the third category is dead from the start, so the chain is the
# two-type Wright-Fisher chain and shares W's compiled program.
_W_N, _W_G = 20, 500
_WF3_P0 = np.array([0.5, 0.3, 0.2])
_WF2_K0 = 6


def _sim_w(key, scale, p0):
    return sim(key, _cat(p0, capacity=_W_N), regimes.replace(_W_N), _W_G, scaled_chains(20_000, scale), ("surviving",),
                record_paths=True)


def _sim_wf3(key, scale):
    return _sim_w(key, scale, _WF3_P0)


@register("categorical.absorption_two_types", family="categorical",
          source="Kemeny and Snell 1960 (fundamental matrix); Ewens 2004; Kimura and Ohta 1969 (diffusion)",
          description="K = 2, n = 20, initial count 6: E T, P(loss) = 1 - k/n, E[T | loss], E[T | fixation] "
                      "from the exact (n+1)-state chain; the diffusion formulas' gaps to it")
def _absorption_two(key, scale):
    name = "categorical.absorption_two_types"
    n, k = _W_N, _WF2_K0
    traj = _sim_w(key, scale, np.array([k / n, 1.0 - k / n, 0.0]))
    T = np.sum(paths(traj, "surviving") >= 2, axis=0).astype(np.float64)
    lost = np.asarray(traj.final.p, np.float64)[:, 0] == 0
    ex = th.wright_fisher_absorption(n)
    out = path_means(name, "E T", T[None, :], (0,), ex.time[k])
    out.append(frac_z(name, "P(loss)", _W_G, ex.loss[k], lost))
    out += path_means(name, "E[T | loss]", T[lost][None, :], (0,), ex.time_given_loss[k])
    out += path_means(name, "E[T | fixation]", T[~lost][None, :], (0,), ex.time_given_fixation[k])
    # The diffusion formulas (Kimura and Ohta 1969) are not compared with the simulation: their gaps to the exact
    # chain's values are checked, without randomness. At n = 20, p = 0.3 they are 6.1% (E T), 6.9% (given loss)
    # and 5.1% (given fixation) high, an O(1/n) error; an 8% bound still fails a factor-2 slip.
    p = k / n
    why = "diffusion approximation, error O(1/n): 5-7% at n = 20"
    for q, exact, approx in (("E T", ex.time[k], th.absorption_time_diffusion(p, n)),
                             ("E[T | loss]", ex.time_given_loss[k], th.loss_time_diffusion(p, n)),
                             ("E[T | fixation]", ex.time_given_fixation[k], th.fixation_time_diffusion(p, n))):
        out.append(compare_gap(name, f"diffusion vs exact {q}", 0, exact, approx, 0.08, reason=why))
    return out


@register("categorical.fixation", family="categorical", source="Ewens 2004 (martingale argument)",
          description="K = 3, n = 20, p0 = (0.5, 0.3, 0.2): P(category i is the sole survivor) = p0_i")
def _fixation(key, scale):
    name = "categorical.fixation"
    traj = _sim_wf3(key, scale)
    final = np.asarray(traj.final.p, np.float64)
    return [frac_z(name, f"P(fix {i})", _W_G, th.fixation_probability(_WF3_P0)[i], final[:, i] == 1.0)
            for i in range(3)]


@register("categorical.absorption_k_types", family="categorical",
          source="Kemeny and Snell 1960 (exact); Littler 1975 (diffusion)",
          description="K = 3, n = 20: E[time until one category remains] against the exact 231-state chain (z) and "
                      "Littler's -2n sum (1 - p_i) ln(1 - p_i) (its gap to the exact chain, deterministic)")
def _absorption_k(key, scale):
    name = "categorical.absorption_k_types"
    traj = _sim_wf3(key, scale)
    T = np.sum(paths(traj, "surviving") >= 2, axis=0).astype(np.float64)
    exact = th.wright_fisher_k_absorption(np.round(_WF3_P0 * _W_N).astype(int))
    out = path_means(name, "E T exact", T[None, :], (0,), exact)
    # Littler's diffusion time is not compared with the simulation: the simulation is z-compared with the exact
    # chain above, and the diffusion's gap to the exact chain is checked here (no randomness): 30.99 against 29.43
    # at n = 20, 5.3% (the diffusion error is O(1/n)); a 6% bound still fails a factor-2n slip.
    out.append(compare_gap(name, "Littler vs exact E T", 0, exact, th.littler_time(_WF3_P0, _W_N), 0.06,
                           reason="diffusion approximation, error O(1/n): 5.3% at n = 20"))
    return out


# --------------------------------------------------------------------------- tails
_Z_K, _Z_BETA, _Z_N = 5000, 2.0, 1000


def _sim_zipf(key, scale):
    model = _cat(zipf_probabilities(_Z_K, _Z_BETA))
    return sim(key, model, regimes.replace(_Z_N), 1, scaled_chains(2_000, scale), ("tail_mass_lost", "surviving"))


@register("categorical.mass_lost_one_generation", family="categorical",
          source="Dohmatob et al. 2024, 'A Tale of Tails' (missing mass)",
          description="Zipf(2) over K = 5000, n = 1000: E tail mass lost after one generation = sum p_i (1 - p_i)^n; "
                      "E surviving = sum [1 - (1 - p_i)^n]")
def _mass_lost(key, scale):
    name = "categorical.mass_lost_one_generation"
    traj = _sim_zipf(key, scale)
    p = zipf_probabilities(_Z_K, _Z_BETA)
    surv = float(np.sum(-np.expm1(_Z_N * np.log1p(-p))))
    return (means(name, traj, "tail_mass_lost", (1,), th.mass_lost_one_generation(p, _Z_N))
            + means(name, traj, "surviving", (1,), surv))


@register("categorical.zipf_tail", family="categorical", source="Dohmatob et al. 2024, 'A Tale of Tails'; "
          "re-derived here",
          description="Zipf(2), n = 1000: E tail mass lost ~ Gamma(1 - 1/b) zeta(b)^(-1/b) b^-1 n^-(1 - 1/b) "
                      "against the exact finite sum (z) and its gap to it (deterministic)")
def _zipf_tail(key, scale):
    name = "categorical.zipf_tail"
    traj = _sim_zipf(key, scale)
    p = zipf_probabilities(_Z_K, _Z_BETA)
    exact = float(th.mass_lost_one_generation(p, _Z_N))
    out = means(name, traj, "tail_mass_lost", (1,), exact, quantity="tail mass lost (exact sum)")
    # The asymptotic formula (untruncated Zipf, n -> infinity) against the exact sum for the law truncated at
    # K = 5000, without randomness: 0.021851 against 0.021723, 0.59%. Its two parts: the truncated law lacks the
    # mass beyond K, sum_{i>K} i^-2 / zeta(2) < 1/(zeta(2) K) = 1.2e-4, 0.56% of the value; the O(1/n) corrections
    # ((1 - p)^n against e^{-np}, the sum against its integral) are 0.04% (measured at K = 10^6). A 1% bound; an
    # exponent slip (n^-(1/b) instead of n^-(1 - 1/b)) is 30x off.
    out.append(compare_gap(name, "asymptotic vs exact sum", 1, exact, th.zipf_mass_lost_asymptotic(_Z_N, _Z_BETA),
                           0.01, reason="mass beyond K < 1/(zeta(2) K): 0.56%; O(1/n) terms 0.04%"))
    return out


# --------------------------------------------------------------------------- decoding, sample path
@register("categorical.decoding_one_step", family="categorical", source="derived here",
          description="top-k = 4, top-p = 0.9, tau in {0.7, 1.5}, n = 10: E H_1 = (1 - 1/n)(1 - sum q^2), "
                      "E tail mass lost = sum p_i (1 - q_i)^n for the decoded q")
def _decoding(key, scale):
    import jax

    name = "categorical.decoding_one_step"
    n = 10
    model = _cat(_P5, top_k=4, top_p=0.9, capacity=16)
    out = []
    for kk, tau in zip(jax.random.split(key), (0.7, 1.5), strict=True):
        traj = sim(kk, model, regimes.replace(n, temperature=tau), 1, scaled_chains(40_000, scale),
                    ("gini_simpson", "tail_mass_lost"))
        q = th.tempered_probabilities(_P5, tau, top_k=4, top_p=0.9)
        out += means(name, traj, "gini_simpson", (1,), th.heterozygosity_one_step(_P5, n, q), quantity=f"H tau={tau}")
        out += means(name, traj, "tail_mass_lost", (1,), float(np.sum(_P5 * (1.0 - q) ** n)),
                      quantity=f"tail lost tau={tau}")
    return out


@register("categorical.samples_path", family="categorical", source=_SEDDIK + "; Dohmatob et al. 2024",
          description="sample path (draws, then counts), replace n = 20: E H_t = (1 - 1/n)^t H0 and the "
                      "one-generation tail mass lost")
def _samples_path(key, scale):
    name = "categorical.samples_path"
    ts = (1, 5, 10)
    traj = sim(key, _cat(_P5), regimes.replace(_H_N), 10, scaled_chains(20_000, scale),
                ("gini_simpson", "tail_mass_lost"), path="samples")
    return (means(name, traj, "gini_simpson", ts, th.heterozygosity_mean(np.array(ts), _H_N, _H5))
            + means(name, traj, "tail_mass_lost", (1,), th.mass_lost_one_generation(_P5, _H_N)))


# --------------------------------------------------------------------------- sampled frequencies (the drift model)
@register("categorical.sampled_covariance", family="categorical", source="derived here (martingale + fact 1)",
          description="replace n = 20, K = 5, samples of sizes (10, 5, 20, 8) at generations (0, 1, 3, 6): "
                      "Cov(x_i, x_j) = [1 - lam^min(d_i,d_j) + delta_ij lam^d_j/S_j] (diag p0 - p0 p0^T)")
def _sampled_covariance(key, scale):
    import jax

    name = "categorical.sampled_covariance"
    n, times, sizes = 20, np.array([0, 1, 3, 6]), np.array([10, 5, 20, 8])
    traj = simulate(key, _cat(_P5, capacity=32), regimes.replace(n), int(times[-1]), scaled_chains(40_000, scale),
                    metrics=("gini_simpson",), quantiles=(), record_params=True)
    p = np.asarray(traj.params.p, np.float64)  # (G + 1, chains, K)
    # the geneticist's samples, drawn on the host from each sampled generation's model
    rng = np.random.default_rng(np.asarray(jax.random.key_data(jax.random.fold_in(key, 1))).tolist())
    x = np.stack([rng.multinomial(int(s), p[t] / p[t].sum(axis=1, keepdims=True)) / s
                  for t, s in zip(times, sizes, strict=True)])  # (J, chains, K)
    r = x - _P5
    c = th.sampled_frequency_covariance(times, sizes, n)
    sigma = np.diag(_P5) - np.outer(_P5, _P5)
    out = []
    for i, j in ((0, 0), (1, 1), (3, 3), (0, 2), (1, 3)):
        for a, b in ((0, 0), (0, 1), (3, 4)):
            prod = (r[i, :, a] * r[j, :, b])[None, :]
            out += path_means(name, f"Cov(x{i}[{a}], x{j}[{b}])", prod, (0,), c[i, j] * sigma[a, b])
    return out
