"""`simulate(..., devices=k)`: chains cut into one block per device (`shard_map`).

Runs in a subprocess with two XLA host devices (`--xla_force_host_platform_device_count=2`, which must be
set before JAX starts). Per-chain results (paths, parameters, final state) and the quantiles, which
read chain values, must equal one device's bitwise; means and standard deviations are `psum`s across
devices, so they may differ from one device's in the last bits only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import pytest

import jaxcollapse
from jaxcollapse import Gaussian, regimes

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""\
    import jax, numpy as np
    import jaxcollapse as jc
    assert len(jax.devices()) == 2, jax.devices()

    def same(a, b):
        jax.tree.map(lambda x, y: np.testing.assert_array_equal(np.asarray(x), np.asarray(y)), a, b)

    cases = [  # (model, regime, path, quantile chains): 64 chains, 32 per device
        (jc.Gaussian(0.0, 1.0), jc.regimes.accumulate(5), "samples", 20),  # quantile chains on device 0 only
        (jc.Categorical.zipf(30, 1.1), jc.regimes.replace(40), "exact", 50),  # ... and on both devices
    ]
    for model, regime, path, qc in cases:
        kw = dict(path=path, quantile_chains=qc, record_paths=True, record_params=True)
        one = jc.simulate(jax.random.key(5), model, regime, 6, 64, **kw)
        two = jc.simulate(jax.random.key(5), model, regime, 6, 64, devices=2, **kw)
        same(one.paths, two.paths)
        same(one.params, two.params)
        same(one.final, two.final)
        for k in one.summary:
            np.testing.assert_array_equal(np.asarray(one.summary[k].quantiles), np.asarray(two.summary[k].quantiles))
            # summation order differs: a few float32 ulps of the values' scale (the std of identical
            # values, as at generation 0, is rounding noise of that size on either side)
            scale = float(np.max(np.abs(np.asarray(one.summary[k].mean)[np.isfinite(np.asarray(one.summary[k].mean))]),
                                 initial=1.0))
            for stat in ("mean", "std"):
                np.testing.assert_allclose(np.asarray(getattr(two.summary[k], stat)),
                                           np.asarray(getattr(one.summary[k], stat)), rtol=2e-6, atol=4e-6 * scale)
    print("DEVICES OK")
""")


def test_two_devices_equal_one():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    r = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0 and "DEVICES OK" in r.stdout, r.stderr[-3000:]


@pytest.mark.parametrize("devices, message", [
    (0, "between 1 and"), (len(jax.devices()) + 1, "between 1 and"), ("all", "number of devices or a list"),
    ([jax.devices()[0]] * 2, "twice"),
])
def test_bad_devices(devices, message):
    with pytest.raises(ValueError, match=message):
        jaxcollapse.simulate(jax.random.key(0), Gaussian(0.0, 1.0), regimes.replace(10), 3, 8, devices=devices)


def test_one_device_is_the_default_program():
    """`devices=1` (or a list of one device) runs the unsharded program: the same numbers as the default."""
    a = jaxcollapse.simulate(jax.random.key(0), Gaussian(0.0, 1.0), regimes.replace(10), 3, 8, record_paths=True)
    b = jaxcollapse.simulate(jax.random.key(0), Gaussian(0.0, 1.0), regimes.replace(10), 3, 8, record_paths=True,
                             devices=[jax.devices()[0]])
    jax.tree.map(lambda x, y: (x == y).all() or pytest.fail("differs"), a.paths, b.paths)
