"""emb: a command-line toolkit for static word embeddings."""

from embcli._version import __version__

__all__ = ["__version__"]
