"""emb: a command-line toolkit and Python library for static word embeddings.

    import embcli
    model = embcli.load("web-word2vec")       # a store name, a model folder or a vector file
    model.most_similar(positive=["king", "woman"], negative=["man"], k=3)

The names below are imported on first use, so ``import embcli`` (and the ``emb`` command) stays fast:
``load``, ``train``, ``evaluate``, ``search``, ``models``, ``Model``, ``Neighbor``, ``Evaluation``,
``ModelSummary``, ``embed_file``, ``align`` (from ``embcli.api``) and the errors ``EmbError``, ``UsageError``, ``ModelError``,
``UnknownWordError``, ``FormatError``, ``CorpusError``, ``TrainingError`` (from ``embcli.errors``).
"""

from embcli import _numba_cache
from embcli._version import __version__

# Before any kernel module imports numba: compiled kernels are cached in a user folder.
_numba_cache.configure()

_API = ("load", "train", "evaluate", "search", "models", "Model", "Neighbor", "Evaluation", "ModelSummary",
        "embed_file", "align")
_ERRORS = ("EmbError", "UsageError", "ModelError", "UnknownWordError", "FormatError", "CorpusError", "TrainingError")
__all__ = ["__version__", *_API, *_ERRORS]


def __getattr__(name: str):
    if name in _API:
        from embcli import api

        return getattr(api, name)
    if name in _ERRORS:
        from embcli import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'embcli' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
