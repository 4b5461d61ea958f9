r"""NUTS fits of the collapse models: `fit`, `predict_rate`, and the `Posterior` they return.

numpyro runs the No-U-Turn sampler with several chains. On CPU, `numpyro.set_host_device_count`
cannot change the device count once JAX has started, so the chains run with
``chain_method="vectorized"`` (one program, the chains batched with `vmap`; the default) or
``"sequential"``. The likelihoods need only a few sums per (group, chain) (see
`jaxcollapse.bayes.models`), so a fit costs seconds whatever the number of generations or chains.

Everything runs in float64 (inside `jaxcollapse.x64()`); numpyro, arviz and matplotlib are imported
only inside functions, so `import jaxcollapse` stays fast.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._config import x64
from . import models as M
from ._prepare import MODELS, Prepared, prepare

CHAIN_METHODS = ("vectorized", "sequential")
_REPORT = {
    "spread": ("n_eff", "kappa", "r_sample", "r_approx", "rate"),
    "diversity": ("n_eff", "kappa", "r_sample", "r_approx", "rate"),
    "error": ("noise_var", "growth_sample", "growth_approx", "growth"),
}
_GROUPED = {"n_eff", "r_sample", "rate", "growth_sample", "growth", "omega"}
Z_WARN = 4.0  # |z| beyond which a check of the model against the data prints a warning


def _arviz():
    """Import arviz without its import-time FutureWarning about its refactor (not about the user's input)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*ArviZ is undergoing a major refactor", category=FutureWarning)
        import arviz
    return arviz


def _check_key(key) -> None:
    if not isinstance(key, jax.Array) or not jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or key.shape != ():
        raise ValueError("key must be a single typed key from jax.random.key(seed)")


@dataclass(frozen=True, eq=False)
class Posterior:
    r"""Posterior draws of a collapse model.

    - `model`: ``"spread"``, ``"diversity"`` or ``"error"``.
    - `draws[name]`: shape `(chains, draws, ...)`; per-group quantities have a trailing group axis.
      Spread and diversity: `n_eff`, `kappa`, `r_sample`, `r_approx`, `rate` ($= r_{\rm sample} +
      r_{\rm approx}$ per group). Error: `noise_var`, `growth_sample`, `growth_approx`, `growth`.
    - `data`: the prepared statistics (last observed values are kept for `forecast`).
    - `idata`: the same draws as ArviZ `InferenceData` (built on first use).
    - `warnings`: where the data contradict the model (see `check_model`); printed by `summary()`.
    - `summary()`: a printable table (mean, sd, 5% and 95% quantiles, bulk ESS, R-hat), the absorbed
      fraction where chains are absorbed at 0, and the warnings.
    """

    model: str
    draws: dict[str, np.ndarray]
    data: Prepared
    divisor: str
    key: Any
    info: dict = field(default_factory=dict)

    def samples(self, name: str) -> np.ndarray:
        """Draws of `name` with chains and draws flattened: shape `(chains * draws, ...)`."""
        if name not in self.draws:
            raise KeyError(f"no variable {name!r}; have {tuple(self.draws)}")
        a = self.draws[name]
        return a.reshape((-1,) + a.shape[2:])

    def interval(self, name: str, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """Equal-tailed credible interval of `name`."""
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        s = self.samples(name)
        a = (1 - level) / 2
        return np.quantile(s, a, axis=0), np.quantile(s, 1 - a, axis=0)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(self.info.get("warnings", ()))

    @functools.cached_property
    def idata(self):
        az = _arviz()

        post, dims = {}, {}
        for k, v in self.draws.items():
            if k == "chain_eta":
                continue
            post[k] = v
            if k in _GROUPED and v.ndim == 3:
                dims[k] = ["group"]
        stats = {"diverging": self.info["diverging"]} if "diverging" in self.info else None
        return az.from_dict(posterior=post, sample_stats=stats, dims=dims)

    def summary(self) -> str:
        az = _arviz()

        names = [n for n in _REPORT[self.model] if n in self.draws]
        rows = []
        for n in names:
            a = self.draws[n]
            cols = [(n, a)] if a.ndim == 2 else [(f"{n}[{g}]", a[:, :, g]) for g in range(a.shape[2])]
            for label, x in cols:
                flat = x.reshape(-1)
                if np.ptp(flat) == 0:  # a known (fixed) quantity
                    ess, rhat = float("nan"), float("nan")
                else:
                    ess = float(az.ess(x, method="bulk")) if x.shape[1] >= 4 else float("nan")
                    rhat = float(az.rhat(x)) if x.shape[0] >= 2 and x.shape[1] >= 4 else float("nan")
                q5, q95 = np.quantile(flat, [0.05, 0.95])
                rows.append((label, flat.mean(), flat.std(), q5, q95, ess, rhat))
        head = f"{'':>16} {'mean':>11} {'sd':>11} {'5%':>11} {'95%':>11} {'ess_bulk':>9} {'r_hat':>6}"
        lines = [f"posterior of the {self.model} model: {self.info.get('num_chains')} chains x "
                 f"{self.info.get('num_samples')} draws, {self.info.get('divergences', 0)} divergences, "
                 f"{int(self.data.count.sum())} pairs in {self.data.groups} group(s)", head]
        for label, m, sd, q5, q95, ess, rhat in rows:
            lines.append(f"{label:>16} {m:11.5g} {sd:11.4g} {q5:11.5g} {q95:11.5g} {ess:9.0f} {rhat:6.3f}")
        if self.model in ("spread", "diversity"):
            lines.append("rate = r_sample + r_approx per generation; r_sample from n_eff, r_approx = -ln kappa")
        elif self.info.get("lumped"):
            lines.append("growth = the mean increment per generation; one configuration (no h) does not separate "
                         "the finite-sample term from the approximation term")
        if self.data.absorbing:
            for g, a in enumerate(self.data.absorbed):
                t = int(np.flatnonzero(np.isfinite(a))[-1])
                live = int(self.data.count[g].astype(bool).sum())
                grp = f" of group {g}" if self.data.groups > 1 else ""
                lines.append(f"absorbed at 0: {a[t]:.1%} of the chains{grp} at the last observed generation; the "
                             f"decay model is fitted to the live chains ({live} with usable pairs)")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


# --------------------------------------------------------------------------- running NUTS
_CACHE: dict = {}


def _mcmc(model_fn, cache_key, num_warmup: int, num_samples: int, num_chains: int, chain_method: str):
    """An `MCMC` object, reused for the same configuration so that its compiled sampler is reused."""
    from numpyro.infer import MCMC, NUTS

    key = (cache_key, num_warmup, num_samples, num_chains, chain_method)
    if key not in _CACHE:
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[key] = MCMC(NUTS(model_fn), num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                           chain_method=chain_method, progress_bar=False, jit_model_args=True)
    return _CACHE[key]


def run_nuts(model_fn, cache_key, args: tuple, key, *, num_warmup: int, num_samples: int, num_chains: int,
             chain_method: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Run NUTS; returns draws `(chains, draws, B, ...)` and the divergence flags `(chains, draws)`."""
    mcmc = _mcmc(model_fn, cache_key, num_warmup, num_samples, num_chains, chain_method)
    # numpyro's internals broadcast arrays of different ranks; allow it inside the sampler only
    with jax.numpy_rank_promotion("allow"):
        mcmc.run(key, *args, extra_fields=("diverging",))
        samples = mcmc.get_samples(group_by_chain=True)
        div = mcmc.get_extra_fields(group_by_chain=True)["diverging"]
    return {k: np.asarray(v) for k, v in samples.items()}, np.asarray(div)


def _check_sampler(num_warmup, num_samples, num_chains, chain_method) -> None:
    for name, v, lo in (("num_warmup", num_warmup, 0), ("num_samples", num_samples, 1), ("num_chains", num_chains, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    if chain_method not in CHAIN_METHODS:
        raise ValueError(f"unknown chain_method {chain_method!r}; choose one of {CHAIN_METHODS} "
                         "(parallel chains need numpyro.set_host_device_count before JAX starts)")


def _known_n(n_eff, groups: int) -> np.ndarray | None:
    if n_eff is None:
        return None
    a = np.broadcast_to(np.asarray(n_eff, np.float64), (groups,)) if np.ndim(n_eff) == 0 else np.asarray(
        n_eff, np.float64)
    if a.shape != (groups,):
        raise ValueError(f"n_eff has shape {a.shape}; expected a scalar or one value per group ({groups})")
    if not np.all(np.isfinite(a)) or np.any(a <= 1):
        raise ValueError(f"a known n_eff must be finite and > 1, got {a}")
    return a


def _check_prior(name, p) -> tuple[float, float]:
    try:
        loc, scale = (float(x) for x in p)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (loc, scale)") from None
    if not (math.isfinite(loc) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"{name} must have a finite loc and a scale > 0, got {p}")
    return loc, scale


def fit(
    key,
    data,
    model: str = "spread",
    *,
    metric: str | None = None,
    n_eff=None,
    kappa: float | None = None,
    divisor: str = "mle",
    chain_kappa: bool = False,
    h: Sequence[float] | None = None,
    noise_var: float | None = None,
    prior_n: tuple[float, float] = M.PRIOR_N,
    prior_kappa: tuple[float, float] = M.PRIOR_KAPPA,
    num_warmup: int = 1000,
    num_samples: int = 1000,
    num_chains: int = 4,
    chain_method: str = "vectorized",
) -> Posterior:
    r"""Fit a collapse model by NUTS and return its `Posterior`.

    **Arguments:**

    - `key`: a `jax.random.key`.
    - `data`: a `Trajectory` with `record_paths=True` (its `paths[metric]`, default ``"trace"``), an array
      of shape `(generations, chains)` (NaN = missing), or a list of these, one per group
      (configuration).
    - `model`: ``"spread"`` (exact log-chi-square likelihood), ``"diversity"`` (Gini–Simpson,
      normal quasi-likelihood for the mean ratio) or ``"error"`` (test-error growth); see
      `jaxcollapse.bayes.models`.
    - `n_eff`: known effective sample size(s) (a scalar or one per group) instead of inferring them.
    - `kappa`: a known approximation factor instead of inferring it.
    - `divisor`: ``"mle"`` (finite-sample factor $\chi^2_{n-1}/n$, mean $1 - 1/n$) or ``"unbiased"``
      ($\chi^2_{n-1}/(n-1)$, mean one).
    - `chain_kappa`: spread model only; a per-chain $\kappa_c$ around the shared one.
    - `h`: error model only; the finite-sample design factor $h_g = d_g/(T_g - d_g - 1)$ per group.
      Without `h`, one growth per generation is fitted (`growth`; the two terms are not separated).
    - `noise_var`: error model only; a known noise variance $\sigma^2$.
    - `prior_n`, `prior_kappa`: normal priors `(loc, scale)` of $\ln(n_{\rm eff} - 1)$ and $\ln\kappa$.
    - `num_warmup`, `num_samples`, `num_chains`, `chain_method`: NUTS settings.

    Raises `ValueError` on bad input (unknown model, fewer than two generations, no usable pair,
    unidentifiable configuration) before sampling. Where the data contradict the model (`check_model`),
    the posterior's `warnings` say so.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {MODELS}")
    _check_key(key)
    _check_sampler(num_warmup, num_samples, num_chains, chain_method)
    if divisor not in ("mle", "unbiased"):
        raise ValueError(f"unknown divisor {divisor!r}; choose 'mle' or 'unbiased'")
    prior_n = _check_prior("prior_n", prior_n)
    prior_kappa = _check_prior("prior_kappa", prior_kappa)
    if kappa is not None and not (math.isfinite(float(kappa)) and float(kappa) > 0):
        raise ValueError(f"a known kappa must be finite and > 0, got {kappa}")
    if chain_kappa and model != "spread":
        raise ValueError("chain_kappa is available for the spread model only")
    prep = prepare(data, model, metric)
    G = prep.groups
    n_known = _known_n(n_eff, G)
    if model != "error" and n_known is not None and kappa is not None:
        raise ValueError("n_eff and kappa are both known: nothing to infer")
    sampler = dict(num_warmup=int(num_warmup), num_samples=int(num_samples), num_chains=int(num_chains),
                   chain_method=chain_method)
    if model == "diversity" and n_known is None and kappa is None:
        raise ValueError("the diversity model identifies only kappa (1 - 1/n_eff): give n_eff (known sample sizes) "
                         "or kappa")
    hh = _check_error_args(h, noise_var, G) if model == "error" else None
    with x64():
        if model == "spread":
            fn, args, ck = _spread_program(prep, n_known, kappa, divisor, prior_n, prior_kappa, chain_kappa)
        elif model == "diversity":
            cnt, mean, ss = _pool_normal(prep)
            fn = functools.partial(M.diversity_model, kappa_known=kappa, prior_n=prior_n, prior_kappa=prior_kappa,
                                   omega_scale=1.0)
            args = (cnt, mean, ss, None if n_known is None else jnp.asarray(n_known[None]))
            ck = ("diversity", kappa, prior_n, prior_kappa, n_known is None, cnt.shape)
        else:
            fn, args, ck = _error_program(prep, hh, noise_var, lumped=h is None)
        draws, div = run_nuts(fn, ck, args, key, **sampler)
    lumped = model == "error" and h is None
    draws = M.derive(model, draws, n_known=None if n_known is None else n_known[None], kappa_known=kappa,
                     divisor=divisor, h=np.zeros(G) if lumped else h, noise_known=0.0 if lumped else noise_var)
    draws = {k: v[:, :, 0] for k, v in draws.items()}  # one dataset: drop the batch axis
    if lumped:
        draws = {k: v for k, v in draws.items() if k not in ("noise_var", "growth_sample", "growth_approx", "approx")}
    info = {"num_chains": int(num_chains), "num_samples": int(num_samples), "num_warmup": int(num_warmup),
            "diverging": div, "divergences": int(div.sum()), "chain_method": chain_method,
            "h": None if h is None else np.asarray(h, np.float64), "lumped": lumped}
    info["warnings"] = check_model(model, draws, prep)
    return Posterior(model, draws, prep, divisor, key, info)


def _trend_z(row: np.ndarray) -> float | None:
    n1, m1, v1, n2, m2, v2 = row
    if n1 < 2 or n2 < 2:
        return None
    se = math.sqrt(v1 / n1 + v2 / n2)
    if se == 0:
        return None if m1 == m2 else math.copysign(math.inf, m2 - m1)
    return (m2 - m1) / se


def check_model(model: str, draws: dict[str, np.ndarray], prep: Prepared) -> list[str]:
    r"""Where the data contradict the fitted model: a list of one-line warnings (empty when none).

    - **A changing per-generation law.** Every model says that one per-pair quantity has the same mean
      at every generation (spread: $\ln(s_{t+1}/s_t)$, i.i.d. per chain; diversity: $H_{t+1}/H_t$, a
      martingale difference around $q$; error: $e_{t+1} - e_t$). Its means in the first and second
      half of the pairs are compared by a two-sample z-test (the variances estimated per half); a
      warning where $|z| > 4$ (`Z_WARN`). A test error growing by a constant amount has log ratios
      that shrink over the generations; a geometric decay has increments that shrink in magnitude.
    - **The wrong direction.** A decay model (spread, diversity) whose rate is below 0 with 95%
      posterior probability: the statistic grows, and the forecast extrapolates the growth
      geometrically (right for a spread above the critical temperature; wrong for an additive error).
      The error model whose growth is below 0 with 95% probability: the statistic decays.
    """
    out = []
    label = {"spread": "log ratio s_{t+1}/s_t", "diversity": "ratio H_{t+1}/H_t", "error": "increment e_{t+1} - e_t"}
    for g in range(prep.groups):
        grp = f" (group {g})" if prep.groups > 1 else ""
        z = _trend_z(prep.trend[g])
        if z is not None and abs(z) > Z_WARN:
            _, m1, _, _, m2, _ = prep.trend[g]
            hint = ""
            if model == "spread" and m1 > 0 and m2 < m1:
                hint = "; a statistic that grows by a constant amount per generation (an error) fits --model error"
            elif model == "error" and m1 < 0 and m2 > m1:
                hint = "; a statistic that decays geometrically fits --model spread (or diversity)"
            out.append(f"the data contradict the {model} model{grp}: its per-generation {label[model]} has one mean "
                       f"at every generation, but it is {m1:.4g} in the first half of the generations and {m2:.4g} "
                       f"in the second (z = {z:.1f}){hint}")
        if model == "error":
            hi = float(np.quantile(draws["growth"][..., g], 0.95))
            if hi < 0:
                lo = float(np.quantile(draws["growth"][..., g], 0.05))
                out.append(f"the statistic decreases{grp} (growth per generation in [{lo:.3g}, {hi:.3g}], 90%): the "
                           "error-growth model expects growth; a decaying statistic fits --model spread (or diversity)")
        else:
            rate = draws["rate"][..., g]
            hi = float(np.quantile(rate, 0.95))
            if hi < 0:
                lo = float(np.quantile(rate, 0.05))
                why = ("right for a spread above the critical temperature, " if model == "spread"
                       else "right for a sampler that flattens the distribution (a temperature above 1), ")
                out.append(f"the statistic grows{grp} (rate in [{lo:.3g}, {hi:.3g}] per generation, 90%): the {model} "
                           f"model extrapolates the growth geometrically; {why}not for an error that grows by a "
                           "constant amount (--model error)")
    return out


def _spread_program(prep: Prepared, n_known, kappa, divisor, prior_n, prior_kappa, chain_kappa):
    """The spread model, its arguments (chains pooled unless `chain_kappa`) and its compile-cache key."""
    pooled = not chain_kappa
    cnt, sl, sr = (a.sum(axis=1, keepdims=True) if pooled else a for a in (prep.count, prep.sum_log, prep.sum_ratio))
    fn = functools.partial(M.spread_model, divisor=divisor, kappa_known=kappa, prior_n=prior_n,
                           prior_kappa=prior_kappa, chain_kappa=chain_kappa)
    args = (jnp.asarray(cnt[None]), jnp.asarray(sl[None]), jnp.asarray(sr[None]),
            None if n_known is None else jnp.asarray(n_known[None]))
    return fn, args, ("spread", divisor, kappa, prior_n, prior_kappa, chain_kappa, n_known is None, cnt.shape)


def _check_error_args(h, noise_var, groups: int) -> np.ndarray:
    """The design factors `h` (zeros when lumped: no `h`) after checking `h` and `noise_var`."""
    if h is None:
        if noise_var is not None:
            raise ValueError("noise_var needs h (the design factor of each group)")
        return np.zeros(groups)
    hh = _check_h(h, groups)
    if noise_var is None and len(set(hh.tolist())) < 2:
        raise ValueError("the error model needs groups with at least two different h values (design sizes) to "
                         "separate the noise term from the approximation term, or a known noise_var")
    if noise_var is not None and not (math.isfinite(float(noise_var)) and float(noise_var) >= 0):
        raise ValueError(f"noise_var must be finite and >= 0, got {noise_var}")
    return hh


def _error_program(prep: Prepared, hh: np.ndarray, noise_var, lumped: bool):
    """The error model with priors scaled to the data (10x the largest mean increment plus its spread)."""
    cnt, mean, ss = _pool_normal(prep)
    scale = float(np.max(np.abs(np.asarray(mean))) + np.max(np.sqrt(np.asarray(ss) / np.maximum(np.asarray(cnt),
                                                                                                 1.0))))
    scale = scale if scale > 0 else 1.0
    fn = functools.partial(M.error_model, noise_known=0.0 if lumped else noise_var,
                           noise_scale=10.0 * scale / float(np.min(np.abs(hh[hh != 0]), initial=1.0)),
                           approx_scale=10.0 * scale, omega_scale=10.0 * scale)
    return fn, (cnt, mean, ss, jnp.asarray(hh)), ("error", noise_var, lumped, scale, tuple(hh.tolist()), cnt.shape)


def _pool_normal(prep: Prepared):
    """Pool the per-chain (count, mean, sum of squares) of each group (Chan et al.'s combination)."""
    n = prep.count.sum(axis=1)
    tot = np.where(n > 0, n, 1.0)
    mean = (prep.count * prep.mean).sum(axis=1) / tot
    ss = prep.ss.sum(axis=1) + (prep.count * (prep.mean - mean[:, None]) ** 2).sum(axis=1)
    if np.any(n < 2):
        raise ValueError("every group needs at least two usable consecutive pairs for this model")
    return (jnp.asarray(n[None, :, None]), jnp.asarray(mean[None, :, None]), jnp.asarray(ss[None, :, None]))


def _check_h(h, groups: int) -> np.ndarray:
    if h is None:
        raise ValueError("the error model needs h: the design factor d/(T - d - 1) of each group")
    a = np.atleast_1d(np.asarray(h, np.float64))
    if a.shape != (groups,):
        raise ValueError(f"h has shape {a.shape}; expected one value per group ({groups})")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"h must be finite and >= 0, got {a}")
    return a


def predict_rate(key, n, one_step, *, divisor: str = "mle", prior_kappa: tuple[float, float] = M.PRIOR_KAPPA,
                 num_warmup: int = 1000, num_samples: int = 1000, num_chains: int = 4) -> Posterior:
    r"""The collapse rate predicted before any recursion, from $n$ and measured one-step ratios.

    `one_step` holds $R$ repeated measurements of the one-generation ratio $s_1/s_0$ on real data
    (fit on $n$ real samples, sample $n$ from the fit, refit, compare the spreads): an array of $R$
    ratios, or of shape `(2, R)` with $s_0$ and $s_1$. The spread model is fitted with
    $n_{\rm eff} = n$ known, so the posterior of $\kappa$ absorbs whatever the learner adds or
    removes; the rate $r = r_{\rm sample}(n) + r_{\rm approx}(\kappa)$ comes with its uncertainty,
    and `forecast` turns it into a prediction of the whole trajectory.
    """
    a = np.asarray(one_step, np.float64)
    if a.ndim == 1:
        a = np.stack([np.ones_like(a), a])
    if a.ndim != 2 or a.shape[0] != 2:
        raise ValueError(f"one_step must be R ratios or an array (2, R) of s_0 and s_1, got shape {a.shape}")
    return fit(key, a, "spread", n_eff=n, divisor=divisor, prior_kappa=prior_kappa, num_warmup=num_warmup,
               num_samples=num_samples, num_chains=num_chains)
