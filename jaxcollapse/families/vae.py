r"""The variational autoencoder family: a VAE trained with optax inside the generation step.

See `jaxcollapse.families._nets` for what the neural families share (data mode at generation 0, keys
from the chain's streams, initialisation, divergence).
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from .. import datasets as _ds
from .. import random as R
from .._validate import numeric
from ..random import Stream
from ..stats import SampleStats
from ._base import AbstractSampleFamily
from ._nets import (
    CLASS_SLOTS,
    KNN_K,
    LOG_SIGMA_RANGE,
    LOGVAR_RANGE,
    MLP,
    all_finite,
    check_knobs,
    knn_radius,
    sample_spread,
    sq_dists,
    train,
    wrap_key,
)

__all__ = ["VAE", "KNN_K"]


class VAE(AbstractSampleFamily):
    r"""A variational autoencoder (Kingma & Welling 2014) with a Gaussian decoder, refit on its own samples.

    Generative model: $z \sim N(0, I_L)$, $x \mid z \sim N(g_\theta(z), \mathrm{diag}\,\sigma^2)$ with a
    learned $\log\sigma \in \mathbb R^d$; encoder $q_\phi(z\mid x) = N(\mu_\phi(x), \mathrm{diag}\,
    e^{v_\phi(x)})$; training minimises the negative ELBO per sample,
    $\tfrac12\sum_j[(x_j - g_j)^2/\sigma_j^2 + \log 2\pi\sigma_j^2] + \tfrac12\sum_l[\mu_l^2 + e^{v_l} - 1 - v_l]$,
    with one reparametrised draw per row and step. Sampling at temperature $\tau$:
    $x = g(\tau z) + \tau\sigma\varepsilon$.

    **Arguments:** `key` (the initial parameters), `data` (a `jaxcollapse.datasets.Dataset`:
    `datasets.toy(key, "moons")`, `"rings"`, `"mixture"`, or `datasets.digits()`), and the knobs
    `latent` ($L \ge 1$), `width`, `depth` (hidden layers of encoder and decoder), `steps`,
    `learning_rate` ($> 0$), `weight_decay` ($\ge 0$, AdamW's decoupled decay), `batch_size`
    (None: full batch), `init` (``"fresh"`` or ``"warm"``), `n_eval` (model samples per metric evaluation).

    Metrics (on `n_eval` model samples against the truth's reference sample $X^*$):
    ``spread`` $\mathrm{tr}\,\widehat{\mathrm{Cov}}$; ``spread_ratio`` (over the reference's);
    ``coverage`` and ``precision`` of Naeem et al. (2020, "Reliable fidelity and diversity metrics for
    generative models", ICML; $k = 5$ nearest-neighbour balls around the reference points): the share of
    reference points whose ball holds a model sample, and of model samples inside some ball;
    ``modes``: the number of classes (moons, rings, components, digits) $c$ whose share of model samples
    (each sample labelled by its nearest reference point, if inside that point's ball) is at least a
    quarter of the class's share of $X^*$; ``loss``: the negative ELBO at the last training step
    (0 at generation 0, where nothing has been trained); ``diverged``: 1 if this generation's fit diverged.
    The model samples come from the metrics stream.

    **Drift** (a shifting location): `translate(delta)` moves the distribution by `delta` (a scalar or a
    vector of length $d$): the samples and the reference sample $X^*$ the metrics compare with. A drifting
    truth is the real data shifted by $vt$ at generation $t$. No closed form: the VAE's fit is not a
    known-variance mean fit.
    """

    enc: MLP
    dec: MLP
    log_sigma: Float[Array, " d"]
    shift: Float[Array, " d"]
    is_data: Bool[Array, ""]
    learning_rate: Float[Array, ""]
    weight_decay: Float[Array, ""]
    ref: Float[Array, "r d"]
    ref_labels: Int[Array, " r"]
    ref_radius: Float[Array, " r"]
    class_share: Float[Array, " c"]
    ref_spread: Float[Array, ""]
    gen_params: Float[Array, "k 2"]
    toy_kind: Int[Array, ""]
    n_classes: Int[Array, ""]
    noise: Float[Array, ""]
    last_loss: Float[Array, ""]
    diverged: Float[Array, ""]
    real: str = eqx.field(static=True)
    latent: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    steps: int = eqx.field(static=True)
    batch_size: int | None = eqx.field(static=True)
    init: str = eqx.field(static=True)
    n_eval: int = eqx.field(static=True)

    metric_names: ClassVar[tuple[str, ...]] = (
        "spread", "spread_ratio", "coverage", "precision", "modes", "loss", "diverged",
    )
    has_exact_stats: ClassVar[bool] = False
    supports_drift: ClassVar[bool] = True
    has_log_prob: ClassVar[bool] = False

    def __init__(self, key, data: _ds.Dataset, *, latent: int = 2, width: int = 32, depth: int = 2,
                 steps: int = 500, learning_rate=1e-2, weight_decay=0.0, batch_size: int | None = None,
                 init: str = "fresh", n_eval: int = 512):
        numeric("VAE", learning_rate=learning_rate, weight_decay=weight_decay)
        if isinstance(latent, bool) or not isinstance(latent, (int, np.integer)) or latent < 1:
            raise ValueError(f"latent size must be an integer >= 1, got {latent!r}")
        check_knobs(width=width, depth=depth, steps=steps, learning_rate=learning_rate,
                     weight_decay=weight_decay, batch_size=batch_size, init=init, n_eval=n_eval)
        if not isinstance(data, _ds.Dataset):
            raise ValueError("data must be a jaxcollapse.datasets.Dataset (datasets.toy(...) or datasets.digits())")
        x = np.asarray(data.x)
        if x.ndim != 2 or x.shape[0] < 2 or not np.all(np.isfinite(x)):
            raise ValueError(f"the reference data must be a finite (rows, d) array with >= 2 rows, got {x.shape}")
        if data.name in _ds.TOYS and x.shape[1] != 2:
            raise ValueError(f"toy {data.name!r} is 2-D but its reference data have dimension {x.shape[1]}")
        dtype = jnp.result_type(float)
        d = x.shape[1]
        labels = np.asarray(data.labels, np.int32)
        if labels.shape != (x.shape[0],):
            raise ValueError(f"labels have shape {labels.shape}, expected ({x.shape[0]},)")
        self.real = "toy" if data.name in _ds.TOYS else "bootstrap"
        self.toy_kind = jnp.asarray(_ds.TOYS.index(data.name) if data.name in _ds.TOYS else -1, jnp.int32)
        self.n_classes = jnp.asarray(data.n_classes, jnp.int32)
        self.noise = jnp.asarray(data.noise, dtype)
        self.latent, self.width, self.depth, self.steps = int(latent), int(width), int(depth), int(steps)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.init, self.n_eval = init, int(n_eval)
        kp, _ = jax.random.split(key)
        self.enc, self.dec, self.log_sigma = self._init_params(jax.random.key_data(kp), d, dtype)
        self.shift = jnp.zeros((d,), dtype)
        self.is_data = jnp.asarray(True)
        self.learning_rate = jnp.asarray(learning_rate, dtype)
        self.weight_decay = jnp.asarray(weight_decay, dtype)
        self.ref = jnp.asarray(x, dtype)
        self.ref_labels = jnp.asarray(labels)
        self.ref_radius = jnp.asarray(knn_radius(x, KNN_K), dtype)
        slots = max(CLASS_SLOTS, data.n_classes)
        self.class_share = jnp.asarray(np.bincount(labels, minlength=slots) / labels.size, dtype)
        self.ref_spread = jnp.asarray(np.trace(np.atleast_2d(np.cov(x.T.astype(np.float64)))), dtype)
        gp = np.zeros((slots, 2))
        if data.name == "mixture":
            gp[: data.params.shape[0]] = data.params
        self.gen_params = jnp.asarray(gp, dtype)
        self.last_loss = jnp.zeros((), dtype)
        self.diverged = jnp.zeros((), dtype)

    # --------------------------------------------------------------- basics
    @property
    def d(self) -> int:
        return self.ref.shape[-1]

    @property
    def dtype(self):
        return self.ref.dtype

    def _init_params(self, raw_key, d: int, dtype):
        ke, kd = jax.random.split(wrap_key(raw_key))
        hidden = (self.width,) * self.depth
        enc = MLP.init(ke, (d, *hidden, 2 * self.latent), dtype)
        dec = MLP.init(kd, (self.latent, *hidden, d), dtype)
        return enc, dec, jnp.full((d,), -1.0, dtype)

    @property
    def row_shape(self) -> tuple[int, ...]:
        return (self.d,)

    def sizes(self) -> dict[str, tuple[int, str]]:
        return {"d": (self.d, "dimensions")}

    def translate(self, delta) -> VAE:
        """The distribution (data or network) and its reference sample moved by `delta` (a scalar or length d)."""
        delta = jnp.broadcast_to(jnp.asarray(delta, self.dtype), (self.d,))
        return eqx.tree_at(lambda m: m.shift, self, self.shift + delta)

    # --------------------------------------------------------------- sampling

    def _real(self, stream: Stream, n: int) -> Float[Array, "n d"]:
        if self.real == "toy":
            x, _ = _ds.toy_sample(stream, self.toy_kind, n, self.gen_params, self.n_classes, self.noise, self.dtype)
            return x
        u = R.uniform(stream, (n,), self.dtype)  # bootstrap rows of the stored real data
        idx = jnp.minimum(jnp.floor(u * self.ref.shape[0]).astype(jnp.int32), self.ref.shape[0] - 1)
        return self.ref[idx]

    def _decode_sample(self, stream: Stream, n: int, temperature) -> Float[Array, "n d"]:
        z = R.normal(stream.fork(R.SALT_LATENT), (n, self.latent), self.dtype) * temperature
        e = R.normal(stream.fork(R.SALT_DECODER_NOISE), (n, self.d), self.dtype)
        sigma = jnp.exp(jnp.clip(self.log_sigma, *LOG_SIGMA_RANGE))
        return self.dec(z) + e * (sigma * temperature)[None, :]

    def draw_samples(self, stream: Stream, n: int, temperature) -> Float[Array, "n d"]:
        net = self._decode_sample(stream, n, temperature)
        return jnp.where(self.is_data, self._real(stream.fork(R.SALT_DATA), n), net) + self.shift[None, :]

    # --------------------------------------------------------------- fitting
    def _neg_elbo(self, params, x: Float[Array, "m d"], key) -> Float[Array, " m"]:
        enc, dec, log_sigma = params
        h = enc(x)
        mu, logvar = h[:, : self.latent], jnp.clip(h[:, self.latent:], *LOGVAR_RANGE)
        eps = jax.random.normal(key, mu.shape, mu.dtype)
        z = mu + jnp.exp(0.5 * logvar) * eps
        ls = jnp.clip(log_sigma, *LOG_SIGMA_RANGE)
        r = (x - dec(z)) * jnp.exp(-ls)[None, :]
        nll = 0.5 * jnp.sum(r * r, axis=1) + jnp.sum(ls) + 0.5 * self.d * math.log(2 * math.pi)
        kl = 0.5 * jnp.sum(mu * mu + jnp.exp(logvar) - 1.0 - logvar, axis=1)
        return nll + kl

    def fit(self, stats: SampleStats, stream: Stream) -> VAE:
        """Train on the weighted samples of `stats`, with keys from `stream` (see `jaxcollapse.families._nets`)."""
        if stats.x.ndim != 2 or stats.x.shape[1] != self.d:
            raise ValueError(f"training data must have shape (n, {self.d}), got {stats.x.shape}")
        x = stats.x.astype(self.dtype)
        k_init, k_train, _ = jax.random.split(wrap_key(stream.bits(2)), 3)
        old = (self.enc, self.dec, self.log_sigma)
        start = self._init_params(jax.random.key_data(k_init), self.d, self.dtype) if self.init == "fresh" else old
        params, losses = train(self._neg_elbo, start, x, stats.weight.astype(self.dtype), k_train, steps=self.steps,
                               learning_rate=self.learning_rate, weight_decay=self.weight_decay,
                               batch_size=self.batch_size)
        ok = jnp.all(jnp.isfinite(losses)) & all_finite(params)
        params = jax.tree.map(lambda a, b: jnp.where(ok, a, b), params, old)
        new = eqx.tree_at(lambda m: (m.enc, m.dec, m.log_sigma, m.is_data, m.last_loss, m.diverged), self,
                          (*params, jnp.asarray(False),
                           jnp.where(ok, losses[-1], jnp.zeros((), self.dtype)), jnp.where(ok, 0.0, 1.0)
                           .astype(self.dtype)))
        return new

    def fit_data(self, key, x) -> VAE:
        """Train once on the real rows `x` (outside the engine), with training keys from the `jax.random.key`
        `key`; the result is a model in network mode."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"data must have shape (n, {self.d}), got {x.shape}")
        return self.fit(self.stats(x), Stream.from_key(key))

    # --------------------------------------------------------------- metrics
    def metrics(self, truth: VAE, stream: Stream) -> dict[str, Float[Array, ""]]:
        y = self.draw_samples(stream, self.n_eval, jnp.ones((), self.dtype))
        spread = sample_spread(y)
        d2 = sq_dists(truth.ref + truth.shift[None, :], y)  # (r, m)
        within = d2 <= (truth.ref_radius * truth.ref_radius)[:, None]
        coverage = jnp.mean(jnp.any(within, axis=1).astype(self.dtype))
        precision = jnp.mean(jnp.any(within, axis=0).astype(self.dtype))
        nn = jnp.argmin(d2, axis=0)  # nearest reference point of each model sample
        inside = jnp.take_along_axis(within, nn[None, :], axis=0)[0]
        lab = truth.ref_labels[nn]
        k = truth.class_share.shape[0]
        onehot = (lab[:, None] == jnp.arange(k)[None, :]) & inside[:, None]
        mass = jnp.mean(onehot.astype(self.dtype), axis=0)
        modes = jnp.sum((mass >= 0.25 * truth.class_share) & (truth.class_share > 0)).astype(self.dtype)
        return {
            "spread": spread,
            "spread_ratio": spread / truth.ref_spread,
            "coverage": coverage,
            "precision": precision,
            "modes": modes,
            "loss": self.last_loss,
            "diverged": self.diverged,
        }
