"""A name-keyed registry whose entries live in the modules of one package, imported on first use.

The recipes (`jaxcollapse.recipes`) and the reproductions (`jaxcollapse.papers`) are found the same way: every
public module of the package registers its entries when imported, and the registry imports them all (by
`pkgutil`, no hand-kept list) the first time someone asks for a name.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """`entries` maps a name to its object; `package` is the package whose public modules register them."""

    def __init__(self, package: str, kind: str):
        self.package = package
        self.kind = kind
        self.entries: dict[str, T] = {}
        self.discovered = False

    def add(self, name: str, obj: T, *, replace: bool = False) -> T:
        """Register `obj` as `name`. Another class under a taken name is refused unless `replace` (registering the
        same class again, as a module reload does, is fine)."""
        old = self.entries.get(name)
        if old is not None and not replace and type(old) is not type(obj):
            raise ValueError(f"a {self.kind} named {name!r} is registered already ({old!r})")
        self.entries[name] = obj
        return obj

    def remove(self, name: str) -> None:
        """Forget `name` (for tests that register an entry of their own)."""
        self.entries.pop(name, None)

    def discover(self) -> None:
        """Import every public module of the package once (each registers its entries)."""
        if self.discovered:
            return
        pkg = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")
        self.discovered = True

    def names(self) -> tuple[str, ...]:
        """The registered names, sorted."""
        self.discover()
        return tuple(sorted(self.entries))

    def lookup(self, name: str) -> T | None:
        """The entry called `name`, or None."""
        self.discover()
        return self.entries.get(name)
