"""jaxcollapse: the theory and numerics of model collapse, in JAX.

Importing jaxcollapse changes no global JAX setting. Use `jaxcollapse.x64()` (a context
manager) or `jax.config.update("jax_enable_x64", True)` for float64.
"""

from . import bayes as bayes
from . import curation as curation
from . import datasets as datasets
from . import engine as engine
from . import regimes as regimes
from . import sweep as sweep
from . import theory as theory
from ._config import x64 as x64
from .data import Samples as Samples
from .engine import Summary as Summary
from .engine import Trajectory as Trajectory
from .engine import simulate as simulate
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

__version__ = "0.1.0"
