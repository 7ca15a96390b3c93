"""emb: a command-line toolkit for static word embeddings."""

__version__ = "0.1.0"
