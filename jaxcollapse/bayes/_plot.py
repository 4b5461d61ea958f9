r"""The forecast fan: observed chains, the posterior (predictive) bands ahead, and optionally the truth.

Where chains are absorbed at 0, a lower panel shows the observed and the forecast absorbed fraction;
the posterior's warnings (data that contradict the model) are printed on the figure, and a forecast
marked unreliable for its family (`Forecast.caveat`) says so in the title and under the figure.
Matplotlib is imported inside the function; the figure is a standalone `Figure` (Agg canvas).
"""

from __future__ import annotations

import textwrap
import warnings

import numpy as np

from ._forecast import Forecast


def forecast_fan(fc: Forecast, observed=None, *, truth=None, max_chains: int = 30, ax=None, log: bool | None = None,
                 bands=((0.05, 0.95), (0.25, 0.75)), title: str | None = None):
    r"""Draw `fc` as a fan of quantile bands and its median.

    - `observed`: array `(generations, chains)` of the observed statistic (generation 0 first);
      up to `max_chains` chains are drawn as thin grey lines, with their median in black (their mean
      for the diversity and error models, whose forecast is of the expected value).
    - `truth`: array `(generations, chains)` of the simulated continuation (generation 0 first), drawn
      as thin orange lines with its median dashed, to judge the forecast against.
    - `log`: log-scale y axis (default: yes for the spread and diversity models without absorbed
      chains; a fan that reaches 0 is drawn on a symlog axis).

    Returns the `matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    if fc.paths.ndim != 2:
        raise ValueError("forecast_fan draws a forecast from one start (paths of shape (draws, generations))")
    note = "\n".join(textwrap.fill(f"warning: {w}", 110) for w in (*fc.warnings, *([fc.caveat] if fc.caveat else [])))
    if ax is None:
        fig = Figure(figsize=(7, 4.2 + (1.3 if fc.absorbed is not None else 0) + 0.25 * note.count("\n")
                              + (0.3 if note else 0)))
        if fc.absorbed is not None:
            ax, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
        else:
            ax, ax2 = fig.add_subplot(1, 1, 1), None
    else:
        fig, ax2 = ax.figure, None
    g = fc.generations
    center = np.nanmean if fc.kind == "mean" else np.nanmedian
    center_name = "mean" if fc.kind == "mean" else "median"

    def lines(arr, color, label, lw=0.6, alpha=0.5):
        a = np.asarray(arr, np.float64)
        if a.ndim == 1:
            a = a[:, None]
        t = np.arange(a.shape[0])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: missing generations
            ax.plot(t, a[:, :max_chains], color=color, lw=lw, alpha=alpha)
            ax.plot(t, center(a, axis=1), color=color if color != "0.6" else "k", lw=1.6, label=label,
                    ls="-" if color == "0.6" else "--")
        return a

    if truth is not None:
        lines(truth, "tab:orange", f"simulated truth ({center_name})", alpha=0.35)
    obs = None if observed is None else lines(observed, "0.6", f"observed ({center_name})")
    for (lo, hi), alpha in zip(bands, (0.2, 0.35), strict=False):
        ql, qh = fc.quantile([lo, hi])
        ax.fill_between(g, ql, qh, color="tab:blue", alpha=alpha, lw=0, label=f"forecast {lo:.0%}-{hi:.0%}")
    ax.plot(g, fc.quantile(0.5), color="tab:blue", lw=2, label="forecast median")
    if fc.threshold is not None:
        ax.axhline(fc.threshold, color="tab:red", lw=1, ls=":", label=f"threshold {fc.threshold:.3g}")
        med = float(fc.crossing_quantile(0.5))
        if np.isfinite(med):
            ax.axvline(med, color="tab:red", lw=1, ls="--", label=f"median crossing {med:.0f}")
    if log is None:
        log = fc.model != "error"
    if log:
        zero = np.any(fc.paths <= 0) or (obs is not None and np.any(obs[np.isfinite(obs)] <= 0))
        if zero:
            pos = fc.paths[fc.paths > 0]
            ax.set_yscale("symlog", linthresh=float(np.quantile(pos, 0.01)) if pos.size else 1e-3)
            ax.set_ylim(bottom=0.0)
        else:
            ax.set_yscale("log")
    ax.set_ylabel("statistic")
    kind = "predictive: one chain" if fc.kind == "predictive" else "mean"
    title = title or f"forecast ({fc.model} model, {kind})"
    if fc.caveat:
        ax.set_title(title + "\nMARKED UNRELIABLE for this family (see the warning below)", fontsize=10,
                     color="tab:red")
    else:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="best")
    if ax2 is not None:
        if obs is not None:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                frac = np.sum(obs == 0, axis=1) / np.sum(np.isfinite(obs), axis=1)
            ax2.plot(np.arange(obs.shape[0]), frac, color="k", lw=1.4, label="observed")
        lo, med, hi = np.quantile(fc.absorbed, [0.05, 0.5, 0.95], axis=0)
        ax2.fill_between(g, lo, hi, color="tab:purple", alpha=0.3, lw=0, label="forecast 5%-95%")
        ax2.plot(g, med, color="tab:purple", lw=1.6, label="forecast median")
        ax2.set_ylim(-0.02, 1.02)
        ax2.set_ylabel("absorbed at 0")
        ax2.legend(fontsize=7, loc="best")
        ax2.set_xlabel("generation")
    else:
        ax.set_xlabel("generation")
    if note:
        fig.text(0.01, 0.005, note, color="tab:red", fontsize=7, va="bottom", ha="left")
        fig.tight_layout(rect=(0, 0.03 + 0.028 * (note.count("\n") + 1), 1, 1))
    else:
        fig.tight_layout()
    return fig
