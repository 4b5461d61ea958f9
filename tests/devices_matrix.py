"""Device-count invariance over every family x every preset regime (+ temperature 0.8, drift 0.1): 1 vs 4 host
devices, bitwise. Not collected by pytest (about 12 minutes on 2 cores); run it after any engine change that
alters what is batched or fused, beside `pytest -m slow tests/test_devices.py` (which runs one regime):

    XLA_FLAGS=--xla_force_host_platform_device_count=4 JAXCOLLAPSE_NO_TYPECHECK=1 python tests/devices_matrix.py

Prints OK / MISMATCH per (family, regime), skips the pairs a family refuses, ends with ``BAD <count>`` and exits
1 if any pair differs.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import tiny_families as tf  # noqa: E402

import jaxcollapse as jc  # noqa: E402


def same(a, b) -> bool:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)
                                      for x, y in zip(la, lb, strict=True))


def main() -> int:
    assert len(jax.devices()) >= 4, "set XLA_FLAGS=--xla_force_host_platform_device_count=4 first"
    regs = dict(tf.regimes())
    regs["replace_temp"] = jc.regimes.replace(tf.N, temperature=0.8)
    regs["replace_drift"] = jc.regimes.replace(tf.N, drift=0.1)
    kw = dict(path="samples", quantile_chains=6, blocks=4, record_paths=True, record_params=True)
    bad = 0
    for name, model in tf.families().items():
        for rname, regime in regs.items():
            try:
                one, four = (jc.simulate(jax.random.key(5), model, regime, tf.GENERATIONS, 16, devices=k, **kw)
                             for k in (1, 4))
            except ValueError as e:
                print("skip", name, rname, str(e)[:60], flush=True)
                continue
            ok = all(same(getattr(one, f), getattr(four, f)) for f in ("paths", "params", "final", "real"))
            ok = ok and all(same((s.mean, s.std, s.quantiles), (four.summary[m].mean, four.summary[m].std,
                                                                four.summary[m].quantiles))
                            for m, s in one.summary.items())
            print("OK" if ok else "MISMATCH", name, rname, flush=True)
            bad += not ok
    print("BAD", bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
