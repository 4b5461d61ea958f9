r"""What is known about recursive logistic regression (`jaxcollapse.families.Logistic`), and exact finite values.

Conventions (those of `jaxcollapse.simulate`): the truth is $\theta^*$; model 0 is the truth; generation
$t \ge 1$ fits $\theta_t$ by maximum likelihood on labels $y_i \sim \mathrm{Bernoulli}(\sigma(\phi_i^\top
\theta_{t-1}))$ of a design $\Phi$ (rows $\phi_i = x_i$, or $(1, x_i)$ with an intercept). A fit whose data
are separated (no maximiser) keeps $\theta_{t-1}$ (the family's divergence rule). $t$ counts fits.

**There is no finite-$n$ closed form.** What is known is first order in $1/n$, and it is stated here
with its derivation; the exact finite values come from enumeration (`exact_moments`).

1. **One fit** (the classical asymptotics of the MLE; e.g. McCullagh and Nelder 1989, Sec. 4.4.2; van der
   Vaart 1998, *Asymptotic Statistics*, Thm 5.39): on a design with Fisher information
   $H = \sum_i c_i\,\sigma'(\phi_i^\top\theta^*)\,\phi_i\phi_i^\top$, $\hat\theta - \theta^* \approx
   H^{-1}\Phi^\top(y - \sigma(\Phi\theta^*))$, of covariance $H^{-1}$: $E\|\hat\theta - \theta^*\|^2 \approx
   \mathrm{tr}\,H^{-1}$ (`first_fit_error`), and the excess test log-loss (a KL divergence, second order in
   $\hat\theta - \theta^*$) is $E\,\mathrm{KL} \approx \tfrac12\mathrm{tr}(I_{\rm test}H^{-1})$
   (`first_fit_excess_logloss`), $I_{\rm test}$ the per-row Fisher information of the test law. For a
   Gaussian design of $n$ rows $H \approx n\,I(\theta^*)$ (`fisher_information`, the population
   information), so $E\|\hat\theta - \theta^*\|^2 \approx \mathrm{tr}\,I^{-1}/n$ and $E\,\mathrm{KL} \approx
   p/(2n)$, $p$ the number of coefficients; on a given design tested in-sample, $\tfrac12 p/\text{rows}$.
2. **Across generations** (derived here, the linearisation of item 1 fed back into itself; the
   sequential Gaussian-process limit of Dey and Donoho 2024, their main theorem, made concrete for this
   model). With $e_t = \theta_t - \theta^*$ and $\eta_t = H^{-1}\Phi^\top\varepsilon_t$ the new labels'
   noise pulled back through the fit ($\varepsilon_t = y_t - \sigma(\Phi\theta_{t-1})$, mean zero given the
   past, covariance $\approx \mathrm{diag}\,\sigma'$ so $\mathrm{Cov}\,\eta_t \approx H^{-1}$), linearising
   $\sigma(\Phi\theta) \approx \sigma(\Phi\theta^*) + W\Phi(\theta - \theta^*)$, $W = \mathrm{diag}\,\sigma'$:

   - *replace*: the score equation $\Phi^\top(y_t - \sigma(\Phi\theta_t)) = 0$ gives $e_t = e_{t-1} +
     \eta_t$: a martingale, $E\|e_t\|^2 \approx t\,\mathrm{tr}H^{-1}$ (`replace_factor`: linear growth;
     Dey and Donoho 2024, the discard workflow);
   - *accumulate* (the same design, all label sets pooled): $\sum_{j\le t}\Phi^\top(y_j -
     \sigma(\Phi\theta_t)) = 0$ gives $tHe_t = \sum_{j\le t} H(e_{j-1} + \eta_j)$, so $e_t = e_{t-1} +
     \eta_t/t$ and $E\|e_t\|^2 \approx \mathrm{tr}H^{-1}\sum_{i\le t} i^{-2} < \frac{\pi^2}6\mathrm{tr}H^{-1}$
     (`accumulate_factor`; the $\pi^2/6$ pathway of Gerstgrasser et al. 2024 for linear regression, shown
     universal by Dey and Donoho 2024 for the augment workflow);
   - *real data on the same design* with weight $w$ (augment with $\lambda = 1$ pools equal sizes, $w =
     \tfrac12$): $e_t = w\,\eta_r + (1 - w)(e_{t-1} + \eta_t)$, the recursion of the OLS case
     (`jaxcollapse.theory.regression.fixed_design_mixed_risk`), so the same factors (`mixed_factor`).

   The same factors multiply the excess log-loss ($E\,\mathrm{KL}_t \approx \tfrac12\mathrm{tr}(I_{\rm
   test}\,\mathrm{Cov}\,e_t)$). **Where first order fails**: the increments' covariance is $H(\theta_{t-1})
   ^{-1}$, not $H(\theta^*)^{-1}$; under replace $\|\theta_t\|$ wanders, and where it grows the information
   shrinks and the increments grow, a positive feedback that first order leaves out (the simulation's
   error grows faster than linearly once $t\,\mathrm{tr}H^{-1}$ is no longer small), until the data
   separate and the fit diverges.

**Exact finite values** (`exact_moments`): for a design of $m$ distinct rows each repeated `copies` times
(the labels of a row then enter only through their count, $\mathrm{Binomial}(\text{copies}, p_i)$), every
count vector is enumerated with its probability, its maximum likelihood estimate is computed to
convergence (Newton in float64), and its existence decided exactly: by Albert and Anderson (1984), the
maximiser exists iff no $\theta \ne 0$ has $\phi_i^\top\theta \ge 0$ for every row with a one and $\le 0$
for every row with a zero, i.e. iff the vectors $\{+\phi_i : s_i > 0\} \cup \{-\phi_i : s_i < c_i\}$
positively span $\mathbb R^p$ (for $p \le 2$: both signs in 1-D; in 2-D, every angular gap between
consecutive vectors below $\pi$). Generations 1 and 2 under replace and accumulate are exact (the second
generation's law is mixed over the first's). Only $p \le 2$ (the existence test).

References:

- Albert and Anderson (1984), "On the existence of maximum likelihood estimates in logistic regression
  models", Biometrika 71(1), 1-10.
- Dey and Donoho (2024), "Universality of the $\pi^2/6$ pathway in avoiding model collapse",
  arXiv:2410.22812 (discard against augment; their logistic-regression experiment, code
  `apd1995/model_collapse_universality`, `experiments/logistic_discard_synthetic.R`).
- Gerstgrasser et al. (2024), "Is model collapse inevitable?", arXiv:2404.01413.
- McCullagh and Nelder (1989), *Generalized Linear Models*, 2nd ed., Sec. 4.4.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from jaxtyping import ArrayLike

__all__ = [
    "accumulate_bound_factor",
    "accumulate_factor",
    "design_fisher_information",
    "exact_moments",
    "first_fit_error",
    "first_fit_excess_logloss",
    "fisher_information",
    "mixed_factor",
    "mle",
    "mle_exists",
    "replace_factor",
]


def _sig(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _dsig(x):
    s = _sig(x)
    return s * (1.0 - s)


def _features(x, intercept: bool) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim == 1:
        x = x[:, None]
    return np.concatenate([np.ones((x.shape[0], 1)), x], axis=1) if intercept else x


# --------------------------------------------------------------------------- Fisher information
def fisher_information(theta: ArrayLike, cov: ArrayLike = 1.0, intercept: bool = False, nodes: int = 80,
                       ) -> np.ndarray:
    r"""The per-row Fisher information $I(\theta) = E[\sigma'(\phi(x)^\top\theta)\,\phi(x)\phi(x)^\top]$,
    $x \sim N(0, \Sigma)$ (float64).

    Derived here. With $u = \phi^\top\theta = b + w^\top x$, $s^2 = w^\top\Sigma w$ and $z = (u - b)/s$:
    $x = \Sigma w\,z/s + x_\perp$ with $x_\perp \sim N(0, P)$, $P = \Sigma - \Sigma ww^\top\Sigma/s^2$,
    independent of $z$, so with $m_k = E[\sigma'(b + sz)z^k]$:
    $E[\sigma' xx^\top] = m_0P + m_2\Sigma ww^\top\Sigma/s^2$, $E[\sigma' x] = m_1\Sigma w/s$, $E\sigma' = m_0$
    (the last two for the intercept's row and column). The $m_k$ are one-dimensional and smooth: Gauss–Hermite
    with `nodes` nodes (exact to the last digits at 80). $s = 0$: $I = \sigma'(b)\,\mathrm{diag}(1, \Sigma)$.
    """
    theta = np.atleast_1d(np.asarray(theta, np.float64))
    b, w = (theta[0], theta[1:]) if intercept else (0.0, theta)
    d = w.size
    cov = np.asarray(cov, np.float64)
    sigma = cov * np.eye(d) if cov.ndim == 0 else (np.diag(cov) if cov.ndim == 1 else cov)
    sw = sigma @ w
    s2 = float(w @ sw)
    z, wt = np.polynomial.hermite_e.hermegauss(nodes)
    wt = wt / math.sqrt(2.0 * math.pi)
    if s2 > 0:
        s = math.sqrt(s2)
        f = _dsig(b + s * z)
        m0, m1, m2 = (float(np.sum(wt * f * z**k)) for k in range(3))
        xx = m0 * (sigma - np.outer(sw, sw) / s2) + m2 * np.outer(sw, sw) / s2
        xm = m1 * sw / s
    else:
        m0 = float(_dsig(b))
        xx, xm = m0 * sigma, np.zeros(d)
    if not intercept:
        return xx
    out = np.empty((d + 1, d + 1))
    out[0, 0], out[0, 1:], out[1:, 0], out[1:, 1:] = m0, xm, xm, xx
    return out


def design_fisher_information(theta: ArrayLike, x: ArrayLike, intercept: bool = False,
                              weights: ArrayLike | None = None) -> np.ndarray:
    r"""The Fisher information of one label set on the design `x`: $H = \sum_i c_i\,\sigma'(\phi_i^\top\theta)
    \phi_i\phi_i^\top$ (weights $c_i$, default 1; float64)."""
    phi = _features(x, intercept)
    c = np.ones(phi.shape[0]) if weights is None else np.asarray(weights, np.float64)
    f = c * _dsig(phi @ np.asarray(theta, np.float64))
    return (phi * f[:, None]).T @ phi


def first_fit_error(info: ArrayLike) -> float:
    r"""First order: $E\|\hat\theta - \theta^*\|^2 \approx \mathrm{tr}\,H^{-1}$ for the Fisher information $H$ of the
    data set (item 1 of the module docstring). For a Gaussian design of $n$ rows pass $n\,I(\theta^*)$."""
    return float(np.trace(np.linalg.inv(np.asarray(info, np.float64))))


def first_fit_excess_logloss(info: ArrayLike, test_info: ArrayLike) -> float:
    r"""First order: the excess test log-loss of one fit, $E\,\mathrm{KL} \approx \tfrac12\mathrm{tr}(I_{\rm test}
    H^{-1})$ (a second-order expansion of the KL, $\tfrac12 e^\top I_{\rm test}e$, at $\mathrm{Cov}\,e = H^{-1}$).
    With $H = n\,I_{\rm test}$ it is $p/(2n)$."""
    return 0.5 * float(np.trace(np.linalg.solve(np.asarray(info, np.float64), np.asarray(test_info, np.float64))))


# --------------------------------------------------------------------------- the generation factors
def replace_factor(t: ArrayLike) -> np.ndarray:
    r"""Replace, first order: $E\|\theta_t - \theta^*\|^2 / E\|\theta_1 - \theta^*\|^2 \approx t$ (item 2)."""
    return np.asarray(np.asarray(t, np.float64) * 1.0)


def accumulate_factor(t: ArrayLike) -> np.ndarray:
    r"""Accumulate on one design, first order: $\sum_{i\le t} i^{-2}$ times the first fit's error (item 2).
    `t` must be concrete integers."""
    t = np.asarray(t)
    m = int(t.max()) if t.size else 0
    partial = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, m + 1, dtype=np.float64) ** 2)])
    return np.asarray(partial[t.astype(np.int64)])


def accumulate_bound_factor() -> float:
    r"""$\pi^2/6$: accumulate's first-order error never exceeds $\frac{\pi^2}{6}$ times the first fit's."""
    return math.pi**2 / 6.0


def mixed_factor(t: ArrayLike, w: ArrayLike, real: str = "fixed") -> np.ndarray:
    r"""Real labels of the same design with weight $w$ and the synthetic ones $1 - w$, first order (item 2).

    $e_t = w\,\eta_r + q(e_{t-1} + \eta_t)$, $q = 1 - w$; with a fixed real set $[(1 - q^t)^2 + q^2(1 -
    q^{2t})/(1 - q^2)]$, with fresh real labels each generation $(w^2 + q^2)(1 - q^{2t})/(1 - q^2)$ times the
    first fit's error (derived as for `jaxcollapse.theory.regression.fixed_design_mixed_risk`, whose
    recursion this is)."""
    if real not in ("fixed", "fresh"):
        raise ValueError(f"real must be 'fixed' or 'fresh', got {real!r}")
    w_ = np.asarray(w, np.float64)
    if not np.all((w_ > 0) & (w_ <= 1)):
        raise ValueError(f"the real data's weight w must lie in (0, 1], got {w}")
    q = 1.0 - w_
    t = np.asarray(t, np.float64)
    geo = np.where(q < 1, (1.0 - q ** (2 * t)) / np.where(q < 1, 1.0 - q * q, 1.0), t)
    if real == "fixed":
        return np.asarray((1.0 - q**t) ** 2 + q * q * geo)
    return np.asarray((w_**2 + q * q) * geo)


# --------------------------------------------------------------------------- exact finite values
def mle_exists(phi: ArrayLike, c: ArrayLike, s: ArrayLike) -> np.ndarray:
    r"""Whether the maximum likelihood estimate exists for each row of counts (Albert and Anderson 1984; see the
    module docstring). `phi` `(m, p)`, `c` and `s` `(..., m)`; $p \le 2$. Returns a boolean array `(...)`."""
    phi = np.asarray(phi, np.float64)
    c = np.asarray(c, np.float64)
    s = np.asarray(s, np.float64)
    m, p = phi.shape
    if p > 2:
        raise ValueError(f"the exact existence test here handles p <= 2 coefficients, got p = {p}")
    plus = s > 0  # row i gives +phi_i
    minus = s < c  # and -phi_i
    if p == 1:
        v = phi[:, 0]
        has_pos = np.any((plus & (v > 0)) | (minus & (v < 0)), axis=-1)
        has_neg = np.any((plus & (v < 0)) | (minus & (v > 0)), axis=-1)
        return has_pos & has_neg
    ang = np.arctan2(phi[:, 1], phi[:, 0])  # angle of +phi_i; -phi_i is at ang + pi
    zero = np.all(phi == 0, axis=1)
    angles = np.concatenate([np.where(plus & ~zero, ang, np.nan), np.where(minus & ~zero, ang + np.pi, np.nan)],
                            axis=-1) % (2 * np.pi)
    srt = np.sort(angles, axis=-1)  # NaN last
    n_ok = np.sum(~np.isnan(srt), axis=-1)
    inner = np.where(np.arange(2 * m - 1) < (n_ok - 1)[..., None], srt[..., 1:] - srt[..., :-1], -np.inf)
    last = np.take_along_axis(srt, np.maximum(n_ok - 1, 0)[..., None], axis=-1)[..., 0]
    wrap = srt[..., 0] + 2 * np.pi - last  # from the last angle round to the first
    max_gap = np.maximum(np.max(inner, axis=-1), np.where(n_ok > 0, wrap, np.inf))
    return (n_ok >= 3) & (max_gap < np.pi - 1e-12)


def mle(phi: ArrayLike, c: ArrayLike, s: ArrayLike, iters: int = 200) -> tuple[np.ndarray, np.ndarray]:
    r"""The maximum likelihood estimates for rows of counts `c`, `s` `(..., m)` on `phi` `(m, p)` (float64 numpy):
    Newton from 0 with step halving, to a step below $10^{-13}$. Returns `(theta (..., p), exists (...))`;
    `theta` is NaN where the estimate does not exist (`mle_exists`). Raises if a case that exists has not
    converged."""
    phi = np.asarray(phi, np.float64)
    c = np.asarray(c, np.float64)
    s = np.asarray(s, np.float64)
    shape = np.broadcast_shapes(c.shape, s.shape)[:-1]
    c = np.broadcast_to(c, shape + (phi.shape[0],)).reshape(-1, phi.shape[0])
    s = np.broadcast_to(s, shape + (phi.shape[0],)).reshape(-1, phi.shape[0])
    ok = mle_exists(phi, c, s)
    p = phi.shape[1]
    theta = np.zeros((c.shape[0], p))
    cc, ss = c[ok], s[ok]
    th = np.zeros((cc.shape[0], p))

    def loss(t):
        eta = t @ phi.T
        return np.sum(cc * np.logaddexp(0.0, eta) - ss * eta, axis=1)

    active = np.ones(th.shape[0], bool)
    for _ in range(iters):
        if not active.any():
            break
        eta = th @ phi.T
        pr = _sig(eta)
        g = (cc * pr - ss) @ phi
        h = np.einsum("bm,mi,mj->bij", cc * pr * (1 - pr), phi, phi)
        step = -np.linalg.solve(h, g[..., None])[..., 0]
        f0 = loss(th)
        alpha = np.ones(th.shape[0])
        for _k in range(40):
            bad = loss(th + alpha[:, None] * step) > f0 + 1e-12 * np.abs(f0)
            if not bad.any():
                break
            alpha = np.where(bad, 0.5 * alpha, alpha)
        upd = alpha[:, None] * step * active[:, None]
        th = th + upd
        active = np.sqrt(np.sum(upd * upd, axis=1)) > 1e-13 * (1.0 + np.sqrt(np.sum(th * th, axis=1)))
    if active.any():
        raise RuntimeError(f"{int(active.sum())} maximum likelihood estimate(s) that exist did not converge")
    theta[ok] = th
    theta[~ok] = np.nan
    return theta.reshape(shape + (p,)), ok.reshape(shape)


def _kl_rows(u, v):
    pu = _sig(u)
    return np.mean(np.logaddexp(0.0, v) - np.logaddexp(0.0, u) - pu * (v - u), axis=-1)


def exact_moments(x: ArrayLike, theta_star: ArrayLike, *, copies: int = 1, intercept: bool = False,
                  temperature: float = 1.0, generations: int = 2) -> dict[str, dict[str, np.ndarray]]:
    r"""Exact means at generations $t = 0, 1, 2$ (or 0, 1 with `generations=1`) under replace and accumulate on a
    given design, by enumeration.

    The design has the $m$ rows of `x` (shape `(m, d)`), each repeated `copies` times (the simulation's given
    design is ``np.repeat(x, copies, axis=0)``); labels are drawn at `temperature`; a fit whose maximiser does
    not exist keeps the previous coefficients (the family's rule). Every count vector $s \in \{0..\text{copies}\}^m$
    of a generation is enumerated with its probability ($\prod_i \mathrm{Binomial}(s_i; \text{copies}, p_i)$),
    so the cost is $(\text{copies} + 1)^{2m}$ for generation 2. Returns, for ``"replace"`` and
    ``"accumulate"``, arrays over $t = 0, 1, 2$: ``param_error`` $E\|\theta_t - \theta^*\|^2$,
    ``excess_logloss`` $E\frac1m\sum_i\mathrm{KL}(\sigma(u_i)\|\sigma(v_i))$ (in-sample, as the family measures a
    given design), ``diverged`` $P(\text{the fit of generation } t \text{ keeps its predecessor})$ and
    ``param_error_sq`` $E\|\theta_t - \theta^*\|^4$ (for standard errors).
    """
    phi = _features(x, intercept)
    m, p = phi.shape
    th_star = np.asarray(theta_star, np.float64)
    if th_star.shape != (p,):
        raise ValueError(f"theta_star must have length {p}, got {th_star.shape}")
    if isinstance(copies, bool) or not isinstance(copies, (int, np.integer)) or copies < 1:
        raise ValueError(f"copies must be an integer >= 1, got {copies!r}")
    k = int(copies)
    states = np.asarray(list(itertools.product(range(k + 1), repeat=m)), np.float64)  # (S, m)
    cnt = np.full(m, float(k))
    logc = np.array([math.lgamma(k + 1) - math.lgamma(j + 1) - math.lgamma(k - j + 1) for j in range(k + 1)])
    lc = logc[states.astype(np.int64)].sum(axis=1)  # (S,)

    def probs(theta):  # (B, p) -> (B, S): P(counts | theta)
        pr = _sig((theta @ phi.T) / temperature)
        with np.errstate(divide="ignore"):
            lp, lq = np.log(pr), np.log1p(-pr)
        return np.exp(lc[None, :] + lp @ states.T + lq @ (k - states).T)

    u_star = phi @ th_star
    fit1, ok1 = mle(phi, cnt[None, :], states)  # (S, p): the fit of one generation's counts
    theta1 = np.where(ok1[:, None], fit1, th_star[None, :])
    p1 = probs(th_star[None, :])[0]  # (S,)

    def moments(thetas, prob):
        e = np.sum((thetas - th_star) ** 2, axis=-1)
        kl = _kl_rows(u_star, thetas @ phi.T)
        return (float(np.sum(prob * e)), float(np.sum(prob * kl)), float(np.sum(prob * e * e)))

    e1, kl1, e1sq = moments(theta1, p1)
    div1 = float(np.sum(p1 * ~ok1))
    if generations not in (1, 2):
        raise ValueError(f"generations must be 1 or 2, got {generations!r}")
    if generations == 1:
        one = {"param_error": np.array([0.0, e1]), "excess_logloss": np.array([0.0, kl1]),
               "diverged": np.array([0.0, div1]), "param_error_sq": np.array([0.0, e1sq])}
        return {"replace": one, "accumulate": {k: v.copy() for k, v in one.items()}}
    out = {}
    # replace, generation 2: counts s2 ~ theta_1(s1); theta_2 = fit1[s2] if it exists else theta_1(s1)
    p2 = probs(theta1)  # (S1, S2)
    e_keep = np.sum((theta1 - th_star) ** 2, axis=1)
    kl_keep = _kl_rows(u_star, theta1 @ phi.T)
    e_new = np.where(ok1, np.sum((fit1 - th_star) ** 2, axis=1), 0.0)
    kl_new = np.where(ok1, _kl_rows(u_star, np.where(ok1[:, None], fit1, 0.0) @ phi.T), 0.0)
    w_ok = p2 @ ok1.astype(np.float64)  # (S1,): P(theta_2 is a new fit | s1)
    e2 = float(p1 @ (p2 @ e_new + (1 - w_ok) * e_keep))
    e2sq = float(p1 @ (p2 @ (e_new**2) + (1 - w_ok) * e_keep**2))
    kl2 = float(p1 @ (p2 @ kl_new + (1 - w_ok) * kl_keep))
    div2 = float(p1 @ (1 - w_ok))
    out["replace"] = {"param_error": np.array([0.0, e1, e2]), "excess_logloss": np.array([0.0, kl1, kl2]),
                      "diverged": np.array([0.0, div1, div2]), "param_error_sq": np.array([0.0, e1sq, e2sq])}
    # accumulate, generation 2: pooled counts s1 + s2 out of 2 copies per row
    pooled = np.asarray(list(itertools.product(range(2 * k + 1), repeat=m)), np.float64)
    fit2, ok2 = mle(phi, 2.0 * cnt[None, :], pooled)
    radix = (2 * k + 1) ** np.arange(m - 1, -1, -1)
    s1i = states.astype(np.int64)
    e_acc = np.zeros(4)
    for a in range(states.shape[0]):  # one first-generation outcome at a time: (S2,) pooled indices
        idx = (s1i[a][None, :] + s1i) @ radix
        ok = ok2[idx]
        th = np.where(ok[:, None], fit2[idx], theta1[a][None, :])
        e = np.sum((th - th_star) ** 2, axis=1)
        kl = _kl_rows(u_star, th @ phi.T)
        q = p1[a] * p2[a]
        e_acc += (q @ e, q @ kl, q @ (~ok).astype(np.float64), q @ (e * e))
    out["accumulate"] = {"param_error": np.array([0.0, e1, e_acc[0]]),
                         "excess_logloss": np.array([0.0, kl1, e_acc[1]]),
                         "diverged": np.array([0.0, div1, e_acc[2]]),
                         "param_error_sq": np.array([0.0, e1sq, e_acc[3]])}
    return out
