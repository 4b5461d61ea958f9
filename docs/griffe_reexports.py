"""A griffe extension for the API pages: ``from .m import X as X`` in a package is a public re-export.

jaxcollapse's packages re-export their public names in that form (the convention of PEP 484 stubs and of
equinox and diffrax; ../shared/STYLE.md item 1) rather than listing them in ``__all__``; griffe counts an
imported name as private unless ``__all__`` lists it, so without this the pages of `jaxcollapse.bayes` or
`jaxcollapse.recipes` would show nothing but their docstring.
"""

from __future__ import annotations

import ast

import griffe


class ExplicitReexports(griffe.Extension):
    def on_alias_instance(self, *, alias, node, agent, **kwargs) -> None:
        if isinstance(node, ast.ImportFrom) and any(a.asname == a.name == alias.name for a in node.names):
            alias.public = True
