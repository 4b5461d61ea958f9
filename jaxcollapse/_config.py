"""Explicit, scoped configuration: nothing here runs at import time."""

from __future__ import annotations

import contextlib

import jax


@contextlib.contextmanager
def x64(enable: bool = True):
    """Context manager that enables (or disables) float64 inside the block only.

    Example: ``with jaxcollapse.x64(): traj = simulate(...)``.
    """
    with jax.enable_x64(enable):
        yield
