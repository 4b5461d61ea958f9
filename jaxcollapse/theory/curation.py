r"""Closed forms for curated refitting (`jaxcollapse.curation`): a noisy verifier filters the samples.

**Curation (derived here).** A Gaussian model equal to the truth $N(\mu, \sigma^2)$ in 1-D; a verifier
calls a sample good when $|x - \mu| \le c\sigma$ (a threshold on the truth's log-density) and accepts a
good one with probability $\alpha$ (true acceptance rate), a bad one with probability $\beta$ (false
acceptance rate), independently (Feng et al. 2024, "Beyond model collapse: scaling up with
synthesized data requires verification", whose noisy verifier has exactly these two rates). With
$q = 2\Phi(c) - 1$, $m_{\rm in} = E[Z^2; |Z| \le c] = q - 2c\varphi(c)$: each of the $n$ samples is kept
with probability $p = \alpha q + \beta(1 - q)$; the kept ones are iid with mean $\mu$ and variance
$V = \sigma^2(\alpha m_{\rm in} + \beta(1 - m_{\rm in}))/p$, their number is $M \sim \mathrm{Bin}(n, p)$,
and the MLE refit (the previous model kept when $M = 0$) has

$$E\sigma_1^2 = V\,E\Big[\tfrac{M-1}{M}; M \ge 1\Big] + \sigma^2 P(M = 0), \qquad
  E(\mu_1 - \mu)^2 = V\,E\Big[\tfrac1M; M \ge 1\Big].$$

References:

- Feng, Dohmatob, Yang, Charton and Kempe (2024), "Beyond model collapse: scaling up with synthesized
  data requires verification".
- Ferbach, Bertrand, Bose and Gidel (2024), "Self-consuming generative models with curated data provably
  optimize human preferences" (NeurIPS).
"""

from __future__ import annotations

import numpy as np

__all__ = ["curated_gaussian_one_step"]


def curated_gaussian_one_step(n: int, c: float | int, accept_good: float | int = 1.0, accept_bad: float | int = 0.0,
                              sigma2: float | int = 1.0) -> dict[str, float]:
    r"""$E\sigma_1^2$ and $E(\mu_1-\mu)^2$ after one curated MLE refit of $N(\mu, \sigma^2)$ (1-D).

    The verifier calls $|x - \mu| \le c\sigma$ good and accepts good samples with probability
    `accept_good`, bad ones with `accept_bad` (Feng et al. 2024's noisy verifier); the closed form is
    derived in the module docstring (a binomial number of kept samples, each from the accepted law).
    """
    from scipy.stats import binom, norm

    q = 2.0 * norm.cdf(c) - 1.0
    m_in = q - 2.0 * c * norm.pdf(c)
    p = accept_good * q + accept_bad * (1.0 - q)
    if p <= 0:
        return {"variance": float(sigma2), "mean_sq_err": 0.0, "keep_prob": 0.0}
    v = sigma2 * (accept_good * m_in + accept_bad * (1.0 - m_in)) / p
    m = np.arange(1, n + 1)
    pm = binom.pmf(m, n, p)
    p0 = float(binom.pmf(0, n, p))
    return {
        "variance": float(v * np.sum(pm * (m - 1) / m) + sigma2 * p0),
        "mean_sq_err": float(v * np.sum(pm / m)),
        "keep_prob": float(p),
    }
