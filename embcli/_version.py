"""The version of emb (read by the package metadata, the CLI and every model folder)."""

__version__ = "0.1.0"
