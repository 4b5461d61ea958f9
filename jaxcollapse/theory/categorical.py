r"""Closed forms for the categorical (Wright–Fisher) family under recursive refitting.

Conventions (those of `jaxcollapse.simulate`): model 0 is the truth; generation $t \ge 1$ refits on
data drawn from model $t-1$. Categorical: $p_t = N_t/n$ with $N_t \sim \mathrm{Multinomial}(n, p_{t-1})$
(replace), the haploid Wright–Fisher model with population size $n$; the heterozygosity (Gini–Simpson
index) is $H(p) = 1 - \sum_i p_i^2$. The Poisson family's closed forms are in `jaxcollapse.theory.poisson`.

Functions return float64 numpy arrays (`t` may be an int or an array of generations). The exact Markov
chain results (`wright_fisher_absorption`, `wright_fisher_k_absorption`) are linear algebra on the
chain's fundamental matrix $N = (I - Q)^{-1}$, not simulations.

Two facts carry the derivations marked "derived here":

1. **Martingale.** $E[p_t \mid p_{t-1}] = p_{t-1}$ and $\mathrm{Var}(p_{t,i} \mid p_{t-1}) = p_{t-1,i}(1-p_{t-1,i})/n$.
   Hence $E\sum_i p_{t,i}^2 = (1 - 1/n) E\sum_i p_{t-1,i}^2 + 1/n$, i.e. $EH_t = (1 - 1/n) EH_{t-1}$.
2. **Mean recursion.** If $p_t = p_{t-1} + a_t(\bar x_t - p_{t-1})$ (plus independent real data), the
   per-category error $e_{t,i} = E(p_{t,i} - p_{0,i})^2$ is $v_i\,\varepsilon_t$ with $v_i = p_{0,i}(1-p_{0,i})$
   and a scalar $\varepsilon_t$, because $E[p_{t-1,i}(1 - p_{t-1,i})] = v_i - e_{t-1,i}$. Then
   $EH_t = H_0(1 - \varepsilon_t)$ since $\sum_i v_i = H_0$.

Corrections to the project's THEORY.md found while re-deriving: none of substance. Its Zipf formula is
right for an untruncated Zipf law (re-derived in `zipf_mass_lost_asymptotic`); for a Zipf law truncated at
$K$ categories the exact finite sum (`mass_lost_one_generation`) differs from it by $O(n^{-1})$ and by the
mass beyond $K$ (a few percent at $K = 5000$, $n = 1000$, $\beta = 2$).

References:

- Seddik, Chen, Hayou, Youssef and Debbah (2024), "How bad is training on synthetic data? A statistical
  analysis of language model collapse" (COLM).
- Ewens (2004), *Mathematical Population Genetics I*, Springer: §1.2 (heterozygosity decay under
  Wright–Fisher), §2.x (fixation probability $=$ initial frequency), §4 (diffusion times).
- Kimura and Ohta (1969), "The average number of generations until fixation of a mutant gene in a
  finite population", *Genetics* 61.
- Littler (1975), "Loss of variability at one locus in a finite population", *Math. Biosci.* 25.
- Kemeny and Snell (1960), *Finite Markov Chains*, ch. III (fundamental matrix; absorbing chains).
- Dohmatob, Feng, Yang, Charton and Kempe (2024), "A Tale of Tails: Model Collapse as a Change of
  Scaling Laws" (ICML).
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import NamedTuple

import numpy as np
from jaxtyping import ArrayLike

__all__ = [
    "WFAbsorption",
    "absorption_time_diffusion",
    "fixation_probability",
    "fixation_time_diffusion",
    "fresh_drift_probabilities",
    "heterozygosity_accumulate",
    "heterozygosity_accumulate_limit",
    "heterozygosity_fresh",
    "heterozygosity_mean",
    "heterozygosity_one_step",
    "heterozygosity_schedule",
    "heterozygosity_smoothed",
    "littler_time",
    "loss_time_diffusion",
    "mass_lost_one_generation",
    "sampled_frequency_covariance",
    "tempered_probabilities",
    "wright_fisher_absorption",
    "wright_fisher_k_absorption",
    "wright_fisher_matrix",
    "zipf_mass_lost_asymptotic",
]


def _special():
    """`scipy.special`, imported on first use (keeps `import jaxcollapse` light)."""
    from scipy import special

    return special


def _t(t) -> np.ndarray:
    return np.asarray(t, dtype=np.float64)


# --------------------------------------------------------------------------- heterozygosity
def heterozygosity_mean(t: ArrayLike, n: ArrayLike, h0: ArrayLike) -> np.ndarray:
    r"""$E[1 - \sum_i p_{t,i}^2] = (1 - 1/n)^t\,(1 - \sum_i p_{0,i}^2)$: replace, $n$ draws per generation.

    Exact for every $t$, $K$ and $p_0$ (fact 1 of the module docstring): the expected Gini–Simpson index
    of the Wright–Fisher model decays geometrically at rate $1/n$.

    Source: Seddik et al. 2024, §3 (language-model collapse, the categorical case); classical for
    Wright–Fisher (Ewens 2004, §1.2).
    """
    return np.asarray(np.asarray(h0, np.float64) * (1.0 - 1.0 / np.asarray(n, np.float64)) ** _t(t))


def sampled_frequency_covariance(times: ArrayLike, sizes: ArrayLike, n: ArrayLike) -> np.ndarray:
    r"""The time factor $c$ of $\mathrm{Cov}(\hat x_i, \hat x_j \mid p_0) = c_{ij}\,(\mathrm{diag}(p_0) - p_0p_0^\top)$.

    A Wright–Fisher chain (replace, $n$ draws) is observed at generations $\tau_0 < \tau_1 < \dots$ through
    independent samples $\hat x_j = \mathrm{Mult}(S_j, p_{\tau_j})/S_j$; $p_0 = p_{\tau_0}$, $d_j = \tau_j -
    \tau_0$, $\lambda = 1 - 1/n$. Then $E\hat x_j = p_0$ and
    $$c_{ij} = 1 - \lambda^{\min(d_i, d_j)} + \delta_{ij}\,\lambda^{d_j}/S_j,$$
    exactly. Derived here: with $\Sigma(p) = \mathrm{diag}(p) - pp^\top$, fact 1 of the module docstring in
    matrix form is $E[\Sigma(p_{t+1}) \mid p_t] = \lambda\Sigma(p_t)$ (as $E[p_{t+1}p_{t+1}^\top \mid p_t] =
    p_tp_t^\top + \Sigma(p_t)/n$), so $E\Sigma(p_t) = \lambda^t\Sigma(p_0)$; $p_t$ is a martingale, so
    $\mathrm{Cov}(p_s, p_t) = \mathrm{Var}\,p_{\min(s,t)} = \sum_{r < \min(s,t)} E\Sigma(p_r)/n =
    (1 - \lambda^{\min(s,t)})\Sigma(p_0)$; the sampling error of $\hat x_j$ has mean 0 given the path,
    covariance $E\Sigma(p_{\tau_j})/S_j = \lambda^{d_j}\Sigma(p_0)/S_j$, and is uncorrelated with the path and
    the other samples. The trace is the Gini–Simpson law: $E\|p_t - p_0\|^2 = (1 - \lambda^t)H_0$, the
    diversity lost.

    `times` `(J,)` increasing; `sizes` broadcast to `(..., J)`; `n` $> 1$ (a float: an effective size).
    Returns `(..., J, J)`. Used by the drift model of `jaxcollapse.bayes` (`fit_drift`).
    """
    t = _t(times)
    d = t - t[0]
    loglam = math.log1p(-1.0 / float(n))  # lambda^m = exp(m log lambda); 1 - lambda^m = -expm1(.) (large n)
    s = np.asarray(sizes, np.float64)
    s = np.broadcast_to(s, np.broadcast_shapes(s.shape, d.shape))
    drift = -np.expm1(loglam * np.minimum(d[:, None], d[None, :]))
    return drift + (np.exp(loglam * d) / s)[..., :, None] * np.eye(d.size)


def heterozygosity_schedule(ns: ArrayLike, h0: ArrayLike) -> np.ndarray:
    r"""$EH_t = H_0\prod_{i \le t}(1 - 1/n_i)$ for sample sizes $n_1, n_2, \dots$: one value per $t = 1..len(ns)$.

    Derived here (fact 1 with $n_i$ in generation $i$). $H_t \to 0$ iff $\sum_i 1/n_i = \infty$.
    """
    return np.asarray(np.asarray(h0, np.float64) * np.cumprod(1.0 - 1.0 / np.asarray(ns, np.float64)))


def heterozygosity_one_step(p: ArrayLike, n: ArrayLike, q: ArrayLike | None = None) -> np.ndarray:
    r"""$E H_1 = (1 - 1/n)(1 - \sum_i q_i^2)$ when the $n$ draws come from $q$ (a decoded $p$), $q = p$ by default.

    Derived here (fact 1 for one generation, the draws from $q$): the decoding choices (temperature,
    top-k, top-p) enter only through $q$.
    """
    q = np.asarray(p if q is None else q, np.float64)
    return np.asarray((1.0 - 1.0 / np.asarray(n, np.float64)) * (1.0 - np.sum(q * q)), np.float64)


def heterozygosity_smoothed(t: ArrayLike, n: ArrayLike, K: int, alpha: ArrayLike, h0: ArrayLike) -> np.ndarray:
    r"""$EH_t$ with additive smoothing: $p_t = (N_t + \alpha)/(n + K\alpha)$, replace.

    Derived here. With $s_t = E\sum_i p_{t,i}^2$ and $E(N_i + \alpha)^2 = n p_i(1-p_i) + (np_i + \alpha)^2$:
    $s_t = a\,s_{t-1} + b$, $a = n(n-1)/(n+K\alpha)^2$, $b = (n + 2n\alpha + K\alpha^2)/(n + K\alpha)^2$, so
    $s_t = s_\infty + a^t(s_0 - s_\infty)$ with $s_\infty = b/(1-a)$, and $EH_t = 1 - s_t$. For $\alpha > 0$
    no category is ever lost and $EH_t \to 1 - s_\infty > 0$ (no collapse to a point mass).
    """
    t = _t(t)
    d = (n + K * alpha) ** 2
    a = n * (n - 1.0) / d
    b = (n + 2.0 * n * alpha + K * alpha * alpha) / d
    s0 = 1.0 - h0
    s_inf = b / (1.0 - a)
    return np.asarray(1.0 - (s_inf + a**t * (s0 - s_inf)), np.float64)


def _eps_recursion(coef: np.ndarray, carry: np.ndarray) -> np.ndarray:
    """eps_t = carry_t * eps_{t-1} + coef_t, eps_0 = 0, for t = 1..len(coef)."""
    out = np.empty(len(coef))
    e = 0.0
    for i in range(len(coef)):
        e = carry[i] * e + coef[i]
        out[i] = e
    return np.asarray(out, np.float64)


def heterozygosity_accumulate(t: ArrayLike, n: int, h0: ArrayLike) -> np.ndarray:
    r"""$EH_t = H_0\prod_{j=1}^{t}\bigl(1 - \frac{1}{n j^2}\bigr)$: accumulate ($n$ new draws a generation, fit on all).

    Derived here: $p_t = p_{t-1} + \frac1t(\bar x_t - p_{t-1})$, so (fact 2 with $a_t = 1/t$)
    $1 - \varepsilon_t = (1 - \varepsilon_{t-1})(1 - 1/(n t^2))$. The categorical counterpart of the
    $\pi^2/6$ law of Dey and Donoho 2024 for the Gaussian mean: see `heterozygosity_accumulate_limit`.
    """
    t = np.atleast_1d(_t(t)).astype(np.int64)
    j = np.arange(1, int(t.max()) + 1, dtype=np.float64)
    prods = np.concatenate([[1.0], np.cumprod(1.0 - 1.0 / (n * j * j))])
    return np.asarray(h0 * prods[t], np.float64)


def heterozygosity_accumulate_limit(n: ArrayLike, h0: ArrayLike) -> float:
    r"""Accumulate: $\lim_t EH_t = H_0\,\frac{\sin(\pi/\sqrt n)}{\pi/\sqrt n} \approx H_0(1 - \frac{\pi^2}{6n})$.

    Derived here from Euler's product $\sin(\pi x)/(\pi x) = \prod_{j\ge1}(1 - x^2/j^2)$ at $x = 1/\sqrt n$:
    accumulating keeps all but a fraction $\approx \pi^2/(6n)$ of the diversity, whereas replace loses it all.
    """
    x = math.pi / math.sqrt(n)
    return float(h0 * math.sin(x) / x)


def heterozygosity_fresh(t: ArrayLike, n_real: int, n_syn: int, h0: ArrayLike) -> np.ndarray:
    r"""$EH_t = H_0(1 - \varepsilon_t)$ with $n_r$ fresh real draws of $p_0$ and $n_s$ synthetic draws per generation.

    Derived here (fact 2): with $N = n_r + n_s$,
    $\varepsilon_t = [N + n_s(n_s - 1)\varepsilon_{t-1}]/N^2$, $\varepsilon_0 = 0$: the same recursion as the
    Gaussian MLE mean error with fresh data (`jaxcollapse.theory.fresh_mle_mean_sq_err` at $\sigma^2 = 1$).
    """
    t = np.atleast_1d(_t(t)).astype(np.int64)
    N = float(n_real + n_syn)
    g = int(t.max())
    eps = _eps_recursion(np.full(g, 1.0 / N), np.full(g, n_syn * (n_syn - 1.0) / N**2))
    eps = np.concatenate([[0.0], eps])
    return np.asarray(h0 * (1.0 - eps[t]), np.float64)


def tempered_probabilities(p: ArrayLike, temperature: ArrayLike = 1.0, top_k: int | None = None,
                           top_p: float | None = None) -> np.ndarray:
    r"""The decoded distribution $q$ (float64 numpy): $q \propto p^{1/\tau}$, then top-k, then top-p, renormalized.

    A definition: the same rule as `Categorical.sampling_probs` (ties in top-k broken by the lower index),
    written independently in numpy for the checks.
    """
    p = np.asarray(p, np.float64)
    q = np.where(p > 0, np.exp((np.log(np.where(p > 0, p, 1.0)) - np.log(p.max())) / temperature), 0.0)
    if top_k is not None:
        order = np.argsort(-q, kind="stable")
        keep = np.zeros(q.size, bool)
        keep[order[:top_k]] = True
        q = np.where(keep, q, 0.0)
    if top_p is not None:
        order = np.argsort(-q, kind="stable")
        qs = q[order] / q.sum()
        before = np.cumsum(qs) - qs
        keep = np.zeros(q.size, bool)
        keep[order[before < top_p]] = True
        q = np.where(keep, q, 0.0)
    return np.asarray(q / q.sum(), np.float64)


# --------------------------------------------------------------------------- fixation and absorption
def fixation_probability(p0: ArrayLike) -> np.ndarray:
    r"""$P(\text{category } i \text{ ends as the sole survivor}) = p_{0,i}$ (replace, any $n$).

    $p_{t,i}$ is a bounded martingale that is absorbed in $\{0, 1\}$, so $P(p_{\infty,i} = 1) = E p_{\infty,i} =
    p_{0,i}$ (optional stopping). Source: Ewens 2004, §1.2/§3.
    """
    return np.asarray(p0, np.float64)


def wright_fisher_matrix(n: int) -> np.ndarray:
    r"""The $(n+1)\times(n+1)$ transition matrix of one category's count: $P_{jk} = \binom nk (j/n)^k (1-j/n)^{n-k}$.

    The two-type Wright–Fisher chain (Ewens 2004, §1.2).
    """
    j = np.arange(n + 1, dtype=np.float64)
    from scipy import stats

    return np.asarray(stats.binom.pmf(np.arange(n + 1)[None, :], n, (j / n)[:, None]), np.float64)


class WFAbsorption(NamedTuple):
    """Exact two-type Wright–Fisher absorption quantities, indexed by the initial count k = 0..n
    (`wright_fisher_absorption`: Kemeny and Snell 1960)."""

    time: np.ndarray  # E[T | k], T the first t with p_t in {0, 1}
    loss: np.ndarray  # P(lost | k) = 1 - k/n
    time_given_loss: np.ndarray  # E[T | k, lost] (NaN at k = n)
    time_given_fixation: np.ndarray  # E[T | k, fixed] (NaN at k = 0)


def wright_fisher_absorption(n: int) -> WFAbsorption:
    r"""Exact absorption results of one category (initial count $k$ of $n$), from the fundamental matrix.

    With $Q$ the transition matrix restricted to the transient states $1..n-1$ and $N = (I - Q)^{-1}$
    (Kemeny and Snell 1960, thm. 3.2.4/3.3.5): mean absorption times $N\mathbf 1$; loss probabilities
    $b = N R_{\cdot 0}$ (which equal $1 - k/n$, the martingale property); conditional times by the
    $h$-transform, $E[T \mid k, \text{lost}] = (N b)_k / b_k$, and likewise for fixation.
    float64 linear algebra, $O(n^3)$: fine for $n$ up to a few thousand.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    P = wright_fisher_matrix(int(n))
    Q = P[1:-1, 1:-1]
    A = np.eye(n - 1) - Q
    ones = np.ones(n - 1)
    time = np.linalg.solve(A, ones)
    b = np.linalg.solve(A, P[1:-1, 0])
    f = 1.0 - b
    nb = np.linalg.solve(A, b)
    nf = np.linalg.solve(A, f)

    def pad(x, lo, hi):
        return np.concatenate([[lo], x, [hi]])

    return WFAbsorption(
        time=pad(time, 0.0, 0.0),
        loss=pad(b, 1.0, 0.0),
        time_given_loss=pad(nb / b, 0.0, np.nan),
        time_given_fixation=pad(nf / f, np.nan, 0.0),
    )


def _compositions(n: int, K: int) -> np.ndarray:
    """All K-tuples of nonnegative integers summing to n (stars and bars), shape (C(n+K-1, K-1), K)."""
    rows = []
    for bars in combinations(range(n + K - 1), K - 1):
        b = (-1,) + bars + (n + K - 1,)
        rows.append([b[i + 1] - b[i] - 1 for i in range(K)])
    return np.array(rows, dtype=np.int64)


def wright_fisher_k_absorption(counts0: ArrayLike) -> float:
    r"""Exact $E[T]$, $T$ the first generation with one surviving category, from initial counts $N_0$ ($n = \sum N_0$).

    The $K$-type Wright–Fisher chain on compositions of $n$ (multinomial transitions), absorbed at the $K$
    vertices; $E T = (N\mathbf 1)_{N_0}$ with the fundamental matrix over the non-vertex states (Kemeny and
    Snell 1960). The state space has $\binom{n+K-1}{K-1}$ states: use it for small $n$ and $K$.
    """
    c0 = np.asarray(counts0, np.int64)
    n, K = int(c0.sum()), c0.size
    comp = _compositions(n, K)
    if comp.shape[0] > 5000:
        raise ValueError(f"{comp.shape[0]} states: too many for the exact K-type chain (use n, K smaller)")
    transient = (comp > 0).sum(axis=1) > 1
    tr = comp[transient]
    p = tr / n
    # multinomial pmf P(x | p) for every (transient state, target state)
    logf = _special().gammaln(n + 1) - _special().gammaln(comp + 1).sum(axis=1)
    lp = np.log(np.where(p > 0, p, 1.0))
    terms = np.where(comp[None, :, :] > 0, comp[None, :, :] * lp[:, None, :], 0.0).sum(axis=2)
    impossible = ((comp[None, :, :] > 0) & (p[:, None, :] == 0)).any(axis=2)  # a lost type cannot return
    M = np.where(impossible, 0.0, np.exp(logf[None, :] + terms))
    Q = M[:, transient]
    time = np.linalg.solve(np.eye(Q.shape[0]) - Q, np.ones(Q.shape[0]))
    idx = np.flatnonzero((tr == c0[None, :]).all(axis=1))
    if idx.size == 0:  # already absorbed
        return 0.0
    return float(time[idx[0]])


def absorption_time_diffusion(p: ArrayLike, n: ArrayLike) -> np.ndarray:
    r"""$T(p) \approx -2n[p\ln p + (1-p)\ln(1-p)]$: mean generations until one of two types is lost (diffusion).

    Source: Kimura and Ohta 1969 (with the haploid population size $n$ in place of $2N$); Ewens 2004, §4.
    Accurate to $O(1)$ generations; relatively a few percent high at $n \sim 100$.
    """
    p, n = np.asarray(p, np.float64), np.asarray(n, np.float64)
    return np.asarray(-2.0 * n * (_special().xlogy(p, p) + _special().xlogy(1.0 - p, 1.0 - p)), np.float64)


def loss_time_diffusion(p: ArrayLike, n: ArrayLike) -> np.ndarray:
    r"""$E[T \mid \text{lost}] \approx -2n\,p\ln p/(1-p)$ (diffusion; Kimura and Ohta 1969, haploid $n$)."""
    p, n = np.asarray(p, np.float64), np.asarray(n, np.float64)
    return np.asarray(-2.0 * n * _special().xlogy(p, p) / (1.0 - p), np.float64)


def fixation_time_diffusion(p: ArrayLike, n: ArrayLike) -> np.ndarray:
    r"""$E[T \mid \text{fixed}] \approx -2n(1-p)\ln(1-p)/p$ (diffusion; Kimura and Ohta 1969, haploid $n$)."""
    p, n = np.asarray(p, np.float64), np.asarray(n, np.float64)
    return np.asarray(-2.0 * n * _special().xlogy(1.0 - p, 1.0 - p) / p, np.float64)


def littler_time(p0: ArrayLike, n: ArrayLike) -> float:
    r"""Mean generations until one of $K$ types remains, $\approx -2n\sum_i (1 - p_i)\ln(1 - p_i)$ (diffusion).

    Source: Littler 1975 (the $K$-allele time to monomorphism; haploid population size $n$). For $K = 2$
    it is `absorption_time_diffusion`.
    """
    p = np.asarray(p0, np.float64)
    return float(-2.0 * n * np.sum(_special().xlogy(1.0 - p, 1.0 - p)))


# --------------------------------------------------------------------------- tails
def mass_lost_one_generation(p: ArrayLike, n: ArrayLike) -> np.ndarray:
    r"""$E[\text{mass of } p \text{ on categories unseen in } n \text{ draws}] = \sum_i p_i(1 - p_i)^n$ (exact).

    After one replace generation this is $E$ `tail_mass_lost` (the model gives those categories 0).
    Source: Dohmatob et al. 2024, "A Tale of Tails", §2 (the missing mass of a sample).
    """
    p = np.asarray(p, np.float64)
    n = np.asarray(n, np.float64)
    return np.asarray(np.sum(p * np.exp(n[..., None] * np.log1p(-np.minimum(p, 1.0 - 1e-300))), axis=-1))


def zipf_mass_lost_asymptotic(n: ArrayLike, beta: ArrayLike) -> np.ndarray:
    r"""Zipf($\beta$), $\beta > 1$, $n\to\infty$: $\sum_i p_i(1-p_i)^n \sim
    \frac{\Gamma(1 - 1/\beta)}{\beta\,\zeta(\beta)^{1/\beta}}\,n^{-(1 - 1/\beta)}$.

    Re-derived here for the untruncated law $p_i = i^{-\beta}/\zeta(\beta)$: $(1-p)^n \approx e^{-np}$ and the sum
    becomes $\int_0^\infty \zeta^{-1}x^{-\beta}e^{-n x^{-\beta}/\zeta}dx$; with $u = n x^{-\beta}/\zeta$ this is
    $\beta^{-1}\zeta^{-1/\beta}n^{1/\beta - 1}\int_0^\infty u^{-1/\beta}e^{-u}du$. It agrees with Dohmatob et al.
    2024 ("A Tale of Tails", Zipf tails with exponent $\beta$) and THEORY.md. Against the exact sum for
    $\beta = 2$ and $K = 10^6$ the relative error is 0.04% at $n = 10^3$ and 0.01% at $n = 10^4$; a law
    truncated at a smaller $K$ also lacks the mass beyond $K$ (0.6% at $K = 5000$, $n = 1000$).
    """
    if not beta > 1:
        raise ValueError(f"the Zipf tail formula needs beta > 1, got {beta}")
    n = np.asarray(n, np.float64)
    c = _special().gamma(1.0 - 1.0 / beta) / (beta * _special().zeta(beta) ** (1.0 / beta))
    return np.asarray(c * n ** (-(1.0 - 1.0 / beta)), np.float64)


def fresh_drift_probabilities(t: ArrayLike, n_real: ArrayLike, n_synthetic: ArrayLike, delta: ArrayLike,
                              p0: ArrayLike) -> np.ndarray:
    r"""$E\,p_t = a^t p_0 + (1 - a)\sum_{s=1}^{t} a^{t-s}p^*_s$, $a = n_s/(n_r + n_s)$: fresh real data, a moving
    logit. Shape `t.shape + (K,)`.

    The truth at generation $s$ is the tilted $p^*_{s,i} = p_{0,i}e^{s\delta_i}/\sum_j p_{0,j}e^{s\delta_j}$
    (`Categorical.translate(delta * s)`), $\delta_i = \delta\,i$ ($i = 0..K-1$) for a scalar $\delta$, else the
    vector `delta`. For the MLE fit ($\alpha = 0$) at temperature 1 without top-k/top-p.

    Derived here. Generation $t$ fits the pooled frequencies $p_t = (N_r + N_s)/N$, $N = n_r + n_s$, of $n_r$
    fresh draws of $p^*_t$ ($E N_r = n_r p^*_t$) and $n_s$ draws of model $t-1$ ($E[N_s \mid p_{t-1}] = n_s p_{t-1}$,
    the multinomial mean). So $E p_t = a\,E p_{t-1} + (1 - a)p^*_t$ with $p$ at $t = 0$ the truth $p_0$, a
    linear recursion whose unrolling is the sum above: the Gaussian mean's lag law
    (`jaxcollapse.theory.gaussian.fresh_drift_mean_error`) for each probability. The sum over $s$ is computed
    term by term (the tilted $p^*_s$ have no geometric form).
    """
    t = np.asarray(t, np.int64)
    p0 = np.asarray(p0, np.float64)
    k = p0.shape[-1]
    delta = np.asarray(delta, np.float64)
    if delta.ndim == 0:
        delta = delta * np.arange(k, dtype=np.float64)
    a = float(n_synthetic) / (float(n_real) + float(n_synthetic))
    g = int(t.max(initial=0))
    s = np.arange(1, g + 1, dtype=np.float64)
    logw = s[:, None] * delta[None, :]
    w = p0[None, :] * np.exp(logw - logw.max(axis=1, keepdims=True))
    p_star = w / w.sum(axis=1, keepdims=True)  # (g, K): the truth at s = 1..g
    tt = t.reshape(-1).astype(np.float64)
    weight = np.where(s[None, :] <= tt[:, None], a ** np.maximum(tt[:, None] - s[None, :], 0.0), 0.0)
    out = a ** tt[:, None] * p0[None, :] + (1.0 - a) * weight @ p_star
    return np.asarray(out.reshape(t.shape + (k,)), np.float64)
