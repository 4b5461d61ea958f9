r"""Reproductions of published results: one module per figure or table, each a thin layer over recipes.

``jaxcollapse reproduce --list`` lists them; ``jaxcollapse reproduce NAME [--scale S]`` writes the figure
(ours beside the theory and the published values), ``report.csv`` (one row per quantity), ``curves.csv``
and ``report.txt``. From Python::

    from jaxcollapse import papers

    repro = papers.get("shumailov2024_gaussian")
    result = repro.run(scale=0.1)       # a Result: report lines, curves, data
    print(repro.report(result))
    fig = repro.figure(result)

Every module of this package whose name does not start with ``_`` is imported on first use of `names` or
`get` and registers its reproduction (`register`); see `jaxcollapse.papers._base` for the agreement rules.
"""

from ._base import RULES as RULES
from ._base import Z_BOUND as Z_BOUND
from ._base import Line as Line
from ._base import Reproduction as Reproduction
from ._base import Result as Result
from ._base import get as get
from ._base import names as names
from ._base import register as register
from ._base import scaled as scaled
from ._base import unregister as unregister

__all__ = ["RULES", "Z_BOUND", "Line", "Reproduction", "Result", "get", "names", "register", "scaled", "unregister"]
