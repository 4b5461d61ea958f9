r"""Registered checks of the KDE family against `jaxcollapse.theory.kde`.

Rules as in `jaxcollapse.verify` ($|z| <$ `Z_BOUND` = 4, standard errors from the chains, float64, fixed keys).

- ``kde.fixed_replace``, ``kde.fixed_accumulate``: a fixed-bandwidth KDE refit on its own samples;
  the exact moment recursion of `theory.kde_fixed_moments` (derived here; setting of Kazdan et al. 2024).
- ``kde.scott_replace``: a Scott-bandwidth KDE inflates, $E V_t = \rho^t V_0$, $\rho = 1 - 1/n + n^{-2/5}$.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .. import regimes
from ..families import KDE
from ..theory import kde as th
from ._core import means, register, scaled_chains, sim

_KAZDAN = "Kazdan et al. 2024 (Collapse or thrive?); exact moments derived here"

_K_N, _K_G, _K_TS, _K_H = 20, 10, (1, 5, 10), 0.4


def kde_start(n: int = _K_N, seed: int = 11) -> np.ndarray:
    """The fixed 'real' sample of model 0 (n draws of N(0, 1), float64)."""
    return np.random.default_rng(seed).standard_normal((n, 1))


def scott_spread0(pts: np.ndarray) -> float:
    r"""Model 0's covariance trace for a Scott KDE over `pts` (n x 1), written out here (not from the family):
    the points' variance (divisor $n$) plus the kernel's $f^2\hat\sigma^2$, $\hat\sigma^2$ with divisor $n - 1$ and
    $f = n^{-1/5}$ (Scott's factor in 1-D)."""
    n = pts.shape[0]
    return float(np.var(pts) + n ** (-2.0 / 5.0) * np.var(pts, ddof=1))


def _kde_fixed_sim(key, scale, memory: str):
    pts = kde_start()
    cap = _K_N * (_K_G if memory == "accumulate" else 1)
    kde = KDE(pts, _K_H, capacity=cap, eval_size=8)
    regime = regimes.replace(_K_N) if memory == "replace" else regimes.accumulate(_K_N)
    traj = sim(key, kde, regime, _K_G, scaled_chains(8000, scale), ("spread", "mean_sq_err"), path="samples")
    return traj, pts


def _kde_theory(pts, memory):
    s = pts.sum(axis=0)
    return th.kde_fixed_moments(_K_G, _K_N, _K_H**2, pts.shape[0], float(s @ s), float((pts**2).sum()), memory)


def _kde_fixed_check(name, key, scale, memory):
    traj, pts = _kde_fixed_sim(key, scale, memory)
    thy = _kde_theory(pts, memory)
    ts = list(_K_TS)
    mean0 = float(pts.mean())  # model 0 is its own truth: mean_sq_err is measured against its mean
    out = means(name, traj, "spread", ts, thy["spread"][ts])
    # E|m_t - m_0|^2 = E|m_t|^2 - |m_0|^2 because E m_t = m_0 (the KDE's mean is a martingale)
    out += means(name, traj, "mean_sq_err", ts, thy["mean_sq"][ts] - mean0**2)
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
    traj = sim(key, kde, regimes.replace(_K_N), _K_G, scaled_chains(8000, scale), ("spread", "mean_sq_err"),
                path="samples")
    spread0 = scott_spread0(kde_start())
    return means(name, traj, "spread", _S_TS, np.asarray(th.kde_scott_spread(jnp.asarray(_S_TS), _K_N, 1, spread0)))


