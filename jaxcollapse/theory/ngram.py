r"""Closed forms for Markov chains and for the bigram language model refit to its own samples.

**The model** (`jaxcollapse.Bigram`). $V$ tokens; a bigram model is an initial distribution
$\mu$ and a row-stochastic transition matrix $P$. Each generation draws $m$ sequences
$X_0, \dots, X_{L-1}$ of length $L$ from the current model ($X_0 \sim \mu$,
$X_{s+1} \mid X_s \sim P_{X_s\cdot}$), counts the bigrams $C_{ij} = \#\{(k, s): X^{(k)}_s = i,
X^{(k)}_{s+1} = j\}$ and the first tokens, and refits

$$P'_{ij} = \frac{C_{ij} + \alpha}{N_i + V\alpha}, \qquad N_i = \textstyle\sum_j C_{ij}$$

(the MLE for $\alpha = 0$, the posterior mean under a symmetric Dirichlet($\alpha$) prior otherwise),
and $\mu$ likewise from the first-token counts unless the initial distribution is held fixed.
**A row never visited** ($N_i = 0$) **keeps its previous value** when $\alpha = 0$ (no data, no
update); with $\alpha > 0$ the formula gives the uniform row. A transition the model gives
probability 0 is never sampled again, so with $\alpha = 0$ a lost transition is lost for good
(absorbing), while $\alpha > 0$ removes every absorbing state.

**Chain functionals** (`stationary_distribution`, `entropy_rate`, `kl_rate`,
`cross_entropy_rate`, `perplexity`, `mutual_information`): standard (Cover and Thomas 2006,
*Elements of Information Theory*, 2nd ed., Sections 4.2 and 4.4). For a stationary chain
$\pi P = \pi$: entropy rate $H(P) = -\sum_i \pi_i \sum_j P_{ij}\ln P_{ij}$; the Kullback–Leibler
divergence rate of the chain $Q$ from $P$, $\lim_L \frac1L \mathrm{KL}(P^{(L)} \| Q^{(L)}) =
\sum_i \pi_i \sum_j P_{ij} \ln(P_{ij}/Q_{ij})$ ($\pi$ stationary for $P$; $+\infty$ as soon as $Q$
gives 0 to a transition that $P$ makes from a state of positive $\pi$); the per-token perplexity of
long sequences of $P$ under the model $Q$ is $\exp$ of the cross-entropy rate
$-\sum_i\pi_i\sum_j P_{ij}\ln Q_{ij} = H(P) + \mathrm{KL}$ rate; and the mutual information of
consecutive tokens is $I(X_s; X_{s+1}) = H(\pi) - H(P)$ (since $X_{s+1} \sim \pi$).

**Exact results for the refit** (derived here; each has a registered check in `jaxcollapse.verify`):

1. *Expected counts, any $L$* (`expected_transition_counts`). With the marginals
   $\mu_s = \mu P^s$: $E C_{ij} = m \sum_{s=0}^{L-2} (\mu_s)_i P_{ij}$, and $E[\text{first-token
   counts}] = m\mu$, because $P(X_s = i, X_{s+1} = j) = (\mu_s)_i P_{ij}$. (At temperature $\tau$,
   replace $\mu, P$ by their tempered versions, `tempered`.) The MLE row $C_{ij}/N_i$ itself is
   *not* unbiased for $L > 2$: the number of visits $N_i$ depends on the successors already drawn
   (e.g. a self-loop $i \to i$ adds a visit), so no simple exact law holds for it.
2. *One transition per sequence ($L = 2$) with the initial distribution held fixed at $q$*
   (`binomial_visits`, `simpson_coefficients`, `simpson_index_mean`, `row_mean_contraction`,
   `row_mean`). Row $i$ is visited $N_i \sim \mathrm{Binomial}(m, q_i)$ times, independently of
   everything before, and given $N_i = k$ its successor counts are $\mathrm{Multinomial}(k, P_{i\cdot})$.
   So each row is a Wright–Fisher population whose size is redrawn every generation. With
   $S_i = \sum_j P_{ij}^2$ and $E\sum_j (C_{ij} + \alpha)^2 = k + k(k-1)S_i + 2\alpha k + V\alpha^2$:

   $$E[S'_i \mid S_i] = A_i + B_i S_i,\quad
   A_i = E\Big[\tfrac{N + 2\alpha N + V\alpha^2}{(N + V\alpha)^2}\Big],\quad
   B_i = E\Big[\tfrac{N(N-1)}{(N + V\alpha)^2}\Big]$$

   (the term $N = 0$, $\alpha = 0$ counts as $A \mathrel{+}= 0$, $B \mathrel{+}= P(N = 0)$: the row is
   kept), an affine recursion solved in closed form. For $\alpha = 0$ it is the heterozygosity decay
   $E[1 - S_{t,i}] = (1 - E[1/N_i;\,N_i \ge 1])^t\,(1 - S_{0,i})$; with a fixed $N_i = n$ it is
   $(1 - 1/n)^t$, the per-context statement of Seddik et al. (2024, "How bad is training on synthetic
   data? A statistical analysis of language model collapse", fully synthetic case:
   $S_t = 1 - (1 - 1/n)^t (1 - S_0)$ in expectation) and the haploid Wright–Fisher heterozygosity
   decay. The mean row obeys $E[P'_i \mid P_i] = c_i P_i + (1 - c_i)u$, $u = 1/V$,
   $c_i = E[N/(N + V\alpha)]$ (with $N = 0$, $\alpha = 0$ counted as 1), so
   $E P_{t,i} = u + c_i^t (P_{0,i} - u)$: a martingale for $\alpha = 0$, geometric smoothing toward
   uniform for $\alpha > 0$.
   *Accumulate* ($\alpha = 0$, bigram counts summed over generations, $T_t = \sum_{s \le t} N_s$ visits so
   far): with $A$ the accumulated counts, $E\sum_j (A_j + C_j)^2 = T^2 S + N(1 - S)$, so
   $E[1 - S_t \mid \mathcal F_{t-1}, N_t] = (1 - N_t/T_t^2)(1 - S_{t-1})$ (factor 1 while $T_t = 0$) and
   $E[1 - S_{t,i}] = E\big[\prod_{s\le t}(1 - N_s/T_s^2)\big](1 - S_{0,i})$, the expectation over the
   independent $N_s$ computed exactly by a forward recursion over $T$ (`accumulate_heterozygosity_factor`).
   With a fixed $N_s = n$ the factor is $\prod_{s\le t}(1 - 1/(n s^2))$, which converges to
   $\sin(\pi/\sqrt n)/(\pi/\sqrt n)$ as $t \to \infty$: accumulated data keep a positive fraction of the
   diversity for ever, where replace loses it geometrically.
3. *The initial-token distribution, any $L$* (`initial_simpson_mean`): when it is refit, the first
   tokens are $\mathrm{Multinomial}(m, \mu)$, so $\mu$ is exactly a Wright–Fisher population of
   size $m$: $E[1 - \sum_i\mu_{t,i}^2] = (1 - 1/m)^t(1 - \sum_i\mu_{0,i}^2)$ for $\alpha = 0$
   (Seddik et al. 2024), and the affine recursion of 2 with $N = m$ for $\alpha > 0$.

Shumailov et al. (2024, "AI models collapse when trained on recursively generated data",
*Nature* 631) describe the language-model version of the phenomenon (tails of the token
distribution vanish first); the bigram model is its smallest exactly analysable instance.

Every function is a pure `jax.numpy` function (use float64, `jaxcollapse.x64()`, for checks).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import gammaln, xlogy
from jaxtyping import Array, ArrayLike, Float

__all__ = [
    "accumulate_heterozygosity_factor",
    "binomial_visits",
    "cross_entropy_rate",
    "entropy_rate",
    "expected_initial_counts",
    "expected_transition_counts",
    "initial_simpson_mean",
    "kl_rate",
    "mutual_information",
    "perplexity",
    "row_mean",
    "row_mean_contraction",
    "simpson_coefficients",
    "simpson_index_mean",
    "state_marginals",
    "stationary_distribution",
    "tempered",
]


def _f(x) -> Array:
    return jnp.asarray(x, jnp.result_type(float))


def tempered(p: Float[ArrayLike, "*rows V"], tau) -> Float[Array, "*rows V"]:
    r"""Rows (or a vector) raised to the power $1/\tau$ and renormalized: sampling at temperature $\tau$.

    $p^{(\tau)}_j = p_j^{1/\tau} / \sum_k p_k^{1/\tau}$; zeros stay zeros.

    A definition (the decoding rule of `jaxcollapse.Bigram` at temperature $\tau$).
    """
    p = _f(p)
    tau = _f(tau)
    logp = jnp.where(p > 0, jnp.log(jnp.where(p > 0, p, 1.0)), -jnp.inf)
    top = jnp.max(logp, axis=-1, keepdims=True)
    w = jnp.where(p > 0, jnp.exp((logp - top) / tau), 0.0)
    return w / jnp.sum(w, axis=-1, keepdims=True)


def stationary_distribution(P: Float[ArrayLike, "V V"]) -> Float[Array, " V"]:
    r"""The stationary distribution $\pi P = \pi$ of an irreducible chain.

    Solves $\pi (I - P + \mathbf 1\mathbf 1^\top) = \mathbf 1^\top$, whose matrix is invertible
    exactly when the stationary distribution is unique (Cover and Thomas 2006, Section 4.2).
    """
    P = _f(P)
    V = P.shape[0]
    M = jnp.eye(V, dtype=P.dtype) - P + jnp.ones((V, V), P.dtype)
    return jnp.linalg.solve(M.T, jnp.ones((V,), P.dtype))


def _lead(x: Array, ndim: int) -> Array:
    """`x` with leading axes of length 1 up to `ndim` axes (explicit broadcasting under rank promotion 'raise')."""
    return x.reshape((1,) * (ndim - x.ndim) + x.shape)


def _pi(P, pi):
    return stationary_distribution(P) if pi is None else _f(pi)


def entropy_rate(P: Float[ArrayLike, "V V"], pi: Float[ArrayLike, " V"] | None = None) -> Float[Array, ""]:
    r"""$H(P) = -\sum_i \pi_i \sum_j P_{ij}\ln P_{ij}$ in nats ($\pi$ stationary unless given).

    Cover and Thomas 2006, Sections 4.2 and 4.4 (module docstring).
    """
    P = _f(P)
    pi = _pi(P, pi)
    return -jnp.sum(pi * jnp.sum(xlogy(P, P), axis=1))


def cross_entropy_rate(P: Float[ArrayLike, "V V"], Q: Float[ArrayLike, "V V"],
                       pi: Float[ArrayLike, " V"] | None = None) -> Float[Array, ""]:
    r"""$-\sum_i \pi_i \sum_j P_{ij} \ln Q_{ij}$: the per-token log-loss of $P$'s sequences under $Q$ ($+\infty$
    when $Q$ misses a transition of $P$).

    Cover and Thomas 2006, Sections 4.2 and 4.4 (module docstring).
    """
    P, Q = _f(P), _f(Q)
    pi = _pi(P, pi)
    return entropy_rate(P, pi) + kl_rate(P, Q, pi)


def kl_rate(P: Float[ArrayLike, "V V"], Q: Float[ArrayLike, "V V"],
            pi: Float[ArrayLike, " V"] | None = None) -> Float[Array, ""]:
    r"""KL divergence rate $\sum_i \pi_i \sum_j P_{ij}\ln(P_{ij}/Q_{ij})$, $\pi$ stationary for $P$.

    $+\infty$ when $Q_{ij} = 0 < \pi_i P_{ij}$ for some $(i, j)$.

    Cover and Thomas 2006, Sections 4.2 and 4.4 (module docstring).
    """
    P, Q = _f(P), _f(Q)
    pi = _pi(P, pi)
    pos = P > 0
    lost = jnp.any(pos & (Q <= 0) & (pi[:, None] > 0))
    term = jnp.where(pos, P * (jnp.log(jnp.where(pos, P, 1.0)) - jnp.log(jnp.where(Q > 0, Q, 1.0))), 0.0)
    return jnp.where(lost, jnp.inf, jnp.sum(pi * jnp.sum(term, axis=1)))


def perplexity(P: Float[ArrayLike, "V V"], Q: Float[ArrayLike, "V V"],
               pi: Float[ArrayLike, " V"] | None = None) -> Float[Array, ""]:
    r"""Per-token perplexity of long sequences of the chain $P$ under the model $Q$: $\exp$ of the
    cross-entropy rate (the limit of $\exp(-\frac1L \ln Q(X_{0:L}))$ for stationary $X \sim P$).

    Cover and Thomas 2006, Sections 4.2 and 4.4 (module docstring).
    """
    return jnp.exp(cross_entropy_rate(P, Q, pi))


def mutual_information(P: Float[ArrayLike, "V V"], pi: Float[ArrayLike, " V"] | None = None) -> Float[Array, ""]:
    r"""$I(X_s; X_{s+1}) = H(\pi) - H(P)$ for the stationary chain, in nats.

    Cover and Thomas 2006, Sections 4.2 and 4.4 (module docstring).
    """
    P = _f(P)
    pi = _pi(P, pi)
    return -jnp.sum(xlogy(pi, pi)) - entropy_rate(P, pi)


def state_marginals(initial: Float[ArrayLike, " V"], P: Float[ArrayLike, "V V"], length: int) -> Float[Array, "L V"]:
    r"""$\mu_s = \mu P^s$ for $s = 0, \dots, L-1$.

    The Markov property (Kemeny and Snell 1960, ch. II).
    """
    mu, P = _f(initial), _f(P)
    rows = [mu]
    for _ in range(length - 1):
        rows.append(rows[-1] @ P)
    return jnp.stack(rows)


def expected_transition_counts(P: Float[ArrayLike, "V V"], initial: Float[ArrayLike, " V"], m, length: int,
                               ) -> Float[Array, "V V"]:
    r"""$E C_{ij} = m\sum_{s=0}^{L-2}(\mu P^s)_i P_{ij}$: expected bigram counts of $m$ sequences of length $L$.

    Exact for any $L \ge 2$ (derived here: $P(X_s = i, X_{s+1} = j) = (\mu P^s)_i P_{ij}$). For sampling at
    temperature $\tau$ pass `tempered(P, tau)` and `tempered(initial, tau)`.

    Derived here (result 1 of the module docstring).
    """
    P = _f(P)
    occ = jnp.sum(state_marginals(initial, P, length)[:-1], axis=0)  # expected visits per sequence
    return _f(m) * occ[:, None] * P


def expected_initial_counts(initial: Float[ArrayLike, " V"], m) -> Float[Array, " V"]:
    r"""$E[\text{first-token counts}] = m\mu$.

    Derived here (result 1 of the module docstring).
    """
    return _f(m) * _f(initial)


def binomial_visits(m: int, q: Float[ArrayLike, " V"]) -> Float[Array, "V m1"]:
    r"""Row $i$: the $\mathrm{Binomial}(m, q_i)$ pmf over $k = 0..m$ (visits of state $i$ when $m$ sequences
    of length 2 start from the fixed distribution $q$).

    Derived here (result 2 of the module docstring).
    """
    q = _f(q)
    k = jnp.arange(m + 1, dtype=q.dtype)
    logc = gammaln(m + 1.0) - gammaln(k + 1.0) - gammaln(m - k + 1.0)
    logp = logc[None, :] + xlogy(k[None, :], q[:, None]) + xlogy(m - k[None, :], 1.0 - q[:, None])
    return jnp.exp(logp)


def _visit_terms(pmf, V: int, alpha):
    pmf = _f(pmf)
    k = jnp.arange(pmf.shape[-1], dtype=pmf.dtype)
    a = _f(alpha)
    den = k + V * a
    ok = den > 0
    safe = jnp.where(ok, den, 1.0)
    return pmf, k, a, ok, safe


def simpson_coefficients(pmf: Float[ArrayLike, "*rows K"], V: int, alpha=0.0) -> tuple[Array, Array]:
    r"""$(A, B)$ of $E[S' \mid S] = A + BS$, $S = \sum_j P_{ij}^2$, for a row refit from $N$ visits.

    `pmf[..., k]` $= P(N = k)$, $k = 0, 1, \dots$; $V$ tokens; smoothing $\alpha$. Derived here (module
    docstring, result 2): $A = E[(N + 2\alpha N + V\alpha^2)/(N + V\alpha)^2]$,
    $B = E[N(N-1)/(N + V\alpha)^2]$, and an unvisited row ($N = 0$, $\alpha = 0$) is kept ($B$ gains $P(N=0)$).
    """
    pmf, k, a, ok, safe = _visit_terms(pmf, V, alpha)
    A_k = jnp.where(ok, (k + 2.0 * a * k + V * a * a) / (safe * safe), 0.0)
    B_k = jnp.where(ok, k * (k - 1.0) / (safe * safe), 1.0)
    return jnp.sum(pmf * _lead(A_k, pmf.ndim), axis=-1), jnp.sum(pmf * _lead(B_k, pmf.ndim), axis=-1)


def simpson_index_mean(t, S0: Float[ArrayLike, " *rows"], A, B) -> Float[Array, "*t *rows"]:
    r"""$E S_t$ from $E S_t = A + B\,E S_{t-1}$: $B^t S_0 + A(1 - B^t)/(1 - B)$ ($S_0 + tA$ when $B = 1$).

    Output shape `t.shape + S0.shape`.

    Derived here (result 2 of the module docstring).
    """
    t = _f(t)
    S0, A, B = _f(S0), _f(A), _f(B)
    S0, A, B = jnp.broadcast_arrays(S0, A, B)
    tt = t.reshape(t.shape + (1,) * S0.ndim)
    S0, A, B = (_lead(x, tt.ndim) for x in (S0, A, B))
    Bt = B**tt
    one = jnp.isclose(B, 1.0)
    geo = jnp.where(one, tt, (1.0 - Bt) / jnp.where(one, 1.0, 1.0 - B))
    return Bt * S0 + A * geo


def initial_simpson_mean(t, m: int, initial: Float[ArrayLike, " V"], alpha=0.0) -> Float[Array, " *t"]:
    r"""$E\sum_i \mu_{t,i}^2$ for the refit initial distribution ($m$ first tokens per generation, exact).

    For $\alpha = 0$: $1 - (1 - 1/m)^t (1 - \sum_i \mu_{0,i}^2)$ (Seddik et al. 2024; Wright–Fisher).

    Derived here (result 3 of the module docstring); Seddik et al. 2024 for $\alpha = 0$.
    """
    mu = _f(initial)
    V = mu.shape[0]
    pmf = jnp.zeros((m + 1,), mu.dtype).at[m].set(1.0)
    A, B = simpson_coefficients(pmf, V, alpha)
    return simpson_index_mean(t, jnp.sum(mu * mu), A, B)


def row_mean_contraction(pmf: Float[ArrayLike, "*rows K"], V: int, alpha=0.0) -> Float[Array, " *rows"]:
    r"""$c = E[N/(N + V\alpha)]$ (an unvisited row with $\alpha = 0$ counts 1): $E[P'_i \mid P_i] = cP_i + (1-c)/V$.

    Derived here (result 2 of the module docstring).
    """
    pmf, k, a, ok, safe = _visit_terms(pmf, V, alpha)
    return jnp.sum(pmf * _lead(jnp.where(ok, k / safe, 1.0), pmf.ndim), axis=-1)


def row_mean(t, P0: Float[ArrayLike, "V V"], c: Float[ArrayLike, " V"]) -> Float[Array, "*t V V"]:
    r"""$E P_t = u + c_i^t (P_{0,i} - u)$, $u = 1/V$ (result 2 of the module docstring). Shape `t.shape + (V, V)`.

    Derived here.
    """
    t = _f(t)
    P0, c = _f(P0), _f(c)
    V = P0.shape[0]
    ct = _lead(c, t.ndim + 1) ** t.reshape(t.shape + (1,))
    return 1.0 / V + ct[..., :, None] * _lead(P0 - 1.0 / V, t.ndim + 2)


def accumulate_heterozygosity_factor(t: int, pmf: Float[ArrayLike, "*rows K"]) -> Float[Array, "t1 ..."]:
    r"""$E\prod_{s \le u}(1 - N_s/T_s^2)$ for $u = 0..t$; $N_s$ i.i.d. ~ `pmf`, $T_s = \sum_{r\le s} N_r$.

    The factor by which accumulated bigram counts ($\alpha = 0$) multiply a row's expected
    heterozygosity $1 - \sum_j P_{ij}^2$ after $u$ generations (module docstring, result 2; derived here).
    A term with $T_s = 0$ (no visit yet) is 1. Exact: a forward recursion over the distribution of $T$,
    $h_s(T) = \sum_N P(N)\,(1 - N/T^2)\,h_{s-1}(T - N)$, and the factor is $\sum_T h_u(T)$.

    Derived here (result 2 of the module docstring, accumulate).
    """
    pmf = _f(pmf)
    K = pmf.shape[-1] - 1  # largest number of visits in one generation
    size = t * K + 1
    T = jnp.arange(size, dtype=pmf.dtype)
    h = jnp.zeros(pmf.shape[:-1] + (size,), pmf.dtype).at[..., 0].set(1.0)
    out = [jnp.sum(h, axis=-1)]
    for _ in range(t):
        new = jnp.zeros_like(h)
        for n in range(K + 1):
            shifted = jnp.concatenate([jnp.zeros(h.shape[:-1] + (n,), h.dtype), h[..., : size - n]], axis=-1)
            f = jnp.where(T > 0, 1.0 - n / jnp.where(T > 0, T, 1.0) ** 2, 1.0)
            new = new + pmf[..., n: n + 1] * _lead(f, h.ndim) * shifted
        h = new
        out.append(jnp.sum(h, axis=-1))
    return jnp.stack(out)
