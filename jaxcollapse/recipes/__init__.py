"""Recipes: one per family or experiment (see `jaxcollapse.recipes._base` for how to write one).

`get(name)` returns a registered recipe, `names()` lists them; the recipe modules of this package are
found and imported on first use, and `register` adds one from anywhere (a test file, a notebook).
"""

from ._base import BAYES_MODELS as BAYES_MODELS
from ._base import REGIME_NAMES as REGIME_NAMES
from ._base import Param as Param
from ._base import Recipe as Recipe
from ._base import RecipeRun as RecipeRun
from ._base import get as get
from ._base import names as names
from ._base import regime_from as regime_from
from ._base import register as register
from ._base import run as run
from ._base import run_params as run_params
from ._base import unregister as unregister
