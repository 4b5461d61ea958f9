"""Figures build for ordinary and for collapsed trajectories (infinite log metrics), and render."""

from __future__ import annotations

import io
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxcollapse as jc
from jaxcollapse import plot, regimes

G = 300  # both fixtures share one compiled program (n is traced on the exact path)


@pytest.fixture(scope="module")
def normal():
    return jc.simulate(jax.random.key(0), jc.Gaussian(0.0, 1.0), regimes.replace(100), G, 256)


@pytest.fixture(scope="module")
def collapsed():
    """n = 2 for 300 generations: every chain's variance underflows to 0, so log_det_ratio is -inf."""
    traj = jc.simulate(jax.random.key(1), jc.Gaussian(0.0, 1.0), regimes.replace(2), G, 256)
    assert np.isneginf(np.asarray(traj.quantile("log_det_ratio", 0.95))[-1])  # the premise of these tests
    assert np.isinf(np.asarray(traj.mean("kl"))[-1])
    return traj


def _render(fig) -> np.ndarray:
    """Draw the figure to PNG bytes and read them back (proves the Agg canvas renders it)."""
    import matplotlib.image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    buf.seek(0)
    img = matplotlib.image.imread(buf)
    assert img.ndim == 3 and img.shape[0] > 100
    return img


def _finite_lines(ax):
    return [line for line in ax.get_lines() if np.isfinite(np.asarray(line.get_ydata(), float)).any()]


def test_fan_chart_normal_with_theory(normal):
    from matplotlib.figure import Figure

    t = np.arange(G + 1)
    fig = plot.fan_chart(normal, "trace", theory=(1 - 1 / 100) ** t)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["median", "mean", "theory"]
    np.testing.assert_allclose(ax.get_lines()[2].get_ydata(), (1 - 1 / 100) ** t)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), np.asarray(normal.quantile("trace", 0.5)))
    assert len(ax.collections) == 2  # the two default bands
    _render(fig)


def test_fan_chart_theory_callable_and_existing_axes(normal):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    out = plot.fan_chart(normal, "mean_sq_err", theory=lambda t: 1 - (1 - 1 / 100) ** t, ax=ax, label="replace",
                         log=True)
    assert out is fig
    assert ax.get_yscale() == "log"
    assert "replace: theory" in [line.get_label() for line in ax.get_lines()]
    _render(fig)


def test_fan_chart_collapsed_chains(collapsed):
    for metric, log in (("log_det_ratio", False), ("kl", False), ("trace", True), ("sigma", False)):
        fig = plot.fan_chart(collapsed, metric, log=log, theory=lambda t, log=log: 0.5**t if log else 0 * t)
        ax = fig.axes[0]
        for line in ax.get_lines():  # nothing infinite reaches matplotlib
            assert not np.isinf(np.asarray(line.get_ydata(), float)).any()
        assert _finite_lines(ax)  # the early generations are still drawn
        _render(fig)
    fig = plot.fan_chart(collapsed, "log_det_ratio")
    assert any("infinite" in line.get_label() for line in fig.axes[0].get_lines())


def test_compare_regimes(normal, collapsed):
    fig = plot.compare({"n=100": normal, "n=2": collapsed}, "trace", log=True,
                       theory={"n=100": lambda t: 0.99**t, "n=2": lambda t: 0.5**t})
    ax = fig.axes[0]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend[:2] == ["n=100", "n=2"] and "theory" in legend
    theory = _theory_lines(ax)
    colors = {line.get_color() for line in ax.get_lines() if line not in theory}
    assert len(colors) == 2  # one colour per regime
    assert len({line.get_color() for line in theory} - colors) == 2  # its theory in a darker shade of it
    _render(fig)
    _render(plot.compare({"a": collapsed}, "log_det_ratio"))


def test_bad_arguments(normal):
    with pytest.raises(ValueError, match="not summarized"):
        plot.fan_chart(normal, "no_such_metric")
    with pytest.raises(ValueError, match="shape"):
        plot.fan_chart(normal, "trace", theory=np.ones(5))
    with pytest.raises(ValueError, match="not recorded"):
        plot.fan_chart(normal, "trace", bands=((0.1, 0.9),))
    with pytest.raises(ValueError, match="unknown label"):
        plot.compare({"a": normal}, "trace", theory={"b": np.ones(G + 1)})
    with pytest.raises(ValueError, match="at least one"):
        plot.compare({}, "trace")


def test_default_bands_skip_unrecorded_levels(normal):
    import equinox as eqx

    # the same trajectory with only the 25%, 50% and 75% quantiles recorded
    s = normal.summary["trace"]
    fewer = jc.Summary(s.mean, s.std, s.quantiles[:, 1:4], levels=(0.25, 0.5, 0.75))
    traj = eqx.tree_at(lambda tr: tr.summary, normal, {"trace": fewer})
    fig = plot.fan_chart(traj, "trace")
    assert len(fig.axes[0].collections) == 1  # only the 25-75% band was recorded
    _render(fig)


# --------------------------------------------------------------------------- figures fit for a paper
# Built from small fake trajectories (no simulation): each test is a fraction of a second.
LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)


def _fake(paths: dict):
    """A `Trajectory` whose summaries are those of the given per-chain paths, each `(G + 1, chains)`."""
    G1, C = next(iter(paths.values())).shape
    summary = {m: jc.Summary(p.mean(1), p.std(1), np.quantile(p, LEVELS, axis=1).T, levels=LEVELS)
               for m, p in paths.items()}
    return jc.Trajectory(np.arange(G1), summary, None, None, None, None, chains=C, config={})


def _walk(G, C=64, sd=0.1, seed=0, start=1.0):
    rng = np.random.default_rng(seed)
    return start * np.exp(np.vstack([np.zeros((1, C)), np.cumsum(rng.normal(0.0, sd, (G, C)), axis=0)]))


@pytest.fixture
def saved(monkeypatch):
    """The figures a recipe saves, kept open (savefig writes nothing)."""
    from matplotlib.figure import Figure

    figs = {}
    monkeypatch.setattr(Figure, "savefig", lambda self, path, **kw: figs.__setitem__(Path(path).name, self))
    return figs


def _theory_lines(ax):
    return [line for line in ax.get_lines() if line.get_zorder() == plot.THEORY_ZORDER]


def _references(ax):
    """y values of the horizontal reference lines (axhline: x data [0, 1] in axes coordinates)."""
    return [line.get_ydata()[0] for line in ax.get_lines() if list(line.get_xdata()) == [0, 1]
            and line.get_zorder() < plot.THEORY_ZORDER]


def test_mean_and_theory_styles_differ_and_theory_is_on_top():
    G = 10
    trajs = {"a": _fake({"m": _walk(G)}), "b": _fake({"m": _walk(G, seed=1)})}
    t = np.arange(G + 1)
    for fig in (plot.fan_chart(trajs["a"], "m", theory=0.9**t),
                plot.compare(trajs, "m", theory={"a": 0.9**t, "b": 0.95**t})):
        ax = fig.axes[0]
        theory = _theory_lines(ax)
        assert theory and all(len(line.get_xdata()) == G + 1 for line in theory)
        others = [line for line in ax.get_lines() if line not in theory]
        dashes = lambda lines: {str(line._unscaled_dash_pattern) for line in lines}  # noqa: E731 (matplotlib keeps
        assert dashes(theory).isdisjoint(dashes(others))  # custom dash patterns there; get_linestyle says "--")
        for line in theory:  # round dots, not short dashes ...
            assert line.get_dash_capstyle() == "round" and line._unscaled_dash_pattern[1][0] < 0.1
        for line in others:  # ... against a solid median and a long-dashed mean
            pattern = line._unscaled_dash_pattern[1]
            assert pattern is None or pattern[0] >= 5  # dashes five line widths long
        top_band = max(c.get_zorder() for c in ax.collections)
        assert all(line.get_zorder() > top_band for line in ax.get_lines())  # no band hides a line
    legend = fig.axes[0].get_legend()
    styles = {h.get_label(): str(h._unscaled_dash_pattern) for h in legend.legend_handles if hasattr(h, "get_xdata")}
    assert styles["mean"] != styles["theory"]


def test_phase_diagram_colours_follow_the_data():
    import xarray as xr

    n, tau = np.array([3, 10, 100]), np.array([0.9, 1.0, 1.1])
    final = np.array([[1e-6, 1e-3, 0.5], [1e-4, 0.2, 0.9], [1e-2, 1.3, 3.0]])  # (tau, n): shrank far, grew little
    values = np.broadcast_to(final[..., None, None], (3, 3, 2, 1)).copy()
    ds = xr.Dataset({"trace_ratio": (("temperature", "n", "generation", "stat"), values)},
                    coords={"n": n, "temperature": tau, "generation": [0, 1], "stat": ["mean"]})
    fig = plot.phase_diagram(ds, "n", "temperature", "trace_ratio", log=True, center=1.0)
    norm = fig.axes[0].collections[0].norm
    assert norm.vmin == pytest.approx(1e-6) and norm.vmax == pytest.approx(3.0)  # not 1e-6 ... 1e6
    assert float(norm(1.0)) == pytest.approx(0.5) and float(norm(3.0)) == pytest.approx(1.0)
    assert float(norm(np.sqrt(3.0))) == pytest.approx(0.75)  # each side log-linear over its own half
    fig = plot.phase_diagram(ds, "n", "temperature", "trace_ratio", center=1.0)
    norm = fig.axes[0].collections[0].norm
    assert (norm.vmin, norm.vcenter, norm.vmax) == pytest.approx((1e-6, 1.0, 3.0))
    fig = plot.phase_diagram(ds, "n", "temperature", "trace_ratio", below=1e-3, boundary="critical_temperature")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("not below" in s for s in labels) and any("critical_temperature" in s for s in labels)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["3", "10", "100"]  # the swept values
    _render(fig)


def test_regression_figure(saved, tmp_path):
    from jaxcollapse import recipes
    from jaxcollapse.theory import regression as th

    rec = recipes.get("regression")
    params = rec.resolve({"generations": 8, "chains": 64})
    G = 8
    trajs = {"replace": _fake({"excess_risk": np.vstack([np.zeros((1, 64)), _walk(G - 1, start=0.35)])}),
             "accumulate": _fake({"excess_risk": np.vstack([np.zeros((1, 64)), _walk(G - 1, sd=0.02, start=0.35)])})}
    curves = {r: rec.theory({**params, "regime": r}, G) for r in trajs}
    assert rec.figures(tmp_path, trajs, curves, params) == ["excess_risk.png"]
    ax = saved["excess_risk.png"].axes[0]
    assert ax.get_yscale() == "log"
    refs = _references(ax)
    assert refs == pytest.approx([float(th.accumulate_bound(40, 10)), float(th.ols_risk(40, 10))])
    assert len(_theory_lines(ax)) == 2
    assert ax.get_legend() is not None and not ax.artists  # one legend


def test_gaussian_figure(saved, tmp_path):
    from jaxcollapse import recipes

    rec = recipes.get("gaussian")
    G = 6
    params = rec.resolve({"generations": G, "chains": 64})
    trajs = {r: _fake({"trace": _walk(G, seed=i), "mean_sq_err": np.vstack([np.zeros((1, 64)), _walk(G - 1)]) / 100})
             for i, r in enumerate(params["regimes"])}
    t = np.arange(G + 1)
    curves = {"replace": {"trace": 0.99**t, "mean_sq_err": 1 - 0.99**t}, "accumulate": {"trace": 1 - 0.01 * t},
              "fresh": {"trace": np.full(G + 1, 0.995)}}  # shapes of gaussian_curves, without its JAX compiles
    rec.figures(tmp_path, trajs, curves, params)
    fig = saved["variance.png"]
    ax_var, ax_mse = fig.axes[:2]
    assert len(_theory_lines(ax_var)) == 3 and ax_mse.get_yscale() == "log"
    assert _references(ax_var) == [1.0]
    assert fig.get_suptitle()


def test_categorical_figures(saved, tmp_path):
    from types import SimpleNamespace

    from scipy import stats

    from jaxcollapse import recipes
    from jaxcollapse.theory import categorical as th

    rec = recipes.get("categorical")
    G, K, n, C = 5, 8, 6, 32
    params = rec.resolve({"generations": G, "chains": C, "K": K, "n": n, "rank_generations": [0, 2, 5]})
    rng = np.random.default_rng(0)
    p_hist = rng.dirichlet(np.ones(K), size=(G + 1, C))
    paths = {"surviving": np.full((G + 1, C), float(K)), "tail_mass_lost": rng.uniform(0, 0.5, (G + 1, C)),
             "gini_simpson": rng.uniform(0.5, 0.8, (G + 1, C))}
    trajs = {r: _fake(paths) for r in params["regimes"]}
    nan = np.full(G - 1, np.nan)  # the shapes of rec.theory (exact at t <= 1 under replace), without JAX compiles
    curves = {"replace": {"surviving": np.r_[K, 6.5, nan], "tail_mass_lost": np.r_[0.0, 0.01, nan],
                          "gini_simpson": 0.8 * (1 - 1 / n) ** np.arange(G + 1)},
              "accumulate": {"surviving": np.r_[K, np.full(G, 6.5)], "tail_mass_lost": np.r_[0.0, np.full(G, 0.01)],
                             "gini_simpson": np.full(G + 1, 0.75)}}
    detail = {"replace": SimpleNamespace(params=SimpleNamespace(p=p_hist))}
    assert rec.figures(tmp_path, trajs, curves, params, detail) == ["diversity.png", "rank_frequency.png"]
    surviving, lost, gini = saved["diversity.png"].axes[:3]
    # replace: the exact curve at every generation, not a mark at t = 1
    p = np.asarray(rec.truth(params).p, np.float64)
    P = th.wright_fisher_matrix(n)
    start = stats.binom.pmf(np.arange(n + 1)[None, :], n, p[:, None])
    gone = np.array([0.0] + [(start @ np.linalg.matrix_power(P, t - 1))[:, 0] @ p for t in range(1, G + 1)])
    for ax in (surviving, lost, gini):
        assert all(len(line.get_xdata()) == G + 1 for line in _theory_lines(ax)) and len(_theory_lines(ax)) == 2
    lost_replace = _theory_lines(lost)[0].get_ydata()
    np.testing.assert_allclose(lost_replace, gone, rtol=1e-10, atol=1e-15)
    assert lost_replace[1] == pytest.approx(float(th.mass_lost_one_generation(p, n)), rel=1e-12)
    rank = saved["rank_frequency.png"]
    assert rank.get_suptitle()
    for ax in rank.axes:
        labels = [line.get_label() for line in ax.get_lines()]
        assert labels == ["truth (t = 0)", "t = 2", "t = 5"]  # t = 0 is the truth, drawn once
        assert ax.get_title()


def test_ngram_figures_have_references_and_theory(saved, tmp_path):
    from jaxcollapse import recipes

    rec = recipes.get("ngram")
    G = 5
    params = rec.resolve({"generations": G, "chains": 32})
    metrics = ("entropy_rate", "perplexity", "gini_simpson", "initial_gini_simpson")
    trajs = {r: _fake({m: _walk(G, C=32, seed=i, start=0.8) for m in metrics}) for i, r in enumerate(params["regimes"])}
    curves = {"replace": {"initial_gini_simpson": 0.8 * 0.99 ** np.arange(G + 1)}, "accumulate": {}}
    assert rec.figures(tmp_path, trajs, curves, params) == ["entropy_rate.png", "perplexity.png", "gini_simpson.png"]
    for name in ("entropy_rate.png", "perplexity.png"):
        assert _references(saved[name].axes[0]) == pytest.approx([0.8])  # the truth's value, t = 0
    rows, first = saved["gini_simpson.png"].axes[:2]
    assert _references(rows) == pytest.approx([0.8]) and _references(first) == pytest.approx([0.8])
    (line,) = _theory_lines(first)
    assert len(line.get_xdata()) == G + 1
    assert first.get_legend() is not None and rows.get_legend() is None  # one legend, where it names the theory
