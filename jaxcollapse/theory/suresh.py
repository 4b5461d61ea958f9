r"""How fast recursive training forgets: survival of a symbol, of a Poisson rate, of a Gaussian's spread.

Conventions (those of `jaxcollapse.simulate`): model 0 is the truth; generation $k \ge 1$ refits on $n$
samples of model $k-1$ (replace). Categorical: $N_k \sim \mathrm{Bin}(n, p_{k-1})$ for one symbol's count,
the two-type Wright–Fisher chain; Poisson: $S_k \sim \mathrm{Poisson}(n\Lambda_{k-1})$, $\Lambda_k = S_k/n$;
Gaussian: $\sigma_k^2 = \sigma_{k-1}^2\,\chi^2_{n-1}/m$ with $m = n - 1$ (unbiased) or $n$ (MLE).

**The iterates $g_k$.** $g(x) = 1 - e^{-x}$ and $g_k = g^{\circ k}(\infty)$: $g_1 = 1$, $g_2 = 1 - e^{-1}$,
..., decreasing like $2/k$. With $q_j = 1 - g_{j+1}$, $q_0 = 0$ and $q_j = e^{q_{j-1} - 1}$ is the
extinction probability by generation $j$ of a critical Galton–Watson process with Poisson(1) offspring
(Harris 1963).

**Poisson (Suresh et al. 2024's bound; exact here).** $P(\Lambda_k \ne 0) \ge 1 - \exp(-n\lambda_0 g_k)$
is stated as a bound; for this model it holds with equality: $S_1 \sim \mathrm{Poisson}(n\lambda_0)$ and each
unit of $S_{k-1}$ has Poisson(1) offspring, so $P(S_k = 0) = E[q_{k-1}^{S_1}] = e^{-n\lambda_0(1 - q_{k-1})}
= e^{-n\lambda_0 g_k}$ (the same number as `jaxcollapse.theory.poisson.poisson_extinction_probability`).

**Bernoulli / a categorical symbol (derived here).** A symbol of probability $p_0$ survives generation $k$
with probability at least $1 - \exp(-np_0 g_k)$: $\mathrm{Bin}(n, x/n)$ is smaller in the convex order
than $\mathrm{Poisson}(x)$ (Hoeffding 1956), and $s \mapsto q^s$ is convex, so
$E[q^{N_k} \mid N_{k-1} = x] \le e^{x(q - 1)}$; by induction $P(N_k = 0) \le E[q_{k-1}^{N_1}] \le
e^{-np_0 g_k}$. Since $g_k \sim 2/k$, a symbol with $np_0$ expected occurrences keeps a survival probability
of order one for about $np_0$ generations: "the time to forget a word is roughly linear in its
count" (Suresh et al. 2024). The exact survival probability is `wright_fisher_survival` (powers of the
transition matrix).

**Gaussian (Suresh et al. 2024).** $P(\sigma_k > \varepsilon) \le (\sigma_0/\varepsilon)e^{-k/(4n)}$
(their bound as quoted in the paper's summary page, sciencestack.ai/paper/2412.17646). Re-derived here for
the unbiased refit (hence also for the MLE, whose $\sigma_k$ is smaller): Markov's inequality gives
$P(\sigma_k > \varepsilon) \le E\sigma_k/\varepsilon = (\sigma_0/\varepsilon)c^k$ with
$c = E\sqrt{\chi^2_{n-1}/(n-1)}$, and $c \le e^{-1/(4n)}$: with $k = n - 1$,
$c = 1 - \frac1{4k} + \frac1{32k^2} + \frac5{128k^3} + \dots$, so $-\ln c = \frac1{4k} - O(k^{-3})$, above
$\frac1{4n}$ by about $\frac1{4n(n-1)}$ (checked with `gammaln` for every $n$ from 2 to $10^4$ in the tests).
The exact tail is `gaussian_sigma_tail`.

The exact theorem statements of Suresh et al. (and of Bertrand et al.'s Gaussian bound, which the paper
compares with) could not be read for this module: the stored copy of arXiv:2412.17646 holds its first page
only. The bounds above are those the issue and the paper's summary state, re-derived; the exact values are
derived here.

References:

- Suresh, Thangaraj and Khandavally (2024), "Rate of model collapse in recursive training"
  (arXiv:2412.17646; AISTATS 2025, PMLR 258:1396-1404).
- Harris (1963), *The Theory of Branching Processes*; Athreya and Ney (1972), *Branching Processes*, §I.
- Hoeffding (1956), "On the distribution of the number of successes in independent trials", *Ann. Math.
  Statist.* 27 (a sum of independent Bernoulli variables is dominated in convex order by the Poisson law of the
  same mean; Bin(n, x/n) is the equal-probability case).
- Gil-Pelaez (1951), "Note on the inversion theorem", *Biometrika* 38 (the tail from the characteristic function).
"""

from __future__ import annotations

import math

import numpy as np
from jaxtyping import ArrayLike

__all__ = [
    "expected_surviving",
    "gaussian_sigma_tail",
    "suresh_g",
    "suresh_gaussian_bound",
    "suresh_survival_bound",
    "wright_fisher_survival",
]


def _gens(k) -> np.ndarray:
    k = np.asarray(k)
    if k.size and (np.any(k < 0) or np.any(k != np.floor(k))):
        raise ValueError(f"generations k = {k} are invalid: k must be integers >= 0")
    return k.astype(np.int64)


def suresh_g(k: ArrayLike) -> np.ndarray:
    r"""$g_k = g^{\circ k}(\infty)$, $g(x) = 1 - e^{-x}$: $g_0 = \infty$, $g_1 = 1$, $g_{k+1} = 1 - e^{-g_k}$.

    Suresh et al. 2024's iterates (module docstring); $1 - g_{j+1}$ is the extinction probability by
    generation $j$ of a critical Poisson(1) Galton–Watson process, and $g_k \sim 2/k$ (Kolmogorov).
    """
    k = _gens(k)
    top = int(k.max(initial=0))
    g = np.empty(top + 1)
    g[0] = np.inf
    x = 1.0
    for j in range(1, top + 1):
        g[j] = x
        x = -math.expm1(-x)
    return np.asarray(g[k], np.float64)


def suresh_survival_bound(k: ArrayLike, n: ArrayLike, mass0: ArrayLike) -> np.ndarray:
    r"""$1 - \exp(-n\,p_0\,g_k)$: Suresh et al.'s survival bound after $k \ge 1$ generations of $n$ samples.

    `mass0` is the Poisson rate $\lambda_0$ or the symbol's probability $p_0$ (broadcast against `k`).
    Poisson: equal to $P(\Lambda_k \ne 0)$ exactly; a categorical symbol: a lower bound of $P(p_k \ne 0)$
    (both derived in the module docstring). At $k = 0$ it returns 1 for $p_0 > 0$ (model 0 is the truth).
    """
    g = suresh_g(k)
    x = np.asarray(n, np.float64) * np.asarray(mass0, np.float64)
    return np.asarray(np.where(np.isinf(g), np.where(x > 0, 1.0, 0.0), -np.expm1(-x * np.where(np.isinf(g), 0.0, g))),
                      np.float64)


def _survival_vectors(n: int, ks: np.ndarray) -> np.ndarray:
    """u_j(x) = P(N_j != 0 | N_0 = x), x = 0..n, for each j of `ks` (rows): u_j = P u_{j-1}, u_0 = 1{x > 0}."""
    from .categorical import wright_fisher_matrix

    P = wright_fisher_matrix(int(n))
    u = (np.arange(n + 1) > 0).astype(np.float64)
    out = np.empty((ks.size, n + 1))
    for j in range(int(ks.max(initial=0)) + 1):
        if j > 0:
            # einsum's own loop, not BLAS: a threaded BLAS matrix-vector product cost 8x the CPU time here
            # (thousands of small products, each waking the thread pool), 10x on a loaded machine
            u = np.einsum("ij,j->i", P, u)
        out[ks == j] = u
    return out


def wright_fisher_survival(k: ArrayLike, n: int, p0: ArrayLike) -> np.ndarray:
    r"""$P(p_k \ne 0)$ exactly, for a symbol of probability $p_0$ (replace, $n$ draws per generation).

    Model 0 is the truth, so $N_1 \sim \mathrm{Bin}(n, p_0)$, and afterwards the count is the two-type
    Wright–Fisher chain with $P_{xy} = \binom ny (x/n)^y(1 - x/n)^{n-y}$
    (`jaxcollapse.theory.categorical.wright_fisher_matrix`): $P(p_k \ne 0) = \sum_x \mathrm{Bin}(n, p_0)(x)\,
    u_{k-1}(x)$ with $u_j = P^j\mathbf 1_{x>0}$. Shape `k.shape + p0.shape`. $O(n^2\max k)$ arithmetic for
    the survival vectors plus $O(n\,|p_0|\,|k|)$; fine for $n$ up to a few thousand. Derived here (the chain's
    definition; Ewens 2004, §1.2).
    """
    from scipy import stats

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n = {n!r} is invalid: n must be an integer >= 1")
    k = _gens(k)
    p0 = np.asarray(p0, np.float64)
    if np.any((p0 < 0) | (p0 > 1)):
        raise ValueError(f"p0 = {p0} is invalid: probabilities must lie in [0, 1]")
    kf = k.reshape(-1)
    u = _survival_vectors(int(n), np.maximum(kf - 1, 0))  # (|k|, n + 1)
    first = stats.binom.pmf(np.arange(n + 1)[None, :], n, p0.reshape(-1)[:, None])  # (|p0|, n + 1)
    surv = u @ first.T  # (|k|, |p0|)
    surv = np.where((kf == 0)[:, None], (p0.reshape(-1) > 0)[None, :].astype(np.float64), surv)
    return np.asarray(surv.reshape(k.shape + p0.shape), np.float64)


def expected_surviving(k: ArrayLike, n: int, p: ArrayLike) -> np.ndarray:
    r"""$E\,\#\{i : p_{k,i} > 0\} = \sum_i P(p_{k,i} \ne 0)$: the expected number of surviving categories (exact).

    Each symbol's count is its own two-type Wright–Fisher chain, so the expectation is the sum of
    `wright_fisher_survival` over the categories of $p$ (the counts are dependent; their expected sum is
    not). Shape of `k`. Divide by the number of categories for the surviving fraction.
    """
    p = np.asarray(p, np.float64)
    if p.ndim != 1:
        raise ValueError(f"p must be a vector of probabilities, got shape {p.shape}")
    return np.asarray(wright_fisher_survival(k, n, p).sum(axis=-1), np.float64)


def suresh_gaussian_bound(k: ArrayLike, n: ArrayLike, eps: ArrayLike, sigma0: ArrayLike = 1.0) -> np.ndarray:
    r"""$(\sigma_0/\varepsilon)\,e^{-k/(4n)}$: Suresh et al.'s bound on $P(\sigma_k > \varepsilon)$ (may exceed 1).

    Valid for the unbiased and the MLE refit of a 1-D Gaussian on $n$ samples per generation (re-derived in
    the module docstring: Markov's inequality and $E\sqrt{\chi^2_{n-1}/(n-1)} \le e^{-1/(4n)}$).
    """
    k = np.asarray(k, np.float64)
    return np.asarray(np.asarray(sigma0, np.float64) / np.asarray(eps, np.float64)
                      * np.exp(-k / (4.0 * np.asarray(n, np.float64))), np.float64)


def gaussian_sigma_tail(k: ArrayLike, n: int, eps: float, sigma0: float = 1.0, estimator: str = "unbiased"
                        ) -> np.ndarray:
    r"""$P(\sigma_k > \varepsilon)$ exactly: replace, 1-D Gaussian refit on $n$ samples per generation.

    $\ln(\sigma_k^2/\sigma_0^2) = Y = \sum_{i\le k}\ln(\chi^2_{n-1,i}/m)$ ($m = n - 1$ unbiased, $n$ MLE), a
    sum of $k$ independent log-chi-squares with characteristic function
    $\varphi(t)^k$, $\varphi(t) = (2/m)^{it}\,\Gamma(\tfrac{n-1}2 + it)/\Gamma(\tfrac{n-1}2)$. The tail
    $P(Y > y)$, $y = 2\ln(\varepsilon/\sigma_0)$, by Gil-Pelaez's inversion
    $\tfrac12 + \tfrac1\pi\int_0^\infty \mathrm{Im}[e^{-ity}\varphi(t)^k]/t\,dt$ (adaptive quadrature,
    absolute error below $10^{-10}$). $k = 0$: $1\{\sigma_0 > \varepsilon\}$. Derived here.
    """
    from scipy import integrate
    from scipy.special import loggamma

    if estimator not in ("unbiased", "mle"):
        raise ValueError(f"estimator = {estimator!r} is invalid: estimator must be 'unbiased' or 'mle'")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n = {n!r} is invalid: n must be an integer >= 2")
    if not (eps > 0 and sigma0 > 0):
        raise ValueError(f"eps = {eps!r} and sigma0 = {sigma0!r} must be > 0")
    k = _gens(k)
    nu = n - 1.0
    m = nu if estimator == "unbiased" else float(n)
    y = 2.0 * math.log(eps / sigma0)
    shift = math.log(2.0) - math.log(m)
    base = loggamma(nu / 2.0)

    def tail(kk: int) -> float:
        if kk == 0:
            return float(sigma0 > eps)

        def f(t):
            return (np.exp(kk * (1j * t * shift + loggamma(nu / 2.0 + 1j * t) - base) - 1j * t * y)).imag / t

        val, _err = integrate.quad(f, 0.0, np.inf, limit=2000, epsabs=1e-12, epsrel=1e-10)
        return min(1.0, max(0.0, 0.5 + val / math.pi))

    flat = np.array([tail(int(x)) for x in k.reshape(-1)])
    return np.asarray(flat.reshape(k.shape), np.float64)
