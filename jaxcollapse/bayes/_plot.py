r"""The forecast fan: observed chains, the posterior (predictive) bands ahead, and optionally the truth.

Matplotlib is imported inside the function; the figure is a standalone `Figure` (Agg canvas).
"""

from __future__ import annotations

import warnings

import numpy as np

from ._forecast import Forecast


def forecast_fan(fc: Forecast, observed=None, *, truth=None, max_chains: int = 30, ax=None, log: bool | None = None,
                 bands=((0.05, 0.95), (0.25, 0.75)), title: str | None = None):
    r"""Draw `fc` as a fan of quantile bands and its median.

    - `observed`: array `(generations, chains)` of the observed statistic (generation 0 first);
      up to `max_chains` chains are drawn as thin grey lines, with their median in black.
    - `truth`: array `(generations, chains)` of the simulated continuation (generation 0 first), drawn
      as thin orange lines with its median dashed, to judge the forecast against.
    - `log`: log-scale y axis (default: yes for the spread and diversity models).

    Returns the `matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    if fc.paths.ndim != 2:
        raise ValueError("forecast_fan draws a forecast from one start (paths of shape (draws, generations))")
    if ax is None:
        fig = Figure(figsize=(7, 4.2))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    log = fc.model != "error" if log is None else log
    g = fc.generations

    def lines(arr, color, label, lw=0.6, alpha=0.5):
        a = np.asarray(arr, np.float64)
        if a.ndim == 1:
            a = a[:, None]
        t = np.arange(a.shape[0])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: missing generations
            ax.plot(t, a[:, :max_chains], color=color, lw=lw, alpha=alpha)
            ax.plot(t, np.nanmedian(a, axis=1), color=color if color != "0.6" else "k", lw=1.6, label=label,
                    ls="-" if color == "0.6" else "--")

    if truth is not None:
        lines(truth, "tab:orange", "simulated truth (median)", alpha=0.35)
    if observed is not None:
        lines(observed, "0.6", "observed (median)")
    for (lo, hi), alpha in zip(bands, (0.2, 0.35), strict=False):
        ql, qh = fc.quantile([lo, hi])
        ax.fill_between(g, ql, qh, color="tab:blue", alpha=alpha, lw=0, label=f"forecast {lo:.0%}-{hi:.0%}")
    ax.plot(g, fc.quantile(0.5), color="tab:blue", lw=2, label="forecast median")
    if fc.threshold is not None:
        ax.axhline(fc.threshold, color="tab:red", lw=1, ls=":", label=f"threshold {fc.threshold:.3g}")
        med = float(fc.crossing_quantile(0.5))
        if np.isfinite(med):
            ax.axvline(med, color="tab:red", lw=1, ls="--", label=f"median crossing {med:.0f}")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("generation")
    ax.set_ylabel("statistic")
    ax.set_title(title or f"forecast ({fc.model} model, {'predictive' if fc.kind == 'predictive' else 'mean'})")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig
