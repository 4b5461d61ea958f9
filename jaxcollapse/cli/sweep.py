r"""``jaxcollapse sweep CONFIG.toml [--out DIR] [--resume] [--quiet] [--devices N]``: a sweep of any recipe.

The config names a recipe (``family``); its grid axes and ``[params]`` keys are the recipe's parameters
(`jaxcollapse.sweep`; one example per family in ``examples/sweeps/``). Results go
to ``DIR`` (default: ``jaxcollapse_sweep_<config name>_out``): ``results.zarr`` (an xarray/zarr dataset written chunk by
chunk), ``config.json`` (the resolved config), ``progress.json`` (finished chunks) and, once every
chunk is done, one ``phase_<name>.png`` per ``[[plot]]`` table of the config.

A killed sweep is continued with ``--resume`` (the same config; a different one is refused with the
difference named) and ends bitwise equal to an uninterrupted run. Multi-host: start the same command
on every process with ``--coordinator HOST:PORT --num-processes N --process-id I`` (see the README).

``--devices N`` runs the chains on the first N devices (default: every device, up to the largest
count that divides the gcd(chains, blocks) chain blocks); the numbers are bitwise the same for any N.

Errors (bad config, unknown parameter with a suggestion, a parameter the family does not have, empty
grid, duplicate points, a ``[[plot]]`` of a metric or statistic that is not recorded, ``--devices`` the
machine or the chain blocks cannot serve, unwritable folder, full disk) print one line
``jaxcollapse: error: ...`` on stderr and exit with code 2, before anything is computed; chunks
already written are kept.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ._common import PROG, CLIError, _Parser, _suggest, default_out, raise_if_interrupted


def _parser() -> _Parser:
    p = _Parser(prog=f"{PROG} sweep", allow_abbrev=False,
                description="Run a parameter sweep of any family from a TOML config (its grid axes: the family's "
                            "parameters, see 'jaxcollapse run --family F --help'); results are written chunk by "
                            "chunk and can be resumed.")
    p.add_argument("config", metavar="CONFIG.toml", help="the sweep config (see examples/sweeps/)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: jaxcollapse_sweep_<config name>_out)")
    p.add_argument("--resume", action="store_true", help="continue the sweep already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar and nothing on stdout")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="do not draw the [[plot]] figures")
    p.add_argument("--devices", type=int, metavar="N",
                   help="run the chains on N devices (must divide gcd(chains, blocks); default: every device)")
    p.add_argument("--coordinator", metavar="HOST:PORT", help="multi-process: the coordinator's address")
    p.add_argument("--num-processes", type=int, metavar="N", help="multi-process: the number of processes")
    p.add_argument("--process-id", type=int, metavar="I", help="multi-process: this process's index (0..N-1)")
    return p


FLAGS = ("--out", "--resume", "--quiet", "--no-plots", "--devices", "--coordinator", "--num-processes",
         "--process-id")


def _writable(out: Path) -> None:
    """Raise CLIError unless `out` (or its nearest existing parent) is a writable folder."""
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise CLIError(f"output path {probe} exists and is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CLIError(f"output folder {out} is not writable (no write permission on {probe})")


def main(argv: list[str]) -> int:
    args, extra = _parser().parse_known_args(argv)
    if extra:
        raise CLIError(f"unrecognized argument {extra[0]!r}{_suggest(extra[0], FLAGS)} (see '{PROG} sweep --help')")
    from .. import sweep

    try:
        cfg = sweep.load_config(args.config)  # pure Python: nothing compiled or written yet
    except ValueError as e:
        raise CLIError(str(e)) from None
    out = Path(args.out) if args.out else Path(default_out(f"sweep_{Path(args.config).stem}"))
    _writable(out)
    dist = (args.coordinator, args.num_processes, args.process_id)
    if any(v is not None for v in dist):
        try:
            sweep.initialize_distributed(*dist)
        except ValueError as e:
            raise CLIError(str(e)) from None
    import jax

    raise_if_interrupted()  # a Ctrl-C that `import jax` swallowed
    try:
        sweep.check_devices(args.devices, cfg.chains, cfg.blocks)  # run_sweep then plans (builds and checks
        # every point, nothing compiled) before it makes the folder
    except ValueError as e:
        raise CLIError(str(e)) from None
    if cfg.x64:
        jax.config.update("jax_enable_x64", True)
    try:
        ds = sweep.run_sweep(cfg, out, resume=args.resume, quiet=args.quiet, devices=args.devices)
    except ValueError as e:
        raise CLIError(str(e)) from None
    except OSError as e:
        msg = e.strerror if isinstance(e.strerror, str) and e.strerror.startswith("cannot write") else \
            f"cannot write to {out}: {e.strerror or e}"
        raise CLIError(f"{msg} (finished chunks are kept; fix it and rerun with --resume)") from None
    if jax.process_index() != 0:
        return 0
    figures = []
    if args.plots and cfg.plot:
        from ..plot import phase_diagram

        for spec in cfg.plot:
            fig = phase_diagram(ds, spec.x, spec.y, sweep.metric_variable(cfg, spec.metric), stat=spec.stat,
                                generation=spec.generation,
                                below=spec.below, boundary=spec.boundary, log=spec.log,
                                center=spec.center)
            name = spec.name or f"{spec.metric}_{spec.y}_vs_{spec.x}"
            path = out / f"phase_{name}.png"
            tmp = out / f".phase_{name}.partial.png"
            try:
                fig.savefig(tmp, dpi=120)
                os.replace(tmp, path)
            except OSError as e:
                raise CLIError(f"cannot write {path}: {e}") from None
            figures.append(path)
    if not args.quiet:
        dims = ", ".join(f"{k}={v}" for k, v in ds.sizes.items())
        print(f"sweep done: {out / sweep.ZARR} ({dims})")
        for f in figures:
            print(f"figure: {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
