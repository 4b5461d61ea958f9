r"""What the neural families share: a plain MLP, training with optax inside the generation step, the
knobs' validation and the sample-based yardsticks (k-NN radii, spread).

The neural families (`jaxcollapse.families.vae.VAE`, `jaxcollapse.families.mlp_regressor.MLPRegressor`)
have no finite sufficient statistics: their "statistics" are the weighted samples
(`jaxcollapse.stats.SampleStats`), and `fit` trains a network on them with optax (AdamW, a `lax.scan`
over training steps). Every chain carries its own parameters, so `simulate` trains thousands of
networks in parallel (`vmap` over chains, `scan` over generations). They add the functional
*approximation* error of Shumailov et al. (2024) (SGD, stopping early, weight decay, a network too
narrow) to the statistical error of finite samples.

**Generation 0 is the truth.** A freshly built neural family is in *data mode*: `draw_samples` draws
real data and its metrics are those of the real distribution. The first `fit` trains the first network
on $n$ real samples; from then on every generation trains on the previous network's samples. Because the
truth and the initial model are the same object, `simulate(key, model, regime, ...)` needs no `truth=`.

**Randomness.** `fit(stats, stream)` draws its training key (initialisation, the reparametrisation
noise, minibatches) from the fit stream, and `metrics(truth, stream)` its model samples from the metrics
stream: all randomness is a deterministic function of the chain's streams, so chain $i$ is the same
whatever the number of chains.

**Initialisation.** ``init="fresh"`` (default) trains a new network from a random initialisation every
generation (each generation a new model, as in Shumailov et al.); ``init="warm"`` continues from the
previous generation's parameters (fine-tuning).

**Divergence.** A fit whose loss or parameters are not finite keeps the previous parameters and sets
the per-chain flag metric ``diverged`` to 1 for that generation; nothing becomes NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, UInt32

INITS = ("fresh", "warm")
LOG_SIGMA_RANGE = (-7.0, 3.0)  # decoder noise scale clipped to [9e-4, 20] in the likelihood
LOGVAR_RANGE = (-12.0, 8.0)  # encoder log-variances clipped likewise
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

def wrap_key(raw: UInt32[Array, "2"]):
    return jax.random.wrap_key_data(raw, impl="threefry2x32")


def all_finite(tree) -> Bool[Array, ""]:
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

        keys = jax.random.split(wrap_key(key_data), self.steps)
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


def check_knobs(*, width, depth, steps, learning_rate, weight_decay, batch_size, init, n_eval):
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


def sq_dists(a: Float[Array, "r d"], b: Float[Array, "m d"]) -> Float[Array, "r m"]:
    aa = jnp.sum(a * a, axis=1)
    bb = jnp.sum(b * b, axis=1)
    return jnp.maximum(aa[:, None] + bb[None, :] - 2.0 * (a @ b.T), 0.0)


def knn_radius(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its `k`-th nearest other row (Naeem et al. 2020's radius)."""
    x = np.asarray(x, np.float64)
    d2 = np.maximum(np.sum(x * x, 1)[:, None] + np.sum(x * x, 1)[None, :] - 2 * x @ x.T, 0.0)
    np.fill_diagonal(d2, np.inf)
    k = min(k, x.shape[0] - 1)
    return np.sqrt(np.partition(d2, k - 1, axis=1)[:, k - 1]) if k >= 1 else np.full(x.shape[0], np.inf)


def sample_spread(y: Float[Array, "m d"]) -> Float[Array, ""]:
    """Trace of the sample covariance (divisor m - 1)."""
    c = y - jnp.mean(y, axis=0)[None, :]
    return jnp.sum(c * c) / (y.shape[0] - 1)
