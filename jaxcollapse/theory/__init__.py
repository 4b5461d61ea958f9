"""Closed forms of model collapse, one module per family or source.

`jaxcollapse.theory.gaussian` holds the Gaussian results; its public names are re-exported here.
"""

from . import gaussian as gaussian
from .gaussian import accumulate_mean_sq_err_known_var as accumulate_mean_sq_err_known_var
from .gaussian import accumulate_mle_mean_sq_err as accumulate_mle_mean_sq_err
from .gaussian import accumulate_mle_mean_sq_err_limit as accumulate_mle_mean_sq_err_limit
from .gaussian import accumulate_mle_variance as accumulate_mle_variance
from .gaussian import augment_mean_sq_err as augment_mean_sq_err
from .gaussian import chi_mean as chi_mean
from .gaussian import conserved_mean as conserved_mean
from .gaussian import critical_temperature as critical_temperature
from .gaussian import det_ratio_mean as det_ratio_mean
from .gaussian import drift_mean_sq_err as drift_mean_sq_err
from .gaussian import fresh_drift_mean_sq_err as fresh_drift_mean_sq_err
from .gaussian import fresh_mle_mean_sq_err as fresh_mle_mean_sq_err
from .gaussian import fresh_mle_mean_sq_err_limit as fresh_mle_mean_sq_err_limit
from .gaussian import log_det_ratio_mean as log_det_ratio_mean
from .gaussian import log_det_ratio_var as log_det_ratio_var
from .gaussian import log_variance_mean as log_variance_mean
from .gaussian import log_variance_var as log_variance_var
from .gaussian import mean_sq_err_recursion as mean_sq_err_recursion
from .gaussian import mean_sq_err_schedule as mean_sq_err_schedule
from .gaussian import mixed_mean_sq_err as mixed_mean_sq_err
from .gaussian import mle_mean_sq_err as mle_mean_sq_err
from .gaussian import mle_mean_sq_err_tempered as mle_mean_sq_err_tempered
from .gaussian import mle_variance as mle_variance
from .gaussian import mle_variance_tempered as mle_variance_tempered
from .gaussian import sigma_mean as sigma_mean
from .gaussian import sigma_mean_schedule as sigma_mean_schedule
from .gaussian import trace_mean as trace_mean
from .gaussian import unbiased_mean_sq_err as unbiased_mean_sq_err
from .gaussian import unbiased_variance as unbiased_variance
from .gaussian import unbiased_variance_fourth_moment as unbiased_variance_fourth_moment
from .gaussian import variance_schedule as variance_schedule
from .gaussian import w2sq_mean as w2sq_mean
from .gaussian import w2sq_mean_schedule as w2sq_mean_schedule
