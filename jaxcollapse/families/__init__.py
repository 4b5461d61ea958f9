"""Model families: one file per family."""

from ._base import AbstractFamily as AbstractFamily
from ._base import AbstractStats as AbstractStats
from .gaussian import Gaussian as Gaussian
from .gaussian import GaussianStats as GaussianStats
