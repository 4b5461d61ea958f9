r"""The MLP regressor family: a network trained with optax on the previous generation's labels.

See `jaxcollapse.families._nets` for what the neural families share (data mode at generation 0, keys
from the chain's streams, initialisation, divergence).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from .. import random as R
from .._validate import numeric
from ..random import Stream
from ..stats import SampleStats
from ._base import AbstractSampleFamily
from ._nets import MLP, all_finite, check_knobs, train, wrap_key

__all__ = ["MLPRegressor", "sine_target"]


def sine_target(x: Float[Array, "m p"]) -> Float[Array, " m"]:
    r"""The default true function $f^*(x) = \sum_j \sin(\pi x_j)/\sqrt p$ on $[-1, 1]^p$."""
    return jnp.sum(jnp.sin(jnp.pi * x), axis=1) / math.sqrt(x.shape[1])


class MLPRegressor(AbstractSampleFamily):
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

    **Drift** (a shifting location): `translate(delta)` moves the function along its inputs,
    $f(x) \to f(x - \delta)$ (a scalar or a vector of length $p$); a drifting truth is the target
    $f^*(x - vt)$ at generation $t$, and ``test_mse`` compares with the current one. No closed form: the
    network's fit is not a known-variance mean fit.
    """

    net: MLP
    shift: Float[Array, " p"]
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
    supports_drift: ClassVar[bool] = True
    has_log_prob: ClassVar[bool] = False

    def __init__(self, key, *, dim: int = 1, target: Callable = sine_target, label_noise=0.1, width: int = 32,
                 depth: int = 2, steps: int = 300, learning_rate=1e-2, weight_decay=0.0,
                 batch_size: int | None = None, init: str = "fresh", n_grid: int = 256):
        numeric("MLPRegressor", label_noise=label_noise, learning_rate=learning_rate, weight_decay=weight_decay)
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
        check_knobs(width=width, depth=depth, steps=steps, learning_rate=learning_rate,
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
        kp, kg, _ = jax.random.split(key, 3)
        self.net = self._init_net(jax.random.key_data(kp), dim, dtype)
        self.shift = jnp.zeros((dim,), dtype)
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
        return MLP.init(wrap_key(raw_key), (dim, *(self.width,) * self.depth, 1), dtype)

    @property
    def row_shape(self) -> tuple[int, ...]:
        return (self.dim + 1,)

    def sizes(self) -> dict[str, tuple[int, str]]:
        return {"dim": (self.dim, "inputs")}

    def translate(self, delta) -> MLPRegressor:
        """The function moved along its inputs by `delta` (a scalar or a vector of length `dim`)."""
        delta = jnp.broadcast_to(jnp.asarray(delta, self.dtype), (self.dim,))
        return eqx.tree_at(lambda m: m.shift, self, self.shift + delta)

    def predict(self, x: Float[Array, "m p"]) -> Float[Array, " m"]:
        r"""$f(x - \delta)$ with $f$ the target in data mode, the network otherwise ($\delta$: the shift)."""
        x = x - self.shift[None, :]
        return jnp.where(self.is_data, jnp.asarray(self.target(x), self.dtype), self.net(x)[:, 0])

    def target_on_grid(self) -> Float[Array, " g"]:
        r"""The (shifted) target $f^*(x_g - \delta)$ on the test grid."""
        moved = jnp.asarray(self.target(self.grid_x - self.shift[None, :]), self.dtype)
        return jnp.where(jnp.any(self.shift != 0), moved, self.grid_y)  # unshifted: the stored values, bit for bit

    def draw_samples(self, stream: Stream, n: int, temperature) -> Float[Array, "n q"]:
        x = 2.0 * R.uniform(stream.fork(R.SALT_DESIGN), (n, self.dim), self.dtype) - 1.0
        e = R.normal(stream.fork(R.SALT_NOISE), (n,), self.dtype)
        y = self.predict(x) + e * (self.label_noise * temperature)
        return jnp.concatenate([x, y[:, None]], axis=1)

    def _sq_err(self, net: MLP, rows: Float[Array, "m q"], key) -> Float[Array, " m"]:
        r = net(rows[:, : self.dim])[:, 0] - rows[:, self.dim]
        return r * r

    def fit(self, stats: SampleStats, stream: Stream) -> MLPRegressor:
        """Train on the weighted rows $(x, y)$ of `stats`, with keys from `stream` (see `families._nets`)."""
        if stats.x.ndim != 2 or stats.x.shape[1] != self.dim + 1:
            raise ValueError(f"training rows must have shape (n, {self.dim + 1}), got {stats.x.shape}")
        x = stats.x.astype(self.dtype)
        k_init, k_train, _ = jax.random.split(wrap_key(stream.bits(2)), 3)
        start = self._init_net(jax.random.key_data(k_init), self.dim, self.dtype) if self.init == "fresh" else self.net
        net, losses = train(self._sq_err, start, x, stats.weight.astype(self.dtype), k_train, steps=self.steps,
                            learning_rate=self.learning_rate, weight_decay=self.weight_decay,
                            batch_size=self.batch_size)
        ok = jnp.all(jnp.isfinite(losses)) & all_finite(net)
        net = jax.tree.map(lambda a, b: jnp.where(ok, a, b), net, self.net)
        return eqx.tree_at(lambda m: (m.net, m.is_data, m.last_loss, m.diverged), self,
                           (net, jnp.asarray(False),
                            jnp.where(ok, losses[-1], jnp.zeros((), self.dtype)),
                            jnp.where(ok, 0.0, 1.0).astype(self.dtype)))

    def metrics(self, truth: MLPRegressor, stream: Stream) -> dict[str, Float[Array, ""]]:
        """Deterministic (a fixed grid): `stream` is unused."""
        f = self.predict(self.grid_x)
        err = f - truth.target_on_grid()
        return {
            "test_mse": jnp.mean(err * err),
            "pred_var": jnp.var(f),
            "loss": self.last_loss,
            "diverged": self.diverged,
        }
