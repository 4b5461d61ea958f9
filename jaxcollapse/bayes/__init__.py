"""Bayesian (numpyro) estimators of the collapse rate, forecasts of collapse, and their calibration."""

from ._calibration import SBCResult as SBCResult
from ._calibration import exact_log_ratios as exact_log_ratios
from ._calibration import sbc as sbc
from ._fit import Posterior as Posterior
from ._fit import fit as fit
from ._fit import predict_rate as predict_rate
from ._forecast import Forecast as Forecast
from ._forecast import forecast as forecast
from ._plot import forecast_fan as forecast_fan
