r"""The documentation site builds with warnings as errors, and its pages hold what they promise.

One strict build of the whole site (``mkdocs build --strict``, as the README's command runs it; in a
subprocess, so that mkdocs's own rules decide and pytest's warnings-as-errors stays on our code), checked in one
test: every registered reproduction has its gallery page with its figure and report, every proofs notebook and
every theory, family and recipe module has a page, and the API pages carry the docstrings' math as MathJax
input, the anchors of the public functions and the re-exported names. The hook's own rules (the gallery's
refusal of a reproduction without its files, display math inside a paragraph, a `$` outside code and math, a
notebook's figures after their cells) are checked directly on small inputs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _hooks():
    spec = importlib.util.spec_from_file_location("jaxcollapse_docs_hooks", REPO / "docs" / "hooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _modules(package: str) -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(REPO / "jaxcollapse" / package)])
                  if not m.name.startswith("_"))


def test_the_site_builds_strict_with_every_page(tmp_path):
    """One test, so that pytest-xdist builds the site once (a module fixture would build once per worker)."""
    from jaxcollapse import papers

    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-8000:]

    # the gallery: a page per registered reproduction, with its figure and its report
    names = papers.names()
    assert names
    index = (site / "gallery" / "index.html").read_text()
    for name in names:
        page = (site / "gallery" / f"{name}.html").read_text()
        assert f'src="{name}/{name}.png"' in page, name
        assert (site / "gallery" / name / f"{name}.png").stat().st_size > 1000, name
        assert "lines agree or are explained" in page, name  # the report's last line
        assert f'href="{name}.html"' in index, name

    # a page per proofs notebook (its code and its math), per theory, family and recipe module, per public module
    for nb in sorted((REPO / "proofs_notebooks").glob("*.py")):
        if not nb.name.startswith("_"):
            page = (site / "proofs" / f"{nb.stem}.html").read_text()
            assert 'class="language-python' in page or "highlight" in page, nb.name
            assert 'class="arithmatex"' in page, nb.name
    for package in ("theory", "families", "recipes"):
        for m in _modules(package):
            assert (site / "api" / package / f"{m}.html").is_file(), (package, m)
    for page in ("engine", "regimes", "verify", "bayes", "sweep", "plot", "papers", "random", "datasets"):
        assert (site / "api" / f"{page}.html").is_file(), page

    # the API pages: the docstrings with their math as MathJax input, the anchors, the re-exported names
    page = (site / "api" / "theory" / "gaussian.html").read_text()
    assert 'id="jaxcollapse.theory.gaussian.mle_variance"' in page
    assert r'<span class="arithmatex">\(E\sigma_t^2 = \sigma^2 (1 - 1/n)^t\)</span>' in page  # its docstring's math
    top = (site / "api" / "index.html").read_text()
    assert 'href="engine.html#jaxcollapse.engine.simulate"' in top  # the public-names table links each name
    assert 'id="jaxcollapse.recipes.Recipe"' in (site / "api" / "recipes" / "index.html").read_text()
    assert 'id="jaxcollapse.bayes.fit"' in (site / "api" / "bayes.html").read_text()


def test_a_dollar_outside_math_is_caught():
    """The build warns (under --strict: fails) on a page that shows a `$` outside code and math."""
    hooks = _hooks()
    ok = '<p>x <span class="arithmatex">\\(a\\)</span> and <code>echo $HOME</code></p><pre>$ ls</pre>'
    assert hooks.stray_dollars(ok) == []
    assert len(hooks.stray_dollars('<p>mutual information <span class="arithmatex">\\(H\\)</span> - $ rate</p>')) == 1


def test_display_math_inside_a_paragraph():
    """`$$...$$` within a paragraph or a list item is display math (arithmatex alone takes it only as a block)."""
    import markdown

    hooks = _hooks()
    md = markdown.Markdown(extensions=["pymdownx.arithmatex", hooks.DisplayMathInParagraphs()],
                           extension_configs={"pymdownx.arithmatex": {"generic": True}})
    html = md.convert("so\n$$a_1 = b^2,$$\nand $c$.\n\n- item $$x < y$$ here\n\n$$z$$\n")
    assert r'<span class="arithmatex">\[a_1 = b^2,\]</span>' in html
    assert r'<span class="arithmatex">\[x &lt; y\]</span>' in html
    assert r'<span class="arithmatex">\(c\)</span>' in html
    assert r'<div class="arithmatex">\[z\]</div>' in html
    assert "$" not in html


def test_the_gallery_refuses_a_reproduction_without_its_files(tmp_path, monkeypatch, caplog):
    """A registered reproduction with no committed figure and report is a warning (an error under --strict); so
    are a stale report and a folder of a reproduction that is not registered."""
    from jaxcollapse import papers

    hooks = _hooks()

    class Probe(papers.Reproduction):
        name = "zz_docs_probe"
        paper = "Nobody 2099"
        figure_ref = "Fig. 0"
        citation = "Nobody. Nothing. 2099."
        setup = "none"

        def compute(self, key, scale):
            raise AssertionError("the site never runs a reproduction")

        def figure(self, result):
            raise AssertionError("the site never draws a figure")

    monkeypatch.setattr(hooks, "GALLERY", tmp_path)
    monkeypatch.setattr(hooks, "MANIFEST", tmp_path / "gallery.json")
    (tmp_path / "retired2020_thing").mkdir()
    papers.register(Probe())
    try:
        with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.jaxcollapse_docs"):
            pages = hooks._gallery_pages()
            text = caplog.text
            assert "'zz_docs_probe' has no committed zz_docs_probe.png or report.txt" in text
            assert "docs/gallery/retired2020_thing/ is not a registered reproduction" in text
            assert "gallery/zz_docs_probe.md" in pages  # the page still says what is missing
            caplog.clear()
            (tmp_path / "zz_docs_probe").mkdir()
            (tmp_path / "zz_docs_probe" / "zz_docs_probe.png").write_bytes(b"png")
            (tmp_path / "zz_docs_probe" / "report.txt").write_text(
                "zz_docs_probe: Nobody 2099, Fig. 1\n  Nobody. Nothing. 2099.\nsetup: none\n"
                "published values: the paper reports no numbers for this figure beyond the plot's shape\n")
            hooks._gallery_pages()
            assert "docs/gallery/gallery.json has no entry for 'zz_docs_probe'" in caplog.text
            assert "zz_docs_probe/report.txt is stale (its paper and figure differs" in caplog.text
    finally:
        papers.unregister("zz_docs_probe")


def test_a_notebook_page_shows_its_committed_figures_after_their_cells(tmp_path, monkeypatch):
    """Markdown cells as Markdown, code cells as code, and a committed figure right after the cell that saves it
    (a committed figure that no cell names comes at the end)."""
    hooks = _hooks()
    nb = tmp_path / "toy.py"
    nb.write_text('# %% [markdown]\n# # A toy\n#\n# Text with $x^2$.\n\n# %%\nx = 1\nshow(fig, "first")\n\n'
                  '# %% [markdown]\n# More.\n\n# %%\nfig.savefig(os.path.join(FIGDIR, "second.png"))\n')
    figs = tmp_path / "figures"
    (figs / "toy").mkdir(parents=True)
    for name in ("first", "second", "extra"):
        (figs / "toy" / f"{name}.png").write_bytes(b"png")
    monkeypatch.setattr(hooks, "NB_FIGURES", figs)
    page, placed = hooks._notebook_page(nb)
    assert placed == {"first", "second"}
    assert page.startswith("# A toy\n")
    order = [page.index(s) for s in ("Text with $x^2$.", '```python\nx = 1\nshow(fig, "first")\n```',
                                     "![first](figures/toy/first.png)", "More.", "![second](figures/toy/second.png)",
                                     "## Other figures of this notebook", "![extra](figures/toy/extra.png)")]
    assert order == sorted(order)
