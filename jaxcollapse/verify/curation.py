r"""Registered checks of curated refitting (`jaxcollapse.curation`) against `jaxcollapse.theory.curation`.

Rules as in `jaxcollapse.verify` ($|z| <$ `Z_BOUND` = 4, standard errors from the chains, float64, fixed keys).

- ``curation.gaussian_threshold``: one curated refit of a Gaussian with a noisy threshold verifier
  (Feng et al. 2024): `theory.curated_gaussian_one_step`.
"""

from __future__ import annotations

from .. import regimes
from ..curation import curate, curation, threshold_for_radius
from ..families import Gaussian
from ..theory import curation as th
from ._core import keys, means, register, scaled_chains, sim

_C_N = 20
_C_CASES = ((1.0, 0.9, 0.2), (1.5, 1.0, 0.0))  # (radius c, true acceptance rate, false acceptance rate)


@register("curation.gaussian_threshold", family="curation", source="Feng et al. 2024; closed form derived here",
          description="one refit of N(0, 1) (MLE, n = 20) on samples kept by a noisy threshold verifier: "
                      "E sigma_1^2 and E mu_1^2")
def _curation_threshold(key, scale):
    name = "curation.gaussian_threshold"
    out = []
    for k, (c, tpr, fpr) in zip(keys(key, len(_C_CASES)), _C_CASES, strict=True):
        cur = curation(threshold=threshold_for_radius(c), accept_good=tpr, accept_bad=fpr)
        traj = sim(k, Gaussian(0.0, 1.0), curate(regimes.replace(_C_N), cur), 1, scaled_chains(40_000, scale),
                    ("trace", "mean_sq_err"), path="samples")
        thy = th.curated_gaussian_one_step(_C_N, c, tpr, fpr)
        tag = f"c={c:g} tpr={tpr:g} fpr={fpr:g}"
        out += means(name, traj, "trace", (1,), thy["variance"], quantity=f"variance {tag}")
        out += means(name, traj, "mean_sq_err", (1,), thy["mean_sq_err"], quantity=f"mean_sq_err {tag}")
    return out
