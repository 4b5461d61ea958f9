"""Training and sampling many small diffusion models at once: vmapped over networks vs a Python loop.

Run from the repository root::

    python benchmarks/bench_diffusion.py            # full run (64 networks; a few minutes on 2 cores)
    python benchmarks/bench_diffusion.py --quick    # 16 networks, fewer steps: a smoke test

Each network is a `jaxcollapse.Diffusion` (MLP velocity network, width 32, depth 2, 4 Fourier time
features) trained by `Diffusion.fit` on its own n = 256 rows of the 8-component toy mixture: `steps` AdamW
steps of flow matching, full batch, inside one `lax.scan`. Every number is the median over repeats in
interleaved rounds (`_common.measure`), after a warm-up call that compiles; float32. The data sets are drawn
before the clocks start.

Cases:

- **vmapped fit**: one jitted call, `jax.vmap(fit)` over the networks' data sets (what `simulate` does over
  chains; on a CPU `_nets.train` trains blocks of `_nets.TRAIN_BLOCK` networks);
- **loop over networks x jitted step** (the issue's baseline): a Python loop over networks and, inside, over
  training steps, each step one call of a jitted AdamW step on the same loss; timed on a subset and counted
  per network;
- **loop over the jitted whole fit**: a Python loop calling `eqx.filter_jit(fit)` once per network;
- **vmapped sampling**: `draw_samples` of 1,024 samples from every trained network in one call (16 Euler
  steps): samples per second;
- **engine**: `simulate` with `replace(256)` over the networks as chains for a few generations
  (sampling, training, metrics): chain-generations per second;
- **on several CPU devices** (`--devices K`, default the usable cores; the script sets
  `XLA_FLAGS=--xla_force_host_platform_device_count=K` before JAX starts): *vmapped fit, K devices*, the same
  vmapped fit under `shard_map`, one block of networks per core; *engine, devices=K*: `simulate(..., devices=K)`.
  The single-device cases run on device 0 as before.

**Memory per chain**: XLA's own accounting of the compiled vmapped fit (`memory_analysis()`: arguments,
outputs and temporaries) at two network counts; the slope is the bytes one more chain costs, and
24 GiB divided by it the number of chains that would fit in 24 GiB (the issue's yardstick), for this
configuration. It is the compiled program's buffer plan, not a measured peak of a process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for `import jaxcollapse`

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import host_devices_from_argv  # noqa: E402

DEVICES = host_devices_from_argv(sys.argv[1:])  # before JAX starts

from _common import (  # noqa: E402
    RESULTS,
    code_version,
    engine_replace,
    fit_buffer_bytes,
    fit_on_devices,
    label,
    machine_info,
    measure,
    now_iso,
)

import jaxcollapse as jc  # noqa: E402
from jaxcollapse import datasets  # noqa: E402

MEASURED_FILES = ("jaxcollapse/families/diffusion.py", "jaxcollapse/families/_nets.py", "jaxcollapse/engine.py")
FIT_STREAM = jc.Stream.from_key(jax.random.key(0))
SAMPLE_STREAM = jc.Stream.from_key(jax.random.key(1))
SAMPLES = 1024
GIB24 = 24 * 2**30
SIZES = {
    "full": dict(nets=64, n=256, steps=200, loop_steps_nets=4, generations=3),
    "quick": dict(nets=16, n=256, steps=50, loop_steps_nets=2, generations=2),
}


def make(steps: int):
    data = datasets.toy(jax.random.key(0), "mixture", 1024)
    return jc.Diffusion(jax.random.key(1), data, width=32, depth=2, steps=steps, n_eval=256)


def prepared(model, nets: int, n: int, reps: int) -> dict:
    def draw(seed):
        xs = jax.vmap(lambda k: model.sample(k, n))(jax.random.split(jax.random.key(seed), nets))
        return jax.block_until_ready(jax.vmap(model.stats)(xs))
    return {r: draw(100 + r) for r in range(-1, reps)}


def _fit_one(model):
    return lambda s: model.fit(s, FIT_STREAM).net


def vmapped(model, nets, n, reps):
    fit = eqx.filter_jit(jax.vmap(_fit_one(model)))
    data = prepared(model, nets, n, reps)
    return lambda r: jax.block_until_ready(fit(data[r]))


def loop_fit(model, nets, n, reps):
    fit = eqx.filter_jit(_fit_one(model))
    data = prepared(model, nets, n, reps)

    def fn(r):
        jax.block_until_ready([fit(jax.tree.map(lambda a, i=i: a[i], data[r])) for i in range(nets)])
    return fn


def loop_steps(model, nets, n, steps, reps):
    import optax

    opt = optax.adamw(model.learning_rate, weight_decay=model.weight_decay)

    @jax.jit
    def step(params, state, x, key):
        loss, g = jax.value_and_grad(lambda p: jnp.mean(model._loss_rows(p, x, key)))(params)
        upd, state = opt.update(g, state, params)
        return optax.apply_updates(params, upd), state, loss

    data = {r: np.asarray(s.x) for r, s in prepared(model, nets, n, reps).items()}

    def fn(r):
        for i in range(nets):
            params = model._init_net(jax.random.key_data(jax.random.key(i)), model.d, model.dtype)
            state = opt.init(params)
            keys = jax.random.split(jax.random.key(1000 + i), steps)
            x = jnp.asarray(data[r][i])
            for s in range(steps):
                params, state, _ = step(params, state, x, keys[s])
            jax.block_until_ready(params)
    return fn


def sampling(model, nets, n):
    nets_trained = eqx.filter_jit(jax.vmap(lambda s: model.fit(s, FIT_STREAM)))(prepared(model, nets, n, 1)[0])
    draw = eqx.filter_jit(jax.vmap(lambda m: m.draw_samples(SAMPLE_STREAM, SAMPLES, jnp.ones((), m.dtype))))
    return lambda r: jax.block_until_ready(draw(nets_trained))


def bytes_of_fit(model, nets: int, n: int) -> int:
    """XLA's buffer plan of the vmapped fit over `nets` networks: arguments + outputs + temporaries."""
    return fit_buffer_bytes(model, prepared(model, nets, n, 0)[-1], FIT_STREAM)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, for smoke-testing")
    p.add_argument("--repeats", type=int, default=None, help="repeats (default 3, quick 2)")
    p.add_argument("--label", default=None, help="results file label (default: backend-cpu-cores[-quick])")
    p.add_argument("--devices", type=int, default=DEVICES,
                   help="XLA CPU devices for the sharded cases (default: the usable cores; read before JAX starts)")
    args = p.parse_args(argv)
    k = min(args.devices, len(jax.devices()))
    mode = "quick" if args.quick else "full"
    S = SIZES[mode]
    reps = args.repeats if args.repeats is not None else (2 if args.quick else 3)
    if reps < 1:
        p.error("--repeats must be >= 1")
    nets, n, steps, ls = S["nets"], S["n"], S["steps"], S["loop_steps_nets"]
    model = make(steps)
    started, load_start, info = now_iso(), os.getloadavg(), machine_info()
    print(f"# jaxcollapse diffusion benchmark ({mode}), {started}")
    print(f"# {info['cpu_model']}, {info['cores_usable']} cores, jax {info['jax']} ({info['backend']}); {nets} "
          f"flow-matching MLPs (width 32, depth 2), n = {n} rows each, {steps} AdamW steps; repeats {reps}, medians; "
          f"1-min load average at start {load_start[0]:.2f}\n", flush=True)
    T = measure({
        "vmapped": (vmapped(model, nets, n, reps), nets, reps, f"{nets} networks in one vmapped call"),
        "loop_fit": (loop_fit(model, nets, n, reps), nets, reps, "Python loop over the jitted single-network fit"),
        "loop_steps": (loop_steps(model, ls, n, steps, reps), ls, reps,
                       f"loop over networks and steps, {ls} networks, counted per network"),
        "sampling": (sampling(model, nets, n), nets * SAMPLES, reps,
                     f"{SAMPLES} samples from each of {nets} networks, vmapped (samples)"),
        "engine": (engine_replace(model, nets, n, S["generations"]), nets * S["generations"], max(1, reps // 2),
                   f"simulate replace({n}), {nets} chains x {S['generations']} generations (chain-generations)"),
        **({} if k < 2 else {
            "vmapped_devices": (fit_on_devices(model, FIT_STREAM, k, prepared(model, nets, n, reps)), nets, reps,
                                f"{nets} networks, one block per CPU device ({k}), shard_map of the vmapped fit"),
            "engine_devices": (engine_replace(model, nets, n, S["generations"], devices=k), nets * S["generations"],
                               max(1, reps // 2), f"simulate(..., devices={k}), {nets} chains x {S['generations']} "
                               "generations (chain-generations)"),
        }),
    })
    b_small, b_big = bytes_of_fit(model, nets // 2, n), bytes_of_fit(model, nets, n)
    per_chain = (b_big - b_small) / (nets - nets // 2)
    fits_24 = int(GIB24 // per_chain) if per_chain > 0 else None
    ratios = {"vmapped_over_loop_fit": T["vmapped"].rate / T["loop_fit"].rate,
              "vmapped_over_loop_steps": T["vmapped"].rate / T["loop_steps"].rate}
    if k >= 2:
        ratios["vmapped_devices_over_loop_steps"] = T["vmapped_devices"].rate / T["loop_steps"].rate
        ratios["engine_devices_over_engine"] = T["engine_devices"].rate / T["engine"].rate
    rows = [
        ("vmapped fit", f"{T['vmapped'].rate:.2f} networks/s", f"{T['vmapped'].median:.2f} s per {nets}", ""),
        ("loop over networks x jitted step", f"{T['loop_steps'].rate:.3f} networks/s",
         f"{T['loop_steps'].median:.2f} s per {ls}", f"vmapped / loop = {ratios['vmapped_over_loop_steps']:.1f}x "
         f"(target >= 3x: {'PASS' if ratios['vmapped_over_loop_steps'] >= 3 else 'MISS'})"),
        ("loop over jitted whole fit", f"{T['loop_fit'].rate:.2f} networks/s", f"{T['loop_fit'].median:.2f} s per "
         f"{nets}", f"vmapped / loop = {ratios['vmapped_over_loop_fit']:.1f}x (information)"),
        ("vmapped sampling (16 Euler steps)", f"{T['sampling'].rate:.3g} samples/s", f"{T['sampling'].median:.2f} s",
         ""),
        ("engine (sample, train, metrics)", f"{T['engine'].rate:.2f} chain-generations/s",
         f"{T['engine'].median:.2f} s", ""),
        ("memory per chain (XLA buffer plan of the vmapped fit)", f"{per_chain / 2**20:.2f} MiB",
         "", f"chains in 24 GiB: {fits_24}"),
    ]
    if k >= 2:
        rd = ratios["vmapped_devices_over_loop_steps"]
        rows[1:1] = [(f"vmapped fit, {k} CPU devices", f"{T['vmapped_devices'].rate:.2f} networks/s",
                      f"{T['vmapped_devices'].median:.2f} s per {nets}",
                      f"/ loop over steps = {rd:.1f}x (target >= 3x: {'PASS' if rd >= 3 else 'MISS'})")]
        rows.append((f"engine, devices={k} (sample, train, metrics)",
                     f"{T['engine_devices'].rate:.2f} chain-generations/s", f"{T['engine_devices'].median:.2f} s",
                     f"/ engine on one device = {ratios['engine_devices_over_engine']:.2f}x"))
    print("| case | rate | median time | ratio |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    load_end = os.getloadavg()
    print(f"\n1-min load average at the end: {load_end[0]:.2f} (this run included)")
    out = {"benchmark": "diffusion", "mode": mode, "started": started, "finished": now_iso(),
           "load_average_1_5_15min": {"start": load_start, "end": load_end}, "machine": info,
           "code": code_version(MEASURED_FILES), "sizes": S, "devices": k, "ratios": ratios,
           "memory": {"bytes_per_chain": per_chain, "bytes_at": {nets // 2: b_small, nets: b_big},
                      "chains_in_24GiB": fits_24},
           "measurements": {k: t.as_dict() for k, t in T.items()}}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"diffusion_{args.label or label(info, 'quick' if args.quick else '')}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
