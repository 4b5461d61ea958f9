r"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari and Gelman 2018) of the spread model.

For each of $D$ datasets: draw $(n_{\rm eff}, \kappa)$ from the prior, simulate `chains` x
`generations` log ratios $\ln\kappa + \ln(\chi^2_{n_{\rm eff}-1}/m)$ exactly (gamma draws; real
$n_{\rm eff}$ allowed), fit by NUTS, and record the rank of the true value among $L$ thinned
posterior draws. If the sampler and the model are right, the ranks are uniform on $\{0, \dots, L\}$
(Talts et al. 2018, Theorem 1) and central $\alpha$-intervals cover the truth in a share $\alpha$ of
datasets. Uniformity is tested by Pearson's chi-square over `bins` equal groups of ranks.

**Vectorized across datasets.** The datasets are independent, so the joint posterior of all of them
is the product of their posteriors: one NUTS run over $2D$ parameters samples every dataset's
posterior at once (one compiled program, one warm-up; the diagonal mass matrix adapts a scale per
dataset). ``batch=False`` fits the datasets one by one instead (same compiled program, $D$ runs).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .._config import x64
from . import models as M
from ._fit import _check_key, _check_prior, _check_sampler, run_nuts

PARAMS = ("n_eff", "kappa", "rate")


def exact_log_ratios(key, n_eff: float, kappa: float, chains: int, generations: int,
                     divisor: str = "mle") -> np.ndarray:
    r"""`chains` x `generations` exact draws of $\ln\kappa + \ln(\chi^2_{n_{\rm eff}-1}/m)$ (float64)."""
    with x64():
        g = jax.random.gamma(key, 0.5 * (n_eff - 1.0), (chains, generations), dtype=jnp.float64)
        y = jnp.log(2.0 * g)
    m = n_eff if divisor == "mle" else n_eff - 1.0
    return np.asarray(y) - math.log(m) + math.log(kappa)


@dataclass(frozen=True)
class SBCResult:
    """Ranks `(datasets, params)` out of `L` draws, truths, 90% coverage, chi-square p-values."""

    params: tuple[str, ...]
    ranks: np.ndarray
    L: int
    truth: np.ndarray
    covered: np.ndarray
    pvalues: np.ndarray
    bins: int
    divergences: int

    @property
    def coverage(self) -> np.ndarray:
        return self.covered.mean(axis=0)

    def summary(self) -> str:
        D = self.ranks.shape[0]
        lines = [f"simulation-based calibration: {D} datasets, ranks out of {self.L} draws, {self.bins} bins, "
                 f"{self.divergences} divergences",
                 f"{'param':>8} {'chi2 p':>8} {'90% cov':>8}"]
        for j, p in enumerate(self.params):
            lines.append(f"{p:>8} {self.pvalues[j]:8.3f} {self.coverage[j]:8.3f}")
        return "\n".join(lines)


def rank_pvalue(ranks: np.ndarray, L: int, bins: int) -> float:
    """Pearson chi-square p-value of uniform ranks on {0..L}, grouped into `bins` equal-width bins."""
    from scipy.stats import chi2

    if (L + 1) % bins:
        raise ValueError(f"bins ({bins}) must divide L + 1 ({L + 1})")
    counts = np.bincount(np.asarray(ranks) * bins // (L + 1), minlength=bins)
    exp = ranks.size / bins
    stat = float(np.sum((counts - exp) ** 2) / exp)
    return float(chi2.sf(stat, bins - 1))


def sbc(
    key,
    num_datasets: int = 100,
    *,
    chains: int = 20,
    generations: int = 10,
    divisor: str = "mle",
    prior_n: tuple[float, float] = M.PRIOR_N,
    prior_kappa: tuple[float, float] = M.PRIOR_KAPPA,
    num_warmup: int = 500,
    num_samples: int = 1000,
    num_chains: int = 2,
    L: int = 99,
    bins: int = 10,
    level: float = 0.9,
    batch: bool = True,
    simulator: Callable | None = None,
) -> SBCResult:
    r"""Simulation-based calibration of the spread model over `num_datasets` prior draws.

    `simulator(key, n_eff, kappa, chains, generations, divisor)` returns the log ratios, shape
    `(chains, generations)` (default `exact_log_ratios`); pass a different one to see SBC reject a
    simulator that disagrees with the model. Ranks use `L` draws thinned evenly from the
    `num_chains * num_samples` posterior draws; coverage uses all of them.
    """
    _check_key(key)
    _check_sampler(num_warmup, num_samples, num_chains, "vectorized")
    prior_n = _check_prior("prior_n", prior_n)
    prior_kappa = _check_prior("prior_kappa", prior_kappa)
    if num_datasets < 2 or chains < 1 or generations < 1:
        raise ValueError("need num_datasets >= 2, chains >= 1 and generations >= 1")
    if L + 1 > num_chains * num_samples:
        raise ValueError(f"L = {L} needs at least L + 1 posterior draws; have {num_chains * num_samples}")
    sim = exact_log_ratios if simulator is None else simulator
    D = int(num_datasets)
    k_prior, k_data, k_fit = jax.random.split(key, 3)
    with x64():
        z = prior_n[0] + prior_n[1] * np.asarray(jax.random.normal(jax.random.fold_in(k_prior, 0), (D,), jnp.float64))
        lk = prior_kappa[0] + prior_kappa[1] * np.asarray(
            jax.random.normal(jax.random.fold_in(k_prior, 1), (D,), jnp.float64))
    n_true, kappa_true = 1.0 + np.exp(z), np.exp(lk)
    m = n_true if divisor == "mle" else n_true - 1.0
    from jax.scipy.special import digamma

    with x64():
        rate_true = -(np.asarray(digamma(0.5 * (n_true - 1.0))) + np.log(2.0 / m)) - lk
    cnt, s1, s2 = np.zeros(D), np.zeros(D), np.zeros(D)
    for d in range(D):
        y = np.asarray(sim(jax.random.fold_in(k_data, d), float(n_true[d]), float(kappa_true[d]), chains,
                           generations, divisor), np.float64)
        cnt[d], s1[d], s2[d] = y.size, y.sum(), np.exp(y).sum()
    fn = functools.partial(M.spread_model, divisor=divisor, prior_n=prior_n, prior_kappa=prior_kappa)
    sampler = dict(num_warmup=int(num_warmup), num_samples=int(num_samples), num_chains=int(num_chains),
                   chain_method="vectorized")
    with x64():
        if batch:
            args = tuple(jnp.asarray(a[:, None, None]) for a in (cnt, s1, s2)) + (None,)
            draws, div = run_nuts(fn, ("sbc", divisor, prior_n, prior_kappa, D), args, k_fit, **sampler)
            draws = M.derive("spread", draws, divisor=divisor)
            post = {p: draws[p].reshape((-1, D) + draws[p].shape[3:]) for p in ("n_eff", "kappa", "rate")}
            ndiv = int(div.sum())
        else:
            parts, ndiv = {p: [] for p in PARAMS}, 0
            for d in range(D):
                args = tuple(jnp.asarray(np.full((1, 1, 1), a[d])) for a in (cnt, s1, s2)) + (None,)
                draws, div = run_nuts(fn, ("sbc1", divisor, prior_n, prior_kappa), args,
                                      jax.random.fold_in(k_fit, d), **sampler)
                draws = M.derive("spread", draws, divisor=divisor)
                for p in PARAMS:
                    parts[p].append(draws[p].reshape((-1,) + draws[p].shape[3:]))
                ndiv += int(div.sum())
            post = {p: np.stack(v, axis=1) for p, v in parts.items()}
    post = {"n_eff": post["n_eff"][..., 0], "kappa": post["kappa"], "rate": post["rate"][..., 0]}  # (S, D)
    truth = np.stack([n_true, kappa_true, rate_true], axis=1)
    S = post["kappa"].shape[0]
    thin = np.linspace(0, S - 1, L).round().astype(int)
    ranks = np.stack([np.sum(post[p][thin] < truth[None, :, j], axis=0) for j, p in enumerate(PARAMS)], axis=1)
    a = (1 - level) / 2
    covered = np.stack([(np.quantile(post[p], a, axis=0) <= truth[:, j]) & (truth[:, j] <= np.quantile(post[p], 1 - a,
                        axis=0)) for j, p in enumerate(PARAMS)], axis=1)
    pv = np.array([rank_pvalue(ranks[:, j], L, bins) for j in range(len(PARAMS))])
    return SBCResult(PARAMS, ranks, L, truth, covered, pv, bins, ndiv)
