r"""Theory against simulation: a public registry of checks, one module per family.

A check pairs `simulate` configurations with closed forms of `jaxcollapse.theory` and returns
`Comparison`s, one per (quantity, generation). `jaxcollapse verify`, the tests and the notebooks run
the same registry (`run_checks`).

**Rules, stated up front.**

- ``"z"`` (exact results: every Monte Carlo mean, share or variance over chains): the estimate with
  its standard error from the chains passes if $|z| = |\text{estimate} - \text{exact}|/\text{stderr} <$
  `Z_BOUND` $= 4$. One bound serves the whole suite: with $N$ comparisons the expected number of false
  alarms is $N\,P(|Z| > 4) = N \times 6.3\cdot10^{-5}$, printed in `format_table`'s summary line. Every
  check uses a fixed key derived from the seed and its name (`check_key`).
- ``"gap"`` (asymptotic formulas: a $t\to\infty$ limit, a diffusion approximation, a Zipf tail, a
  Marchenko–Pastur limit): never compared with a simulation directly. The simulation is z-compared
  with the *exact finite* value, and the relative gap between the asymptotic formula and that exact
  value, computed without randomness, is checked against a stated bound with its reason
  (`compare_gap`).

**Scale.** `scale` multiplies every chain count. At `scale=1` (the CLI default) standard errors are well
below the effects being tested; tests run at a reduced scale with the same $|z|$ bound, which lowers
power, never the false-alarm rate. Heavy tails are kept in check by the choice of generations: means of
$\sigma_t^2$ (or of $\det\Sigma_t$) are compared only while $\mathrm{Var}\ln\sigma_t^2 \lesssim 1$; past
that, log-moments are compared instead. Every check runs in float64 (`jaxcollapse.x64()`).

**Adding checks.** Every module of this package whose name does not start with ``_`` is imported when
`jaxcollapse.verify` is (`pkgutil` over the package: no list to edit), and registers its checks with
`register`. Code outside the package registers the same way; its checks then run through
`run_checks` and ``jaxcollapse verify`` like the package's own (`unregister` removes one again).
"""

from __future__ import annotations

import importlib
import pkgutil

from . import _core
from ._core import *  # noqa: F403  (the public names are _core's __all__, listed once there)

__all__ = list(_core.__all__)


def _family_modules() -> list[str]:
    """The public submodules of this package (one per family), sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))  # noqa: F405


for _name in _family_modules():
    importlib.import_module(f"{__name__}.{_name}")
del _name
