"""jaxcollapse: the theory and numerics of model collapse, in JAX.

Importing jaxcollapse changes no global JAX setting. Use `jaxcollapse.x64()` (a context
manager) or `jax.config.update("jax_enable_x64", True)` for float64.

The public names below load on first use (PEP 562), so ``import jaxcollapse`` and
``jaxcollapse --help`` do not import JAX until something needs it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> the module that defines it (a submodule when the value is None)
_LAZY: dict[str, str | None] = {
    "bayes": None, "curation": None, "datasets": None, "recipes": None, "regimes": None, "sweep": None,
    "theory": None,
    "x64": "._config",
    "Summary": "._simulate", "Trajectory": "._simulate", "simulate": "._simulate",
    "Samples": ".data",
    "KDE": ".families", "VAE": ".families", "Bigram": ".families", "Categorical": ".families",
    "Gaussian": ".families", "GaussianMixture": ".families", "GaussianStats": ".families",
    "MLPRegressor": ".families", "Poisson": ".families", "Regression": ".families",
    "downstream_risk": ".families",
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


class _FamiliesFirst(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import `jaxcollapse.families` before `jaxcollapse.data`, `_simulate` or `sweep` is first imported.

    `data` imports `families._base`, whose package imports `kde`, `mixture` and `neural`, which import
    `data` back: the cycle resolves only when `families` comes first, which the eager imports of this
    file used to guarantee. Remove this once `SampleStats` lives below the families (DESIGN: `stats.py`).
    """

    _AFTER = ("jaxcollapse.data", "jaxcollapse._simulate", "jaxcollapse.sweep")
    _loaders: dict = {}

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self._AFTER or "jaxcollapse.families" in sys.modules:
            return None
        importlib.import_module(".families", __name__)  # loads `data` along the way
        module = sys.modules.get(fullname)
        if module is None:
            return None
        # loaded meanwhile: the import system will "load" it again from this spec; hand it the module as is
        spec = module.__spec__
        self._loaders[fullname] = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return sys.modules[spec.name]

    def exec_module(self, module):
        module.__spec__.loader = self._loaders.pop(module.__name__)


if not any(isinstance(f, _FamiliesFirst) for f in sys.meta_path):
    sys.meta_path.insert(0, _FamiliesFirst())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # the same names, for type checkers and editors
    from . import bayes as bayes
    from . import curation as curation
    from . import datasets as datasets
    from . import recipes as recipes
    from . import regimes as regimes
    from . import sweep as sweep
    from . import theory as theory
    from ._config import x64 as x64
    from ._simulate import Summary as Summary
    from ._simulate import Trajectory as Trajectory
    from ._simulate import simulate as simulate
    from .data import Samples as Samples
    from .families import KDE as KDE
    from .families import VAE as VAE
    from .families import Bigram as Bigram
    from .families import Categorical as Categorical
    from .families import Gaussian as Gaussian
    from .families import GaussianMixture as GaussianMixture
    from .families import GaussianStats as GaussianStats
    from .families import MLPRegressor as MLPRegressor
    from .families import Poisson as Poisson
    from .families import Regression as Regression
    from .families import downstream_risk as downstream_risk
    from .regimes import Regime as Regime
    from .regimes import Schedule as Schedule
    from .sweep import open_sweep as open_sweep
    from .sweep import run_sweep as run_sweep
