r"""Dohmatob, Feng, Subramonian and Kempe 2025 ("Strong model collapse"): a fixed share of synthetic data puts a
floor under the test error, and larger models raise the synthetic part of it.

**Setup, as the paper states it.** A linear regression is trained on $n = n_1 + n_2$ rows with the same
Gaussian design law: $n_1$ real rows labelled by the truth, $y = x^\top w_1 + \sigma\varepsilon$, and
$n_2 = p\,n$ synthetic rows labelled by a fixed wrong model $w_2 \ne w_1$; the test error is measured on the
real distribution. Not a recursive loop: one fit on a mixed data set. Their finding: at any fixed synthetic
fraction $p > 0$, "larger and larger training sets do not enhance performance" (abstract); with the model
made of $m$ random projections of the input, larger models can amplify the collapse.

**What runs.** (a) The size of the data set: least squares in $d = 10$ dimensions, isotropic design, noise
$\sigma = 1$ for both sources, $\|w_2 - w_1\|^2 = 1$, $p \in \{0, 0.02, 0.1, 0.3\}$ ($n_2 = \mathrm{round}(p\,n)$)
and $n$ from 30 to $10^6$. (b) The size of the model: the random-projections model $x \mapsto v^\top Sx$ ($S$ an
$m \times d$ Gaussian matrix drawn per chain, $v$ fitted by least squares on the features $Sx$) with $d = 50$,
$n = 100$ rows, noise $0.5$, $\|w_1\|^2 = 1$, $\|w_2 - w_1\|^2 = 1$, $m \in \{5, \dots, 50\}$ and
$p \in \{0, 0.1, 0.3, 0.5\}$; (c) the same numbers as a Pareto plot, the error with synthetic data against
the error on real data only at the same $n$ (the form of the paper's Fig. 1).

Both are direct Monte Carlo over draws of the data, vmapped over chains and over the points of the grid
(common random numbers: chain $i$ reads the same stream at every point), one compiled program each. In (a)
each chain draws the exact sufficient statistics $(X^\top X, X^\top y)$ of its real rows (from the truth) and
of its synthetic rows (from the wrong model) with the Regression family's `Regression.sample_stats` (Wishart
by Bartlett's decomposition: the cost does not grow with $n$, so $n = 10^6$ is as cheap as $n = 30$), pools
them and solves the normal equations. In (b) each chain draws its $n$ rows and its projection $S$ and fits
least squares on the features $Sx$ of the first $m$ rows of $S$ for each size (the sample path: rows,
labels, features, fit). Not through `engine.run_points`: the engine's real-data size is static, so each $n$
would compile anew, and no family is trained on projected inputs.

**Theory** (`jaxcollapse.theory.scaling`, derived there). Every mean is compared with the exact finite-$n$
expectation, `strong_collapse_risk` (a) and `strong_collapse_projection_risk` (b), $|z| < 4$. The plateau
$p^2\|w_2 - w_1\|^2$ (`strong_collapse_plateau`) is the $n \to \infty$ limit; it is drawn, and its gap to the
exact value is reported in the notes (and checked in ``jaxcollapse verify``, ``scaling.strong_collapse``).

**Published values.** The stored copy of the paper could be read only up to its abstract; a secondary summary
gives the setting of its Fig. 1 (a Pareto diagram of the random-projections model, $n = 500$ rows in total),
but the figure's values, dimensions and fractions could not be read: no published column.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Line, Reproduction, Result, register, scaled

# (a) the plateau
D, NOISE, SHIFT_SQ = 10, 1.0, 1.0
PS = (0.0, 0.02, 0.1, 0.3)
NS = (30, 100, 300, 1000, 3000, 10_000, 100_000, 1_000_000)
# (b) random projections
RP_D, RP_N, RP_NOISE, RP_W_SQ, RP_SHIFT_SQ = 50, 100, 0.5, 1.0, 1.0
RP_PS = (0.0, 0.1, 0.3, 0.5)
RP_MS = (5, 10, 20, 30, 40, 50)
CHAINS = 4000
BLOCK = 500  # chains per compiled call (host-side blocks of one compiled program)


def _split(n: int, p: float) -> tuple[int, int]:
    n2 = int(round(p * n))
    return n - n2, n2


def plateau_models():
    """(truth, generator): w1 = (1, ..., 1)/sqrt(D), w2 = w1 + e_1 (so ||w2 - w1||^2 = SHIFT_SQ = 1)."""
    from ..families.regression import Regression

    w1 = np.ones(D) / math.sqrt(D)
    w2 = w1 + math.sqrt(SHIFT_SQ) * np.eye(D)[0]
    return Regression(w1, 1.0, NOISE), Regression(w2, 1.0, NOISE)


def projection_weights() -> tuple[np.ndarray, np.ndarray]:
    """(w1, w2) in RP_D dimensions: ||w1||^2 = RP_W_SQ, w2 = w1 + a shift of squared norm RP_SHIFT_SQ orthogonal to
    w1 (fixed vectors)."""
    rng = np.random.default_rng(2410)
    w1 = rng.standard_normal(RP_D)
    w1 *= math.sqrt(RP_W_SQ) / np.linalg.norm(w1)
    u = rng.standard_normal(RP_D)
    u -= (u @ w1) / (w1 @ w1) * w1
    return w1, w1 + math.sqrt(RP_SHIFT_SQ) * u / np.linalg.norm(u)


def _plateau_block(key_data, chains, truth, gen, n1, n2):
    """Excess risks, shape (points, chains): per chain and point, the exact statistics of n1 rows of the truth and
    n2 rows of the wrong model (one vmapped `Regression.sample_stats` over the two sources, independent streams),
    pooled, and the least-squares fit by Cholesky (the pooled Gram is positive definite for n >= d)."""
    import jax
    import jax.numpy as jnp
    from jax.scipy.linalg import cho_factor, cho_solve

    from .. import random as R
    from ..random import Stream

    sources = jax.tree.map(lambda a, b: jnp.stack([a, b]), truth, gen)
    salts = jnp.asarray([R.SALT_REAL, R.SALT_SAMPLES], jnp.uint32)

    def one(chain, a, b):
        s = Stream(key_data, chain)
        draw = jax.vmap(lambda model, salt, n: model.sample_stats(s.fork(salt), n, 1.0))
        st = draw(sources, salts, jnp.stack([a, b]))
        g = jnp.sum(st.gram, axis=0)
        w = cho_solve(cho_factor(0.5 * (g + g.T)), jnp.sum(st.xy, axis=0))
        e = w - truth.w
        return jnp.sum(e * e)

    per_point = jax.vmap(one, in_axes=(None, 0, 0))
    return jax.vmap(per_point, in_axes=(0, None, None), out_axes=1)(chains, n1, n2)


def _projection_block(key_data, chains, w1, w2, n2, masks):
    r"""Test errors $\|S^\top\hat v - w_1\|^2$, shape (fractions, sizes, chains), of the random-projections model.

    Per chain: one draw of RP_N isotropic rows $X$ and of $S$ (the rows after the data's, from the same stream),
    one draw of the label noise; for each fraction the last $n_2$ rows are labelled by $w_2$, the others by $w_1$;
    for each size $m$ least squares on the first $m$ features $Sx$ (the unused features masked out of the Gram)."""
    import jax
    import jax.numpy as jnp
    from jax.scipy.linalg import cho_factor, cho_solve

    from .. import random as R
    from ..random import Stream

    mmax, d = masks.shape[1], w1.shape[0]

    def one(chain):
        s = Stream(key_data, chain)
        draw = R.normal(s.fork(R.SALT_DESIGN), (RP_N + mmax, d), w1.dtype)
        X, S = draw[:RP_N], draw[RP_N:]
        eps = RP_NOISE * R.normal(s.fork(R.SALT_NOISE), (RP_N,), w1.dtype)
        Z = X @ S.T
        gz = Z.T @ Z
        synthetic = jnp.arange(RP_N, dtype=w1.dtype)[None, :] >= RP_N - n2[:, None]  # (fractions, rows)
        y = (X @ w1 + eps)[None, :] + jnp.where(synthetic, (X @ (w2 - w1))[None, :], 0.0)  # (fractions, rows)
        bz = y @ Z  # (fractions, mmax)

        def size(mask):
            g = gz * mask[:, None] * mask[None, :] + jnp.diag(1.0 - mask)
            factor = cho_factor(g)
            v = jax.vmap(lambda b: cho_solve(factor, b * mask))(bz)
            e = v @ S - w1[None, :]
            return jnp.sum(e * e, axis=1)

        return jax.vmap(size, out_axes=1)(masks)  # (fractions, sizes)

    return jax.vmap(one, out_axes=2)(chains)


def _run_blocks(fn, key, chains: int, *args) -> np.ndarray:
    """`fn(key_data, chain_ids, *args)` over host-side blocks of up to BLOCK chains (one compiled program), concatenated
    on the last axis; chain i reads the same random numbers whatever the number of chains."""
    import jax
    import jax.numpy as jnp

    key_data = jax.random.key_data(key)
    step = jax.jit(fn)
    block = min(BLOCK, chains)
    out = []
    for lo in range(0, chains, block):
        ids = jnp.arange(lo, lo + block, dtype=jnp.uint32)
        out.append(np.asarray(step(key_data, ids, *args), np.float64))
    return np.concatenate(out, axis=-1)[..., :chains]


def _mean_se(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(axis=-1), x.std(axis=-1) / math.sqrt(x.shape[-1])


class Dohmatob2024StrongCollapse(Reproduction):
    name = "dohmatob2024_strong_collapse"
    paper = "Dohmatob et al. 2024 (ICLR 2025)"
    figure_ref = "plateau in n; model size (Fig. 1 form)"
    citation = ("E. Dohmatob, Y. Feng, A. Subramonian, J. Kempe. Strong model collapse. ICLR 2025 (arXiv:2410.04840, "
                "2024)")
    setup = (f"least squares on n1 real rows (labels x.w1 + noise) and n2 = round(p n) synthetic rows labelled by a "
             f"fixed wrong model w2, same Gaussian design; (a) d = {D}, ||w2 - w1||^2 = {SHIFT_SQ:g}, noise {NOISE:g}, "
             f"p in {list(PS)}, n in {list(NS)}; (b) random projections x -> v.Sx, d = {RP_D}, n = {RP_N}, "
             f"m in {list(RP_MS)}, p in {list(RP_PS)}, noise {RP_NOISE:g}, ||w1||^2 = ||w2 - w1||^2 = 1; test error "
             f"||w_hat - w1||^2 on real data; {CHAINS} chains at scale 1")
    published = ("none: the stored copy could be read only up to its abstract (Fig. 1's values, dimensions and "
                 "fractions unreadable; a secondary summary gives its n = 500): no published column")
    floor = 0.05

    def compute(self, key, scale):
        import jax

        from .._config import x64
        from ..theory import scaling as th

        chains = scaled(CHAINS, scale)
        ka, kb = jax.random.split(key)
        lines, columns, notes = [], {}, []
        with x64():
            # (a) the plateau: every (p, n) in one compiled program
            truth, gen = plateau_models()
            grid = [(p, n) for p in PS for n in NS]
            n1 = np.array([_split(n, p)[0] for p, n in grid], np.float64)
            n2 = np.array([_split(n, p)[1] for p, n in grid], np.float64)
            risk = _run_blocks(_plateau_block, ka, chains, truth, gen, n1, n2)
            mean, se = _mean_se(risk)
            exact = th.strong_collapse_risk(n1, n2, D, SHIFT_SQ, NOISE)
            for j, (p, n) in enumerate(grid):
                lines.append(Line(f"(a) excess risk, p={p:g}, n={n} (n2={int(n2[j])})", mean[j], se[j], exact[j],
                                  theory_source="strong_collapse_risk: exact finite-n OLS risk (derived here)"))
            columns["n"] = np.asarray(NS, np.float64)
            for i, p in enumerate(PS):
                sl = slice(i * len(NS), (i + 1) * len(NS))
                columns[f"a/p{p:g}/mean"] = mean[sl]
                columns[f"a/p{p:g}/se"] = se[sl]
                columns[f"a/p{p:g}/exact"] = exact[sl]
                columns[f"a/p{p:g}/plateau"] = np.full(len(NS), float(th.strong_collapse_plateau(p, SHIFT_SQ)))
            # (b) random projections: every (p, m) in one compiled program
            w1, w2 = projection_weights()
            r1 = np.array([_split(RP_N, p)[0] for p in RP_PS], np.float64)
            r2 = np.array([_split(RP_N, p)[1] for p in RP_PS], np.float64)
            masks = (np.arange(max(RP_MS))[None, :] < np.asarray(RP_MS)[:, None]).astype(np.float64)
            rrisk = _run_blocks(_projection_block, kb, chains, w1, w2, r2, masks)
            rmean, rse = _mean_se(rrisk)
            rexact = np.array([[th.strong_collapse_projection_risk(r1[i], r2[i], RP_D, m, w1 @ w1, w2 @ w2,
                                                                   (w2 - w1) @ (w2 - w1), RP_NOISE)
                                for m in RP_MS] for i in range(len(RP_PS))])
        for i, p in enumerate(RP_PS):
            for j, m in enumerate(RP_MS):
                lines.append(Line(f"(b) random projections, p={p:g}, m={m}", rmean[i, j], rse[i, j], rexact[i, j],
                                  theory_source="strong_collapse_projection_risk: exact finite-n (derived here)"))
        # curves.csv holds equal-length columns: (b) goes in per-fraction columns over the sizes, padded to len(NS)
        pad = len(NS) - len(RP_MS)
        columns["b/m"] = np.concatenate([np.asarray(RP_MS, np.float64), np.full(pad, np.nan)])
        for i, p in enumerate(RP_PS):
            for what, arr in (("mean", rmean[i]), ("se", rse[i]), ("exact", rexact[i])):
                columns[f"b/p{p:g}/{what}"] = np.concatenate([arr, np.full(pad, np.nan)])
        # the plateau's gap to the exact value at the largest n, and where each curve comes within 10% of it
        big = NS[-1]
        gap_txt = []
        for p in PS[1:]:
            a, b = _split(big, p)
            ex = float(th.strong_collapse_risk(a, b, D, SHIFT_SQ, NOISE))
            pl = float(th.strong_collapse_plateau(b / big, SHIFT_SQ))
            gap_txt.append(f"p={p:g}: {100 * (ex - pl) / ex:.2f}%")
        notes += [
            f"{chains} chains per point, float64; (a) exact sufficient statistics (Regression.sample_stats) of the "
            "real and the synthetic rows, pooled least squares; (b) the sample path: rows, labels, projections, least "
            "squares",
            "(a) the plateau p^2 ||w2 - w1||^2 (strong_collapse_plateau, the n -> inf limit) lies below the exact "
            f"risk at n = {big:g} by " + ", ".join(gap_txt) + "; with p = 0 the risk keeps falling as d/(n - d - 1)",
            "(b) larger models absorb more of the wrong labeller: the synthetic part of the floor, (m/d) p^2 "
            "||w2 - w1||^2, grows with the model size m (strong_collapse_projection_plateau), while the approximation "
            "error (1 - m/d) ||w1||^2 falls",
        ]
        data = {"chains": chains, "rmean": rmean, "rse": rse, "rexact": rexact}
        return Result(self.name, scale, lines, columns=columns, data=data, notes=notes)

    def figure(self, result):
        from matplotlib.figure import Figure

        from .. import plot
        from ..theory import scaling as th

        c = result.columns
        fig = Figure(figsize=(15.0, 4.8), layout="constrained")
        ax_a, ax_b, ax_c = fig.subplots(1, 3)
        n = c["n"]
        nf = np.unique(np.round(np.logspace(np.log10(NS[0]), np.log10(NS[-1]), 120)))
        for i, p in enumerate(PS):
            color = f"C{i}"
            a = np.array([_split(int(x), p) for x in nf], np.float64)
            ax_a.errorbar(n, c[f"a/p{p:g}/mean"], yerr=2 * c[f"a/p{p:g}/se"], fmt="o", ms=5, color=color, capsize=2,
                          label=f"p = {p:g}: simulation (±2 se)")
            plot.draw_theory(ax_a, nf, th.strong_collapse_risk(a[:, 0], a[:, 1], D, SHIFT_SQ, NOISE), color=color,
                             label="exact finite-n risk" if i == 0 else None)
            if p > 0:
                ax_a.axhline(float(th.strong_collapse_plateau(p, SHIFT_SQ)), color=color, lw=0.9, ls="--",
                             label=r"plateau $p^2\|w_2 - w_1\|^2$" if i == 1 else None)
        ax_a.set_xscale("log")
        ax_a.set_yscale("log")
        ax_a.set_xlabel("training rows $n$ (real and synthetic)")
        ax_a.set_ylabel(r"test error $\|\hat w - w_1\|^2$")
        ax_a.set_title(f"(a) a fixed synthetic fraction p: d = {D}", fontsize="medium")
        ax_a.legend(fontsize="small", loc="lower left")
        m = np.asarray(RP_MS, np.float64)
        mf = np.arange(1, RP_D + 1)
        rm, rs, rx = result.data["rmean"], result.data["rse"], result.data["rexact"]
        for i, p in enumerate(RP_PS):
            color = f"C{i}"
            a, b = _split(RP_N, p)
            ax_b.errorbar(m, rm[i], yerr=2 * rs[i], fmt="o", ms=5, color=color, capsize=2, label=f"p = {p:g}")
            w = self._rp_norms()
            plot.draw_theory(ax_b, mf, th.strong_collapse_projection_risk(a, b, RP_D, mf, *w, RP_NOISE), color=color,
                             label="exact finite-n risk" if i == 0 else None)
            if p > 0:
                ax_c.plot(rx[0], rx[i], color=color, lw=1.0, alpha=0.6, label="exact finite-n risk" if i == 1 else None)
                ax_c.errorbar(rm[0], rm[i], xerr=2 * rs[0], yerr=2 * rs[i], fmt="o", ms=5, color=color, capsize=2,
                              label=f"p = {p:g}")
        ax_b.set_xlabel("model size $m$ (random projections of the input)")
        ax_b.set_ylabel(r"test error $\|S^\top\hat v - w_1\|^2$")
        ax_b.set_title(f"(b) random projections: d = {RP_D}, n = {RP_N}", fontsize="medium")
        ax_b.legend(fontsize="small", loc="upper right")
        lim = [0.0, float(np.nanmax(rx)) * 1.05]
        ax_c.plot(lim, lim, color="0.5", lw=0.8, ls=":", label="no synthetic effect")
        for j, mm in enumerate(RP_MS):
            ax_c.annotate(f"m={mm}", (rx[0, j], rx[-1, j]), fontsize="x-small",
                          xytext=(3, 3), textcoords="offset points")
        ax_c.set_xlabel("test error, real data only (p = 0)")
        ax_c.set_ylabel("test error with a synthetic fraction p")
        ax_c.set_title("(c) Pareto view of (b): each point a model size m", fontsize="medium")
        ax_c.legend(fontsize="small", loc="upper left")
        fig.suptitle(f"{self.paper}: strong model collapse, {result.data['chains']} chains per point",
                     fontsize="medium")
        return fig

    @staticmethod
    def _rp_norms() -> tuple[float, float, float]:
        w1, w2 = projection_weights()
        return float(w1 @ w1), float(w2 @ w2), float((w2 - w1) @ (w2 - w1))


register(Dohmatob2024StrongCollapse())
