"""The public Python API: load, train, evaluate and list models; query one through ``Model``.

    >>> import embcli
    >>> model = embcli.load("web-word2vec")          # a store name, a model folder or a vector file
    >>> model.neighbors("king", k=3)                 # [Neighbor(rank=1, word=..., score=..., index=...), ...]
    >>> model.most_similar(positive=["king", "woman"], negative=["man"])
    >>> model["king"]                                # the vector (read-only numpy array)

Everything the ``emb`` command does goes through this module, so a program gets the same answers and
the same errors: every mistake raises an ``embcli.EmbError`` subclass whose message is the one line
the command prints. Results are plain dataclasses (with ``to_dict()``) or numpy arrays. Vectors are
memory-mapped, never copied: opening a million-word model takes milliseconds.
"""

from embcli._lazy import lazy_names

# Each name and the module it comes from, imported on first use (PEP 562): a command imports only
# what it needs, so one query does not pay for training, embedding and mapping code (about 8 ms).
_FROM = {
    **dict.fromkeys(("convert", "import_vectors", "load_name", "model_info", "remove", "set_default", "store_folder",
                     "write_output"), "files"),
    **dict.fromkeys(("PhrasesResult", "count_words", "phrases"), "corpora"),
    **dict.fromkeys(("Evaluation", "ModelSummary", "align", "embed_file", "evaluate", "load", "models", "search",
                     "train"), "functions"),
    **dict.fromkeys(("EmbeddedBlock", "EmbedSummary"), "lines"),
    **dict.fromkeys(("Alignment", "map_kind", "read_words", "save_map", "word_map"), "maps"),
    **dict.fromkeys(("Model", "Neighbor", "ProgressFn", "QueryLike"), "model"),
    **dict.fromkeys(("RowProgressFn", "Transfer"), "results"),
    **dict.fromkeys(("MAX_QUERY_LINE", "check_query", "check_query_line", "parse_terms", "parse_vector"), "text"),
    **dict.fromkeys(("QueryResult", "SimilarityResult", "VectorResult"), "embcli.query"),
}

__all__ = [
    "Model", "Neighbor", "ModelSummary", "Evaluation", "load", "models", "train", "evaluate", "search", "count_words",
    "phrases", "PhrasesResult",
    "check_query", "parse_terms", "parse_vector", "QueryLike", "ProgressFn",
    "QueryResult", "SimilarityResult", "VectorResult",
    "Transfer", "import_vectors", "convert", "load_name", "model_info", "set_default", "remove", "store_folder",
    "RowProgressFn", "write_output",
    "embed_file", "EmbeddedBlock", "EmbedSummary", "align", "Alignment", "map_kind", "read_words", "save_map", "word_map",
]

__getattr__, __dir__ = lazy_names(__name__, _FROM, __all__)
