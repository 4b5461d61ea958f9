"""Helpers for validating configuration before anything compiles (bottom layer: imports nothing of the simulator)."""

from __future__ import annotations

import jax
import numpy as np


def concrete(x, dtype=None) -> np.ndarray | None:
    """`x` as a numpy value (of `dtype`, if given), or None when it is traced (inside a `vmap` or `jit`),
    where a value check must wait."""
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x) if dtype is None else np.asarray(x, dtype)


def _has_text(x) -> bool:
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "USO" and (x.dtype.kind != "O" or any(_has_text(v) for v in x.ravel()))
    if isinstance(x, (list, tuple)):
        return any(_has_text(v) for v in x)
    return False


def numeric(owner: str, **values) -> None:
    """A clear `ValueError` naming the class and the argument when a numeric argument holds text
    (``Gaussian(mean="zero")``): numpy's own message (``could not convert string to float``) names neither."""
    for name, value in values.items():
        if _has_text(value):
            raise ValueError(f"{owner}: {name} must be a number or an array of numbers, got {value!r}")
