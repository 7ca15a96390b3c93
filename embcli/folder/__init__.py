"""The model folder: the bottom layer that every producer writes into and every reader opens.

``FolderWriter`` (streaming rows in, one metadata policy, the format version), ``write_model``
(a whole model in memory), ``ModelFolder`` (the memory-mapped reader), ``atomic_dir`` (write into a
temporary sibling, rename into place), ``read_meta``. See ``layout`` for the files a folder holds.
"""

from embcli.folder.atomic import atomic_dir
from embcli.folder.layout import FORMAT_VERSION, MODEL_FILES, is_model_folder, read_meta
from embcli.folder.reader import ModelFolder, load_array
from embcli.folder.writer import (
    FolderWriter,
    ImportSummary,
    NpyAppender,
    RowProgress,
    all_finite,
    row_norms,
    write_model,
)

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
