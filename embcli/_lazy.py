"""A package's names imported on first use (PEP 562): importing the package itself costs nothing, and
a command imports only the modules whose names it uses."""

from __future__ import annotations

import importlib
import sys
from typing import Callable


def lazy_names(package: str, table: dict[str, str], exported: list[str]) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package``: each name of ``table`` comes from the module it maps
    to (a module of the package, or a dotted module path), imported when the name is first asked for
    and then kept in the package."""

    def __getattr__(name: str):  # noqa: N807
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        where = table[name]
        value = getattr(importlib.import_module(where if "." in where else f"{package}.{where}"), name)
        setattr(sys.modules[package], name, value)  # found once
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(vars(sys.modules[package])) | set(exported))

    return __getattr__, __dir__
