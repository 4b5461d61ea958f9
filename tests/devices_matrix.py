"""Device-count invariance: `simulate(..., devices=k)` equals one device's run bit for bit, over families x regimes.

Every family of `tiny_families` (16 chains in 4 blocks of 4, quantiles of the first 6 chains, so the blocks holding
quantile chains sit on one device of two and on two devices of four) under the chosen regimes; per-chain paths,
parameters, final models, the fixed real set and the summaries (means, standard deviations, quantiles) must equal
the first device count's. Needs four XLA host devices, set before JAX starts:

    XLA_FLAGS=--xla_force_host_platform_device_count=4 JAXCOLLAPSE_NO_TYPECHECK=1 python tests/devices_matrix.py

With no arguments: every family x every preset regime (+ temperature 0.8, drift 0.1), 1 vs 4 devices, about 12
minutes on 2 cores: run it after any engine change that alters what is batched or fused. `tests/test_devices.py`
runs a slice of it (``--families gaussian --regimes weighted --counts 1,4`` in the default suite; every family
under ``weighted`` at 1, 2 and 4 devices under ``-m slow``):

    python tests/devices_matrix.py --families gaussian,kde --regimes weighted,accumulate --counts 1,2,4

Prints ``OK <family> <regime>`` or ``MISMATCH <family> <regime>: <what>`` per pair, ``skip`` for a pair the family
refuses (only with ``--skip-refused``, the default of a full run), ends with ``BAD <count>`` and, if none,
``DEVICES OK``; exits 1 if any pair differs.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import tiny_families as tf  # noqa: E402

import jaxcollapse as jc  # noqa: E402


def regimes() -> dict:
    regs = dict(tf.regimes())
    regs["replace_temp"] = jc.regimes.replace(tf.N, temperature=0.8)
    regs["replace_drift"] = jc.regimes.replace(tf.N, drift=0.1)
    return regs


def difference(a, b) -> str | None:
    """None if the two trajectories are bitwise equal (NaN equal to NaN), else the first field that differs."""
    def same(x, y) -> bool:
        lx, ly = jax.tree.leaves(x), jax.tree.leaves(y)
        return len(lx) == len(ly) and all(np.array_equal(np.asarray(u), np.asarray(v), equal_nan=True)
                                          for u, v in zip(lx, ly, strict=True))

    for field in ("paths", "params", "final", "real"):
        if not same(getattr(a, field), getattr(b, field)):
            return field
    for m, s in a.summary.items():
        t = b.summary[m]
        if not same((s.mean, s.std, s.quantiles), (t.mean, t.std, t.quantiles)):
            return f"summary of {m}"
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--families", default=None, help="comma-separated (default: every tiny family)")
    ap.add_argument("--regimes", default=None, help="comma-separated (default: every preset + temp/drift)")
    ap.add_argument("--counts", default="1,4", help="device counts, the first one the reference (default 1,4)")
    ap.add_argument("--skip-refused", action="store_true", help="skip a pair the family refuses (default: a full run)")
    args = ap.parse_args(argv)
    full = args.families is None and args.regimes is None
    assert len(jax.devices()) >= 4, "set XLA_FLAGS=--xla_force_host_platform_device_count=4 first"
    fams, regs = tf.families(), regimes()
    names = list(fams) if args.families is None else args.families.split(",")
    rnames = list(regs) if args.regimes is None else args.regimes.split(",")
    counts = tuple(int(k) for k in args.counts.split(","))
    kw = dict(path="samples", quantile_chains=6, blocks=4, record_paths=True, record_params=True)
    bad = 0
    for name in names:
        for rname in rnames:
            try:
                runs = [jc.simulate(jax.random.key(5), fams[name], regs[rname], tf.GENERATIONS, 16, devices=k, **kw)
                        for k in counts]
            except ValueError as e:
                if not (full or args.skip_refused):
                    raise
                print("skip", name, rname, str(e)[:60], flush=True)
                continue
            diffs = [(k, difference(runs[0], tr)) for k, tr in zip(counts[1:], runs[1:], strict=True)]
            diffs = [f"{k} devices: {d}" for k, d in diffs if d is not None]
            print("OK" if not diffs else "MISMATCH", name, rname, *(("-", "; ".join(diffs)) if diffs else ()),
                  flush=True)
            bad += bool(diffs)
    print("BAD", bad)
    if not bad:
        print("DEVICES OK")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
