r"""Registered checks of the Gaussian mixture (EM), the KDE and curated refitting.

Rules as in `jaxcollapse.verify`: exact results are compared by $|z| <$ `Z_BOUND` = 4 with the
standard error from the chains; every check runs in float64 with a fixed key.

- ``mixture.single_component``: a $K = 1$ mixture refit by EM is the Gaussian MLE, so under replace
  $E\,\mathrm{tr}\Sigma_t = (1 - 1/n)^t\,\mathrm{tr}\Sigma$ and
  $E\|\mu_t - \mu\|^2 = \mathrm{tr}\Sigma\,[1 - (1-1/n)^t]$
  (Shumailov et al. 2024). Tests the EM, the sampler and the sample-statistics path of the engine.
- ``mixture.spread_blind``: the same law for $K = 2$ fitted by truncated EM from a random start
  (`theory.mixture_spread_mean`, derived here): the spread does not see the approximation error.
- ``mixture.l2_closed_form``: the closed-form $\|p - q\|_2^2$ against its Monte Carlo form
  $E_p[p - q] - E_q[p - q]$ with draws from the family's own sampler.
- ``kde.fixed_replace``, ``kde.fixed_accumulate``: a fixed-bandwidth KDE refit on its own samples;
  the exact moment recursion of `theory.kde_fixed_moments` (derived here; setting of Kazdan et al. 2024).
- ``kde.scott_replace``: a Scott-bandwidth KDE inflates, $E V_t = \rho^t V_0$, $\rho = 1 - 1/n + n^{-2/5}$.
- ``curation.gaussian_threshold``: one curated refit of a Gaussian with a noisy threshold verifier
  (Feng et al. 2024): `theory.curated_gaussian_one_step`.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .. import regimes
from .. import theory as th
from ..curation import curate, curation, threshold_for_radius
from ..families import KDE, Gaussian, GaussianMixture
from ..verify import _chains, _keys, _means, _sim, compare_z, register

_KAZDAN = "Kazdan et al. 2024 (Collapse or thrive?); exact moments derived here"

# --------------------------------------------------------------------------- mixture
_M_N, _M_G, _M_TS = 20, 10, (1, 5, 10)
_M_COV = np.array([[2.0, 0.5], [0.5, 1.0]])


def single_component_model(**kwargs) -> GaussianMixture:
    """The K = 1 mixture of `mixture.single_component` (exact EM: one iteration, no covariance floor)."""
    opts = dict(em_iters=1, tol=0.0, reg=0.0, eval_size=8)
    opts.update(kwargs)
    return GaussianMixture(jnp.ones((1,)), jnp.asarray([[1.0, -1.0]]), jnp.asarray(_M_COV)[None], **opts)


def sim_single_component(key, scale):
    return _sim(key, single_component_model(), regimes.replace(_M_N), _M_G, _chains(8000, scale),
                ("spread", "mean_sq_err"), path="samples")


@register("mixture.single_component", family="mixture", source="Shumailov et al. 2024 (Nature)",
          description="K = 1 mixture refit by EM (replace, n = 20, d = 2): E tr Sigma_t and E|mu_t - mu|^2")
def _single_component(key, scale):
    name = "mixture.single_component"
    traj = sim_single_component(key, scale)
    tr = float(np.trace(_M_COV))
    out = _means(name, traj, "spread", _M_TS, np.asarray(th.mle_variance(jnp.asarray(_M_TS), _M_N, tr)))
    out += _means(name, traj, "mean_sq_err", _M_TS, np.asarray(th.mle_mean_sq_err(jnp.asarray(_M_TS), _M_N, tr)))
    return out


_B_N, _B_G, _B_TS = 30, 8, (1, 4, 8)


def blind_model(**kwargs) -> GaussianMixture:
    """Two overlapping 2-D components fitted by 2 EM iterations from a random start, no covariance floor."""
    opts = dict(em_iters=2, tol=0.0, init="random", reg=0.0, min_count=0.0, eval_size=8)
    opts.update(kwargs)
    covs = [[[1.0, 0.3], [0.3, 0.6]], [[0.5, -0.1], [-0.1, 0.8]]]
    return GaussianMixture([0.4, 0.6], [[-1.5, 0.0], [1.0, 0.5]], covs, **opts)


@register("mixture.spread_blind", family="mixture", source="derived here (EM's M-step refits the overall moments)",
          description="K = 2, truncated EM (2 iterations, random start), replace n = 30: "
                      "E tr Cov_t = (1 - 1/n)^t tr Cov_0 as for one Gaussian")
def _spread_blind(key, scale):
    name = "mixture.spread_blind"
    m = blind_model()
    traj = _sim(key, m, regimes.replace(_B_N), _B_G, _chains(8000, scale), ("spread", "l2sq"), path="samples")
    spread0 = float(np.trace(np.asarray(m.moments()[1])))
    return _means(name, traj, "spread", _B_TS, np.asarray(th.mixture_spread_mean(jnp.asarray(_B_TS), _B_N, spread0)))


def l2_pair():
    """Two fixed mixtures (K = 2 full, K = 3 diagonal) in 2-D."""
    p = GaussianMixture([0.3, 0.7], [[-1.0, 0.0], [1.5, 0.5]], [[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 0.8]]])
    q = GaussianMixture([0.2, 0.5, 0.3], [[-1.0, 0.5], [1.0, 0.0], [0.0, -1.0]], [[0.5, 0.5], [1.0, 0.4], [0.3, 0.9]])
    return p, q


@eqx.filter_jit
def _l2_terms(key, p, q, draws: int):
    kp, kq = jax.random.split(key)
    xp, xq = p.sample(kp, draws), q.sample(kq, draws)
    return jnp.exp(p.log_prob(xp)) - jnp.exp(q.log_prob(xp)), jnp.exp(p.log_prob(xq)) - jnp.exp(q.log_prob(xq))


def l2_monte_carlo(key, p, q, draws: int) -> tuple[float, float]:
    r"""$E_p[p - q] - E_q[p - q]$ from `draws` samples of each, and its standard error."""
    fp, fq = (np.asarray(a, np.float64) for a in _l2_terms(key, p, q, draws))
    est = fp.mean() - fq.mean()
    se = math.sqrt(fp.var(ddof=1) / draws + fq.var(ddof=1) / draws)
    return float(est), se


@register("mixture.l2_closed_form", family="mixture", source="Jian and Vemuri 2011 (eq. 5); The Matrix Cookbook (371)",
          description="closed-form squared L2 distance of two 2-D mixtures against E_p[p - q] - E_q[p - q]")
def _l2_closed_form(key, scale):
    name = "mixture.l2_closed_form"
    p, q = l2_pair()
    theory = float(th.mixture_l2sq(p.weights, p.means, p.covs, q.weights, q.means, q.covs))
    est, se = l2_monte_carlo(key, p, q, _chains(200_000, scale))
    return [compare_z(name, "l2sq(p, q)", 0, theory, est, se)]


# --------------------------------------------------------------------------- KDE
_K_N, _K_G, _K_TS, _K_H = 20, 10, (1, 5, 10), 0.4


def kde_start(n: int = _K_N, seed: int = 11) -> np.ndarray:
    """The fixed 'real' sample of model 0 (n draws of N(0, 1), float64)."""
    return np.random.default_rng(seed).standard_normal((n, 1))


def _kde_fixed_sim(key, scale, memory: str):
    pts = kde_start()
    cap = _K_N * (_K_G if memory == "accumulate" else 1)
    kde = KDE(pts, _K_H, capacity=cap, eval_size=8)
    regime = regimes.replace(_K_N) if memory == "replace" else regimes.accumulate(_K_N)
    traj = _sim(key, kde, regime, _K_G, _chains(8000, scale), ("spread", "mean_sq_err"), path="samples")
    return traj, pts


def _kde_theory(pts, memory):
    s = pts.sum(axis=0)
    return th.kde_fixed_moments(_K_G, _K_N, _K_H**2, pts.shape[0], float(s @ s), float((pts**2).sum()), memory)


def _kde_fixed_check(name, key, scale, memory):
    traj, pts = _kde_fixed_sim(key, scale, memory)
    thy = _kde_theory(pts, memory)
    ts = list(_K_TS)
    mean0 = float(pts.mean())  # model 0 is its own truth: mean_sq_err is measured against its mean
    out = _means(name, traj, "spread", ts, thy["spread"][ts])
    # E|m_t - m_0|^2 = E|m_t|^2 - |m_0|^2 because E m_t = m_0 (the KDE's mean is a martingale)
    out += _means(name, traj, "mean_sq_err", ts, thy["mean_sq"][ts] - mean0**2)
    return out


@register("kde.fixed_replace", family="kde", source=_KAZDAN,
          description="fixed-bandwidth KDE (h = 0.4, n = 20, 1-D) under replace: E spread_t, E|mean_t - mean_0|^2")
def _kde_fixed_replace(key, scale):
    return _kde_fixed_check("kde.fixed_replace", key, scale, "replace")


@register("kde.fixed_accumulate", family="kde", source=_KAZDAN,
          description="fixed-bandwidth KDE (h = 0.4, n = 20, 1-D) under accumulate: E spread_t, E|mean_t - mean_0|^2")
def _kde_fixed_accumulate(key, scale):
    return _kde_fixed_check("kde.fixed_accumulate", key, scale, "accumulate")


_S_TS = (1, 3, 5)


@register("kde.scott_replace", family="kde", source=_KAZDAN,
          description="Scott-bandwidth KDE (n = 20, 1-D) under replace inflates: E spread_t = rho^t spread_0")
def _kde_scott_replace(key, scale):
    name = "kde.scott_replace"
    kde = KDE(kde_start(), "scott", eval_size=8)
    traj = _sim(key, kde, regimes.replace(_K_N), _K_G, _chains(8000, scale), ("spread", "mean_sq_err"),
                path="samples")
    spread0 = float(np.trace(np.asarray(kde.moments()[1])))  # the `spread` metric of generation 0
    return _means(name, traj, "spread", _S_TS, np.asarray(th.kde_scott_spread(jnp.asarray(_S_TS), _K_N, 1, spread0)))


# --------------------------------------------------------------------------- curation
_C_N = 20
_C_CASES = ((1.0, 0.9, 0.2), (1.5, 1.0, 0.0))  # (radius c, true acceptance rate, false acceptance rate)


@register("curation.gaussian_threshold", family="curation", source="Feng et al. 2024; closed form derived here",
          description="one refit of N(0, 1) (MLE, n = 20) on samples kept by a noisy threshold verifier: "
                      "E sigma_1^2 and E mu_1^2")
def _curation_threshold(key, scale):
    name = "curation.gaussian_threshold"
    out = []
    for k, (c, tpr, fpr) in zip(_keys(key, len(_C_CASES)), _C_CASES, strict=True):
        cur = curation(threshold=threshold_for_radius(c), accept_good=tpr, accept_bad=fpr)
        traj = _sim(k, Gaussian(0.0, 1.0), curate(regimes.replace(_C_N), cur), 1, _chains(40_000, scale),
                    ("trace", "mean_sq_err"), path="samples")
        thy = th.curated_gaussian_one_step(_C_N, c, tpr, fpr)
        tag = f"c={c:g} tpr={tpr:g} fpr={fpr:g}"
        out += _means(name, traj, "trace", (1,), thy["variance"], quantity=f"variance {tag}")
        out += _means(name, traj, "mean_sq_err", (1,), thy["mean_sq_err"], quantity=f"mean_sq_err {tag}")
    return out
