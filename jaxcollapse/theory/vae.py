r"""Closed forms for the metrics of the VAE family (`jaxcollapse.VAE`).

The neural families themselves have no closed-form collapse law; what has one is the yardstick. The
``coverage`` metric of Naeem, Oh, Uh, Choi and Yoo (2020), "Reliable fidelity and diversity metrics for
generative models" (ICML), has an exact expectation when the model is the truth, which pins down
generation 0 of every VAE trajectory (and so the scale every later generation is read against).
"""

from __future__ import annotations

import math

__all__ = ["coverage_mean"]


def coverage_mean(n_ref: int, n_fake: int, k: int) -> float:
    r"""$E[\text{coverage}]$ when the $M$ model samples and the $N$ reference points share one law.

    Coverage is the share of reference points $X_i$ whose ball of radius "distance to the $k$-th nearest
    other reference point" holds at least one model sample. For a continuous law,

    $$E[\text{coverage}] = 1 - \prod_{j=0}^{k-1}\frac{N - 1 - j}{N + M - 1 - j}
      = 1 - \binom{N-1}{k}\Big/\binom{N+M-1}{k} \;\xrightarrow{N = M \to \infty}\; 1 - 2^{-k}.$$

    Source: Naeem et al. (2020), Section 3.2 / Appendix (the expected coverage of identical real and
    fake distributions, and its limit $1 - 1/2^k$). Derived here as well: given $X_i$, the distances
    from $X_i$ of the other $N - 1$ reference points and of the $M$ samples are i.i.d., so their ranks
    are exchangeable; $X_i$ is uncovered iff its $k$ nearest neighbours among these $N - 1 + M$ points
    are all reference points, an event of probability $\binom{N-1}{k}/\binom{N+M-1}{k}$.
    """
    if min(n_ref, n_fake, k) < 1 or k > n_ref - 1:
        raise ValueError(f"need n_ref > k >= 1 and n_fake >= 1, got n_ref={n_ref}, n_fake={n_fake}, k={k}")
    return 1.0 - math.prod((n_ref - 1 - j) / (n_ref + n_fake - 1 - j) for j in range(k))
