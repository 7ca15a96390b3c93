"""emb: a command-line toolkit and Python library for static word embeddings.

    import embcli
    model = embcli.load("web-word2vec")       # a store name, a model folder or a vector file
    model.most_similar(positive=["king", "woman"], negative=["man"], k=3)

The names below are imported on first use, so ``import embcli`` (and the ``emb`` command) stays fast:
``load``, ``train``, ``evaluate``, ``search``, ``models``, ``Model``, ``Neighbor``, ``Evaluation``,
``ModelSummary`` (from ``embcli.api``) and the errors ``EmbError``, ``UsageError``, ``ModelError``,
``UnknownWordError``, ``FormatError``, ``CorpusError``, ``TrainingError`` (from ``embcli.errors``).
"""

import sys
import types

from embcli import _numba_cache
from embcli._version import __version__

# Before any kernel module imports numba: compiled kernels are cached in a user folder.
_numba_cache.configure()

_API = ("load", "train", "evaluate", "search", "models", "Model", "Neighbor", "Evaluation", "ModelSummary")
_ERRORS = ("EmbError", "UsageError", "ModelError", "UnknownWordError", "FormatError", "CorpusError", "TrainingError")
# Names that are both a package of the library and a function of the API.
_BOTH = ("train", "evaluate", "search")

__all__ = ["__version__", *_API, *_ERRORS]


class _CallableModule(types.ModuleType):
    """``embcli.train``, ``embcli.evaluate`` and ``embcli.search``: the library's modules, which when
    called run the API's functions ``embcli.api.train``, ``embcli.api.evaluate`` and ``embcli.api.search``."""

    def __call__(self, *args, **kwargs):
        from embcli import api

        return getattr(api, self.__name__.rpartition(".")[2])(*args, **kwargs)


class _Package(types.ModuleType):
    """The ``embcli`` package: makes ``train``, ``evaluate`` and ``search`` callable whenever they are imported."""

    def __setattr__(self, name, value):
        if name in _BOTH and isinstance(value, types.ModuleType) and not isinstance(value, _CallableModule):
            value.__class__ = _CallableModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    if name in _BOTH:
        import importlib

        return importlib.import_module(f"embcli.{name}")
    if name in _API:
        from embcli import api

        return getattr(api, name)
    if name in _ERRORS:
        from embcli import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'embcli' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
