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
