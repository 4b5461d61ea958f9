"""jaxcollapse: the theory and numerics of model collapse, in JAX.

Importing jaxcollapse changes no global JAX setting. Use `jaxcollapse.x64()` (a context
manager) or `jax.config.update("jax_enable_x64", True)` for float64.

The public names below load on first use (PEP 562), so ``import jaxcollapse`` and
``jaxcollapse --help`` do not import JAX until something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> the module that defines it (a submodule when the value is None)
_LAZY: dict[str, str | None] = {
    "bayes": None, "curation": None, "papers": None, "datasets": None, "recipes": None, "regimes": None, "sweep": None,
    "theory": None, "random": None, "verify": None, "engine": None,
    "x64": "._config",
    "Summary": ".engine", "Trajectory": ".engine", "simulate": ".engine",
    "Samples": ".data",
    "KDE": ".families", "VAE": ".families", "Bigram": ".families", "Categorical": ".families",
    "Gaussian": ".families", "GaussianMixture": ".families", "GaussianStats": ".families",
    "Logistic": ".families", "MLPRegressor": ".families", "Poisson": ".families", "Regression": ".families",
    "downstream_risk": ".families", "Diffusion": ".families", "Transformer": ".families",
    "Stream": ".random", "AbstractFamily": ".families", "AbstractSampleFamily": ".families",
    "Regime": ".regimes", "Schedule": ".regimes",
    "open_sweep": ".sweep", "run_sweep": ".sweep",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'jaxcollapse' has no attribute {name!r}")
    where = _LAZY[name]
    value = (importlib.import_module(f".{name}", __name__) if where is None
             else getattr(importlib.import_module(where, __name__), name))
    globals()[name] = value
    return value



def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # the same names, for type checkers and editors
    from . import bayes as bayes
    from . import curation as curation
    from . import datasets as datasets
    from . import engine as engine
    from . import papers as papers
    from . import random as random
    from . import recipes as recipes
    from . import regimes as regimes
    from . import sweep as sweep
    from . import theory as theory
    from . import verify as verify
    from ._config import x64 as x64
    from .data import Samples as Samples
    from .engine import Summary as Summary
    from .engine import Trajectory as Trajectory
    from .engine import simulate as simulate
    from .families import KDE as KDE
    from .families import VAE as VAE
    from .families import AbstractFamily as AbstractFamily
    from .families import AbstractSampleFamily as AbstractSampleFamily
    from .families import Bigram as Bigram
    from .families import Categorical as Categorical
    from .families import Diffusion as Diffusion
    from .families import Gaussian as Gaussian
    from .families import GaussianMixture as GaussianMixture
    from .families import GaussianStats as GaussianStats
    from .families import Logistic as Logistic
    from .families import MLPRegressor as MLPRegressor
    from .families import Poisson as Poisson
    from .families import Regression as Regression
    from .families import Transformer as Transformer
    from .families import downstream_risk as downstream_risk
    from .random import Stream as Stream
    from .regimes import Regime as Regime
    from .regimes import Schedule as Schedule
    from .sweep import open_sweep as open_sweep
    from .sweep import run_sweep as run_sweep
