"""emb: a command-line toolkit and Python library for static word embeddings.

    import embcli
    model = embcli.load("web-word2vec")       # a store name, a model folder or a vector file
    model.most_similar(positive=["king", "woman"], negative=["man"], k=3)

The names below are imported on first use, so ``import embcli`` (and the ``emb`` command) stays fast:
``load``, ``train``, ``phrases``, ``evaluate``, ``search``, ``models``, ``Model``, ``Neighbor``, ``Evaluation``,
``ModelSummary``, ``embed_file``, ``align`` (from ``embcli.api``) and the errors ``EmbError``, ``UsageError``, ``ModelError``,
``UnknownWordError``, ``FormatError``, ``CorpusError``, ``TrainingError`` (from ``embcli.errors``).
"""

from embcli import _numba_cache
from embcli._lazy import lazy_names
from embcli._version import __version__

# Before any kernel module imports numba: compiled kernels are cached in a user folder.
_numba_cache.configure()

_API = ("load", "train", "phrases", "evaluate", "search", "models", "Model", "Neighbor", "Evaluation", "ModelSummary",
        "embed_file", "align")
_ERRORS = ("EmbError", "UsageError", "ModelError", "UnknownWordError", "FormatError", "CorpusError", "TrainingError")
__all__ = ["__version__", *_API, *_ERRORS]


__getattr__, __dir__ = lazy_names(__name__, {**dict.fromkeys(_API, "embcli.api"), **dict.fromkeys(_ERRORS, "embcli.errors")},
                                   __all__)
