r"""Logistic regression retrained on its own labels: Bernoulli labels, a Newton (IRLS) refit, a divergence flag.

The model is a classifier with log-odds $\eta = \phi(x)^\top\theta$, $\phi(x) = x$ or $(1, x)$ with an
intercept, on a design $x \sim N(0, \Sigma)$ in $\mathbb R^d$: it generates a labelled sample as
$y \sim \mathrm{Bernoulli}(\sigma(\eta/\tau))$, $\sigma(\eta) = 1/(1 + e^{-\eta})$, at a sampling
temperature $\tau$ (tempered logits; $\tau = 1$ is the model itself). Generation $t$ fits $\theta_t$ by
maximum likelihood on labels made by $\theta_{t-1}$ (generation 1 on labels of the truth $\theta^*$),
optionally with a per-sample ridge penalty $\lambda$:

$$\theta_t = \arg\min_\theta \sum_i c_i\,\mathrm{softplus}(\phi_i^\top\theta) - s_i\,\phi_i^\top\theta
  + \tfrac12\lambda\Big(\sum_i c_i\Big)\|\theta\|^2,$$

with $c_i$ the (weighted) number of times row $i$ was seen and $s_i$ the weighted number of its labels
equal to 1.

**The fit** is Newton's method (iteratively reweighted least squares), vmapped over chains, from the
binomial start of R's ``glm`` (one weighted least-squares step from $\mu_i = (s_i + \frac12)/(c_i + 1)$;
the fit is a function of the data alone): each iteration solves $(H + \delta I)\Delta = -g$ with the
gradient $g = \Phi^\top(c\odot p - s) + \lambda n\theta$ and the Hessian $H = \Phi^\top\mathrm{diag}(c\,p(1-p))
\Phi + \lambda n I$ ($\delta = \sqrt\epsilon\,\mathrm{tr}H/p$, a tiny Levenberg shift that keeps a singular
$H$ solvable and leaves the fixed point, $g = 0$, unchanged), then backtracks along $\Delta$ (steps
$1, \tfrac12, \dots, 2^{-9}$, Armijo). A chain stops when its full Newton step is below
$\sqrt\epsilon\,(1 + \|\theta\|)$ (the step it then takes leaves an error of the order of its square);
the iteration budget `iters` is static (a `lax.while_loop` that stops when every chain of the batch has
stopped; a stopped chain's values are frozen, so a chain's result does not depend on the others). On
every label vector of the exact checks' designs (`jaxcollapse.verify.logistic`) the fit equals the
exact maximum likelihood estimate to $10^{-14}$ in float64, in at most 7 iterations.
**Divergence**: a fit that has not converged within the budget (the data are separated: the likelihood
has no maximiser and $\|\theta\|$ grows without bound, each Newton step of roughly constant size), or
whose parameters are not finite, keeps the previous generation's (last finite) parameters and sets the
per-chain metric ``diverged`` to 1 for that generation; nothing becomes
NaN. With $\lambda > 0$ the maximiser always exists.

**Designs** (the statistics each generation trains on):

- ``design="fixed"`` (default; Gerstgrasser et al. 2024's and Dey and Donoho 2024's setting): one design
  of `rows` rows per chain, drawn from a stream of its own, `Stream(design_key, chain)` (the chain and
  the model's `design_seed`, not the generation), reused by every generation; only the labels are new.
  The truth (same family, same seed) labels the same design when a regime has real data.
- a **given** design (`design` an array of shape `(rows, d)`): the same rows for every chain (a data
  set's covariates), with in-sample metrics; this is the setting of the exact finite-$n$ checks.
- ``design="fresh"``: a new Gaussian design every generation (sample path only).

On a fixed or given design the statistics (`LogisticStats`) are, per row, the inputs $x_i$, the weight
$c_i$ and the weighted count of ones $s_i$. Label sets of the *same* rows add up (`combine` adds the
weights and the ones): so ``accumulate`` keeps one set of `rows` rows whatever the number of
generations, and a fit costs $O(\text{rows}\cdot p^2)$ per Newton step. `combine` assumes both
statistics refer to the same rows (every regime preset guarantees it; ``accumulate_subsample`` draws
rows at random and fits them alone). Every data set of a regime must then have `rows` rows. On a fresh
design the statistics are the labelled rows themselves (`jaxcollapse.stats.SampleStats`).

**Metrics** against the truth $\theta^*$ (with its design law): ``param_error``
$\|\theta - \theta^*\|^2$; ``excess_logloss`` $E_x\,\mathrm{KL}(\mathrm{Bern}(\sigma(u))\,\|\,
\mathrm{Bern}(\sigma(v)))$ with $u = \phi(x)^\top\theta^*$, $v = \phi(x)^\top\theta$ (the excess
expected log-loss of the model's probabilities over the truth's, nats); ``accuracy``
$P(y = 1\{v > 0\})$ for $y \sim \mathrm{Bern}(\sigma(u))$ (test accuracy of the model's classifier);
``calibration`` $E[(\sigma(v) - P(y = 1 \mid v))^2]$ (the reliability term of the Brier score's
decomposition, Murphy 1973: the squared calibration error, binning-free); ``theta_norm`` $\|\theta\|$;
``diverged``. For a Gaussian design the expectations are over $x \sim N(0, \Sigma)$; $(u, v)$ is
bivariate normal, and each metric reduces to one-dimensional integrals (`_gaussian_metrics`, derived there)
computed by Gauss–Legendre rules broken where their sigmoids and steps are centred; no Monte Carlo
(against adaptive quadrature: the KL to $10^{-10}$, the accuracy to $10^{-8}$, the calibration to $10^{-6}$,
relative, for signals $\|\theta\|_\Sigma$ up to 4 in float64; `tests/test_logistic.py`). For a given design
they are averages over its rows (then $P(y=1\mid v_i) = \sigma(u_i)$).

References: Dey and Donoho (2024), "Universality of the $\pi^2/6$ pathway in avoiding model collapse"
(arXiv:2410.22812); Gerstgrasser et al. (2024), arXiv:2404.01413; McCullagh and Nelder (1989),
*Generalized Linear Models*, Sec. 2.5 (IRLS); Albert and Anderson (1984), "On the existence of maximum
likelihood estimates in logistic regression models", Biometrika 71 (separation).
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, UInt32

from .. import random as R
from .._linalg import as_cov, chol_pd
from .._validate import numeric
from ..random import Stream
from ..stats import SampleStats
from ._base import AbstractFamily, AbstractStats

DESIGNS = ("fixed", "fresh", "given")
_BACKTRACK = 10  # Newton steps tried: 1, 1/2, ..., 2^-9
_ARMIJO = 1e-4
# quadrature of the Gaussian-design metrics (`_pieces`): Gauss-Legendre nodes (numpy float64, cast when used)
_GL_OUTER = np.polynomial.legendre.leggauss(64)  # per piece: the KL and the accuracy
_GL_CAL = np.polynomial.legendre.leggauss(32)  # per piece: the calibration's outer integral
_GL_INNER = np.polynomial.legendre.leggauss(24)  # per piece: P(y = 1 | v), inside the calibration
_L = 8.5  # the integrals run over z in [-L, L]: P(|Z| > 8.5) < 2e-17


class LogisticStats(AbstractStats):
    r"""Per row of a fixed design: its inputs $x_i$, the weight $c_i$ and the weighted count of ones $s_i$.

    `combine` adds the weights and the ones of the same rows (it keeps the inputs of whichever side holds
    data); `scale` multiplies the weights and the ones.
    """

    count: Float[Array, ""]
    x: Float[Array, "rows d"]
    weight: Float[Array, " rows"]
    ones: Float[Array, " rows"]

    def combine(self, other: LogisticStats) -> LogisticStats:
        x = jnp.where(self.count > 0, self.x, other.x.astype(self.x.dtype))
        return LogisticStats(self.count + other.count, x, self.weight + other.weight, self.ones + other.ones)

    def scale(self, c) -> LogisticStats:
        return LogisticStats(self.count * c, self.x, self.weight * c, self.ones * c)


# --------------------------------------------------------------------------- the Newton fit
def _features(x: Float[Array, "m d"], intercept: bool) -> Float[Array, "m p"]:
    return jnp.concatenate([jnp.ones((x.shape[0], 1), x.dtype), x], axis=1) if intercept else x


def _loss(eta, c, s):
    # c softplus(eta) - s eta = (c - s) softplus(eta) + s softplus(-eta): no cancellation where the labels agree
    # with a large |eta| (separated data, float32)
    return jnp.sum((c - s) * jax.nn.softplus(eta) + s * jax.nn.softplus(-eta), axis=-1)


def _solve_pd(h, g, p: int, eye, tol):
    r"""$(H + \delta I)^{-1} g$, $\delta = \sqrt\epsilon\,\mathrm{tr}H/p$, by LAPACK's Cholesky (a NaN result where
    the shifted $H$ is not positive definite: flagged by the caller). It compiles in half the time of the unrolled
    factorisation of `jaxcollapse._linalg` here and runs faster (64 chains, p = 5, 200 rows)."""
    dt = h.dtype
    shift = tol * jnp.maximum(jnp.trace(h) / p, jnp.finfo(dt).tiny / jnp.finfo(dt).eps)
    factor = jnp.linalg.cholesky(0.5 * (h + h.T) + shift * eye)
    return jax.scipy.linalg.cho_solve((factor, True), g)


def newton_fit(phi: Float[Array, "m p"], c: Float[Array, " m"], s: Float[Array, " m"], penalty: Float[Array, ""],
               iters: int) -> tuple[Float[Array, " p"], Bool[Array, ""], Array]:
    r"""Minimise $\sum_i c_i\,\mathrm{softplus}(\phi_i^\top\theta) - s_i\phi_i^\top\theta + \tfrac12\,
    \mathrm{penalty}\,\|\theta\|^2$ by damped Newton (see the module docstring).

    The start is the first IRLS step from the fitted probabilities $\mu_i = (s_i + \tfrac12)/(c_i + 1)$ (the
    binomial start of R's ``glm``: a weighted least-squares fit of the working response
    $\operatorname{logit}\mu_i + (s_i/c_i - \mu_i)/(\mu_i(1 - \mu_i))$ with weights $c_i\mu_i(1-\mu_i)$), so the
    fit is a function of the data alone. Probabilities, gradients and losses are computed in forms that keep
    their precision where $|\eta|$ is large ($\sigma'(\eta) = \sigma(\eta)\sigma(-\eta)$, $c\,\sigma(\eta) - s =
    (c - s)\sigma(\eta) - s\,\sigma(-\eta)$). Returns `(theta, converged, iterations)`: `converged` is False when
    the full Newton step is still above $\sqrt\epsilon\,(1 + \|\theta\|)$ after `iters` iterations (separated
    data) or anything is non-finite.
    """
    dt = phi.dtype
    p = phi.shape[1]
    eye = jnp.eye(p, dtype=dt)
    eps = jnp.finfo(dt).eps
    tol = jnp.sqrt(eps)

    # the start: one weighted least-squares step from mu = (s + 1/2) / (c + 1)
    mu = (s + 0.5) / (c + 1.0)
    var = mu * (1.0 - mu)
    frac = s / jnp.where(c > 0, c, 1.0)
    z = jnp.log(mu) - jnp.log1p(-mu) + (frac - mu) / var
    w0 = c * var
    h0 = (phi * w0[:, None]).T @ phi + penalty * eye
    theta0 = _solve_pd(h0, phi.T @ (w0 * z), p, eye, tol)

    def objective(theta, eta):
        return _loss(eta, c, s) + 0.5 * penalty * jnp.sum(theta * theta)

    def cond(state):
        k, _, done = state
        return (k < iters) & ~done

    def body(state):
        k, theta, _ = state
        eta = phi @ theta
        pp, pm = jax.nn.sigmoid(eta), jax.nn.sigmoid(-eta)
        g = phi.T @ ((c - s) * pp - s * pm) + penalty * theta
        h = (phi * (c * pp * pm)[:, None]).T @ phi + penalty * eye
        delta = -_solve_pd(h, g, p, eye, tol)
        d_eta = phi @ delta
        f0 = objective(theta, eta)
        slope = jnp.sum(g * delta)

        # backtracking: halve the step until Armijo holds, with the objective's rounding error allowed (near the
        # optimum the decrease is below it); a while loop, so a batch whose full steps all pass evaluates one trial
        def trial(alpha):
            return objective(theta + alpha * delta, eta + alpha * d_eta)

        def shorter(state):
            j, alpha, _ = state
            return j + 1, 0.5 * alpha, trial(0.5 * alpha)

        def too_long(state):
            j, alpha, f = state
            return (j < _BACKTRACK - 1) & ~(f <= f0 + _ARMIJO * alpha * slope + 8.0 * eps * jnp.abs(f0))

        one = jnp.ones((), dt)
        _, alpha, f = jax.lax.while_loop(too_long, shorter, (jnp.zeros((), jnp.int32), one, trial(one)))
        new = theta + alpha * delta
        # converged when the full Newton step is below the tolerance (the step just taken is then exact to its square)
        done = jnp.sqrt(jnp.sum(delta * delta)) <= tol * (1.0 + jnp.sqrt(jnp.sum(theta * theta)))
        return k + 1, new, done | ~jnp.all(jnp.isfinite(new))

    k, theta, done = jax.lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), theta0, jnp.zeros((), bool)))
    ok = done & jnp.all(jnp.isfinite(theta))
    return theta, ok, k


# --------------------------------------------------------------------------- the family
class Logistic(AbstractFamily):
    r"""Logistic regression $y \sim \mathrm{Bernoulli}(\sigma(\phi(x)^\top\theta))$, $x \sim N(0, \Sigma)$.

    **Arguments:**

    - `theta`: the coefficients, length $p = d$ (or $d + 1$ with `intercept`, the intercept first); for the
      truth, $\theta^*$.
    - `cov`: the design covariance $\Sigma$ (a scalar, a diagonal or a $d\times d$ matrix); ignored by a
      given design.
    - `design`: ``"fixed"`` (one Gaussian design per chain, reused), ``"fresh"`` (a new one every
      generation; sample path only) or an array of shape `(rows, d)` (a given design, shared by every
      chain). See the module docstring.
    - `rows`: the rows of a fixed design (required there; every data set of a regime has this many).
    - `intercept`: a constant feature (the first coefficient).
    - `ridge`: the per-sample ridge penalty $\lambda \ge 0$ (0: maximum likelihood).
    - `iters`: Newton's iteration budget (static, $\ge 1$).
    - `design_seed`: the seed of the fixed design.

    Samples are rows $(x_1, \dots, x_d, y)$, $y \in \{0, 1\}$, of shape `(n, d + 1)`.
    """

    theta: Float[Array, " p"]
    cov: Float[Array, "d d"]
    chol: Float[Array, "d d"]
    points: Float[Array, "m d"]
    ridge: Float[Array, ""]
    diverged: Float[Array, ""]
    design_key: UInt32[Array, "2"]
    design: str = eqx.field(static=True)
    rows: int = eqx.field(static=True)
    intercept: bool = eqx.field(static=True)
    iters: int = eqx.field(static=True)

    metric_names: ClassVar[tuple[str, ...]] = ("param_error", "excess_logloss", "accuracy", "calibration",
                                               "theta_norm", "diverged")
    has_exact_stats: ClassVar[bool] = True
    supports_drift: ClassVar[bool] = True
    has_log_prob: ClassVar[bool] = False

    def __init__(self, theta, cov=1.0, *, design="fixed", rows: int | None = None, intercept: bool = False,
                 ridge=0.0, iters: int = 30, design_seed: int = 0):
        given = not isinstance(design, str)
        if not given and design not in ("fixed", "fresh"):
            raise ValueError(f"design = {design!r} is invalid: design must be 'fixed', 'fresh' or an array of "
                             "shape (rows, d)")
        numeric("Logistic", theta=theta, cov=cov, ridge=ridge, **({"design": design} if given else {}))
        if not isinstance(intercept, (bool, np.bool_)):
            raise ValueError(f"intercept = {intercept!r} is invalid: intercept must be true or false")
        intercept = bool(intercept)
        dtype = jnp.result_type(float)
        theta = jnp.atleast_1d(jnp.asarray(theta, dtype))
        if theta.ndim != 1 or theta.shape[0] < 1 + intercept:
            raise ValueError(f"theta must be a vector of length p >= {1 + intercept} (d features"
                             f"{' plus the intercept' if intercept else ''}), got shape {theta.shape}")
        d = theta.shape[0] - intercept
        if not isinstance(theta, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(theta))):
            raise ValueError("theta must be finite")
        for nm, v, lo in (("iters", iters, 1),):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{nm} = {v!r} is invalid: {nm} must be an integer >= {lo}")
        if isinstance(design_seed, bool) or not isinstance(design_seed, (int, np.integer)) or design_seed < 0:
            raise ValueError(f"design_seed = {design_seed!r} is invalid: design_seed must be an integer >= 0")
        cov = as_cov(cov, d, dtype)
        if cov.shape != (d, d):
            raise ValueError(f"cov has shape {cov.shape} but theta has {d} feature(s): expected ({d}, {d})")
        if not isinstance(cov, jax.core.Tracer):
            cv = np.asarray(cov, np.float64)
            if not np.all(np.isfinite(cv)) or not np.allclose(cv, cv.T, rtol=1e-6, atol=1e-12):
                raise ValueError("cov (the design covariance Sigma) must be a finite symmetric matrix")
            ev = np.linalg.eigvalsh(cv)
            if ev.min() <= 1e-12 * max(1.0, float(np.abs(ev).max())):
                raise ValueError("cov (the design covariance Sigma) must be positive definite")
        ridge = jnp.asarray(ridge, dtype)
        if ridge.shape != ():
            raise ValueError("ridge must be a scalar")
        if not isinstance(ridge, jax.core.Tracer) and not (np.isfinite(float(ridge)) and float(ridge) >= 0):
            raise ValueError(f"ridge = {float(ridge)!r} is invalid: ridge must be a finite number >= 0")
        if given:
            points = jnp.asarray(design, dtype)
            if points.ndim == 1 and d == 1:
                points = points[:, None]
            if points.ndim != 2 or points.shape[1] != d or points.shape[0] < 1:
                raise ValueError(f"a given design must have shape (rows, {d}) with rows >= 1, got {points.shape}")
            if not isinstance(points, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(points))):
                raise ValueError("the given design must be finite")
            if rows is not None and rows != points.shape[0]:
                raise ValueError(f"rows = {rows!r} differs from the given design's {points.shape[0]} rows")
            rows = int(points.shape[0])
            mode = "given"
        else:
            mode = design
            points = jnp.zeros((0, d), dtype)
            if mode == "fixed":
                if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 1:
                    raise ValueError(f"rows = {rows!r} is invalid: a fixed design needs rows, an integer >= 1 (the "
                                     "number of rows every data set has)")
                rows = int(rows)
            else:
                if rows is not None:
                    raise ValueError("rows is set by the regime on a fresh design: leave it out (None)")
                rows = 0
        self.theta = theta
        self.cov = cov
        self.chol = chol_pd(cov)
        self.points = points
        self.ridge = ridge
        self.diverged = jnp.zeros((), dtype)
        self.design_key = jax.random.key_data(jax.random.key(int(design_seed)))
        self.design = mode
        self.rows = rows
        self.intercept = intercept
        self.iters = int(iters)

    # --------------------------------------------------------------- basics
    @property
    def d(self) -> int:
        """The number of features (without the intercept)."""
        return self.theta.shape[-1] - self.intercept

    @property
    def p(self) -> int:
        """The number of coefficients."""
        return self.theta.shape[-1]

    @property
    def dtype(self):
        return self.theta.dtype

    def with_theta(self, theta) -> Logistic:
        """The same model with coefficients `theta`."""
        return eqx.tree_at(lambda m: m.theta, self, jnp.asarray(theta, self.dtype))

    def sizes(self) -> dict[str, tuple[int, str]]:
        return {"p": (self.p, "coefficients"), "rows": (self.rows, "design rows")}

    def translate(self, delta) -> Logistic:
        """The coefficients moved by `delta` (a scalar moves every coefficient, or a vector of length p)."""
        return self.with_theta(self.theta + jnp.asarray(delta, self.dtype))

    def describe(self) -> str:
        ridge = "<traced>" if isinstance(self.ridge, jax.core.Tracer) else f"{float(self.ridge):g}"
        rows = f", rows={self.rows}" if self.design != "fresh" else ""
        return (f"Logistic(d={self.d}{', intercept' if self.intercept else ''}, design={self.design}{rows}, "
                f"ridge={ridge}, Newton budget {self.iters})")

    # --------------------------------------------------------------- the design
    def _design(self, stream: Stream, n: int) -> Float[Array, "n d"]:
        """The first `n` rows of the design (a given design is cycled; a fixed one is the first `n` rows of the
        chain's design sequence, of which the model's `rows` are the data sets' rows)."""
        if self.design == "given":
            return self.points if n == self.rows else self.points[np.arange(n) % self.rows]
        if self.design == "fixed":
            # the barrier keeps XLA from constant-folding the hash of the constant design key (as in Regression)
            ds = Stream(jax.lax.optimization_barrier(self.design_key), stream.chain).fork(R.SALT_DESIGN)
        else:
            ds = stream.fork(R.SALT_DESIGN)
        return R.normal(ds, (n, self.d), self.dtype) @ self.chol.T

    def _labels(self, stream: Stream, x, temperature) -> Float[Array, " n"]:
        eta = _features(x, self.intercept) @ self.theta
        u = R.uniform(stream.fork(R.SALT_NOISE), (x.shape[0],), self.dtype)
        return (u < jax.nn.sigmoid(eta / temperature)).astype(self.dtype)

    # --------------------------------------------------------------- sampling
    def draw_samples(self, stream: Stream, n: int, temperature) -> Float[Array, "n d1"]:
        x = self._design(stream, n)
        y = self._labels(stream, x, jnp.asarray(temperature, self.dtype))
        return jnp.concatenate([x, y[:, None]], axis=1)

    def sample_stats(self, stream: Stream, n, temperature) -> LogisticStats:
        r"""The labels of the fixed (or given) design: $s_i \sim \mathrm{Bernoulli}(\sigma(\phi_i^\top\theta/\tau))$,
        $c_i = 1$ (cost $O(\text{rows}\cdot p)$: the statistics of a fixed design are its labels). A fresh design
        has no finite statistics: use the sample path."""
        if self.design == "fresh":
            raise ValueError("Logistic with a fresh design has no exact statistics sampler; use path='samples'")
        x = self._design(stream, self.rows)
        y = self._labels(stream, x, jnp.asarray(temperature, self.dtype))
        ones = jnp.ones((self.rows,), self.dtype)
        return LogisticStats(jnp.asarray(self.rows, self.dtype), x, ones, y)

    def stats(self, x: Float[ArrayLike, "n d1"], mask: Bool[Array, " n"] | None = None):
        """Statistics of labelled rows `x` (shape `(n, d + 1)`; rows where `mask` is False weigh 0): per row on a
        fixed or given design (`LogisticStats`), the rows themselves on a fresh one (`SampleStats`)."""
        x = jnp.asarray(x, self.dtype)
        if x.ndim != 2 or x.shape[1] != self.d + 1:
            raise ValueError(f"labelled rows must have shape (n, {self.d + 1}), got {x.shape}")
        if self.design == "fresh":
            return SampleStats.from_samples(x, mask)
        w = jnp.ones(x.shape[0], self.dtype) if mask is None else mask.astype(self.dtype)
        return LogisticStats(jnp.sum(w), x[:, :-1], w, w * x[:, -1])

    def empty_stats(self):
        d, dt = self.d, self.dtype
        if self.design == "fresh":
            return SampleStats.empty((d + 1,), dt, 0)
        m = self.rows
        return LogisticStats(jnp.zeros((), dt), jnp.zeros((m, d), dt), jnp.zeros((m,), dt), jnp.zeros((m,), dt))

    # --------------------------------------------------------------- fitting
    def fit(self, stats, stream: Stream) -> Logistic:
        """The (ridge-)MLE by Newton (`newton_fit`); where it diverges, the current coefficients, flagged (no
        randomness: `stream` is unused). No data (a verifier rejected everything): the current ones, unflagged."""
        if isinstance(stats, SampleStats):
            x, c = stats.x[:, :-1], stats.weight
            s = c * stats.x[:, -1]
        else:
            x, c, s = stats.x, stats.weight, stats.ones
        phi = _features(x, self.intercept)
        theta, ok, _ = newton_fit(phi, c, s, self.ridge * stats.count, self.iters)
        has = stats.count > 0
        keep = ~(ok & has)
        new = jnp.where(keep, self.theta, theta)
        flag = (has & ~ok).astype(self.dtype)
        return eqx.tree_at(lambda m: (m.theta, m.diverged), self, (new, flag))

    # --------------------------------------------------------------- metrics
    def metrics(self, truth: Logistic, stream: Stream) -> dict[str, Float[Array, ""]]:
        diff = self.theta - truth.theta
        out = {"param_error": jnp.sum(diff * diff), "theta_norm": jnp.sqrt(jnp.sum(self.theta * self.theta))}
        if truth.design == "given":
            phi = _features(truth.points, truth.intercept)
            u, v = phi @ truth.theta, phi @ self.theta
            pu = jax.nn.sigmoid(u)
            out["excess_logloss"] = jnp.mean(_kl(u, v))
            out["accuracy"] = jnp.mean(jnp.where(v > 0, pu, 1.0 - pu))
            out["calibration"] = jnp.mean((jax.nn.sigmoid(v) - pu) ** 2)
        else:
            out.update(_gaussian_metrics(truth, self.theta))
        out["diverged"] = self.diverged
        return {k: out[k] for k in self.metric_names}

    # --------------------------------------------------------------- checks
    def check_regime(self, regime, generations: int) -> None:
        self.check_drift(regime.drift)
        if self.design == "fresh":
            return
        sizes = set()
        if regime.lam is not None:
            lam = None if isinstance(regime.lam, jax.core.Tracer) else np.asarray(regime.lam)
            sizes.update({None} if lam is None else {int(v) for v in np.round(np.ravel(lam) * regime.n_real)})
        else:
            r = regime.n.concrete_range(generations)
            sizes.update({None} if r is None else set(r))
        if regime.real != "none":
            sizes.add(regime.n_real)
        if sizes != {self.rows}:
            raise ValueError(
                f"a {self.design} design has {self.rows} rows: every generation's synthetic data (and the real data, "
                f"if any) must have exactly {self.rows} rows; this regime has sizes {sorted(map(str, sizes))}")


# --------------------------------------------------------------------------- metric helpers
def _kl(u, v):
    r"""$\mathrm{KL}(\mathrm{Bern}(\sigma(u))\,\|\,\mathrm{Bern}(\sigma(v))) = \mathrm{softplus}(v) -
    \mathrm{softplus}(u) - \sigma(u)(v - u)$, the Bregman divergence of softplus; for $|v - u| < 1$ in the
    form $\log(1 + \sigma(u)(e^{\Delta} - 1)) - \sigma(u)\Delta$, $\Delta = v - u$, which keeps its relative
    accuracy when $\Delta$ is small (the plain difference loses it to cancellation)."""
    delta = v - u
    pu = jax.nn.sigmoid(u)
    small = jnp.abs(delta) < 1.0
    ds = jnp.where(small, delta, 0.0)
    near = jnp.log1p(pu * jnp.expm1(ds)) - pu * ds
    far = jax.nn.softplus(v) - jax.nn.softplus(u) - pu * delta
    return jnp.maximum(jnp.where(small, near, far), 0.0)


def _moments(truth: Logistic, theta):
    r"""$(\mu_u, \mu_v, s_u, s_v, c)$: the means, standard deviations and covariance of the bivariate normal
    $(u, v) = (\phi(x)^\top\theta^*, \phi(x)^\top\theta)$ for $x \sim N(0, \Sigma)$."""
    t0, t1 = truth.theta, theta
    if truth.intercept:
        mu_u, mu_v, w0, w1 = t0[0], t1[0], t0[1:], t1[1:]
    else:
        mu_u = mu_v = jnp.zeros((), t0.dtype)
        w0, w1 = t0, t1
    a0, a1 = truth.chol.T @ w0, truth.chol.T @ w1
    return mu_u, mu_v, jnp.sqrt(jnp.sum(a0 * a0)), jnp.sqrt(jnp.sum(a1 * a1)), jnp.sum(a0 * a1)


def _center(mu, s):
    r"""Where $\mu + s z$ crosses 0 (a break of the quadrature; $L$ when $s = 0$)."""
    pos = s > 0
    return jnp.where(pos, -mu / jnp.where(pos, s, 1.0), _L)


def _pieces(breaks, rule, dt):
    r"""Nodes and weights of $\int_{-L}^{L} f(z)\,\varphi(z)\,dz$ as Gauss–Legendre rules on the pieces between 0 (the
    Gaussian's centre: with it, 24 nodes a piece integrate $\varphi$ to $10^{-15}$) and the sorted `breaks` (clipped
    to $[-L, L]$; a trailing axis of breaks gives one rule per leading index). A sigmoid of width $1/s$ centred on
    a break is then resolved by the nodes that Gauss–Legendre clusters at the ends of its pieces."""
    g, gw = (jnp.asarray(a, dt) for a in rule)
    breaks = jnp.concatenate([jnp.zeros(breaks.shape[:-1] + (1,), dt), breaks.astype(dt)], axis=-1)
    b = jnp.sort(jnp.clip(breaks, -_L, _L), axis=-1)
    lo_edge = jnp.full(b.shape[:-1] + (1,), -_L, dt)
    hi_edge = jnp.full(b.shape[:-1] + (1,), _L, dt)
    edges = jnp.concatenate([lo_edge, b, hi_edge], axis=-1)
    lo, hi = edges[..., :-1, None], edges[..., 1:, None]  # (..., pieces, 1)
    half = 0.5 * (hi - lo)
    lead = (1,) * (half.ndim - 1)
    z = 0.5 * (hi + lo) + half * g.reshape(lead + g.shape)
    w = half * gw.reshape(lead + gw.shape) * jnp.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return z, w


def _gaussian_metrics(truth: Logistic, theta) -> dict:
    r"""The KL, the accuracy and the calibration for $x \sim N(0, \Sigma)$, each reduced to one dimension (derived
    here; $(u, v)$ bivariate normal with means $\mu_u, \mu_v$, standard deviations $s_u, s_v$, covariance $c$):

    - $\mathrm{KL} = E[\mathrm{sp}(v) - \mathrm{sp}(u) - \sigma(u)(v - u)]$; the first two terms are marginal
      expectations, so they may be taken on the comonotone pair $u_z = \mu_u + s_uz$, $v_z = \mu_v + s_vz$, and
      $E[\sigma(u)v] = E[\sigma(u)E(v\mid u)]$ with $E(v \mid u) = \mu_v + (c/s_u^2)(u - \mu_u)$. Collecting terms,
      $\mathrm{KL} = E_z[B(u_z, v_z)] + (s_us_v - c)\,E_z[\sigma'(u_z)]$ with $B$ the softplus Bregman divergence
      (`_kl`) and Stein's $E[\sigma(u_z)z] = s_uE\sigma'(u_z)$: two non-negative terms, no cancellation.
    - accuracy $= E_u[\sigma(u)\Phi(q) + \sigma(-u)\Phi(-q)]$, $q = E(v\mid u)/\mathrm{sd}(v\mid u)$ (the
      classifier's vote given $u$ is a normal tail; a step when $\mathrm{sd}(v \mid u) = 0$);
    - calibration $= E_v[(\sigma(v) - g(v))^2]$, $g(v) = E[\sigma(u) \mid v]$, $u \mid v$ normal (an inner
      integral; the integrand is smooth, where the absolute error of the $L^1$ version has a kink).

    Every integral is `_pieces`' piecewise Gauss–Legendre rule, broken where its sigmoids, normal tails and
    steps are centred.
    """
    dt = theta.dtype
    mu_u, mu_v, s_u, s_v, c = _moments(truth, theta)
    # KL
    z, w = _pieces(jnp.stack([_center(mu_u, s_u), _center(mu_v, s_v)]), _GL_OUTER, dt)
    u, v = mu_u + s_u * z, mu_v + s_v * z
    stein = jax.nn.sigmoid(u) * jax.nn.sigmoid(-u)
    kl = jnp.sum(w * (_kl(u, v) + jnp.maximum(s_u * s_v - c, 0.0) * stein))
    # accuracy: over u = mu_u + s_u z; v | u ~ N(mu_v + beta s_u z, sd^2)
    pos_u = s_u > 0
    beta_s = jnp.where(pos_u, c / jnp.where(pos_u, s_u, 1.0), 0.0)  # beta s_u = c / s_u
    sd = jnp.sqrt(jnp.maximum(s_v * s_v - beta_s * beta_s, 0.0))
    z, w = _pieces(jnp.stack([_center(mu_u, s_u), _center(mu_v, beta_s)]), _GL_OUTER, dt)
    u = mu_u + s_u * z
    num = mu_v + beta_s * z
    pos_sd = sd > 0
    q = num / jnp.where(pos_sd, sd, 1.0)
    up = jnp.where(pos_sd, jax.scipy.special.ndtr(q), jnp.where(num > 0, 1.0, 0.0))  # v = 0 votes 0, as 1{v > 0}
    down = jnp.where(pos_sd, jax.scipy.special.ndtr(-q), 1.0 - up)
    acc = jnp.sum(w * (jax.nn.sigmoid(u) * up + jax.nn.sigmoid(-u) * down))
    # calibration: over v = mu_v + s_v z; u | v ~ N(mu_u + gamma s_v z, sd_u^2), gamma s_v = c / s_v
    pos_v = s_v > 0
    gamma_s = jnp.where(pos_v, c / jnp.where(pos_v, s_v, 1.0), 0.0)
    sd_u = jnp.sqrt(jnp.maximum(s_u * s_u - gamma_s * gamma_s, 0.0))
    z, w = _pieces(jnp.stack([_center(mu_v, s_v), _center(mu_u, gamma_s)]), _GL_CAL, dt)
    m = mu_u + gamma_s * z  # (pieces, nodes): the conditional mean of u
    zi, wi = _pieces(_center(m, sd_u)[..., None], _GL_INNER, dt)  # (pieces, nodes, 2, 16)
    g = jnp.sum(wi * jax.nn.sigmoid(m[..., None, None] + sd_u * zi), axis=(-2, -1))
    cal = jnp.sum(w * (jax.nn.sigmoid(mu_v + s_v * z) - g) ** 2)
    return {"excess_logloss": kl, "accuracy": acc, "calibration": cal}
