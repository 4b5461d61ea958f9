r"""Shumailov et al. 2024 (Nature): a variational autoencoder refit on its own samples, generation after generation,
on handwritten digits.

**Setup.** The paper trains a VAE on MNIST, then each later generation on samples of its predecessor only (no
original data), and shows random latent reconstructions across generations: the digits' modes entangle and
the samples drift towards a single blurred shape. Its architecture, sample counts and generation count could
not be read from the search corpora, so here the data are the 8x8 digits shipped with scikit-learn (1,797 images,
64 pixels in $[0, 1]$, 10 classes; `jaxcollapse.datasets.digits`, no download) and the rest is ours, chosen so
that the first VAE fits the digits visibly and the whole run stays under 10 minutes on a 2-core CPU.

**Ours** (`jaxcollapse.recipes.vae`, `jaxcollapse.VAE`): generation 0 is the data; generation 1 trains a VAE
(latent 8, encoder and decoder 64-128-128, Gaussian decoder with a learned noise scale per pixel) on $n = 1797$
bootstrap draws of the digits, every later generation a fresh VAE on $n$ samples of its predecessor (replace),
AdamW 1,500 steps, minibatches of 128, learning rate $3\cdot10^{-3}$; 10 generations.

**Quantities** (the VAE family's metrics, on 512 model samples against the 1,797 digits): ``spread_ratio``
(the trace of the samples' covariance over the digits'), ``coverage`` and ``precision`` (Naeem et al. 2020,
$k = 5$ nearest-neighbour balls around the digits) and ``modes`` (digit classes that keep at least a quarter of
their share among the samples that fall in some ball). **No closed form**: the VAE has no collapse law, and
the one yardstick the repository has, the expected coverage of a sample from the truth itself
(`jaxcollapse.theory.vae.coverage_mean`), needs a continuous law, which a bootstrap of stored images is not. So
the report gives ours only, with generation 0 (the digits against themselves) as the reference level.

**Published values.** The paper shows images; it prints no numbers for them.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Line, Reproduction, Result, register, scaled

GENERATIONS = 10
CHAINS = 4
N = 1797
PARAMS = {"regimes": ["replace"], "data": "digits", "n": N, "generations": GENERATIONS, "latent": 8, "width": 128,
          "depth": 2, "steps": 1500, "batch_size": 128, "learning_rate": 3e-3, "n_eval": 512, "init": "fresh",
          "x64": False, "seed": 0}
METRICS = ("spread_ratio", "coverage", "precision", "modes")
REPORT_T = (0, 1, 2, 5, 10)
GRID_T = (0, 1, 2, 3, 5, 7, 10)  # the generations of the sample grid
GRID_COLS = 10


def run_vae(key, chains: int, generations: int | None = None, **overrides):
    """The recipe run behind the reproduction (replace, parameters recorded for the sample grid)."""
    from .. import recipes

    g = GENERATIONS if generations is None else generations
    return recipes.run("vae", {**PARAMS, "generations": g, "chains": chains, **overrides}, key=key,
                       record_params=True, quantiles=(0.5,))


def sample_grid(params, generations, key, cols: int = GRID_COLS) -> np.ndarray:
    """Chain 0's images, shape (len(generations), cols, 8, 8): one real digit of each class at generation 0, then
    each generation's decoder mean $g_t(z_j)$ at the same `cols` latent draws $z_j \\sim N(0, I)$."""
    import jax

    from .. import datasets

    digits = datasets.digits()
    first = [int(np.flatnonzero(digits.labels == c)[0]) for c in range(10)]
    rows = []
    latent = int(PARAMS["latent"])
    z = jax.random.normal(key, (cols, latent))
    for g in generations:
        if g == 0:
            img = np.asarray(digits.x)[[first[i % 10] for i in range(cols)]]
        else:
            model = jax.tree.map(lambda a, g=g: a[g, 0], params)
            img = np.asarray(model.dec(z.astype(model.dtype)) + model.shift[None, :])
        rows.append(np.clip(img, 0.0, 1.0).reshape(cols, 8, 8))
    return np.stack(rows)


class Shumailov2024VAE(Reproduction):
    name = "shumailov2024_vae"
    paper = "Shumailov et al. 2024"
    figure_ref = "VAE on handwritten digits, samples across generations"
    citation = ("I. Shumailov, Z. Shumaylov, Y. Zhao, N. Papernot, R. Anderson, Y. Gal. AI models collapse when "
                "trained on recursively generated data. Nature 631, 755-759 (2024)")
    setup = (f"8x8 digits (1,797 images; the paper used MNIST); a VAE (latent 8, width 128, depth 2, 1,500 AdamW "
             f"steps, batch 128) trained on n = {N} samples of its predecessor (replace), {GENERATIONS} generations; "
             f"{CHAINS} chains at scale 1")
    published = "none: the paper shows images without numbers (no published column)"
    floor = 0.5
    heavy = True

    def compute(self, key, scale):
        import jax

        chains = scaled(CHAINS, scale, minimum=2)
        run = run_vae(key, chains)
        tr = run.trajs["replace"]
        lines = []
        for m in METRICS:
            for s in REPORT_T:
                what = "the digits against themselves" if s == 0 else "no closed form"
                lines.append(Line(f"{m}, t={s} ({what})", tr.mean(m)[s], tr.stderr(m)[s]))
        lines.append(Line(f"diverged fits, generations 1-{GENERATIONS} (mean per chain)",
                          float(np.sum(tr.mean("diverged"))), float(math.sqrt(np.sum(tr.stderr("diverged") ** 2)))))
        t = np.arange(GENERATIONS + 1)
        columns = {"generation": t}
        for m in METRICS:
            columns[f"{m}/mean"] = tr.mean(m)
            columns[f"{m}/se"] = tr.stderr(m)
        grid = sample_grid(tr.params, GRID_T, jax.random.fold_in(key, 7))
        notes = [f"{chains} chains, float32; the metrics use 512 model samples per chain and generation",
                 "generation 0 is the data itself (a bootstrap of the 1,797 digits): its coverage is the level a "
                 "perfect model of the stored images would reach with 512 draws"]
        return Result(self.name, scale, lines, columns=columns, data={"chains": chains, "grid": grid}, notes=notes)

    def figure(self, result):
        from matplotlib.figure import Figure

        c = result.columns
        t = c["generation"]
        grid = result.data["grid"]
        fig = Figure(figsize=(15.0, 6.5), layout="constrained")
        left, right = fig.subfigures(1, 2, width_ratios=(1.0, 1.25))
        ax = left.subplots()
        g, cols = grid.shape[:2]
        mosaic = np.zeros((g * 9 - 1, cols * 9 - 1))  # white gaps (gray_r: 0 is white)
        for i in range(g):
            for j in range(cols):
                mosaic[i * 9:i * 9 + 8, j * 9:j * 9 + 8] = grid[i, j]
        ax.imshow(mosaic, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_yticks([i * 9 + 3.5 for i in range(g)], [f"generation {s}" for s in GRID_T])
        ax.set_xticks([])
        ax.set_title("chain 0: generation 0 real digits; then the decoder's mean at 10 fixed latent draws",
                     fontsize="small")
        axes = right.subplots(2, 2, sharex=True)
        titles = {"coverage": "coverage (Naeem et al. 2020)", "precision": "precision (Naeem et al. 2020)",
                  "modes": "digit classes kept", "spread_ratio": "spread / the digits' spread"}
        for a, m in zip(axes.ravel(), ("coverage", "precision", "modes", "spread_ratio"), strict=True):
            mean, se = c[f"{m}/mean"], c[f"{m}/se"]
            a.plot(t, mean, "o-", color="C0", lw=1.5, ms=3, label="ours (mean over chains)")
            a.fill_between(t, mean - 2 * se, mean + 2 * se, color="C0", alpha=0.2, lw=0, label="+- 2 se")
            a.axhline(mean[0], color="0.5", lw=0.8, ls="--", label="generation 0 (the digits)")
            a.set_title(titles[m], fontsize="medium")
            a.set_xlabel("generation $t$")
        axes[0, 0].legend(fontsize="small", loc="best")
        fig.suptitle(f"{self.paper}: a VAE refit on its own samples, 8x8 digits, {result.data['chains']} chains "
                     "(no closed form: ours only)", fontsize="medium")
        return fig


register(Shumailov2024VAE())
