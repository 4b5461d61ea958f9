r"""Closed forms for scaling laws under synthetic data: a generator with a cut tail, and a fixed share of
synthetic data in a regression training set.

Two papers by Dohmatob and coauthors, each re-derived here (the stored copies of the papers could be read
only in part: the statement numbers quoted below are the ones that could be confirmed, and every formula
is derived in its docstring, so none rests on a reading):

**A tale of tails** (Dohmatob, Feng, Yang, Charton and Kempe 2024). Data $i \in \{1, 2, \dots\}$ follow the
Zipf law $p_i = i^{-\beta}/\zeta(\beta)$, $\beta > 1$, and each $i$ has one correct label. The "Hutter
LLM" (Hutter 2021) memorizes the labels of the items it has seen in $T$ training draws and errs on every
other item, so its test error is $E_\text{test} = \sum_i p_i\,P(i \text{ unseen})$ (their eq. 9). Trained on
a synthetic generator $q$ whose tail is cut at rank $k$ ($q_i \propto p_i\,1[i \le k]$: the generator only
ever produces the $k$ most frequent items), the error is `tail_cut_test_error` exactly, and the scaling
law $E_\text{test} \asymp T^{-c}$, $c = 1 - 1/\beta$, of clean data stops at the plateau $k^{-(\beta - 1)}$:
their Theorem 2.1, $E_\text{test} \asymp T^{-c} + k^{-\beta c}$ (`tail_cut_scaling_law`, with its constants
derived here).

**Strong model collapse** (Dohmatob, Feng, Subramonian and Kempe 2025). A linear regression is trained
on $n = n_1 + n_2$ rows: $n_1$ real ones, $y = x^\top w_1 + \sigma_1\varepsilon$, and $n_2 = p\,n$ synthetic
ones labelled by a fixed wrong model, $y = x^\top w_2 + \sigma_2\varepsilon$, with the same design law
$x \sim N(0, \Sigma)$; the test error is the excess risk on real data, $\|\hat w - w_1\|_\Sigma^2$. Their
headline result: at any fixed synthetic fraction $p > 0$ the error does not vanish as $n$ grows
("even the smallest fraction of synthetic data ... can still lead to model collapse: larger and larger
training sets do not enhance performance", abstract). Here, for least squares: the exact finite-$n$ risk
(`strong_collapse_risk`), its plateau $p^2\|w_2 - w_1\|_\Sigma^2$ (`strong_collapse_plateau`), its
proportional limit (`strong_collapse_proportional_risk`), and the model-size variant in which the model is
a least-squares fit on $m$ random projections $Sx$ of the input (`strong_collapse_projection_risk`,
`strong_collapse_projection_plateau`).

Facts the regression derivations share ("derived here" refers to them):

1. **Inverse Wishart.** $G = X^\top X \sim \mathrm{Wishart}_d(n, I)$: $E\,G^{-1} = I/(n - d - 1)$, and
   $E[\mathrm{tr}\,G\ \mathrm{tr}\,G^{-1}] = d\,(nd - 2)/(n - d - 1)$ (write $X = rV$ with $r^2 = \|X\|_F^2
   \sim \chi^2_{nd}$ independent of the direction $V$; then $\mathrm{tr}G\,\mathrm{tr}G^{-1} =
   \mathrm{tr}(V^\top V)^{-1}$, whose mean is $E\,\mathrm{tr}G^{-1}/E\,r^{-2} = \frac{d}{n-d-1}(nd - 2)$).
2. **Polar split.** For Gaussian rows, $X = UG^{1/2}$ with $U$ uniform on the Stiefel manifold
   ($U^\top U = I_d$) and independent of $G$; the synthetic rows' Gram is $G_2 = G^{1/2}MG^{1/2}$ with
   $M = U_2^\top U_2$ ($U_2$: the synthetic rows of $U$) independent of $G$. The columns of $U$ are those of a
   Haar orthogonal matrix, so (Weingarten moments of degree 4) $E M_{11}^2 = \frac{n_2(n_2 + 2)}{n(n+2)}$ and
   $E M_{12}^2 = \frac{n_1 n_2}{n(n-1)(n+2)}$.

All functions return float64 numpy arrays and broadcast over their array arguments. Bad arguments raise
`ValueError` naming the argument and its valid range.

References:

- Dohmatob, Feng, Yang, Charton and Kempe (2024), "A Tale of Tails: Model Collapse as a Change of Scaling
  Laws", ICML 2024, arXiv:2402.07043: eq. 9 (the Hutter LLM's test error), Theorem 2.1 (tail cutting).
- Hutter (2021), "Learning Curve Theory", arXiv:2102.04074: the memorization model and its $T^{-c}$ law.
- Dohmatob, Feng, Subramonian and Kempe (2025), "Strong Model Collapse", ICLR 2025, arXiv:2410.04840: the
  setting (real and synthetic rows with the same design law, a synthetic labeller $w_2 \ne w_1$), the
  non-vanishing error at a fixed synthetic fraction, and the random-projections model of tunable size.
"""

from __future__ import annotations

import math

import numpy as np
from jaxtyping import ArrayLike

__all__ = [
    "strong_collapse_plateau",
    "strong_collapse_projection_plateau",
    "strong_collapse_projection_risk",
    "strong_collapse_proportional_risk",
    "strong_collapse_risk",
    "tail_cut_scaling_law",
    "tail_cut_test_error",
    "zipf_tail_mass",
]


def _special():
    """`scipy.special`, imported on first use (keeps `import jaxcollapse` light)."""
    from scipy import special

    return special


def _f(x) -> np.ndarray:
    return np.asarray(x, np.float64)


def _need_beta(beta) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)) or not (
            math.isfinite(float(beta)) and float(beta) > 1):
        raise ValueError(f"the Zipf exponent beta must be a finite number > 1 (a normalizable law), got {beta!r}")
    return float(beta)


def _need(name: str, x, lo: float | int, *, integer: bool = False, inf_ok: bool = False,
          strict: bool = False) -> np.ndarray:
    a = _f(x)
    ok = np.isfinite(a) | (inf_ok & np.isposinf(a))
    ok &= (a > lo) if strict else (a >= lo)
    if integer:
        ok &= (a == np.floor(a)) | np.isposinf(a)
    if not np.all(ok):
        rng = f"{'>' if strict else '>='} {lo:g}" + (" (or inf)" if inf_ok else "")
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'} {rng}, got {x!r}")
    return a


# --------------------------------------------------------------------------- a tale of tails
def zipf_tail_mass(k: ArrayLike, beta: float | int) -> np.ndarray:
    r"""$\sum_{i > k} p_i = \zeta(\beta, k + 1)/\zeta(\beta)$: the mass of the Zipf($\beta$) law beyond rank $k$.

    Exact ($\zeta(s, a) = \sum_{j \ge 0}(j + a)^{-s}$, the Hurwitz zeta function). It is the plateau of
    `tail_cut_test_error` as $T \to \infty$: items beyond the cut are never generated, hence never learned.
    For large $k$ it is $\frac{k^{-(\beta-1)}}{(\beta - 1)\zeta(\beta)}(1 + O(1/k))$ (the integral of $x^{-\beta}$
    from $k + \frac12$, Euler–Maclaurin). Dohmatob et al. 2024, Theorem 2.1 (the $k^{-\beta c}$ term).
    """
    b = _need_beta(beta)
    k = _need("k", k, 0, integer=True)
    sp = _special()
    return np.asarray(sp.zeta(b, k + 1.0) / sp.zeta(b), np.float64)


def tail_cut_test_error(T: ArrayLike, k: ArrayLike, beta: float | int) -> np.ndarray:
    r"""Exact test error of the Hutter LLM trained on $T$ draws of Zipf($\beta$) data whose tail is cut at $k$.

    $$E_\text{test}(T, k) = \sum_{i \le k} p_i\Big(1 - \frac{p_i}{P_k}\Big)^T + \sum_{i > k} p_i,
      \qquad p_i = \frac{i^{-\beta}}{\zeta(\beta)},\ P_k = \sum_{i \le k} p_i .$$

    Derived here from their eq. 9, $E_\text{test} = \sum_i p_i\,P(i \text{ unseen in the } T \text{ draws})$: the
    generator draws $i \le k$ with probability $q_i = p_i/P_k$, so $i$ is unseen with probability
    $(1 - q_i)^T$, and every $i > k$ is unseen. Conditions: $\beta > 1$; integers $T \ge 0$, $k \ge 1$
    ($k = \infty$ is not allowed: the uncut error is an infinite sum; see `tail_cut_scaling_law`). As
    $T \to \infty$ it falls to the plateau `zipf_tail_mass`$(k)$; the test error of the Categorical family's
    ``tail_mass_lost`` after one generation is this quantity when the truth is the Zipf law and the model the
    cut law. Dohmatob et al. 2024, eq. 9 and Theorem 2.1.
    """
    b = _need_beta(beta)
    T = _need("T", T, 0, integer=True)
    k = _need("k", k, 1, integer=True)
    T, k = np.broadcast_arrays(T, k)
    out = np.empty(T.shape, np.float64)
    sp = _special()
    zeta = float(sp.zeta(b))
    for kk in np.unique(k):
        sel = k == kk
        i = np.arange(1, int(kk) + 1, dtype=np.float64)
        w = i ** -b
        p = w / zeta
        q = w / w.sum()
        one = q >= 1.0  # k = 1: the generator makes item 1 only, seen at once
        logq = np.log1p(-np.where(one, 0.0, q))
        t = T[sel][:, None]
        # (1 - q)^T, with 0^0 = 1 (T = 0: the untrained model errs everywhere)
        powers = np.where(one, (t == 0).astype(np.float64), np.exp(t * logq))
        out[sel] = powers @ p + float(sp.zeta(b, kk + 1.0)) / zeta
    return out


def tail_cut_scaling_law(T: ArrayLike, k: ArrayLike, beta: float | int) -> np.ndarray:
    r"""The tail-cut scaling law with constants: $E_\text{test} \approx A\,T^{-c} + B\,k^{-\beta c}$, $c = 1 - 1/\beta$.

    $$A = \frac{\Gamma(1 - 1/\beta)}{\beta\,\zeta(\beta)^{1/\beta}}, \qquad B = \frac{1}{(\beta - 1)\,\zeta(\beta)} .$$

    Dohmatob et al. 2024, Theorem 2.1, state $E_\text{test} \asymp T^{-c} + k^{-\beta c}$ (up to constants);
    the constants are derived here. $A\,T^{-c}$ is the clean-data law (Hutter 2021; re-derived in
    `jaxcollapse.theory.categorical.zipf_mass_lost_asymptotic`: $(1 - p)^T \approx e^{-Tp}$ and the sum
    becomes $\int_0^\infty \zeta^{-1}x^{-\beta}e^{-Tx^{-\beta}/\zeta}dx$); $B\,k^{-(\beta-1)}$ is the leading term of
    the plateau `zipf_tail_mass` ($\sum_{i>k} i^{-\beta} \approx \int_k^\infty x^{-\beta}dx$). `k` may be
    ``inf`` (no cut: the clean law).

    It is asymptotic, and each term is accurate only where it dominates: for $T \ll k^\beta$ the law counts
    the never-seen mass beyond $k$ twice (inside $A\,T^{-c}$ and as $B\,k^{-\beta c}$), a relative excess of
    about $(B/A)(T/k^\beta)^c$; for $T \gg k^\beta$ the true error has reached its plateau and $A\,T^{-c}$ is
    an excess of relative size $(A/B)(T/k^\beta)^{-c}$; the plateau's own constant is off by
    $O((\beta-1)/k)$ relatively, and $(1-p)^T$ against $e^{-Tp}$ by $O(1/T)$. The crossover between the two
    regimes, where the terms are equal, is at $T^* = (A/B)^{1/c}k^\beta$: the scaling law in $T$ stops at
    $T \approx k^\beta$. `jaxcollapse.verify` checks the gaps to `tail_cut_test_error` deterministically.
    """
    b = _need_beta(beta)
    T = _need("T", T, 0, strict=True)
    k = _need("k", k, 1, inf_ok=True)
    sp = _special()
    c = 1.0 - 1.0 / b
    zeta = float(sp.zeta(b))
    A = float(sp.gamma(1.0 - 1.0 / b)) / (b * zeta ** (1.0 / b))
    B = 1.0 / ((b - 1.0) * zeta)
    with np.errstate(divide="ignore"):
        plateau = np.where(np.isposinf(k), 0.0, B * np.where(np.isposinf(k), 1.0, k) ** (-(b - 1.0)))
    return np.asarray(A * T ** (-c) + plateau, np.float64)


# --------------------------------------------------------------------------- strong model collapse
def _noise_pair(noise, noise_synthetic) -> tuple[np.ndarray, np.ndarray]:
    s1 = _need("noise", noise, 0)
    s2 = s1 if noise_synthetic is None else _need("noise_synthetic", noise_synthetic, 0)
    return s1, s2


def _mixed_ols(n1: np.ndarray, n2: np.ndarray, d, shift_sq, v1, v2):
    """The exact pooled-OLS risk of `strong_collapse_risk` for residual variances v1 (real) and v2 (synthetic)."""
    n = n1 + n2
    var = (n1 * v1 + n2 * v2) * d / (n * (n - d - 1.0))
    shift = shift_sq * (n2 * (n2 + 2.0) / (n * (n + 2.0))
                        + n1 * n2 * (n + 1.0) * (d - 1.0) / (n * (n - 1.0) * (n + 2.0) * (n - d - 1.0)))
    return var + shift


def _rows(n_real, n_synthetic, d_min: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    n1 = _need("n_real", n_real, 0, integer=True)
    n2 = _need("n_synthetic", n_synthetic, 0, integer=True)
    if not np.all(n1 + n2 >= d_min + 2):
        raise ValueError(f"the exact least-squares risk needs n_real + n_synthetic >= {what} + 2 rows (the "
                         f"inverse-Wishart mean), got n_real = {n_real!r}, n_synthetic = {n_synthetic!r}, "
                         f"{what} = {d_min!r}")
    return n1, n2


def strong_collapse_risk(n_real: ArrayLike, n_synthetic: ArrayLike, d: ArrayLike, shift_sq: ArrayLike,
                         noise: ArrayLike = 1.0, noise_synthetic: ArrayLike | None = None) -> np.ndarray:
    r"""Exact finite-$n$ test error of least squares on $n_1$ real and $n_2$ synthetic rows (a fixed wrong labeller).

    $$E\|\hat w - w_1\|_\Sigma^2 = \frac{(n_1\sigma_1^2 + n_2\sigma_2^2)\,d}{n(n - d - 1)}
      + c^2\Big[\frac{n_2(n_2 + 2)}{n(n+2)} + \frac{n_1n_2(n+1)(d-1)}{n(n-1)(n+2)(n-d-1)}\Big],$$
    $n = n_1 + n_2$, $c^2 = \|w_2 - w_1\|_\Sigma^2$ (`shift_sq`), $\sigma_1$ = `noise` (real labels),
    $\sigma_2$ = `noise_synthetic` (default $\sigma_1$). Conditions: both row sets have the design law
    $N(0, \Sigma)$, any $\Sigma \succ 0$; $n \ge d + 2$; the fit is pooled OLS,
    $\hat w = (X^\top X)^{-1}X^\top y$.

    Derived here. Whitening ($x = \Sigma^{1/2}u$) reduces to $\Sigma = I$ with $\Delta = \Sigma^{1/2}(w_2 - w_1)$.
    Then $\hat w - w_1 = G^{-1}G_2\Delta + G^{-1}X^\top\epsilon$ ($G = G_1 + G_2$, $\epsilon$ the label noise),
    two uncorrelated terms. The noise term: $E\,x_r^\top G^{-2}x_r = E\,\mathrm{tr}\,G^{-1}/n = d/(n(n-d-1))$ for
    every row $r$ (the rows are exchangeable), weighted by its noise variance. The shift term: with fact 2,
    $E\|G^{-1}G_2\Delta\|^2 = \|\Delta\|^2 E\,\mathrm{tr}(MG^{-1}MG)/d$ by rotation invariance, and in the
    eigenbasis of $G$ (eigenvalues $\lambda_i$ in random order, independent of $M$)
    $\mathrm{tr}(MG^{-1}MG) = \sum_{ij}M_{ij}^2\lambda_i/\lambda_j$, whose mean is
    $d\,E M_{11}^2 + E M_{12}^2\,(E[\mathrm{tr}G\,\mathrm{tr}G^{-1}] - d)$; fact 1 gives
    $E[\mathrm{tr}G\,\mathrm{tr}G^{-1}]/d - 1 = (n+1)(d-1)/(n-d-1)$.

    Checks of the formula: $d = 1$ gives $c^2 E B^2$ for $B = G_2/G \sim \mathrm{Beta}(n_2/2, n_1/2)$; $n_2 = 0$
    gives the clean OLS risk $\sigma_1^2 d/(n-d-1)$; $n_1 = 0$ gives $c^2 + \sigma_2^2d/(n-d-1)$ (a fit of
    $w_2$). As $n \to \infty$ at a fixed fraction $p = n_2/n$ it tends to $p^2c^2$ (`strong_collapse_plateau`):
    the strong model collapse of Dohmatob et al. 2025.
    """
    d = _need("d", d, 1, integer=True)
    n1, n2 = _rows(n_real, n_synthetic, d, "d")
    c2 = _need("shift_sq", shift_sq, 0)
    s1, s2 = _noise_pair(noise, noise_synthetic)
    return np.asarray(_mixed_ols(n1, n2, d, c2, s1 * s1, s2 * s2), np.float64)


def _fraction(p) -> np.ndarray:
    a = _f(p)
    if not np.all(np.isfinite(a) & (a >= 0) & (a <= 1)):
        raise ValueError(f"the synthetic fraction p_synthetic must lie in [0, 1], got {p!r}")
    return a


def strong_collapse_plateau(p_synthetic: ArrayLike, shift_sq: ArrayLike) -> np.ndarray:
    r"""The limit of `strong_collapse_risk` as $n \to \infty$ at a fixed synthetic fraction $p$: $p^2c^2$.

    Derived here: by the law of large numbers $\hat w \to (E\,xx^\top)^{-1}E[xy] = (1-p)w_1 + p\,w_2 =
    w_1 + p(w_2 - w_1)$, whose excess risk is $p^2\|w_2 - w_1\|_\Sigma^2$; from the exact formula, the noise term
    is $O(d/n)$, $\frac{n_2(n_2+2)}{n(n+2)} \to p^2$ and the last term is $O(d/n)$. This is "strong model
    collapse" (Dohmatob et al. 2025): any fixed $p > 0$ leaves an error floor that more data cannot remove,
    and only $p \to 0$ (synthetic rows a vanishing share of a growing set) restores the scaling law.
    """
    p = _fraction(p_synthetic)
    return np.asarray(p * p * _need("shift_sq", shift_sq, 0), np.float64)


def strong_collapse_proportional_risk(phi: ArrayLike, p_synthetic: ArrayLike, shift_sq: ArrayLike,
                                      noise: ArrayLike = 1.0, noise_synthetic: ArrayLike | None = None) -> np.ndarray:
    r"""The proportional limit of `strong_collapse_risk`: $d, n \to \infty$, $d/n \to \varphi < 1$, $n_2/n \to p$.

    $$E\|\hat w - w_1\|^2_\Sigma \to \bar\sigma^2\frac{\varphi}{1 - \varphi}
      + c^2\Big[p^2 + p(1-p)\frac{\varphi}{1 - \varphi}\Big], \qquad \bar\sigma^2 = (1-p)\sigma_1^2 + p\,\sigma_2^2 .$$

    Derived here as the termwise limit of the exact formula ($d/(n - d - 1) \to \varphi/(1-\varphi)$,
    $n_2(n_2+2)/(n(n+2)) \to p^2$, $(d-1)(n+1)/((n-1)(n-d-1)) \to \varphi/(1-\varphi)$). It is the isotropic,
    ridgeless, under-parameterized case of the proportional-limit test error of Dohmatob et al. 2025
    (the synthetic data add to the classical bias and variance a term that does not vanish with $n$); their
    general statement covers ridge and anisotropic covariances and is not reproduced here. At finite
    $(n, d)$ it differs from the exact value by $O(1/d)$ relatively in the $p(1-p)$ term (its factor
    $(d - 1)/d$) and by $O(1/n)$ elsewhere; `jaxcollapse.verify` checks the gap deterministically.
    """
    phi = _f(phi)
    if not np.all(np.isfinite(phi) & (phi >= 0) & (phi < 1)):
        raise ValueError(f"phi = d/n must lie in [0, 1) (under-parameterized), got {phi!r}")
    p = _fraction(p_synthetic)
    c2 = _need("shift_sq", shift_sq, 0)
    s1, s2 = _noise_pair(noise, noise_synthetic)
    r = phi / (1.0 - phi)
    return np.asarray(((1.0 - p) * s1 * s1 + p * s2 * s2) * r + c2 * (p * p + p * (1.0 - p) * r), np.float64)


def _projection_sizes(d, m) -> tuple[np.ndarray, np.ndarray]:
    d = _need("d", d, 1, integer=True)
    m = _need("m", m, 1, integer=True)
    if not np.all(m <= d):
        raise ValueError(f"the number of projections m must lie in [1, d] (a full-rank projection of the input), "
                         f"got m = {m!r}, d = {d!r}")
    return d, m


def strong_collapse_projection_risk(n_real: ArrayLike, n_synthetic: ArrayLike, d: ArrayLike, m: ArrayLike,
                                    w_sq: ArrayLike, w_synthetic_sq: ArrayLike, shift_sq: ArrayLike,
                                    noise: ArrayLike = 1.0, noise_synthetic: ArrayLike | None = None) -> np.ndarray:
    r"""Exact finite-$n$ test error of the random-projections model of size $m$ on real and synthetic rows.

    The model is $x \mapsto v^\top Sx$ with $S$ an $m \times d$ matrix of i.i.d. Gaussian entries (drawn once,
    not trained) and $v$ fitted by least squares on the features $z = Sx$ of the $n_1$ real and $n_2$
    synthetic rows of `strong_collapse_risk`, with an isotropic design $x \sim N(0, I_d)$. Its test error is
    $E\|S^\top\hat v - w_1\|^2$, averaged over the data and over $S$:
    $$\Big(1 - \frac md\Big)\|w_1\|^2 + \frac{[n_1 s_1^2 + n_2 s_2^2]\,m}{n(n - m - 1)}
      + \frac md c^2\Big[\frac{n_2(n_2+2)}{n(n+2)} + \frac{n_1n_2(n+1)(m-1)}{n(n-1)(n+2)(n-m-1)}\Big],$$
    $s_1^2 = \sigma_1^2 + (1 - \frac md)\|w_1\|^2$, $s_2^2 = \sigma_2^2 + (1 - \frac md)\|w_2\|^2$ (`w_sq`,
    `w_synthetic_sq`), $c^2 = \|w_2 - w_1\|^2$ (`shift_sq`). Conditions: $1 \le m \le d$, $n \ge m + 2$.

    Derived here. Let $P$ be the projection onto the row space of $S$. For isotropic Gaussian $x$, $Px$
    (hence $z$) is independent of $(I - P)x$, so a row labelled by $w$ is $y = z^\top v_w + \sigma\varepsilon
    + x^\top(I - P)w$ with $S^\top v_w = Pw$: a Gaussian linear model in $z$ whose noise variance is
    $\sigma^2 + \|(I-P)w\|^2$. The fit is therefore `strong_collapse_risk` in dimension $m$ with the
    covariance $SS^\top$ of $z$, shift $\|P(w_2 - w_1)\|^2$ and these noise variances, and the test error adds
    the part of $w_1$ the model cannot represent: $\|S^\top\hat v - w_1\|^2 = \|S^\top\hat v - Pw_1\|^2 +
    \|(I-P)w_1\|^2$. All of it is linear in $\|Pa\|^2$ and $\|(I-P)a\|^2$, and the row space of a Gaussian $S$ is
    uniformly distributed, so averaging over $S$ replaces $\|Pa\|^2$ by $\frac md\|a\|^2$.

    The random-projections model is the one Dohmatob et al. 2025 use for model size; they analyse ridge in
    the proportional limit. Larger $m$ lowers the approximation error but raises the synthetic term
    $\frac md c^2[\dots]$: bigger models absorb more of the wrong labeller (up to the interpolation threshold
    $m \approx n$, beyond which this least-squares formula does not apply).
    """
    d, m = _projection_sizes(d, m)
    n1, n2 = _rows(n_real, n_synthetic, m, "m")
    a = _need("w_sq", w_sq, 0)
    b = _need("w_synthetic_sq", w_synthetic_sq, 0)
    c2 = _need("shift_sq", shift_sq, 0)
    s1, s2 = _noise_pair(noise, noise_synthetic)
    r = m / d
    v1 = s1 * s1 + (1.0 - r) * a
    v2 = s2 * s2 + (1.0 - r) * b
    return np.asarray((1.0 - r) * a + _mixed_ols(n1, n2, m, r * c2, v1, v2), np.float64)


def strong_collapse_projection_plateau(d: ArrayLike, m: ArrayLike, p_synthetic: ArrayLike, w_sq: ArrayLike,
                                       shift_sq: ArrayLike) -> np.ndarray:
    r"""The $n \to \infty$ limit of `strong_collapse_projection_risk` at a fixed fraction $p$:
    $(1 - \frac md)\|w_1\|^2 + \frac md\,p^2c^2$.

    Derived here (the noise terms are $O(m/n)$, the shift term tends to $\frac md p^2c^2$). The synthetic part
    of the floor grows linearly with the model size $m$: the larger model amplifies the collapse (Dohmatob et
    al. 2025's random-projections finding, in its least-squares, fixed-$d$ form).
    """
    d, m = _projection_sizes(d, m)
    p = _fraction(p_synthetic)
    r = m / d
    return np.asarray((1.0 - r) * _need("w_sq", w_sq, 0) + r * p * p * _need("shift_sq", shift_sq, 0), np.float64)
