r"""The check that ties the diffusion family (`jaxcollapse.Diffusion`) to the Gaussian family's laws.

`diffusion.gaussian_limit`: with a Gaussian truth and the affine velocity network (``net="affine"``,
$v(x, t) = A(t)x + b(t)$), the flow-matching optimum on $n$ rows is the exact velocity of
$N(\hat m, \hat C)$ with $\hat C$ the rows' covariance of divisor $n$ (derived in
`jaxcollapse.families.diffusion`), so a trained model refits the Gaussian MLE up to its training error
(optimiser plus Heun discretisation). The Gaussian MLE's laws then hold for it:

- replace: $E\,\mathrm{tr}\,\Sigma_t = (1 - 1/n)^t\,\mathrm{tr}\,\Sigma$ (`theory.gaussian.trace_mean`);
- accumulate: $E\,\mathrm{tr}\,\Sigma_t = \mathrm{tr}\,\Sigma\,\prod_{j \le t}(1 - 1/(n j^2))$
  (`theory.gaussian.accumulate_mle_variance`, applied to each coordinate's marginal, which is the 1-D MLE
  process, and summed: the law is linear in $\sigma^2$).

**The training error, measured.** `refit_error` trains `fits` models on independent sets of $n$ truth
rows and compares each fitted law (exact: the affine model is Gaussian, `Diffusion.affine_moments`) with
the rows' mean and covariance. Rule ``"gap"``: the largest relative error of the trace must be at most
$1/(10n)$, a tenth of the per-generation collapse $1/n$ that the check measures, so that the law and not
the optimiser is tested. The z comparisons use the theory as it stands (no allowance); each one's note
states the largest drift the measured error could cause, $\mathrm{theory}\cdot((1 + \varepsilon)^t - 1)$,
in standard errors.

Rule ``"z"``: the mean over chains of the model's exact trace with its standard error, $|z| <$
`verify.Z_BOUND`. Setup: $d = 2$, $\Sigma = [[1, 0.3], [0.3, 0.5]]$, $n = 32$, 6 generations, a time MLP of
width 16 and depth 2, 1,000 AdamW steps (learning rate 0.01), Heun with 16 steps.

Fu et al. (2024–2025)'s kernel-based score estimator: not checked here (its closed forms were not read).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..families.diffusion import Diffusion
from ..families.gaussian import Gaussian
from ..random import Stream
from ..regimes import accumulate, replace
from ..theory import gaussian as thg
from ..theory.diffusion import affine_flow_optimum
from ._core import Comparison, compare_gap, compare_z, keys, register, scaled_chains, sim

__all__ = ["refit_error"]

_COV = np.array([[1.0, 0.3], [0.3, 0.5]])
_N = 32
_GENERATIONS = 6
_TS = (1, 2, 4, 6)
_FITS = 64


def _model(steps: int = 1000) -> Diffusion:
    truth = Gaussian(np.zeros(2), _COV)
    return Diffusion(jax.random.key(0), truth, net="affine", width=16, depth=2, steps=steps, learning_rate=1e-2,
                     sampler="heun", sample_steps=16, n_eval=8, n_ref=8)


@eqx.filter_jit
def _refits(model: Diffusion, raw, fits: int, n: int):
    def one(c):
        s = Stream(raw, c)
        x = model.draw_samples(s, n, jnp.ones((), model.dtype))  # data mode: exact truth draws
        m = jnp.mean(x, axis=0)
        r = x - m[None, :]
        cov = r.T @ r / n  # the MLE (divisor n): the affine optimum's law
        fit = model.fit(model.stats(x), s.fork(1))
        q, p = fit.affine_moments()
        t = fit.velocity_times()
        a, b = fit.affine_field(t)
        a0, b0 = jax.vmap(lambda tk: affine_flow_optimum(m, cov, tk))(t)
        gap = jnp.sum((a - a0) ** 2) + jnp.sum((b - b0) ** 2)
        field = jnp.sqrt(gap / (jnp.sum(a0 ** 2) + jnp.sum(b0 ** 2)))
        return m, cov, q, p, field
    return jax.vmap(one)(jnp.arange(fits, dtype=jnp.uint32))


def refit_error(key, model: Diffusion, n: int, fits: int) -> dict[str, np.ndarray]:
    r"""The training error of an affine `model` (in data mode) refit on `fits` independent sets of `n` of its
    truth's rows: per fit, the relative error of the trace (``"trace"``: $\mathrm{tr}\,\Sigma_{\rm fit} /
    \mathrm{tr}\,\hat C - 1$), the relative Frobenius error of the covariance (``"cov"``) and the mean's
    error relative to $\sqrt{\mathrm{tr}\,\hat C}$ (``"mean"``), and the relative distance of the trained field
    $(A(t_k), b(t_k))$ at the sampler's times from the closed-form optimum `theory.diffusion.affine_flow_optimum`
    of the rows' moments (``"field"``)."""
    m, cov, q, p, field = (np.asarray(a, np.float64) for a in _refits(model, jax.random.key_data(key), int(fits),
                                                                        int(n)))
    tr = np.trace(cov, axis1=1, axis2=2)
    return {"trace": np.trace(p, axis1=1, axis2=2) / tr - 1.0,
            "cov": np.linalg.norm(p - cov, axis=(1, 2)) / np.linalg.norm(cov, axis=(1, 2)),
            "mean": np.linalg.norm(q - m, axis=1) / np.sqrt(tr), "field": field}


def _noted(c: Comparison, eps: float, note: str) -> Comparison:
    drift = abs(c.theory) * ((1.0 + eps) ** c.generation - 1.0)
    return dataclasses.replace(c, note=f"{note}; the measured refit error (|trace error| <= {eps:.2g} per "
                                       f"generation) moves the mean by <= {drift:.2g} = {drift / c.stderr:.2g} "
                                       "standard errors")


@register("diffusion.gaussian_limit", family="diffusion",
          source="Gaussian MLE laws (theory.gaussian.trace_mean, accumulate_mle_variance); the affine flow-matching "
                 "optimum derived in families/diffusion.py",
          description="affine flow-matching diffusion on a 2-D Gaussian truth, n = 32: E tr Sigma_t = (1 - 1/n)^t "
                      "tr Sigma (replace) and the accumulate law, within the measured training error")
def _gaussian_limit(key, scale):
    name = "diffusion.gaussian_limit"
    chains = scaled_chains(512, scale)
    k_err, k_rep, k_acc = keys(key, 3)
    model = _model()
    err = refit_error(k_err, model, _N, _FITS)
    eps = float(np.max(np.abs(err["trace"])))
    note = (f"refit error over {_FITS} fits: trace {np.mean(err['trace']):+.2g} mean, {eps:.2g} max; covariance "
            f"(Frobenius) {np.max(err['cov']):.2g} max; mean {np.max(err['mean']):.2g} max; field vs the closed-form "
            f"optimum {np.max(err['field']):.2g} max (relative)")
    out = [compare_gap(name, "refit trace / sample trace (MLE)", 1, 1.0, 1.0 + eps, 1.0 / (10 * _N),
                       reason=f"the refit must be within a tenth of the per-generation collapse 1/n; {note}")]
    tr0 = float(np.trace(_COV))
    for k, regime, law, label in ((k_rep, replace(_N), thg.trace_mean, "replace"),
                                  (k_acc, accumulate(_N), thg.accumulate_mle_variance, "accumulate")):
        traj = sim(k, model, regime, _GENERATIONS, chains, ("trace",), path="samples")
        mean = np.asarray(traj.mean("trace"), np.float64)
        se = np.asarray(traj.stderr("trace"), np.float64)
        for t in _TS:
            theory = float(law(jnp.asarray(float(t)), jnp.asarray(float(_N)), tr0))
            out.append(_noted(compare_z(name, f"trace/{label}", t, theory, mean[t], se[t]), eps, note))
    return out
