r"""Registered checks of the Gaussian mixture family (EM) against `jaxcollapse.theory.mixture`.

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
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .. import regimes
from ..families import GaussianMixture
from ..theory import gaussian as thg
from ..theory import mixture as th
from ._core import compare_z, means, register, scaled_chains, sim

# --------------------------------------------------------------------------- mixture
_M_N, _M_G, _M_TS = 20, 10, (1, 5, 10)
_M_COV = np.array([[2.0, 0.5], [0.5, 1.0]])


def single_component_model(**kwargs) -> GaussianMixture:
    """The K = 1 mixture of `mixture.single_component` (exact EM: one iteration, no covariance floor)."""
    opts = dict(em_iters=1, tol=0.0, reg=0.0, eval_size=8)
    opts.update(kwargs)
    return GaussianMixture(jnp.ones((1,)), jnp.asarray([[1.0, -1.0]]), jnp.asarray(_M_COV)[None], **opts)


def sim_single_component(key, scale):
    return sim(key, single_component_model(), regimes.replace(_M_N), _M_G, scaled_chains(8000, scale),
                ("spread", "mean_sq_err"), path="samples")


@register("mixture.single_component", family="mixture", source="Shumailov et al. 2024 (Nature)",
          description="K = 1 mixture refit by EM (replace, n = 20, d = 2): E tr Sigma_t and E|mu_t - mu|^2")
def _single_component(key, scale):
    name = "mixture.single_component"
    traj = sim_single_component(key, scale)
    tr = float(np.trace(_M_COV))
    out = means(name, traj, "spread", _M_TS, np.asarray(thg.mle_variance(jnp.asarray(_M_TS), _M_N, tr)))
    out += means(name, traj, "mean_sq_err", _M_TS, np.asarray(thg.mle_mean_sq_err(jnp.asarray(_M_TS), _M_N, tr)))
    return out


_B_N, _B_G, _B_TS = 30, 8, (1, 4, 8)


_BLIND_W = np.array([0.4, 0.6])
_BLIND_MU = np.array([[-1.5, 0.0], [1.0, 0.5]])
_BLIND_COV = np.array([[[1.0, 0.3], [0.3, 0.6]], [[0.5, -0.1], [-0.1, 0.8]]])


def blind_model(**kwargs) -> GaussianMixture:
    """Two overlapping 2-D components fitted by 2 EM iterations from a random start, no covariance floor."""
    opts = dict(em_iters=2, tol=0.0, init="random", reg=0.0, min_count=0.0, eval_size=8)
    opts.update(kwargs)
    return GaussianMixture(_BLIND_W, _BLIND_MU, _BLIND_COV, **opts)


def blind_spread0() -> float:
    r"""The truth's covariance trace, written out here (not from the family's `moments`):
    $\sum_k w_k\,\mathrm{tr}\,\Sigma_k + \sum_k w_k\|\mu_k - \bar\mu\|^2$
    (law of total variance), $= 1.42 + 1.56 = 2.98$."""
    mbar = _BLIND_W @ _BLIND_MU
    within = float(sum(w * np.trace(c) for w, c in zip(_BLIND_W, _BLIND_COV, strict=True)))
    between = float(sum(w * np.sum((m - mbar) ** 2) for w, m in zip(_BLIND_W, _BLIND_MU, strict=True)))
    return within + between


@register("mixture.spread_blind", family="mixture", source="derived here (EM's M-step refits the overall moments)",
          description="K = 2, truncated EM (2 iterations, random start), replace n = 30: "
                      "E tr Cov_t = (1 - 1/n)^t tr Cov_0 as for one Gaussian")
def _spread_blind(key, scale):
    name = "mixture.spread_blind"
    m = blind_model()
    traj = sim(key, m, regimes.replace(_B_N), _B_G, scaled_chains(8000, scale), ("spread", "l2sq"), path="samples")
    spread0 = blind_spread0()
    return means(name, traj, "spread", _B_TS, np.asarray(th.mixture_spread_mean(jnp.asarray(_B_TS), _B_N, spread0)))


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
    est, se = l2_monte_carlo(key, p, q, scaled_chains(200_000, scale))
    return [compare_z(name, "l2sq(p, q)", 0, theory, est, se)]
