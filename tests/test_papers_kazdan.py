"""`kazdan2024_gaussian`'s grid runner at a few generations (the full reproduction, 7 compiled programs, runs in the
slow tier of tests/test_papers.py): every n of the grid in one compiled call on the exact path, against the
closed forms; |z| < 4 with a fixed key (stated up front)."""

from __future__ import annotations

import jax
import numpy as np

from jaxcollapse._config import x64
from jaxcollapse.papers import kazdan2024_gaussian as K
from jaxcollapse.theory import gaussian as th

Z_BOUND = 4.0


def test_replace_grid_agrees_with_the_closed_forms():
    G, ns = 5, (32, 1000)
    run = K.run_points("replace", "exact", ns, 2000, jax.random.key(5), True, True, generations=G)
    t = np.arange(G + 1)
    for i, n in enumerate(ns):
        with x64():
            theory = {"mean_sq_err": np.asarray(th.mle_mean_sq_err(t, n, K.D * K.SIGMA2)),
                      "trace_ratio": np.asarray(th.trace_mean(t, n, 1.0)),
                      "log_det_ratio": np.asarray(th.log_det_ratio_mean(t, n, K.D))}
        for m, curve in theory.items():
            mean, se, paths = run[m]
            assert paths.shape == (len(ns), G + 1, 2000)
            z = (mean[i, 1:] - curve[1:]) / se[i, 1:]
            assert np.all(np.abs(z) < Z_BOUND), (n, m, z)
        # at t = 0 the model is the truth: no error, trace and determinant ratios 1
        assert run["mean_sq_err"][0][i, 0] == 0 and run["trace_ratio"][0][i, 0] == 1
        assert run["log_det_ratio"][0][i, 0] == 0
