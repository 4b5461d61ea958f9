r"""Neural generative families, trained with optax inside the generation step: a VAE and an MLP regressor.

These families have no finite sufficient statistics: their "statistics" are the weighted samples
(`jaxcollapse.data.SampleStats`), and `fit` trains a network on them with optax (AdamW, a
`lax.scan` over training steps). Every chain carries its own parameters, so `simulate` trains
thousands of networks in parallel (`vmap` over chains, `scan` over generations). They add the
functional *approximation* error of Shumailov et al. (2024) (SGD, stopping early, weight decay,
a network too narrow) to the statistical error of finite samples. The knobs are `steps`,
`learning_rate`, `width`, `depth`, `weight_decay`, `batch_size`, and (VAE) `latent`.

**Generation 0 is the truth.** A freshly built family is in *data mode*: `draw_samples` draws
real data (the exact toy generator of `jaxcollapse.datasets`, or for the digits a bootstrap from
the stored images; for the regressor, inputs with the true function's noisy labels), and its
metrics are those of the real distribution. The first `fit` trains the first network on $n$ real
samples; from then on every generation trains on the previous network's samples. Because the
truth and the initial model are the same object, `simulate(key, model, regime, ...)` needs no
`truth=` and regimes with real data (`fresh`, `augment`, `weighted`) draw real data.

**Randomness.** Training needs keys (initialisation, the reparametrisation noise, minibatches) and
the metrics need model samples. When the engine passes `fit` a stream (`fit_uses_stream = True`), the
training key is drawn from it; otherwise (a bare `model.fit(stats)`) it is Threefry of the model's
current key at a counter hashed from the training data. Either way the refitted model stores a
successor key, which its `metrics` use for their model samples. All randomness is therefore a
deterministic function of the chain's Streams: chain $i$ is the same whatever the number of chains.

**Initialisation.** ``init="fresh"`` (default) trains a new network from a random
initialisation every generation (each generation a new model, as in Shumailov et al.);
``init="warm"`` continues from the previous generation's parameters (fine-tuning).

**Divergence.** A fit whose loss or parameters are not finite keeps the previous parameters and
sets the per-chain flag metric ``diverged`` to 1 for that generation; nothing becomes NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, UInt32

from .. import _random as R
from .. import datasets as _ds
from .._random import Stream
from ..data import SampleStats
from ._base import AbstractFamily

INITS = ("fresh", "warm")
_LOG_SIGMA_RANGE = (-7.0, 3.0)  # decoder noise scale clipped to [9e-4, 20] in the likelihood
_LOGVAR_RANGE = (-12.0, 8.0)  # encoder log-variances clipped likewise
KNN_K = 5  # Naeem et al. (2020) use k = 5 for the coverage radii
CLASS_SLOTS = 16  # class shares and mixture centres are padded to this many rows, so that toys share shapes


# --------------------------------------------------------------------------- a plain MLP

class MLP(eqx.Module):
    """A fully connected network with SiLU hidden activations and a linear output layer.

    `weights[i]` has shape `(fan_in, fan_out)`; initialisation $W \\sim N(0, 1/\\text{fan\\_in})$, $b = 0$.
    """

    weights: tuple[Array, ...]
    biases: tuple[Array, ...]

    @staticmethod
    def init(key, sizes: tuple[int, ...], dtype) -> MLP:
        shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
        flat = jax.random.normal(key, (sum(a * b for a, b in shapes),), dtype)  # one draw: one Threefry to compile
        offs = np.cumsum([0] + [a * b for a, b in shapes])
        ws = tuple(flat[o:o + a * b].reshape(a, b) / math.sqrt(a) for o, (a, b) in zip(offs, shapes, strict=False))
        bs = tuple(jnp.zeros((b,), dtype) for b in sizes[1:])
        return MLP(ws, bs)

    def __call__(self, x: Float[Array, "m a"]) -> Float[Array, "m b"]:
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = x @ w + b[None, :]
            if i < last:
                x = jax.nn.silu(x)
        return x


# --------------------------------------------------------------------------- shared machinery

def _wrap(raw: UInt32[Array, "2"]):
    return jax.random.wrap_key_data(raw, impl="threefry2x32")


def _data_key(seed: UInt32[Array, "2"], x: Array, w: Array) -> UInt32[Array, "2"]:
    """Threefry of `seed` at a counter pair hashed from the bits of the training data (and weights)."""
    bits = jax.lax.bitcast_convert_type(x.astype(jnp.float32), jnp.uint32).reshape(-1)
    wb = jax.lax.bitcast_convert_type(w.astype(jnp.float32), jnp.uint32).reshape(-1)
    bits = jnp.concatenate([bits, wb])
    idx = jnp.arange(bits.shape[0], dtype=jnp.uint32)
    h0 = jnp.sum(bits * (jnp.uint32(2) * idx + jnp.uint32(1)) + (bits >> 7), dtype=jnp.uint32)
    h1 = jax.lax.reduce(bits ^ (idx * jnp.uint32(0x9E3779B9)), np.uint32(0), jax.lax.bitwise_xor, (0,))
    y0, y1 = R.threefry2x32(seed, h0, h1)
    return jnp.stack([y0, y1])


def _fit_key(seed: UInt32[Array, "2"], x: Array, w: Array, stream: Stream | None) -> UInt32[Array, "2"]:
    """The training key: from the engine's fit stream when it passes one, else hashed from the data."""
    if stream is not None:
        return stream.bits(2)
    return _data_key(seed, x, w)


def _engine_pools_samples() -> bool:
    """Whether the engine preallocates an accumulate pool for sample statistics."""
    from .. import engine

    return "pool_rows" in engine.ChainOptions._fields


def _all_finite(tree) -> Bool[Array, ""]:
    leaves = [jnp.all(jnp.isfinite(a)) for a in jax.tree.leaves(tree) if jnp.issubdtype(a.dtype, jnp.floating)]
    return jnp.all(jnp.stack(leaves))


TRAIN_BLOCK = 32  # networks per block when a vmapped `train` runs on a CPU (see `train`)


def train(loss_rows: Callable, params, x: Array, w: Float[Array, " m"], key, *, steps: int, learning_rate,
          weight_decay, batch_size: int | None):
    r"""AdamW on the weighted mean of `loss_rows(params, x_batch, key) -> (b,)`, a `lax.scan` over `steps`.

    Full batch (``batch_size=None``): the objective is $\sum_i w_i \ell_i / \sum_i w_i$. Minibatches:
    `batch_size` rows drawn with replacement with probabilities $\propto w_i$ each step. Returns the
    trained parameters and the per-step losses.

    **Many networks at once.** Under `jax.vmap` (the engine trains one network per chain) the plain
    batching rule would run every training step as one XLA operation per layer over *all* networks:
    with $B$ networks of $m$ rows and width $h$ each activation is a $B \times m \times h$ array
    (8 MB for $B = m = 256$, $h = 32$), so every step streams tens of such arrays through memory. On a
    CPU, `train` therefore has its own batching rule (`jax.custom_batching.custom_vmap`): the networks
    are trained in blocks of `TRAIN_BLOCK` (`lax.map` over blocks, `vmap` inside a block, the whole scan
    over steps per block), so a step's working set stays in cache (256 VAEs of `benchmarks/bench_neural.py`:
    about 1.2x faster on a 2-core CPU). Each network's arithmetic is the same operations on the same
    numbers as under the plain `vmap`; results agree up to float32 rounding (batched kernels of another
    batch size may round differently, which the plain `vmap` does too; a test compares the two), and all
    randomness still comes from each network's own key. On other backends, or with at most `TRAIN_BLOCK`
    networks, the rule is the plain `vmap`.
    """
    core = _TrainCore(loss_rows, steps, batch_size)
    f = jax.custom_batching.custom_vmap(core)
    f.def_vmap(core.batched)
    return f(params, x, w, jax.random.key_data(key), jnp.asarray(learning_rate), jnp.asarray(weight_decay))


class _TrainCore:
    """The training of one network (`__call__`) and its batching rule (`batched`), for `train`."""

    def __init__(self, loss_rows: Callable, steps: int, batch_size: int | None):
        self.loss_rows, self.steps, self.batch_size = loss_rows, steps, batch_size

    def __call__(self, params, x, w, key_data, learning_rate, weight_decay):
        import optax  # lazy: keep `import jaxcollapse` fast

        loss_rows, batch_size = self.loss_rows, self.batch_size
        opt = optax.adamw(learning_rate, weight_decay=weight_decay)
        wsum = jnp.sum(w)
        p = w / jnp.where(wsum > 0, wsum, 1.0)

        def objective(prm, k):
            if batch_size is None:
                return jnp.sum(p * loss_rows(prm, x, k))
            kb, kl = jax.random.split(k)
            idx = jax.random.choice(kb, x.shape[0], (batch_size,), p=p)
            return jnp.mean(loss_rows(prm, x[idx], kl))

        def step(carry, k):
            prm, state = carry
            loss, g = jax.value_and_grad(objective)(prm, k)
            upd, state = opt.update(g, state, prm)
            return (optax.apply_updates(prm, upd), state), loss

        keys = jax.random.split(_wrap(key_data), self.steps)
        (params, _), losses = jax.lax.scan(step, (params, opt.init(params)), keys)
        return params, losses

    def batched(self, axis_size: int, in_batched, *args):
        """`custom_vmap` rule: blocks of `TRAIN_BLOCK` networks on a CPU, the plain `vmap` otherwise."""
        in_batched = list(in_batched)
        if jax.default_backend() != "cpu" or axis_size <= TRAIN_BLOCK:
            in_axes = [jax.tree.map(lambda b: 0 if b else None, bat) for bat in in_batched]
            out = jax.vmap(self, in_axes=tuple(in_axes))(*args)
        else:
            full = [jax.tree.map(lambda a, b: a if b else jnp.broadcast_to(a, (axis_size, *a.shape)), arg, bat)
                    for arg, bat in zip(args, in_batched, strict=True)]
            out = jax.lax.map(lambda a: self(*a), tuple(full), batch_size=TRAIN_BLOCK)
        return out, jax.tree.map(lambda _: True, out)


def _check_knobs(*, width, depth, steps, learning_rate, weight_decay, batch_size, init, n_eval):
    for name, v in (("width", width), ("depth", depth), ("steps", steps), ("n_eval", n_eval)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if n_eval < 2:
        raise ValueError(f"n_eval must be >= 2 (a sample covariance), got {n_eval}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be None (full batch) or an integer >= 1, got {batch_size!r}")
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {INITS}")
    for name, v, lo_ok in (("learning_rate", learning_rate, False), ("weight_decay", weight_decay, True)):
        if isinstance(v, jax.core.Tracer):
            continue
        a = np.asarray(v, np.float64)
        if a.shape != () or not np.isfinite(a) or (a < 0 if lo_ok else a <= 0):
            raise ValueError(f"{name} must be a finite scalar {'>= 0' if lo_ok else '> 0'}, got {v!r}")


def _check_regime_samples(family: str, regime, generations: int) -> None:
    if regime.memory == "accumulate" and not _engine_pools_samples():
        raise ValueError(
            f"{family} keeps its data as samples: accumulate grows the pool every generation, which the engine "
            "cannot carry yet; use accumulate_subsample (a fixed-size pool) or replace"
        )
    drift = regime.drift
    if isinstance(drift, jax.core.Tracer) or np.any(np.asarray(drift) != 0):
        raise ValueError(f"{family} has no drifting truth: drift must be 0")


def _sq_dists(a: Float[Array, "r d"], b: Float[Array, "m d"]) -> Float[Array, "r m"]:
    aa = jnp.sum(a * a, axis=1)
    bb = jnp.sum(b * b, axis=1)
    return jnp.maximum(aa[:, None] + bb[None, :] - 2.0 * (a @ b.T), 0.0)


def _knn_radius(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its `k`-th nearest other row (Naeem et al. 2020's radius)."""
    x = np.asarray(x, np.float64)
    d2 = np.maximum(np.sum(x * x, 1)[:, None] + np.sum(x * x, 1)[None, :] - 2 * x @ x.T, 0.0)
    np.fill_diagonal(d2, np.inf)
    k = min(k, x.shape[0] - 1)
    return np.sqrt(np.partition(d2, k - 1, axis=1)[:, k - 1]) if k >= 1 else np.full(x.shape[0], np.inf)


def _spread(y: Float[Array, "m d"]) -> Float[Array, ""]:
    """Trace of the sample covariance (divisor m - 1)."""
    c = y - jnp.mean(y, axis=0)[None, :]
    return jnp.sum(c * c) / (y.shape[0] - 1)


# --------------------------------------------------------------------------- the VAE

class VAE(AbstractFamily):
    r"""A variational autoencoder (Kingma & Welling 2014) with a Gaussian decoder, refit on its own samples.

    Generative model: $z \sim N(0, I_L)$, $x \mid z \sim N(g_\theta(z), \mathrm{diag}\,\sigma^2)$ with a
    learned $\log\sigma \in \mathbb R^d$; encoder $q_\phi(z\mid x) = N(\mu_\phi(x), \mathrm{diag}\,
    e^{v_\phi(x)})$; training minimises the negative ELBO per sample,
    $\tfrac12\sum_j[(x_j - g_j)^2/\sigma_j^2 + \log 2\pi\sigma_j^2] + \tfrac12\sum_l[\mu_l^2 + e^{v_l} - 1 - v_l]$,
    with one reparametrised draw per row and step. Sampling at temperature $\tau$:
    $x = g(\tau z) + \tau\sigma\varepsilon$.

    **Arguments:** `key` (initial parameters and metric key), `data` (a `jaxcollapse.datasets.Dataset`:
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
    """

    enc: MLP
    dec: MLP
    log_sigma: Float[Array, " d"]
    key: UInt32[Array, "2"]
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
    fit_uses_stream: ClassVar[bool] = True

    def __init__(self, key, data: _ds.Dataset, *, latent: int = 2, width: int = 32, depth: int = 2,
                 steps: int = 500, learning_rate=1e-2, weight_decay=0.0, batch_size: int | None = None,
                 init: str = "fresh", n_eval: int = 512):
        if isinstance(latent, bool) or not isinstance(latent, (int, np.integer)) or latent < 1:
            raise ValueError(f"latent size must be an integer >= 1, got {latent!r}")
        _check_knobs(width=width, depth=depth, steps=steps, learning_rate=learning_rate,
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
        kp, kk = jax.random.split(key)
        self.enc, self.dec, self.log_sigma = self._init_params(jax.random.key_data(kp), d, dtype)
        self.key = jax.random.key_data(kk)
        self.is_data = jnp.asarray(True)
        self.learning_rate = jnp.asarray(learning_rate, dtype)
        self.weight_decay = jnp.asarray(weight_decay, dtype)
        self.ref = jnp.asarray(x, dtype)
        self.ref_labels = jnp.asarray(labels)
        self.ref_radius = jnp.asarray(_knn_radius(x, KNN_K), dtype)
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
        ke, kd = jax.random.split(_wrap(raw_key))
        hidden = (self.width,) * self.depth
        enc = MLP.init(ke, (d, *hidden, 2 * self.latent), dtype)
        dec = MLP.init(kd, (self.latent, *hidden, d), dtype)
        return enc, dec, jnp.full((d,), -1.0, dtype)

    def translate(self, delta) -> VAE:
        """The truth does not drift (`check_regime` refuses a non-zero drift); returns `self`."""
        return self

    def empty_stats(self) -> SampleStats:
        return SampleStats.empty((self.d,), self.dtype)

    def sample_stats(self, stream, n, temperature):
        raise NotImplementedError("a VAE has no finite sufficient statistics; use path='samples'")

    def stats(self, x, mask: Bool[Array, " n"] | None = None) -> SampleStats:
        x = jnp.asarray(x, self.dtype)
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"data must have shape (n, {self.d}), got {x.shape}")
        return SampleStats.from_samples(x, mask)

    # --------------------------------------------------------------- sampling
    def sample(self, key, n: int) -> Float[Array, "n d"]:
        """`n` samples (the real distribution in data mode), shape `(n, d)`."""
        return self.draw_samples(Stream.from_key(key), n, jnp.ones((), self.dtype))

    def _real(self, stream: Stream, n: int) -> Float[Array, "n d"]:
        if self.real == "toy":
            x, _ = _ds.toy_sample(stream, self.toy_kind, n, self.gen_params, self.n_classes, self.noise, self.dtype)
            return x
        u = R.uniform(stream, (n,), self.dtype)  # bootstrap rows of the stored real data
        idx = jnp.minimum(jnp.floor(u * self.ref.shape[0]).astype(jnp.int32), self.ref.shape[0] - 1)
        return self.ref[idx]

    def _decode_sample(self, stream: Stream, n: int, temperature) -> Float[Array, "n d"]:
        z = R.normal(stream.fork(11), (n, self.latent), self.dtype) * temperature
        e = R.normal(stream.fork(12), (n, self.d), self.dtype)
        sigma = jnp.exp(jnp.clip(self.log_sigma, *_LOG_SIGMA_RANGE))
        return self.dec(z) + e * (sigma * temperature)[None, :]

    def draw_samples(self, stream: Stream, n: int, temperature) -> Float[Array, "n d"]:
        net = self._decode_sample(stream, n, temperature)
        return jnp.where(self.is_data, self._real(stream.fork(13), n), net)

    # --------------------------------------------------------------- fitting
    def _neg_elbo(self, params, x: Float[Array, "m d"], key) -> Float[Array, " m"]:
        enc, dec, log_sigma = params
        h = enc(x)
        mu, logvar = h[:, : self.latent], jnp.clip(h[:, self.latent:], *_LOGVAR_RANGE)
        eps = jax.random.normal(key, mu.shape, mu.dtype)
        z = mu + jnp.exp(0.5 * logvar) * eps
        ls = jnp.clip(log_sigma, *_LOG_SIGMA_RANGE)
        r = (x - dec(z)) * jnp.exp(-ls)[None, :]
        nll = 0.5 * jnp.sum(r * r, axis=1) + jnp.sum(ls) + 0.5 * self.d * math.log(2 * math.pi)
        kl = 0.5 * jnp.sum(mu * mu + jnp.exp(logvar) - 1.0 - logvar, axis=1)
        return nll + kl

    def fit(self, stats: SampleStats, stream: Stream | None = None) -> VAE:
        """Train on the weighted samples of `stats` (see the module docstring for keys and initialisation)."""
        if stats.x.ndim != 2 or stats.x.shape[1] != self.d:
            raise ValueError(f"training data must have shape (n, {self.d}), got {stats.x.shape}")
        x = stats.x.astype(self.dtype)
        raw = _fit_key(self.key, x, stats.weight, stream)
        k_init, k_train, k_next = jax.random.split(_wrap(raw), 3)
        old = (self.enc, self.dec, self.log_sigma)
        start = self._init_params(jax.random.key_data(k_init), self.d, self.dtype) if self.init == "fresh" else old
        params, losses = train(self._neg_elbo, start, x, stats.weight.astype(self.dtype), k_train, steps=self.steps,
                               learning_rate=self.learning_rate, weight_decay=self.weight_decay,
                               batch_size=self.batch_size)
        ok = jnp.all(jnp.isfinite(losses)) & _all_finite(params)
        params = jax.tree.map(lambda a, b: jnp.where(ok, a, b), params, old)
        new = eqx.tree_at(lambda m: (m.enc, m.dec, m.log_sigma, m.key, m.is_data, m.last_loss, m.diverged), self,
                          (*params, jax.random.key_data(k_next), jnp.asarray(False),
                           jnp.where(ok, losses[-1], jnp.zeros((), self.dtype)), jnp.where(ok, 0.0, 1.0)
                           .astype(self.dtype)))
        return new

    def fit_data(self, x) -> VAE:
        """Train once on the real rows `x` (outside the engine); the result is a model in network mode."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"data must have shape (n, {self.d}), got {x.shape}")
        return self.fit(self.stats(x))

    # --------------------------------------------------------------- metrics
    def metrics(self, truth: VAE) -> dict[str, Float[Array, ""]]:
        y = self.draw_samples(Stream(self.key, jnp.asarray(0, jnp.uint32)), self.n_eval, jnp.ones((), self.dtype))
        spread = _spread(y)
        d2 = _sq_dists(truth.ref, y)  # (r, m)
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

    def check_regime(self, regime, generations: int) -> None:
        _check_regime_samples("VAE", regime, generations)


# --------------------------------------------------------------------------- the MLP regressor

def sine_target(x: Float[Array, "m p"]) -> Float[Array, " m"]:
    r"""The default true function $f^*(x) = \sum_j \sin(\pi x_j)/\sqrt p$ on $[-1, 1]^p$."""
    return jnp.sum(jnp.sin(jnp.pi * x), axis=1) / math.sqrt(x.shape[1])


class MLPRegressor(AbstractFamily):
    r"""An MLP regressor trained on the previous generation's labels (model collapse in regression).

    Data rows are $(x, y)$ with $x \sim U[-1, 1]^p$ and $y = f(x) + \tau s\,\varepsilon$: at generation 0
    $f = f^*$ (the `target`, default `sine_target`), afterwards $f$ is the previous generation's network
    (the setting of Dohmatob, Feng & Kempe 2024, "Model collapse demystified: the case of regression",
    with a network in place of ridge regression). `fit` minimises the weighted mean squared error with
    AdamW. Knobs as for `VAE` (`width`, `depth`, `steps`, `learning_rate`, `weight_decay`, `batch_size`,
    `init`); `dim` is $p$, `label_noise` is $s \ge 0$, `n_grid` the test grid size.

    Metrics: ``test_mse`` $\frac1G\sum_g (f(x_g) - f^*(x_g))^2$ on a fixed grid (a uniform grid in 1-D,
    `n_grid` uniform points from the key otherwise); ``pred_var``, the variance of $f$ over the grid;
    ``loss`` (training MSE at the last step; 0 at generation 0); ``diverged``.
    """

    net: MLP
    key: UInt32[Array, "2"]
    is_data: Bool[Array, ""]
    learning_rate: Float[Array, ""]
    weight_decay: Float[Array, ""]
    label_noise: Float[Array, ""]
    grid_x: Float[Array, "g p"]
    grid_y: Float[Array, " g"]
    last_loss: Float[Array, ""]
    diverged: Float[Array, ""]
    target: Callable = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    steps: int = eqx.field(static=True)
    batch_size: int | None = eqx.field(static=True)
    init: str = eqx.field(static=True)

    metric_names: ClassVar[tuple[str, ...]] = ("test_mse", "pred_var", "loss", "diverged")
    has_exact_stats: ClassVar[bool] = False
    fit_uses_stream: ClassVar[bool] = True

    def __init__(self, key, *, dim: int = 1, target: Callable = sine_target, label_noise=0.1, width: int = 32,
                 depth: int = 2, steps: int = 300, learning_rate=1e-2, weight_decay=0.0,
                 batch_size: int | None = None, init: str = "fresh", n_grid: int = 256):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
        _check_knobs(width=width, depth=depth, steps=steps, learning_rate=learning_rate,
                     weight_decay=weight_decay, batch_size=batch_size, init=init, n_eval=n_grid)
        if not callable(target):
            raise ValueError("target must be a function (n, dim) -> (n,)")
        if not isinstance(label_noise, jax.core.Tracer):
            s = np.asarray(label_noise, np.float64)
            if s.shape != () or not np.isfinite(s) or s < 0:
                raise ValueError(f"label_noise must be a finite scalar >= 0, got {label_noise!r}")
        dtype = jnp.result_type(float)
        self.target, self.width, self.depth, self.steps = target, int(width), int(depth), int(steps)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.init = init
        kp, kg, kk = jax.random.split(key, 3)
        self.net = self._init_net(jax.random.key_data(kp), dim, dtype)
        self.key = jax.random.key_data(kk)
        self.is_data = jnp.asarray(True)
        self.learning_rate = jnp.asarray(learning_rate, dtype)
        self.weight_decay = jnp.asarray(weight_decay, dtype)
        self.label_noise = jnp.asarray(label_noise, dtype)
        if dim == 1:
            gx = jnp.linspace(-1.0, 1.0, n_grid, dtype=dtype)[:, None]
        else:
            gx = jax.random.uniform(kg, (n_grid, dim), dtype, minval=-1.0, maxval=1.0)
        gy = jnp.asarray(target(gx), dtype)
        if gy.shape != (n_grid,):
            raise ValueError(f"target must map (n, {dim}) inputs to (n,) outputs, got shape {gy.shape}")
        self.grid_x, self.grid_y = gx, gy
        self.last_loss = jnp.zeros((), dtype)
        self.diverged = jnp.zeros((), dtype)

    @property
    def dim(self) -> int:
        return self.grid_x.shape[-1]

    @property
    def dtype(self):
        return self.grid_y.dtype

    def _init_net(self, raw_key, dim: int, dtype) -> MLP:
        return MLP.init(_wrap(raw_key), (dim, *(self.width,) * self.depth, 1), dtype)

    def translate(self, delta) -> MLPRegressor:
        """The truth does not drift (`check_regime` refuses a non-zero drift); returns `self`."""
        return self

    def empty_stats(self) -> SampleStats:
        return SampleStats.empty((self.dim + 1,), self.dtype)

    def sample_stats(self, stream, n, temperature):
        raise NotImplementedError("an MLP regressor has no finite sufficient statistics; use path='samples'")

    def stats(self, x, mask: Bool[Array, " n"] | None = None) -> SampleStats:
        x = jnp.asarray(x, self.dtype)
        if x.ndim != 2 or x.shape[1] != self.dim + 1:
            raise ValueError(f"rows must be (x, y) of shape (n, {self.dim + 1}), got {x.shape}")
        return SampleStats.from_samples(x, mask)

    def predict(self, x: Float[Array, "m p"]) -> Float[Array, " m"]:
        """$f(x)$: the target in data mode, the network otherwise."""
        return jnp.where(self.is_data, jnp.asarray(self.target(x), self.dtype), self.net(x)[:, 0])

    def sample(self, key, n: int) -> Float[Array, "n q"]:
        return self.draw_samples(Stream.from_key(key), n, jnp.ones((), self.dtype))

    def draw_samples(self, stream: Stream, n: int, temperature) -> Float[Array, "n q"]:
        x = 2.0 * R.uniform(stream.fork(21), (n, self.dim), self.dtype) - 1.0
        e = R.normal(stream.fork(22), (n,), self.dtype)
        y = self.predict(x) + e * (self.label_noise * temperature)
        return jnp.concatenate([x, y[:, None]], axis=1)

    def _sq_err(self, net: MLP, rows: Float[Array, "m q"], key) -> Float[Array, " m"]:
        r = net(rows[:, : self.dim])[:, 0] - rows[:, self.dim]
        return r * r

    def fit(self, stats: SampleStats, stream: Stream | None = None) -> MLPRegressor:
        """Train on the weighted rows $(x, y)$ of `stats` (keys and initialisation as for `VAE.fit`)."""
        if stats.x.ndim != 2 or stats.x.shape[1] != self.dim + 1:
            raise ValueError(f"training rows must have shape (n, {self.dim + 1}), got {stats.x.shape}")
        x = stats.x.astype(self.dtype)
        raw = _fit_key(self.key, x, stats.weight, stream)
        k_init, k_train, k_next = jax.random.split(_wrap(raw), 3)
        start = self._init_net(jax.random.key_data(k_init), self.dim, self.dtype) if self.init == "fresh" else self.net
        net, losses = train(self._sq_err, start, x, stats.weight.astype(self.dtype), k_train, steps=self.steps,
                            learning_rate=self.learning_rate, weight_decay=self.weight_decay,
                            batch_size=self.batch_size)
        ok = jnp.all(jnp.isfinite(losses)) & _all_finite(net)
        net = jax.tree.map(lambda a, b: jnp.where(ok, a, b), net, self.net)
        return eqx.tree_at(lambda m: (m.net, m.key, m.is_data, m.last_loss, m.diverged), self,
                           (net, jax.random.key_data(k_next), jnp.asarray(False),
                            jnp.where(ok, losses[-1], jnp.zeros((), self.dtype)),
                            jnp.where(ok, 0.0, 1.0).astype(self.dtype)))

    def metrics(self, truth: MLPRegressor) -> dict[str, Float[Array, ""]]:
        f = self.predict(self.grid_x)
        err = f - truth.grid_y
        return {
            "test_mse": jnp.mean(err * err),
            "pred_var": jnp.var(f),
            "loss": self.last_loss,
            "diverged": self.diverged,
        }

    def check_regime(self, regime, generations: int) -> None:
        _check_regime_samples("MLPRegressor", regime, generations)
