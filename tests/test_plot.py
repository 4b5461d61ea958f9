"""Figures build for ordinary and for collapsed trajectories (infinite log metrics), and render."""

from __future__ import annotations

import io

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
    colors = {line.get_color() for line in ax.get_lines()}
    assert len(colors) == 2  # one colour per regime
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
