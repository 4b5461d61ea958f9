r"""Kazdan et al. 2024 ("Collapse or thrive?"): kernel density estimates refit on their own samples, on 2-D blobs,
circles, moons and swiss roll, with a bandwidth sweep, under replace, accumulate and accumulate-subsample.

**Setup, as the authors' code runs it** (github.com/RylanSchaeffer/KoyejoLab-Collapse-or-Thrive, read with the
code search: ``src/fit_kdes/fit_kdes.py``, the sweeps ``sweeps/fit_kdes_bandwidth/*.yaml`` and the notebook
``notebooks/11_kde_bandwidth_swept``): scikit-learn's ``KernelDensity`` with a Gaussian kernel of fixed
bandwidth $h \in \{0.01, 0.0316, 0.1, 0.316, 1, 3.16, 10, 31.6, 100\}$ (kernel covariance $h^2 I$); $n \in
\{10, 32, 100, 316, 1000\}$ samples per model-fitting iteration; 100 iterations; 100 seeds; the settings
Replace, Accumulate and Accumulate-Subsample. The data: ``make_blobs`` (2 features, scikit-learn's defaults:
3 centres uniform in $[-10, 10]^2$, cluster standard deviation 1), ``make_circles``, ``make_moons`` and
``make_swiss_roll``, each with noise 0.05; $2n$ points split in half (``train_test_split``), the first model fit
on the training half (the stored ``fit_kdes.py`` draws only $n$ blob points, so its blob training half has
$n/2$; its later version, the one the swiss-roll and accumulate-subsample sweeps run, is not stored; here every
toy trains on $n$). The metric: the mean negative log-likelihood of the held-out real half (``Mean Negative
Log Prob (Test)``, plotted as "NLL on Real Data (Test)").

**What runs here.** The same KDE (`jaxcollapse.KDE` with a fixed bandwidth: a stored point plus $N(0, h^2 I)$
noise, the draw of ``KernelDensity.sample``), the four toys from scikit-learn's own generators (2-D swiss roll:
the $(x, z)$ coordinates of ``make_swiss_roll``, as the issue asks; the stored code predates its swiss roll),
all nine bandwidths, the three settings and 100 iterations, at **one** $n$ (`N`, one of theirs: the
accumulated pool holds $100n$ points and the held-out NLL costs $100n$ kernel evaluations per test point and
generation, so the full grid of five $n$ does not fit a 10-minute CPU budget), over `REPLICATES`
independent real datasets per toy (their seeds) with `CHAINS` chains each.

- *Index*: model 0 is the KDE fit on the real training half (their iteration 1); generation $t$ here is their
  iteration $t + 1$.
- *Memory*: the engine's accumulate pool and accumulate-subsample buffer hold the synthetic samples only
  (generation $t$ fits on the $tn$ draws of models $0..t-1$), where theirs also hold the $n$ real training
  points; the first draws (of model 0, the KDE of the real points) stand in for them. The real share of their
  pool is $1/(t+1)$.
- *Metric*: the NLL of `EVAL_SIZE` fresh draws of the toy's population law per chain and generation (the
  KDE's ``nll`` metric), instead of a fixed held-out half. A held-out half is independent of the fits, so both
  have the same expectation; ours has no test-set noise common to all generations. The population laws are
  written as KDEs (`population`): blobs are exactly the 3-component mixture; circles, moons and the swiss roll
  are their curves (4,096 equally spaced points, uniform in the generator's angle or roll parameter) blurred
  by the noise 0.05, whose density ripple between grid points is below $10^{-5}$ of the density.

**Theory.** The NLL has no closed form here (the toys are not Gaussian). The KDE's moments do: with a fixed
bandwidth, given the real training points $x_1..x_n$, $E\,\mathrm{tr}\,\mathrm{Cov}_t$ (``spread``) and the
squared distance of the KDE's mean from the population mean (``mean_sq_err``) obey an exact linear
recursion under replace and accumulate (`jaxcollapse.theory.kde_fixed_moments`, derived there; it holds for
any starting points, so for every toy). The process is translation-equivariant, so the distance from the
population mean $m$ is the recursion run on the points $x_i - m$. The report compares the spread; both
curves are in ``curves.csv`` (``theory_spread``, ``theory_mean_sq_err``), the mean's error without report lines
(a squared distance, strongly skewed: with 16 chains per point its means sat 2 to 3 standard errors below
the curve, too close to the bound for a reliable line; the registered checks ``kde.fixed_replace`` and
``kde.fixed_accumulate`` compare it with 8,000 chains). Under
replace the points' own share of the spread is multiplied each generation by an independent
$\chi^2_{n-1}/n$-like factor, so past $t \approx n/2$ ($\mathrm{Var}\ln \approx 2t/n > 1$) its mean over
chains is carried by the rare chains that coalesce late (as the Gaussian's variance in
`shumailov2024_gaussian`): the replace spread is compared at $t = n/2$, the accumulate spread at $t = 100$.
Accumulate-subsample has no closed form.

**Published values.** None could be read: the paper's KDE results are figures only (NLL curves), its HTML is not
in the search corpus, and the code repository holds the plotting notebooks but not the W&B run data.
"""

from __future__ import annotations

import numpy as np

from ._base import Line, Reproduction, Result, register, scaled

DATASETS = ("blobs", "circles", "moons", "swiss_roll")
BANDWIDTHS = (0.01, 0.0316, 0.1, 0.316, 1.0, 3.16, 10.0, 31.6, 100.0)
REGIMES = ("replace", "accumulate", "accumulate_subsample")
N = 10
GENERATIONS = 100
REPLICATES = 2  # independent real datasets per toy (the authors' seeds)
CHAINS = 32  # chains per real dataset at scale 1
EVAL_SIZE = 16  # population draws behind the NLL, per chain and generation
NOISE = 0.05  # circles, moons, swiss roll (the sweeps' dataset_kwargs)
POP_ROWS = 4096  # grid points of a curve toy's population law
LINE_BANDWIDTHS = (0.1, 1.0)  # the bandwidths with report lines for the moments
T_SPREAD_REPLACE = N // 2  # replace: the spread is compared while Var ln ~ 2t/n <= 1 (module docstring)
_SEED_SALT = 0x4B415A  # fold_in(key, this): the scikit-learn seeds of the real datasets


def real_data(name: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The training half of the authors' real data (``2n`` points from the scikit-learn generator, split in half
    by ``train_test_split``), shape (n, 2), and the blob centres ((3, 2); empty for the other toys)."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    centres = np.zeros((0, 2))
    if name == "blobs":
        x, _, centres = datasets.make_blobs(n_samples=2 * n, n_features=2, random_state=seed, return_centers=True)
    elif name == "circles":
        x = datasets.make_circles(n_samples=2 * n, noise=NOISE, random_state=seed)[0]
    elif name == "moons":
        x = datasets.make_moons(n_samples=2 * n, noise=NOISE, random_state=seed)[0]
    elif name == "swiss_roll":
        x = datasets.make_swiss_roll(n_samples=2 * n, noise=NOISE, random_state=seed)[0][:, [0, 2]]
    else:
        raise ValueError(f"unknown toy {name!r}; choose one of {DATASETS}")
    train, _ = train_test_split(x, test_size=0.5, random_state=seed)
    return np.asarray(train, np.float64), np.asarray(centres, np.float64)


def population(name: str, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    r"""The population law of a toy as a KDE: (points, weights, bandwidth).

    Blobs: the 3 centres with the cluster standard deviation 1 (exact). Circles (radii 1 and 0.8), moons and
    the swiss roll's $(t\cos t, t\sin t)$, $t = 1.5\pi(1 + 2u)$: `POP_ROWS` points at equally spaced midpoints
    of the generator's parameter (half per circle or moon, as the generators split the samples), blurred by
    the noise 0.05 (scikit-learn adds $N(0, 0.05^2)$ to every coordinate).
    """
    if name == "blobs":
        pts = np.zeros((POP_ROWS, 2))
        pts[: len(centres)] = centres
        w = np.zeros(POP_ROWS)
        w[: len(centres)] = 1.0
        return pts, w, 1.0
    half = POP_ROWS // 2
    u = (np.arange(half) + 0.5) / half
    if name == "circles":
        a = 2.0 * np.pi * u
        ring = np.stack([np.cos(a), np.sin(a)], axis=1)
        pts = np.concatenate([ring, 0.8 * ring])
    elif name == "moons":
        a = np.pi * u
        pts = np.concatenate([np.stack([np.cos(a), np.sin(a)], axis=1),
                              np.stack([1.0 - np.cos(a), 0.5 - np.sin(a)], axis=1)])
    elif name == "swiss_roll":
        t = 1.5 * np.pi * (1.0 + 2.0 * (np.arange(POP_ROWS) + 0.5) / POP_ROWS)
        pts = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
    else:
        raise ValueError(f"unknown toy {name!r}; choose one of {DATASETS}")
    return pts, np.ones(POP_ROWS), NOISE


def _seeds(key) -> np.ndarray:
    """The scikit-learn seeds of the real datasets, (len(DATASETS), REPLICATES), made from `key`."""
    import jax

    k = jax.random.fold_in(key, _SEED_SALT)
    return np.asarray(jax.random.randint(k, (len(DATASETS), REPLICATES), 0, 2**31 - 1))


class Kazdan2024KDE(Reproduction):
    name = "kazdan2024_kde"
    paper = "Kazdan et al. 2024"
    figure_ref = "KDE experiments (bandwidth sweep; the authors' notebook 11_kde_bandwidth_swept)"
    citation = ("J. Kazdan, R. Schaeffer, A. Dey, M. Gerstgrasser, R. Rafailov, D. L. Donoho, S. Koyejo. Collapse or "
                "thrive? Perils and promises of synthetic data in a self-generating world (arXiv 2410.16713; ICML "
                "2025)")
    setup = (f"Gaussian-kernel KDE, fixed bandwidth h in {list(BANDWIDTHS)}, n = {N} samples per iteration (theirs: "
             f"10..1000), {GENERATIONS} iterations, replace / accumulate / accumulate-subsample; blobs, circles, "
             f"moons, swiss roll (x, z) from scikit-learn (noise {NOISE:g}); metric: NLL of real data; "
             f"{REPLICATES} real datasets per toy x {CHAINS} chains at scale 1")
    published = ("none could be read: the KDE results are plotted only, the paper's HTML is not in the search corpus "
                 "and the authors' repository holds the notebooks but not the run data")
    floor = 0.25
    heavy = True  # its floor run costs more than the default suite's share (measured: see the closing note)

    def compute(self, key, scale):
        import jax

        from .. import engine, regimes
        from ..families import KDE
        from ..families.kde import required_capacity
        from ..theory import kde as thk

        chains = scaled(CHAINS, scale, minimum=4)
        T = GENERATIONS
        t = np.arange(T + 1)
        seeds = _seeds(key)
        make = {"replace": lambda: regimes.replace(N), "accumulate": lambda: regimes.accumulate(N),
                "accumulate_subsample": lambda: regimes.accumulate_subsample(N, N)}
        # the real training points and the population laws: (dataset, replicate)
        data = {(d, r): real_data(name, N, int(seeds[d, r])) for d, name in enumerate(DATASETS)
                for r in range(REPLICATES)}
        pops = {dr: population(DATASETS[dr[0]], data[dr][1]) for dr in data}
        grid = [(d, h) for d in range(len(DATASETS)) for h in range(len(BANDWIDTHS))]  # the points of a run
        metrics = ("spread", "mean_sq_err", "nll")
        sums = {reg: {m: np.zeros((len(grid), T + 1)) for m in metrics} for reg in REGIMES}
        var = {reg: {m: np.zeros((len(grid), T + 1)) for m in metrics} for reg in REGIMES}
        # float32 (the default dtype): the standard errors of the comparisons dwarf its rounding
        for reg in REGIMES:
            regime = make[reg]()
            cap = max(N, required_capacity(regime, T) or 0)
            for r in range(REPLICATES):
                specs = []
                for d, h in grid:
                    pts, w, bw = pops[(d, r)]
                    truth = KDE(pts, bw, weights=w)
                    model = KDE(data[(d, r)][0], BANDWIDTHS[h], capacity=cap, eval_size=EVAL_SIZE)
                    specs.append(engine.make_spec(model, regime, T, truth=truth, path="samples"))
                res = engine.run_points(jax.random.fold_in(key, r), engine.stack_specs(specs), chains,
                                        metrics=metrics, quantiles=(0.5,))
                for m in metrics:
                    mean, std, _ = res.summary[m]
                    sums[reg][m] += np.asarray(mean, np.float64)
                    var[reg][m] += np.asarray(std, np.float64) ** 2 / chains
        # the mean over the replicates (each its own real dataset) and its standard error
        avg = {reg: {m: sums[reg][m] / REPLICATES for m in metrics} for reg in REGIMES}
        se = {reg: {m: np.sqrt(var[reg][m]) / REPLICATES for m in metrics} for reg in REGIMES}
        # theory: the exact moments given each real dataset, averaged over the replicates
        theory = {reg: {m: np.zeros((len(grid), T + 1)) for m in ("spread", "mean_sq_err")}
                  for reg in ("replace", "accumulate")}
        for reg in theory:
            for j, (d, h) in enumerate(grid):
                for r in range(REPLICATES):
                    pts, w, _ = pops[(d, r)]
                    centred = data[(d, r)][0] - (w @ pts) / w.sum()  # points relative to the population mean
                    s = centred.sum(axis=0)
                    out = thk.kde_fixed_moments(T, N, 2 * BANDWIDTHS[h] ** 2, N, float(s @ s),
                                                float(np.sum(centred * centred)), memory=reg)
                    theory[reg]["spread"][j] += out["spread"] / REPLICATES
                    theory[reg]["mean_sq_err"][j] += out["mean_sq"] / REPLICATES

        lines, columns = [], {"generation": t}
        label = {"spread": "E tr Cov_t", "mean_sq_err": "E |mean_t - m|^2", "nll": "NLL of real data"}
        for d, name in enumerate(DATASETS):
            for reg in ("replace", "accumulate"):
                for h in LINE_BANDWIDTHS:
                    j = grid.index((d, BANDWIDTHS.index(h)))
                    g = T_SPREAD_REPLACE if reg == "replace" else T
                    lines.append(Line(f"{label['spread']}, {name}, {reg}, h={h:g}, t={g}", avg[reg]["spread"][j, g],
                                      se[reg]["spread"][j, g], theory[reg]["spread"][j, g],
                                      theory_source="kde_fixed_moments (given the real points)"))
            # the NLL at the bandwidth best for the real data (t = 0), each setting at t = T: no closed form
            rows = [grid.index((d, h)) for h in range(len(BANDWIDTHS))]
            best = rows[int(np.argmin(avg["replace"]["nll"][rows, 0]))]
            hb = BANDWIDTHS[grid[best][1]]
            lines.append(Line(f"{label['nll']}, {name}, h={hb:g} (best at t=0), t=0", avg["replace"]["nll"][best, 0],
                              se["replace"]["nll"][best, 0]))
            for reg in REGIMES:
                lines.append(Line(f"{label['nll']}, {name}, {reg}, h={hb:g}, t={T}", avg[reg]["nll"][best, T],
                                  se[reg]["nll"][best, T]))
            for reg in REGIMES:
                for m in metrics:
                    for hi, h in enumerate(BANDWIDTHS):
                        j = grid.index((d, hi))
                        columns[f"{name}/{reg}/h{h:g}/mean_{m}"] = avg[reg][m][j]
                        if reg in theory and m in theory[reg]:
                            columns[f"{name}/{reg}/h{h:g}/theory_{m}"] = theory[reg][m][j]
        notes = [f"n = {N}, {REPLICATES} real datasets per toy (scikit-learn seeds from the key) x {chains} chains, "
                 f"{EVAL_SIZE} population draws per NLL, float32; each replicate its own key",
                 "generation t here is the authors' iteration t + 1 (model 0 is the fit on the real training half)",
                 "accumulate and accumulate-subsample pool the synthetic samples only (theirs also keep the real "
                 "training half): see the module docstring",
                 "the NLL lines (no closed form) report our numbers only, at each toy's best bandwidth for the real "
                 "data"]
        return Result(self.name, scale, lines, columns=columns, data={"chains": chains}, notes=notes)

    def figure(self, result):
        from matplotlib.figure import Figure

        from .. import plot

        c = result.columns
        t = c["generation"]
        T = int(t[-1])
        fig = Figure(figsize=(15.0, 14.0), layout="constrained")
        axes = fig.subplots(len(DATASETS), 3)
        colors = {reg: f"C{i}" for i, reg in enumerate(REGIMES)}
        for i, name in enumerate(DATASETS):
            ax_h, ax_t, ax_s = axes[i]
            nll0 = np.array([c[f"{name}/replace/h{h:g}/mean_nll"][0] for h in BANDWIDTHS])
            hb = BANDWIDTHS[int(np.argmin(nll0))]
            ax_h.plot(BANDWIDTHS, nll0, color="0.3", marker="o", lw=1.4, label="iteration 1 (real data)")
            for reg in REGIMES:
                y = [c[f"{name}/{reg}/h{h:g}/mean_nll"][T] for h in BANDWIDTHS]
                ax_h.plot(BANDWIDTHS, y, color=colors[reg], marker="o", lw=1.4, label=f"{reg}, iteration {T + 1}")
                ax_t.plot(t + 1, c[f"{name}/{reg}/h{hb:g}/mean_nll"], color=colors[reg], lw=1.6, label=reg)
                ax_s.plot(t + 1, c[f"{name}/{reg}/h{LINE_BANDWIDTHS[0]:g}/mean_spread"], color=colors[reg], lw=1.6,
                          label=reg)
                th = c.get(f"{name}/{reg}/h{LINE_BANDWIDTHS[0]:g}/theory_spread")
                if th is not None:
                    plot.draw_theory(ax_s, t + 1, th, color=colors[reg], label=f"theory, {reg}")
            ax_s.axvline(T_SPREAD_REPLACE + 1, color="0.6", lw=0.8, ls="--",
                         label=f"replace compared here (t = n/2 = {T_SPREAD_REPLACE})")
            ax_h.set_xscale("log")
            for ax in (ax_h, ax_t):  # a log axis while every NLL is positive, else symmetric-log
                ys = np.concatenate([ln.get_ydata() for ln in ax.get_lines()])
                if np.all(ys > 0):
                    ax.set_yscale("log")
                else:
                    ax.set_yscale("symlog", linthresh=1.0)
            ax_h.set_xlabel("bandwidth $h$")
            ax_h.set_ylabel(f"{name}: NLL on real data")
            ax_t.set_xlabel("model-fitting iteration")
            ax_t.set_title(f"{name}: NLL at h = {hb:g} (best for the real data)", fontsize="medium")
            ax_s.set_yscale("log")
            ax_s.set_xlabel("model-fitting iteration")
            ax_s.set_title(rf"{name}: spread $\mathrm{{tr\,Cov}}$, h = {LINE_BANDWIDTHS[0]:g}", fontsize="medium")
            for ax in (ax_h, ax_t, ax_s):
                ax.legend(fontsize="x-small")
        fig.suptitle(f"{self.paper}: KDEs refit on their own samples, n = {N}, {REPLICATES} real datasets x "
                     f"{result.data['chains']} chains per toy", fontsize="medium")
        return fig


register(Kazdan2024KDE())
