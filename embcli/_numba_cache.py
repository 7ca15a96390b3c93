"""Where numba keeps emb's compiled kernels: a user cache folder, never the installed package.

The kernels are compiled with ``cache=True``. numba writes that cache next to the source files by
default, which litters site-packages and fails in a read-only installation (a system package, a
container image). Importing embcli therefore points ``NUMBA_CACHE_DIR`` at
``$XDG_CACHE_HOME/emb/numba`` (``~/.cache/emb/numba``) unless the user has set it, even to an empty
value (which restores numba's own choice). The variable is process-wide: other numba code in the
same process caches there too, each source file in its own subfolder, and worker processes inherit
it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping


def cache_dir(environ: MutableMapping[str, str]) -> str | None:
    """The folder to give numba, or None when the user has chosen (``NUMBA_CACHE_DIR`` is set)."""
    if "NUMBA_CACHE_DIR" in environ:
        return None
    base = environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec says to ignore a relative path
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "emb", "numba")


def configure(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set ``NUMBA_CACHE_DIR`` to ``cache_dir`` unless the user has set it."""
    path = cache_dir(environ)
    if path is None:
        return
    environ["NUMBA_CACHE_DIR"] = path
    numba = sys.modules.get("numba")
    if numba is not None and environ is os.environ:
        # Imported before emb: its configuration was read already; the kernels' caches are placed
        # when their modules are imported, which may happen before numba next compiles (and re-reads it).
        numba.core.config.reload_config()
