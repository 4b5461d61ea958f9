"""What the four Suresh et al. 2024 reproductions share: the citation, the published-values statement, and the
report lines of a survival probability against its exact value and its bound."""

from __future__ import annotations

import math

import numpy as np

from ._base import Line

PAPER = "Suresh et al. 2024"
CITATION = ("A. T. Suresh, A. Thangaraj, A. N. K. Khandavally. Rate of model collapse in recursive training. "
            "arXiv:2412.17646 (2024); AISTATS 2025, PMLR 258:1396-1404")
PUBLISHED = ("none: the stored copy of arXiv:2412.17646 holds its first page only, so its figures' numbers and exact "
             "experimental settings (beyond those in the issue) could not be read")


def share_se(p: np.ndarray, chains: int) -> np.ndarray:
    """The standard error of a share of `chains` independent indicators: sqrt(p (1 - p) / chains)."""
    p = np.clip(np.asarray(p, np.float64), 0.0, 1.0)
    return np.sqrt(p * (1.0 - p) / chains)


MIN_SHARE = 0.02
"""A share is reported only where its exact value lies in [0.02, 0.98]: at the smallest chain counts run (500) both
outcomes are then expected at least 10 times, so the normal approximation behind |z| < 4 holds; nearer 0 or 1 a
single rare chain would move z by several units."""


def survival_lines(what: str, ks_exact, ks_bound, ours: np.ndarray, chains: int, exact: np.ndarray,
                   bound: np.ndarray, rule: str, bound_source: str, exact_source: str) -> list[Line]:
    """Report lines of a share `ours` (one entry per generation) over `chains` chains, at the generations where the
    exact share lies in [`MIN_SHARE`, 1 - `MIN_SHARE`] (a choice made from the theory alone, the same at every scale).

    At each such generation of `ks_exact`: against the exact value (rule "equal"), with the share's standard error
    under that value, sqrt(p (1 - p) / chains) (the z-test's null standard error). At each such generation of
    `ks_bound` where the bound is finite: against the bound (`rule`), with the observed share's standard error."""
    def usable(k):
        return MIN_SHARE <= float(exact[k]) <= 1.0 - MIN_SHARE

    lines = []
    for k in ks_exact:
        if usable(k):
            lines.append(Line(f"{what}, k={k}", ours[k], share_se(exact[k], chains), exact[k],
                              theory_source=exact_source))
    for k in ks_bound:
        if usable(k) and math.isfinite(float(bound[k])):
            lines.append(Line(f"{what}, k={k} (bound)", ours[k], share_se(ours[k], chains), bound[k], rule=rule,
                              theory_source=bound_source))
    return lines
