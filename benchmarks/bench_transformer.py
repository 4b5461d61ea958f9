"""Training many small transformer language models at once: vmapped over networks vs a Python loop.

Run from the repository root::

    python benchmarks/bench_transformer.py            # full run (64 networks; several minutes on 2 cores)
    python benchmarks/bench_transformer.py --quick    # 16 networks, fewer steps: a smoke test

Each network is a `jaxcollapse.Transformer` (character level, context 32 with an 8-character prompt, width 32,
2 blocks of 2 heads) trained by `Transformer.fit` on its own n = 256 real windows of the pydoc text: `steps`
AdamW steps on minibatches of 32 windows inside one `lax.scan`. Training throughput is counted in *tokens*:
networks x steps x 32 windows x 24 predicted characters per second. Every number is the median over repeats
in interleaved rounds (`_common.measure`), after a warm-up call that compiles; float32. The data sets are
drawn before the clocks start.

Cases:

- **vmapped fit**: one jitted call, `jax.vmap(fit)` over the networks' data sets (what `simulate` does over
  chains; on a CPU `_nets.train` trains blocks of `_nets.TRAIN_BLOCK` networks);
- **loop over networks x jitted step** (the issue's baseline): a Python loop over networks and, inside, over
  training steps, each step one call of a jitted AdamW step on the same loss and minibatch size; timed on a
  subset and counted per network;
- **loop over the jitted whole fit**: a Python loop calling `eqx.filter_jit(fit)` once per network;
- **vmapped sampling**: 64 windows decoded from every trained network in one call (24 characters each,
  one full forward pass per character): generated tokens per second;
- **engine**: `simulate` with `replace(256)` over the networks as chains for a few generations (decoding,
  training, metrics): chain-generations per second;
- **on several CPU devices** (`--devices K`, default the usable cores; the script sets
  `XLA_FLAGS=--xla_force_host_platform_device_count=K` before JAX starts): *vmapped fit, K devices*, the same
  vmapped fit under `shard_map`, one block of networks per core; *engine, devices=K*: `simulate(..., devices=K)`.
  The single-device cases run on device 0 as before.

**Why the ratio is near 1 on one device.** One network's training step here is already compute-bound: 32
windows x 32 characters are 1,024 token positions through every layer (about 0.2 GFLOP per step, forward and
backward), about 12 ms of one core per step whether the step is called from Python or runs inside the vmapped
scan (measured: CPU time per network-step 11.7-12.6 ms for `TRAIN_BLOCK` 1 to 32; a jitted single step 12.0 ms
per call). The loop's dispatch overhead is under 1% of that, and vmapping networks whose weights differ makes
no matmul larger, so one device cannot beat the loop by much; the second core (`--devices 2`) is the lever
that remains: at most 2x on this machine.

**Memory per chain**: XLA's own accounting of the compiled vmapped fit (`memory_analysis()`: arguments,
outputs and temporaries) at two network counts; the slope is the bytes one more chain costs, and 24 GiB
divided by it the number of chains that would fit in 24 GiB, for this configuration. It is the compiled
program's buffer plan, not a measured peak of a process.
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
import jax.flatten_util  # noqa: E402
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
from jaxcollapse.families import transformer as T_  # noqa: E402

MEASURED_FILES = ("jaxcollapse/families/transformer.py", "jaxcollapse/families/_nets.py", "jaxcollapse/engine.py")
FIT_STREAM = jc.Stream.from_key(jax.random.key(0))
SAMPLE_STREAM = jc.Stream.from_key(jax.random.key(1))
SAMPLES = 64
BATCH = 32
GIB24 = 24 * 2**30
SIZES = {
    "full": dict(nets=64, n=256, steps=100, loop_steps_nets=4, generations=2),
    "quick": dict(nets=16, n=256, steps=30, loop_steps_nets=2, generations=2),
}


def make(steps: int) -> jc.Transformer:
    return jc.Transformer(jax.random.key(0), context=32, prompt=8, width=32, depth=2, heads=2, steps=steps,
                          batch_size=BATCH, n_eval=64, n_heldout=64)


def tokens_per_fit(model) -> int:
    return model.steps * BATCH * (model.context - model.prompt)


def datasets_for(model, nets: int, n: int, seed: int):
    """`nets` independent data sets of n real windows: stacked SampleStats."""
    xs = jax.vmap(lambda k: model.sample(k, n))(jax.random.split(jax.random.key(seed), nets))
    return jax.vmap(model.stats)(xs)


def prepared(model, nets: int, n: int, reps: int) -> dict:
    return {r: jax.block_until_ready(datasets_for(model, nets, n, 100 + r)) for r in range(-1, reps)}


def vmapped(model, nets, n, reps):
    fit = eqx.filter_jit(jax.vmap(lambda s: model.fit(s, FIT_STREAM).net.head))
    data = prepared(model, nets, n, reps)
    return lambda r: jax.block_until_ready(fit(data[r]))


def loop_fit(model, nets, n, reps):
    fit = eqx.filter_jit(lambda s: model.fit(s, FIT_STREAM).net.head)
    data = prepared(model, nets, n, reps)

    def fn(r):
        out = [fit(jax.tree.map(lambda a, i=i: a[i], data[r])) for i in range(nets)]
        jax.block_until_ready(out)
    return fn


def loop_steps(model, nets, n, steps, reps):
    """Python loop over networks and steps; one jitted AdamW step per call (optax, minibatches of BATCH)."""
    import optax

    opt = optax.adamw(model.learning_rate, weight_decay=model.weight_decay)
    flat0, unravel = jax.flatten_util.ravel_pytree(model.net)

    @jax.jit
    def step(theta, state, x, key):
        idx = jax.random.choice(key, x.shape[0], (BATCH,))
        loss, g = jax.value_and_grad(lambda t: jnp.mean(T_._loss_rows(unravel(t), x[idx], None, prompt=model.prompt,
                                                                      heads=model.heads)))(theta)
        upd, state = opt.update(g, state, theta)
        return optax.apply_updates(theta, upd), state, loss

    data = {r: np.asarray(stats.x) for r, stats in prepared(model, nets, n, reps).items()}

    def fn(r):
        for i in range(nets):
            theta = flat0
            state = opt.init(theta)
            keys = jax.random.split(jax.random.key(1000 + i), steps)
            x = jnp.asarray(data[r][i])
            for s in range(steps):
                theta, state, loss = step(theta, state, x, keys[s])
            jax.block_until_ready(theta)
    return fn


def sampling(model, nets, n):
    trained = eqx.filter_jit(jax.vmap(lambda s: model.fit(s, FIT_STREAM)))(prepared(model, nets, n, 1)[0])
    draw = eqx.filter_jit(jax.vmap(lambda m: m.draw_samples(SAMPLE_STREAM, SAMPLES, jnp.ones((), m.dtype))))
    return lambda r: jax.block_until_ready(draw(trained))


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
    tok = tokens_per_fit(model)
    started, load_start, info = now_iso(), os.getloadavg(), machine_info()
    print(f"# jaxcollapse transformer benchmark ({mode}), {started}")
    print(f"# {info['cpu_model']}, {info['cores_usable']} cores, jax {info['jax']} ({info['backend']}); {nets} "
          f"character transformers (context 32, width 32, 2 blocks), n = {n} windows each, {steps} AdamW steps of "
          f"{BATCH} windows; repeats {reps}, medians; 1-min load average at start {load_start[0]:.2f}\n", flush=True)
    T = measure({
        "vmapped": (vmapped(model, nets, n, reps), nets * tok, reps, f"{nets} networks in one vmapped call (tokens)"),
        "loop_fit": (loop_fit(model, nets, n, reps), nets * tok, reps,
                     "Python loop over the jitted single-network fit (tokens)"),
        "loop_steps": (loop_steps(model, ls, n, steps, reps), ls * tok, reps,
                       f"loop over networks and steps, {ls} networks (tokens)"),
        "sampling": (sampling(model, nets, n), nets * SAMPLES * (model.context - model.prompt), reps,
                     f"{SAMPLES} windows decoded by each of {nets} networks, vmapped (generated tokens)"),
        "engine": (engine_replace(model, nets, n, S["generations"]), nets * S["generations"], max(1, reps // 2),
                   f"simulate replace({n}), {nets} chains x {S['generations']} generations (chain-generations)"),
        **({} if k < 2 else {
            "vmapped_devices": (fit_on_devices(model, FIT_STREAM, k, prepared(model, nets, n, reps)), nets * tok, reps,
                                f"{nets} networks, one block per CPU device ({k}), shard_map of the vmapped fit "
                                "(tokens)"),
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
    rs = ratios["vmapped_over_loop_steps"]
    rows = [
        ("vmapped fit", f"{T['vmapped'].rate:.3g} tokens/s", f"{T['vmapped'].median:.2f} s per {nets}", ""),
        ("loop over networks x jitted step", f"{T['loop_steps'].rate:.3g} tokens/s",
         f"{T['loop_steps'].median:.2f} s per {ls}",
         f"vmapped / loop = {rs:.2f}x (target >= 3x: {'PASS' if rs >= 3 else 'MISS'})"),
        ("loop over jitted whole fit", f"{T['loop_fit'].rate:.3g} tokens/s", f"{T['loop_fit'].median:.2f} s per "
         f"{nets}", f"vmapped / loop = {ratios['vmapped_over_loop_fit']:.1f}x (information)"),
        ("vmapped decoding", f"{T['sampling'].rate:.3g} tokens/s", f"{T['sampling'].median:.2f} s", ""),
        ("engine (decode, train, metrics)", f"{T['engine'].rate:.2f} chain-generations/s",
         f"{T['engine'].median:.2f} s", ""),
        ("memory per chain (XLA buffer plan of the vmapped fit)", f"{per_chain / 2**20:.2f} MiB", "",
         f"chains in 24 GiB: {fits_24}"),
    ]
    if k >= 2:
        rd = ratios["vmapped_devices_over_loop_steps"]
        rows[1:1] = [(f"vmapped fit, {k} CPU devices", f"{T['vmapped_devices'].rate:.3g} tokens/s",
                      f"{T['vmapped_devices'].median:.2f} s per {nets}",
                      f"/ loop over steps = {rd:.2f}x (target >= 3x: {'PASS' if rd >= 3 else 'MISS'})")]
        rows.append((f"engine, devices={k} (decode, train, metrics)",
                     f"{T['engine_devices'].rate:.2f} chain-generations/s", f"{T['engine_devices'].median:.2f} s",
                     f"/ engine on one device = {ratios['engine_devices_over_engine']:.2f}x"))
    print("| case | rate | median time | ratio |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    load_end = os.getloadavg()
    print(f"\n1-min load average at the end: {load_end[0]:.2f} (this run included)")
    out = {"benchmark": "transformer", "mode": mode, "started": started, "finished": now_iso(),
           "load_average_1_5_15min": {"start": load_start, "end": load_end}, "machine": info,
           "code": code_version(MEASURED_FILES), "sizes": S, "devices": k, "tokens_per_fit": tok, "ratios": ratios,
           "memory": {"bytes_per_chain": per_chain, "bytes_at": {nets // 2: b_small, nets: b_big},
                      "chains_in_24GiB": fits_24},
           "measurements": {k: t.as_dict() for k, t in T.items()}}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"transformer_{args.label or label(info, 'quick' if args.quick else '')}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
