r"""Truth distributions for the learned families: 2-D toys drawn from a key, and the 8x8 digits.

Every toy is an exact generator written on a per-chain `Stream` (so a family can draw fresh real
data inside the engine, chain $i$ the same whatever the number of chains), with a key-based wrapper
for use outside it:

- ``"moons"``: two interleaving half circles (the scikit-learn shape),
  $\theta \sim U(0, \pi)$, moon 0 at $(\cos\theta, \sin\theta)$, moon 1 at
  $(1 - \cos\theta, \tfrac12 - \sin\theta)$, centred at the origin, plus $N(0, s^2 I)$ noise;
- ``"rings"``: $K$ concentric circles of radii $1, \dots, K$ (equal mass) plus $N(0, s^2 I)$ noise;
- ``"mixture"``: an equal-weight mixture of $K$ isotropic Gaussians $N(c_k, s^2 I)$ whose centres
  $c_k$ are made from a key (evenly spaced on a circle of radius 4 with a random phase and a random
  radial jitter of up to 10%, so the modes are well separated).

`digits()` loads the 1,797 8x8 handwritten digits that ship with scikit-learn (no download),
scaled to $[0, 1]$ (scikit-learn is imported only when it is called).

`pydoc_text()` returns Python's own reference manual (`pydoc_data.topics`, about 465,000 characters of
English, shipped with every Python; no download), folded to ASCII: the real text of the transformer
language-model family.

A `Dataset` carries a reference sample `x` (rows), its class labels (moon, ring, component or
digit), the generator's parameters (`params`: the mixture centres; empty otherwise) and noise scale.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from . import random as R
from .random import Stream

TOYS = ("moons", "rings", "mixture")
DEFAULT_NOISE = {"moons": 0.1, "rings": 0.08, "mixture": 0.25}


class Dataset(NamedTuple):
    """A truth: reference rows `x`, their `labels` in `0 .. n_classes - 1`, and the generator."""

    name: str
    x: np.ndarray  # (R, d)
    labels: np.ndarray  # (R,)
    n_classes: int
    params: np.ndarray  # (K, 2) mixture centres; (0, 2) for moons and rings; (0, d) for digits
    noise: float

    @property
    def d(self) -> int:
        return int(self.x.shape[1])


def toy_sample(stream: Stream, name: str | Int[Array, ""], n: int, params: Float[Array, "k 2"], n_classes,
               noise, dtype) -> tuple[Float[Array, "n 2"], Int[Array, " n"]]:
    """`n` exact draws (and their class labels) from a toy, from a per-chain Stream.

    `name` is a toy name or its (possibly traced) index in `TOYS`: a traced index computes every toy
    and selects one, so toys of equal shapes share one compiled program. `n_classes` (rings and
    mixture components; moons always have 2) and `noise` may be traced as well; `params` holds the
    mixture centres in its first `n_classes` rows.
    """
    if isinstance(name, str):
        if name not in TOYS:
            raise ValueError(f"unknown toy {name!r}; choose one of {TOYS}")
        kind = jnp.asarray(TOYS.index(name), jnp.int32)
    else:
        kind = jnp.asarray(name, jnp.int32)
    u = R.uniform(stream.fork(R.SALT_PICK), (n, 2), dtype)
    z = R.normal(stream.fork(R.SALT_JITTER), (n, 2), dtype) * jnp.asarray(noise, dtype)
    k = jnp.where(kind == 0, 2, jnp.asarray(n_classes, jnp.int32))
    label = jnp.minimum(jnp.floor(u[:, 0] * k.astype(dtype)).astype(jnp.int32), k - 1)
    th = jnp.pi * u[:, 1]
    c, s = jnp.cos(th), jnp.sin(th)
    top = label == 0
    moons = jnp.stack([jnp.where(top, c, 1.0 - c) - 0.5, jnp.where(top, s, 0.5 - s) - 0.25], axis=1)
    r = (label + 1).astype(dtype)
    rings = jnp.stack([r * jnp.cos(2.0 * th), r * jnp.sin(2.0 * th)], axis=1)
    mixture = jnp.asarray(params, dtype)[jnp.minimum(label, params.shape[0] - 1)]
    x = jnp.where(kind == 0, moons, jnp.where(kind == 1, rings, mixture))
    return x + z, label


def mixture_centres(key, k: int, radius: float = 4.0) -> np.ndarray:
    """`k` well separated 2-D centres made from a key (a circle of `radius`, random phase and jitter)."""
    if k < 1:
        raise ValueError(f"a mixture needs k >= 1 components, got {k}")
    k1, k2 = jax.random.split(key)
    phase = float(jax.random.uniform(k1, (), minval=0.0, maxval=2 * np.pi))
    jitter = np.asarray(jax.random.uniform(k2, (k,), minval=0.9, maxval=1.1), np.float64)
    ang = phase + 2 * np.pi * np.arange(k) / k
    return np.stack([radius * jitter * np.cos(ang), radius * jitter * np.sin(ang)], axis=1)


def toy(key, name: str, n: int = 1024, *, k: int | None = None, noise: float | None = None) -> Dataset:
    """A 2-D toy truth with a reference sample of `n` rows drawn from `key`.

    `k`: rings (default 3) or mixture components (default 8); ignored by moons (2 classes).
    `noise`: the Gaussian noise scale $s$ (defaults: moons 0.1, rings 0.08, mixture 0.25).
    """
    if name not in TOYS:
        raise ValueError(f"unknown toy {name!r}; choose one of {TOYS}")
    if n < 1:
        raise ValueError(f"the reference sample needs n >= 1 rows, got {n}")
    if k is None:
        k = {"moons": 2, "rings": 3, "mixture": 8}[name]
    if name == "moons":
        k = 2
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    noise = DEFAULT_NOISE[name] if noise is None else float(noise)
    if not noise > 0:
        raise ValueError(f"noise must be > 0, got {noise}")
    kc, ks = jax.random.split(key)
    params = mixture_centres(kc, k) if name == "mixture" else np.zeros((0, 2))
    x, lab = toy_sample(Stream.from_key(ks), name, n, jnp.asarray(params if params.size else np.zeros((1, 2))),
                        k, noise, jnp.float32)
    return Dataset(name, np.asarray(x), np.asarray(lab), int(k), params, noise)


def digits(n: int | None = None) -> Dataset:
    """The 8x8 digits bundled with scikit-learn (1,797 images, 64 pixels in $[0, 1]$, 10 classes).

    `n`: keep the first `n` images (all by default).
    """
    from sklearn.datasets import load_digits  # lazy: keep `import jaxcollapse` fast

    data = load_digits()
    x = np.asarray(data.data, np.float32) / 16.0
    y = np.asarray(data.target, np.int32)
    if n is not None:
        if not 1 <= n <= x.shape[0]:
            raise ValueError(f"n must lie in [1, {x.shape[0]}], got {n}")
        x, y = x[:n], y[:n]
    return Dataset("digits", x, y, 10, np.zeros((0, 64)), 0.0)


_ASCII_FOLD = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
               "\u2026": "..."}


def pydoc_text() -> str:
    r"""Python's own reference manual as one English text (no download): the topics of `pydoc_data.topics`
    (the help texts of ``help("if")``, ``help("FORMATTING")``, ...), joined in sorted topic order.

    About 465,000 characters (CPython 3.11: 465,009 after folding), the same on every machine with the same
    Python version; another version ships another revision of the manual. Folded to newline plus printable
    ASCII: typographic quotes, dashes and the ellipsis become ``'``, ``"``, ``-`` and ``...``; the few
    characters left outside ASCII (a degree sign, an eszett) are dropped. The text
    of the transformer language-model family (`jaxcollapse.families.Transformer`).
    """
    import pydoc_data.topics as topics  # the standard library's own data (lazy: keep `import jaxcollapse` fast)

    text = "".join(topics.topics[k] for k in sorted(topics.topics))
    text = "".join(_ASCII_FOLD.get(c, c) for c in text)
    return "".join(c for c in text if c == "\n" or " " <= c <= "~")
