r"""$N_e$ of a categorical (Wright–Fisher) chain from *sampled* category counts: `fit_drift`.

The diversity model (`jaxcollapse.bayes.models`) reads the decay of a Gini–Simpson series $H_t$ and
assumes it is observed without error. When each generation is seen only through a sample of $S_t$ draws
(a geneticist's sample of genes; a few hundred generated texts), the ratio of two sampled diversities is
biased upward by about the relative variance of the denominator, $O(1/S)$: as large as the drift $1/n$ it
is meant to measure when $S \lesssim n$, so the fitted $n_{\rm eff}$ runs off to large values
(`benchmarks/popgen.py` measures it). The drift model reads the same diversity loss from the
*displacement* of the sampled frequencies instead, with the sampling noise in the likelihood.

**Moments** (derived here). A chain $p_t \in \Delta^{K-1}$ refitted by Wright–Fisher resampling of $n$
draws ($p_{t+1} = \mathrm{Mult}(n, p_t)/n$) is observed at generations $\tau_0 < \tau_1 < \dots$ through
$\hat x_j = \mathrm{Mult}(S_j, p_{\tau_j})/S_j$, drawn independently of the drift. With
$\lambda = 1 - 1/n$, $p_0 = p_{\tau_0}$, $d_j = \tau_j - \tau_0$ and $\Sigma(p) = \mathrm{diag}(p) - pp^\top$:

1. $E[\Sigma(p_{t+1}) \mid p_t] = \lambda\,\Sigma(p_t)$, since $E[p_{t+1}p_{t+1}^\top \mid p_t] = p_tp_t^\top +
   \Sigma(p_t)/n$; so $E\,\Sigma(p_t) = \lambda^{t}\Sigma(p_0)$ (its trace is the Gini–Simpson law
   $E H_t = \lambda^t H_0$, Ewens 2004 §1.2).
2. $p_t$ is a martingale, so $\mathrm{Cov}(p_s, p_t) = \mathrm{Var}\,p_{\min(s,t)}$, and by 1,
   $\mathrm{Var}\,p_t = \sum_{r<t}E\,\Sigma(p_r)/n = (1 - \lambda^t)\,\Sigma(p_0)$.
3. The sampling error $\hat x_j - p_{\tau_j}$ has mean 0 given the path and covariance
   $E\,\Sigma(p_{\tau_j})/S_j = \lambda^{d_j}\Sigma(p_0)/S_j$, uncorrelated with the path and other samples.

Hence, given $p_0$, $E\hat x_j = p_0$ and $\mathrm{Cov}(\hat x_i, \hat x_j) = c_{ij}\,\Sigma(p_0)$ with
$$c_{ij} = 1 - \lambda^{\min(d_i, d_j)} + \delta_{ij}\,\lambda^{d_j}/S_j
  \qquad(\texttt{theory.categorical.sampled\_frequency\_covariance}),$$
exactly (no diffusion limit). The expected squared displacement is the diversity lost,
$E\|p_t - p_0\|^2 = (1 - \lambda^t)H_0$; the temporal method of population genetics reads $n$ from the
same second moments (Jorde and Ryman 2007).

**Likelihood** (a moment-matched Gaussian, as in the Gaussian-process approximation of Wright–Fisher
time series of Terhorst, Schlötterer and Song 2015, here with the haploid moments above). For each chain,
the $J \times (K-1)$ matrix of sampled frequencies (one category dropped: the rows sum to 1) is taken as
Gaussian with mean $p_0$ and covariance $C \otimes \Sigma_{K-1}(p_0)$. With $|\Sigma_{K-1}(p)| = \prod_{i=1}^K p_i$
and $\Sigma_{K-1}^{-1} = \mathrm{diag}(1/p_i) + \mathbf 1\mathbf 1^\top/p_K$, the log-likelihood of one chain is
$$-\tfrac12\Big[(K-1)\ln|C| + J\sum_{i=1}^K \ln p_{0,i} + \sum_{i=1}^K \frac{r_i^\top C^{-1} r_i}{p_{0,i}}
  + J(K-1)\ln 2\pi\Big],\qquad r_i = \hat x_{\cdot i} - p_{0,i}\mathbf 1,$$
summed over all $K$ categories (the dropped one's residual is minus the sum of the others'). Chains are
independent and multiply. The first two moments are exact; the Gaussian shape is the approximation: it
is good while every category's expected count in a sample is several units and the chains stay away from
fixation (a chain that has lost a category carries variance 0 in it, the Gaussian a positive one).
Categories never seen in any sample of a chain are left out of that chain (they carry no information
and would make $\Sigma$ singular); a chain with fewer than two categories seen is left out.

**Priors and computation.** $\ln(n_{\rm eff} - 1) \sim N(\ln 29, 1.5^2)$ (the other models'
`PRIOR_N`), and per chain $p_0 \sim \mathrm{Dirichlet}(\mathbf 1)$ on the seen categories. Given $n$, each
chain's log-likelihood is a sum of one function of $p_{0,i}$ per category, so $p_0$ is integrated out
exactly by a convolution on a fine lattice (`drift_marginal`), and the posterior of the one remaining
parameter is computed on a grid (`fit_drift`): no MCMC, no Monte Carlo error in its quantiles. (A NUTS
fit of the same model with every $p_0$ as a parameter gave the same posterior to Monte Carlo precision —
median 99.7, 90% interval 80.0–123.0, against 99.2 and 79.8–122.6 here, on one 50-locus dataset — in
fifty times the wall time on the same machine.)

**Where the Gaussian shape fails.** The moments are exact at any drift; the shape is not: each step's
variance follows the current $\Sigma(p_t)$, which the Gaussian replaces by its mean $\lambda^t\Sigma(p_0)$, and a
chain near fixation barely moves. Over many generations the fit is biased, upward for a skewed $p_0$ and
downward for a central one. Measured (8 datasets of 80 chains, $S = 40$, samples every 2 generations up to 16, so
a drift share $1 - \lambda^{16} = 0.28$ at $n = 50$): a mean posterior median (± its standard error) of
$59.9 \pm 3.0$ for $p_0 = (0.8, 0.2)$
and $45.6 \pm 1.9$ for $(0.5, 0.5)$, where the exact hidden-Markov likelihood gave $50.5$ and $50.1$; with
half the generations (drift share 0.15) and $p_0 = (0.5, 0.3, 0.2)$, $50.9 \pm 0.8$. Keep the drift share of
the sampled span below about 0.2, or use the exact likelihood.

References: Ewens (2004), *Mathematical Population Genetics I*, §1.2; Jorde and Ryman (2007), *Genetics*
177:927–935; Terhorst, Schlötterer and Song (2015), *PLoS Genetics* 11:e1005069; Williamson and Slatkin
(1999), *Genetics* 152:755–761 (the exact hidden-Markov likelihood, `benchmarks/popgen.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import gammaln

from ..theory.categorical import sampled_frequency_covariance
from . import models as M
from ._fit import _check_key, _check_prior

RESOLUTION = (256, 1 << 14)  # bounds of the lattice size Q of the integral over p_0 (chosen from the data)
Z_RANGE = (-1.0, 15.0)  # the posterior of ln(n_eff - 1) is computed on this range (n_eff from 1.37 to 3.3e6)
COARSE, FINE = 49, 121  # points of the coarse grid over Z_RANGE, and of the fine grid where the posterior lives
TAIL = 25.0  # the fine grid spans the coarse points whose log posterior is within TAIL of the maximum
RARE_COUNT = 5.0  # a seen category whose mean count per sample is below this makes the Gaussian shape doubtful
FIXED_SHARE = 0.1  # warn when more chains than this share look fixed (one category) in their last sample
BLOCK = 1 << 22  # chains x categories x grid points per block of the integral (bounds memory)


def _terms(freqs, sizes, d, n):
    r"""Per chain $\ln|C|$ `(C,)`, $c = u^\top u$ `(C,)`, and per (chain, category) $a_i = v_i^\top v_i$,
    $b_i = u^\top v_i$ `(C, K)`, where $LL^\top = C$, $u = L^{-1}\mathbf 1$, $v_i = L^{-1}\hat x_{\cdot i}$."""
    C, J, K = freqs.shape
    cov = sampled_frequency_covariance(d, sizes, n)  # (Cb, J, J), Cb = 1 when every chain has the same sample sizes
    chol = np.linalg.cholesky(cov)  # LinAlgError where C is numerically singular (n near 1: every sample after
    # the first is the same fixed population); `drift_marginal` then gives -inf
    logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    if cov.shape[0] == 1:
        rhs = np.concatenate([np.ones((J, 1)), freqs.transpose(1, 0, 2).reshape(J, C * K)], axis=1)
        w = _solve_lower(chol[0], rhs)
        u, v = w[:, 0], w[:, 1:].reshape(J, C, K).transpose(1, 0, 2)  # (J,), (C, J, K)
        cc = np.full(C, u @ u)
        b = np.einsum("j,cjk->ck", u, v)
        logdet = np.full(C, logdet[0])
    else:
        rhs = np.concatenate([np.ones((C, J, 1)), freqs], axis=2)
        w = np.stack([_solve_lower(chol[c], rhs[c]) for c in range(C)])
        u, v = w[:, :, 0], w[:, :, 1:]
        cc = np.einsum("cj,cj->c", u, u)
        b = np.einsum("cj,cjk->ck", u, v)
    a = np.einsum("cjk,cjk->ck", v, v)
    return logdet, cc, a, b


def _solve_lower(L, B):
    """$L^{-1}B$ for a small lower-triangular $L$ `(J, J)` and `B` `(J, m)`, by forward substitution without BLAS
    (LAPACK's threaded solver spin-waits on a busy machine: 50 ms for a 21 x 21 system there)."""
    out = np.empty_like(B)
    for j in range(L.shape[0]):
        out[j] = (B[j] - np.einsum("i,im->m", L[j, :j], out[:j])) / L[j, j]
    return out


def drift_loglik(freqs, sizes, times, seen, p0, n) -> np.ndarray:
    r"""The Gaussian log-likelihood of each chain's sampled frequencies given $p_0$ (module docstring).

    `freqs` `(C, J, K)` (sampled frequencies; rows sum to 1), `sizes` `(C, J)` or `(1, J)` (the same sizes for
    every chain), `times` `(J,)`, `seen` `(C, K)` (bool: the category appears in some sample of the chain), `p0`
    `(C, K)` on the simplex of the seen categories (0 elsewhere), `n` $> 1$. Returns `(C,)`; a chain with fewer
    than two seen categories gets 0.
    """
    J = freqs.shape[1]
    logdet, cc, a, b = _terms(freqs, sizes, times, n)
    k = seen.sum(axis=1)
    safe = np.where(seen, p0, 1.0)
    quad = np.where(seen, (a - 2.0 * safe * b + safe * safe * cc[:, None]) / safe, 0.0)
    ll = -0.5 * ((k - 1) * logdet + J * np.where(seen, np.log(safe), 0.0).sum(axis=1) + quad.sum(axis=1)
                 + J * (k - 1) * math.log(2.0 * math.pi))
    return np.where(k >= 2, ll, 0.0)


def lattice_size(freqs, sizes, seen) -> int:
    r"""The lattice size $Q$ for `drift_marginal`: at least 4 lattice points per standard deviation of the
    narrowest $f_i$ (a power of two in `RESOLUTION`); a Riemann sum of a smooth peak converges faster than
    any power of the spacing (for a Gaussian of standard deviation $\sigma$ its relative error is about
    $2e^{-2\pi^2\sigma^2/h^2}$, $10^{-136}$ at $h = \sigma/4$).

    $f_i$ has width about $\sqrt{p_i(1 - p_i)/c}$ with $c = \mathbf 1^\top C^{-1}\mathbf 1 \le \sum_j S_j$ (the
    samples' total size bounds the information on $p_0$); $p_i$ is taken as the mean sampled frequency, at
    least one draw in the total.
    """
    tot = np.asarray(sizes, np.float64).sum(axis=-1).max()
    xbar = freqs.mean(axis=1)
    xbar = np.clip(np.minimum(xbar, 1.0 - xbar), 1.0 / tot, 0.5)[seen]
    width = float(np.sqrt(xbar * (1.0 - xbar) / tot).min())
    q = 1 << int(math.ceil(math.log2(4.0 / width)))
    return int(min(max(q, RESOLUTION[0]), RESOLUTION[1]))


def drift_marginal(freqs, sizes, times, seen, n, resolution: int) -> np.ndarray:
    r"""Each chain's likelihood with $p_0$ integrated out: $\ln\int \exp(\ell(p_0))\,\pi(p_0)\,dp_0$, `(C,)`.

    $\pi$ is Dirichlet($\mathbf 1$) on the simplex of the chain's seen categories (density $(k-1)!$). Given
    $n$, $\ell(p_0) = \mathrm{const} - \tfrac12\sum_i g_i(p_{0,i})$ with $g_i(p) = J\ln p + (a_i - 2pb_i + p^2c)/p$
    (`drift_loglik`) is a sum of one function per category, so the integral over the simplex is the
    $k$-fold convolution $(f_1 * \dots * f_k)(1)$ of $f_i = e^{-g_i/2}$: a Riemann sum on the lattice
    $p_i = q_i/Q$, $\sum_i q_i = Q$ (`resolution` $= Q$, see `lattice_size`), computed by FFT convolutions
    truncated to $[0, 1]$ (a dot product for the last category).

    *Tilting.* On the simplex $\prod_i f_i(p_i)e^{-\theta p_i/2} = e^{-\theta/2}\prod_i f_i(p_i)$ for any
    $\theta$, so the integral is computed with the tilted $f_i e^{-\theta p/2}$ and multiplied by $e^{\theta/2}$.
    $\theta$ is chosen (by bisection) so that the tilted functions' maxima, $p_i^* = 2a_i/(J + \sqrt{J^2 +
    4\kappa a_i})$ with $\kappa = c + \theta$, sum to 1: the convolution is then evaluated at its bulk, not
    in a tail where the floating-point range and the FFT's rounding would lose it.
    """
    C, J, K = freqs.shape
    try:
        logdet, cc, a, b = _terms(freqs, sizes, times, n)
    except np.linalg.LinAlgError:
        return np.full(C, -np.inf)
    k = seen.sum(axis=1)
    kappa = _tilt(a, seen, J)  # (C,)
    Q = int(resolution)
    h = 1.0 / Q
    p = np.arange(Q + 1) * h
    out = np.zeros(C)
    step = max(1, BLOCK // (K * (Q + 1)))
    P = 1 << int(math.ceil(math.log2(2 * Q + 2)))
    with np.errstate(divide="ignore"):
        logp = np.log(p)
        inv = np.where(p > 0, 1.0 / np.where(p > 0, p, 1.0), np.inf)
    for lo in range(0, C, step):
        sl = slice(lo, min(C, lo + step))
        aa, bb, sn = a[sl], b[sl], seen[sl]
        k3 = kappa[sl][:, None, None]
        with np.errstate(invalid="ignore"):
            g = J * logp + aa[..., None] * inv - 2.0 * bb[..., None] + k3 * p  # (c, K, Q+1); +inf at p = 0
        lf = np.where(np.isfinite(g), -0.5 * g, -np.inf)
        # an unseen category is a unit point mass at p = 0: the sequence e_0 / h
        lf = np.where(sn[..., None], lf, np.where(np.arange(Q + 1) == 0, -math.log(h), -np.inf))
        m = lf.max(axis=2)
        f = np.exp(lf - m[..., None])
        acc, logc = f[:, 0], m[:, 0]
        for i in range(1, K - 1):  # truncated linear convolutions (length >= 2Q + 1: no wrap-around below Q)
            conv = np.fft.irfft(np.fft.rfft(acc, P) * np.fft.rfft(f[:, i], P), P)[:, :Q + 1] * h
            conv = np.maximum(conv, 0.0)
            top = conv.max(axis=1)
            acc = conv / np.where(top > 0, top, 1.0)[:, None]
            with np.errstate(divide="ignore"):
                logc = logc + m[:, i] + np.log(top)
        last = h * np.einsum("cq,cq->c", acc, f[:, K - 1, ::-1])
        with np.errstate(divide="ignore"):
            out[sl] = logc + m[:, K - 1] + np.log(last) + 0.5 * (kappa[sl] - cc[sl])  # undo the tilt
    ll = -0.5 * ((k - 1) * logdet + J * (k - 1) * math.log(2.0 * math.pi)) + gammaln(np.maximum(k, 1))
    return np.where(k >= 2, ll + out, 0.0)


def _tilt(a, seen, J: int) -> np.ndarray:
    r"""Per chain, $\kappa$ with $\sum_{i\,\rm seen} 2a_i/(J + \sqrt{J^2 + 4\kappa a_i}) = 1$ (`drift_marginal`).

    The sum falls as $\kappa$ rises; $\kappa$ ranges over $[-J^2/(4\max_i a_i), \infty)$, where every term is
    real. Where even the lower end leaves the sum below 1, that end is used (the tilt then only helps).
    """
    aa = np.where(seen, a, 0.0)
    lo = -(J * J) / (4.0 * np.max(aa, axis=1))
    hi = np.maximum(np.abs(lo), 1.0)

    def total(kap):
        return np.sum(np.where(seen, 2.0 * aa / (J + np.sqrt(np.maximum(J * J + 4.0 * kap[:, None] * aa, 0.0))), 0.0),
                      axis=1)

    for _ in range(200):  # grow the upper end until the sum is below 1
        big = total(hi) > 1.0
        if not big.any():
            break
        hi = np.where(big, 2.0 * hi, hi)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        above = total(mid) > 1.0
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return 0.5 * (lo + hi)


@dataclass(frozen=True, eq=False)
class DriftPosterior:
    r"""The posterior of $n_{\rm eff}$ under the drift model (`fit_drift`), on a grid, with draws.

    - `z`, `density`: the grid of $z = \ln(n_{\rm eff} - 1)$ and the normalized posterior density there
      (trapezoid rule); `cdf` its running integral.
    - `draws`: `n_eff` and `rate` ($-\ln(1 - 1/n_{\rm eff})$, the per-generation decay rate of the
      Gini–Simpson diversity, the diversity model's `r_sample`), `(num_samples,)`, by inverse-CDF sampling.
    - `info`: the chains and categories used, the grid, `warnings`.
    - `quantile(name, q)` and `interval(name, level)` are exact on the grid (no Monte Carlo error).
    """

    z: np.ndarray
    density: np.ndarray
    cdf: np.ndarray
    draws: dict[str, np.ndarray]
    key: Any
    info: dict = field(default_factory=dict)

    model = "drift"

    def samples(self, name: str) -> np.ndarray:
        """The draws of `name` (``"n_eff"`` or ``"rate"``)."""
        if name not in self.draws:
            raise KeyError(f"no variable {name!r}; have {tuple(self.draws)}")
        return self.draws[name]

    def quantile(self, name: str, q) -> np.ndarray:
        """Posterior quantiles of `name` at probabilities `q` (interpolated on the grid's CDF)."""
        if name not in self.draws:
            raise KeyError(f"no variable {name!r}; have {tuple(self.draws)}")
        qq = np.asarray(q, np.float64)
        if np.any(~((qq >= 0) & (qq <= 1))):
            raise ValueError(f"quantile probabilities must lie in [0, 1], got {q}")
        if name == "rate":  # decreasing in n_eff
            qq = 1.0 - qq
        n = 1.0 + np.exp(np.interp(qq, self.cdf, self.z))
        return np.asarray(n if name == "n_eff" else -np.log1p(-1.0 / n))

    def interval(self, name: str, level: float = 0.9) -> tuple[float, float]:
        """Equal-tailed credible interval of `name`."""
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        a = (1 - level) / 2
        lo, hi = self.quantile(name, [a, 1 - a])
        return float(lo), float(hi)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(self.info.get("warnings", ()))

    def summary(self) -> str:
        i = self.info
        lines = [f"posterior of the drift model (exact on a grid of {len(self.z)} points in ln(n_eff - 1)): "
                 f"{i['chains_used']} of {i['chains']} chains x {i['samples']} samples of mean size "
                 f"{i['mean_size']:.4g}, K = {i['categories']}",
                 f"{'':>8} {'mean':>11} {'sd':>11} {'5%':>11} {'50%':>11} {'95%':>11}"]
        w = np.gradient(self.cdf)
        for name in ("n_eff", "rate"):
            n = 1.0 + np.exp(self.z)
            x = n if name == "n_eff" else -np.log1p(-1.0 / n)
            mean = float(np.sum(w * x))
            sd = float(np.sqrt(max(np.sum(w * x * x) - mean * mean, 0.0)))
            q5, q50, q95 = np.sort(self.quantile(name, [0.05, 0.5, 0.95]))
            lines.append(f"{name:>8} {mean:11.5g} {sd:11.4g} {q5:11.5g} {q50:11.5g} {q95:11.5g}")
        lines.append("rate = -ln(1 - 1/n_eff): E H_{t+1} = exp(-rate) E H_t for the Gini-Simpson diversity")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _as_counts(counts, sizes) -> np.ndarray:
    """`(J, C, K)` float64 counts from `counts` `(J, C, K)`, or `(J, C)` counts of category 0 with `sizes`."""
    try:
        a = np.asarray(counts, np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"counts must be a numeric array ({e})") from None
    if a.ndim == 2:
        if sizes is None:
            raise ValueError("counts of shape (samples, chains) are counts of category 0: give sizes (the sample "
                             "sizes), or pass counts of shape (samples, chains, K)")
        try:
            s = np.asarray(sizes, np.float64)
            s = np.broadcast_to(s[:, None] if s.ndim == 1 else s, a.shape)
        except (TypeError, ValueError):
            raise ValueError(f"sizes of shape {np.shape(sizes)} do not fit counts of shape {a.shape}: give a scalar, "
                             "one size per sample, or an array (samples, chains)") from None
        if not np.all(np.isfinite(s)) or np.any(s != np.round(s)) or np.any(s < 1):
            raise ValueError(f"sizes must be integers >= 1, got {sizes!r}")
        if np.any(a > s):
            raise ValueError("counts exceed their sample sizes")
        a = np.stack([a, s - a], axis=-1)
    elif a.ndim == 3:
        if sizes is not None:
            raise ValueError("sizes are the row sums of counts of shape (samples, chains, K): do not pass them")
    else:
        raise ValueError(f"counts must have shape (samples, chains, K) or (samples, chains), got {a.shape}")
    J, C, K = a.shape
    if J < 2:
        raise ValueError(f"counts has {J} sample(s); drift needs at least 2")
    if C < 1 or K < 2:
        raise ValueError(f"counts needs at least one chain and K >= 2 categories, got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(a != np.round(a)):
        raise ValueError("counts must be finite integers >= 0")
    if np.any(a.sum(axis=2) < 1):
        raise ValueError("every sample must hold at least one draw (found a sample size of 0)")
    return a


def _as_times(times, J: int) -> np.ndarray:
    if times is None:
        return np.arange(J, dtype=np.float64)
    try:
        t = np.asarray(times, np.float64)
    except (TypeError, ValueError):
        t = np.zeros(0)
    if t.shape != (J,) or not np.all(np.isfinite(t)) or np.any(t != np.round(t)) or np.any(np.diff(t) <= 0):
        raise ValueError(f"times must be {J} strictly increasing integer generations (one per sample), got {times!r}")
    return t


def fit_drift(key, counts, *, sizes=None, times=None, prior_n: tuple[float, float] = M.PRIOR_N,
              num_samples: int = 4000, resolution: int | None = None) -> DriftPosterior:
    r"""The posterior of $n_{\rm eff}$ of Wright–Fisher drift from sampled category counts (the drift model).

    **Arguments:**

    - `key`: a `jax.random.key` (used only for the draws).
    - `counts`: shape `(samples, chains, K)`: the category counts of the sample drawn at each sampled
      generation from each chain (sample sizes are the row sums and may differ); or `(samples, chains)`:
      counts of category 0, with `sizes`. Chains are independent (loci, or independent runs).
    - `sizes`: with 2-D `counts` only: the sample sizes (a scalar, one per sample, or `(samples, chains)`).
    - `times`: the sampled generations (strictly increasing integers); default `0, 1, ...`.
    - `prior_n`: normal prior `(loc, scale)` of $\ln(n_{\rm eff} - 1)$ (default: the other models').
    - `num_samples`: draws returned in `draws`; `resolution`: the lattice size of the integral over $p_0$
      (default `lattice_size`: 4 points per standard deviation of the narrowest integrand).

    The likelihood (module docstring) has the exact first two moments of Wright–Fisher drift observed
    through multinomial samples and a Gaussian shape; each chain's $p_0$ is integrated out exactly
    (`drift_marginal`) and the one-dimensional posterior of $\ln(n_{\rm eff} - 1)$ is computed on a grid
    (no MCMC: the result is deterministic up to the draws). Returns a `DriftPosterior`. Raises
    `ValueError` on bad input.
    """
    import jax

    _check_key(key)
    prior_n = _check_prior("prior_n", prior_n)
    for name, v, lo in (("num_samples", num_samples, 1), ("resolution", 16 if resolution is None else resolution, 16)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    a = _as_counts(counts, sizes)
    J, C, K = a.shape
    t = _as_times(times, J)
    seen = a.sum(axis=0) > 0  # (C, K)
    used = seen.sum(axis=1) >= 2
    if not np.any(used):
        raise ValueError("no chain shows two or more categories in its samples: fixed chains carry no information "
                         "on drift")
    size = a.sum(axis=2)  # (J, C)
    freqs = (a / size[:, :, None]).transpose(1, 0, 2)[used]  # (C', J, K)
    sz = size.T[used]
    sz = sz[:1] if np.all(sz == sz[:1]) else sz  # one Cholesky factor when every chain has the same sizes
    sn = seen[used]
    warn = []
    rare = sn & (a.mean(axis=0)[used] < RARE_COUNT)
    if rare.any():
        warn.append(f"{rare.sum() / sn.sum():.0%} of the seen (chain, category) pairs have a mean count below "
                    f"{RARE_COUNT:g} per sample: the Gaussian shape of the drift likelihood is doubtful there; pool "
                    "rare categories before fitting")
    fixed_last = float(np.mean((a[-1][used] > 0).sum(axis=1) < 2))
    if fixed_last > FIXED_SHARE:
        warn.append(f"{fixed_last:.0%} of the chains show one category in their last sample (fixed or nearly): the "
                    "Gaussian likelihood ignores absorption (its moments stay exact)")

    if resolution is None:
        resolution = lattice_size(freqs, sz, sn)

    def log_post(z):
        lp = np.array([drift_marginal(freqs, sz, t, sn, 1.0 + math.exp(zz), resolution).sum() for zz in z])
        return lp - 0.5 * ((z - prior_n[0]) / prior_n[1]) ** 2

    zc = np.linspace(*Z_RANGE, COARSE)
    lc = log_post(zc)
    keep = np.flatnonzero(lc >= lc.max() - TAIL)
    z = np.linspace(zc[max(keep[0] - 1, 0)], zc[min(keep[-1] + 1, COARSE - 1)], FINE)
    lp = log_post(z)
    dens = np.exp(lp - lp.max())
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(z))])
    norm = cdf[-1]
    dens, cdf = dens / norm, cdf / norm
    if dens[0] > 1e-3 * dens.max() or dens[-1] > 1e-3 * dens.max():
        warn.append(f"the posterior reaches the end of the grid ln(n_eff - 1) in [{Z_RANGE[0]:g}, {Z_RANGE[1]:g}]: "
                    "the data hardly constrain n_eff")
    u = np.asarray(jax.random.uniform(key, (int(num_samples),), dtype=np.float32), np.float64)
    n = 1.0 + np.exp(np.interp(u, cdf, z))
    draws = {"n_eff": n, "rate": -np.log1p(-1.0 / n)}
    info = {"chains": int(C), "chains_used": int(used.sum()), "samples": int(J), "categories": int(K), "times": t,
            "mean_size": float(size.mean()), "prior_n": prior_n, "resolution": int(resolution), "warnings": warn}
    return DriftPosterior(z, dens, cdf, draws, key, info)
