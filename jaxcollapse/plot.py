r"""Figures: fan charts of a metric across chains, with theory curves over them.

A *fan chart* shows, per generation $t$, the median of a metric across chains, shaded bands
between pairs of quantiles (by default the 5–95% and 25–75% bands), the cross-chain mean
(dashed), and, when given, the theoretical expectation (a black dotted line) — e.g.
$\mathbb E\,\sigma_t^2 = \sigma^2 (1 - 1/n)^t$ for the MLE under replace (Shumailov et al. 2024,
"AI models collapse when trained on recursively generated data", Nature 631).

The mean and the median differ, and the gap is part of the story: under replace with the MLE,
$\ln \mathbb E\,\sigma_t^2/\sigma^2 = t \ln(1 - 1/n) \approx -t/n$ while
$\mathbb E \ln(\sigma_t^2/\sigma^2) = t[\psi((n-1)/2) + \ln(2/n)] \approx -2t/n$, so the typical chain (the
median) collapses about twice as fast as the mean suggests.

Matplotlib is imported only inside the functions, so importing jaxcollapse stays fast. Figures are
built as standalone `matplotlib.figure.Figure` objects (not through `pyplot`): they render with the
Agg canvas whether or not a display exists, hold no global state, and are returned to the caller,
who can `fig.savefig(...)` or let a notebook display them.

Collapsed chains are valid states: log-scale metrics of a collapsed chain are $-\infty$ and a
cross-chain mean over such chains is infinite. Non-finite values are left out of the drawing
(gaps in a line or a band), never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

DEFAULT_BANDS = ((0.05, 0.95), (0.25, 0.75))

TheoryLike = Any  # an array over the generations, or a callable t -> values


def _new_axes(ax):
    """`(figure, axes)`: the given axes and its figure, or a fresh standalone figure (Agg canvas)."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 4.5), layout="constrained")
    return fig, fig.add_subplot()


def _finite(y, log: bool) -> np.ndarray:
    """`y` as float64 with non-finite values (and non-positive ones on a log axis) set to NaN."""
    y = np.asarray(y, dtype=np.float64)
    keep = np.isfinite(y)
    if log:
        keep &= y > 0
    return np.where(keep, y, np.nan)


def _theory_values(theory: TheoryLike, t: np.ndarray) -> np.ndarray:
    vals = theory(t) if callable(theory) else theory
    vals = np.asarray(vals, dtype=np.float64)
    if vals.ndim == 0:
        vals = np.full(t.shape, float(vals))
    if vals.shape != t.shape:
        raise ValueError(f"the theory curve has shape {vals.shape} but there are {t.shape[0]} generations (0..G)")
    return vals


def _resolve_bands(traj, metric: str, bands) -> list[tuple[float, float]]:
    levels = traj.summary[metric].levels
    out = []
    for band in bands:
        lo, hi = (float(b) for b in band)
        if lo in levels and hi in levels:
            out.append((lo, hi))
        elif bands is not DEFAULT_BANDS:  # explicit request for a level that was not recorded
            raise ValueError(f"band ({lo:g}, {hi:g}) needs quantiles that were not recorded; recorded: {levels}")
    # widest band first, so that narrower ones are drawn on top
    return sorted(out, key=lambda b: b[0] - b[1])


def _draw_fan(ax, traj, metric: str, *, theory, bands, label, color, log: bool, theory_label: str,
              band_alpha: float = 0.18, legend: bool = True):
    """Draw one fan on `ax`; returns `(colour, bands drawn, whether a theory curve was drawn)`."""
    if metric not in traj.summary:
        raise ValueError(f"metric {metric!r} was not summarized; have {tuple(traj.summary)}")
    t = np.asarray(traj.generations)
    levels = traj.summary[metric].levels
    if color is None:  # the axes' next colour in its property cycle, through the public API
        (probe,) = ax.plot([], [])
        color = probe.get_color()
        probe.remove()
    name = "" if label is None else f"{label}: "
    lab = (lambda s: s) if legend else (lambda s: "_nolegend_")
    resolved = _resolve_bands(traj, metric, bands)
    for k, (lo, hi) in enumerate(resolved):
        ax.fill_between(t, _finite(traj.quantile(metric, lo), log), _finite(traj.quantile(metric, hi), log),
                        color=color, alpha=band_alpha * (1 + k), linewidth=0,
                        label=lab(f"{name}{100 * lo:g}–{100 * hi:g}% of chains"))
    if 0.5 in levels:
        ax.plot(t, _finite(traj.quantile(metric, 0.5), log), color=color, lw=1.8, label=lab(f"{name}median"))
    mean = np.asarray(traj.mean(metric), dtype=np.float64)
    mean_label = f"{name}mean" if np.all(np.isfinite(mean)) else f"{name}mean (infinite where chains collapsed)"
    ax.plot(t, _finite(mean, log), color=color, lw=1.2, ls="--", label=lab(mean_label))
    if theory is not None:
        th = _theory_values(theory, t)
        tl = theory_label if label is None else f"{label}: {theory_label}"
        ax.plot(t, _finite(th, log), color="black" if label is None else color, lw=2.0, ls=":", label=lab(tl), zorder=3)
    return color, resolved, theory is not None


def _finish(ax, metric: str, log: bool, handles=None) -> None:
    if log:
        ax.set_yscale("log", nonpositive="mask")
    ax.set_xlabel("generation $t$")
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, fontsize="small", loc="best")


def fan_chart(
    traj,
    metric: str,
    *,
    theory: TheoryLike | Callable | None = None,
    ax=None,
    bands: Sequence[tuple[float, float]] = DEFAULT_BANDS,
    label: str | None = None,
    color=None,
    log: bool = False,
    theory_label: str = "theory",
):
    r"""Fan chart of `metric` across the chains of a `Trajectory`, per generation.

    Draws the median, shaded bands between the quantile pairs in `bands` (from
    `traj.quantile`), the cross-chain mean (dashed) and, if given, the theory curve (dotted):
    `theory` is an array over `traj.generations` ($t = 0..G$) or a callable $t \mapsto$ values.

    Bands whose quantiles were not recorded are skipped when `bands` is left at its default,
    and raise `ValueError` when asked for explicitly. Infinite values (collapsed chains) are
    left out of the drawing; `log=True` also leaves out values $\le 0$.

    Returns the matplotlib `Figure` (the figure of `ax` when `ax` is given).
    """
    fig, ax = _new_axes(ax)
    _draw_fan(ax, traj, metric, theory=theory, bands=bands, label=label, color=color, log=log,
              theory_label=theory_label)
    _finish(ax, metric, log)
    return fig


def compare(
    trajs: Mapping[str, Any],
    metric: str,
    *,
    theory: Mapping[str, TheoryLike | Callable] | None = None,
    log: bool = False,
    ax=None,
):
    """Several regimes (or any labelled trajectories) on one axis: one fan per entry of `trajs`.

    `theory` maps some of the same labels to a theory curve (array over the generations or a
    callable); labels without one get no curve. Each fan shows its 25–75% band (and the
    5–95% band, fainter), median, mean and theory curve in its own colour. Returns the `Figure`.
    """
    if not trajs:
        raise ValueError("compare needs at least one trajectory")
    theory = {} if theory is None else dict(theory)
    extra = set(theory) - set(trajs)
    if extra:
        raise ValueError(f"theory given for unknown label(s) {sorted(extra)}; labels are {list(trajs)}")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig, ax = _new_axes(ax)
    handles, all_bands, any_theory = [], set(), False
    for name, traj in trajs.items():
        color, drawn, has_theory = _draw_fan(ax, traj, metric, theory=theory.get(name), bands=DEFAULT_BANDS,
                                             label=name, color=None, log=log, theory_label="theory",
                                             band_alpha=0.1, legend=False)
        handles.append(Line2D([], [], color=color, lw=1.8, label=name))
        all_bands.update(drawn)
        any_theory |= has_theory
    # one entry per label, then the line styles shared by every fan
    key = "0.35"
    handles += [Line2D([], [], color=key, lw=1.8, label="median"),
                Line2D([], [], color=key, lw=1.2, ls="--", label="mean")]
    if any_theory:
        handles.append(Line2D([], [], color=key, lw=2.0, ls=":", label="theory"))
    if all_bands:
        text = ", ".join(f"{100 * lo:g}–{100 * hi:g}%" for lo, hi in sorted(all_bands))
        handles.append(Patch(color=key, alpha=0.3, lw=0, label=f"bands: {text} of chains"))
    _finish(ax, metric, log, handles)
    ax.set_title(f"{metric} across chains")
    return fig


# --------------------------------------------------------------------------- phase diagrams
def _axis_positions(values) -> tuple[np.ndarray, np.ndarray, bool, list[str] | None]:
    """Cell centres, cell edges, whether to use a log axis, and tick labels (for a categorical axis)."""
    vals = np.asarray(values)
    if vals.dtype.kind in "iuf":
        c = vals.astype(np.float64)
        if c.size > 1 and np.all(np.diff(c) > 0):
            log = bool(np.all(c > 0) and c[-1] / c[0] > 20)
            s = np.log(c) if log else c
            mid = (s[1:] + s[:-1]) / 2
            edges = np.concatenate([[s[0] - (mid[0] - s[0])], mid, [s[-1] + (s[-1] - mid[-1])]])
            return c, (np.exp(edges) if log else edges), log, None
    n = vals.size
    return np.arange(n, dtype=np.float64), np.arange(n + 1) - 0.5, False, [str(v) for v in vals]


def phase_diagram(
    ds,
    x: str,
    y: str,
    metric: str,
    *,
    stat: str = "mean",
    generation: int = -1,
    below: float | None = None,
    boundary: str | Callable | None = None,
    log: bool = False,
    center: float | None = None,
    select: Mapping[str, Any] | None = None,
    ax=None,
    cmap: str | None = None,
):
    r"""A phase diagram of a sweep over two swept parameters `x` and `y`.

    `ds` is the dataset of `jaxcollapse.sweep.run_sweep` / `open_sweep` (dimensions: the grid
    parameters, ``generation``, ``stat``). The colour of cell $(x, y)$ is

    - with `below` None: the statistic `stat` (``"mean"``, ``"std"``, ``"q0.5"``, ...) of `metric`
      at generation `generation` (default the last), e.g. the final $\mathbb E\,W_2^2$ or trace ratio;
    - with `below` set: the first generation at which that statistic falls below `below` (e.g. the
      generations until the mean variance falls under 10% of the truth's: ``metric="trace_ratio",
      below=0.1``); cells where it never does are hatched and labelled "> G".

    Other grid dimensions must have one value or be fixed by `select` (``{name: value}``).
    `boundary` draws a theory curve $y = f(x)$: a callable of the $x$ values, or the name of a
    function of `jaxcollapse.theory` (e.g. ``"critical_temperature"``: $\tau_c(n) = \sqrt{n/(n-1)}$,
    the temperature above which the MLE's mean variance no longer shrinks under replace). Numeric
    axes use the parameter values (a log axis when they span more than a factor 20); string axes
    (e.g. the regime) are categorical. `log` colours on a log scale; `center` (e.g. 1 for a
    variance ratio) uses a diverging colour map centred there (shrinking vs growing). Returns the `Figure`.
    """
    from matplotlib.colors import LogNorm, TwoSlopeNorm

    if metric not in ds.data_vars:
        raise ValueError(f"metric {metric!r} is not in the sweep; have {list(ds.data_vars)}")
    for name in (x, y):
        if name not in ds.dims:
            raise ValueError(f"{name!r} is not a swept dimension of the sweep; dimensions: {list(ds.dims)}")
    if x == y:
        raise ValueError("x and y must be different parameters")
    stats = [str(s) for s in ds["stat"].values]
    if stat not in stats:
        raise ValueError(f"stat {stat!r} was not recorded; recorded: {stats}")
    da = ds[metric].sel(stat=stat)
    if select:
        da = da.sel(dict(select))
    extra = [d for d in da.dims if d not in (x, y, "generation") and da.sizes[d] != 1]
    if extra:
        raise ValueError(f"the sweep has other swept dimensions {extra}: fix them with select={{name: value}}")
    da = da.squeeze([d for d in da.dims if d not in (x, y, "generation")], drop=True).transpose(y, x, "generation")
    values = np.asarray(da.values, dtype=np.float64)
    gens = np.asarray(da["generation"].values)
    if below is None:
        z = values[..., generation]
        label = f"{stat} {metric} at generation {gens[generation]}"
        never = np.zeros(z.shape, bool)
    else:
        hit = values < below
        first = np.argmax(hit, axis=-1)
        never = ~hit.any(axis=-1)
        z = np.where(never, np.nan, gens[first]).astype(np.float64)
        label = f"first generation with {stat} {metric} < {below:g}"
    xc, xe, xlog, xlab = _axis_positions(ds[x].values)
    yc, ye, ylog, ylab = _axis_positions(ds[y].values)
    fig, ax = _new_axes(ax)
    shown = np.where(np.isfinite(z) & ((z > 0) if log else True), z, np.nan)
    finite = shown[np.isfinite(shown)]
    norm = None
    if center is not None and finite.size:
        if log:
            span = float(np.max(np.abs(np.log10(finite / center))))
            span = max(span, 1e-12)
            norm = LogNorm(center * 10.0**-span, center * 10.0**span)
        else:
            span = max(float(np.max(np.abs(finite - center))), 1e-12)
            norm = TwoSlopeNorm(center, center - span, center + span)
        cmap = cmap or "RdBu_r"
    elif log and finite.size:
        norm = LogNorm()
    mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(shown), cmap=cmap or "viridis", norm=norm, shading="flat")
    fig.colorbar(mesh, ax=ax, label=label)
    if never.any():
        ax.pcolor(xe, ye, np.ma.masked_where(~never, np.ones_like(z)), hatch="//", alpha=0.0, shading="flat")
        for (i, j) in zip(*np.nonzero(never), strict=True):
            ax.text(xc[j], yc[i], f"> {gens[-1]}", ha="center", va="center", fontsize="x-small")
    if boundary is not None:
        if isinstance(boundary, str):
            from . import theory

            fn = getattr(theory, boundary, None)
            if fn is None or not callable(fn):
                raise ValueError(f"jaxcollapse.theory has no function {boundary!r}")
            blabel = f"theory: {boundary}"
        else:
            fn, blabel = boundary, "theory boundary"
        if xlab is not None:
            raise ValueError("a theory boundary needs a numeric x axis")
        if xlog:
            xs = np.geomspace(xe[0], xe[-1], 200)
        else:
            xs = np.linspace(xe[0], xe[-1], 200)
        ys = np.asarray(fn(xs), dtype=np.float64)
        ok = np.isfinite(ys)
        ax.plot(xs[ok], ys[ok], color="white", lw=2.5)
        ax.plot(xs[ok], ys[ok], color="crimson", lw=1.5, ls="--", label=blabel)
        ax.legend(fontsize="small", loc="best")
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    if xlab is not None:
        ax.set_xticks(xc, xlab)
    if ylab is not None:
        ax.set_yticks(yc, ylab)
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{metric}: {label}", fontsize="medium")
    return fig
