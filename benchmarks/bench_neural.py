"""Training many small VAEs at once: vmapped over networks vs a Python loop over the same jitted step.

Run from the repository root::

    python benchmarks/bench_neural.py            # full run (256 networks; a few minutes on 2 cores)
    python benchmarks/bench_neural.py --quick    # 32 networks, fewer steps: a smoke test

Each network is a `jaxcollapse.VAE` on two moons (latent 2, two hidden layers of 32 units), trained by
`VAE.fit` on its own n = 256 rows: `steps` AdamW steps, full batch, inside one `lax.scan`. The unit is
networks trained per second. Every number is the median over repeats taken in interleaved rounds
(`_common.measure`), after a warm-up call that compiles; float32. Each repeat's data sets are drawn
before the clocks start (the eager draw takes about 0.2 s whatever the number of networks: inside the
timing it was 13% of the 16-network step loop and 2% of the vmapped call).

Cases:

- **vmapped**: one jitted call, `jax.vmap(fit)` over the 256 networks' data sets (what `simulate` does
  over chains). On a CPU, `_nets.train`'s batching rule trains the networks in blocks of
  `_nets.TRAIN_BLOCK` (32): a `lax.map` over blocks, `vmap` inside a block, so that each step's
  activations (256 x 256 x 32 floats per layer for all networks at once) stay in cache;
- **loop over networks and steps** (the issue's baseline, "a Python loop over the same jitted
  single-network step", and the style of published training code): a Python loop over networks and,
  inside, over training steps, each step one call of a jitted AdamW step on the same loss; timed on a
  subset of the networks and counted per network;
- **loop over the jitted single-network fit** (a stronger baseline): a Python loop calling
  `eqx.filter_jit(fit)` once per network (the whole scan over steps inside one call), blocking at the
  end. With networks this small on a CPU, each call is compute-bound, so vmap gains little over it;
- **engine**: `jaxcollapse.simulate` with `replace(256)` over 256 chains for a few generations
  (sampling, training, metrics): chain-generations per second, the per-generation throughput;
- **on several CPU devices** (`--devices K`, default the usable cores; the script sets
  `XLA_FLAGS=--xla_force_host_platform_device_count=K` before JAX starts): XLA CPU runs these small
  matmuls on one thread, so the networks are cut into one block per core. *vmapped fit, K devices*: the
  same vmapped fit under `shard_map`; *engine, devices=K*: `simulate(..., devices=K)`, each chain-generation
  training one network plus sampling and metrics. The single-device cases run on device 0 as before.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for `import jaxcollapse`


def _cpu_devices_from_argv(argv) -> int:
    """`--devices K` (default: the usable cores): XLA host devices, which must be set before JAX starts."""
    for i, a in enumerate(argv):
        if a == "--devices" and i + 1 < len(argv):
            return max(1, int(argv[i + 1]))
        if a.startswith("--devices="):
            return max(1, int(a.split("=", 1)[1]))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


DEVICES = _cpu_devices_from_argv(sys.argv[1:])
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_force_host_platform_device_count={DEVICES}").strip()

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import RESULTS, code_version, label, machine_info, measure, now_iso  # noqa: E402

import jaxcollapse as jc  # noqa: E402
from jaxcollapse import datasets  # noqa: E402

MEASURED_FILES = ("jaxcollapse/families/vae.py", "jaxcollapse/families/_nets.py", "jaxcollapse/engine.py",
                  "jaxcollapse/datasets.py")
FIT_STREAM = jc.Stream.from_key(jax.random.key(0))  # `fit` takes a stream (every network gets the same keys)
SIZES = {
    "full": dict(nets=256, n=256, steps=200, loop_steps_nets=16, generations=3),
    "quick": dict(nets=32, n=256, steps=50, loop_steps_nets=4, generations=2),
}


def make(steps: int):
    data = datasets.toy(jax.random.key(0), "moons", 512)
    return jc.VAE(jax.random.key(1), data, latent=2, width=32, depth=2, steps=steps, n_eval=256)


def datasets_for(model, nets: int, n: int, seed: int):
    """`nets` independent data sets of n real rows: stacked SampleStats."""
    xs = jax.vmap(lambda k: model.sample(k, n))(jax.random.split(jax.random.key(seed), nets))
    return jax.vmap(model.stats)(xs)


def prepared(model, nets: int, n: int, reps: int) -> dict:
    """The data sets of the warm-up (r = -1) and of every repeat, drawn before any clock starts."""
    return {r: jax.block_until_ready(datasets_for(model, nets, n, 100 + r)) for r in range(-1, reps)}


def vmapped(model, nets, n, reps):
    fit = eqx.filter_jit(jax.vmap(lambda s: model.fit(s, FIT_STREAM).enc.weights[0], in_axes=0))
    data = prepared(model, nets, n, reps)

    def fn(r):
        jax.block_until_ready(fit(data[r]))
    return fn


def loop_fit(model, nets, n, reps):
    fit = eqx.filter_jit(lambda s: model.fit(s, FIT_STREAM).enc.weights[0])
    data = prepared(model, nets, n, reps)

    def fn(r):
        stats = data[r]
        out = [fit(jax.tree.map(lambda a, i=i: a[i], stats)) for i in range(nets)]
        jax.block_until_ready(out)
    return fn


def loop_steps(model, nets, n, steps, reps):
    """Python loop over networks and steps; one jitted AdamW step per call (optax, full batch)."""
    import optax

    opt = optax.adamw(model.learning_rate, weight_decay=model.weight_decay)

    @jax.jit
    def step(params, state, x, key):
        loss, g = jax.value_and_grad(lambda p: jnp.mean(model._neg_elbo(p, x, key)))(params)
        upd, state = opt.update(g, state, params)
        return optax.apply_updates(params, upd), state, loss

    data = {r: np.asarray(stats.x) for r, stats in prepared(model, nets, n, reps).items()}

    def fn(r):
        xs = data[r]
        for i in range(nets):
            params = model._init_params(jax.random.key_data(jax.random.key(i)), model.d, model.dtype)
            state = opt.init(params)
            keys = jax.random.split(jax.random.key(1000 + i), steps)
            x = jnp.asarray(xs[i])
            for s in range(steps):
                params, state, loss = step(params, state, x, keys[s])
            jax.block_until_ready(params)
    return fn


def vmapped_devices(model, nets, n, reps, k):
    """The vmapped fit with the networks cut into one block per device (`shard_map` over k CPU devices)."""
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    mesh = Mesh(np.array(jax.devices()[:k]), ("nets",))
    one = jax.vmap(lambda s: model.fit(s, FIT_STREAM).enc.weights[0])
    fit = jax.jit(jax.shard_map(one, mesh=mesh, in_specs=P("nets"), out_specs=P("nets")))
    data = {r: jax.device_put(d, NamedSharding(mesh, P("nets"))) for r, d in prepared(model, nets, n, reps).items()}

    def fn(r):
        jax.block_until_ready(fit(data[r]))
    return fn


def engine(model, chains, n, generations, devices=None):
    def fn(r):
        tr = jc.simulate(jax.random.key(r + 7), model, jc.regimes.replace(n), generations, chains, path="samples",
                         quantiles=(), devices=devices)
        jax.block_until_ready(tr.summary)
    return fn


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
    nets, n, steps = S["nets"], S["n"], S["steps"]
    model = make(steps)
    started = now_iso()
    load_start = os.getloadavg()
    info = machine_info()
    print(f"# jaxcollapse neural benchmark ({mode}), {started}")
    print(f"# {info['cpu_model']}, {info['cores_usable']} cores (nproc {os.cpu_count()}), jax {info['jax']} "
          f"({info['backend']}); {nets} VAEs, n = {n} rows each, {steps} AdamW steps, width 32, latent 2; "
          f"repeats {reps}, medians; 1-min load average at start {load_start[0]:.2f}\n", flush=True)
    ls = S["loop_steps_nets"]
    T = measure({
        "vmapped": (vmapped(model, nets, n, reps), nets, reps, f"{nets} networks in one vmapped call"),
        "loop_fit": (loop_fit(model, nets, n, reps), nets, reps, "Python loop over the jitted single-network fit"),
        "loop_steps": (loop_steps(model, ls, n, steps, reps), ls, reps,
                       f"loop over networks and steps, {ls} networks, counted per network"),
        "engine": (engine(model, nets, n, S["generations"]), nets * S["generations"], max(1, reps // 2),
                   f"simulate replace({n}), {nets} chains x {S['generations']} generations (chain-generations)"),
        **({} if k < 2 else {
            "vmapped_devices": (vmapped_devices(model, nets, n, reps, k), nets, reps,
                                f"{nets} networks, one block per CPU device ({k}), shard_map of the vmapped fit"),
            "engine_devices": (engine(model, nets, n, S["generations"], k), nets * S["generations"],
                               max(1, reps // 2), f"simulate(..., devices={k}), {nets} chains x "
                               f"{S['generations']} generations (chain-generations)"),
        }),
    })
    r_fit = T["vmapped"].rate / T["loop_fit"].rate
    r_steps = T["vmapped"].rate / T["loop_steps"].rate
    ratios = {"vmapped_over_loop_fit": r_fit, "vmapped_over_loop_steps": r_steps}
    if k >= 2:
        ratios["vmapped_devices_over_loop_steps"] = T["vmapped_devices"].rate / T["loop_steps"].rate
        ratios["engine_devices_over_loop_steps"] = T["engine_devices"].rate / T["loop_steps"].rate
        ratios["engine_devices_over_engine"] = T["engine_devices"].rate / T["engine"].rate
    rows = [
        ("vmapped fit", f"{T['vmapped'].rate:.1f} networks/s", f"{T['vmapped'].median:.2f} s per {nets}", ""),
        ("loop over networks x jitted step", f"{T['loop_steps'].rate:.2f} networks/s",
         f"{T['loop_steps'].median:.2f} s per {ls}",
         f"vmapped / loop = {r_steps:.1f}x (target >= 5x: {'PASS' if r_steps >= 5 else 'MISS'})"),
        ("loop over jitted whole fit", f"{T['loop_fit'].rate:.1f} networks/s",
         f"{T['loop_fit'].median:.2f} s per {nets}",
         f"vmapped / loop = {r_fit:.1f}x (information)"),
        ("engine (sample, train, metrics)", f"{T['engine'].rate:.1f} chain-generations/s",
         f"{T['engine'].median:.2f} s", f"{nets} chains: {T['engine'].median / S['generations']:.2f} s per generation"),
    ]
    if k >= 2:
        rv, re_ = ratios["vmapped_devices_over_loop_steps"], ratios["engine_devices_over_loop_steps"]
        rows += [
            (f"vmapped fit, {k} CPU devices", f"{T['vmapped_devices'].rate:.1f} networks/s",
             f"{T['vmapped_devices'].median:.2f} s per {nets}",
             f"/ loop over steps = {rv:.1f}x (target >= 5x: {'PASS' if rv >= 5 else 'MISS'})"),
            (f"engine, devices={k} (sample, train, metrics)", f"{T['engine_devices'].rate:.1f} chain-generations/s",
             f"{T['engine_devices'].median:.2f} s",
             f"/ loop over steps = {re_:.1f}x (target >= 5x: {'PASS' if re_ >= 5 else 'MISS'}); "
             f"/ engine on one device = {ratios['engine_devices_over_engine']:.2f}x"),
        ]
    print("| case | rate | median time | ratio |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    load_end = os.getloadavg()
    print(f"\n1-min load average at the end: {load_end[0]:.2f} (this run included)")
    out = {
        "benchmark": "neural",
        "mode": mode,
        "started": started,
        "finished": now_iso(),
        "load_average_1_5_15min": {"start": load_start, "end": load_end},
        "machine": info,
        "code": code_version(MEASURED_FILES),
        "sizes": S,
        "devices": k,
        "ratios": ratios,
        "measurements": {k: t.as_dict() for k, t in T.items()},
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"neural_{args.label or label(info, 'quick' if args.quick else '')}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
