"""jaxcollapse: the theory and numerics of model collapse, in JAX.

Importing jaxcollapse changes no global JAX setting. Use `jaxcollapse.x64()` (a context
manager) or `jax.config.update("jax_enable_x64", True)` for float64.
"""

from . import regimes as regimes
from . import theory as theory
from ._config import x64 as x64
from ._simulate import Summary as Summary
from ._simulate import Trajectory as Trajectory
from ._simulate import simulate as simulate
from .data import Samples as Samples
from .families import Gaussian as Gaussian
from .families import GaussianStats as GaussianStats
from .regimes import Regime as Regime
from .regimes import Schedule as Schedule

__version__ = "0.1.0"
