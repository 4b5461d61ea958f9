r"""Closed forms of the diffusion family (`jaxcollapse.families.diffusion`): the affine flow-matching optimum.

Nothing here imports the simulator.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

__all__ = ["affine_flow_optimum"]


def affine_flow_optimum(mean: Float[ArrayLike, " d"], cov: Float[ArrayLike, "d d"],
                        t: Float[ArrayLike, ""]) -> tuple[Float[Array, "d d"], Float[Array, " d"]]:
    r"""The flow-matching optimum of an affine velocity $v(x, t) = A(t)x + b(t)$ for data of mean $m$ and
    covariance $C$ (the rows' covariance with divisor $n$, for the empirical law of $n$ rows):

    $$A(t) = (tC - (1-t)I)\,\big((1-t)^2 I + t^2 C\big)^{-1}, \qquad b(t) = (I - tA(t))\,m.$$

    Its flow $\dot x = A(t)x + b(t)$ carries $N(0, I)$ at $t = 0$ to $N(m, C)$ at $t = 1$.

    Derived here. Path $x_t = (1-t)z + t x_1$, $z \sim N(0, I)$ independent of the data row $x_1$, target
    $x_1 - z$. The loss $E\lVert A x_t + b - (x_1 - z)\rVert^2$ is quadratic in $(A, b)$ and involves the
    data through their first two moments only, so its minimiser is the least-squares regression of the
    target on $x_t$: $x_t - tm$ has covariance $S = (1-t)^2 I + t^2 C$ and cross-covariance $tC - (1-t)I$
    with the target, so $A = (tC - (1-t)I)S^{-1}$ ($C$ and $S$ commute) and $b = m - A\,tm$ from the means.
    For Gaussian data this is the conditional mean $E[x_1 - z \mid x_t]$, whose flow transports the
    marginals of the path (Lipman et al. 2023, "Flow matching for generative modeling", ICLR, Theorem 1);
    the marginal at $t = 1$ is $N(m, C)$.
    """
    mean, cov, t = jnp.asarray(mean), jnp.asarray(cov), jnp.asarray(t)
    eye = jnp.eye(mean.shape[0], dtype=mean.dtype)
    s = (1.0 - t) ** 2 * eye + t * t * cov
    a = jnp.linalg.solve(s, t * cov - (1.0 - t) * eye).T  # S^{-1} is symmetric and commutes with C
    return a, mean - t * (a @ mean)
