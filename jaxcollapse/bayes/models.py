r"""numpyro models of how a statistic changes per generation.

All three models see only per-(dataset, group, chain) sums (`jaxcollapse.bayes._prepare.prepare`), so a
gradient costs $O(\text{groups}\times\text{chains})$ whatever the number of generations. Arrays have
shape `(B, G, C)`: `B` independent datasets (1 for an ordinary fit; many in a vectorized calibration,
where the joint posterior of independent datasets is the product of their posteriors), `G` groups
(configurations) and `C` chains (1 when chains are pooled).

**Spread decay** (``"spread"``; exact likelihood). Per consecutive pair,
$y = \ln(s_{t+1}/s_t) = \ln\kappa + \ln(\chi^2_{k}/m)$, $k = n_{\rm eff} - 1$, $m = n_{\rm eff}$
(``divisor="mle"``: the finite-sample factor has mean $1 - 1/n_{\rm eff}$, and a Gaussian MLE refit
at temperature $\tau$ has $n_{\rm eff} = n$, $\kappa = \tau^2$) or $m = n_{\rm eff} - 1$
(``"unbiased"``: mean one). With $x = m e^y/\kappa \sim \chi^2_k$ the log density is
$\tfrac k2\ln x - \tfrac x2 - \tfrac k2\ln 2 - \ln\Gamma(\tfrac k2)$, and summed over $N$ pairs it
depends on the data only through $N$, $\sum y$ and $\sum e^y$:
$$\ell = \tfrac k2\big(\textstyle\sum y - N\ln\kappa + N\ln m\big) - \tfrac{m}{2\kappa}\sum e^{y}
 - N\big(\tfrac k2\ln 2 + \ln\Gamma(\tfrac k2)\big).$$
$n_{\rm eff}$ is identified by the spread of $y$ ($\mathrm{Var}\,y = \psi'(k/2) \approx 2/k$) and
$\kappa$ by its mean. Each group has its own $n_{\rm eff}$; $\kappa$ is shared by the groups (the
hierarchy across configurations: several sample sizes, one learner). With ``chain_kappa=True`` each
chain has its own $\ln\kappa_c = \ln\kappa + \sigma_\kappa\eta_c$, $\eta_c \sim N(0, 1)$
(non-centred), for external experiments whose runs differ. Priors: $\ln(n_{\rm eff} - 1) \sim
N(\ln 29, 1.5^2)$, $\ln\kappa \sim N(0, 0.5^2)$, $\sigma_\kappa \sim \text{HalfNormal}(0.1)$.

**Diversity** (``"diversity"``; exact in expectation). For Gini–Simpson diversity $H$,
$E[H_{t+1}/H_t \mid H_t] = \kappa(1 - 1/n_{\rm eff})$ exactly under multinomial resampling; the law of
the ratio has no closed form, so the ratios get a normal *quasi*-likelihood with mean
$q_g = \kappa(1 - 1/n_g)$ and a free scale $\omega_g$. The ratios minus $q_g$ are martingale
differences (uncorrelated), so the posterior of $q_g$ is asymptotically right (a CLT), not exact.
Only the product $q_g$ is identified by one group: fix $n_{\rm eff}$ or $\kappa$, or give several
groups with known sizes. The mean law holds for every $H_t > 0$, so a transition into the absorbing
state $H_{t+1} = 0$ (one category left) is a ratio of 0 and stays in the likelihood; dropping it
biases $q$ upward. (Why not the spread model for a diversity: the log ratio of a Gini–Simpson
diversity has variance $O(1/n^2)$ — the $O(1/n)$ term $\tfrac4n(\sum p^3 - (\sum p^2)^2)$ vanishes
for a flat $p$ — not the $\psi'((n-1)/2) \approx 2/n$ of the chi-square law, so the spread model
infers $n_{\rm eff} \gg n$, a finite-sample rate near 0, and puts the decay into $\kappa$: the
"approximation" term of a chain that has no approximation error. With $n$ known the diversity model
gives $\kappa \approx 1$.)

**Error growth** (``"error"``; quasi-likelihood). For a test error $e_t$ (regression), the increments
$e_{t+1} - e_t$ of group $g$ have mean $\sigma^2 h_g + b$ with $h_g = d_g/(T_g - d_g - 1)$ known from
the design (the OLS finite-sample term of Dohmatob et al. 2024) and $b$ the approximation term; a
normal quasi-likelihood with scale $\omega_g$ (the increments minus their mean are martingale
differences for the OLS chain). $\sigma^2$ and $b$ are identified by two or more groups with
different $h_g$, or by one group when $\sigma^2$ is known.

The models sample only the free parameters (`log_neff_m1`, `log_kappa`, `chain_sd`, `chain_eta`,
`omega`, `noise_var`, `approx`); `derive` computes $n_{\rm eff}$, $\kappa$ and the rates from the draws
on the host (no extra compiled program).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax.scipy.special import gammaln

PRIOR_N = (math.log(29.0), 1.5)  # ln(n_eff - 1) ~ N(loc, scale^2): median n_eff = 30
PRIOR_KAPPA = (0.0, 0.5)  # ln kappa ~ N(loc, scale^2)
PRIOR_CHAIN_SD = 0.1


def _m(n, divisor: str):
    return n if divisor == "mle" else n - 1.0


def spread_loglik(count, sum_log, sum_ratio, n_eff, log_kappa, divisor: str = "mle"):
    """The exact log-chi-square log-likelihood from the sums (all arguments broadcast, same rank)."""
    k = n_eff - 1.0
    m = _m(n_eff, divisor)
    lm = jnp.log(m)
    return (0.5 * k * (sum_log - count * log_kappa + count * lm)
            - 0.5 * m * jnp.exp(-log_kappa) * sum_ratio
            - count * (0.5 * k * math.log(2.0) + gammaln(0.5 * k)))


def spread_model(count, sum_log, sum_ratio, n_known=None, *, divisor: str = "mle", kappa_known=None,
                 prior_n=PRIOR_N, prior_kappa=PRIOR_KAPPA, chain_kappa: bool = False):
    """numpyro model of spread decay; arrays `(B, G, C)`; `n_known` `(B, G)` or None."""
    import numpyro
    import numpyro.distributions as dist

    B, G, C = count.shape
    if n_known is None:
        z = numpyro.sample("log_neff_m1", dist.Normal(prior_n[0], prior_n[1]).expand([B, G]).to_event(2))
        n_eff = 1.0 + jnp.exp(z)
    else:
        n_eff = jnp.asarray(n_known)
    if kappa_known is None:
        lk = numpyro.sample("log_kappa", dist.Normal(prior_kappa[0], prior_kappa[1]).expand([B]).to_event(1))
    else:
        lk = jnp.full((B,), math.log(kappa_known))
    lk3 = lk[:, None, None]
    if chain_kappa:
        sd = numpyro.sample("chain_sd", dist.HalfNormal(PRIOR_CHAIN_SD).expand([B]).to_event(1))
        eta = numpyro.sample("chain_eta", dist.Normal(0.0, 1.0).expand([B, G, C]).to_event(3))
        lk3 = lk3 + sd[:, None, None] * eta
    ll = spread_loglik(count, sum_log, sum_ratio, n_eff[:, :, None], lk3, divisor)
    numpyro.factor("loglik", jnp.sum(ll))


def _normal_quasi(count, mean, ss, mu, omega):
    r"""$\sum_i \ln N(x_i; \mu, \omega^2)$ from $N$, $\bar x$ and $\sum (x_i - \bar x)^2$."""
    return (-count * jnp.log(omega) - 0.5 * count * math.log(2.0 * math.pi)
            - 0.5 * (ss + count * (mean - mu) ** 2) / (omega * omega))


def diversity_model(count, mean, ss, n_known=None, *, kappa_known=None, prior_n=PRIOR_N,
                    prior_kappa=PRIOR_KAPPA, omega_scale: float = 1.0):
    """numpyro model of diversity decay (pooled chains: arrays `(B, G, 1)`)."""
    import numpyro
    import numpyro.distributions as dist

    B, G, _ = count.shape
    if n_known is None:
        z = numpyro.sample("log_neff_m1", dist.Normal(prior_n[0], prior_n[1]).expand([B, G]).to_event(2))
        n_eff = 1.0 + jnp.exp(z)
    else:
        n_eff = jnp.asarray(n_known)
    if kappa_known is None:
        lk = numpyro.sample("log_kappa", dist.Normal(prior_kappa[0], prior_kappa[1]).expand([B]).to_event(1))
    else:
        lk = jnp.full((B,), math.log(kappa_known))
    omega = numpyro.sample("omega", dist.HalfNormal(omega_scale).expand([B, G]).to_event(2))
    q = jnp.exp(lk)[:, None] * (1.0 - 1.0 / n_eff)
    ll = _normal_quasi(count[:, :, 0], mean[:, :, 0], ss[:, :, 0], q, omega)
    numpyro.factor("loglik", jnp.sum(ll))


def error_model(count, mean, ss, h, *, noise_known=None, noise_scale: float = 1.0, approx_scale: float = 1.0,
                omega_scale: float = 1.0):
    """numpyro model of test-error growth (pooled chains: arrays `(B, G, 1)`; `h` `(G,)`)."""
    import numpyro
    import numpyro.distributions as dist

    B, G, _ = count.shape
    if noise_known is None:
        s2 = numpyro.sample("noise_var", dist.HalfNormal(noise_scale).expand([B]).to_event(1))
    else:
        s2 = jnp.full((B,), float(noise_known))
    b = numpyro.sample("approx", dist.Normal(0.0, approx_scale).expand([B]).to_event(1))
    omega = numpyro.sample("omega", dist.HalfNormal(omega_scale).expand([B, G]).to_event(2))
    finite = s2[:, None] * jnp.asarray(h)[None, :]
    mu = finite + b[:, None]
    ll = _normal_quasi(count[:, :, 0], mean[:, :, 0], ss[:, :, 0], mu, omega)
    numpyro.factor("loglik", jnp.sum(ll))


def derive(model: str, raw: dict, *, n_known=None, kappa_known=None, divisor: str = "mle", h=None,
           noise_known=None) -> dict:
    """Derived quantities from raw draws `(..., B[, G])` (numpy, float64).

    Spread and diversity: `n_eff` `(..., B, G)`, `kappa` `(..., B)`, `r_sample` `(..., B, G)`, `r_approx`
    `(..., B)`, `rate` `(..., B, G)`. Error: `noise_var`, `growth_approx` `(..., B)`, `growth_sample`,
    `growth` `(..., B, G)`.
    """
    import numpy as np
    from scipy.special import digamma as sp_digamma

    out = {k: np.asarray(v, np.float64) for k, v in raw.items()}
    if model == "error":
        b = out["approx"]
        s2 = out["noise_var"] if noise_known is None else np.full_like(b, float(noise_known))
        hh = np.asarray(h, np.float64)
        finite = s2[..., None] * hh
        out.update(noise_var=s2, growth_approx=b, growth_sample=finite, growth=finite + b[..., None])
        return out
    if n_known is None:
        n = 1.0 + np.exp(out["log_neff_m1"])
        shape = n.shape
    else:  # n known (B, G); then kappa is not (fit refuses both known)
        nk = np.asarray(n_known, np.float64)
        n = np.broadcast_to(nk, out["log_kappa"].shape + nk.shape[-1:])
        shape = n.shape
    lk = out["log_kappa"] if kappa_known is None else np.full(shape[:-1], math.log(kappa_known))
    if model == "spread":
        m = n if divisor == "mle" else n - 1.0
        r_sample = -(sp_digamma(0.5 * (n - 1.0)) + np.log(2.0 / m))
    else:
        r_sample = -np.log1p(-1.0 / n)
    out.update(n_eff=np.array(n), kappa=np.exp(lk), r_sample=r_sample, r_approx=-lk, rate=r_sample - lk[..., None])
    return out
