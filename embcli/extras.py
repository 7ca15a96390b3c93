"""Optional features and the extras that install them.

A feature that needs an optional package imports it through ``require`` where it is used, never at
the top of a module, so that importing embcli never fails for a missing extra, and using the feature
without it is one line naming the pip command::

    kiwipiepy = require("kiwipiepy", extra="ko", feature="Korean tokenizing")
    # MissingExtraError: Korean tokenizing needs the 'ko' extra (kiwipiepy is not installed):
    #                    pip install 'embcli[ko]'

``available`` answers whether the package is there without importing it (for help texts and choices).
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from embcli.errors import MissingExtraError


def require(module: str, extra: str, feature: str | None = None) -> ModuleType:
    """Import and return ``module``, or raise ``MissingExtraError`` naming ``pip install 'embcli[extra]'``.

    ``feature`` says in a few words what needs the module ("Korean tokenizing"); the module's name is
    used without it. A module that is installed but fails to import (one of its own dependencies
    missing, a broken binary) raises the same error, with the reason, since reinstalling the extra
    is the fix.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".")[0]
        reason = None if exc.name in (module, top) else str(exc)
        raise MissingExtraError(module, extra, feature, reason) from exc
    except ImportError as exc:
        raise MissingExtraError(module, extra, feature, str(exc)) from exc


def available(module: str) -> bool:
    """Whether ``module`` can be found, without importing it (its parent packages may be imported)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
