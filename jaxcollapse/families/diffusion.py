r"""The diffusion family: a flow-matching generative model trained with optax inside the generation step.

See `jaxcollapse.families._nets` for what the neural families share (data mode at generation 0, keys
from the chain's streams, initialisation, divergence).

**Objective: flow matching** (Lipman et al. 2023, "Flow matching for generative modeling", ICLR; the
linear "rectified flow" path of Liu et al. 2023). With noise $z \sim N(0, I_d)$, a data row $x_1$ and
$t \sim U(0, 1)$, $x_t = (1 - t)\,z + t\,x_1$; the network $v_\theta(x, t)$ minimises the weighted mean of
$\lVert v_\theta(x_t, t) - (x_1 - z)\rVert^2$. The minimiser over all functions is the conditional mean
$E[x_1 - z \mid x_t]$, whose probability-flow ODE $\dot x = v(x, t)$ carries $N(0, I)$ at $t = 0$ to the
training distribution at $t = 1$. (A velocity is an affine reparametrisation of the score:
$\nabla\log p_t(x) = (t\,v(x,t) - x)/(1 - t)$ on this path, so this is denoising score matching in other
units.)

**Sampling**: $x_0 = \tau z$ (temperature $\tau$) integrated from $t = 0$ to $1$ with `sample_steps` fixed
steps of Euler or Heun (explicit trapezoid), a `lax.scan`. diffrax is not used: a fixed-step Euler/Heun
loop is a dozen lines and has no step-size controller, event or dense output to carry through the
engine's vmap over chains and scan over generations (its speed against diffrax's was not measured).

**The affine network** (``net="affine"``): $v(x, t) = A(t)\,x + b(t)$ with $A, b$ the outputs of a small MLP
of $t$ alone. Every sampler step is then affine in $x$, so the model is *exactly* Gaussian,
$N(q, \tau^2 P P^\top)$, with $(P, q)$ the sampler's map (`affine_moments`, no Monte Carlo). Its
flow-matching optimum depends on the training rows only through their weighted mean $\hat m$ and
covariance $\hat C$ (divisor $\sum w$) (derived here: the loss is quadratic in $(A, b)$, and its
expectation over $z$ and the rows involves their first two moments only) and equals the exact velocity of
$N(\hat m, \hat C)$, $A(t) = (t\hat C - (1-t)I)\,((1-t)^2 I + t^2\hat C)^{-1}$,
$b(t) = (I - tA(t))\,\hat m$ (`jaxcollapse.theory.diffusion.affine_flow_optimum`, derived there), whose
flow carries $N(0, I)$ to $N(\hat m, \hat C)$. So a
trained affine model refits the Gaussian MLE up to its training and discretisation error: the Gaussian
family's laws apply (`jaxcollapse.verify.diffusion`).
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from .. import datasets as _ds
from .. import random as R
from .._linalg import sqrt_psd
from .._validate import numeric
from ..random import Stream
from ..stats import SampleStats
from ._base import AbstractFamily, AbstractSampleFamily
from ._nets import (
    CLASS_SLOTS,
    KNN_K,
    MLP,
    all_finite,
    check_knobs,
    knn_radius,
    sq_dists,
    train,
    wrap_key,
)
from .gaussian import Gaussian
from .mixture import GaussianMixture

__all__ = ["Diffusion", "NETS", "SAMPLERS"]

NETS = ("mlp", "affine")
SAMPLERS = ("euler", "heun")


def _embed(t: Float[Array, " m"], freqs: int) -> Float[Array, "m e"]:
    """Time features $[t, \\sin(\\pi f t), \\cos(\\pi f t)]_{f = 1..F}$."""
    cols = [t[:, None]]
    if freqs:
        ang = jnp.pi * t[:, None] * jnp.arange(1, freqs + 1, dtype=t.dtype)[None, :]
        cols += [jnp.sin(ang), jnp.cos(ang)]
    return jnp.concatenate(cols, axis=1)


def _knn_radius_sq(x: Float[Array, "n d"], k: int) -> Float[Array, " n"]:
    """Squared distance from each row of `x` to its `k`-th nearest other row (traced; `knn_radius` squared)."""
    d2 = sq_dists(x, x)
    d2 = jnp.where(jnp.eye(x.shape[0], dtype=bool), jnp.inf, d2)
    return -jax.lax.top_k(-d2, k)[0][:, k - 1]


class Diffusion(AbstractSampleFamily):
    r"""A flow-matching (diffusion-type) generative model on $\mathbb R^d$, refit on its own samples.

    **Arguments:** `key` (the initial parameters, and the held-out reference draws of a family source),
    `data`, the truth: a `jaxcollapse.datasets.Dataset` (`datasets.toy(key, "moons")`, `"rings"`,
    `"mixture"`, `datasets.digits()`), or a `jaxcollapse.Gaussian` / `jaxcollapse.GaussianMixture` (drawn
    exactly); and the knobs `net` (``"mlp"``: $v_\theta(x, t)$ an MLP of $[x, \mathrm{emb}(t)]$;
    ``"affine"``: $A(t)x + b(t)$, see the module), `width`, `depth` (hidden layers), `freqs` ($F \ge 0$
    Fourier time features), `steps` (AdamW steps per generation, $\ge 1$), `learning_rate` ($> 0$),
    `weight_decay` ($\ge 0$), `batch_size` (None: full batch), `init` (``"fresh"`` or ``"warm"``),
    `sampler` (``"euler"`` or ``"heun"``), `sample_steps` ($\ge 1$), `n_eval` (model samples per metric
    evaluation, $> k = 5$), `n_ref` (held-out truth draws of a family source, $> k$).

    **Truths.** Generation 0 is the truth itself (data mode, as for `jaxcollapse.VAE`), so `simulate` needs
    no `truth=`. A `Gaussian` or `GaussianMixture` of dimension $d$ is also accepted as the truth directly
    (then curation can score samples by the truth's log-density: the diffusion model has none,
    `has_log_prob = False`).

    Metrics (on `n_eval` model samples from the metrics stream, against the truth's held-out reference
    sample $X^*$: a dataset's rows, `n_ref` draws of a family source made at construction, or `n_eval`
    fresh draws of a Gaussian / mixture truth; for the digits, whose data mode bootstraps the stored images,
    $X^*$ is that stored set itself, so precision is 1 at generation 0 by construction):

    - ``w2sq``: $\lVert\mu - \mu^*\rVert^2 + \mathrm{tr}\,\Sigma + \mathrm{tr}\,\Sigma^* -
      2\,\mathrm{tr}(\Sigma^{*1/2}\Sigma\Sigma^{*1/2})^{1/2}$, the squared 2-Wasserstein distance between
      Gaussians with the model's and the truth's means and covariances (Dowson & Landau 1982; Givens &
      Shortt 1984) — the W2 to a Gaussian truth when the model is Gaussian (``net="affine"``), the Fréchet
      distance otherwise. The truth's moments are exact for a family source, $X^*$'s for a dataset; the
      model's are exact for the affine net (`affine_moments`), the samples' (divisor $m - 1$) otherwise.
    - ``trace``, ``trace_ratio``: $\mathrm{tr}\,\Sigma$ and $\mathrm{tr}\,\Sigma/\mathrm{tr}\,\Sigma^*$.
    - ``precision``, ``recall``: the improved precision and recall of Kynkäänniemi et al. (2019, "Improved
      precision and recall metric for assessing generative models", NeurIPS): the share of model samples
      inside the $k$-NN ball of some reference point, and of reference points inside the $k$-NN ball (among
      the model samples) of some model sample; $k = 5$.
    - ``modes``: the number of truth modes $c$ (mixture components, toy classes, digits) whose model mass is
      at least a quarter of its truth mass (mode coverage); ``mode_mass_min``: $\min_c$ model mass / truth
      mass; ``mode_mass_tv``: the total-variation distance between the model's and the truth's mode
      masses (samples of no mode count as their own cell). A sample's mode: the posterior-most component of
      a mixture source (a Gaussian has one), else the label of its nearest reference point if inside its
      ball. `mode_mass` returns the vector.
    - ``loss``: the last training step's loss (0 before any training); ``diverged``: see below.

    **Divergence.** A fit whose loss or parameters are not finite keeps the last finite parameters and sets
    ``diverged`` to 1 for good (its later data came from a stale model). A model whose samples or their
    covariance are not finite (an unstable flow from finite parameters) is flagged too, and its metrics are
    masked to their worst values (``w2sq``, ``trace``, ``trace_ratio`` $= +\infty$; ``precision``, ``recall``,
    ``modes``, ``mode_mass_min`` $= 0$; ``mode_mass_tv`` $= 1$): never NaN. Read the other metrics with the
    flag.

    **Drift**: `translate(delta)` moves the distribution (data or network samples, and the reference) by
    `delta`.
    """

    net: MLP
    shift: Float[Array, " d"]
    is_data: Bool[Array, ""]
    learning_rate: Float[Array, ""]
    weight_decay: Float[Array, ""]
    source: Gaussian | GaussianMixture | None
    ref: Float[Array, "r d"]
    ref_labels: Int[Array, " r"]
    ref_radius: Float[Array, " r"]
    class_share: Float[Array, " c"]
    ref_mean: Float[Array, " d"]
    ref_cov: Float[Array, "d d"]
    gen_params: Float[Array, "k 2"]
    toy_kind: Int[Array, ""]
    n_classes: Int[Array, ""]
    noise: Float[Array, ""]
    last_loss: Float[Array, ""]
    diverged: Float[Array, ""]
    real: str = eqx.field(static=True)
    kind: str = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    freqs: int = eqx.field(static=True)
    steps: int = eqx.field(static=True)
    batch_size: int | None = eqx.field(static=True)
    init: str = eqx.field(static=True)
    sampler: str = eqx.field(static=True)
    sample_steps: int = eqx.field(static=True)
    n_eval: int = eqx.field(static=True)

    metric_names: ClassVar[tuple[str, ...]] = (
        "w2sq", "trace", "trace_ratio", "precision", "recall", "modes", "mode_mass_min", "mode_mass_tv", "loss",
        "diverged",
    )
    has_exact_stats: ClassVar[bool] = False
    supports_drift: ClassVar[bool] = True
    has_log_prob: ClassVar[bool] = False
    supports_correction: ClassVar[bool] = True

    def __init__(self, key, data: _ds.Dataset | Gaussian | GaussianMixture, *, net: str = "mlp", width: int = 32,
                 depth: int = 2, freqs: int = 4, steps: int = 300, learning_rate=1e-2, weight_decay=0.0,
                 batch_size: int | None = None, init: str = "fresh", sampler: str = "euler", sample_steps: int = 16,
                 n_eval: int = 256, n_ref: int = 512):
        numeric("Diffusion", learning_rate=learning_rate, weight_decay=weight_decay)
        check_knobs(width=width, depth=depth, steps=steps, learning_rate=learning_rate,
                    weight_decay=weight_decay, batch_size=batch_size, init=init, n_eval=n_eval)
        if net not in NETS:
            raise ValueError(f"unknown net {net!r}; choose one of {NETS}")
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose one of {SAMPLERS}")
        for name, v, lo in (("sample_steps", sample_steps, 1), ("freqs", freqs, 0), ("n_ref", n_ref, KNN_K + 1),
                            ("n_eval", n_eval, KNN_K + 1)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        dtype = jnp.result_type(float)
        kp, kr = jax.random.split(key)
        slots = CLASS_SLOTS
        source = None
        gp = np.zeros((slots, 2))
        toy_kind, n_classes, noise = -1, 1, 0.0
        if isinstance(data, _ds.Dataset):
            x = np.asarray(data.x, np.float64)
            if x.ndim != 2 or x.shape[0] <= KNN_K or not np.all(np.isfinite(x)):
                raise ValueError(f"the reference data must be a finite (rows, d) array with > {KNN_K} rows, "
                                 f"got {x.shape}")
            labels = np.asarray(data.labels, np.int32)
            if labels.shape != (x.shape[0],):
                raise ValueError(f"labels have shape {labels.shape}, expected ({x.shape[0]},)")
            slots = max(CLASS_SLOTS, data.n_classes)
            gp = np.zeros((slots, 2))
            real = "toy" if data.name in _ds.TOYS else "bootstrap"
            if real == "toy":
                if x.shape[1] != 2:
                    raise ValueError(f"toy {data.name!r} is 2-D but its reference data have dimension {x.shape[1]}")
                toy_kind = _ds.TOYS.index(data.name)
                if data.name == "mixture":
                    gp[: data.params.shape[0]] = data.params
            n_classes, noise = int(data.n_classes), float(data.noise)
            share = np.bincount(labels, minlength=slots) / labels.size
            mean, cov = x.mean(0), np.atleast_2d(np.cov(x.T))
        elif isinstance(data, (Gaussian, GaussianMixture)):
            real, source = "family", data
            x = np.asarray(data.sample(kr, int(n_ref)), np.float64)
            if isinstance(data, GaussianMixture):
                slots = max(CLASS_SLOTS, data.K)
                labels = np.asarray(jnp.argmax(data._component_logp(jnp.asarray(x, data.dtype)), axis=1), np.int32)
                share = np.zeros(slots)
                share[: data.K] = np.asarray(data.weights, np.float64)
                n_classes = data.K
            else:
                labels = np.zeros(x.shape[0], np.int32)
                share = np.zeros(slots)
                share[0] = 1.0
            mean, cov = (np.asarray(a, np.float64) for a in data.moments())
        else:
            raise ValueError("data must be a jaxcollapse.datasets.Dataset (datasets.toy(...), datasets.digits()), "
                             f"a Gaussian or a GaussianMixture, got {type(data).__name__}")
        d = x.shape[1]
        self.real, self.kind = real, net
        self.width, self.depth, self.freqs, self.steps = int(width), int(depth), int(freqs), int(steps)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.init, self.sampler, self.sample_steps, self.n_eval = init, sampler, int(sample_steps), int(n_eval)
        self.net = self._init_net(jax.random.key_data(kp), d, dtype)
        self.shift = jnp.zeros((d,), dtype)
        self.is_data = jnp.asarray(True)
        self.learning_rate = jnp.asarray(learning_rate, dtype)
        self.weight_decay = jnp.asarray(weight_decay, dtype)
        self.source = source
        self.ref = jnp.asarray(x, dtype)
        self.ref_labels = jnp.asarray(labels)
        self.ref_radius = jnp.asarray(knn_radius(x, KNN_K), dtype)
        self.class_share = jnp.asarray(share, dtype)
        self.ref_mean = jnp.asarray(mean, dtype)
        self.ref_cov = jnp.asarray(cov, dtype)
        self.gen_params = jnp.asarray(gp, dtype)
        self.toy_kind = jnp.asarray(toy_kind, jnp.int32)
        self.n_classes = jnp.asarray(n_classes, jnp.int32)
        self.noise = jnp.asarray(noise, dtype)
        self.last_loss = jnp.zeros((), dtype)
        self.diverged = jnp.zeros((), dtype)

    # --------------------------------------------------------------- basics
    @property
    def d(self) -> int:
        return self.ref.shape[-1]

    @property
    def dtype(self):
        return self.ref.dtype

    @property
    def row_shape(self) -> tuple[int, ...]:
        return (self.d,)

    def sizes(self) -> dict[str, tuple[int, str]]:
        return {"d": (self.d, "dimensions")}

    def _init_net(self, raw_key, d: int, dtype) -> MLP:
        e = 1 + 2 * self.freqs
        hidden = (self.width,) * self.depth
        if self.kind == "mlp":
            return MLP.init(wrap_key(raw_key), (d + e, *hidden, d), dtype)
        return MLP.init(wrap_key(raw_key), (e, *hidden, d * d + d), dtype)

    def accepts_truth(self, truth: AbstractFamily) -> None:
        """A Diffusion of the same configuration (the default), or a Gaussian / GaussianMixture on $\\mathbb R^d$."""
        if isinstance(truth, (Gaussian, GaussianMixture)):
            if truth.d != self.d:
                raise ValueError(f"mismatched dimensions: the Diffusion model has d={self.d} dimensions but the "
                                 f"truth has d={truth.d}")
            return
        super().accepts_truth(truth)

    def translate(self, delta) -> Diffusion:
        """The distribution (data or network) and its reference sample moved by `delta` (a scalar or length d)."""
        delta = jnp.broadcast_to(jnp.asarray(delta, self.dtype), (self.d,))
        return eqx.tree_at(lambda m: m.shift, self, self.shift + delta)

    # --------------------------------------------------------------- the velocity and the sampler
    def _velocity(self, net: MLP, x: Float[Array, "m d"], t: Float[Array, " m"]) -> Float[Array, "m d"]:
        e = _embed(t, self.freqs)
        if self.kind == "mlp":
            return net(jnp.concatenate([x, e], axis=1))
        h = net(e)
        d = self.d
        a = h[:, : d * d].reshape(-1, d, d)
        return jnp.einsum("mij,mj->mi", a, x) + h[:, d * d:]

    def _integrate(self, net: MLP, x0: Float[Array, "m d"]) -> Float[Array, "m d"]:
        """The sampler: `sample_steps` Euler or Heun steps of $\\dot x = v(x, t)$ from $t = 0$ to $1$."""
        k = self.sample_steps
        h = 1.0 / k
        m = x0.shape[0]

        def step(x, i):
            t = jnp.full((m,), i * h, x.dtype)
            v = self._velocity(net, x, t)
            if self.sampler == "euler":
                return x + h * v, None
            xe = x + h * v
            return x + 0.5 * h * (v + self._velocity(net, xe, t + h)), None

        x, _ = jax.lax.scan(step, x0, jnp.arange(k, dtype=x0.dtype))
        return x

    def affine_field(self, t: Float[Array, " T"]) -> tuple[Float[Array, "T d d"], Float[Array, "T d"]]:
        """$(A(t), b(t))$ of an affine model at the times `t` (``net="affine"`` only)."""
        if self.kind != "affine":
            raise ValueError(f"affine_field needs net='affine', this model has net={self.kind!r}")
        h = self.net(_embed(jnp.asarray(t, self.dtype), self.freqs))
        d = self.d
        return h[:, : d * d].reshape(-1, d, d), h[:, d * d:]

    def affine_moments(self) -> tuple[Float[Array, " d"], Float[Array, "d d"]]:
        r"""The exact law $N(q, PP^\top)$ of an affine model's samples at temperature 1 (``net="affine"``
        only; network mode): every sampler step is affine in $x$, so the sampler maps $x_0$ to $Px_0 + q$;
        $q$ is the image of 0 and $P$'s columns those of the unit vectors minus $q$. `shift` included."""
        if self.kind != "affine":
            raise ValueError(f"affine_moments needs net='affine', this model has net={self.kind!r}")
        d = self.d
        pts = jnp.concatenate([jnp.zeros((1, d), self.dtype), jnp.eye(d, dtype=self.dtype)], axis=0)
        y = self._integrate(self.net, pts)
        q = y[0]
        p = (y[1:] - q[None, :]).T  # column j: the image of e_j, minus q
        return q + self.shift, p @ p.T

    # --------------------------------------------------------------- sampling
    def _real(self, stream: Stream, n: int) -> Float[Array, "n d"]:
        if self.real == "family":
            return self.source.draw_samples(stream, n, jnp.ones((), self.dtype)).astype(self.dtype)
        if self.real == "toy":
            x, _ = _ds.toy_sample(stream, self.toy_kind, n, self.gen_params, self.n_classes, self.noise, self.dtype)
            return x
        u = R.uniform(stream, (n,), self.dtype)  # bootstrap rows of the stored real data
        idx = jnp.minimum(jnp.floor(u * self.ref.shape[0]).astype(jnp.int32), self.ref.shape[0] - 1)
        return self.ref[idx]

    def draw_samples(self, stream: Stream, n: int, temperature) -> Float[Array, "n d"]:
        z = R.normal(stream.fork(R.SALT_LATENT), (n, self.d), self.dtype) * temperature
        net = self._integrate(self.net, z)
        return jnp.where(self.is_data, self._real(stream.fork(R.SALT_DATA), n), net) + self.shift[None, :]

    # --------------------------------------------------------------- fitting
    def velocity_times(self) -> Float[Array, " T"]:
        """The times at which the sampler evaluates the velocity ($k/K$; Heun also $t = 1$)."""
        k = self.sample_steps
        return jnp.arange(k + (self.sampler == "heun"), dtype=self.dtype) / k

    def _loss_rows(self, net: MLP, x1: Float[Array, "m d"], key) -> Float[Array, " m"]:
        if self.kind == "affine":  # z integrated out in closed form, t on the sampler's grid (see the module)
            t = self.velocity_times()
            h = net(_embed(t, self.freqs))
            d = self.d
            a = h[:, : d * d].reshape(-1, d, d)
            eye = jnp.eye(d, dtype=x1.dtype)
            r = jnp.einsum("tij,mj->mti", t[:, None, None] * a - eye[None, :, :], x1) + h[None, :, d * d:]
            f = (1.0 - t)[:, None, None] * a + eye[None, :, :]
            return jnp.mean(jnp.sum(r * r, axis=2), axis=1) + jnp.mean(jnp.sum(f * f, axis=(1, 2)))
        kz, kt = jax.random.split(key)
        z = jax.random.normal(kz, x1.shape, x1.dtype)
        t = jax.random.uniform(kt, (x1.shape[0],), x1.dtype)
        xt = (1.0 - t)[:, None] * z + t[:, None] * x1
        r = self._velocity(net, xt, t) - (x1 - z)
        return jnp.sum(r * r, axis=1)

    def fit(self, stats: SampleStats, stream: Stream) -> Diffusion:
        """Train on the weighted samples of `stats` (flow matching, AdamW, a `lax.scan` over `steps`), with keys
        from `stream`; a non-finite loss or parameter keeps the previous network and sets ``diverged``."""
        if stats.x.ndim != 2 or stats.x.shape[1] != self.d:
            raise ValueError(f"training data must have shape (n, {self.d}), got {stats.x.shape}")
        x = stats.x.astype(self.dtype) - self.shift[None, :]  # the network models the unshifted law
        w = stats.weight.astype(self.dtype)
        x = jnp.where((w > 0)[:, None], x, 0.0)  # rows of weight 0 (unused pool rows) never reach the loss
        k_init, k_train, _ = jax.random.split(wrap_key(stream.bits(2)), 3)
        old = self.net
        start = self._init_net(jax.random.key_data(k_init), self.d, self.dtype) if self.init == "fresh" else old
        net, losses = train(self._loss_rows, start, x, w, k_train, steps=self.steps, learning_rate=self.learning_rate,
                            weight_decay=self.weight_decay, batch_size=self.batch_size)
        ok = jnp.all(jnp.isfinite(losses)) & all_finite(net)
        net = jax.tree.map(lambda a, b: jnp.where(ok, a, b), net, old)
        flag = jnp.maximum(self.diverged, jnp.where(ok, 0.0, 1.0).astype(self.dtype))
        loss = jnp.where(ok, losses[-1], self.last_loss)
        return eqx.tree_at(lambda m: (m.net, m.is_data, m.last_loss, m.diverged), self,
                           (net, self.is_data & ~ok, loss, flag))

    def fit_data(self, key, x) -> Diffusion:
        """Train once on the real rows `x` (outside the engine), with training keys from the `jax.random.key`
        `key`; the result is a model in network mode (unless the fit diverged)."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"data must have shape (n, {self.d}), got {x.shape}")
        return self.fit(self.stats(x), Stream.from_key(key))

    # --------------------------------------------------------------- metrics
    def _reference(self, truth: AbstractFamily, stream: Stream):
        """(reference rows, their squared k-NN radii, truth mean, truth covariance, mode labeller, mode shares)."""
        if isinstance(truth, Diffusion):
            ref = truth.ref + truth.shift[None, :]
            rad2 = truth.ref_radius * truth.ref_radius
            mean, cov, share = truth.ref_mean + truth.shift, truth.ref_cov, truth.class_share
            src = None if truth.source is None else truth.source.translate(truth.shift)
        else:  # a Gaussian or mixture truth: fresh held-out draws
            src = truth
            # SALT_REAL, not SALT_DATA: a model in data mode draws its own samples from SALT_DATA
            ref = truth.draw_samples(stream.fork(R.SALT_REAL), self.n_eval, jnp.ones((), self.dtype)).astype(
                self.dtype)
            rad2 = _knn_radius_sq(ref, KNN_K)
            mean, cov = (a.astype(self.dtype) for a in truth.moments())
            k = truth.K if isinstance(truth, GaussianMixture) else 1
            slots = max(CLASS_SLOTS, k)
            share = jnp.zeros((slots,), self.dtype).at[:k].set(
                truth.weights.astype(self.dtype) if isinstance(truth, GaussianMixture) else 1.0)

        def label(y, d2, within):
            if isinstance(src, GaussianMixture):
                return jnp.argmax(src._component_logp(y.astype(src.dtype)), axis=1)
            if isinstance(src, Gaussian):
                return jnp.zeros((y.shape[0],), jnp.int32)
            nn = jnp.argmin(d2, axis=0)  # nearest reference point of each model sample, if inside its ball
            inside = jnp.take_along_axis(within, nn[None, :], axis=0)[0]
            return jnp.where(inside, truth.ref_labels[nn], -1)

        return ref, rad2, mean, cov, label, share

    def _masses(self, y, truth, stream):
        ref, rad2, mean, cov, label, share = self._reference(truth, stream)
        d2 = sq_dists(ref, y)  # (r, m)
        within = d2 <= rad2[:, None]
        lab = label(y, d2, within)
        onehot = lab[:, None] == jnp.arange(share.shape[0])[None, :]
        return jnp.mean(onehot.astype(self.dtype), axis=0), share, (ref, d2, within, mean, cov)

    def mode_mass(self, truth: AbstractFamily, stream: Stream) -> tuple[Float[Array, " c"], Float[Array, " c"]]:
        """The model's mass on each truth mode and the truth's (padded to at least 16 modes; see the class)."""
        y = self.draw_samples(stream, self.n_eval, jnp.ones((), self.dtype))
        mass, share, _ = self._masses(jnp.where(jnp.isfinite(y), y, 0.0), truth, stream)
        return mass, share

    def metrics(self, truth: AbstractFamily, stream: Stream) -> dict[str, Float[Array, ""]]:
        y = self.draw_samples(stream, self.n_eval, jnp.ones((), self.dtype))
        finite = jnp.all(jnp.isfinite(y))
        y = jnp.where(jnp.isfinite(y), y, 0.0)
        mass, share, (ref, d2, within, mean0, cov0) = self._masses(y, truth, stream)
        precision = jnp.mean(jnp.any(within, axis=0).astype(self.dtype))
        recall = jnp.mean(jnp.any(d2 <= _knn_radius_sq(y, KNN_K)[None, :], axis=1).astype(self.dtype))
        present = share > 0
        modes = jnp.sum((mass >= 0.25 * share) & present).astype(self.dtype)
        mass_min = jnp.min(jnp.where(present, mass / jnp.where(present, share, 1.0), jnp.inf))
        tv = 0.5 * (jnp.sum(jnp.abs(mass - share)) + (1.0 - jnp.sum(mass)))
        mu = jnp.mean(y, axis=0)
        c = y - mu[None, :]
        cov = c.T @ c / (y.shape[0] - 1)
        if self.kind == "affine":
            mu_a, cov_a = self.affine_moments()
            finite = finite & jnp.all(jnp.isfinite(cov_a)) & jnp.all(jnp.isfinite(mu_a))
            mu = jnp.where(self.is_data, mu, jnp.where(jnp.isfinite(mu_a), mu_a, 0.0))
            cov = jnp.where(self.is_data, cov, jnp.where(jnp.isfinite(cov_a), cov_a, 0.0))
        r0 = sqrt_psd(cov0)
        cross = jnp.linalg.eigvalsh(r0 @ cov @ r0)
        dm = mu - mean0
        tr, tr0 = jnp.trace(cov), jnp.trace(cov0)
        w2 = jnp.maximum(jnp.sum(dm * dm) + tr + tr0 - 2.0 * jnp.sum(jnp.sqrt(jnp.maximum(cross, 0.0))), 0.0)
        finite = finite & jnp.isfinite(w2) & jnp.isfinite(tr / tr0)  # an overflowing covariance counts as not finite
        inf = jnp.asarray(jnp.inf, self.dtype)
        zero = jnp.zeros((), self.dtype)
        out = {
            "w2sq": jnp.where(finite, w2, inf),
            "trace": jnp.where(finite, tr, inf),
            "trace_ratio": jnp.where(finite, tr / tr0, inf),
            "precision": jnp.where(finite, precision, zero),
            "recall": jnp.where(finite, recall, zero),
            "modes": jnp.where(finite, modes, zero),
            "mode_mass_min": jnp.where(finite, mass_min, zero),
            "mode_mass_tv": jnp.where(finite, tv, 1.0),
            "loss": self.last_loss,
            "diverged": jnp.where(finite, self.diverged, 1.0).astype(self.dtype),
        }
        return out
