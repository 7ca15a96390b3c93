"""The versions of emb and of the engines it runs on, for ``emb --version`` and bug reports.

Read from the installed distributions' metadata: nothing is imported, so the report is fast and
still works when an optional engine is broken. An optional engine is listed when it is installed;
a feature that brings a new engine adds a line to ``OPTIONAL``.
"""

from __future__ import annotations

import sys

from embcli._version import __version__

# (name shown, distribution names to try in order): the engines that decide emb's results and speed.
CORE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("numpy", ("numpy",)),
    ("numba", ("numba",)),
    ("gensim", ("gensim",)),
    ("onnxruntime", ("onnxruntime", "onnxruntime-gpu")),
    ("pyarrow", ("pyarrow",)),
)
OPTIONAL: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pyspark", ("pyspark",)),
    ("kiwipiepy", ("kiwipiepy",)),
    ("fugashi", ("fugashi",)),
    ("jieba", ("jieba",)),
    ("faiss", ("faiss-cpu", "faiss-gpu", "faiss-gpu-cu12", "faiss-gpu-cu11", "faiss")),
    ("scikit-learn", ("scikit-learn",)),
    ("umap-learn", ("umap-learn",)),
)


def distribution_version(names: tuple[str, ...]) -> str | None:
    """The version of the first of ``names`` that is installed, or None."""
    from importlib import metadata

    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def engine_versions() -> dict[str, str]:
    """emb's version, Python's, each core engine's ("not installed" if missing) and each installed optional one."""
    report = {"emb": __version__, "python": ".".join(map(str, sys.version_info[:3]))}
    for shown, names in CORE:
        report[shown] = distribution_version(names) or "not installed"
    for shown, names in OPTIONAL:
        version = distribution_version(names)
        if version is not None:
            report[shown] = version
    return report
