r"""The site's build hook (``hooks:`` in mkdocs.yml): the pages made from the code, and the checks behind them.

mkdocs calls the functions below during ``mkdocs build``. They generate four kinds of pages, so that a new
module, notebook or reproduction appears on the site without an edit here or in mkdocs.yml:

- **modules**: one API page per module of ``jaxcollapse/theory/``, ``families/`` and ``recipes/`` (found by
  file, nothing imported);
- **proofs notebooks**: one page per ``proofs_notebooks/*.py`` (jupytext percent format, not executed):
  markdown cells as markdown, code cells as code, and after a cell that saves a figure
  (``show(fig, "name")``, ``save(fig, "name")``, ``"name.png"``) the committed
  ``docs/proofs/figures/<notebook>/<name>.png`` where it exists (``docs/make_notebook_figures.py`` makes them);
- **gallery**: one page per registered reproduction (`jaxcollapse.papers.names()`) with the figure and
  the report that ``docs/make_gallery.py`` copied into ``docs/gallery/<name>/``, and an index table;
- the table of the public top-level names on ``api/index.md`` (from `jaxcollapse._LAZY`).

**Warnings, which ``mkdocs build --strict`` turns into a failed build:** a registered reproduction without
its committed figure and report; a report whose head (paper, figure, citation, setup, published values)
differs from the registry's, or whose reproduction module changed since the gallery was made (the
module's SHA-256 is recorded in ``docs/gallery/gallery.json``); a gallery folder of a reproduction no
longer registered; a committed notebook figure that belongs to no notebook; a ``$`` left in a page's text
outside code and math (a ``$...$`` that did not parse: `stray_dollars`).

It also adds one Markdown rule for the docstrings and notebooks: ``$$...$$`` inside a paragraph or a list
item is display math (`pymdownx.arithmatex` takes ``$$...$$`` only as a block of its own, and would
otherwise read it as inline math between stray dollar signs).
"""

from __future__ import annotations

import hashlib
import json
import logging
import pkgutil
import re
import sys
import xml.etree.ElementTree as etree
from pathlib import Path

from markdown import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.util import AtomicString
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.plugins.jaxcollapse_docs")

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NOTEBOOKS = ROOT / "proofs_notebooks"
GALLERY = DOCS / "gallery"
NB_FIGURES = DOCS / "proofs" / "figures"
MANIFEST = GALLERY / "gallery.json"

# the nav sections mkdocs.yml leaves to this hook: section index page -> the generated pages under it
_PAGES: dict[str, dict[str, str]] = {}   # index page -> {generated page: markdown}
_INDEXES: dict[str, str] = {}            # generated index pages (their section's pages are in _PAGES)
_PUBLIC_NAMES = "<!-- jaxcollapse: public names -->"


# --------------------------------------------------------------------------- $$ inside a paragraph
class _InlineDisplayMath(InlineProcessor):
    """``$$...$$`` within a paragraph: display math in arithmatex's generic markup (``\\[...\\]``)."""

    def handleMatch(self, m, data):  # noqa: N802 (Markdown's API)
        el = etree.Element("span", {"class": "arithmatex"})
        el.text = AtomicString("\\[" + m.group(1) + "\\]")
        return el, m.start(0), m.end(0)


class DisplayMathInParagraphs(Extension):
    def extendMarkdown(self, md):  # noqa: N802
        # just above arithmatex's inline pattern (189.9), which would take the first '$' of '$$'
        md.inlinePatterns.register(_InlineDisplayMath(r"(?<!\\)\$\$((?:\\.|[^$])+?)\$\$", md), "display-math-inline",
                                   190)


# --------------------------------------------------------------------------- module pages
MODULE_PAGES = ("families", "recipes", "theory")
"""The packages with one API page per public module (one module per family in each)."""


def _module_pages(package: str) -> dict[str, str]:
    names = sorted(m.name for m in pkgutil.iter_modules([str(ROOT / "jaxcollapse" / package)])
                   if not m.name.startswith("_"))
    return {f"api/{package}/{m}.md": f"---\ntitle: {package}.{m}\n---\n\n# `jaxcollapse.{package}.{m}`\n\n"
                                     f"::: jaxcollapse.{package}.{m}\n" for m in names}


# --------------------------------------------------------------------------- notebook pages
_FIG_CALL = re.compile(r"""\b(?:show|save)\(\s*\w+\s*,\s*["']([\w.-]+)["']|["']([\w.-]+)\.png["']""")


def _notebook_page(path: Path) -> tuple[str, set[str]]:
    """The page of one jupytext notebook (source only, not executed) and the figure names it placed."""
    import jupytext

    nb = jupytext.read(path)
    figdir = NB_FIGURES / path.stem
    have = {p.stem for p in figdir.glob("*.png")} if figdir.is_dir() else set()
    placed: set[str] = set()
    title = f"# {path.stem}"
    out = []
    for cell in nb.cells:
        src = cell.source.strip("\n")
        if not src.strip():
            continue
        if cell.cell_type == "markdown":
            if not out and src.startswith("# "):  # the notebook's title is the page's
                title, _, src = src.partition("\n")
                if not src.strip():
                    continue
            out.append(src + "\n")
        elif cell.cell_type == "code":
            out.append("```python\n" + src + "\n```\n")
            for m in _FIG_CALL.finditer(src):
                name = m.group(1) or m.group(2)
                if name in have and name not in placed:
                    placed.add(name)
                    out.append(f"![{name}](figures/{path.stem}/{name}.png)\n")
        else:  # raw cells
            out.append("```text\n" + src + "\n```\n")
    if not out:
        raise ValueError(f"{path} has no cells")
    rest = sorted(have - placed)
    if rest:
        out.append("## Other figures of this notebook\n")
        out += [f"![{name}](figures/{path.stem}/{name}.png)\n" for name in rest]
    source = (f"<small>Source: `proofs_notebooks/{path.name}`, a jupytext percent-format notebook shown as written "
              f"(not executed here); `python proofs_notebooks/{path.name}` runs it and ends in its asserts."
              + _figures_note(path.stem) + "</small>\n")
    return "\n".join([title + "\n", source, *out]), placed


def _figures_note(stem: str) -> str:
    meta = NB_FIGURES / stem / "figures.json"
    if not meta.is_file():
        return ""
    m = json.loads(meta.read_text())
    return (f" Figures: made by `python docs/make_notebook_figures.py {stem}` at "
            f"`JAXCOLLAPSE_NB_SCALE={m['scale']:g}` ({m['generated']}).")


def _notebook_pages() -> dict[str, str]:
    pages = {}
    stems = set()
    for path in sorted(NOTEBOOKS.glob("*.py")):
        if path.name.startswith("_"):
            continue
        stems.add(path.stem)
        pages[f"proofs/{path.stem}.md"] = _notebook_page(path)[0]
    if NB_FIGURES.is_dir():
        for d in sorted(p for p in NB_FIGURES.iterdir() if p.is_dir()):
            if d.name not in stems:
                log.warning(f"docs/proofs/figures/{d.name}/ belongs to no notebook in proofs_notebooks/: remove it")
    return pages


# --------------------------------------------------------------------------- gallery pages
def _report_head(repro) -> dict[str, str]:
    """The lines `Reproduction.report` starts with, by field (to tell a stale report)."""
    return {"paper and figure": f"{repro.name}: {repro.paper}, {repro.figure_ref}",
            "citation": f"  {repro.citation}",
            "setup": f"setup: {repro.setup}",
            "published values": f"published values: {repro.published}"}


def module_digest(repro) -> str:
    """SHA-256 of the source file of a reproduction's module (recorded by make_gallery.py)."""
    import inspect

    return hashlib.sha256(Path(inspect.getsourcefile(type(repro))).read_bytes()).hexdigest()


def _verdict(report: str) -> str:
    last = report.rstrip().rsplit("\n", 1)[-1]
    return "NOT REPRODUCED" if "NOT REPRODUCED" in last else ("REPRODUCED" if "REPRODUCED" in last else "?")


def _runtime(seconds: float) -> str:
    import math

    if not math.isfinite(seconds):
        return "not measured"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _g(x: str) -> str:
    v = float(x)
    return "–" if v != v else f"{v:.6g}"


def _report_table(path: Path) -> str:
    """The report's lines (``report.csv``) as a table: ours ± se, theory, published, z and the agreement."""
    import csv

    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    bound = {"equal": "", "upper": " (upper bound)", "lower": " (lower bound)"}
    out = ["| quantity | ours ± se | theory | published ± precision | z | agreement |", "|---|---|---|---|---|---|"]
    for r in rows:
        theory = _g(r["theory"]) + (bound.get(r["rule"], "") if _g(r["theory"]) != "–" else "")
        pub = "–" if _g(r["published"]) == "–" else f"{_g(r['published'])} ± {_g(r['precision'])}"
        z = f"{float(r['z']):+.2f}" if _g(r["z"]) != "–" else "–"
        verdict = "agrees" if r["agrees"] == "true" else ("explained below" if r["explained"] else "**DIFFERS**")
        cells = [r["quantity"], f"{_g(r['ours'])} ± {float(r['se']):.2g}", theory, pub, z, verdict]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    explained = [f"- *{r['quantity']}*: {r['explained']}" for r in rows if r["explained"] and r["agrees"] != "true"]
    return "\n".join(out) + "\n" + ("\n**Explained disagreements.**\n\n" + "\n".join(explained) + "\n"
                                    if explained else "")


def _gallery_pages() -> dict[str, str]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # the checkout's package, also when it is not installed
    from jaxcollapse import papers

    names = papers.names()
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {"entries": {}}
    entries = manifest.get("entries", {})
    pages, rows = {}, []
    for name in names:
        repro = papers.get(name)
        folder = GALLERY / name
        fig, rep = folder / f"{name}.png", folder / "report.txt"
        missing = [p.name for p in (fig, rep) if not p.is_file()]
        entry = entries.get(name)
        if missing:
            log.warning(f"gallery: the registered reproduction {name!r} has no committed {' or '.join(missing)} in "
                        f"docs/gallery/{name}/: run `python docs/make_gallery.py {name}` and commit what it writes")
        elif entry is None:
            log.warning(f"gallery: docs/gallery/gallery.json has no entry for {name!r}; its files were not written by "
                        f"docs/make_gallery.py: run `python docs/make_gallery.py {name}`")
        report = rep.read_text(encoding="utf-8") if rep.is_file() else ""
        if report:
            head = report.split("\n")
            for field, want in _report_head(repro).items():
                if want not in head:
                    log.warning(f"gallery: docs/gallery/{name}/report.txt is stale (its {field} differs from the "
                                f"registry's): run `python docs/make_gallery.py {name}`")
                    break
            else:
                if entry is not None and entry.get("module_sha256") != module_digest(repro):
                    log.warning(f"gallery: the module of {name!r} changed since docs/gallery/{name}/ was made: run "
                                f"`python docs/make_gallery.py {name}`")
        verdict = _verdict(report) if report else "missing"
        scale = f"{entry['scale']:g}" if entry else "?"
        page = [f"---\ntitle: {name}\n---\n", f"# {repro.paper}: {repro.figure_ref}\n",
                f"`jaxcollapse reproduce {name}` · full scale (`--scale 1`): {_runtime(repro.runtime)} on the "
                f"project's 2-core CPU · shown here: `--scale {scale}`, **{verdict}**\n",
                f"> {repro.citation}\n", f"**Setup.** {repro.setup}\n", f"**Published values.** {repro.published}\n"]
        if fig.is_file():
            img = f"{name}/{name}.png"
            page.append(f"[![{name}: ours beside the theory and the published values]({img})]({img})\n")
        if report:
            page.append(f"## Report (`--scale {scale}`)\n")
            csv_path = folder / "report.csv"
            if csv_path.is_file():
                page.append(_report_table(csv_path))
            page.append('??? note "report.txt, as `jaxcollapse reproduce` wrote it"\n\n'
                        + "    ```text\n" + "".join(f"    {ln}\n" for ln in report.rstrip("\n").split("\n"))
                        + "    ```\n")
            extra = [f"[report.csv]({name}/report.csv)"] if (folder / "report.csv").is_file() else []
            if entry:
                extra.append(f"made by `{entry['command']}` on {entry['generated']}"
                             + (f" in {entry['seconds']:.0f} s" if entry.get("seconds") else ""))
            if extra:
                page.append("<small>" + " · ".join(extra) + "</small>\n")
        pages[f"gallery/{name}.md"] = "\n".join(page)
        rows.append(f"| [`{name}`]({name}.md) | {repro.paper} | {repro.figure_ref} | {verdict} | "
                    f"{_runtime(repro.runtime)} | {scale} |")
    if GALLERY.is_dir():
        for d in sorted(p for p in GALLERY.iterdir() if p.is_dir()):
            if d.name not in names:
                log.warning(f"gallery: docs/gallery/{d.name}/ is not a registered reproduction: run "
                            "`python docs/make_gallery.py --all`, which removes it")
    index = ["---\ntitle: Gallery\n---\n", "# Gallery of reproductions\n",
             "One page per published figure or table that `jaxcollapse reproduce` rebuilds "
             f"(`jaxcollapse.papers`: {len(names)} registered). Each page shows the figure (ours beside the theory "
             "and the published values where known) and the text report: one line per quantity, ours ± standard "
             "error, theory, published, and the agreement under the rules stated at the report's head.\n",
             "The figures and reports are made by `python docs/make_gallery.py` (which runs "
             "`jaxcollapse reproduce --all --scale 0.1`, each reproduction at its statistical floor where that is "
             "higher, and copies each one's figure and report here), never by hand; the build fails if a registered "
             "reproduction has none. `scale` multiplies the chain counts only; the paper's sizes, generations and "
             "grids stay, so a reduced scale widens the standard errors and nothing else. "
             "`jaxcollapse reproduce NAME` reruns one at full scale.\n",
             "| reproduction | paper | figure | at the gallery's scale | full scale runtime | scale shown |",
             "|---|---|---|---|---|---|", *rows, ""]
    pages["gallery/index.md"] = "\n".join(index)
    return pages


# --------------------------------------------------------------------------- public names table
def _module_file(module: str) -> Path:
    """The source file of a module of the package (``jaxcollapse.engine`` -> ``jaxcollapse/engine.py``)."""
    base = ROOT.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _first_line(module: str, name: str | None = None) -> str:
    """The first line of the docstring of `module` (or of its member `name`, following ``from .x import name``),
    read from the source without importing it."""
    import ast

    tree = ast.parse(_module_file(module).read_text(encoding="utf-8"))
    node = tree
    if name is not None:
        node = None
        for stmt in tree.body:
            if isinstance(stmt, (ast.ClassDef, ast.FunctionDef)) and stmt.name == name:
                node = stmt
            elif isinstance(stmt, ast.ImportFrom) and stmt.level and any(
                    (a.asname or a.name) == name for a in stmt.names):
                pkg = module if _module_file(module).name == "__init__.py" else module.rsplit(".", 1)[0]
                for _ in range(stmt.level - 1):
                    pkg = pkg.rsplit(".", 1)[0]
                src = next(a.name for a in stmt.names if (a.asname or a.name) == name)
                return _first_line(f"{pkg}.{stmt.module}" if stmt.module else f"{pkg}.{src}",
                                   src if stmt.module else None)
        if node is None:
            return ""
    doc = ast.get_docstring(node) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def _public_names_table() -> str:
    """The names of `jaxcollapse._LAZY` with their summary line and a link to where each is documented."""
    import ast

    tree = ast.parse((ROOT / "jaxcollapse" / "__init__.py").read_text(encoding="utf-8"))
    lazy = next(ast.literal_eval(s.value) for s in tree.body
                if isinstance(s, ast.AnnAssign) and getattr(s.target, "id", "") == "_LAZY")
    rows = ["| name | what it is |", "|---|---|"]
    for name in sorted(lazy):
        where = lazy[name]
        if where is None:  # a module: a link to its page (the page's title is the module)
            page = f"{name}/index.md" if (DOCS / "api" / name).is_dir() else f"{name}.md"
            link, line = f"({page})", _first_line(f"jaxcollapse.{name}")
        else:
            link, line = f"[jaxcollapse{where}.{name}]", _first_line(f"jaxcollapse{where}", name)
        line = re.split(r"(?<=[a-z)`])\.\s", line, maxsplit=1)[0].rstrip(".") + "."  # the first sentence
        line = line.replace("\\|", "\\Vert ").replace("|", "\\vert ")  # a table cell ends at any other |
        rows.append(f"| [`jc.{name}`]{link} | {line} |")
    return "\n".join(rows)


# --------------------------------------------------------------------------- mkdocs events
@event_priority(100)  # before mkdocstrings reads the Markdown extensions
def on_config(config):
    config.markdown_extensions.append(DisplayMathInParagraphs())
    _PAGES.clear()
    _INDEXES.clear()
    for package in MODULE_PAGES:
        _PAGES[f"api/{package}/index.md"] = _module_pages(package)
    _PAGES["proofs/index.md"] = _notebook_pages()
    gallery = _gallery_pages()
    _INDEXES["gallery/index.md"] = gallery.pop("gallery/index.md")
    _PAGES["gallery/index.md"] = gallery
    config.nav = _expand(config.nav)
    return config


def _expand(nav):
    """Replace ``Section: <index page>`` by ``Section: [<index page>, <its generated pages>...]``."""
    if isinstance(nav, list):
        return [_expand(item) for item in nav]
    if isinstance(nav, dict):
        out = {}
        for title, value in nav.items():
            if isinstance(value, str) and value in _PAGES:
                out[title] = [value, *_PAGES[value]]
            else:
                out[title] = _expand(value)
        return out
    return nav


def on_files(files: Files, config) -> Files:
    generated = dict(_INDEXES)
    for pages in _PAGES.values():
        generated.update(pages)
    for uri, content in generated.items():
        files.append(File.generated(config, uri, content=content))
    return files


def stray_dollars(html: str) -> list[str]:
    """The places where a page's HTML shows a ``$`` outside code and math: a ``$...$`` that did not parse."""
    text = re.sub(r"<(pre|code|script)\b.*?</\1>", "", html, flags=re.S)
    text = re.sub(r'<(span|div) class="arithmatex">.*?</\1>', "", text, flags=re.S)
    return [text[max(0, m.start() - 60):m.start() + 40] for m in re.finditer(r"\$", text)]


def on_page_content(html: str, page, config, files) -> str:
    for where in stray_dollars(html):
        log.warning(f"{page.file.src_uri}: a $ outside code and math (math that did not parse): ...{where!r}")
    return html


def on_page_markdown(markdown: str, page, config, files) -> str:
    if _PUBLIC_NAMES in markdown:
        markdown = markdown.replace(_PUBLIC_NAMES, _public_names_table())
    return markdown
