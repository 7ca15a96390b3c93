"""emb: a command-line toolkit for static word embeddings."""

from embcli import _numba_cache
from embcli._version import __version__

__all__ = ["__version__"]

# Before any kernel module imports numba: compiled kernels are cached in a user folder.
_numba_cache.configure()
