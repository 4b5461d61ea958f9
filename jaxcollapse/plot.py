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

# line styles, one per role, chosen to stay apart in print and in greyscale: the median solid, the mean
# long-dashed, the theory round dots (thicker, in a darker shade, drawn over every band and line)
MEDIAN_STYLE = dict(lw=1.8, ls="-")
MEAN_STYLE = dict(lw=1.3, ls=(0, (6.0, 2.5)))
THEORY_STYLE = dict(lw=2.6, ls=(0, (0.01, 1.9)), dash_capstyle="round")
REFERENCE_STYLE = dict(lw=1.0, ls="-", color="0.45")
BAND_ZORDER, LINE_ZORDER, THEORY_ZORDER = 1.0, 2.5, 4.0

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
                        color=color, alpha=band_alpha * (1 + k + max(0, 2 - len(resolved))), linewidth=0,
                        zorder=BAND_ZORDER,
                        label=lab(f"{name}{100 * lo:g}–{100 * hi:g}% of chains"))
    if 0.5 in levels:
        ax.plot(t, _finite(traj.quantile(metric, 0.5), log), color=color, label=lab(f"{name}median"),
                zorder=LINE_ZORDER, **MEDIAN_STYLE)
    mean = np.asarray(traj.mean(metric), dtype=np.float64)
    mean_label = f"{name}mean" if np.all(np.isfinite(mean)) else f"{name}mean (infinite where chains collapsed)"
    ax.plot(t, _finite(mean, log), color=color, label=lab(mean_label), zorder=LINE_ZORDER, **MEAN_STYLE)
    if theory is not None:
        th = _theory_values(theory, t)
        tl = theory_label if label is None else f"{label}: {theory_label}"
        draw_theory(ax, t, _finite(th, log), color="black" if label is None else darker(color), label=lab(tl))
    if t.size > 1:
        ax.set_xlim(t[0], t[-1])  # the generations run, even where a metric is infinite (not drawn)
    return color, resolved, theory is not None


def darker(color, by: float = 0.45):
    """`color` mixed with black (a theory curve stands out from its own fan and still names its regime)."""
    from matplotlib.colors import to_rgb

    return tuple((1.0 - by) * c for c in to_rgb(color))


def draw_theory(ax, x, y, *, color="black", label=None, **kw):
    """A theory curve in the one theory style: round dots, above every band and line."""
    (line,) = ax.plot(x, y, color=color, label=label, zorder=THEORY_ZORDER, **{**THEORY_STYLE, **kw})
    return line


def reference_line(ax, value: float, text: str, *, log: bool = False):
    """A horizontal reference (the truth's value, a bound): a thin grey line labelled at the right edge.

    Left out (returns None) when `value` is not finite (or not positive on a log axis)."""
    value = float(value)
    if not np.isfinite(value) or (log and value <= 0):
        return None
    line = ax.axhline(value, zorder=LINE_ZORDER - 0.5, label="_nolegend_", **REFERENCE_STYLE)
    ax.annotate(text, (1.0, value), xycoords=ax.get_yaxis_transform(), xytext=(-3, 2), textcoords="offset points",
                ha="right", va="bottom", fontsize="small", color="0.25", zorder=THEORY_ZORDER + 1,
                bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.7))
    return line


def _finish(ax, metric: str, log: bool, handles=None, legend: str | None = "best") -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

    if log:
        ax.set_yscale("log", nonpositive="mask")
        lo, hi = ax.get_ylim()
        if 0 < lo < hi < lo * 10**2.5:  # a short log axis: label 1, 2, 5 of each decade (two labels read badly)
            plain = FuncFormatter(lambda v, _: f"{v:g}")
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
            ax.yaxis.set_minor_formatter(plain)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # generations are whole numbers
    ax.set_xlabel("generation $t$")
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    if legend == "outside":
        ax.legend(handles=handles, fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0.0)
    elif legend is not None:
        ax.legend(handles=handles, fontsize="small", loc=legend)


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
    legend: str | None = "best",
    references: Mapping[str, float] | None = None,
    bands: Sequence[tuple[float, float]] = DEFAULT_BANDS,
):
    """Several regimes (or any labelled trajectories) on one axis: one fan per entry of `trajs`.

    `theory` maps some of the same labels to a theory curve (array over the generations or a
    callable); labels without one get no curve. Each fan shows its 25–75% band (and the
    5–95% band, fainter), median, mean and theory curve in its own colour; every band lies under
    every line and the theory curves lie on top. `legend`: a matplotlib ``loc`` inside the axes
    (default ``"best"``), ``"outside"`` (to the right of the axes) or None (no legend).
    `references` maps a label to a constant (e.g. ``{"truth (t = 0)": h0}``): a thin grey
    horizontal line, labelled at the right edge of the axes. `bands`: the quantile pairs shaded (as
    in `fan_chart`). Returns the `Figure`.
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
    handles, all_bands, any_theory, gaps = [], set(), False, False
    for name, traj in trajs.items():
        color, drawn, has_theory = _draw_fan(ax, traj, metric, theory=theory.get(name), bands=bands,
                                             label=name, color=None, log=log, theory_label="theory",
                                             band_alpha=0.1, legend=False)
        handles.append(Line2D([], [], color=color, lw=1.8, label=name))
        all_bands.update(drawn)
        any_theory |= has_theory
        gaps |= not np.all(np.isfinite(np.asarray(traj.mean(metric), dtype=np.float64)))
    for text, value in (references or {}).items():
        reference_line(ax, value, text, log=log)
    # one entry per label, then the line styles shared by every fan
    key = "0.35"
    handles += [Line2D([], [], color=key, label="median", **MEDIAN_STYLE),
                Line2D([], [], color=key, label="mean (infinite where chains collapsed)" if gaps else "mean",
                       **MEAN_STYLE)]
    if any_theory:
        handles.append(Line2D([], [], color=key, label="theory", **THEORY_STYLE))
    if all_bands:
        text = ", ".join(f"{100 * lo:g}–{100 * hi:g}%" for lo, hi in sorted(all_bands))
        handles.append(Patch(color=key, alpha=0.3, lw=0, label=f"bands: {text} of chains"))
    _finish(ax, metric, log, handles, legend=legend)
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
      below=0.1``); cells where it never does are hatched grey, and named in the legend ("> G").

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
    norm, ticks = None, None
    if center is not None and finite.size:
        # each side of the centre spans its own half of the colour map, up to the data's extreme on that side:
        # a symmetric range would wash out the side whose values stay close to the centre
        if log:
            norm = _two_slope_log_norm(float(finite.min()), float(finite.max()), center)
            ticks = _log_ticks(norm.vmin, norm.vmax, center)
        else:
            tiny = 1e-12 * max(1.0, abs(center))
            lo, hi = min(float(finite.min()), center - tiny), max(float(finite.max()), center + tiny)
            norm = TwoSlopeNorm(center, lo, hi)
            ticks = _linear_ticks(norm.vmin, norm.vmax, center)
        cmap = cmap or "RdBu_r"
    elif log and finite.size:
        norm = LogNorm()
    mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(shown), cmap=cmap or "viridis", norm=norm, shading="flat")
    bar = fig.colorbar(mesh, ax=ax, label=f"{stat} {metric}" if below is None else "generation")
    if ticks is not None:
        from matplotlib.ticker import FuncFormatter, NullLocator

        bar.set_ticks(ticks)
        bar.ax.yaxis.set_minor_locator(NullLocator())
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _tick_text(v)))
    keyed = []  # legend entries: the hatched cells, the theory boundary
    if never.any():
        from matplotlib.colors import ListedColormap
        from matplotlib.patches import Patch

        ax.pcolor(xe, ye, np.ma.masked_where(~never, np.ones_like(z)), cmap=ListedColormap(["0.94"]), hatch="//",
                  edgecolor="0.6", linewidth=0.0, shading="flat")
        keyed.append(Patch(facecolor="0.94", edgecolor="0.6", hatch="//", lw=0.0,
                           label=f"not below {below:g} by generation {gens[-1]} (> {gens[-1]})"))
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
        keyed += ax.plot(xs[ok], ys[ok], color="black", lw=1.5, ls="--", label=blabel)  # seen on either side
    if keyed:
        ax.legend(handles=keyed, fontsize="small", loc="best", framealpha=0.9)
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
    for axis, centres, is_log, names in ((ax.xaxis, xc, xlog, xlab), (ax.yaxis, yc, ylog, ylab)):
        if names is None and _ticks_fit(centres, is_log):  # the swept values themselves, when they do not crowd
            from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

            axis.set_major_locator(FixedLocator(centres))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_locator(NullLocator())
    ax.set_title(label[0].upper() + label[1:], fontsize="medium")
    return fig


def _ticks_fit(centres: np.ndarray, log: bool) -> bool:
    """Whether a tick at every cell centre leaves room for its label (at least 7% of the axis apart)."""
    if centres.size < 2 or centres.size > 15:
        return False
    s = np.log(centres) if log else centres
    return bool(np.min(np.diff(s)) >= 0.07 * (s[-1] - s[0]))


def _two_slope_log_norm(lo: float, hi: float, center: float):
    r"""A colour norm on $\log_{10}(v/c)$: $[lo, c]$ onto $[0, \tfrac12]$ and $[c, hi]$ onto $[\tfrac12, 1]$
    (each side at least a tenth of a percent wide), so that each side of the centre uses its half of a
    diverging colour map whatever its extent."""
    from matplotlib.colors import FuncNorm

    below = min(np.log10(lo / center), -1e-3)
    above = max(np.log10(hi / center), 1e-3)

    def forward(v):
        with np.errstate(divide="ignore", invalid="ignore"):  # masked cells arrive as 0 or NaN
            d = np.log10(np.asarray(v, dtype=np.float64) / center)
        return np.where(d < 0, d / -below, d / above)

    def inverse(u):
        u = np.asarray(u, dtype=np.float64)
        return center * 10.0 ** np.where(u < 0, -u * below, u * above)

    return FuncNorm((forward, inverse), vmin=center * 10.0**below, vmax=center * 10.0**above)


def _log_ticks(vmin: float, vmax: float, center: float) -> list[float]:
    """Colour-bar ticks for `_two_slope_log_norm`: the centre, and on each side 1-2-5 steps (a short side)
    or every k-th power of ten (a long one), at most about five a side."""
    ticks = {center}
    for a, b in ((vmin, center), (center, vmax)):
        lo, hi = np.log10(a), np.log10(b)
        if hi - lo <= 1.5:
            cand = [m * 10.0**k for k in range(int(np.floor(lo)) - 1, int(np.ceil(hi)) + 1) for m in (1, 2, 5)]
        else:
            step = max(1, int(np.ceil((hi - lo) / 5)))
            cand = [10.0**k for k in range(int(np.ceil(lo)), int(np.floor(hi)) + 1) if k % step == 0]
        ticks.update(c for c in cand if a * (1 - 1e-9) <= c <= b * (1 + 1e-9))
    return sorted(ticks)


def _linear_ticks(vmin: float, vmax: float, center: float) -> list[float]:
    """Colour-bar ticks for a two-slope linear norm: the centre and a few round values on each side."""
    from matplotlib.ticker import MaxNLocator

    ticks = {center}
    for a, b in ((vmin, center), (center, vmax)):
        ticks.update(float(v) for v in MaxNLocator(4).tick_values(a, b) if a <= v <= b)
    return sorted(ticks)


def _tick_text(v: float) -> str:
    k = np.log10(v) if v > 0 else 0.0
    if v > 0 and abs(k - round(k)) < 1e-9 and abs(k) >= 3:
        return f"$10^{{{int(round(k))}}}$"
    return f"{v:g}"
