"""Bayesian (numpyro) estimators of the collapse rate, forecasts of collapse, and their calibration."""

from ._calibration import SBCResult as SBCResult
from ._calibration import exact_log_ratios as exact_log_ratios
from ._calibration import sbc as sbc
from ._chains import METRIC_MODELS as METRIC_MODELS
from ._chains import Chains as Chains
from ._chains import NotChains as NotChains
from ._chains import nominal_n as nominal_n
from ._chains import pick_model as pick_model
from ._chains import read_chains as read_chains
from ._coverage import Coverage as Coverage
from ._coverage import forecast_coverage as forecast_coverage
from ._coverage import mean_reference as mean_reference
from ._drift import DriftPosterior as DriftPosterior
from ._drift import fit_drift as fit_drift
from ._fit import Posterior as Posterior
from ._fit import check_model as check_model
from ._fit import fit as fit
from ._fit import predict_rate as predict_rate
from ._forecast import Forecast as Forecast
from ._forecast import check_threshold as check_threshold
from ._forecast import family_caveat as family_caveat
from ._forecast import forecast as forecast
from ._forecast import forecast_start as forecast_start
from ._plot import forecast_fan as forecast_fan
