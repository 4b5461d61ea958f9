r"""The parts every reproduction shares: `Reproduction`, its report `Line`s, the `Result`, the registry.

A **reproduction** is one published figure or table, rebuilt from recipes (`jaxcollapse.recipes.run`)
or the families directly, at the setup the paper states. It returns a `Result`: one `Line` per quantity
the paper reports or implies, each with our estimate and its Monte Carlo standard error, the closed form
where one exists, and the paper's own number where it could be read (with the place it was read).

**Agreement rules, stated up front** (`Line.verdict`):

- against a **closed form** (``rule="equal"``): $|z| = |\text{ours} - \text{theory}|/\text{se} <$
  `Z_BOUND` $= 4$, the bound of `jaxcollapse.verify`;
- against a **bound** (``rule="upper"``: the theory is an upper bound of the quantity; ``"lower"``: a
  lower bound): the bound holds unless ours lies beyond it by more than 4 standard errors,
  $(\text{ours} - \text{bound})/\text{se} < 4$ (upper);
- against a **published value**: $|\text{ours} - \text{published}| \le p + 4\,\text{se}$, where $p$ is the
  precision to which the published value can be read (a table's last digit, a figure's half grid step);
- a deterministic quantity (se = 0) agrees when it matches to a relative $10^{-9}$;
- a disagreement the module expects carries its explanation (`Line.explained`: which side is wrong, and
  why); it is reported, not failed.

**Scale.** ``scale`` multiplies the chain counts (never the paper's sizes, generations or grids), so
the setup stays the paper's and only the standard errors widen. Below a reproduction's `floor` the report
warns that the standard errors are too wide to judge agreement.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._registry import Registry

__all__ = ["Line", "Result", "Reproduction", "register", "get", "names", "unregister", "scaled", "Z_BOUND", "RULES"]

Z_BOUND = 4.0
"""The $|z|$ bound of every comparison (the same as `jaxcollapse.verify.Z_BOUND`)."""

RULES = ("rules: against a closed form |ours - theory| / se < 4; against a bound, ours beyond it by less than 4 se; "
         "against a published value |ours - published| <= reading precision + 4 se; se = 0: equal to 1e-9")
"""The rules, one line, printed at the head of every report."""

RULE_NAMES = ("equal", "upper", "lower")


def _finite(x) -> bool:
    return x is not None and math.isfinite(float(x))


@dataclass(frozen=True)
class Line:
    r"""One quantity of a reproduction's report.

    - `quantity`: what it is, with its setting (``"var ratio, n=100, t=1000, replace"``).
    - `ours`, `se`: our estimate and its Monte Carlo standard error (0 for a deterministic quantity).
    - `theory`: the closed form (NaN: none); `rule`: ``"equal"``, or ``"upper"`` / ``"lower"`` when the
      theory is a bound of the quantity; `theory_source`: the function or paper it comes from.
    - `published`, `precision`, `source`: the paper's own number, the precision to which it can be read,
      and where it was read (``"Table 1, row 3"``). NaN when the paper gives none.
    - `explained`: for a disagreement this module expects, which side is wrong and why.
    """

    quantity: str
    ours: float
    se: float
    theory: float = math.nan
    rule: str = "equal"
    theory_source: str = ""
    published: float = math.nan
    precision: float = math.nan
    source: str = ""
    explained: str = ""

    def __post_init__(self):
        if self.rule not in RULE_NAMES:
            raise ValueError(f"Line {self.quantity!r}: rule must be one of {RULE_NAMES}, got {self.rule!r}")
        if _finite(self.published) and not (_finite(self.precision) and self.precision >= 0):
            raise ValueError(f"Line {self.quantity!r}: a published value needs its reading precision (>= 0)")
        for name in ("ours", "se", "theory", "published", "precision"):
            object.__setattr__(self, name, float(getattr(self, name)))

    # ------------------------------------------------------------------ the comparisons
    @property
    def z(self) -> float:
        """$(\\text{ours} - \\text{theory})/\\text{se}$ (NaN without a theory; 0 or inf when se = 0)."""
        if not _finite(self.theory):
            return math.nan
        diff = self.ours - self.theory
        if not (math.isfinite(self.ours) and math.isfinite(self.se)):
            return math.inf
        if self.se > 0:
            return diff / self.se
        return 0.0 if abs(diff) <= 1e-9 * max(abs(self.theory), 1e-300) else math.copysign(math.inf, diff)

    @property
    def theory_ok(self) -> bool | None:
        """Whether ours agrees with the theory under `rule` (None: no theory)."""
        if not _finite(self.theory):
            return None
        z = self.z
        if math.isnan(z):
            return False
        if self.rule == "equal":
            return abs(z) < Z_BOUND
        return z < Z_BOUND if self.rule == "upper" else -z < Z_BOUND

    @property
    def published_ok(self) -> bool | None:
        """Whether ours lies within the reading precision (+ 4 se) of the published value (None: none known)."""
        if not _finite(self.published):
            return None
        if not (math.isfinite(self.ours) and math.isfinite(self.se)):
            return False
        return abs(self.ours - self.published) <= self.precision + Z_BOUND * self.se

    @property
    def agrees(self) -> bool:
        """No comparison fails (a line with neither theory nor published value agrees trivially)."""
        return self.theory_ok is not False and self.published_ok is not False

    @property
    def passed(self) -> bool:
        """Agrees, or its disagreement is explained."""
        return self.agrees or bool(self.explained)

    @property
    def verdict(self) -> str:
        """One word or phrase for the report."""
        parts = []
        t, p = self.theory_ok, self.published_ok
        if t is not None:
            word = "agrees" if self.rule == "equal" else "holds"
            z = self.z
            zs = f"z={z:+.2f}" if math.isfinite(z) else f"z={z}"
            parts.append(f"theory {word if t else 'FAILS'} ({zs})")
        if p is not None:
            parts.append("published agrees" if p else "published DIFFERS")
        if not parts:
            return "no reference"
        text = ", ".join(parts)
        if not self.agrees:
            text += " (explained below)" if self.explained else ""
        return text


@dataclass
class Result:
    """What a reproduction's `run` returns.

    - `lines`: the report's quantities.
    - `columns`: equal-length numeric columns for the CSV of curves (``curves.csv``); may be empty.
    - `data`: whatever the figure needs (arrays, trajectories).
    - `notes`: extra lines for the report (the setup actually run, what differs from the paper).
    """

    name: str
    scale: float
    lines: list[Line]
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = math.nan

    @property
    def passed(self) -> bool:
        """Every line agrees or has its disagreement explained."""
        return all(line.passed for line in self.lines)


def scaled(chains: int, scale: float, minimum: int = 16) -> int:
    """`chains` times `scale`, rounded up, at least `minimum` (the smallest count whose standard error means
    something)."""
    return max(int(minimum), int(math.ceil(chains * scale)))


class Reproduction:
    r"""One published figure or table. Subclass it, set the class attributes, write `compute` and `figure`,
    and `register` an instance.

    Class attributes:

    - `name`: ``jaxcollapse reproduce NAME`` (lower case, ``author<year>_<what>``).
    - `paper`: short citation (``"Shumailov et al. 2024"``); `figure`: the figure or table (``"Fig. 2a"``);
      `citation`: the full reference.
    - `setup`: the setup as the paper (and its code) states it: sizes, generations, regimes, metric.
    - `published`: where the paper's own numbers were read, or why none are given (never a guess).
    - `runtime` (read-only): the wall seconds of the full-scale run (``scale=1``) on the project's 2-core CPU,
      read from ``papers/runtimes.json``, which ``python benchmarks/reproductions.py`` measures and writes (NaN
      when not measured); printed by ``--list``. A measurement, so it lives beside the code, not in it.
    - `floor`: the smallest scale whose standard errors still judge agreement (the report warns below).
    - `heavy`: True when the floor run costs more than the default test suite's share (about 10 s of CPU on the
      2-core machine, mostly compilation): the default suite leaves it to ``slow``.
    """

    name: ClassVar[str]
    paper: ClassVar[str]
    figure_ref: ClassVar[str]
    citation: ClassVar[str]
    setup: ClassVar[str]
    published: ClassVar[str] = "the paper reports no numbers for this figure beyond the plot's shape"
    floor: ClassVar[float] = 0.1
    heavy: ClassVar[bool] = False
    """True when the run at `floor` costs more than about 10 s of CPU (compilation of several programs, or the paper's
    long sizes and generations, which scale does not cut): the default test suite leaves it to the ``slow`` tier."""

    @property
    def runtime(self) -> float:
        """Wall seconds at full scale, as measured into ``runtimes.json`` (NaN when not measured)."""
        return float(measured_runtimes()["entries"].get(self.name, {}).get("seconds", math.nan))

    def compute(self, key, scale: float) -> Result:
        """Run the reproduction at `scale` and return its `Result` (without `seconds`)."""
        raise NotImplementedError

    def figure(self, result: Result):
        """The figure (a matplotlib `Figure`): ours beside the theory, and the published values where known."""
        raise NotImplementedError

    def run(self, key=None, scale: float = 1.0) -> Result:
        """`compute` timed, with the floor warning; `key` defaults to ``jax.random.key(0)``."""
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale = {scale!r} is invalid: scale must be a number > 0")
        import jax

        if key is None:
            key = jax.random.key(0)
        t0 = time.perf_counter()
        result = self.compute(key, float(scale))
        result.seconds = time.perf_counter() - t0
        if scale < self.floor:
            result.warnings.append(
                f"scale {scale:g} is below this reproduction's statistical floor {self.floor:g}: the standard errors "
                "are too wide to judge agreement (a pass means little, a failure may be noise)")
        return result

    def report(self, result: Result) -> str:
        """The text report: head, setup, rules, one line per quantity, explanations, notes, warnings."""
        head = [f"{self.name}: {self.paper}, {self.figure_ref}",
                f"  {self.citation}",
                f"setup: {self.setup}",
                f"published values: {self.published}",
                f"scale {result.scale:g}" + (f", {result.seconds:.1f} s" if math.isfinite(result.seconds) else ""),
                RULES, ""]
        rows = [("quantity", "ours +- se", "theory", "published", "agreement")]
        for ln in result.lines:
            ours = f"{ln.ours:.6g} +- {ln.se:.2g}"
            th = "-" if not _finite(ln.theory) else (f"{ln.theory:.6g}" + {"equal": "", "upper": " (upper bound)",
                                                                           "lower": " (lower bound)"}[ln.rule])
            pub = "-" if not _finite(ln.published) else f"{ln.published:.6g} +- {ln.precision:.2g}"
            rows.append((ln.quantity, ours, th, pub, ln.verdict))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        body = ["  ".join(f"{c:<{w}}" for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4] for r in rows]
        tail = []
        sources = sorted({ln.theory_source for ln in result.lines if ln.theory_source})
        if sources:
            tail.append("theory: " + "; ".join(sources))
        pubs = sorted({ln.source for ln in result.lines if ln.source})
        if pubs:
            tail.append("published, read from: " + "; ".join(pubs))
        for ln in result.lines:
            if not ln.agrees and ln.explained:
                tail.append(f"disagreement, {ln.quantity}: {ln.explained}")
        tail += result.notes
        tail += [f"WARNING: {w}" for w in result.warnings]
        n_ok = sum(ln.passed for ln in result.lines)
        tail.append(f"{n_ok}/{len(result.lines)} lines agree or are explained: "
                    f"{'REPRODUCED' if result.passed else 'NOT REPRODUCED'}")
        return "\n".join(head + body + [""] + tail) + "\n"

    def csv_rows(self, result: Result) -> tuple[list[str], list[list[str]]]:
        """The report lines as CSV: header and rows."""
        header = ["quantity", "ours", "se", "theory", "rule", "z", "published", "precision", "agrees", "explained"]
        rows = [[ln.quantity, f"{ln.ours:.9g}", f"{ln.se:.9g}", f"{ln.theory:.9g}", ln.rule, f"{ln.z:.6g}",
                 f"{ln.published:.9g}", f"{ln.precision:.9g}", str(ln.agrees).lower(), ln.explained]
                for ln in result.lines]
        return header, rows

    def __repr__(self) -> str:
        return f"<reproduction {self.name}>"


# ---------------------------------------------------------------------- measured runtimes
RUNTIMES = Path(__file__).with_name("runtimes.json")


@functools.cache
def measured_runtimes() -> dict[str, Any]:
    """The contents of ``runtimes.json``: ``machine``, and ``entries`` mapping a name to its ``seconds`` and how they
    were measured (written by ``benchmarks/reproductions.py``)."""
    return json.loads(RUNTIMES.read_text())


# ---------------------------------------------------------------------- registry
_REGISTRY: Registry[Reproduction] = Registry(__package__, "reproduction")


def register(repro: Reproduction | type[Reproduction], *, replace: bool = False) -> Reproduction:
    """Add a reproduction (an instance, or a class taking no arguments) to the registry and return it."""
    if isinstance(repro, type):
        repro = repro()
    cls = type(repro)
    for attr in ("name", "paper", "figure_ref", "citation", "setup"):
        if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
            raise TypeError(f"reproduction {cls.__name__} does not declare {attr!r}")
    if cls.compute is Reproduction.compute or cls.figure is Reproduction.figure:
        raise TypeError(f"reproduction {repro.name} must implement compute and figure")
    return _REGISTRY.add(repro.name, repro, replace=replace)


def unregister(name: str) -> None:
    """Remove a reproduction (for tests that register one of their own)."""
    _REGISTRY.remove(name)


def names() -> tuple[str, ...]:
    """The registered reproductions, sorted."""
    return _REGISTRY.names()


def nearest(name: str, options: Sequence[str]) -> str | None:
    """The closest of `options` to `name` (difflib), or None."""
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.3)
    return close[0] if close else None


def get(name: str) -> Reproduction:
    """The reproduction called `name`; an unknown name is a ValueError naming the nearest and listing all."""
    repro = _REGISTRY.lookup(name)
    if repro is None:
        known = _REGISTRY.names()
        near = nearest(name, known)
        hint = f" (nearest: {near!r})" if near else ""
        raise ValueError(f"unknown reproduction {name!r}{hint}; known: {', '.join(known)}")
    return repro
