r"""Closed forms of model collapse: pure functions, one module per family or source.

One module per family, named as the family is in every layer (`jaxcollapse.families.X`,
`jaxcollapse.theory.X`, `jaxcollapse.verify.X`): `gaussian`, `categorical`, `poisson`, `ngram`,
`regression`, `mixture`, `kde`, `vae`, plus `curation` (a noisy verifier in the loop) and `rates` (the
collapse rate behind `jaxcollapse.bayes`). Each function's docstring states the result, its conditions
and its source, or says "derived here" with the derivation; `jaxcollapse.verify` holds a check against
simulation for each. Nothing here imports the simulator.

The public names of every submodule (its `__all__`) are also attributes of this package, gathered when
it is imported (`jaxcollapse.theory.mle_variance is jaxcollapse.theory.gaussian.mle_variance`): a new
function or module needs no edit here, and two modules exporting one name is an import error.
"""

from __future__ import annotations

import importlib
import pkgutil

__all__: list[str] = []
"""The flat names (gathered from the submodules), then the submodules' names (`MODULES`)."""

MODULES: tuple[str, ...] = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))
"""The theory modules, one per family or source."""


def _gather() -> None:
    owner: dict[str, str] = {}
    for mod_name in MODULES:
        mod = importlib.import_module(f"{__name__}.{mod_name}")
        names = getattr(mod, "__all__", None)
        if names is None:
            raise ImportError(f"jaxcollapse.theory.{mod_name} has no __all__: list its public closed forms there")
        for name in names:
            if name in owner:
                raise ImportError(f"jaxcollapse.theory.{owner[name]} and .{mod_name} both export {name!r}")
            owner[name] = mod_name
            globals()[name] = getattr(mod, name)
    __all__.extend(sorted(owner))
    __all__.extend(MODULES)


_gather()
