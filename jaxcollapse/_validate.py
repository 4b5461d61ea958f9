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
