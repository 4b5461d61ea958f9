"""`simulate(..., devices=k)`: the chain blocks sharded over k devices give bitwise the same arrays (every family
and k = 1, 2, 4 under `pytest -m slow`; the default suite runs the Gaussian at k = 1 and 4).

Runs `tests/devices_matrix.py` in a subprocess with four XLA host devices
(`--xla_force_host_platform_device_count=4`, which must be set before JAX starts) under the weighted regime:
16 chains in 4 blocks of 4, quantiles of the first 6 chains (so the blocks holding quantile chains sit on one
device of two, on two devices of four). Summaries (means, standard deviations, quantiles), per-chain paths,
parameters, final models and the fixed real set must equal one device's bit for bit. The script alone runs
the whole family x regime matrix (about 12 minutes).
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

MATRIX = REPO / "tests" / "devices_matrix.py"  # the comparison itself (also the full family x regime matrix)


NOT_BITWISE = {
    # measured 2026-12-07 (helper report, weighted regime, 1 vs 4 devices): the metrics are bitwise equal, the trained
    # parameters differ in the last bits (at most 4e-8, in the attention weights): XLA's CPU backend compiles the
    # attention's batched dot products differently for another number of chains per device. A known limitation,
    # listed in the README; not a tolerance: these families are left out of the bitwise comparison.
    "transformer",
}


def _families() -> list[str]:
    import tiny_families as tf

    return [f for f in tf.families() if f not in NOT_BITWISE]


def _devices_bitwise(families: str | None, counts: str = "1,2,4", xla_flags: str = "") -> str:
    """`tests/devices_matrix.py` under the weighted regime (a fixed real set, synthetic and real data weighted), at
    XLA's default optimization unless `xla_flags` adds the suite's."""
    flags = " ".join(f for f in ("--xla_force_host_platform_device_count=4", xla_flags) if f)
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu",
           "JAXCOLLAPSE_NO_TYPECHECK": "1", "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, str(MATRIX), "--families", families or ",".join(_families()), "--regimes",
                        "weighted", "--counts", counts], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0 and "DEVICES OK" in r.stdout, r.stdout[-2000:] + r.stderr[-3000:]
    return r.stdout


def test_devices_bitwise_equal_one_family():
    """The default suite's share (its time limit): the Gaussian on the sample path, k = 1 and 4 (quantile chains on
    two devices), compiled with the suite's XLA flags (both counts alike, so bitwise equality is still the claim);
    every family and k = 1, 2, 4 at XLA's default optimization under `pytest -m slow`."""
    from conftest import SUITE_XLA_FLAGS

    out = _devices_bitwise("gaussian", "1,4", SUITE_XLA_FLAGS)
    assert "OK gaussian weighted" in out


@pytest.mark.slow
def test_devices_bitwise_equal_every_family():
    out = _devices_bitwise(None)
    assert {ln.split()[1] for ln in out.splitlines() if ln.startswith("OK ")} == set(_families()), out


@pytest.mark.parametrize("devices, blocks, message", [
    (0, 8, "between 1 and"), (len(jax.devices()) + 1, 8, "between 1 and"), ("all", 8, "number of devices or a list"),
    ([jax.devices()[0]] * 2, 8, "twice"), ([jax.devices()[0]], 0, "blocks must be an integer >= 1"),
])
def test_bad_devices(devices, blocks, message, no_run):
    with pytest.raises(ValueError, match=message):
        jaxcollapse.simulate(jax.random.key(0), Gaussian(0.0, 1.0), regimes.replace(10), 3, 8, devices=devices,
                             blocks=blocks)


def test_devices_not_dividing_the_blocks_is_refused():
    """3 devices and gcd(16, 8) = 8 blocks; 2 devices and simulate's default of one block for 16 chains: refused,
    naming the fix (host devices in a subprocess)."""
    code = textwrap.dedent("""\
        import jax, jaxcollapse as jc
        for devices, blocks in ((3, 8), (2, None)):
            try:
                jc.simulate(jax.random.key(0), jc.Gaussian(0.0, 1.0), jc.regimes.replace(10), 3, 16, devices=devices,
                            blocks=blocks)
            except ValueError as e:
                print("REFUSED", e)
    """)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=3", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    out = r.stdout
    three = "REFUSED devices (3) must divide the 8 chain blocks (gcd(chains, blocks) = gcd(16, 8)): run a multiple"
    assert three in out and "of 3 chains with blocks=3" in out, out + r.stderr[-2000:]
    assert "REFUSED devices (2) must divide the 1 chain blocks (gcd(chains, blocks) = gcd(16, 1)): pass blocks=2" in out


def test_one_device_is_the_default_program():
    """`devices=1` (or a list of one device) runs the default program: the same numbers."""
    a = jaxcollapse.simulate(jax.random.key(0), Gaussian(0.0, 1.0), regimes.replace(10), 3, 8, record_paths=True)
    b = jaxcollapse.simulate(jax.random.key(0), Gaussian(0.0, 1.0), regimes.replace(10), 3, 8, record_paths=True,
                             devices=[jax.devices()[0]])
    jax.tree.map(lambda x, y: (x == y).all() or pytest.fail("differs"), a.paths, b.paths)
