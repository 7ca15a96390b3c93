"""The model folder: the bottom layer that every producer writes into and every reader opens.

``FolderWriter`` (streaming rows in, one metadata policy, the format version), ``write_model``
(a whole model in memory), ``ModelFolder`` (the memory-mapped reader), ``atomic_dir`` (write into a
temporary sibling, rename into place), ``read_meta``. See ``layout`` for the files a folder holds.
"""

from embcli._lazy import lazy_names

# Each name and the module it comes from, imported on first use (PEP 562): a reader of a model does
# not import the writer and the atomic renames.
_FROM = {
    "atomic_dir": "atomic",
    **dict.fromkeys(("FORMAT_VERSION", "MODEL_FILES", "is_model_folder", "read_meta"), "layout"),
    **dict.fromkeys(("ModelFolder", "load_array"), "reader"),
    **dict.fromkeys(("FolderWriter", "ImportSummary", "NpyAppender", "RowProgress", "write_model"), "writer"),
    **dict.fromkeys(("all_finite", "row_norms"), "rows"),
}

__all__ = [
    "FORMAT_VERSION",
    "MODEL_FILES",
    "FolderWriter",
    "ImportSummary",
    "ModelFolder",
    "NpyAppender",
    "RowProgress",
    "all_finite",
    "atomic_dir",
    "is_model_folder",
    "load_array",
    "read_meta",
    "row_norms",
    "write_model",
]

__getattr__, __dir__ = lazy_names(__name__, _FROM, __all__)
