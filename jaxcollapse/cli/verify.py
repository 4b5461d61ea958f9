"""``jaxcollapse verify``: run the theory-vs-simulation checks of `jaxcollapse.verify`, print the table,
exit 1 if a check fails (``--list`` lists the checks). A thin layer: the checks live in `jaxcollapse.verify`."""

from __future__ import annotations

import math

from ._common import PROG, CLIError, _adder, _Parser, _suggest, raise_if_interrupted


def build_parser() -> tuple[_Parser, list[str]]:
    p = _Parser(prog=f"{PROG} verify", allow_abbrev=False,
                description="Run the theory-vs-simulation checks, print the table, exit 1 if one fails.")
    flags: list[str] = []
    a = _adder(p, flags)
    a("--scale", type=float, help="scale the number of chains (smaller is faster; default 1)")
    a("--check", nargs="+", metavar="NAME", help="run only these checks")
    a("--family", help="run only the checks of this family")
    a("--seed", type=int, help="seed (default 0)")
    a("--list", action="store_true", help="list the checks (name, family, source) and exit")
    return p, flags


def main(argv: list[str]) -> int:
    parser, flags = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        raise CLIError(f"unrecognized argument {extra[0]!r}{_suggest(extra[0], flags)} (see '{PROG} verify --help')")
    if args.scale is not None and not (math.isfinite(args.scale) and args.scale > 0):
        raise CLIError(f"--scale must be > 0, got {args.scale}")
    if args.seed is not None and args.seed < 0:
        raise CLIError(f"--seed must be >= 0, got {args.seed}")

    from .. import verify as V

    raise_if_interrupted()  # a Ctrl-C that `import jax` swallowed

    families = sorted({c.family for c in V.REGISTRY.values()})
    if args.family is not None and args.family not in families:
        raise CLIError(f"unknown family {args.family!r}{_suggest(args.family, families)}; "
                       f"families with checks: {', '.join(families)}")
    if args.list:
        checks = [c for c in V.REGISTRY.values() if args.family is None or c.family == args.family]
        w = max((len(c.name) for c in checks), default=0)
        wf = max((len(c.family) for c in checks), default=0)
        for c in checks:
            print(f"{c.name:<{w}}  {c.family:<{wf}}  {c.source}")
        return 0
    names = None
    if args.check:
        names = [s.strip() for v in args.check for s in v.split(",") if s.strip()]
        for nm in names:
            if nm not in V.REGISTRY:
                raise CLIError(f"unknown check {nm!r}{_suggest(nm, V.REGISTRY)}; see '{PROG} verify --list'")
    kwargs = {"family": args.family, "seed": 0 if args.seed is None else args.seed}
    if args.scale is not None:
        kwargs["scale"] = args.scale
    try:
        comparisons = V.run_checks(names, **kwargs)
    except ValueError as e:
        raise CLIError(str(e)) from None
    print(V.RULES)
    print(V.format_table(comparisons))
    return 0 if V.all_passed(comparisons) else 1
