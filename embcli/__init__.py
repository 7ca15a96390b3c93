"""emb: a command-line toolkit for static word embeddings."""

from embcli import _numba_cache

__version__ = "0.1.0"

# Before any kernel module imports numba: compiled kernels are cached in a user folder.
_numba_cache.configure()
